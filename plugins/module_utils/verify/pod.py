# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The pod check of an IRSA binding: the verification pod, its states, its log, and what they say.

The pod runs ``aws sts get-caller-identity`` as the ServiceAccount, as the manual procedure does. It passes the
``restricted`` Pod Security profile, has small resources, is never restarted and is bounded in time, and carries
labels by which the pods an interrupted run left behind are found (``leftover_verification_pods``). Its outcome,
events and log become the pod check's result (``pod_outcome_check``).

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import calendar
import json
import random
import re
import time

from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import MANAGED_BY_LABEL
from ansible_collections.eks.irsa.plugins.module_utils.constants import MANAGED_BY_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import WEBHOOK_CONFIGURATION
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import binding_label
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import result
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import skipped
from ansible_collections.eks.irsa.plugins.module_utils.verify.token import caller_identity_result
from ansible_collections.eks.irsa.plugins.module_utils.verify.token import identity_check
from ansible_collections.eks.irsa.plugins.module_utils.verify.token import sts_error_diagnosis

VERIFY_POD_PREFIX = "irsa-verify-"
VERIFY_CONTAINER = "irsa-verify"
DEFAULT_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.25.4"
DEFAULT_POD_COMMAND = ("aws", "sts", "get-caller-identity", "--output", "json")
VERIFY_COMPONENT_LABEL = "app.kubernetes.io/component"
VERIFY_COMPONENT_VALUE = "irsa-verify"
# A user the aws-cli image has no reason to refuse; "nobody" on most distributions.
VERIFY_POD_USER = 65534

# Container waiting reasons after which waiting longer changes nothing.
IMAGE_WAITING_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
TERMINAL_WAITING_REASONS = IMAGE_WAITING_REASONS + (
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "CrashLoopBackOff",
)

LOG_TAIL_LINES = 10
EVENTS_SHOWN = 5

# How long a verification pod that ended is left to the run that made it (which reads its log and deletes it within a
# poll or two) before another run takes it for a leftover of an interrupted run.
LEFTOVER_POD_GRACE = 5

_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_CLI_ERROR = re.compile(r"An error occurred \((?P<code>[\w.]+)\) when calling the (?P<operation>\w+) operation: (?P<message>.*)")


# ---------------------------------------------------------------------------------------------
# The pod


def pod_name(rng=None):
    rng = rng or random.SystemRandom()
    return VERIFY_POD_PREFIX + "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _position in range(5))


def pod_manifest(name, namespace, service_account, image=DEFAULT_IMAGE, command=DEFAULT_POD_COMMAND,
                 image_pull_secrets=None, deadline=180):
    """A pod that runs ``aws sts get-caller-identity`` as the ServiceAccount, admissible under the
    ``restricted`` Pod Security profile, with small resources, never restarted, and bounded in time."""
    container = {
        "name": VERIFY_CONTAINER,
        "image": image,
        "command": list(command),
        "env": [{"name": "HOME", "value": "/tmp"}],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": VERIFY_POD_USER,
            "runAsGroup": VERIFY_POD_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    spec = {
        "serviceAccountName": service_account,
        "restartPolicy": "Never",
        "activeDeadlineSeconds": int(deadline),
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 0,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": VERIFY_POD_USER,
            "runAsGroup": VERIFY_POD_USER,
            # The projected token must be readable by the non-root user.
            "fsGroup": VERIFY_POD_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
    }
    if image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": secret} for secret in image_pull_secrets]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, VERIFY_COMPONENT_LABEL: VERIFY_COMPONENT_VALUE},
        },
        "spec": spec,
    }


# ---------------------------------------------------------------------------------------------
# Its state


