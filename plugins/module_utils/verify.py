# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Verification of one IRSA binding (ServiceAccount -> IAM role), link by link.

A pod gets its role only when every link of this chain holds:

1. the ServiceAccount exists and carries ``eks.amazonaws.com/role-arn`` (spelled exactly);
2. the role exists, in the account whose IAM OIDC provider the trust names;
3. IAM has an OIDC provider for the cluster's issuer, and the ServiceAccount's audience is one of its
   client IDs;
4. the role's trust policy allows ``sub=system:serviceaccount:<ns>:<sa>`` with that audience from
   that provider;
5. the pod identity webhook mutates new pods of the ServiceAccount (env ``AWS_ROLE_ARN``,
   ``AWS_WEB_IDENTITY_TOKEN_FILE``, the ``aws-iam-token`` volume);
6. STS then exchanges a ServiceAccount token for credentials of the role.

The functions here turn facts that were already read (Kubernetes objects, IAM documents, STS error
codes, pod status, events, logs) into check results that say which link is broken, why, and how to
fix it. They do no I/O; the irsa_verify module reads the facts and calls them.

A check result is a dict ``{name, check, passed, severity, message, remediation}``: ``check`` is the
group it belongs to (``static``, ``token``, ``pod``), ``severity`` is ``error`` (the binding cannot
work while it fails), ``warning`` (it works, but something is at risk) or ``info`` (skipped).

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import random
import re
import time

from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.trust import evaluate as trust_evaluate
from ansible_collections.eks.irsa.plugins.module_utils.constants import AUDIENCE_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import MANAGED_BY_LABEL
from ansible_collections.eks.irsa.plugins.module_utils.constants import MANAGED_BY_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ENV
from ansible_collections.eks.irsa.plugins.module_utils.constants import TOKEN_FILE_ENV
from ansible_collections.eks.irsa.plugins.module_utils.constants import TOKEN_VOLUME_NAME
from ansible_collections.eks.irsa.plugins.module_utils.constants import TRUST_POLICY_SIZE_LIMIT
from ansible_collections.eks.irsa.plugins.module_utils.constants import WEB_IDENTITY_ACTION
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn

CHECKS = ("static", "token", "pod")
DEFAULT_CHECKS = ("static", "token")

ERROR = "error"
WARNING = "warning"
INFO = "info"

# The name of the MutatingWebhookConfiguration EKS installs, and of its webhook.
WEBHOOK_CONFIGURATION = "pod-identity-webhook"
WEBHOOK_ENTRY = "iam-for-pods.amazonaws.com"

# Warn when the minified trust policy uses this share of the limit.
TRUST_POLICY_SIZE_WARNING = 0.9

# TokenRequest lifetime for the token check: the minimum the API server issues.
TOKEN_CHECK_EXPIRATION = 600

VERIFY_POD_PREFIX = "irsa-verify-"
VERIFY_CONTAINER = "irsa-verify"
DEFAULT_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.25.4"
DEFAULT_POD_COMMAND = ("aws", "sts", "get-caller-identity", "--output", "json")
VERIFY_COMPONENT_LABEL = "app.kubernetes.io/component"
VERIFY_COMPONENT_VALUE = "irsa-verify"
# A user the aws-cli image has no reason to refuse; "nobody" on most distributions.
VERIFY_POD_USER = 65534

# Container waiting reasons after which waiting longer changes nothing.
TERMINAL_WAITING_REASONS = (
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "CrashLoopBackOff",
)

LOG_TAIL_LINES = 10
EVENTS_SHOWN = 5

_ASSUMED_ROLE_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[\w+=,.@-]+)/(?P<session>.+)$")
_ANNOTATION_NORMALIZE = re.compile(r"[^a-z0-9]")


# ---------------------------------------------------------------------------------------------
# Results


def result(name, check, passed, message, remediation="", severity=ERROR):
    return {
        "name": name,
        "check": check,
        "passed": passed,
        "severity": severity,
        "message": message,
        "remediation": remediation if not passed else "",
    }


def skipped(name, check, message):
    entry = result(name, check, None, message, severity=INFO)
    entry["skipped"] = True
    return entry


def failures(checks, severity=ERROR):
    return [entry for entry in checks if entry["passed"] is False and entry["severity"] == severity]


def is_verified(checks):
    """True when no error-severity check failed and at least one check passed."""
    return not failures(checks) and any(entry["passed"] for entry in checks)


def binding_label(namespace, name):
    return "{0}/{1}".format(namespace, name)


def summary(results):
    verified = sum(1 for entry in results if entry.get("verified"))
    return {"total": len(results), "verified": verified, "failed": len(results) - verified}


