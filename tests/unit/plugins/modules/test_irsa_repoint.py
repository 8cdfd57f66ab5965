# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""irsa_repoint run end to end (main()) against moto's in-memory IAM/STS, every AWS call recorded."""

import copy
import json
from unittest import mock

import boto3
import pytest

from ansible_collections.eks.irsa.plugins.module_utils import aws as irsa_aws
from ansible_collections.eks.irsa.plugins.module_utils import repoint
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.modules import irsa_repoint

ACCOUNT = "123456789012"  # moto's account
REGION = "us-west-2"
BLUE = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
GREEN = "oidc.eks.us-west-2.amazonaws.com/id/B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6"
OTHER = "oidc.eks.us-west-2.amazonaws.com/id/0THER000000000000000000000000000"
BLUE_ARN = "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, BLUE)
GREEN_ARN = "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, GREEN)
OTHER_ARN = "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, OTHER)
SA = "system:serviceaccount:"
READ_PREFIXES = ("Get", "List", "Describe")
OWNED = [{"Key": "eks.irsa/managed-by", "Value": "eks.irsa"}]
EC2_STATEMENT = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
DENY_STATEMENT = {"Sid": "NoBatch", "Effect": "Deny", "Principal": {"Federated": BLUE_ARN},
                  "Action": "sts:AssumeRoleWithWebIdentity",
                  "Condition": {"StringLike": {BLUE + ":sub": SA + "batch:*"}}}


class AWS:
    """moto with the blue and green providers registered; records every call irsa_repoint makes."""

    def __init__(self, run_main):
        self.run_main = run_main
        self.calls = []
        self.fail_roles = {}
        self.iam = boto3.client("iam", region_name=REGION)
        for host in (BLUE, GREEN):
            self.iam.create_open_id_connect_provider(
                Url="https://" + host, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40])

    def record(self, model, params=None, **_kwargs):
        body = (params or {}).get("body")
        role = body.get("RoleName") if isinstance(body, dict) else None
        self.calls.append((model.name, role))
        if model.name == "UpdateAssumeRolePolicy" and role in self.fail_roles:
            code, message = self.fail_roles[role]
            return mock.Mock(status_code=400), {"Error": {"Code": code, "Message": message},
                                                "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None

    def reads(self):
        return [name for name, _role in self.calls if name.startswith(READ_PREFIXES)]

    def writes(self):
        return [(name, role) for name, role in self.calls if not name.startswith(READ_PREFIXES)]

    def role(self, name, statements, owned=True):
        self.iam.create_role(RoleName=name, Tags=OWNED if owned else [],
                             AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))

    def trust(self, name):
        return self.iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]

    def run(self, check_mode=False, diff=True, **args):
        """Run the module; return its result dict (with 'failed' when it failed) and its warnings."""
        self.calls = []
        return self.run_main(irsa_repoint.main, self.record, check_mode, diff, **args)


@pytest.fixture
def aws(moto, module_runner):
    with moto():
        yield AWS(module_runner)


