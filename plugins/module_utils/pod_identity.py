# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The EKS pod identity webhook: how it is installed, what it injects into a pod, and what follows from it.

The webhook mutates a pod when it is created, and only when its ServiceAccount carries ``eks.amazonaws.com/role-arn``
spelled exactly: it adds ``AWS_ROLE_ARN`` and ``AWS_WEB_IDENTITY_TOKEN_FILE`` to every container and the
``aws-iam-token`` projected volume. A pod created before the annotation (or before its change) keeps the identity
it was created with until it is recreated; an annotation key that is almost the right one is ignored.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import re

from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ENV
from ansible_collections.eks.irsa.plugins.module_utils.constants import TOKEN_FILE_ENV
from ansible_collections.eks.irsa.plugins.module_utils.constants import TOKEN_VOLUME_NAME
from ansible_collections.eks.irsa.plugins.module_utils.constants import WEBHOOK_NAME

# The name of the MutatingWebhookConfiguration EKS installs, and of its webhook.
WEBHOOK_CONFIGURATION = WEBHOOK_NAME
WEBHOOK_ENTRY = "iam-for-pods.amazonaws.com"

# What a pod that still has a removed role's credentials is told.
REMOVED_ROLE_PROBLEM = "still has the removed role's credentials"

_ANNOTATION_NORMALIZE = re.compile(r"[^a-z0-9]")


# ---------------------------------------------------------------------------------------------
# The webhook's configuration


def find_webhook(configurations):
    """The MutatingWebhookConfiguration of the pod identity webhook among ``configurations``, or None."""
    for configuration in configurations or []:
        if (configuration.get("metadata") or {}).get("name") == WEBHOOK_CONFIGURATION:
            return configuration
    for configuration in configurations or []:
        if any((hook.get("name") or "") == WEBHOOK_ENTRY for hook in configuration.get("webhooks") or []):
            return configuration
    return None


# ---------------------------------------------------------------------------------------------
# What it injects into pods


def _env_value(container, name):
    for item in container.get("env") or []:
        if item.get("name") == name:
            return item.get("value")
    return None


def mutation_problems(pod, role_arn):
    """What the pod identity webhook did not inject into ``pod`` (empty when it was mutated for ``role_arn``)."""
    spec = pod.get("spec") or {}
    problems = []
    volumes = [volume.get("name") for volume in spec.get("volumes") or []]
    if TOKEN_VOLUME_NAME not in volumes:
        problems.append("no {0} volume".format(TOKEN_VOLUME_NAME))
    for container in spec.get("containers") or []:
        name = container.get("name")
        arn = _env_value(container, ROLE_ARN_ENV)
        if arn is None:
            problems.append("container {0!r} has no {1}".format(name, ROLE_ARN_ENV))
        elif role_arn and arn != role_arn:
            problems.append("container {0!r} has {1}={2}, not {3}".format(name, ROLE_ARN_ENV, arn, role_arn))
        if _env_value(container, TOKEN_FILE_ENV) is None:
            problems.append("container {0!r} has no {1}".format(name, TOKEN_FILE_ENV))
    return problems


def _identity_problems(pod, role_arn):
    """Why ``pod`` does not run as ``role_arn``; for None (a removed role), that it still has a role's credentials."""
    if role_arn is not None:
        return mutation_problems(pod, role_arn)
    has_role = any(
        item.get("name") == ROLE_ARN_ENV
        for container in (pod.get("spec") or {}).get("containers") or []
        for item in container.get("env") or []
    )
    return [REMOVED_ROLE_PROBLEM] if has_role else []


def pods_with_old_identity(pods, role_arn):
    """``[(pod, problems)]``, in order, of the running or pending pods (not being deleted) that were not mutated for
    ``role_arn``, or, for None, that still have a removed role's credentials: they keep that identity until recreated."""
    found = []
    for pod in pods or []:
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed") or (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        problems = _identity_problems(pod, role_arn)
        if problems:
            found.append((pod, problems))
    return found


def stale_pods(pods, role_arn):
    """Names of the running or pending pods that were not mutated for ``role_arn`` (created before the annotation)."""
    return sorted(pod["metadata"]["name"] for pod, _problems in pods_with_old_identity(pods, role_arn))


# ---------------------------------------------------------------------------------------------
# Annotation keys it ignores


def _normalized_key(key):
    return _ANNOTATION_NORMALIZE.sub("", key.lower())


_ROLE_ARN_KEY = _normalized_key(ROLE_ARN_ANNOTATION)


def _edit_distance(left, right):
    previous = list(range(len(right) + 1))
    for i, a in enumerate(left, 1):
        current = [i]
        for j, b in enumerate(right, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]


def near_miss_role_keys(annotations):
    """Annotation keys that look like ``eks.amazonaws.com/role-arn`` but are not it (the webhook ignores them)."""
    found = []
    for key in annotations or {}:
        if key == ROLE_ARN_ANNOTATION:
            continue
        normalized = _normalized_key(key)
        suffix = key.rsplit("/", 1)[-1]
        if any((
            normalized == _ROLE_ARN_KEY,
            _edit_distance(normalized, _ROLE_ARN_KEY) <= 3,
            _normalized_key(suffix) in ("rolearn", "iamrolearn", "role") and "eks" in key.lower(),
        )):
            found.append(key)
    return sorted(found)