def failure_report(results):
    """One line per binding that was not verified, with the message and fix of every failed check."""
    lines = []
    for entry in results:
        if entry.get("verified"):
            continue
        found = failures(entry.get("checks") or [])
        reasons = " ".join(
            "[{0}] {1}{2}".format(c["name"], c["message"], " Fix: " + c["remediation"] if c["remediation"] else "") for c in found
        ) or "no check could run"
        lines.append("{0}: {1}".format(binding_label(entry["namespace"], entry["service_account"]), reasons))
    return lines


# ---------------------------------------------------------------------------------------------
# The ServiceAccount and its annotations


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


def service_account_checks(namespace, name, service_account, role_arn=None, namespace_exists=True):
    """Checks of the ServiceAccount and its role annotation.

    Returns ``(checks, role_arn, audience)``: the role to verify (the ``role_arn`` given, else the
    annotation's) and the audience of its tokens; ``role_arn`` is None when there is none to verify.
    """
    label = binding_label(namespace, name)
    if service_account is None:
        if not namespace_exists:
            message = "The namespace {0!r} does not exist, so neither does the ServiceAccount {1}.".format(namespace, label)
            fix = "Check the namespace, or create it and the ServiceAccount (eks.irsa.irsa_service_account with create: true)."
        else:
            message = "The ServiceAccount {0} does not exist.".format(label)
            fix = ("Check the name and namespace, or create it annotated with the role: eks.irsa.irsa_service_account "
                   "(create: true), or kubectl create serviceaccount {0} -n {1}.".format(name, namespace))
        return [result("service_account", "static", False, message, fix)], role_arn, DEFAULT_AUDIENCE

    annotations = (service_account.get("metadata") or {}).get("annotations") or {}
    audience = annotations.get(AUDIENCE_ANNOTATION) or DEFAULT_AUDIENCE
    annotated = annotations.get(ROLE_ARN_ANNOTATION)
    checks = []
    set_it = ("annotate it: eks.irsa.irsa_service_account (role_arn: <ARN>), or kubectl annotate serviceaccount -n {0} {1} "
              "{2}=<ARN>; then recreate its pods".format(namespace, name, ROLE_ARN_ANNOTATION))
    if annotated is None:
        near = near_miss_role_keys(annotations)
        if near:
            message = (
                "The ServiceAccount {0} has no {1} annotation; it has {2}, which the pod identity webhook ignores "
                "(the key must be exactly {1}), so its pods get no role and use the node's role.".format(
                    label, ROLE_ARN_ANNOTATION, " and ".join(repr(key) for key in near))
            )
            fix = "Rename the annotation {0} to {1}: {2}.".format(" / ".join(repr(key) for key in near), ROLE_ARN_ANNOTATION, set_it)
        else:
            message = ("The ServiceAccount {0} has no {1} annotation, so the pod identity webhook does not inject credentials "
                       "and its pods use the node's role.".format(label, ROLE_ARN_ANNOTATION))
            fix = "To give its pods {0}, {1}.".format(role_arn or "the role", set_it)
        checks.append(result("role_arn_annotation", "static", False, message, fix[0].upper() + fix[1:]))
        return checks, role_arn, audience

    if annotated != annotated.strip() or not annotated.strip():
        checks.append(result(
            "role_arn_annotation", "static", False,
            "The {0} annotation of {1} is {2!r}: white space or an empty value is passed to AWS as it is and no role "
            "has that ARN.".format(ROLE_ARN_ANNOTATION, label, annotated),
            "Set the annotation to the role's ARN without white space.",
        ))
        return checks, role_arn, audience
    try:
        parse_arn(annotated, service="iam", resource_type="role")
    except NamingError as e:
        checks.append(result(
            "role_arn_annotation", "static", False,
            "The {0} annotation of {1} is not an IAM role ARN: {2}.".format(ROLE_ARN_ANNOTATION, label, e),
            "Set it to the role's ARN, arn:aws:iam::<account>:role/<name> (aws iam get-role --role-name <name> "
            "--query Role.Arn).",
        ))
        return checks, role_arn, audience
    if role_arn and annotated != role_arn:
        checks.append(result(
            "role_arn_annotation", "static", False,
            "The ServiceAccount {0} is annotated with {1}, not with the expected role {2}: its pods assume {1}.".format(
                label, annotated, role_arn),
            "Set {0} to {1} (eks.irsa.irsa_service_account) and recreate its pods, or expect {2}.".format(
                ROLE_ARN_ANNOTATION, role_arn, annotated),
        ))
        return checks, role_arn, audience
    audience_note = "" if AUDIENCE_ANNOTATION not in annotations else ", audience {0!r}".format(audience)
    checks.append(result(
        "role_arn_annotation", "static", True,
        "The ServiceAccount {0} is annotated with {1}{2}.".format(label, annotated, audience_note),
    ))
    return checks, annotated, audience


