# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The static checks of an IRSA binding: the configuration read, link by link, without a token or a pod.

1. the ServiceAccount exists and carries ``eks.amazonaws.com/role-arn`` (spelled exactly);
2. the role exists, in the account whose IAM OIDC provider the trust names;
3. IAM has an OIDC provider for the cluster's issuer, and the ServiceAccount's audience is one of its client IDs;
4. the role's trust policy allows ``sub=system:serviceaccount:<ns>:<sa>`` with that audience from that provider
   (the deciding statement is named, or why none matched);
5. the pod identity webhook is installed, and the ServiceAccount's pods were mutated for the role.

Each function turns facts already read (Kubernetes objects, IAM documents) into check results
(module_utils/verify/results) that say which link is broken, why, and how to fix it.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import json

from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.trust import evaluate as trust_evaluate
from ansible_collections.eks.irsa.plugins.module_utils.constants import AUDIENCE_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ENV
from ansible_collections.eks.irsa.plugins.module_utils.constants import SUBJECT_PREFIX
from ansible_collections.eks.irsa.plugins.module_utils.constants import TOKEN_FILE_ENV
from ansible_collections.eks.irsa.plugins.module_utils.constants import TOKEN_VOLUME_NAME
from ansible_collections.eks.irsa.plugins.module_utils.constants import TRUST_POLICY_SIZE_LIMIT
from ansible_collections.eks.irsa.plugins.module_utils.constants import WEB_IDENTITY_ACTION
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import role_name_from_arn
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import WEBHOOK_CONFIGURATION
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import WEBHOOK_ENTRY
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import find_webhook
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import near_miss_role_keys
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import stale_pods
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import WARNING
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import binding_label
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import result
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import skipped

# Warn when the minified trust policy uses this share of the limit.
TRUST_POLICY_SIZE_WARNING = 0.9


# ---------------------------------------------------------------------------------------------
# The ServiceAccount and its annotations


def service_account_checks(namespace, name, service_account, role_arn=None, namespace_exists=True):
    """Checks of the ServiceAccount and its role annotation.

    Returns ``(checks, role_arn, audience)``: the role to verify (the ``role_arn`` given, else the
    annotation's) and the audience of its tokens; ``role_arn`` is None when there is none to verify.
    """
    if service_account is None:
        return [_missing_service_account(namespace, name, namespace_exists)], role_arn, DEFAULT_AUDIENCE
    annotations = (service_account.get("metadata") or {}).get("annotations") or {}
    audience = annotations.get(AUDIENCE_ANNOTATION) or DEFAULT_AUDIENCE
    annotated = annotations.get(ROLE_ARN_ANNOTATION)
    if annotated is None:
        return [_no_role_annotation(namespace, name, annotations, role_arn)], role_arn, audience
    problem = _role_annotation_problem(namespace, name, annotated, role_arn)
    if problem is not None:
        return [problem], role_arn, audience
    audience_note = "" if AUDIENCE_ANNOTATION not in annotations else ", audience {0!r}".format(audience)
    return [result(
        "role_arn_annotation", "static", True,
        "The ServiceAccount {0} is annotated with {1}{2}.".format(binding_label(namespace, name), annotated, audience_note),
    )], annotated, audience


def _missing_service_account(namespace, name, namespace_exists):
    label = binding_label(namespace, name)
    if not namespace_exists:
        message = "The namespace {0!r} does not exist, so neither does the ServiceAccount {1}.".format(namespace, label)
        fix = "Check the namespace, or create it and the ServiceAccount (eks.irsa.irsa_service_account with create: true)."
    else:
        message = "The ServiceAccount {0} does not exist.".format(label)
        fix = ("Check the name and namespace, or create it annotated with the role: eks.irsa.irsa_service_account "
               "(create: true), or kubectl create serviceaccount {0} -n {1}.".format(name, namespace))
    return result("service_account", "static", False, message, fix)


def _no_role_annotation(namespace, name, annotations, role_arn):
    label = binding_label(namespace, name)
    set_it = ("annotate it: eks.irsa.irsa_service_account (role_arn: <ARN>), or kubectl annotate serviceaccount -n {0} {1} "
              "{2}=<ARN>; then recreate its pods".format(namespace, name, ROLE_ARN_ANNOTATION))
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
    return result("role_arn_annotation", "static", False, message, fix[0].upper() + fix[1:])


