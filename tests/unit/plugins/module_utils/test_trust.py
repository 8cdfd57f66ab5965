# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import copy
import dataclasses
import json
import os

import pytest
import yaml

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.trust import evaluate as trust_evaluate
from ansible_collections.eks.irsa.plugins.module_utils.constants import TRUST_POLICY_SIZE_LIMIT

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "trust_cases.yml")

BLUE = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
GREEN = "oidc.eks.us-west-2.amazonaws.com/id/B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6"
BLUE_ARN = "arn:aws:iam::111122223333:oidc-provider/" + BLUE
GREEN_ARN = "arn:aws:iam::111122223333:oidc-provider/" + GREEN
AUD = "sts.amazonaws.com"

EC2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
CROSS_ACCOUNT = {
    "Sid": "Ops",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"sts:ExternalId": "x"}},
}
OTHER_PROVIDER = {
    "Effect": "Allow",
    "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/repo:*"}},
}
DENY = {
    "Sid": "NoKubeSystem",
    "Effect": "Deny",
    "Principal": {"Federated": BLUE_ARN},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {"StringLike": {BLUE + ":sub": "system:serviceaccount:kube-system:*"}},
}
FOREIGN = [EC2, CROSS_ACCOUNT, OTHER_PROVIDER, DENY]


def irsa(provider, provider_arn, subs, audience=AUD):
    sub_value = subs[0] if len(subs) == 1 else subs
    condition = {"StringEquals": {provider + ":aud": audience}}
    if any("*" in s or "?" in s for s in subs):
        condition["StringLike"] = {provider + ":sub": sub_value}
    else:
        condition["StringEquals"][provider + ":sub"] = sub_value
    return {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


SA = "system:serviceaccount:"


# --------------------------------------------------------------------------------------------
# service accounts and subjects


@pytest.mark.parametrize(
    "value, expected",
    [
        ("default:my-app", ("default", "my-app")),
        ({"namespace": "prod", "name": "api.v2"}, ("prod", "api.v2")),
        ("system:serviceaccount:kube-system:aws-node", ("kube-system", "aws-node")),
        ("prod-*:*", ("prod-*", "*")),
        ("team-?:reader", ("team-?", "reader")),
    ],
)
def test_parse_service_account(value, expected):
    assert trust.parse_service_account(value) == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("my-app", "is not namespace:name"),
        ("a:b:c", "is not namespace:name"),
        ("Default:my-app", "not a valid Kubernetes namespace"),
        ("default:My_App", "not a valid Kubernetes name"),
        ("-ns:app", "not a valid Kubernetes namespace"),
        ("ns:app-", "not a valid Kubernetes name"),
        (":app", "namespace is empty"),
        ("ns:", "name is empty"),
        ("n" * 64 + ":app", "longer than 63"),
        ("ns:" + "a" * 254, "longer than 253"),
        ("ns_*:app", "namespace pattern"),
        ({"namespace": "ns"}, "name is empty"),
        ({"namespace": "ns", "name": "a", "cluster": "x"}, "unknown key"),
        (42, "neither"),
        ("*:*", "every ServiceAccount in every namespace"),
        ("system:serviceaccount:**:*", "every ServiceAccount in every namespace"),
        ({"namespace": "*", "name": "*"}, "every ServiceAccount in every namespace"),
    ],
)
def test_parse_service_account_rejects(value, message):
    with pytest.raises(trust.TrustError, match=message):
        trust.parse_service_account(value)


def test_subjects_sorted_and_unique():
    assert trust.subjects(["b:x", "a:y", {"namespace": "b", "name": "x"}]) == [SA + "a:y", SA + "b:x"]


# --------------------------------------------------------------------------------------------
# building


@pytest.mark.parametrize(
    "subs, expected_condition",
    [
        ([SA + "default:my-app"], {"StringEquals": {BLUE + ":aud": AUD, BLUE + ":sub": SA + "default:my-app"}}),
        (
            [SA + "b:two", SA + "a:one"],
            {"StringEquals": {BLUE + ":aud": AUD, BLUE + ":sub": [SA + "a:one", SA + "b:two"]}},
        ),
        # a wildcard moves :sub (all of them) to StringLike; :aud stays StringEquals
        (
            [SA + "prod:*", SA + "default:my-app"],
            {
                "StringEquals": {BLUE + ":aud": AUD},
                "StringLike": {BLUE + ":sub": [SA + "default:my-app", SA + "prod:*"]},
            },
        ),
        ([SA + "team-?:reader"], {"StringEquals": {BLUE + ":aud": AUD}, "StringLike": {BLUE + ":sub": SA + "team-?:reader"}}),
    ],
)
def test_statement(subs, expected_condition):
    built = trust.statement(BLUE_ARN, subs)
    assert built == {
        "Effect": "Allow",
        "Principal": {"Federated": BLUE_ARN},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": expected_condition,
    }


