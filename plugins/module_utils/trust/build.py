# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


"""IRSA trust policies: build, merge and measure them.

An IRSA statement trusts one IAM OIDC provider (one cluster) for a set of ServiceAccount subjects::

    {"Effect": "Allow",
     "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/<provider>"},
     "Action": "sts:AssumeRoleWithWebIdentity",
     "Condition": {"StringEquals": {"<provider>:aud": "sts.amazonaws.com",
                                    "<provider>:sub": "system:serviceaccount:<ns>:<sa>"}}}

Several subjects of one provider share one statement (a list under ``:sub``). When any subject has
a wildcard (``*`` or ``?``) every subject of that statement goes under ``StringLike`` (a subject
without wildcards matches only itself there too) while ``:aud`` stays under ``StringEquals``:
splitting the subjects of one statement across ``StringEquals`` and ``StringLike`` would AND them
and match nothing.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import copy
import json
import re
from collections import namedtuple

from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.naming import is_dns1123_label
from ansible_collections.eks.irsa.plugins.module_utils.naming import is_dns1123_subdomain
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import SUBJECT_PREFIX
from ansible_collections.eks.irsa.plugins.module_utils.constants import WEB_IDENTITY_ACTION

POLICY_VERSION = "2012-10-17"

_WILDCARD_LABEL = re.compile(r"^[-a-z0-9*?]+$")
_WILDCARD_SUBDOMAIN = re.compile(r"^[-.a-z0-9*?]+$")


class TrustError(InputError):
    """A trust input cannot be what the user meant; the message says what, why and how to fix it."""


# ---------------------------------------------------------------------------------------------
# Subjects


def has_wildcard(value):
    return "*" in value or "?" in value


# How one part of a namespace:name subject is checked, and the message of each failure (formatted with the service
# account as written and the part).
_PartRule = namedtuple("_PartRule", ["limit", "pattern", "is_valid", "messages"])

_NAMESPACE = _PartRule(63, _WILDCARD_LABEL, is_dns1123_label, {
    "empty": "service account {0!r}: the namespace is empty",
    "too_long": "service account {0!r}: the namespace {1!r} is longer than 63 characters, "
                "the limit of a Kubernetes namespace (DNS-1123 label)",
    "bad_pattern": "service account {0!r}: the namespace pattern {1!r} may only contain lower-case letters, digits, '-', "
                   "and the wildcards '*' and '?'",
    "invalid": "service account {0!r}: the namespace {1!r} is not a valid Kubernetes namespace (DNS-1123 label): "
               "use lower-case letters, digits and '-', starting and ending with a letter or digit",
})
_NAME = _PartRule(253, _WILDCARD_SUBDOMAIN, is_dns1123_subdomain, {
    "empty": "service account {0!r}: the ServiceAccount name is empty",
    "too_long": "service account {0!r}: the ServiceAccount name is longer than 253 characters, "
                "the limit of a DNS-1123 subdomain",
    "bad_pattern": "service account {0!r}: the name pattern {1!r} may only contain lower-case letters, digits, '-', '.', "
                   "and the wildcards '*' and '?'",
    "invalid": "service account {0!r}: the ServiceAccount name {1!r} is not a valid Kubernetes name (DNS-1123 subdomain): "
               "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
})


def _check_part(rule, value, original):
    """Refuse ``value`` (a namespace or a name, or a pattern of one) when ``rule`` does not admit it."""
    if not isinstance(value, str) or not value:
        problem = "empty"
    elif len(value) > rule.limit:
        problem = "too_long"
    elif has_wildcard(value):
        problem = None if rule.pattern.match(value) else "bad_pattern"
    else:
        problem = None if rule.is_valid(value) else "invalid"
    if problem:
        raise TrustError(rule.messages[problem].format(original, value))


def parse_service_account(value):
    """``(namespace, name)`` of ``namespace:name``, ``system:serviceaccount:namespace:name`` or ``{namespace, name}``."""
    if isinstance(value, dict):
        unknown = set(value) - {"namespace", "name"}
        if unknown:
            raise TrustError(
                "service account {0!r}: unknown key(s) {1}; give namespace and name".format(value, ", ".join(sorted(unknown)))
            )
        namespace, name = value.get("namespace"), value.get("name")
        original = value
    elif isinstance(value, str):
        original = value
        text = value[len(SUBJECT_PREFIX):] if value.startswith(SUBJECT_PREFIX) else value
        parts = text.split(":")
        if len(parts) != 2:
            raise TrustError(
                "service account {0!r} is not namespace:name: write it as <namespace>:<serviceaccount>, "
                "e.g. default:my-app, or as {{namespace: default, name: my-app}}".format(value)
            )
        namespace, name = parts
    else:
        raise TrustError(
            "service account {0!r} is neither a namespace:name string nor a {{namespace, name}} dict".format(value)
        )
    _check_part(_NAMESPACE, namespace, original)
    _check_part(_NAME, name, original)
    if not namespace.strip("*") and not name.strip("*"):
        raise TrustError(
            "service account {0!r} matches every ServiceAccount in every namespace of the cluster, so any pod of the "
            "cluster could assume the role: name the namespace (e.g. prod:*) or the ServiceAccounts".format(original)
        )
    return namespace, name


def subject(namespace, name):
    """The ``sub`` claim of a ServiceAccount token: ``system:serviceaccount:<namespace>:<name>``."""
    return "{0}{1}:{2}".format(SUBJECT_PREFIX, namespace, name)


def subjects(service_accounts):
    """Sorted, de-duplicated subjects of a list of service accounts (any form ``parse_service_account`` takes)."""
    return sorted({subject(*parse_service_account(item)) for item in service_accounts or []})


# ---------------------------------------------------------------------------------------------
# Building


def provider_from_arn(provider_arn):
    """The provider host path of an IAM OIDC provider ARN (what condition keys are prefixed with)."""
    marker = ":oidc-provider/"
    if not isinstance(provider_arn, str) or marker not in provider_arn:
        raise TrustError("{0!r} is not an IAM OIDC provider ARN".format(provider_arn))
    return provider_arn.split(marker, 1)[1]


def statement(provider_arn, subject_list, audience=DEFAULT_AUDIENCE):
    """The IRSA statement trusting ``subject_list`` of the provider ``provider_arn``."""
    provider = provider_from_arn(provider_arn)
    subject_list = sorted(set(subject_list))
    if not subject_list:
        raise TrustError("no service accounts for provider {0}: a statement needs at least one".format(provider))
    sub_value = subject_list[0] if len(subject_list) == 1 else subject_list
    condition = {"StringEquals": {"{0}:aud".format(provider): audience}}
    if any(has_wildcard(item) for item in subject_list):
        condition["StringLike"] = {"{0}:sub".format(provider): sub_value}
    else:
        condition["StringEquals"]["{0}:sub".format(provider)] = sub_value
    return {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": WEB_IDENTITY_ACTION,
        "Condition": condition,
    }


def minified(policy):
    """The document as IAM measures it: JSON without white space."""
    return json.dumps(policy, separators=(",", ":"), sort_keys=False)


def minified_size(policy):
    return len(minified(policy))


# ---------------------------------------------------------------------------------------------
# Reading existing documents


def as_list(value):
    """A policy element that may be one value or a list of them, as a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def condition_values(stmt, key):
    """``[(operator, value)]`` of the conditions on ``key`` (such as ``<provider>:sub``, compared case-insensitively)
    in the statement ``stmt``."""
    found = []
    condition = stmt.get("Condition")
    for operator, block in (condition.items() if isinstance(condition, dict) else ()):
        for name, value in (block.items() if isinstance(block, dict) else ()):
            if str(name).lower() == key.lower():
                found.extend((operator, str(item)) for item in as_list(value))
    return found


