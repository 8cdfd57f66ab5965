# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""IRSA trust policies: build, merge, measure and evaluate them.

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

The evaluator answers what STS answers for AssumeRoleWithWebIdentity: may a token with these
claims, presented through this provider, assume a role with this trust policy; and it says which
statement decided and why.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import copy
import json
import re

from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import SUBJECT_PREFIX
from ansible_collections.eks.irsa.plugins.module_utils.constants import WEB_IDENTITY_ACTION

POLICY_VERSION = "2012-10-17"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_WILDCARD_LABEL = re.compile(r"^[-a-z0-9*?]+$")
_WILDCARD_SUBDOMAIN = re.compile(r"^[-.a-z0-9*?]+$")


class TrustError(ValueError):
    """A trust input cannot be what the user meant; the message says what, why and how to fix it."""


# ---------------------------------------------------------------------------------------------
# Subjects


def has_wildcard(value):
    return "*" in value or "?" in value


def _check_namespace(namespace, original):
    if not isinstance(namespace, str) or not namespace:
        raise TrustError("service account {0!r}: the namespace is empty".format(original))
    if len(namespace) > 63:
        raise TrustError(
            "service account {0!r}: the namespace {1!r} is longer than 63 characters, "
            "the limit of a Kubernetes namespace (DNS-1123 label)".format(original, namespace)
        )
    if has_wildcard(namespace):
        if not _WILDCARD_LABEL.match(namespace):
            raise TrustError(
                "service account {0!r}: the namespace pattern {1!r} may only contain lower-case letters, digits, '-', "
                "and the wildcards '*' and '?'".format(original, namespace)
            )
    elif not _DNS1123_LABEL.match(namespace):
        raise TrustError(
            "service account {0!r}: the namespace {1!r} is not a valid Kubernetes namespace (DNS-1123 label): "
            "use lower-case letters, digits and '-', starting and ending with a letter or digit".format(original, namespace)
        )


def _check_name(name, original):
    if not isinstance(name, str) or not name:
        raise TrustError("service account {0!r}: the ServiceAccount name is empty".format(original))
    if len(name) > 253:
        raise TrustError(
            "service account {0!r}: the ServiceAccount name is longer than 253 characters, "
            "the limit of a DNS-1123 subdomain".format(original)
        )
    if has_wildcard(name):
        if not _WILDCARD_SUBDOMAIN.match(name):
            raise TrustError(
                "service account {0!r}: the name pattern {1!r} may only contain lower-case letters, digits, '-', '.', "
                "and the wildcards '*' and '?'".format(original, name)
            )
    elif not _DNS1123_SUBDOMAIN.match(name):
        raise TrustError(
            "service account {0!r}: the ServiceAccount name {1!r} is not a valid Kubernetes name (DNS-1123 subdomain): "
            "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit".format(original, name)
        )


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
    _check_namespace(namespace, original)
    _check_name(name, original)
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


def trust_policy(providers):
    """A trust policy with one IRSA statement per provider.

    ``providers`` maps provider ARN -> ``{"subjects": [...], "audience": str}``.
    """
    return merge_trust_policy(None, providers)


def minified(policy):
    """The document as IAM measures it: JSON without white space."""
    return json.dumps(policy, separators=(",", ":"), sort_keys=False)


def minified_size(policy):
    return len(minified(policy))


# ---------------------------------------------------------------------------------------------
# Reading existing documents


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def statements_of(policy):
    """The statements of a document as a list (IAM allows one object instead of a list)."""
    if not policy:
        return []
    return [item for item in _as_list(policy.get("Statement")) if isinstance(item, dict)]


def _lower_keys(mapping):
    return {str(key).lower(): value for key, value in (mapping or {}).items()}


def irsa_statement_parts(stmt, provider_arn, audience=DEFAULT_AUDIENCE):
    """The subjects of ``stmt`` when it is an IRSA statement of ``provider_arn`` for ``audience``, else None.

    An IRSA statement allows sts:AssumeRoleWithWebIdentity to this one provider and has no
    conditions other than ``StringEquals``/``StringLike`` on ``<provider>:sub`` and ``<provider>:aud``;
    a statement without an ``:aud`` condition (as in the AWS guide) counts, one for another
    audience does not. Anything else (a Deny, other principals or conditions) is somebody else's.
    """
    if stmt.get("Effect") != "Allow" or "NotPrincipal" in stmt or "NotAction" in stmt:
        return None
    principal = stmt.get("Principal")
    if not isinstance(principal, dict) or set(principal) != {"Federated"}:
        return None
    if _as_list(principal["Federated"]) != [provider_arn]:
        return None
    if [str(item).lower() for item in _as_list(stmt.get("Action"))] != [WEB_IDENTITY_ACTION.lower()]:
        return None
    provider = provider_from_arn(provider_arn).lower()
    sub_key, aud_key = provider + ":sub", provider + ":aud"
    found_subjects = []
    found_audiences = None
    for operator, block in (stmt.get("Condition") or {}).items():
        if operator not in ("StringEquals", "StringLike") or not isinstance(block, dict):
            return None
        for key, value in _lower_keys(block).items():
            values = [str(item) for item in _as_list(value)]
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
    if found_audiences is not None and found_audiences != [audience]:
        return None
    return sorted(set(found_subjects))