def container_state(pod):
    """``(state, reason, detail)`` of the verification container: state waiting/running/terminated."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") != VERIFY_CONTAINER and len(statuses) > 1:
            continue
        state = status.get("state") or {}
        for kind in ("terminated", "waiting", "running"):
            if kind in state:
                info = state[kind] or {}
                detail = info.get("message") or ""
                if kind == "terminated":
                    detail = "exit code {0}{1}".format(info.get("exitCode"), ": " + detail if detail else "")
                return kind, info.get("reason") or "", detail
    return None, "", ""


def pod_finished(pod):
    """True when waiting longer cannot change the outcome."""
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        return True
    state, reason, _detail = container_state(pod)
    return (state == "waiting" and reason in TERMINAL_WAITING_REASONS) or state == "terminated"


def rfc3339_seconds(value):
    """Seconds since the epoch of a time as the API server writes it (``2024-05-01T10:00:00Z``), or None."""
    match = _RFC3339.match(value or "")
    if not match:
        return None
    seconds = calendar.timegm(time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S"))
    zone = match.group(2)
    if zone != "Z":
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    return seconds


def _ended_at(pod):
    """When the pod ended: its containers' last finishedAt, else its last condition change, else its creation; or None."""
    status = pod.get("status") or {}
    finished = [((entry.get("state") or {}).get("terminated") or {}).get("finishedAt") for entry in status.get("containerStatuses") or []]
    transitions = [condition.get("lastTransitionTime") for condition in status.get("conditions") or []]
    for candidates in (finished, transitions, [(pod.get("metadata") or {}).get("creationTimestamp")]):
        known = [seconds for seconds in (rfc3339_seconds(value) for value in candidates) if seconds is not None]
        if known:
            return max(known)
    return None


def leftover_verification_pods(pods, service_account, now, grace=LEFTOVER_POD_GRACE):
    """Names of the verification pods of ``service_account`` that an earlier run left behind (it was killed before it
    could delete them), among ``pods`` (a namespace's pods as the API lists them); ``now`` in seconds since the epoch.

    A leftover carries the labels of pod_manifest and either ended (phase Succeeded or Failed) more than ``grace`` seconds
    ago, or outlived its activeDeadlineSeconds by ``grace`` seconds (its run would have given up on it). A pod that is still
    running within its deadline may be a concurrent run's and is never one; neither is a pod already being deleted.
    """
    names = []
    for pod in pods or []:
        metadata = pod.get("metadata") or {}
        labels = metadata.get("labels") or {}
        spec = pod.get("spec") or {}
        if any((
            labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE,
            labels.get(VERIFY_COMPONENT_LABEL) != VERIFY_COMPONENT_VALUE,
            spec.get("serviceAccountName") != service_account,
            metadata.get("deletionTimestamp"),
            not metadata.get("name"),
        )):
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            ended = _ended_at(pod)
            if ended is None or now - ended > grace:
                names.append(metadata["name"])
            continue
        created = rfc3339_seconds(metadata.get("creationTimestamp"))
        deadline = spec.get("activeDeadlineSeconds")
        if created is not None and isinstance(deadline, int) and now - created > deadline + grace:
            names.append(metadata["name"])
    return sorted(names)


# ---------------------------------------------------------------------------------------------
# Its log and events


def log_tail(log, lines=LOG_TAIL_LINES):
    return "\n".join((log or "").rstrip("\n").splitlines()[-lines:])


def parse_caller_identity_log(log):
    """The GetCallerIdentity JSON the pod printed, or None."""
    text = log or ""
    start = text.find("{")
    while start != -1:
        depth = 0
        for index in range(start, len(text)):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    try:
                        document = json.loads(text[start:index + 1])
                    except ValueError:
                        break
                    if isinstance(document, dict) and "Arn" in document:
                        return document
                    break
        start = text.find("{", start + 1)
    return None


def cli_error(log):
    """``(code, operation, message)`` of the last AWS CLI error in ``log``, or None."""
    found = None
    for line in (log or "").splitlines():
        match = _CLI_ERROR.search(line)
        if match:
            found = (match.group("code"), match.group("operation"), match.group("message").strip())
    return found


def describe_events(events, limit=EVENTS_SHOWN):
    """The last ``limit`` events, oldest first, as ``Type Reason: message``."""
    def when(event):
        return event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or ""

    ordered = sorted(events or [], key=when)[-limit:]
    return ["{0} {1}: {2}".format(e.get("type", ""), e.get("reason", ""), (e.get("message") or "").strip()) for e in ordered]