def statement_label(index, sid):
    """How messages name a statement: by its index, and its Sid when it has one."""
    return "statement {0}{1}".format(index, " ({0})".format(sid) if sid else "")


def statements_of(policy):
    """The statements of a document as a list (IAM allows one object instead of a list)."""
    if not policy:
        return []
    return [item for item in as_list(policy.get("Statement")) if isinstance(item, dict)]


def _lower_keys(mapping):
    return {str(key).lower(): value for key, value in (mapping or {}).items()}


def irsa_statement_parts(stmt, provider_arn, audience=DEFAULT_AUDIENCE):
    """The subjects of ``stmt`` when it is an IRSA statement of ``provider_arn`` for ``audience``, else None.

    An IRSA statement allows sts:AssumeRoleWithWebIdentity to this one provider and has no
    conditions other than ``StringEquals``/``StringLike`` on ``<provider>:sub`` and ``<provider>:aud``;
    a statement without an ``:aud`` condition (as in the AWS guide) counts for the default audience only, the one
    the webhook projects (for another audience it is left as it is: rewriting it for that audience would take the
    default audience from its subjects); one for another audience does not. Anything else (a Deny, other principals
    or conditions) is somebody else's.
    """
    if stmt.get("Effect") != "Allow" or "NotPrincipal" in stmt or "NotAction" in stmt:
        return None
    principal = stmt.get("Principal")
    if not isinstance(principal, dict) or set(principal) != {"Federated"}:
        return None
    if as_list(principal["Federated"]) != [provider_arn]:
        return None
    if [str(item).lower() for item in as_list(stmt.get("Action"))] != [WEB_IDENTITY_ACTION.lower()]:
        return None
    provider = provider_from_arn(provider_arn).lower()
    sub_key, aud_key = provider + ":sub", provider + ":aud"
    found_subjects = []
    found_audiences = None
    for operator, block in (stmt.get("Condition") or {}).items():
        if operator not in ("StringEquals", "StringLike") or not isinstance(block, dict):
            return None
        for key, value in _lower_keys(block).items():
            values = [str(item) for item in as_list(value)]
            if key == sub_key:
                if operator == "StringEquals" and any(has_wildcard(item) for item in values):
                    # '*' under StringEquals matches nothing: keep the statement as it is (and warn).
                    return None
                found_subjects.extend(values)
            elif key == aud_key and operator == "StringEquals":
                found_audiences = values
            else:
                return None
    if not found_subjects:
        return None
    if found_audiences != [audience] and (found_audiences is not None or audience != DEFAULT_AUDIENCE):
        return None
    return sorted(set(found_subjects))