def test_statement_needs_subjects():
    with pytest.raises(trust.TrustError, match="at least one"):
        trust.statement(BLUE_ARN, [])


def test_wildcard_and_exact_subjects_both_match():
    built = doc(trust.statement(BLUE_ARN, [SA + "prod:*", SA + "default:my-app"]))
    for sub in (SA + "prod:worker", SA + "default:my-app"):
        assert trust_evaluate.evaluate(built, {"iss": "https://" + BLUE, "sub": sub, "aud": AUD}, BLUE_ARN).allowed
    assert not trust_evaluate.evaluate(built, {"iss": "https://" + BLUE, "sub": SA + "default:x", "aud": AUD}, BLUE_ARN).allowed


@pytest.mark.parametrize(
    "partition, provider",
    [
        ("aws", "oidc.eks.eu-west-1.amazonaws.com/id/AAAA1111"),
        ("aws-cn", "oidc.eks.cn-north-1.amazonaws.com.cn/id/BBBB2222"),
        ("aws-us-gov", "oidc.eks.us-gov-west-1.amazonaws.com/id/CCCC3333"),
    ],
)
def test_partitions(partition, provider):
    arn = "arn:{0}:iam::111122223333:oidc-provider/{1}".format(partition, provider)
    built = trust.merge_trust_policy(None, {arn: {"subjects": [SA + "default:my-app"]}})
    stmt = built["Statement"][0]
    assert stmt["Principal"] == {"Federated": arn}
    # the audience is sts.amazonaws.com in every partition, China included
    assert stmt["Condition"]["StringEquals"] == {provider + ":aud": AUD, provider + ":sub": SA + "default:my-app"}
    assert trust_evaluate.evaluate(built, {"iss": "https://" + provider, "sub": SA + "default:my-app", "aud": AUD}, arn).allowed


def test_custom_audience():
    built = trust.merge_trust_policy(None, {BLUE_ARN: {"subjects": [SA + "a:b"], "audience": "my-aud"}})
    assert built["Statement"][0]["Condition"]["StringEquals"][BLUE + ":aud"] == "my-aud"


# --------------------------------------------------------------------------------------------
# merging