def pod_state_description(pod, events, log):
    """Phase, container state, recent events and log tail of the verification pod, for a failure message."""
    status = pod.get("status") or {}
    parts = ["phase {0}".format(status.get("phase") or "unknown")]
    if status.get("reason"):
        parts[0] += " ({0}{1})".format(status["reason"], ": " + status["message"] if status.get("message") else "")
    state, reason, detail = container_state(pod)
    if state:
        parts.append("container {0}{1}{2}".format(state, " " + reason if reason else "", " (" + detail + ")" if detail else ""))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            parts.append("not scheduled: {0}".format(condition.get("message") or condition.get("reason") or ""))
    described = describe_events(events)
    if described:
        parts.append("events: " + " | ".join(described))
    tail = log_tail(log)
    if tail:
        parts.append("log tail: " + tail.replace("\n", " | "))
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# The pod check's results


def skipped_in_check_mode():
    return skipped("pod", "pod", "Skipped in check mode: the pod check creates a pod.")


def no_pod_check(service_account_exists):
    """The pod check's failure when there is no ServiceAccount, or no role to expect."""
    return result(
        "pod", "pod", False,
        "No verification pod: {0}.".format("the ServiceAccount does not exist" if not service_account_exists else "there is no role to expect"),
        "Fix the ServiceAccount first (see above).",
    )


def not_created_check(pod_name_, error):
    """The pod check's failure when the API server refused the verification pod (``error`` says why)."""
    return result(
        "pod", "pod", False,
        "The verification pod {0} could not be created: {1}".format(pod_name_, error),
        "Fix what the API server names (Pod Security, quota, admission policies); the pod is restricted-profile "
        "compliant and asks for 50m CPU / 64Mi memory.",
    )


def not_mutated_check(pod_name_, namespace, service_account, role_arn, problems, webhook_known_missing=False):
    cause = (
        "the cluster has no pod identity webhook" if webhook_known_missing else
        "the pod identity webhook did not mutate it (is it installed and reachable? its failurePolicy Ignore "
        "admits pods it could not mutate)"
    )
    return result(
        "pod", "pod", False,
        "The pod {0} of the ServiceAccount {1} was admitted without web identity credentials ({2}): {3}, so it would "
        "run with the node's role.".format(pod_name_, binding_label(namespace, service_account), "; ".join(problems), cause),
        "Make sure the pod identity webhook runs (kubectl get mutatingwebhookconfiguration {0}) and that the "
        "ServiceAccount carries {1} = {2} when pods are created.".format(WEBHOOK_CONFIGURATION, ROLE_ARN_ANNOTATION, role_arn),
    )


def pod_outcome_check(pod_name_, role_arn, pod, events, log, timed_out, timeout, static_failures=(), context=None):
    """The pod check's result from the finished (or timed-out) pod, its events and its log."""
    context = context or {}
    state = pod_state_description(pod, events, log)
    phase = (pod.get("status") or {}).get("phase")
    identity = parse_caller_identity_log(log)
    if phase == "Succeeded" and identity is not None:
        return identity_check(
            "pod", role_arn, caller_identity_result(identity),
            "The pod {0} ran aws sts get-caller-identity".format(pod_name_),
        )
    # Kubernetes stops a pod at its activeDeadlineSeconds (pod_timeout) before the wait for it may run out.
    if timed_out or (pod.get("status") or {}).get("reason") == "DeadlineExceeded":
        return result(
            "pod", "pod", False,
            "The pod {0} did not finish within {1} s: {2}.".format(pod_name_, timeout, state),
            "Check why it is not running (image pull, scheduling, quota) or raise pod_timeout; a private registry "
            "needs image and image_pull_secrets.",
        )
    error = cli_error(log)
    if error and error[1] == "AssumeRoleWithWebIdentity":
        message, remediation = sts_error_diagnosis(
            error[0], error[2], role_arn, context.get("provider_arn", ""), context.get("audience", DEFAULT_AUDIENCE),
            context.get("subject", ""), static_failures)
        return result("pod", "pod", False, "The pod {0} could not assume the role: {1} Pod: {2}.".format(pod_name_, message, state), remediation)
    container, reason, _detail = container_state(pod)
    if container == "waiting" and reason in IMAGE_WAITING_REASONS:
        remediation = "Check the image name, and give image_pull_secrets for a private registry (or mirror the image)."
    elif container == "waiting":
        remediation = "Fix the container configuration the events name."
    else:
        remediation = ("The container must run aws sts get-caller-identity --output json (an image with the AWS CLI v2); "
                       "check image and pod_command.")
    return result(
        "pod", "pod", False,
        "The pod {0} did not print a caller identity: {1}.".format(pod_name_, state),
        remediation,
    )
