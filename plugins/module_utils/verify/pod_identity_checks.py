# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The checks of an EKS Pod Identity binding: what the static, token and pod checks find, and what it means.

A Pod Identity binding works when the cluster has an association for exactly the binding's namespace and
ServiceAccount naming its role (``association``), the role's trust lets the service principal
``pods.eks.amazonaws.com`` call ``sts:AssumeRole`` and, unless the association disables session tags,
``sts:TagSession`` for this cluster (``trust_policy``, ``trust_policy_tag_session``), the ``eks-pod-identity-agent``
add-on runs (``pod_identity_agent``), and no Fargate profile takes the pods (``fargate``). Pods created before the
association lack the container credentials (``stale_pods``), and a pod that also has IRSA's web identity gets the
IRSA role, since every AWS SDK looks for a web identity before the container credentials (``irsa_precedence``).

Each function turns facts already read (EKS associations, add-on, Fargate profiles, IAM documents, Kubernetes
objects) into check results (module_utils/verify/results). Pure functions, no I/O. Private to the eks.irsa
collection; not a public API.
"""

from __future__ import annotations

import json

from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ENV
from ansible_collections.eks.irsa.plugins.module_utils.constants import TOKEN_FILE_ENV
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import role_name_from_arn
from ansible_collections.eks.irsa.plugins.module_utils.trust import evaluate as trust_evaluate
from ansible_collections.eks.irsa.plugins.module_utils.trust.build import statement_label
from ansible_collections.eks.irsa.plugins.module_utils.trust.build import statements_of
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import WARNING
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import binding_label
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import result
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import skipped
from ansible_collections.eks.irsa.plugins.module_utils.verify.token import parse_assumed_role_arn

IRSA = "irsa"
POD_IDENTITY = "pod_identity"
MECHANISMS = (IRSA, POD_IDENTITY)

SERVICE_PRINCIPAL = "pods.eks.amazonaws.com"
# The audience of the ServiceAccount token EKS Auth takes (the agent's projected token).
AUDIENCE = "pods.eks.amazonaws.com"
ASSUME_ACTION = "sts:AssumeRole"
TAG_ACTION = "sts:TagSession"
AGENT_ADDON = "eks-pod-identity-agent"
CREDENTIALS_URI_ENV = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
AUTHORIZATION_TOKEN_ENV = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
ASSOCIATION_HINT = ("eks.irsa.eks_pod_identity_association (cluster_name, namespace, service_account, role_arn), or aws eks "
                    "create-pod-identity-association")
TRUST_STATEMENT = {"Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL}, "Action": [ASSUME_ACTION, TAG_ACTION]}


def same_role(arn, other):
    """Whether two role ARNs name one role (account and name; STS does not compare paths)."""
    try:
        left, right = parse_arn(arn), parse_arn(other)
    except NamingError:
        return False
    return left["account_id"] == right["account_id"] and role_name_from_arn(arn) == role_name_from_arn(other)


# ---------------------------------------------------------------------------------------------
# The association


def association_check(cluster, namespace, name, association, others, role_arn=None, target_role_arn=None):
    """Whether ``association`` (DescribePodIdentityAssociation's, or None) links ``namespace``/``name`` to the expected
    role; ``others`` are the summaries of the cluster's other associations (to name a near miss)."""
    label = binding_label(namespace, name)
    if association is None:
        return result("association", "static", False, _missing_association(cluster, namespace, name, others, role_arn),
                      "Create it: {0}.".format(ASSOCIATION_HINT.replace("role_arn", "role_arn: {0}".format(role_arn) if role_arn else "role_arn")))
    where = "The Pod Identity association {0} of {1} in cluster {2!r}".format(association.get("associationId"), label, cluster)
    found_role, found_target = association.get("roleArn", ""), association.get("targetRoleArn") or ""
    if role_arn and not same_role(found_role, role_arn):
        return result(
            "association", "static", False,
            "{0} names the role {1}, not the expected {2}: its pods get {1}.".format(where, found_role, role_arn),
            "Set its role_arn to {0} (eks.irsa.eks_pod_identity_association), or expect {1}.".format(role_arn, found_role))
    if target_role_arn and not same_role(found_target, target_role_arn):
        return result(
            "association", "static", False,
            "{0} {1}, not the expected target role {2}: its pods get {3}.".format(
                where, "has the target role {0}".format(found_target) if found_target else "has no target role",
                target_role_arn, found_target or found_role),
            "Set its target_role_arn to {0} (eks.irsa.eks_pod_identity_association).".format(target_role_arn))
    target = ", target role {0}".format(found_target) if found_target else ""
    tags = "session tags disabled" if association.get("disableSessionTags") else "session tags on"
    return result("association", "static", True, "{0} gives its pods the role {1}{2} ({3}).".format(where, found_role, target, tags))


def _missing_association(cluster, namespace, name, others, role_arn):
    label = binding_label(namespace, name)
    message = "The cluster {0!r} has no Pod Identity association for {1}, so EKS gives its pods no Pod Identity credentials".format(cluster, label)
    same_name = sorted("{0}/{1}".format(o.get("namespace"), o.get("serviceAccount")) for o in others
                       if o.get("serviceAccount") == name and o.get("namespace") != namespace)
    same_namespace = sorted("{0}/{1}".format(o.get("namespace"), o.get("serviceAccount")) for o in others
                            if o.get("namespace") == namespace and o.get("serviceAccount") != name)
    if same_name:
        message += "; there is one for the ServiceAccount {0!r} in another namespace: {1}".format(name, ", ".join(same_name))
    if same_namespace:
        message += "; namespace {0!r} has associations for other ServiceAccounts: {1}".format(namespace, ", ".join(same_namespace))
    return message + "."


def role_check(role_arn, role):
    """The association's role exists (``role``: GetRole's, or None)."""
    if role is None:
        return result(
            "role", "static", False,
            "The IAM role {0!r} the association names does not exist in account {1}; EKS Auth cannot assume it.".format(
                role_name_from_arn(role_arn), parse_arn(role_arn)["account_id"]),
            "Create the role (eks.irsa.irsa_role name: {0}) or point the association at an existing role.".format(role_name_from_arn(role_arn)))
    return result("role", "static", True, "The IAM role {0} exists.".format(role.get("Arn", role_arn)))


# ---------------------------------------------------------------------------------------------
# The role's trust


def request_context(cluster_arn, namespace, name, session_tags=True):
    """The condition keys of EKS Auth's AssumeRole (and TagSession) for a pod of ``namespace``/``name``. The pod's
    name and UID, also session tags, are unknown without a pod and left out."""
    account = cluster_arn.split(":")[4] if cluster_arn and cluster_arn.count(":") >= 5 else None
    request = {"aws:SourceAccount": account, "aws:SourceArn": cluster_arn}
    if session_tags:
        request.update({
            "aws:RequestTag/eks-cluster-arn": cluster_arn,
            "aws:RequestTag/eks-cluster-name": cluster_arn.rsplit("/", 1)[-1] if cluster_arn else None,
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": name,
        })
    return request


def trust_checks(policy, role_name, cluster_arn, namespace, name, session_tags=True):
    """Whether the trust ``policy`` lets ``pods.eks.amazonaws.com`` call sts:AssumeRole and, with ``session_tags``,
    sts:TagSession for this cluster (aws:SourceAccount, aws:SourceArn and the session tags as EKS Auth sends them)."""
    request = request_context(cluster_arn, namespace, name, session_tags)
    role = "The trust policy of role {0!r}".format(role_name)
    checks = []
    decision = trust_evaluate.evaluate_service(policy, SERVICE_PRINCIPAL, ASSUME_ACTION, request)
    if decision.allowed:
        checks.append(result("trust_policy", "static", True, "{0} allows {1} to {2} for cluster {3} ({4}).".format(
            role, ASSUME_ACTION, SERVICE_PRINCIPAL, cluster_arn, statement_label(decision.statement_index, decision.sid))))
    else:
        checks.append(result("trust_policy", "static", False, *_trust_denial(role, policy, decision, cluster_arn, ASSUME_ACTION)))
    if not session_tags:
        return checks
    tagging = trust_evaluate.evaluate_service(policy, SERVICE_PRINCIPAL, TAG_ACTION, request)
    if tagging.allowed:
        checks.append(result("trust_policy_tag_session", "static", True, "{0} allows {1} to {2} ({3}).".format(
            role, TAG_ACTION, SERVICE_PRINCIPAL, statement_label(tagging.statement_index, tagging.sid))))
    elif decision.allowed:
        checks.append(result(
            "trust_policy_tag_session", "static", False,
            "{0} allows {1} but not {2} to {3} ({4}): EKS Auth tags every session with the cluster, namespace, "
            "ServiceAccount and pod, and answers AccessDeniedException when the role does not allow that.".format(
                role, ASSUME_ACTION, TAG_ACTION, SERVICE_PRINCIPAL, tagging.reason),
            "Add {0} to the Action of the statement for {1} (eks.irsa.irsa_role with pod_identity writes both), or turn the session tags "
            "off: disable_session_tags: true on the association (eks.irsa.eks_pod_identity_association).".format(TAG_ACTION, SERVICE_PRINCIPAL)))
    return checks


def _trust_denial(role, policy, decision, cluster_arn, action):
    """``(message, remediation)`` of a trust that does not let the service principal call ``action``."""
    fix = "Add the Pod Identity statement to the role's trust (eks.irsa.irsa_role with pod_identity: {{state: present}} does): {0}.".format(
        json.dumps(TRUST_STATEMENT, sort_keys=True))
    statements = statements_of(policy)
    if decision.effect == "Deny":
        return ("{0}: {1}.".format(role, decision.reason),
                "Narrow or remove {0} so it does not match {1}.".format(statement_label(decision.statement_index, decision.sid), SERVICE_PRINCIPAL))
    naming = [entry for entry in decision.statements if entry["names_principal"]]
    if not statements or not naming:
        kinds = sorted(set(kind for stmt in statements for kind in (stmt.get("Principal") or {}) if isinstance(stmt.get("Principal"), dict)))
        return ("{0} does not name the service principal {1}{2}, so EKS Auth cannot assume the role{3}.".format(
            role, SERVICE_PRINCIPAL, " (its statements name {0} principals)".format(", ".join(kinds)) if kinds else "",
            ": a role made for IRSA only trusts its OIDC providers" if "Federated" in kinds else ""), fix)
    allowing = [entry for entry in naming if entry["effect"] == "Allow"]
    if allowing and all(entry["reason"].startswith("Action ") for entry in allowing):
        return ("{0} names {1} but allows it no {2}: {3}.".format(role, SERVICE_PRINCIPAL, action, decision.reason), fix)
    return (
        "{0} names {1}, but its conditions exclude this cluster ({2}): {3}.".format(role, SERVICE_PRINCIPAL, cluster_arn, decision.reason),
        "Make the statement's aws:SourceAccount / aws:SourceArn conditions admit {0} (eks.irsa.irsa_role with this cluster in "
        "pod_identity.clusters), or drop them.".format(cluster_arn))


# ---------------------------------------------------------------------------------------------
# The agent and Fargate


def agent_check(cluster, addon, error=None):
    """Whether the ``eks-pod-identity-agent`` add-on (DescribeAddon's, or None when there is none) is ACTIVE."""
    create = ("Add it: aws eks create-addon --cluster-name {0} --addon-name {1} (or from the console's Add-ons tab); "
              "see the eks_pod_identity_association documentation (docs/pod_identity.md).".format(cluster, AGENT_ADDON))
    if error:
        return result("pod_identity_agent", "static", False,
                      "Could not tell whether the {0} add-on runs in cluster {1!r}: {2}".format(AGENT_ADDON, cluster, error),
                      "Allow eks:DescribeAddon to the AWS identity in use, or rely on the token and pod checks.", severity=WARNING)
    if addon is None:
        return result(
            "pod_identity_agent", "static", False,
            "The cluster {0!r} has no {1} add-on: no agent on the nodes serves the credentials the pods are pointed at "
            "({2}), so their AWS calls fail to find credentials.".format(cluster, AGENT_ADDON, CREDENTIALS_URI_ENV), create)
    status = addon.get("status")
    if status != "ACTIVE":
        issues = "; ".join("{0}: {1}".format(i.get("code"), i.get("message")) for i in (addon.get("health") or {}).get("issues") or [])
        return result(
            "pod_identity_agent", "static", False,
            "The {0} add-on of cluster {1!r} is {2}, not ACTIVE{3}.".format(AGENT_ADDON, cluster, status, ": " + issues if issues else ""),
            "Wait for it to become ACTIVE, or repair it (aws eks describe-addon --cluster-name {0} --addon-name {1}; "
            "aws eks update-addon --resolve-conflicts OVERWRITE).".format(cluster, AGENT_ADDON))
    return result("pod_identity_agent", "static", True, "The {0} add-on of cluster {1!r} is ACTIVE ({2}).".format(
        AGENT_ADDON, cluster, addon.get("addonVersion", "")))


def fargate_check(cluster, namespace, profiles, pod_labels=None, error=None):
    """Whether a Fargate profile (DescribeFargateProfile's) selects the binding's pods: Pod Identity does not run on
    Fargate. Without ``pod_labels``, a selector that also asks for labels may or may not take the pods (a warning).
    ``error``: why the profiles could not be read."""
    if error:
        return result("fargate", "static", False,
                      "Could not tell whether a Fargate profile of cluster {0!r} takes the pods: {1}".format(cluster, error),
                      "Allow eks:ListFargateProfiles and eks:DescribeFargateProfile to the AWS identity in use.", severity=WARNING)
    certain, maybe = [], []
    for profile in profiles or []:
        for selector in profile.get("selectors") or []:
            if selector.get("namespace") != namespace:
                continue
            wanted = selector.get("labels") or {}
            if pod_labels is not None:
                if all(pod_labels.get(key) == value for key, value in wanted.items()):
                    certain.append((profile.get("fargateProfileName"), wanted))
            elif wanted:
                maybe.append((profile.get("fargateProfileName"), wanted))
            else:
                certain.append((profile.get("fargateProfileName"), wanted))
    fix = ("Pod Identity does not run on Fargate: use IRSA for these pods (mechanism: irsa), or change the Fargate "
           "profile's selectors so that they do not take them.")
    if certain:
        return result("fargate", "static", False, "The Fargate profile(s) {0} of cluster {1!r} select the pods of namespace {2!r}{3}: "
                      "pods on Fargate get no Pod Identity credentials.".format(_profiles(certain), cluster, namespace,
                                                                                " with these labels" if pod_labels else ""), fix)
    if maybe:
        return result("fargate", "static", False, "The Fargate profile(s) {0} of cluster {1!r} select the pods of namespace {2!r} "
                      "that carry their labels; such pods get no Pod Identity credentials.".format(_profiles(maybe), cluster, namespace),
                      fix + " Give the binding's pod_labels to know for sure.", severity=WARNING)
    return result("fargate", "static", True, "No Fargate profile of cluster {0!r} selects the pods of namespace {1!r}.".format(cluster, namespace))


def _profiles(found):
    return ", ".join("{0!r}{1}".format(name, " (labels {0})".format(json.dumps(labels, sort_keys=True)) if labels else "")
                     for name, labels in found)


# ---------------------------------------------------------------------------------------------
# Pods


def _env(container, name):
    for item in container.get("env") or []:
        if item.get("name") == name:
            return item.get("value")
    return None


def credential_problems(pod):
    """What EKS's Pod Identity mutation did not inject into ``pod`` (empty when every container has it)."""
    problems = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        for env in (CREDENTIALS_URI_ENV, AUTHORIZATION_TOKEN_ENV):
            if _env(container, env) is None:
                problems.append("container {0!r} has no {1}".format(container.get("name"), env))
    return problems


def web_identity_role(pod):
    """The AWS_ROLE_ARN of a container of ``pod`` that also has AWS_WEB_IDENTITY_TOKEN_FILE (IRSA's), or None."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        if _env(container, ROLE_ARN_ENV) and _env(container, TOKEN_FILE_ENV):
            return _env(container, ROLE_ARN_ENV)
    return None


def _live(pods):
    return [pod for pod in pods or [] if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            if not (pod.get("metadata") or {}).get("deletionTimestamp")]


def is_running(pod):
    """Whether ``pod`` is running and not being deleted."""
    return (pod.get("status") or {}).get("phase") == "Running" and not (pod.get("metadata") or {}).get("deletionTimestamp")


def no_pod_for_token_check(namespace, name):
    """The token check when no pod of the ServiceAccount runs: EKS Auth exchanges a pod's token only."""
    return skipped("token", "token", "Skipped: EKS Auth exchanges the token of a pod (it tags the session with the pod's name and UID), "
                   "and no pod of the ServiceAccount {0} runs; the pod check runs one.".format(binding_label(namespace, name)))


def stale_pods(pods):
    """Names of the running or pending pods without the Pod Identity credentials (created before the association)."""
    return sorted(pod["metadata"]["name"] for pod in _live(pods) if credential_problems(pod))


def stale_pods_check(namespace, name, pods):
    stale = stale_pods(pods)
    if not stale:
        return None
    shown = ", ".join(stale[:10]) + (" and {0} more".format(len(stale) - 10) if len(stale) > 10 else "")
    return result(
        "stale_pods", "static", False,
        "{0} running pod(s) of the ServiceAccount {1} have no {2}: they were created before its Pod Identity association, "
        "and EKS injects the credentials only into pods created after it: {3}.".format(len(stale), binding_label(namespace, name),
                                                                                       CREDENTIALS_URI_ENV, shown),
        "Restart them: kubectl rollout restart on their Deployment/StatefulSet/DaemonSet, or delete the pods.",
        severity=WARNING)


def irsa_precedence_check(namespace, name, service_account, pods, role_arn):
    """A warning for running pods that carry IRSA's web identity (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE) besides
    Pod Identity's container credentials: the SDKs take the web identity first.

    The ServiceAccount's IRSA annotation alone is no such case: for a ServiceAccount that is both annotated and
    associated, AWS's pod identity webhook injects the container credentials only ("Container credentials method takes
    precedence"), so its new pods run on Pod Identity. ``service_account`` is kept for the callers' sake."""
    del service_account
    both = [pod for pod in _live(pods) if web_identity_role(pod) and not credential_problems(pod)]
    if not both:
        return None
    irsa_role = web_identity_role(both[0])
    names = sorted(pod["metadata"]["name"] for pod in both)
    same = same_role(irsa_role, role_arn) if role_arn else False
    return result(
        "irsa_precedence", "static", False,
        "{0} running pod(s) of the ServiceAccount {1} have IRSA's {2} and {3} besides Pod Identity's {4}: the AWS SDKs and CLI "
        "look for a web identity before the container credentials, so they run as {5}{6}: {7}.".format(
            len(names), binding_label(namespace, name), ROLE_ARN_ENV, TOKEN_FILE_ENV, CREDENTIALS_URI_ENV, irsa_role,
            " (the same role, through IRSA)" if same else
            ", not as the Pod Identity role {0}".format(role_arn) if role_arn else ", not through Pod Identity",
            ", ".join(names[:10]) + (" and {0} more".format(len(names) - 10) if len(names) > 10 else "")),
        "AWS's webhook does not inject both, so {0} and {1} are written in the pods' template: remove them there and restart "
        "the pods.".format(ROLE_ARN_ENV, TOKEN_FILE_ENV),
        severity=WARNING)


# ---------------------------------------------------------------------------------------------
# The identity EKS Auth and the pod get


def identity_check(check, role_arn, identity, how):
    """Whether ``identity`` ({account, arn, user_id}) is a session of ``role_arn`` (names compared, not paths)."""
    assumed = parse_assumed_role_arn(identity.get("arn", ""))
    role_name = role_name_from_arn(role_arn)
    if assumed and assumed["role"] == role_name and assumed["account"] == parse_arn(role_arn)["account_id"]:
        return result(check, check, True, "{0} and got {1}.".format(how, identity.get("arn")))
    return result(
        check, check, False,
        "{0} but got {1}, not a session of role {2!r} (assumed-role/{2}/...).".format(how, identity.get("arn"), role_name),
        "Check the association's role_arn and target_role_arn (eks.irsa.eks_pod_identity_association) and that the pod has "
        "no other credentials first in the SDK's chain (AWS_* variables, IRSA's web identity).")


def expected_role(association, role_arn=None, target_role_arn=None):
    """The role a pod of the association ends up as: its target role when it has one, else its role."""
    if association:
        return association.get("targetRoleArn") or association.get("roleArn") or role_arn
    return target_role_arn or role_arn


# ---------------------------------------------------------------------------------------------
# EKS Auth's refusals

# EKS Auth's error codes that may only mean that IAM has not propagated a change yet.
RETRYABLE_EKS_AUTH_CODES = ("AccessDeniedException",)
# Static findings that explain a refusal of EKS Auth: retrying for propagation would change nothing.
EXPLAINING_CHECKS = ("association", "role", "trust_policy", "trust_policy_tag_session")


def no_exchange_check(reason):
    return result("token", "token", False, "No exchange with EKS Auth: {0}.".format(reason), "Fix the findings above first.")


def eks_auth_diagnosis(code, message, cluster, static_failures=(), timeout=0):
    """``(message, remediation)`` for an error of EKS Auth's AssumeRoleForPodIdentity (or of the STS call made with
    its credentials); ``static_failures`` are the failed static checks, whose messages name the cause when known."""
    said = "EKS Auth answered {0}: {1}".format(code or "Unknown", (message or "").strip() or "(no message)")
    known = " ".join(entry["message"] for entry in static_failures)
    fixes = " ".join(dict.fromkeys(entry["remediation"] for entry in static_failures if entry.get("remediation")))
    if known:
        return "{0}. {1}".format(said, known), fixes
    if code == "AccessDeniedException":
        cause = ("the role's trust does not let {0} call {1} (and {2} unless the association disables session tags) for this "
                 "cluster".format(SERVICE_PRINCIPAL, ASSUME_ACTION, TAG_ACTION))
        fix = "Fix the role's trust (the static check names the statement)."
        if timeout:
            cause += ", or a change made moments ago has not reached EKS Auth within propagation_timeout ({0} s)".format(timeout)
            fix += " If the role or its trust changed moments ago, run again later or raise propagation_timeout."
        return "{0}. Probably {1}".format(said, cause), fix
    if code == "ResourceNotFoundException":
        return ("{0}. EKS has no Pod Identity association for this ServiceAccount in cluster {1!r} (or no such cluster).".format(said, cluster),
                "Create the association: {0}.".format(ASSOCIATION_HINT))
    if code in ("InvalidTokenException", "ExpiredTokenException"):
        return ("{0}. EKS Auth did not accept the ServiceAccount token of the cluster the Kubernetes connection reaches: it was "
                "issued by another cluster than {1!r}, or the clocks are off.".format(said, cluster),
                "Point the Kubernetes connection at cluster {0!r} (or set cluster_name to the cluster it reaches); synchronise "
                "the clocks.".format(cluster))
    return "{0}.".format(said), "Retry; if it persists, check the AWS connection (endpoint, region) and eks-auth:AssumeRoleForPodIdentity."


def exchange_check(role_arn, identity=None, error=None, attempts=0, elapsed=0.0):
    """The token check's result: ``identity`` ({account, arn, user_id}) on success, else ``error`` (message, remediation)."""
    tries = "{0} attempt{1} over {2:.0f} s".format(attempts, "" if attempts == 1 else "s", elapsed)
    if identity is not None:
        return identity_check("token", role_arn, identity, "A ServiceAccount token (audience {0}) was exchanged with EKS Auth "
                                                           "AssumeRoleForPodIdentity, and STS GetCallerIdentity with its credentials "
                                                           "answered ({1})".format(AUDIENCE, tries))
    message, remediation = error
    return result("token", "token", False, "{0} ({1}).".format(message.rstrip("."), tries), remediation)


def not_mutated_check(pod_name, namespace, name, problems, association_found):
    """The pod check's failure when the verification pod was admitted without the container credentials."""
    cause = ("EKS injects them only when an association exists when the pod is created; one made moments ago may not be "
             "seen yet" if association_found else "the ServiceAccount has no Pod Identity association")
    return result(
        "pod", "pod", False,
        "The pod {0} of the ServiceAccount {1} was admitted without Pod Identity credentials ({2}): {3}.".format(
            pod_name, binding_label(namespace, name), "; ".join(problems), cause),
        "Create the association ({0}) and run again; pods created before it must be restarted.".format(ASSOCIATION_HINT))