# ---------------------------------------------------------------------------------------------
# The role


def role_checks(role_arn, role, caller_account=None):
    """Checks that the role exists. ``role`` is GetRole's ``Role`` for the role's name in the account of the
    credentials in use, or None; ``caller_account`` the account of those credentials (known when the role was
    not found).

    GetRole reads the caller's account only: a role found there under the same name is not the role of an
    annotation that names another account.
    """
    details = parse_arn(role_arn, service="iam", resource_type="role")
    role_name = details["resource_id"].rsplit("/", 1)[-1]
    found_account = parse_arn(role["Arn"])["account_id"] if role is not None and role.get("Arn") else None
    if found_account and found_account != details["account_id"]:
        return [result(
            "role", "static", False,
            "The ServiceAccount names the role {0} in account {1}, but the AWS credentials in use are of account {2}, "
            "and IAM is read in that account only: account {2} has a role of that name, {3}, which is not the one the "
            "annotation names. The role in account {1}, its trust policy and the OIDC provider it needs there were "
            "not checked.".format(role_arn, details["account_id"], found_account, role["Arn"]),
            "If the account {0} in the annotation is a mistake, set {1} to {2} (eks.irsa.irsa_service_account role_arn); "
            "if the role really is in account {0}, run the verification with credentials of account {0}.".format(
                details["account_id"], ROLE_ARN_ANNOTATION, role["Arn"]),
        )]
    if role is None:
        if caller_account and caller_account != details["account_id"]:
            return [result(
                "role", "static", False,
                "The IAM role {0} is in account {1}, but the AWS credentials in use belong to account {2}, where no "
                "role {3!r} exists; the role and the OIDC provider its trust names cannot be read from here.".format(
                    role_arn, details["account_id"], caller_account, role_name),
                "Run the verification with credentials of account {0}, or correct the account in the annotation.".format(
                    details["account_id"]),
            )]
        return [result(
            "role", "static", False,
            "The IAM role {0!r} does not exist in account {1} (the ServiceAccount names {2}); STS answers "
            "'Not authorized to perform sts:AssumeRoleWithWebIdentity' for a role that does not exist.".format(
                role_name, details["account_id"], role_arn),
            "Create the role (eks.irsa.irsa_role name: {0}) or correct the {1} annotation (aws iam list-roles "
            "--query 'Roles[].Arn').".format(role_name, ROLE_ARN_ANNOTATION),
        )]
    checks = [result("role", "static", True, "The IAM role {0} exists.".format(role.get("Arn", role_arn)))]
    if role.get("Arn") and role["Arn"] != role_arn:
        checks.append(result(
            "role_arn_path", "static", False,
            "The ServiceAccount names {0}, but the role's ARN is {1} (its path differs); the webhook passes the "
            "annotation to AWS as it is, and STS looks the role up by its whole ARN, path included, so it answers "
            "AccessDenied.".format(role_arn, role["Arn"]),
            "Set the annotation to {0} (eks.irsa.irsa_service_account role_arn).".format(role["Arn"]),
        ))
    return checks


def role_in_other_account(role_arn, role, caller_account=None):
    """True when the role the ServiceAccount names is in another account than the credentials in use, so
    that neither it nor the IAM OIDC provider its trust needs (in its account) can be read from here."""
    account = parse_arn(role_arn, service="iam", resource_type="role")["account_id"]
    if role is not None and role.get("Arn"):
        return parse_arn(role["Arn"])["account_id"] != account
    return bool(caller_account) and caller_account != account


# ---------------------------------------------------------------------------------------------
# The IAM OIDC provider


def provider_checks(provider_arn, issuer_url, provider, audience):
    """Checks of the IAM OIDC provider for the cluster's issuer; ``provider`` as aws.get_oidc_provider returns it."""
    account = provider_arn.split(":")[4]
    if provider is None:
        return [result(
            "oidc_provider", "static", False,
            "No IAM OIDC provider for the cluster's issuer {0} exists in account {1} ({2}); STS answers "
            "'No OpenIDConnect provider found in your account' to every token of this cluster.".format(issuer_url, account, provider_arn),
            "Create it: eks.irsa.eks_oidc_provider (issuer_url: {0}), or eksctl utils associate-iam-oidc-provider "
            "--cluster <name> --approve.".format(issuer_url),
        )]
    client_ids = provider.get("client_ids") or []
    if audience not in client_ids:
        return [result(
            "oidc_provider", "static", False,
            "The IAM OIDC provider {0} accepts the client IDs {1}, but the ServiceAccount's tokens carry the audience "
            "{2!r}{3}; STS answers 'Incorrect token audience'.".format(
                provider_arn, json.dumps(client_ids), audience,
                " (default of the pod identity webhook)" if audience == DEFAULT_AUDIENCE else " (its {0} annotation)".format(AUDIENCE_ANNOTATION)),
            "Add the client ID {0!r} to the provider (eks.irsa.eks_oidc_provider client_ids, or aws iam "
            "add-client-id-to-open-id-connect-provider){1}.".format(
                audience, "" if audience == DEFAULT_AUDIENCE else ", or remove the {0} annotation".format(AUDIENCE_ANNOTATION)),
        )]
    return [result(
        "oidc_provider", "static", True,
        "The IAM OIDC provider {0} exists and accepts the audience {1!r}.".format(provider_arn, audience),
    )]