def _role_annotation_problem(namespace, name, annotated, role_arn):
    """The failed check when the role annotation is no role ARN, or not ``role_arn``; else None."""
    label = binding_label(namespace, name)
    if annotated != annotated.strip() or not annotated.strip():
        return result(
            "role_arn_annotation", "static", False,
            "The {0} annotation of {1} is {2!r}: white space or an empty value is passed to AWS as it is and no role "
            "has that ARN.".format(ROLE_ARN_ANNOTATION, label, annotated),
            "Set the annotation to the role's ARN without white space.",
        )
    try:
        parse_arn(annotated, service="iam", resource_type="role")
    except NamingError as e:
        return result(
            "role_arn_annotation", "static", False,
            "The {0} annotation of {1} is not an IAM role ARN: {2}.".format(ROLE_ARN_ANNOTATION, label, e),
            "Set it to the role's ARN, arn:aws:iam::<account>:role/<name> (aws iam get-role --role-name <name> "
            "--query Role.Arn).",
        )
    if role_arn and annotated != role_arn:
        return result(
            "role_arn_annotation", "static", False,
            "The ServiceAccount {0} is annotated with {1}, not with the expected role {2}: its pods assume {1}.".format(
                label, annotated, role_arn),
            "Set {0} to {1} (eks.irsa.irsa_service_account) and recreate its pods, or expect {2}.".format(
                ROLE_ARN_ANNOTATION, role_arn, annotated),
        )
    return None


# ---------------------------------------------------------------------------------------------
# The role


def role_checks(role_arn, role, caller_account=None):
    """Checks that the role exists. ``role`` is GetRole's ``Role`` for the role's name in the account of the
    credentials in use, or None; ``caller_account`` the account of those credentials (known when the role was
    not found).

    GetRole reads the caller's account only: a role found there under the same name is not the role of an
    annotation that names another account.
    """
    account = parse_arn(role_arn, service="iam", resource_type="role")["account_id"]
    found_account = parse_arn(role["Arn"])["account_id"] if role is not None and role.get("Arn") else None
    if found_account and found_account != account:
        return [result(
            "role", "static", False,
            "The ServiceAccount names the role {0} in account {1}, but the AWS credentials in use are of account {2}, "
            "and IAM is read in that account only: account {2} has a role of that name, {3}, which is not the one the "
            "annotation names. The role in account {1}, its trust policy and the OIDC provider it needs there were "
            "not checked.".format(role_arn, account, found_account, role["Arn"]),
            "If the account {0} in the annotation is a mistake, set {1} to {2} (eks.irsa.irsa_service_account role_arn); "
            "if the role really is in account {0}, run the verification with credentials of account {0}.".format(
                account, ROLE_ARN_ANNOTATION, role["Arn"]),
        )]
    if role is None:
        return [_missing_role(role_arn, account, caller_account)]
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


def _missing_role(role_arn, account, caller_account):
    role_name = role_name_from_arn(role_arn)
    if caller_account and caller_account != account:
        return result(
            "role", "static", False,
            "The IAM role {0} is in account {1}, but the AWS credentials in use belong to account {2}, where no "
            "role {3!r} exists; the role and the OIDC provider its trust names cannot be read from here.".format(
                role_arn, account, caller_account, role_name),
            "Run the verification with credentials of account {0}, or correct the account in the annotation.".format(account),
        )
    return result(
        "role", "static", False,
        "The IAM role {0!r} does not exist in account {1} (the ServiceAccount names {2}); STS answers "
        "'Not authorized to perform sts:AssumeRoleWithWebIdentity' for a role that does not exist.".format(
            role_name, account, role_arn),
        "Create the role (eks.irsa.irsa_role name: {0}) or correct the {1} annotation (aws iam list-roles "
        "--query 'Roles[].Arn').".format(role_name, ROLE_ARN_ANNOTATION),
    )


def role_in_other_account(role_arn, role, caller_account=None):
    """True when the role the ServiceAccount names is in another account than the credentials in use, so
    that neither it nor the IAM OIDC provider its trust needs (in its account) can be read from here."""
    account = parse_arn(role_arn, service="iam", resource_type="role")["account_id"]
    if role is not None and role.get("Arn"):
        return parse_arn(role["Arn"])["account_id"] != account
    return bool(caller_account) and caller_account != account


def provider_not_readable(role_arn):
    """The provider check, skipped: the role is in an account the credentials in use cannot read."""
    return skipped(
        "oidc_provider", "static",
        "Not checked: the IAM OIDC provider the trust needs is in account {0}, which these credentials "
        "cannot read.".format(parse_arn(role_arn)["account_id"]))


# ---------------------------------------------------------------------------------------------
# The IAM OIDC provider


def issuer_unknown():
    """The provider check's failure when neither cluster_name nor oidc_provider names the cluster's issuer."""
    return result(
        "oidc_provider", "static", False,
        "The cluster's OIDC issuer is unknown, so the OIDC provider and the trust policy cannot be checked.",
        "Give cluster_name or oidc_provider (the issuer_url or provider_arn of eks.irsa.eks_oidc_info).",
    )


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


def _federated(stmt):
    principal = stmt.get("Principal")
    if isinstance(principal, dict):
        return [item for item in trust.as_list(principal.get("Federated")) if isinstance(item, str)]
    return []