MERGE_CASES = [
    dict(
        id="create-from-nothing",
        current=None,
        providers={BLUE_ARN: {"subjects": [SA + "default:my-app"]}},
        expected=doc(irsa(BLUE, BLUE_ARN, [SA + "default:my-app"])),
    ),
    dict(
        id="foreign-statements-kept-in-place",
        current=doc(EC2, CROSS_ACCOUNT, irsa(BLUE, BLUE_ARN, [SA + "default:old"]), OTHER_PROVIDER, DENY),
        providers={BLUE_ARN: {"subjects": [SA + "default:new"]}},
        expected=doc(EC2, CROSS_ACCOUNT, irsa(BLUE, BLUE_ARN, [SA + "default:new"]), OTHER_PROVIDER, DENY),
    ),
    dict(
        id="foreign-statements-kept-new-provider-appended",
        current=doc(*FOREIGN),
        providers={BLUE_ARN: {"subjects": [SA + "default:my-app"]}},
        expected=doc(*(FOREIGN + [irsa(BLUE, BLUE_ARN, [SA + "default:my-app"])])),
    ),
    dict(
        id="add-subject-without-purge",
        current=doc(irsa(BLUE, BLUE_ARN, [SA + "default:a"])),
        providers={BLUE_ARN: {"subjects": [SA + "default:b"]}},
        purge_subjects=False,
        expected=doc(irsa(BLUE, BLUE_ARN, [SA + "default:a", SA + "default:b"])),
    ),
    dict(
        id="remove-subject-with-purge",
        current=doc(irsa(BLUE, BLUE_ARN, [SA + "default:a", SA + "default:b"])),
        providers={BLUE_ARN: {"subjects": [SA + "default:b"]}},
        expected=doc(irsa(BLUE, BLUE_ARN, [SA + "default:b"])),
    ),
    dict(
        id="wildcard-added-moves-subjects-to-stringlike",
        current=doc(irsa(BLUE, BLUE_ARN, [SA + "default:a"])),
        providers={BLUE_ARN: {"subjects": [SA + "prod:*"]}},
        purge_subjects=False,
        expected=doc(irsa(BLUE, BLUE_ARN, [SA + "default:a", SA + "prod:*"])),
    ),
    dict(
        id="seed-statement-without-aud-is-adopted",
        current=doc(
            {
                "Effect": "Allow",
                "Principal": {"Federated": BLUE_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {BLUE + ":sub": SA + "default:my-app"}},
            }
        ),
        providers={BLUE_ARN: {"subjects": [SA + "default:my-app"]}},
        expected=doc(irsa(BLUE, BLUE_ARN, [SA + "default:my-app"])),
    ),
    dict(
        id="duplicate-statements-of-provider-collapse",
        current=doc(irsa(BLUE, BLUE_ARN, [SA + "a:x"]), EC2, irsa(BLUE, BLUE_ARN, [SA + "b:*"])),
        providers={BLUE_ARN: {"subjects": [SA + "c:y"]}},
        purge_subjects=False,
        expected=doc(irsa(BLUE, BLUE_ARN, [SA + "a:x", SA + "b:*", SA + "c:y"]), EC2),
    ),
    dict(
        id="second-provider-added",
        current=doc(irsa(BLUE, BLUE_ARN, [SA + "default:my-app"])),
        providers={BLUE_ARN: {"subjects": [SA + "default:my-app"]}, GREEN_ARN: {"subjects": [SA + "default:my-app"]}},
        expected=doc(irsa(BLUE, BLUE_ARN, [SA + "default:my-app"]), irsa(GREEN, GREEN_ARN, [SA + "default:my-app"])),
    ),
    dict(
        id="provider-removed-from-list-is-kept-without-purge",
        current=doc(irsa(BLUE, BLUE_ARN, [SA + "d:a"]), irsa(GREEN, GREEN_ARN, [SA + "d:a"])),
        providers={BLUE_ARN: {"subjects": [SA + "d:a"]}},
        expected=doc(irsa(BLUE, BLUE_ARN, [SA + "d:a"]), irsa(GREEN, GREEN_ARN, [SA + "d:a"])),
    ),
    dict(
        id="provider-state-absent-removes-only-its-statement",
        current=doc(EC2, irsa(BLUE, BLUE_ARN, [SA + "d:a"]), irsa(GREEN, GREEN_ARN, [SA + "d:a"])),
        providers={BLUE_ARN: {"subjects": [SA + "d:a"]}, GREEN_ARN: {"state": "absent"}},
        expected=doc(EC2, irsa(BLUE, BLUE_ARN, [SA + "d:a"])),
    ),
    dict(
        id="purge-statements-keeps-only-managed-providers",
        current=doc(EC2, irsa(BLUE, BLUE_ARN, [SA + "d:a"]), DENY, irsa(GREEN, GREEN_ARN, [SA + "d:a"])),
        providers={BLUE_ARN: {"subjects": [SA + "d:a"]}},
        purge_statements=True,
        expected=doc(irsa(BLUE, BLUE_ARN, [SA + "d:a"])),
    ),
    dict(
        id="other-audience-statement-is-not-ours",
        current=doc(irsa(BLUE, BLUE_ARN, [SA + "d:a"], audience="vault")),
        providers={BLUE_ARN: {"subjects": [SA + "d:b"]}},
        expected=doc(irsa(BLUE, BLUE_ARN, [SA + "d:a"], audience="vault"), irsa(BLUE, BLUE_ARN, [SA + "d:b"])),
    ),
    dict(
        id="star-under-stringequals-is-not-adopted",
        current=doc(irsa(BLUE, BLUE_ARN, [SA + "d:a"]) | {"Condition": {"StringEquals": {BLUE + ":sub": SA + "d:*"}}}),
        providers={BLUE_ARN: {"subjects": [SA + "d:a"]}},
        expected=doc(
            irsa(BLUE, BLUE_ARN, [SA + "d:a"]) | {"Condition": {"StringEquals": {BLUE + ":sub": SA + "d:*"}}},
            irsa(BLUE, BLUE_ARN, [SA + "d:a"]),
        ),
    ),
    dict(
        id="statement-object-not-list",
        current={"Version": "2012-10-17", "Statement": EC2},
        providers={BLUE_ARN: {"subjects": [SA + "d:a"]}},
        expected=doc(EC2, irsa(BLUE, BLUE_ARN, [SA + "d:a"])),
    ),
]