# ---------------------------------------------------------------------------------------------
# The trust policy


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _label(index, sid):
    return "statement {0}{1}".format(index, " ({0})".format(sid) if sid else "")


def _federated(stmt):
    principal = stmt.get("Principal")
    if isinstance(principal, dict):
        return [item for item in _as_list(principal.get("Federated")) if isinstance(item, str)]
    return []


def _condition_values(stmt, suffix, provider):
    """``[(operator, value)]`` of the conditions on ``<provider>:<suffix>`` in ``stmt``."""
    key = "{0}:{1}".format(provider, suffix).lower()
    found = []
    condition = stmt.get("Condition")
    if not isinstance(condition, dict):
        return found
    for operator, block in condition.items():
        if not isinstance(block, dict):
            continue
        for name, value in block.items():
            if str(name).lower() == key:
                found.extend((operator, str(item)) for item in _as_list(value))
    return found


def _subject_parts(subject):
    if subject.startswith("system:serviceaccount:"):
        parts = subject[len("system:serviceaccount:"):].split(":")
        if len(parts) == 2:
            return parts
    return None


def _subject_hint(expected_subjects, subject):
    """Why the token's subject is not one of those trusted: another ServiceAccount, another namespace."""
    mine = _subject_parts(subject)
    if not mine or not expected_subjects:
        return ""
    namespaces = set()
    names = set()
    for value in expected_subjects:
        parts = _subject_parts(value)
        if parts:
            namespaces.add(parts[0])
            names.add(parts[1])
    if mine[1] in names and mine[0] not in namespaces:
        return " The trust names a ServiceAccount {0!r} in another namespace ({1}), not in {2!r}.".format(
            mine[1], ", ".join(sorted(namespaces)), mine[0])
    if mine[0] in namespaces and mine[1] not in names:
        return " The trust names another ServiceAccount of namespace {0!r} ({1}), not {2!r}.".format(
            mine[0], ", ".join(sorted(names)), mine[1])
    return ""


