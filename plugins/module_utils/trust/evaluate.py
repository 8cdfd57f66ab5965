# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


"""What STS answers for AssumeRoleWithWebIdentity: may a token with these claims, presented through this
provider, assume a role with this trust policy; and which statement decided and why. And what it answers a
service principal (``evaluate_service``): may ``pods.eks.amazonaws.com`` call ``sts:AssumeRole`` or
``sts:TagSession`` on a role with this trust policy, with the request's ``aws:SourceAccount``, ``aws:SourceArn``
and session tags.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import json
import re
from collections import namedtuple
from dataclasses import dataclass

from ansible_collections.eks.irsa.plugins.module_utils.constants import WEB_IDENTITY_ACTION
from ansible_collections.eks.irsa.plugins.module_utils.trust.build import as_list
from ansible_collections.eks.irsa.plugins.module_utils.trust.build import provider_from_arn
from ansible_collections.eks.irsa.plugins.module_utils.trust.build import statement_label
from ansible_collections.eks.irsa.plugins.module_utils.trust.build import statements_of


_STRING_OPERATORS = {
    # name: (negated, wildcard, ignore_case)
    "stringequals": (False, False, False),
    "stringnotequals": (True, False, False),
    "stringequalsignorecase": (False, False, True),
    "stringnotequalsignorecase": (True, False, True),
    "stringlike": (False, True, False),
    "stringnotlike": (True, True, False),
}

# ARN operators, for the request keys of a service principal (aws:SourceArn): ArnEquals and ArnLike both take
# wildcards, as IAM documents.
_ARN_OPERATORS = dict(_STRING_OPERATORS, **{
    "arnequals": (False, True, False),
    "arnlike": (False, True, False),
    "arnnotequals": (True, True, False),
    "arnnotlike": (True, True, False),
})


@dataclass(eq=False)
class Decision:
    """What IAM decides for one token: ``allowed``, the deciding statement and why.

    ``statement_index``/``sid`` name the statement that decided (the applying Deny, or the
    applying Allow); when nothing applies (implicit deny) they name the statement that came
    closest, the first one trusting the token's provider, if any. ``reason`` says what was
    expected and what the token has. ``statements`` holds one entry per statement.
    """

    allowed: bool
    effect: str | None
    statement_index: int | None
    sid: str | None
    reason: str
    statements: list

    def __repr__(self):
        return "Decision(allowed={0!r}, statement_index={1!r}, reason={2!r})".format(
            self.allowed, self.statement_index, self.reason
        )


# A condition operator, e.g. ``ForAnyValue:StringLikeIfExists``: as written, its qualifier (``forallvalues``,
# ``foranyvalue`` or None) and base operator in lower case, and whether it ends in ``IfExists``.
_Operator = namedtuple("_Operator", ["text", "qualifier", "base", "if_exists"])


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


def _parse_operator(text):
    qualifier = None
    name = text
    if ":" in text:
        qualifier, name = text.split(":", 1)
        qualifier = qualifier.lower()
    base = name.lower()
    if_exists = base.endswith("ifexists") and base != "ifexists"
    if if_exists:
        base = base[: -len("ifexists")]
    return _Operator(text, qualifier, base, if_exists)


def _evaluate_operator(operator, block, context, operators=None, holder="the token"):
    """``(holds, reason)`` for one operator block; ``holds`` None means the operator is unknown. ``holder`` names what
    carries the keys in a reason (the token, the request)."""
    operators = _STRING_OPERATORS if operators is None else operators
    operator = _parse_operator(operator)
    if operator.qualifier not in (None, "forallvalues", "foranyvalue"):
        return None, "unknown condition operator {0!r}".format(operator.text)
    if not isinstance(block, dict):
        return None, "condition operator {0!r} has no key/value block".format(operator.text)
    if operator.base == "null" and operator.qualifier is None and not operator.if_exists:
        return _null_holds(block, context)
    if operator.base not in operators:
        return None, "unknown condition operator {0!r}: the statement does not apply".format(operator.text)
    for key, value in block.items():
        holds, why = _string_key_holds(operator, key, value, context, operators, holder)
        if not holds:
            return False, why
    return True, ""


def _null_holds(block, context):
    """``(holds, reason)`` of a ``Null`` block: each key is to be absent (``true``) or present (``false``)."""
    for key, value in block.items():
        want_missing = _policy_string(as_list(value)[0]).lower() == "true" if as_list(value) else False
        present = key.lower() in context
        if want_missing == present:
            return False, "Null on {0!r} expects the key to be {1}, it is {2}".format(
                key, "absent" if want_missing else "present", "present" if present else "absent"
            )
    return True, ""


def _matches(value, policy_values, wildcard, ignore_case):
    if wildcard:
        return any(_glob(item, value, ignore_case) for item in policy_values)
    if ignore_case:
        return any(item.lower() == value.lower() for item in policy_values)
    return any(item == value for item in policy_values)


def _string_key_holds(operator, key, value, context, operators=None, holder="the token"):
    """``(holds, reason)`` of one key of a string operator's block, against the token's claims in ``context``."""
    negated, wildcard, ignore_case = (_STRING_OPERATORS if operators is None else operators)[operator.base]
    policy_values = [_policy_string(item) for item in as_list(value)]
    request_values = context.get(str(key).lower())
    if request_values is None:
        if operator.if_exists or operator.qualifier == "forallvalues" or (negated and operator.qualifier != "foranyvalue"):
            return True, ""
        return False, "{0} on {1!r} expects {2}, {3} has no such {4}".format(
            operator.text, key, _describe(policy_values), holder, "claim" if holder == "the token" else "key"
        )
    outcomes = [_matches(item, policy_values, wildcard, ignore_case) != negated for item in request_values]
    holds = any(outcomes) if operator.qualifier == "foranyvalue" else all(outcomes)
    if holds:
        return True, ""
    found = request_values[0] if len(request_values) == 1 else request_values
    expected = ("a value other than " if negated else "") + _describe(policy_values)
    return False, "{0} on {1!r} expects {2}, {3} has {4!r}".format(operator.text, key, expected, holder, found)


def _principal_matches(principal, name, kind="Federated"):
    """Whether a Principal names ``name`` as a ``kind`` principal (Federated, Service), or everyone."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for principal_kind, value in principal.items():
        values = as_list(value)
        if principal_kind in ("AWS", kind) and "*" in values:
            return True
        if principal_kind == kind and name in values:
            return True
    return False