@pytest.mark.parametrize("case", MERGE_CASES, ids=[case["id"] for case in MERGE_CASES])
def test_merge(case):
    current_before = copy.deepcopy(case["current"])
    providers_before = copy.deepcopy(case["providers"])
    merged = trust.merge_trust_policy(
        case["current"],
        case["providers"],
        purge_subjects=case.get("purge_subjects", True),
        purge_statements=case.get("purge_statements", False),
    )
    assert merged == case["expected"]
    # inputs are left alone
    assert case["current"] == current_before
    assert case["providers"] == providers_before
    # merging again is a fixed point
    again = trust.merge_trust_policy(
        merged,
        case["providers"],
        purge_subjects=case.get("purge_subjects", True),
        purge_statements=case.get("purge_statements", False),
    )
    assert not compare_policies(merged, again)


def test_merge_keeps_foreign_access_working():
    current = doc(*FOREIGN)
    merged = trust.merge_trust_policy(current, {BLUE_ARN: {"subjects": [SA + "default:my-app", SA + "kube-system:x"]}})
    # the explicit Deny we kept still wins over our Allow
    decision = trust_evaluate.evaluate(merged, {"iss": "https://" + BLUE, "sub": SA + "kube-system:x", "aud": AUD}, BLUE_ARN)
    assert not decision.allowed and decision.sid == "NoKubeSystem"
    assert trust_evaluate.evaluate(merged, {"iss": "https://" + BLUE, "sub": SA + "default:my-app", "aud": AUD}, BLUE_ARN).allowed


def test_provider_subjects():
    policy = doc(EC2, irsa(BLUE, BLUE_ARN, [SA + "a:b", SA + "c:*"]), irsa(GREEN, GREEN_ARN, [SA + "x:y"]))
    assert trust.provider_subjects(policy, BLUE_ARN) == [SA + "a:b", SA + "c:*"]
    assert trust.provider_subjects(policy, GREEN_ARN) == [SA + "x:y"]
    assert trust.federated_providers(policy) == [BLUE_ARN, GREEN_ARN]


@pytest.mark.parametrize(
    "policy, expected",
    [
        (doc(irsa(BLUE, BLUE_ARN, [SA + "d:*"])), []),
        (
            doc(EC2, irsa(BLUE, BLUE_ARN, [SA + "d:a"]) | {"Condition": {"StringEquals": {BLUE + ":sub": SA + "d:*"}}}),
            [(1, BLUE + ":sub", SA + "d:*")],
        ),
        (
            doc({"Effect": "Allow", "Condition": {"ForAnyValue:StringEquals": {"k": ["a", "b?"]}}}),
            [(0, "k", "b?")],
        ),
    ],
)
def test_stringequals_wildcards(policy, expected):
    assert trust.stringequals_wildcards(policy) == expected


# --------------------------------------------------------------------------------------------
# size


def test_minified_size_ignores_white_space():
    policy = doc(irsa(BLUE, BLUE_ARN, [SA + "default:my-app"]))
    assert trust.minified_size(policy) == len(json.dumps(policy, separators=(",", ":")))
    assert trust.minified_size(policy) < len(json.dumps(policy, indent=2))
    assert " " not in trust.minified(policy)


@pytest.mark.parametrize("count, fits", [(1, True), (10, True), (40, False)])
def test_size_grows_with_subjects(count, fits):
    subs = [SA + "namespace-{0:03d}:service-account-{0:03d}".format(i) for i in range(count)]
    policy = trust.merge_trust_policy(None, {BLUE_ARN: {"subjects": subs}})
    assert (trust.minified_size(policy) <= TRUST_POLICY_SIZE_LIMIT) is fits


def test_wildcard_shrinks_the_document():
    subs = [SA + "team:app-{0:03d}".format(i) for i in range(40)]
    big = trust.merge_trust_policy(None, {BLUE_ARN: {"subjects": subs}})
    small = trust.merge_trust_policy(None, {BLUE_ARN: {"subjects": [SA + "team:app-*"]}})
    assert trust.minified_size(small) < trust.minified_size(big)


# --------------------------------------------------------------------------------------------
# evaluation


