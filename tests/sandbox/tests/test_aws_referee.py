"""The STS gate's trust evaluation (``irsa_sandbox.aws.referee``) against the shared case table and
its own cases."""

import os

import pytest
import yaml

from irsa_sandbox.aws.referee import evaluate

CASES_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "trust_cases.yml")


def _shared_cases():
    if not os.path.exists(CASES_FILE):
        return [pytest.param(None, marks=pytest.mark.skip(reason="tests/fixtures/trust_cases.yml does not exist"))]
    with open(CASES_FILE, encoding="utf-8") as handle:
        cases = yaml.safe_load(handle)
    return [pytest.param(case, id=case["id"]) for case in cases]


@pytest.mark.parametrize("case", _shared_cases())
def test_shared_trust_case(case):
    decision = evaluate(case["policy"], case["provider_arn"], case["claims"])
    assert decision.allowed == case["allowed"], f"{case['id']}: {case.get('why', '')}: referee says {decision}"


def test_shared_table_is_substantial():
    if not os.path.exists(CASES_FILE):
        pytest.skip("tests/fixtures/trust_cases.yml does not exist")
    with open(CASES_FILE, encoding="utf-8") as handle:
        cases = yaml.safe_load(handle)
    assert len(cases) >= 30
    assert len({case["id"] for case in cases}) == len(cases), "case ids must be unique"
    assert {True, False} <= {case["allowed"] for case in cases}


PROVIDER = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{PROVIDER}"
SUB = f"{PROVIDER}:sub"
AUD = f"{PROVIDER}:aud"


def _policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(condition=None, action="sts:AssumeRoleWithWebIdentity", effect="Allow", principal=None):
    statement = {"Effect": effect, "Principal": principal or {"Federated": PROVIDER_ARN}, "Action": action}
    if condition is not None:
        statement["Condition"] = condition
    return statement


CLAIMS = {"sub": "system:serviceaccount:payments:api", "aud": "sts.amazonaws.com"}

# (id, policy, claims, allowed)
OWN_CASES = [
    ("json-text-policy", '{"Statement": {"Effect": "Allow", "Principal": {"Federated": "%s"}, '
                         '"Action": "sts:AssumeRoleWithWebIdentity"}}' % PROVIDER_ARN, CLAIMS, True),
    ("invalid-json-denies", "{not json", CLAIMS, False),
    ("principal-star", _policy(_allow(principal="*")), CLAIMS, True),
    ("federated-star", _policy(_allow(principal={"Federated": "*"})), CLAIMS, True),
    ("aws-star-is-every-principal", _policy(_allow(principal={"AWS": "*"})), CLAIMS, True),
    ("aws-account-principal-is-not-the-provider", _policy(_allow(principal={"AWS": "arn:aws:iam::123456789012:root"})),
     CLAIMS, False),
    ("not-action-excluding-it", _policy({"Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN},
                                         "NotAction": "sts:AssumeRoleWith*"}), CLAIMS, False),
    ("not-action-other", _policy({"Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN},
                                  "NotAction": "sts:AssumeRole"}), CLAIMS, True),
    ("stringlike-star-matches-empty-suffix", _policy(_allow({"StringLike": {SUB: "system:serviceaccount:payments:api*"}})),
     CLAIMS, True),
    ("stringlike-question-exactly-one", _policy(_allow({"StringLike": {SUB: "system:serviceaccount:payments:ap?"}})),
     CLAIMS, True),
    ("stringlike-regex-chars-literal", _policy(_allow({"StringLike": {SUB: "system:serviceaccount:payments:a.i"}})),
     CLAIMS, False),
    ("stringequals-ignorecase", _policy(_allow({"StringEqualsIgnoreCase": {SUB: "SYSTEM:serviceaccount:PAYMENTS:api"}})),
     CLAIMS, True),
    ("ifexists-missing-key-holds", _policy(_allow({"StringEqualsIfExists": {f"{PROVIDER}:amr": "x"}})), CLAIMS, True),
    ("ifexists-present-key-checked", _policy(_allow({"StringEqualsIfExists": {SUB: "other"}})), CLAIMS, False),
    ("unknown-set-prefix", _policy(_allow({"ForSomeValues:StringEquals": {SUB: CLAIMS["sub"]}})), CLAIMS, False),
    ("numeric-operator-unknown-here", _policy(_allow({"NumericLessThan": {SUB: "1"}})), CLAIMS, False),
    ("boolean-value-as-text", _policy(_allow({"StringEquals": {AUD: ["sts.amazonaws.com", True]}})), CLAIMS, True),
    ("aud-list-any-value", _policy(_allow({"StringEquals": {AUD: "sts.amazonaws.com"}})),
     {"sub": CLAIMS["sub"], "aud": ["other", "sts.amazonaws.com"]}, True),
    ("deny-with-unknown-operator-ignored", _policy(_allow(), _allow({"Bogus": {SUB: "x"}}, effect="Deny")), CLAIMS, True),
    ("deny-star-action", _policy(_allow(), _allow(action="*", effect="Deny")), CLAIMS, False),
    ("effect-lowercase-is-not-allow", _policy(_allow(effect="allow")), CLAIMS, False),
]


@pytest.mark.parametrize("policy, claims, allowed", [pytest.param(p, c, a, id=i) for i, p, c, a in OWN_CASES])
def test_own_case(policy, claims, allowed):
    decision = evaluate(policy, PROVIDER_ARN, claims)
    assert decision.allowed == allowed, str(decision)


def test_decision_names_the_deciding_statement():
    policy = _policy(_allow(), dict(_allow({"StringLike": {SUB: "system:serviceaccount:payments:*"}}, effect="Deny"),
                                    Sid="NoPayments"))
    decision = evaluate(policy, PROVIDER_ARN, CLAIMS)
    assert (decision.allowed, decision.effect, decision.statement, decision.sid) == (False, "Deny", 1, "NoPayments")
    decision = evaluate(_policy(_allow({"StringEquals": {SUB: "x"}})), PROVIDER_ARN, CLAIMS)
    assert decision.effect == "ImplicitDeny" and "StringEquals" in decision.reason