def _action_matches(actions, action=WEB_IDENTITY_ACTION):
    return any(isinstance(item, str) and _glob(item, action, ignore_case=True) for item in actions)


def _statement_result(index, stmt, provider_arn, context):
    return _judge_statement(index, stmt, lambda principal: _principal_matches(principal, provider_arn), "provider", provider_arn,
                            WEB_IDENTITY_ACTION, context)


def _judge_statement(index, stmt, matches, kind, principal, action, context, operators=None, holder="the token"):
    """Whether statement ``index`` applies to a request of ``principal`` (a ``kind``: provider, service, which
    ``matches(Principal)`` recognises) to ``action``, and why not: an entry of ``Decision.statements``, whose
    ``names_<kind>`` says whether it names the principal."""
    names = "names_" + ("principal" if kind == "service" else kind)
    sid = stmt.get("Sid")
    effect = stmt.get("Effect")
    entry = {"index": index, "sid": sid, "effect": effect, "applies": False, names: False, "reason": ""}
    if effect not in ("Allow", "Deny"):
        entry["reason"] = "Effect {0!r} is neither Allow nor Deny".format(effect)
        return entry
    if "Principal" in stmt:
        matched = matches(stmt["Principal"])
    elif "NotPrincipal" in stmt:
        matched = not matches(stmt["NotPrincipal"])
    else:
        matched = False
    if not matched:
        found = stmt.get("Principal", stmt.get("NotPrincipal"))
        entry["reason"] = "Principal {0} does not name the {1} {2}".format(json.dumps(found, sort_keys=True), kind, principal)
        return entry
    entry[names] = True
    if "Action" in stmt:
        action_ok = _action_matches(as_list(stmt["Action"]), action)
        found_actions = as_list(stmt["Action"])
    elif "NotAction" in stmt:
        action_ok = not _action_matches(as_list(stmt["NotAction"]), action)
        found_actions = ["not " + str(item) for item in as_list(stmt["NotAction"])]
    else:
        action_ok, found_actions = False, []
    if not action_ok:
        entry["reason"] = "Action {0} does not cover {1}".format(", ".join(str(item) for item in found_actions) or "(none)", action)
        return entry
    condition = stmt.get("Condition") or {}
    if not isinstance(condition, dict):
        entry["reason"] = "Condition is not an object"
        return entry
    for operator, block in condition.items():
        holds, why = _evaluate_operator(operator, block, context, operators, holder)
        if not holds:
            entry["reason"] = why
            return entry
    entry["applies"] = True
    return entry


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
            context["{0}:{1}".format(provider, claim).lower()] = [str(item) for item in as_list(value)]

    results = [_statement_result(index, stmt, provider_arn, context) for index, stmt in enumerate(statements_of(policy))]
    for entry in results:
        if entry["applies"] and entry["effect"] == "Deny":
            reason = "{0} denies explicitly: it applies to this token and a Deny overrides every Allow".format(
                statement_label(entry["index"], entry["sid"])
            )
            return Decision(False, "Deny", entry["index"], entry["sid"], reason, results)
    for entry in results:
        if entry["applies"] and entry["effect"] == "Allow":
            reason = "{0} allows sub {1!r} with aud {2!r} from {3}".format(
                statement_label(entry["index"], entry["sid"]), claims.get("sub"), claims.get("aud"), provider
            )
            return Decision(True, "Allow", entry["index"], entry["sid"], reason, results)
    candidates = [entry for entry in results if entry["names_provider"] and entry["effect"] == "Allow"]
    if not results:
        return Decision(False, None, None, None, "the trust policy has no statements", results)
    if not candidates:
        reason = "no statement allows the provider {0}: {1}".format(
            provider_arn, "; ".join("{0}: {1}".format(statement_label(e["index"], e["sid"]), e["reason"]) for e in results)
        )
        return Decision(False, None, None, None, reason, results)
    closest = candidates[0]
    reason = "no statement allows this token; {0}".format(
        "; ".join("{0}: {1}".format(statement_label(e["index"], e["sid"]), e["reason"]) for e in candidates)
    )
    return Decision(False, None, closest["index"], closest["sid"], reason, results)