def irsa(provider, provider_arn, subs, like=False, aud=True):
    sub = subs[0] if len(subs) == 1 else subs
    condition = {"StringEquals": {provider + ":aud": "sts.amazonaws.com"}} if aud else {"StringEquals": {}}
    condition.setdefault("StringLike" if like else "StringEquals", {})[provider + ":sub"] = sub
    if not condition["StringEquals"]:
        del condition["StringEquals"]
    return {"Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition}


def blue(*subs, **kwargs):
    return irsa(BLUE, BLUE_ARN, [SA + item for item in subs], **kwargs)


def green(*subs, **kwargs):
    return irsa(GREEN, GREEN_ARN, [SA + item for item in subs], **kwargs)


MOVE = {"from_provider": BLUE_ARN, "to_provider": GREEN_ARN}


# --------------------------------------------------------------------------------------------
# move, add, idempotence, check mode


def test_move_replaces_the_old_statement_in_place_and_keeps_every_foreign_one(aws):
    other = irsa(OTHER, OTHER_ARN, [SA + "shop:api"])
    aws.role("shop-api", [EC2_STATEMENT, blue("shop:api", "shop:worker"), DENY_STATEMENT, other])
    before = aws.trust("shop-api")
    result = aws.run(**MOVE)
    assert result["changed"] is True and "failed" not in result, result
    assert [(entry["name"], entry["action"], entry["changed"]) for entry in result["results"]] == [("shop-api", "moved", True)]
    assert result["results"][0]["arn"] == "arn:aws:iam::%s:role/shop-api" % ACCOUNT
    after = aws.trust("shop-api")
    # The IRSA statement is the same statement for green, at the same place; the others are exactly as they were.
    assert after["Statement"] == [EC2_STATEMENT, green("shop:api", "shop:worker"), DENY_STATEMENT, other]
    assert after["Statement"][0] == before["Statement"][0] and after["Statement"][2:] == before["Statement"][2:]
    assert result["results"][0]["diff"]["before"] == before and result["results"][0]["diff"]["after"] == after
    assert result["diff"] == [result["results"][0]["diff"]]
    assert aws.writes() == [("UpdateAssumeRolePolicy", "shop-api")]
    # The Deny still names blue: kept, and the user is told it still trusts (denies) through the old cluster.
    assert any("'shop-api'" in warning and "statement(s) 2" in warning for warning in result["warnings"]), result["warnings"]


def test_add_keeps_the_old_statement_and_adds_the_new_one_after_it(aws):
    aws.role("shop-api", [blue("shop:api"), EC2_STATEMENT])
    result = aws.run(mode="add", **MOVE)
    assert [(entry["name"], entry["action"]) for entry in result["results"]] == [("shop-api", "added")]
    assert aws.trust("shop-api")["Statement"] == [blue("shop:api"), green("shop:api"), EC2_STATEMENT]


def test_a_second_run_changes_nothing_and_writes_nothing(aws):
    for index in range(3):
        aws.role("app-%d" % index, [blue("shop:app-%d" % index)])
    for mode in ("add", "move"):
        assert aws.run(mode=mode, **MOVE)["changed"] is True
        again = aws.run(mode=mode, **MOVE)
        assert again["changed"] is False and aws.writes() == [], again
        # Nothing to change: ListRoles is the only read (no GetRole for tags).
        assert aws.reads() == ["ListRoles"]
        assert [entry["action"] for entry in again["results"]] == ["unchanged"] * 3
        assert again["unchanged_roles"] == ["app-0", "app-1", "app-2"]
    for index in range(3):
        assert aws.trust("app-%d" % index)["Statement"] == [green("shop:app-%d" % index)]


def test_check_mode_predicts_the_real_run_and_writes_nothing(aws):
    aws.role("app-0", [blue("shop:app-0")])
    aws.role("app-1", [EC2_STATEMENT, blue("shop:app-1", like=True)])
    predicted = aws.run(check_mode=True, **MOVE)
    assert predicted["changed"] is True and aws.writes() == []
    assert aws.trust("app-0")["Statement"] == [blue("shop:app-0")]
    real = aws.run(**MOVE)
    assert predicted["results"] == real["results"]
    assert [entry["diff"]["after"] for entry in real["results"]] == [aws.trust("app-0"), aws.trust("app-1")]


def test_the_moved_statement_keeps_sid_operators_and_a_missing_audience(aws):
    statement = dict(blue("shop:*", like=True, aud=False), Sid="Shop")
    aws.role("shop", [statement])
    aws.run(**MOVE)
    assert aws.trust("shop")["Statement"] == [dict(green("shop:*", like=True, aud=False), Sid="Shop")]


def test_add_gives_the_added_statement_no_sid(aws):
    aws.role("shop", [dict(blue("shop:api"), Sid="Shop")])
    aws.run(mode="add", **MOVE)
    assert aws.trust("shop")["Statement"] == [dict(blue("shop:api"), Sid="Shop"), green("shop:api")]


def test_a_role_that_already_trusts_the_new_provider_loses_only_the_old_statement(aws):
    aws.role("both", [blue("shop:api"), green("shop:api")])
    assert aws.run(mode="add", **MOVE)["changed"] is False and aws.writes() == []
    result = aws.run(**MOVE)
    assert result["results"][0]["action"] == "moved"
    assert aws.trust("both")["Statement"] == [green("shop:api")]


def test_clusters_are_resolved_with_describe_cluster(aws):
    clusters = {name: {"name": name, "arn": "arn:aws:eks:%s:%s:cluster/%s" % (REGION, ACCOUNT, name),
                       "identity": {"oidc": {"issuer": "https://" + host}}, "status": "ACTIVE"}
                for name, host in (("blue", BLUE), ("green", GREEN))}
    aws.role("app", [blue("shop:app")])
    with mock.patch.object(irsa_aws, "describe_cluster", side_effect=lambda _c, name: clusters.get(name)):
        result = aws.run(from_cluster="blue", to_cluster="green")
        assert result["to_provider_arn"] == GREEN_ARN and result["from_provider_arn"] == BLUE_ARN
        assert aws.trust("app")["Statement"] == [green("shop:app")]
        gone = aws.run(from_cluster="old-blue", to_cluster="green")
    assert gone["failed"] and "from_cluster" in gone["msg"] and "from_provider" in gone["msg"], gone


def test_a_provider_host_path_takes_the_account_of_the_other_side(aws):
    aws.role("app", [blue("shop:app")])
    result = aws.run(from_provider="https://" + BLUE, to_provider=GREEN_ARN)
    assert result["from_provider_arn"] == BLUE_ARN and "GetCallerIdentity" not in aws.reads()
    assert aws.trust("app")["Statement"] == [green("shop:app")]


# --------------------------------------------------------------------------------------------
# ownership


def test_a_foreign_role_is_reported_and_left_untouched(aws):
    aws.role("ours", [blue("shop:ours")])
    aws.role("hand-made", [blue("shop:hand")], owned=False)
    before = aws.trust("hand-made")
    result = aws.run(**MOVE)
    assert "failed" not in result and result["changed"] is True
    assert [entry["name"] for entry in result["results"]] == ["ours"]
    [foreign] = result["foreign_roles"]
    assert foreign["name"] == "hand-made" and foreign["arn"] == "arn:aws:iam::%s:role/hand-made" % ACCOUNT
    assert "eks.irsa/managed-by" in foreign["reason"] and "adopt" in foreign["opt_in"]
    assert any("'hand-made'" in warning and "adopt" in warning for warning in result["warnings"])
    assert aws.trust("hand-made") == before
    assert aws.writes() == [("UpdateAssumeRolePolicy", "ours")]


def test_an_adopted_role_is_repointed_without_being_tagged(aws):
    aws.role("hand-made", [blue("shop:hand"), EC2_STATEMENT], owned=False)
    result = aws.run(adopt=["hand-made"], **MOVE)
    assert result["foreign_roles"] == [] and result["results"][0]["action"] == "moved"
    assert aws.trust("hand-made")["Statement"] == [green("shop:hand"), EC2_STATEMENT]
    assert aws.writes() == [("UpdateAssumeRolePolicy", "hand-made")]


def test_a_foreign_role_that_needs_no_change_is_only_unchanged(aws):
    aws.role("hand-made", [green("shop:hand")], owned=False)
    result = aws.run(**MOVE)
    assert result["foreign_roles"] == [] and result["unchanged_roles"] == ["hand-made"] and not result["warnings"]


# --------------------------------------------------------------------------------------------
# scope and refusals before any write


def test_roles_limits_the_scope_to_the_named_roles(aws):
    aws.role("app-0", [blue("shop:app-0")])
    aws.role("app-1", [blue("shop:app-1")])
    result = aws.run(roles=["app-1"], **MOVE)
    assert [entry["name"] for entry in result["results"]] == ["app-1"]
    assert aws.trust("app-0")["Statement"] == [blue("shop:app-0")]
    assert "ListRoles" not in aws.reads()


@pytest.mark.parametrize("args, message", [
    ({"roles": ["no-such-role"]}, "no IAM role named 'no-such-role'"),
    ({"roles": ["unrelated"]}, "trust neither the old provider"),
    ({"to_provider": BLUE_ARN}, "the same OIDC provider"),
    ({"to_provider": "https://oidc.eks.us-west-2.amazonaws.com/id/lower"}, "to_provider:"),
    ({"to_provider": "arn:aws:iam::210987654321:oidc-provider/" + GREEN}, "same account"),
    ({"trust_policy_size_limit": 0}, "trust_policy_size_limit"),
])
def test_bad_input_fails_before_any_write(aws, args, message):
    aws.role("app", [blue("shop:app")])
    aws.role("unrelated", [EC2_STATEMENT])
    result = aws.run(**dict(MOVE, **args))
    assert result["failed"] and message in result["msg"], result["msg"]
    assert result["changed"] is False and aws.writes() == []


def test_a_missing_new_provider_is_refused_before_any_write_in_check_mode_too(aws):
    aws.role("app", [blue("shop:app")])
    for check_mode in (True, False):
        result = aws.run(check_mode=check_mode, from_provider=BLUE_ARN, to_provider=OTHER_ARN)
        assert result["failed"] and "does not exist" in result["msg"] and "eks_oidc_provider" in result["msg"]
        assert "Nothing was written" in result["msg"] and aws.writes() == []
    assert aws.trust("app")["Statement"] == [blue("shop:app")]


def test_a_trust_policy_over_the_size_limit_stops_every_role_before_any_write(aws):
    aws.role("small", [blue("shop:small")])
    aws.role("large", [blue(*["shop:worker-%02d" % index for index in range(20)])])
    result = aws.run(mode="add", **MOVE)
    assert result["failed"] and "'large'" in result["msg"] and "'small'" not in result["msg"]
    assert "Nothing was written" in result["msg"] and "trust_policy_size_limit" in result["msg"]
    assert aws.writes() == []
    # With the limit raised (after a quota increase) both are written.
    assert aws.run(mode="add", trust_policy_size_limit=4096, **MOVE)["changed"] is True
    assert len(aws.writes()) == 2


def test_a_failure_after_some_writes_says_changed_and_which_roles_were_written(aws):
    for index in range(3):
        aws.role("app-%d" % index, [blue("shop:app-%d" % index)])
    aws.fail_roles["app-1"] = ("ServiceFailure", "The request processing has failed because of an unknown error.")
    result = aws.run(**MOVE)
    assert result["failed"] is True and result["changed"] is True
    assert result["written"] == ["app-0", "app-2"] and "Written: app-0, app-2" in result["msg"]
    assert "role 'app-1'" in result["msg"] and "ServiceFailure" in result["msg"]
    failed = [entry for entry in result["results"] if entry.get("failed")]
    assert [(entry["name"], entry["changed"]) for entry in failed] == [("app-1", False)]
    aws.fail_roles.clear()
    again = aws.run(**MOVE)
    assert aws.writes() == [("UpdateAssumeRolePolicy", "app-1")] and again["unchanged_roles"] == ["app-0", "app-2"]


def test_aws_errors_while_reading_are_messages_with_no_write(aws):
    with mock.patch.object(irsa_aws, "list_roles", side_effect=IrsaAWSError(
            message="Not allowed to list the IAM roles: the AWS identity in use lacks the IAM permission iam:ListRoles")):
        result = aws.run(**MOVE)
    assert result["failed"] and "iam:ListRoles" in result["msg"] and result["changed"] is False


# --------------------------------------------------------------------------------------------
# the trust policy, without AWS


@pytest.mark.parametrize("document, mode, expected", [
    # Another audience's statement is re-pointed with its audience.
    ([irsa(BLUE, BLUE_ARN, [SA + "a:b"]) | {"Condition": {"StringEquals": {BLUE + ":aud": "vault", BLUE + ":sub": SA + "a:b"}}}],
     "move", [{"Effect": "Allow", "Principal": {"Federated": GREEN_ARN}, "Action": "sts:AssumeRoleWithWebIdentity",
               "Condition": {"StringEquals": {GREEN + ":aud": "vault", GREEN + ":sub": SA + "a:b"}}}]),
    # A principal given as a list of one keeps that shape.
    ([blue("a:b") | {"Principal": {"Federated": [BLUE_ARN]}}], "move", [green("a:b") | {"Principal": {"Federated": [GREEN_ARN]}}]),
    # Subjects the new statements already grant are not added twice.
    ([blue("a:b"), green("a:b", "a:c")], "add", [blue("a:b"), green("a:b", "a:c")]),
    # Two old statements, one already covered.
    ([blue("a:b"), blue("a:c"), green("a:c")], "move", [green("a:b"), green("a:c")]),
    # '*' under StringEquals is not an IRSA statement: kept as it is.
    ([irsa(BLUE, BLUE_ARN, [SA + "a:*"])], "move", [irsa(BLUE, BLUE_ARN, [SA + "a:*"])]),
])
def test_repointed_trust(document, mode, expected):
    policy = {"Version": "2012-10-17", "Statement": document}
    original = copy.deepcopy(policy)
    assert repoint.repointed_trust(policy, BLUE_ARN, GREEN_ARN, mode)["Statement"] == expected
    assert policy == original