def federated_providers(policy):
    """Provider ARNs named as Federated principals anywhere in the document, in order."""
    seen = []
    for stmt in statements_of(policy):
        principal = stmt.get("Principal")
        if isinstance(principal, dict):
            for arn in _as_list(principal.get("Federated")):
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
                    for item in _as_list(value):
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


# ---------------------------------------------------------------------------------------------
# Evaluation


_STRING_OPERATORS = {
    # name: (negated, wildcard, ignore_case)
    "stringequals": (False, False, False),
    "stringnotequals": (True, False, False),
    "stringequalsignorecase": (False, False, True),
    "stringnotequalsignorecase": (True, False, True),
    "stringlike": (False, True, False),
    "stringnotlike": (True, True, False),
}


class Decision:
    """What IAM decides for one token: ``allowed``, the deciding statement and why.

    ``statement_index``/``sid`` name the statement that decided (the applying Deny, or the
    applying Allow); when nothing applies (implicit deny) they name the statement that came
    closest, the first one trusting the token's provider, if any. ``reason`` says what was
    expected and what the token has. ``statements`` holds one entry per statement.
    """

    def __init__(self, allowed, effect, statement_index, sid, reason, statements):
        self.allowed = allowed
        self.effect = effect
        self.statement_index = statement_index
        self.sid = sid
        self.reason = reason
        self.statements = statements

    def to_dict(self):
        return {
            "allowed": self.allowed,
            "effect": self.effect,
            "statement_index": self.statement_index,
            "sid": self.sid,
            "reason": self.reason,
            "statements": self.statements,
        }

    def __repr__(self):
        return "Decision(allowed={0!r}, statement_index={1!r}, reason={2!r})".format(
            self.allowed, self.statement_index, self.reason
        )