def _subject_parts(subject):
    if subject.startswith(SUBJECT_PREFIX):
        parts = subject[len(SUBJECT_PREFIX):].split(":")
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
                role, sub, aud, provider, trust.statement_label(decision.statement_index, decision.sid)),
        ))
        if not trust.condition_values(stmt, provider + ":aud"):
            checks.append(result(
                "trust_policy_audience", "static", False,
                "{0} that allows this ServiceAccount has no condition on {1}:aud, so it accepts a token of any audience "
                "the provider accepts.".format(trust.statement_label(decision.statement_index, decision.sid).capitalize(), provider),
                "Add \"StringEquals\": {{\"{0}:aud\": \"{1}\"}} to it (eks.irsa.irsa_role writes it).".format(provider, aud),
                severity=WARNING,
            ))
    else:
        checks.append(result("trust_policy", "static", False, *_trust_denial(role, decision, statements, policy, provider_arn, claims)))

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


def _trust_denial(role, decision, statements, policy, provider_arn, claims):
    """``(message, remediation)`` of a trust policy that does not let the token with ``claims`` assume the role."""
    sub = claims.get("sub")
    provider = trust.provider_from_arn(provider_arn)
    fix_add = ("Add the subject to the role's trust: eks.irsa.irsa_role with service_accounts including {0!r} for this "
               "cluster's provider (or edit the statement for {1}).".format(sub[len(SUBJECT_PREFIX):] if sub else sub, provider))
    if not statements:
        return ("{0} has no statements; nothing may assume the role.".format(role), fix_add)
    if decision.effect == "Deny":
        return (
            "{0}: {1}.".format(role, decision.reason),
            "Narrow or remove {0} so it does not match sub {1!r}.".format(trust.statement_label(decision.statement_index, decision.sid), sub),
        )
    naming = [(index, stmt) for index, stmt in enumerate(statements) if provider_arn in _federated(stmt)]
    if not naming:
        return _no_statement_for_provider(role, decision, statements, provider_arn)
    # Statements name the provider but none applies: say what they expect and what the token has.
    reasons = []
    for index, stmt in naming:
        entry = decision.statements[index] if index < len(decision.statements) else {}
        reasons.append("{0}: {1}".format(trust.statement_label(index, stmt.get("Sid")), entry.get("reason") or "does not apply"))
    message = "{0} does not let {1!r} (aud {2!r}) from {3} assume the role: {4}.".format(
        role, sub, claims.get("aud"), provider, "; ".join(reasons))
    wildcard = _stringequals_wildcard(policy, statements, provider)
    if wildcard:
        return message + wildcard, "Move the pattern under StringLike (keep :aud under StringEquals); eks.irsa.irsa_role does this for patterns."
    return _expected_versus_token(message, naming, provider, claims, fix_add)


def _no_statement_for_provider(role, decision, statements, provider_arn):
    """No statement names the provider: the role was made for another cluster or account, or is no IRSA role."""
    provider = trust.provider_from_arn(provider_arn)
    others = []
    for stmt in statements:
        for arn in _federated(stmt):
            if ":oidc-provider/" in arn and arn not in others:
                others.append(arn)
    if not others:
        return (
            "{0} has no statement for a web identity: no statement names the OIDC provider {1} as Federated "
            "principal ({2}).".format(role, provider_arn, decision.reason),
            "Add the IRSA statement for {0} (eks.irsa.irsa_role with cluster_name or oidc_provider).".format(provider_arn),
        )
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


def _stringequals_wildcard(policy, statements, provider):
    """What to add to the message when a condition on the provider's keys has a pattern under StringEquals, or ''."""
    wildcards = [item for item in trust.stringequals_wildcards(policy) if str(item[1]).lower().startswith(provider.lower() + ":")]
    if not wildcards:
        return ""
    index, key, value = wildcards[0]
    return (" {0} compares {1} with {2!r} under StringEquals, which takes '*' and '?' literally, so the pattern "
            "matches no ServiceAccount.".format(trust.statement_label(index, statements[index].get("Sid")).capitalize(), key, value))


def _expected_versus_token(message, naming, provider, claims, fix_add):
    """``message`` with the subjects or audiences the statements that name the provider expect, and the fix."""
    sub, aud = claims.get("sub"), claims.get("aud")
    allowing = [stmt for _index, stmt in naming if stmt.get("Effect") == "Allow"]
    expected_subjects = [value for stmt in allowing for _op, value in trust.condition_values(stmt, provider + ":sub")]
    expected_audiences = [value for stmt in allowing for _op, value in trust.condition_values(stmt, provider + ":aud")]
    if expected_subjects and sub not in expected_subjects:
        message += " Expected sub {0!r}; the trust has {1}.".format(sub, ", ".join(repr(item) for item in sorted(set(expected_subjects))))
        return message + _subject_hint(expected_subjects, sub), fix_add
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