def _load_cases():
    with open(FIXTURES, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


CASES = _load_cases()


def test_fixture_is_big_enough():
    assert len(CASES) >= 30
    assert len({case["id"] for case in CASES}) == len(CASES)
    assert {True, False} == {case["allowed"] for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_evaluate_fixture(case):
    decision = trust_evaluate.evaluate(case["policy"], case["claims"], case["provider_arn"])
    assert decision.allowed is case["allowed"], decision.reason
    assert decision.reason
    if decision.allowed:
        assert decision.effect == "Allow"
        assert trust.statements_of(case["policy"])[decision.statement_index]["Effect"] == "Allow"


def test_reason_names_expected_and_found():
    policy = doc(irsa(BLUE, BLUE_ARN, [SA + "default:my-app"]))
    decision = trust_evaluate.evaluate(policy, {"iss": "https://" + BLUE, "sub": SA + "default:other", "aud": AUD}, BLUE_ARN)
    assert not decision.allowed
    assert decision.statement_index == 0
    assert SA + "default:my-app" in decision.reason and SA + "default:other" in decision.reason

    decision = trust_evaluate.evaluate(policy, {"iss": "https://" + BLUE, "sub": SA + "default:my-app", "aud": "vault"}, BLUE_ARN)
    assert "'sts.amazonaws.com'" in decision.reason and "'vault'" in decision.reason


def test_deny_is_named():
    policy = doc(irsa(BLUE, BLUE_ARN, [SA + "kube-system:*"]), DENY)
    decision = trust_evaluate.evaluate(policy, {"iss": "https://" + BLUE, "sub": SA + "kube-system:x", "aud": AUD}, BLUE_ARN)
    assert dataclasses.asdict(decision)["allowed"] is False
    assert decision.effect == "Deny" and decision.statement_index == 1 and decision.sid == "NoKubeSystem"
    assert "Deny" in decision.reason


def test_other_provider_reason():
    policy = doc(irsa(BLUE, BLUE_ARN, [SA + "d:a"]))
    decision = trust_evaluate.evaluate(policy, {"iss": "https://" + GREEN, "sub": SA + "d:a", "aud": AUD}, GREEN_ARN)
    assert not decision.allowed and decision.statement_index is None
    assert GREEN_ARN in decision.reason


def test_issuer_must_be_the_provider():
    policy = doc(irsa(BLUE, BLUE_ARN, [SA + "d:a"]))
    decision = trust_evaluate.evaluate(policy, {"iss": "https://" + GREEN, "sub": SA + "d:a", "aud": AUD}, BLUE_ARN)
    assert not decision.allowed and "issuer" in decision.reason


@pytest.mark.parametrize(
    "condition, allowed",
    [
        ({"StringEqualsIgnoreCase": {BLUE + ":sub": SA.upper() + "D:A"}}, True),
        ({"StringNotEqualsIgnoreCase": {BLUE + ":sub": SA.upper() + "D:A"}}, False),
        ({"StringEqualsIfExists": {GREEN + ":sub": "x"}}, True),
        ({"StringEqualsIfExists": {BLUE + ":sub": "x"}}, False),
        ({"Null": {GREEN + ":sub": "true"}}, True),
        ({"Null": {BLUE + ":sub": "true"}}, False),
        ({"Null": {BLUE + ":sub": "false"}}, True),
        ({"Bogus:StringEquals": {BLUE + ":sub": SA + "d:a"}}, False),
    ],
)
def test_more_operators(condition, allowed):
    policy = doc(
        {"Effect": "Allow", "Principal": {"Federated": BLUE_ARN}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}
    )
    assert trust_evaluate.evaluate(policy, {"iss": "https://" + BLUE, "sub": SA + "d:a", "aud": AUD}, BLUE_ARN).allowed is allowed


@pytest.mark.parametrize("value", ["prod:*", "*:app", "team-?:*", "*:app-*"])
def test_a_wildcard_narrowed_by_namespace_or_name_is_accepted(value):
    assert trust.parse_service_account(value) == tuple(value.split(":"))


def test_a_statement_without_aud_is_kept_when_another_audience_is_planned():
    """A hand-written statement without an :aud condition counts for the default audience only: planning the
    subjects of another audience of the same provider leaves it exactly as it is, so its ServiceAccounts keep the
    default audience, and none of its subjects is taken for that audience's."""
    handwritten = {
        "Sid": "handwritten",
        "Effect": "Allow",
        "Principal": {"Federated": BLUE_ARN},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {BLUE + ":sub": [SA + "a:x", SA + "a:y"]}},
    }
    current = doc(handwritten, irsa(BLUE, BLUE_ARN, [SA + "b:z"], audience="api"))
    assert trust.provider_subjects(current, BLUE_ARN, "api") == [SA + "b:z"]
    assert trust.provider_subjects(current, BLUE_ARN, AUD) == [SA + "a:x", SA + "a:y"]
    merged = trust.merge_trust_policy(current, {BLUE_ARN: {"subjects": [SA + "a:x", SA + "b:z"], "audience": "api"}})
    assert merged["Statement"][0] == handwritten
    assert compare_policies(merged, doc(handwritten, irsa(BLUE, BLUE_ARN, [SA + "a:x", SA + "b:z"], audience="api"))) is False