def _glob(pattern, value, ignore_case=False):
    """IAM wildcard match: ``*`` any run of characters, ``?`` exactly one; everything else literal."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


def _policy_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(values):
    if len(values) == 1:
        return repr(values[0])
    return "one of [{0}]".format(", ".join(repr(item) for item in values))


def _evaluate_operator(operator, block, context):
    """``(holds, reason)`` for one operator block; ``holds`` None means the operator is unknown."""
    qualifier = None
    name = operator
    if ":" in operator:
        qualifier, name = operator.split(":", 1)
        qualifier = qualifier.lower()
        if qualifier not in ("forallvalues", "foranyvalue"):
            return None, "unknown condition operator {0!r}".format(operator)
    lowered = name.lower()
    if_exists = lowered.endswith("ifexists") and lowered != "ifexists"
    if if_exists:
        lowered = lowered[: -len("ifexists")]
    if not isinstance(block, dict):
        return None, "condition operator {0!r} has no key/value block".format(operator)

    if lowered == "null" and qualifier is None and not if_exists:
        for key, value in block.items():
            want_missing = _policy_string(_as_list(value)[0]).lower() == "true" if _as_list(value) else False
            present = key.lower() in context
            if want_missing == present:
                return False, "Null on {0!r} expects the key to be {1}, it is {2}".format(
                    key, "absent" if want_missing else "present", "present" if present else "absent"
                )
        return True, ""

    if lowered not in _STRING_OPERATORS:
        return None, "unknown condition operator {0!r}: the statement does not apply".format(operator)
    negated, wildcard, ignore_case = _STRING_OPERATORS[lowered]

    def matches(value, policy_values):
        if wildcard:
            return any(_glob(item, value, ignore_case) for item in policy_values)
        if ignore_case:
            return any(item.lower() == value.lower() for item in policy_values)
        return any(item == value for item in policy_values)

    for key, value in block.items():
        policy_values = [_policy_string(item) for item in _as_list(value)]
        request_values = context.get(str(key).lower())
        if request_values is None:
            if if_exists:
                continue
            if qualifier == "forallvalues":
                continue
            if qualifier == "foranyvalue" or not negated:
                return False, "{0} on {1!r} expects {2}, the token has no such claim".format(
                    operator, key, _describe(policy_values)
                )
            continue
        outcomes = [matches(item, policy_values) != negated for item in request_values]
        if qualifier == "foranyvalue":
            holds = any(outcomes)
        else:
            holds = all(outcomes)
        if not holds:
            found = request_values[0] if len(request_values) == 1 else request_values
            if negated:
                return False, "{0} on {1!r} expects a value other than {2}, the token has {3!r}".format(
                    operator, key, _describe(policy_values), found
                )
            return False, "{0} on {1!r} expects {2}, the token has {3!r}".format(
                operator, key, _describe(policy_values), found
            )
    return True, ""


def _principal_matches(principal, provider_arn):
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for kind, value in principal.items():
        values = _as_list(value)
        if kind in ("AWS", "Federated") and "*" in values:
            return True
        if kind == "Federated" and provider_arn in values:
            return True
    return False


def _action_matches(actions, action=WEB_IDENTITY_ACTION):
    return any(isinstance(item, str) and _glob(item, action, ignore_case=True) for item in actions)


def _statement_result(index, stmt, provider_arn, context):
    sid = stmt.get("Sid")
    effect = stmt.get("Effect")
    entry = {"index": index, "sid": sid, "effect": effect, "applies": False, "names_provider": False, "reason": ""}
    if effect not in ("Allow", "Deny"):
        entry["reason"] = "Effect {0!r} is neither Allow nor Deny".format(effect)
        return entry
    if "Principal" in stmt:
        matched = _principal_matches(stmt["Principal"], provider_arn)
    elif "NotPrincipal" in stmt:
        matched = not _principal_matches(stmt["NotPrincipal"], provider_arn)
    else:
        matched = False
    if not matched:
        found = stmt.get("Principal", stmt.get("NotPrincipal"))
        entry["reason"] = "Principal {0} does not name the provider {1}".format(json.dumps(found, sort_keys=True), provider_arn)
        return entry
    entry["names_provider"] = True
    if "Action" in stmt:
        action_ok = _action_matches(_as_list(stmt["Action"]))
        found_actions = _as_list(stmt["Action"])
    elif "NotAction" in stmt:
        action_ok = not _action_matches(_as_list(stmt["NotAction"]))
        found_actions = ["not " + str(item) for item in _as_list(stmt["NotAction"])]
    else:
        action_ok, found_actions = False, []
    if not action_ok:
        entry["reason"] = "Action {0} does not cover {1}".format(
            ", ".join(str(item) for item in found_actions) or "(none)", WEB_IDENTITY_ACTION
        )
        return entry
    condition = stmt.get("Condition") or {}
    if not isinstance(condition, dict):
        entry["reason"] = "Condition is not an object"
        return entry
    for operator, block in condition.items():
        holds, why = _evaluate_operator(operator, block, context)
        if not holds:
            entry["reason"] = why
            return entry
    entry["applies"] = True
    return entry


def _label(index, sid):
    return "statement {0}{1}".format(index, " ({0})".format(sid) if sid else "")


def evaluate(policy, claims, provider_arn):
    """What IAM decides when a token with ``claims`` (iss, sub, aud) is presented through ``provider_arn``.

    An applying Deny wins; otherwise an applying Allow allows; otherwise the implicit deny stands.
    The token's ``sub`` and ``aud`` reach the conditions as ``<provider>:sub``/``<provider>:aud``
    (condition keys compare case-insensitively, values case-sensitively).
    """
    provider = provider_from_arn(provider_arn)
    issuer = claims.get("iss")
    if issuer is not None and issuer != "https://" + provider:
        return Decision(
            False, None, None, None,
            "the token's issuer {0!r} is not the provider {1} (expected {2!r})".format(issuer, provider_arn, "https://" + provider),
            [],
        )
    context = {}
    for claim in ("sub", "aud"):
        value = claims.get(claim)
        if value is not None:
            context["{0}:{1}".format(provider, claim).lower()] = [str(item) for item in _as_list(value)]

    results = [_statement_result(index, stmt, provider_arn, context) for index, stmt in enumerate(statements_of(policy))]
    for entry in results:
        if entry["applies"] and entry["effect"] == "Deny":
            reason = "{0} denies explicitly: it applies to this token and a Deny overrides every Allow".format(
                _label(entry["index"], entry["sid"])
            )
            return Decision(False, "Deny", entry["index"], entry["sid"], reason, results)
    for entry in results:
        if entry["applies"] and entry["effect"] == "Allow":
            reason = "{0} allows sub {1!r} with aud {2!r} from {3}".format(
                _label(entry["index"], entry["sid"]), claims.get("sub"), claims.get("aud"), provider
            )
            return Decision(True, "Allow", entry["index"], entry["sid"], reason, results)
    candidates = [entry for entry in results if entry["names_provider"] and entry["effect"] == "Allow"]
    if not results:
        return Decision(False, None, None, None, "the trust policy has no statements", results)
    if not candidates:
        reason = "no statement allows the provider {0}: {1}".format(
            provider_arn, "; ".join("{0}: {1}".format(_label(e["index"], e["sid"]), e["reason"]) for e in results)
        )
        return Decision(False, None, None, None, reason, results)
    closest = candidates[0]
    reason = "no statement allows this token; {0}".format(
        "; ".join("{0}: {1}".format(_label(e["index"], e["sid"]), e["reason"]) for e in candidates)
    )
    return Decision(False, None, closest["index"], closest["sid"], reason, results)