# ---------------------------------------------------------------------------------------------
# A service principal (EKS Pod Identity: pods.eks.amazonaws.com)


def _service_statement_result(index, stmt, service, action, context):
    """One statement for a request of ``service`` to ``action``: applies or not, and why not."""
    return _judge_statement(index, stmt, lambda principal: _principal_matches(principal, service, "Service"), "service", service, action,
                            context, _ARN_OPERATORS, "the request")


def evaluate_service(policy, service, action, request):
    """What IAM decides when the service principal ``service`` calls ``action`` (``sts:AssumeRole``,
    ``sts:TagSession``) on a role with the trust ``policy``; ``request`` maps the request's condition keys
    (``aws:SourceAccount``, ``aws:SourceArn``, ``aws:RequestTag/<key>``) to their values.

    As ``evaluate``: an applying Deny wins, else an applying Allow allows, else the implicit deny stands; a
    Decision names the deciding statement, or the closest one (the first Allow naming the service) and why.
    """
    context = {str(key).lower(): [str(item) for item in as_list(value)] for key, value in request.items() if value is not None}
    results = [_service_statement_result(index, stmt, service, action, context) for index, stmt in enumerate(statements_of(policy))]
    for entry in results:
        if entry["applies"] and entry["effect"] == "Deny":
            reason = "{0} denies {1} to {2} explicitly".format(statement_label(entry["index"], entry["sid"]), action, service)
            return Decision(False, "Deny", entry["index"], entry["sid"], reason, results)
    for entry in results:
        if entry["applies"] and entry["effect"] == "Allow":
            reason = "{0} allows {1} to {2}".format(statement_label(entry["index"], entry["sid"]), action, service)
            return Decision(True, "Allow", entry["index"], entry["sid"], reason, results)
    if not results:
        return Decision(False, None, None, None, "the trust policy has no statements", results)
    candidates = [entry for entry in results if entry["names_principal"] and entry["effect"] == "Allow"]
    described = "; ".join("{0}: {1}".format(statement_label(e["index"], e["sid"]), e["reason"]) for e in (candidates or results))
    if not candidates:
        return Decision(False, None, None, None, "no statement allows the service {0}: {1}".format(service, described), results)
    closest = candidates[0]
    return Decision(False, None, closest["index"], closest["sid"], "no statement allows {0} to {1}; {2}".format(action, service, described), results)