def irsa_audiences(statements, arn):
    """The audiences IRSA statements of the provider ``arn`` among ``statements`` may be for, sorted: the default one
    and every ``<provider>:aud`` value (an IRSA statement without an ``:aud`` condition is for any of them)."""
    key = provider_from_arn(arn) + ":aud"
    audiences = {DEFAULT_AUDIENCE}
    audiences.update(value for stmt in statements for _operator, value in condition_values(stmt, key))
    return sorted(audiences)


def federated_providers(policy):
    """Provider ARNs named as Federated principals anywhere in the document, in order."""
    seen = []
    for stmt in statements_of(policy):
        principal = stmt.get("Principal")
        if isinstance(principal, dict):
            for arn in as_list(principal.get("Federated")):
                if isinstance(arn, str) and ":oidc-provider/" in arn and arn not in seen:
                    seen.append(arn)
    return seen


def stringequals_wildcards(policy):
    """``(index, key, value)`` of every ``*``/``?`` under a StringEquals operator: such values match nothing."""
    found = []
    for index, stmt in enumerate(statements_of(policy)):
        condition = stmt.get("Condition")
        if not isinstance(condition, dict):
            continue
        for operator, block in condition.items():
            base = operator.split(":", 1)[-1]
            if base.lower().startswith("stringequals") and isinstance(block, dict):
                for key, value in block.items():
                    for item in as_list(value):
                        if isinstance(item, str) and has_wildcard(item):
                            found.append((index, key, item))
    return found


# ---------------------------------------------------------------------------------------------
# Merging


def merge_trust_policy(current, providers, purge_subjects=True, purge_statements=False):
    """Return the trust policy that grants ``providers`` and keeps what is not ours from ``current``.

    ``providers`` maps provider ARN -> ``{"subjects": [...], "audience": str, "state": "present"|"absent"}``.
    For each provider: its IRSA statements in ``current`` are replaced by one statement at the
    position of the first of them (or appended); with ``purge_subjects=False`` their subjects are
    kept and the given ones added. ``state: absent`` removes the provider's IRSA statements.
    Every other statement is kept as it is, unless ``purge_statements`` (exclusive ownership),
    which removes everything that is not an IRSA statement of a present provider.
    ``current`` is not modified.
    """
    current = copy.deepcopy(current) if current else {}
    result = {"Version": current.get("Version", POLICY_VERSION)}
    for key, value in current.items():
        if key not in ("Version", "Statement"):
            result[key] = value

    merged = []
    placed = set()
    existing_subjects = {arn: [] for arn in providers}
    for stmt in statements_of(current):
        owner = None
        for arn, spec in providers.items():
            existing = irsa_statement_parts(stmt, arn, spec.get("audience") or DEFAULT_AUDIENCE)
            if existing is not None:
                owner = (arn, existing)
                break
        if owner is None:
            if not purge_statements:
                merged.append(stmt)
            continue
        arn, existing = owner
        spec = providers[arn]
        if spec.get("state", "present") == "absent":
            continue
        existing_subjects[arn].extend(existing)
        if arn in placed:
            continue
        placed.add(arn)
        merged.append(("placeholder", arn))

    for arn, spec in providers.items():
        if spec.get("state", "present") != "absent" and arn not in placed:
            merged.append(("placeholder", arn))

    statements = []
    for item in merged:
        if isinstance(item, tuple):
            arn = item[1]
            spec = providers[arn]
            wanted = list(spec.get("subjects") or [])
            if not purge_subjects:
                wanted.extend(existing_subjects[arn])
            statements.append(statement(arn, wanted, spec.get("audience") or DEFAULT_AUDIENCE))
        else:
            statements.append(item)
    result["Statement"] = statements
    return result


def provider_subjects(policy, provider_arn, audience=DEFAULT_AUDIENCE):
    """Subjects the IRSA statements of ``provider_arn`` in ``policy`` grant (sorted)."""
    found = set()
    for stmt in statements_of(policy):
        parts = irsa_statement_parts(stmt, provider_arn, audience)
        if parts:
            found.update(parts)
    return sorted(found)
