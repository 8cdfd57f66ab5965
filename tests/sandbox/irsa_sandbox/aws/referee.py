"""The sandbox's own evaluation of a role trust policy for ``sts:AssumeRoleWithWebIdentity``.

This is the STS gate's referee: it decides, as IAM does, whether a web-identity token presented
through an IAM OIDC provider may assume a role. It is written independently of the collection's
trust evaluator on purpose: the two implementations are checked against one shared case table
(``tests/fixtures/trust_cases.yml``), so a misreading of IAM in one of them shows up as a
disagreement instead of passing silently.

IAM rules modelled here (AWS IAM User Guide, "Policy evaluation logic" and "Condition operators"):

- A statement *applies* when its principal, action and every condition match the request.
- An applying ``Deny`` wins over any ``Allow``; no applying statement is an implicit deny.
- ``Principal``: ``"*"`` (or ``{"AWS": "*"}``, which IAM documents as the same) or ``{"Federated": str | [str]}`` naming the provider ARN
  (``arn:<partition>:iam::<account>:oidc-provider/<issuer without https://>``). ``NotPrincipal``
  applies to every principal it does not list.
- ``Action`` / ``NotAction``: string or list, case-insensitive, ``*`` and ``?`` wildcards.
- ``Condition``: operators AND together, keys under one operator AND together, the values of one
  key OR together (for a negated operator: none of them may match). Keys are case-insensitive,
  values case-sensitive (except the ``IgnoreCase`` operators).
- A key absent from the request context: positive operators are false, negated operators true,
  ``...IfExists`` true; ``ForAllValues:`` true (empty set), ``ForAnyValue:`` false.
- An operator this referee does not know makes its statement not apply at all, so it neither
  grants nor denies (IAM would not have stored such a document).

The request context of AssumeRoleWithWebIdentity from an OIDC provider carries
``<provider>:sub`` and ``<provider>:aud`` (the token's ``sub`` and audience).

``evaluate_request`` is the same evaluation for any principal and request context: EKS Pod Identity's
``sts:AssumeRole`` and ``sts:TagSession`` by the service principal ``pods.eks.amazonaws.com`` (context
``aws:SourceAccount``, ``aws:SourceArn``, ``aws:RequestTag/<tag>``), and a role assuming a target role
(principal ``{"AWS": [role ARN, account root, account ID]}``, context ``sts:ExternalId``). ``ArnEquals``,
``ArnLike`` and their negations compare as ``StringLike`` does (IAM's ARN operators take wildcards too).
"""

import json
import re
from dataclasses import dataclass

ACTION = "sts:AssumeRoleWithWebIdentity"

# Operator name (lower case, without set prefix and IfExists) -> (compare function, negated).
_STRING_OPERATORS = {
    "stringequals": ("equals", False),
    "stringnotequals": ("equals", True),
    "stringequalsignorecase": ("equals_ic", False),
    "stringnotequalsignorecase": ("equals_ic", True),
    "stringlike": ("like", False),
    "stringnotlike": ("like", True),
    "arnequals": ("like", False),
    "arnlike": ("like", False),
    "arnnotequals": ("like", True),
    "arnnotlike": ("like", True),
}


@dataclass
class Decision:
    allowed: bool
    effect: str  # "Allow", "Deny" (explicit) or "ImplicitDeny"
    statement: int | None  # index of the deciding statement, None for an implicit deny
    sid: str | None
    reason: str

    def __str__(self):
        if self.statement is None:
            return f"{self.effect}: {self.reason}"
        where = f"statement {self.statement}" + (f" ({self.sid})" if self.sid else "")
        return f"{self.effect} by {where}: {self.reason}"