def trust_checks(policy, provider_arn, claims, size_limit=TRUST_POLICY_SIZE_LIMIT, role_name=None):
    """Whether the trust policy lets a token with ``claims`` ({iss, sub, aud}) from ``provider_arn`` assume the role.

    Evaluated with trust_evaluate.evaluate; the message names the deciding statement, or explains why none
    matched: trust for another provider (cluster or account), another subject (expected vs found),
    ``*`` under StringEquals, an :aud for another audience, an explicit Deny.
    """
    provider = trust.provider_from_arn(provider_arn)
    role = "The trust policy of role {0!r}".format(role_name) if role_name else "The trust policy"
    sub, aud = claims.get("sub"), claims.get("aud")
    decision = trust_evaluate.evaluate(policy, claims, provider_arn)
    statements = trust.statements_of(policy)
    checks = []
    if decision.allowed:
        stmt = statements[decision.statement_index]
        checks.append(result(
            "trust_policy", "static", True,
            "{0} allows sub {1!r} with aud {2!r} from {3} ({4}).".format(
                role, sub, aud, provider, _label(decision.statement_index, decision.sid)),
        ))
        if not _condition_values(stmt, "aud", provider):
            checks.append(result(
                "trust_policy_audience", "static", False,
                "{0} that allows this ServiceAccount has no condition on {1}:aud, so it accepts a token of any audience "
                "the provider accepts.".format(_label(decision.statement_index, decision.sid).capitalize(), provider),
                "Add \"StringEquals\": {{\"{0}:aud\": \"{1}\"}} to it (eks.irsa.irsa_role writes it).".format(provider, aud),
                severity=WARNING,
            ))
    else:
        checks.append(result("trust_policy", "static", False, *_trust_denial(role, decision, statements, policy, provider_arn, provider, claims)))

    size = trust.minified_size(policy or {})
    if size >= size_limit * TRUST_POLICY_SIZE_WARNING:
        checks.append(result(
            "trust_policy_size", "static", False,
            "{0} is {1} characters without white space, {2}% of IAM's limit of {3}: adding one more ServiceAccount "
            "or cluster may be refused.".format(role, size, size * 100 // size_limit, size_limit),
            "Merge subjects into a StringLike pattern, split the ServiceAccounts over a second role, or ask for a "
            "higher 'Role trust policy length' quota.",
            severity=WARNING,
        ))
    return checks


def _trust_denial(role, decision, statements, policy, provider_arn, provider, claims):
    sub, aud = claims.get("sub"), claims.get("aud")
    fix_add = ("Add the subject to the role's trust: eks.irsa.irsa_role with service_accounts including {0!r} for this "
               "cluster's provider (or edit the statement for {1}).".format(sub[len("system:serviceaccount:"):] if sub else sub, provider))
    if not statements:
        return ("{0} has no statements; nothing may assume the role.".format(role), fix_add)
    if decision.effect == "Deny":
        return (
            "{0}: {1}.".format(role, decision.reason),
            "Narrow or remove {0} so it does not match sub {1!r}.".format(_label(decision.statement_index, decision.sid), sub),
        )

    naming = [(index, stmt) for index, stmt in enumerate(statements) if provider_arn in _federated(stmt)]
    if not naming:
        others = []
        for stmt in statements:
            for arn in _federated(stmt):
                if ":oidc-provider/" in arn and arn not in others:
                    others.append(arn)
        if others:
            details = []
            for arn in others:
                other_provider = arn.split(":oidc-provider/", 1)[1]
                other_account = arn.split(":")[4] if arn.count(":") >= 5 else ""
                if other_provider == provider:
                    details.append("{0} (the same issuer in account {1}; an IAM OIDC provider must be in the role's account)".format(arn, other_account))
                elif other_provider.startswith("oidc.eks."):
                    details.append("{0} (another EKS cluster's issuer)".format(arn))
                else:
                    details.append(arn)
            return (
                "{0} trusts the OIDC provider(s) {1}, not this cluster's provider {2}: the role was made for another "
                "cluster or account.".format(role, "; ".join(details), provider_arn),
                "Add a statement for {0} (eks.irsa.irsa_role with oidc_providers listing both clusters, or cluster_name "
                "of this cluster), or annotate the ServiceAccount with a role made for this cluster.".format(provider_arn),
            )
        return (
            "{0} has no statement for a web identity: no statement names the OIDC provider {1} as Federated "
            "principal ({2}).".format(role, provider_arn, decision.reason),
            "Add the IRSA statement for {0} (eks.irsa.irsa_role with cluster_name or oidc_provider).".format(provider_arn),
        )

    # Statements name the provider but none applies: say what they expect and what the token has.
    wildcards = [item for item in trust.stringequals_wildcards(policy) if str(item[1]).lower().startswith(provider.lower() + ":")]
    reasons = []
    for index, stmt in naming:
        entry = decision.statements[index] if index < len(decision.statements) else {}
        reasons.append("{0}: {1}".format(_label(index, stmt.get("Sid")), entry.get("reason") or "does not apply"))
    expected_subjects = []
    expected_audiences = []
    for index, stmt in naming:
        if stmt.get("Effect") != "Allow":
            continue
        expected_subjects.extend(value for _op, value in _condition_values(stmt, "sub", provider))
        expected_audiences.extend(value for _op, value in _condition_values(stmt, "aud", provider))
    message = "{0} does not let {1!r} (aud {2!r}) from {3} assume the role: {4}.".format(role, sub, aud, provider, "; ".join(reasons))
    if wildcards:
        index, key, value = wildcards[0]
        message += (" {0} compares {1} with {2!r} under StringEquals, which takes '*' and '?' literally, so the pattern "
                    "matches no ServiceAccount.".format(_label(index, statements[index].get("Sid")).capitalize(), key, value))
        fix = "Move the pattern under StringLike (keep :aud under StringEquals); eks.irsa.irsa_role does this for patterns."
        return message, fix
    if expected_subjects and sub not in expected_subjects:
        message += " Expected sub {0!r}; the trust has {1}.".format(sub, ", ".join(repr(item) for item in sorted(set(expected_subjects))))
        message += _subject_hint(expected_subjects, sub)
        return message, fix_add
    if expected_audiences and aud not in expected_audiences:
        message += " The ServiceAccount's tokens carry aud {0!r}; the trust expects {1}.".format(
            aud, ", ".join(repr(item) for item in sorted(set(expected_audiences))))
        return message, ("Make the :aud condition {0!r}, or set the ServiceAccount's {1} annotation to the audience the "
                         "trust expects.".format(aud, AUDIENCE_ANNOTATION))
    actions = [stmt.get("Action") for _index, stmt in naming]
    return message, "Make a statement for {0} Allow {1} with the conditions sub {2!r} and aud {3!r} (actions found: {4}).".format(
        provider, WEB_IDENTITY_ACTION, sub, aud, json.dumps(actions))


# ---------------------------------------------------------------------------------------------
# The pod identity webhook and pods that predate the annotation


def find_webhook(configurations):
    """The MutatingWebhookConfiguration of the pod identity webhook among ``configurations``, or None."""
    for configuration in configurations or []:
        if (configuration.get("metadata") or {}).get("name") == WEBHOOK_CONFIGURATION:
            return configuration
    for configuration in configurations or []:
        if any((hook.get("name") or "") == WEBHOOK_ENTRY for hook in configuration.get("webhooks") or []):
            return configuration
    return None


def webhook_check(configurations, error=None):
    """``configurations``: the cluster's MutatingWebhookConfigurations; ``error``: why they could not be read."""
    if error:
        return result(
            "webhook", "static", False,
            "Could not tell whether the pod identity webhook is installed: {0}".format(error),
            "Allow get/list on mutatingwebhookconfigurations (admissionregistration.k8s.io) to the Kubernetes identity "
            "in use, or rely on the pod check.",
            severity=WARNING,
        )
    configuration = find_webhook(configurations)
    if configuration is None:
        return result(
            "webhook", "static", False,
            "The cluster has no pod identity webhook (no MutatingWebhookConfiguration {0!r} or webhook {1!r}): nothing "
            "injects {2}, {3} or the {4} volume into pods, so they keep the node's role.".format(
                WEBHOOK_CONFIGURATION, WEBHOOK_ENTRY, ROLE_ARN_ENV, TOKEN_FILE_ENV, TOKEN_VOLUME_NAME),
            "On EKS the webhook is part of the control plane: check the cluster (a restored or self-managed cluster needs "
            "amazon-eks-pod-identity-webhook installed).",
        )
    return result("webhook", "static", True, "The pod identity webhook is installed ({0}).".format(configuration["metadata"]["name"]))


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


def stale_pods(pods, role_arn):
    """Names of the running or pending pods that were not mutated for ``role_arn`` (created before the annotation)."""
    names = []
    for pod in pods or []:
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed") or (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        if mutation_problems(pod, role_arn):
            names.append(pod["metadata"]["name"])
    return sorted(names)


def stale_pods_check(namespace, name, pods, role_arn):
    stale = stale_pods(pods, role_arn)
    if not stale:
        return None
    shown = ", ".join(stale[:10]) + (" and {0} more".format(len(stale) - 10) if len(stale) > 10 else "")
    return result(
        "stale_pods", "static", False,
        "{0} running pod(s) of the ServiceAccount {1} were created before it was annotated with {2} (or with another "
        "role) and were not mutated, so they still use the node's or the old role: {3}.".format(
            len(stale), binding_label(namespace, name), role_arn, shown),
        "Recreate them: kubectl rollout restart on their Deployment/StatefulSet/DaemonSet, or delete the pods.",
        severity=WARNING,
    )


# ---------------------------------------------------------------------------------------------
# Token exchange (TokenRequest -> AssumeRoleWithWebIdentity -> GetCallerIdentity)


# STS error codes that may only mean IAM has not propagated a change yet.
RETRYABLE_STS_CODES = ("AccessDenied", "InvalidIdentityToken")


class RetryPolicy:
    """Backoff for the web-identity exchange: IAM is eventually consistent, so a role or trust change
    made seconds ago can still be refused. Delays double from ``initial`` up to ``maximum``; the last one
    is shortened so that the last attempt is made when ``timeout`` seconds are up, not before."""

    def __init__(self, timeout, initial=1.0, maximum=8.0, factor=2.0):
        self.timeout = max(0, timeout)
        self.initial = initial
        self.maximum = maximum
        self.factor = factor

    def retryable(self, code):
        return code in RETRYABLE_STS_CODES

    def next_delay(self, attempt, elapsed):
        """Seconds to wait before attempt ``attempt + 1``, or None when the time is up."""
        remaining = self.timeout - elapsed
        if remaining <= 0:
            return None
        return min(self.maximum, self.initial * self.factor ** (attempt - 1), remaining)


def parse_assumed_role_arn(arn):
    """``{partition, account, role, session}`` of ``arn:<p>:sts::<acct>:assumed-role/<role>/<session>``, or None."""
    match = _ASSUMED_ROLE_ARN.match(arn or "")
    return match.groupdict() if match else None


def caller_identity_result(identity):
    """GetCallerIdentity's answer in the module's shape (snake_case, nothing secret)."""
    return {"account": identity.get("Account", ""), "arn": identity.get("Arn", ""), "user_id": identity.get("UserId", "")}


def identity_check(check, role_arn, identity, how):
    """Whether the caller identity is the role: ``assumed-role/<role-name>/...`` (assumed-role ARNs carry no path)."""
    arn = identity.get("arn", "")
    role = parse_arn(role_arn, service="iam", resource_type="role")
    role_name = role["resource_id"].rsplit("/", 1)[-1]
    assumed = parse_assumed_role_arn(arn)
    if assumed and assumed["role"] == role_name and assumed["account"] == role["account_id"]:
        return result(check, check, True, "{0} and got {1}.".format(how, arn))
    if assumed and (re.match(r"^i-[0-9a-f]{8,17}$", assumed["session"]) or "NodeInstanceRole" in assumed["role"]):
        cause = "the node's identity, role {0!r} of the EC2 instance: no web identity credentials were used".format(assumed["role"])
    elif assumed:
        cause = "a session of role {0!r} in account {1}".format(assumed["role"], assumed["account"])
    else:
        cause = "another identity"
    return result(
        check, check, False,
        "{0} but got {1} ({2}), not a session of role {3!r} (assumed-role/{3}/...).".format(how, arn, cause, role_name),
        "Check which credentials the process finds first: AWS_* variables or a profile set in the pod override the web "
        "identity; the ServiceAccount must be annotated with {0}.".format(role_arn),
    )


def sts_error_diagnosis(code, message, role_arn, provider_arn, audience, subject, static_failures=(), propagation=None):
    """``(message, remediation)`` for an STS error of AssumeRoleWithWebIdentity; ``static_failures`` are the
    static checks that failed, whose messages already name the cause when there is one.

    ``propagation`` is ``(timeout, checks)`` when the exchange was retried for up to ``timeout`` seconds
    (propagation_timeout), ``checks`` being the checks made before it. When they found the provider or the
    trust STS refuses in place, the refusal is IAM not having propagated it to STS within the timeout."""
    code = code or "Unknown"
    said = "STS answered {0}: {1}".format(code, (message or "").strip() or "(no message)")
    known = " ".join(entry["message"] for entry in static_failures)
    lowered = (message or "").lower()
    timeout, checks = propagation or (0, ())
    passed = set(entry["name"] for entry in checks if entry.get("passed")) if timeout and not static_failures else set()
    if code == "InvalidIdentityToken" and "no openidconnect provider" in lowered and "oidc_provider" in passed:
        return _not_propagated(said, timeout, "the OIDC provider {0} with the client ID {1!r}".format(provider_arn, audience))
    if code == "AccessDenied" and "trust_policy" in passed:
        return _not_propagated(said, timeout, "the role {0} with a trust policy that allows sub {1!r} with aud {2!r} from {3}".format(
            role_arn, subject, audience, provider_arn))
    if code == "InvalidIdentityToken" and "no openidconnect provider" in lowered:
        return ("{0}. IAM has no OIDC provider {1} for the cluster's issuer.{2}".format(said, provider_arn, _also(known)),
                "Create it with eks.irsa.eks_oidc_provider; a provider created seconds ago can take a minute to be accepted.")
    if code == "InvalidIdentityToken" and "audience" in lowered:
        return ("{0}. The token's audience {1!r} is not a client ID of {2}.{3}".format(said, audience, provider_arn, _also(known)),
                "Add {0!r} to the provider's client IDs (eks.irsa.eks_oidc_provider client_ids).".format(audience))
    if code == "InvalidIdentityToken":
        return ("{0}. STS could not verify the token with the issuer's keys (JWKS) or thumbprint.{1}".format(said, _also(known)),
                "Check that the issuer's discovery document and keys are reachable and that the provider's thumbprint is "
                "the issuer's; recreate the provider with eks.irsa.eks_oidc_provider.")
    if code in ("ExpiredTokenException", "ExpiredToken"):
        return ("{0}. The token expired before STS saw it; the clock of the cluster or of this host is off.".format(said),
                "Synchronise the clocks (NTP) of the control host and the cluster.")
    if code == "AccessDenied":
        cause = known or (
            "the role {0} does not exist, or its trust policy does not allow sub {1!r} with aud {2!r} from {3}".format(
                role_arn, subject, audience, provider_arn))
        # The static check's own fix when it found the cause (a missing role is not fixed in a trust policy).
        fix = " ".join(dict.fromkeys(entry["remediation"] for entry in static_failures if entry.get("remediation"))) or (
            "Fix the trust policy of the role (eks.irsa.irsa_role) so it allows the subject; the static check "
            "names the statement that decides.")
        if timeout and not known:
            cause += ", or a change of the role made moments ago has not reached STS within propagation_timeout ({0} s)".format(timeout)
            fix += " If the role or its trust changed moments ago, run again later or raise propagation_timeout."
        return ("{0}. {1}".format(said, cause[0].upper() + cause[1:] if cause else cause), fix)
    if code == "RegionDisabledException":
        return ("{0}. STS is not activated in this region for the account.".format(said),
                "Activate the region's STS endpoint in the IAM console (Account settings), or use another region.")
    if code == "ValidationError":
        return ("{0}.".format(said), "Check the role ARN {0}.".format(role_arn))
    return ("{0}.".format(said), "Retry; if it persists, check the AWS connection (endpoint, region).")


def _not_propagated(said, timeout, found):
    return (
        "{0}. The static check found {1} in IAM, so STS has not caught up with IAM yet (IAM is eventually "
        "consistent): it still refused when propagation_timeout ({2} s) ran out.".format(said, found, timeout),
        "IAM changes can take a minute or more to reach STS: run again later, or raise propagation_timeout (now {0} s) "
        "to wait longer. If STS still refuses long after the last change, compare the findings of the static check "
        "with the role and the OIDC provider in IAM.".format(timeout),
    )


def _also(known):
    return " ({0})".format(known) if known else ""


def token_claims(token):
    """``{iss, sub, aud}`` of a ServiceAccount token (a JWT), read without checking its signature; ``{}`` when it
    is not a JWT. Only these claims are kept: they say which cluster issued the token and for whom, and are
    no secret, unlike the token."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8"))
    except (AttributeError, IndexError, ValueError, TypeError, binascii.Error):
        return {}
    if not isinstance(claims, dict):
        return {}
    return {key: claims[key] for key in ("iss", "sub", "aud") if key in claims}


def token_audience(claims, audience):
    """The audience of the token as STS matches it: ``audience`` when the token carries it, else its first."""
    values = _as_list(claims.get("aud"))
    if audience in values or not values:
        return audience
    return str(values[0])


def issuer_mismatch_check(claims, issuer_url, issuer_source, api_host, role_name=None, trusted=(), token_provider_arn=None,
                          token_provider_exists=None):
    """The token check's failure when the Kubernetes API issued the token under another issuer than the cluster the
    task names (``issuer_source``: ``cluster_name 'blue'`` or ``oidc_provider``): the connection reaches another
    cluster. ``trusted`` are the OIDC provider ARNs the role's trust names; ``token_provider_exists`` whether IAM has
    a provider for the token's issuer (None: unknown)."""
    token_issuer = claims.get("iss")
    token_provider = token_issuer[len("https://"):] if token_issuer.startswith("https://") else token_issuer
    facts = []
    if role_name is not None:
        names = [arn.split(":oidc-provider/", 1)[-1] for arn in trusted]
        facts.append("The trust policy of role {0!r} names {1}; {2}.".format(
            role_name, ", ".join(names) if names else "no OIDC provider",
            "the token's issuer is among them" if token_provider in names else "the token's issuer is not among them, so "
            "STS refuses this token whatever IAM does"))
    if token_provider_exists is not None and token_provider_arn:
        facts.append("IAM {0} OIDC provider for the token's issuer ({1}).".format(
            "has an" if token_provider_exists else "has no", token_provider_arn))
    return result(
        "token", "token", False,
        "The Kubernetes API at {0} issued the ServiceAccount token under the issuer {1}, but {2} has the issuer {3}, "
        "which the role and the OIDC provider were checked against: the Kubernetes connection reaches another cluster "
        "than {2}. {4}".format(api_host, token_issuer, issuer_source, issuer_url, " ".join(facts)).strip(),
        "Point the Kubernetes connection (kubeconfig, context or host) at the cluster of {0}, or set {1} to the cluster "
        "the connection reaches (its issuer is {2}); then run again. No token was exchanged.".format(
            issuer_source, "oidc_provider" if issuer_source == "oidc_provider" else "cluster_name", token_issuer),
    )


def token_check(role_arn, identity=None, error=None, attempts=0, elapsed=0.0):
    """The token check's result: ``identity`` on success, else ``error`` as ``(message, remediation)``."""
    tries = "{0} attempt{1} over {2:.0f} s".format(attempts, "" if attempts == 1 else "s", elapsed)
    if identity is not None:
        return identity_check("token", role_arn, identity, "A ServiceAccount token was exchanged with STS for the role ({0})".format(tries))
    message, remediation = error
    return result("token", "token", False, "{0} ({1}).".format(message.rstrip("."), tries), remediation)


# ---------------------------------------------------------------------------------------------
# The verification pod


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


# How long a verification pod that ended is left to the run that made it (which reads its log and deletes it within a
# poll or two) before another run takes it for a leftover of an interrupted run.
LEFTOVER_POD_GRACE = 5

_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$")


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


_CLI_ERROR = re.compile(r"An error occurred \((?P<code>[\w.]+)\) when calling the (?P<operation>\w+) operation: (?P<message>.*)")


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
    if container == "waiting" and reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"):
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