class _UnknownOperator(Exception):
    pass


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _as_text(value):
    # IAM compares condition values as strings; JSON booleans are written true/false.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _glob_regex(pattern, ignore_case=False):
    """``*`` is any run of characters (also empty), ``?`` exactly one; everything else literal."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _glob_match(pattern, text, ignore_case=False):
    return _glob_regex(pattern, ignore_case).fullmatch(text) is not None


def _value_matches(kind, pattern, value):
    if kind == "equals":
        return pattern == value
    if kind == "equals_ic":
        return pattern.lower() == value.lower()
    return _glob_match(pattern, value)  # like


def provider_of(provider_arn):
    """``arn:aws:iam::123:oidc-provider/oidc.eks.../id/X`` -> ``oidc.eks.../id/X``."""
    _unused, _unused, rest = provider_arn.partition(":oidc-provider/")
    return rest


def _condition_holds(operator, block, context):
    """One operator block of a Condition; raises _UnknownOperator for operators IAM lacks."""
    name = operator
    set_op = None
    if ":" in name:
        prefix, _unused, name = name.partition(":")
        set_op = prefix.lower()
        if set_op not in ("forallvalues", "foranyvalue"):
            raise _UnknownOperator(operator)
    if_exists = name.lower().endswith("ifexists")
    base = name[: -len("IfExists")] if if_exists else name
    spec = _STRING_OPERATORS.get(base.lower())
    if spec is None or not isinstance(block, dict):
        raise _UnknownOperator(operator)
    kind, negated = spec

    for key, wanted in block.items():
        patterns = [_as_text(v) for v in _as_list(wanted)]
        present = key.lower() in context
        values = _as_list(context.get(key.lower()))

        def one(value):
            hit = any(_value_matches(kind, p, value) for p in patterns)
            return not hit if negated else hit

        if set_op == "forallvalues":
            holds = all(one(v) for v in values)  # true for a missing key / empty set
        elif set_op == "foranyvalue":
            holds = any(one(v) for v in values)  # false for a missing key
        elif not present:
            holds = if_exists or negated
        else:
            # A single-valued operator over a (rarely) multi-valued key: positive operators hold
            # when some value matches, negated ones when no value matches.
            hits = [any(_value_matches(kind, p, v) for p in patterns) for v in values]
            holds = (not any(hits)) if negated else any(hits)
        if not holds:
            return False, f"{operator} on {key} does not hold for {values if present else 'a missing key'}"
    return True, ""


def _listed(block, kind):
    return [str(item) for item in _as_list(block.get(kind))] if isinstance(block, dict) else []


def _principal_matches(statement, principal):
    """``principal``: ``{kind: [identifiers]}`` (``Federated``, ``Service`` or ``AWS``) of the caller."""
    if "NotPrincipal" in statement:
        listed = statement["NotPrincipal"]
        if listed == "*":
            return False, "NotPrincipal is *"
        for kind, identifiers in principal.items():
            if set(_listed(listed, kind)) & set(identifiers):
                return False, f"the {kind} principal is listed in NotPrincipal"
        return True, ""
    block = statement.get("Principal")
    if block == "*":
        return True, ""
    if not isinstance(block, dict):
        return False, "no principal names the caller"
    # IAM documents {"AWS": "*"} as equivalent to "*": every principal.
    if "*" in _listed(block, "AWS"):
        return True, ""
    for kind, identifiers in principal.items():
        listed = _listed(block, kind)
        if (kind == "Federated" and "*" in listed) or set(listed) & set(identifiers):
            return True, ""
    names = " or ".join(identifier for identifiers in principal.values() for identifier in identifiers[:1])
    return False, f"Principal does not name {names}"


def _action_matches(statement, action):
    if "NotAction" in statement:
        listed = [str(a) for a in _as_list(statement["NotAction"])]
        if any(_glob_match(a, action, ignore_case=True) for a in listed):
            return False, f"{action} is listed in NotAction"
        return True, ""
    listed = [str(a) for a in _as_list(statement.get("Action"))]
    if any(_glob_match(a, action, ignore_case=True) for a in listed):
        return True, ""
    return False, f"Action {listed} does not cover {action}"


def _statement_applies(statement, principal, action, context):
    ok, why = _principal_matches(statement, principal)
    if not ok:
        return False, why
    ok, why = _action_matches(statement, action)
    if not ok:
        return False, why
    condition = statement.get("Condition") or {}
    if not isinstance(condition, dict):
        return False, "Condition is not an object"
    for operator, block in condition.items():
        try:
            ok, why = _condition_holds(operator, block, context)
        except _UnknownOperator:
            return False, f"unknown condition operator {operator!r}: the statement cannot apply"
        if not ok:
            return False, why
    return True, "principal, action and every condition match"


def evaluate(policy, provider_arn, claims, action=ACTION):
    """Decide whether ``claims`` (``{"sub": ..., "aud": ...}``, ``aud`` a string or list) presented
    through the OIDC provider ``provider_arn`` may perform ``action`` under the trust ``policy``
    (a dict or its JSON text). Returns a ``Decision``.
    """
    provider = provider_of(provider_arn)
    context = {}
    for claim in ("sub", "aud"):
        if claims.get(claim) not in (None, "", []):
            context[f"{provider}:{claim}"] = claims[claim]
    return evaluate_request(policy, {"Federated": [provider_arn]}, action, context)


def evaluate_request(policy, principal, action, context):
    """Decide whether ``principal`` (``{"Service": [...]}``, ``{"AWS": [...]}`` or ``{"Federated": [...]}``)
    may perform ``action`` under the trust ``policy`` (a dict or its JSON text) with the request ``context``
    (condition key -> value or list of values; keys are matched case-insensitively). Returns a ``Decision``.
    """
    if isinstance(policy, (str, bytes)):
        try:
            policy = json.loads(policy)
        except ValueError:
            return Decision(False, "ImplicitDeny", None, None, "the trust policy is not valid JSON")
    if not isinstance(policy, dict):
        return Decision(False, "ImplicitDeny", None, None, "the trust policy is not an object")
    context = {key.lower(): value for key, value in context.items()}

    statements = policy.get("Statement")
    statements = _as_list(statements)
    first_allow = None
    reasons = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            continue
        effect = statement.get("Effect")
        applies, why = _statement_applies(statement, principal, action, context)
        if not applies:
            reasons.append(f"statement {index}: {why}")
            continue
        if effect == "Deny":
            return Decision(False, "Deny", index, statement.get("Sid"), f"explicit Deny applies: {why}")
        if effect == "Allow" and first_allow is None:
            first_allow = (index, statement.get("Sid"), why)
    if first_allow is not None:
        index, sid, why = first_allow
        return Decision(True, "Allow", index, sid, why)
    return Decision(
        False, "ImplicitDeny", None, None,
        "no statement allows: " + ("; ".join(reasons) if reasons else "the policy has no statements"),
    )
