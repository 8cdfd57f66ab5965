# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""irsa_role run end to end (main()) against moto's in-memory IAM/STS, every AWS call recorded."""

import json
from unittest import mock

import boto3
import pytest

from ansible_collections.eks.irsa.plugins.module_utils import aws as irsa_aws
from ansible_collections.eks.irsa.plugins.module_utils import iam as irsa_iam
from ansible_collections.eks.irsa.plugins.module_utils import role_apply
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.modules import irsa_role

ACCOUNT = "123456789012"  # moto's account
REGION = "us-west-2"
BLUE = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
GREEN = "oidc.eks.us-west-2.amazonaws.com/id/B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6"
BLUE_ARN = "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, BLUE)
GREEN_ARN = "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, GREEN)
SA = "system:serviceaccount:"
READ_PREFIXES = ("Get", "List", "Describe")
EC2_STATEMENT = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
S3_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


class AWS:
    """moto with the two providers registered; records every call irsa_role makes."""

    def __init__(self, run_main):
        self.run_main = run_main
        self.calls = []
        self.failures = {}
        self.iam = boto3.client("iam", region_name=REGION)
        for host in (BLUE, GREEN):
            self.iam.create_open_id_connect_provider(
                Url="https://" + host, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
            )

    def record(self, model, **_kwargs):
        self.calls.append(model.name)
        if model.name in self.failures:
            # AWS answers this call with an error (botocore takes a before-call response as the answer).
            code, message = self.failures[model.name]
            return mock.Mock(status_code=400), {"Error": {"Code": code, "Message": message},
                                                "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None

    def reads(self):
        return [name for name in self.calls if name.startswith(READ_PREFIXES)]

    def writes(self):
        return [name for name in self.calls if not name.startswith(READ_PREFIXES)]

    def run(self, check_mode=False, diff=True, **args):
        """Run the module; return its result dict (with 'failed' when it failed)."""
        self.calls = []
        return self.run_main(irsa_role.main, self.record, check_mode, diff, **args)


@pytest.fixture
def aws(moto, module_runner):
    with moto():
        yield AWS(module_runner)


OWNER_TAG = "eks.irsa/managed-by"


def base(**extra):
    args = {"name": "AWSIRSATestRole", "oidc_provider": BLUE_ARN, "service_accounts": ["default:irsa-test"]}
    args.update(extra)
    return args


def irsa_statement(provider, provider_arn, subs, like=False):
    sub = subs[0] if len(subs) == 1 else subs
    condition = {"StringEquals": {provider + ":aud": "sts.amazonaws.com"}}
    condition["StringLike" if like else "StringEquals"][provider + ":sub"] = sub
    return {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }


def stored_trust(aws, name="AWSIRSATestRole"):
    return aws.iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]


# --------------------------------------------------------------------------------------------
# the create / modify / delete cycle


def test_create_check_mode_predicts_the_real_run(aws):
    predicted = aws.run(check_mode=True, **base())
    assert predicted["changed"] is True
    assert aws.writes() == []
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName="AWSIRSATestRole")

    real = aws.run(**base())
    assert real["changed"] is True
    assert real["diff"] == predicted["diff"]
    assert aws.writes() == ["CreateRole"]
    expected = {"Version": "2012-10-17", "Statement": [irsa_statement(BLUE, BLUE_ARN, [SA + "default:irsa-test"])]}
    assert stored_trust(aws) == expected
    assert real["role"]["trust_policy"] == expected
    assert real["role"]["arn"] == predicted["role"]["arn"] == "arn:aws:iam::%s:role/AWSIRSATestRole" % ACCOUNT
    assert real["role"]["role_id"] and real["role"]["create_date"]
    assert predicted["role"]["role_id"] is None
    for key in ("trust_policy", "managed_policies", "inline_policies", "tags", "path", "max_session_duration"):
        assert real["role"][key] == predicted["role"][key], key


def test_noop_makes_no_write_and_one_read(aws):
    created = aws.run(**base(tags={"team": "a"}, description="d", max_session_duration=7200))
    assert created["role"]["managed_policies"] == [] and created["role"]["inline_policies"] == []
    again = aws.run(**base(tags={"team": "a"}, description="d", max_session_duration=7200))
    assert again["changed"] is False
    assert aws.writes() == []
    # Policies the task does not manage are neither read nor reported.
    assert aws.reads() == ["GetRole"]
    assert "managed_policies" not in again["role"] and "inline_policies" not in again["role"]
    assert "managed_policies" not in again["diff"]["before"] and "managed_policies" not in again["diff"]["after"]
    assert again["role"]["tags"] == {"team": "a", OWNER_TAG: "eks.irsa"}
    assert again["role"]["max_session_duration"] == 7200


def test_noop_with_managed_policies_reads_the_attached_ones(aws):
    policy_arn = aws.iam.create_policy(PolicyName="reader", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    args = base(managed_policies=[policy_arn])
    assert aws.run(**args)["changed"] is True
    again = aws.run(**args)
    assert again["changed"] is False and aws.writes() == []
    assert sorted(aws.reads()) == ["GetRole", "ListAttachedRolePolicies"]
    assert again["role"]["managed_policies"] == [policy_arn]
    assert "inline_policies" not in again["role"]
    # A task that no longer names the policy leaves it attached.
    assert aws.run(**base())["changed"] is False
    assert aws.iam.list_attached_role_policies(RoleName="AWSIRSATestRole")["AttachedPolicies"]


def test_noop_with_inline_policies_reads_one_document_each(aws):
    args = base(inline_policies={"read": S3_READ, "read-json": json.dumps(S3_READ)})
    assert aws.run(**args)["changed"] is True
    again = aws.run(**args)
    assert again["changed"] is False
    assert aws.writes() == []
    assert sorted(aws.reads()) == ["GetRole", "GetRolePolicy", "GetRolePolicy", "ListRolePolicies"]
    assert again["role"]["inline_policies"] == ["read", "read-json"]


def test_modify_cycle_check_mode_equals_real(aws):
    aws.run(**base())
    modify = base(service_accounts=["default:irsa-test", "prod:*"], description="new", tags={"k": "v"})
    predicted = aws.run(check_mode=True, **modify)
    assert predicted["changed"] is True and aws.writes() == []
    real = aws.run(**modify)
    assert real["changed"] is True
    assert real["diff"] == predicted["diff"]
    assert real["diff"]["before"]["trust_policy"]["Statement"][0]["Condition"]["StringEquals"][BLUE + ":sub"] == (
        SA + "default:irsa-test"
    )
    condition = stored_trust(aws)["Statement"][0]["Condition"]
    # a wildcard moves the subjects under StringLike, :aud stays StringEquals
    assert condition == {
        "StringEquals": {BLUE + ":aud": "sts.amazonaws.com"},
        "StringLike": {BLUE + ":sub": [SA + "default:irsa-test", SA + "prod:*"]},
    }
    assert aws.run(**modify)["changed"] is False


def test_delete_cycle(aws):
    policy_arn = aws.iam.create_policy(PolicyName="reader", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    aws.run(**base(managed_policies=["reader"], inline_policies={"inline": S3_READ}))
    aws.iam.create_instance_profile(InstanceProfileName="profile")
    aws.iam.add_role_to_instance_profile(InstanceProfileName="profile", RoleName="AWSIRSATestRole")

    predicted = aws.run(check_mode=True, name="AWSIRSATestRole", state="absent")
    assert predicted["changed"] is True and aws.writes() == []
    assert predicted["diff"]["before"]["managed_policies"] == [policy_arn]
    real = aws.run(name="AWSIRSATestRole", state="absent")
    assert real["changed"] is True and real["diff"] == predicted["diff"]
    assert sorted(aws.writes()) == ["DeleteRole", "DeleteRolePolicy", "DetachRolePolicy", "RemoveRoleFromInstanceProfile"]
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName="AWSIRSATestRole")
    again = aws.run(name="AWSIRSATestRole", state="absent")
    assert again["changed"] is False and aws.writes() == []
    assert aws.run(check_mode=True, name="AWSIRSATestRole", state="absent")["changed"] is False


# --------------------------------------------------------------------------------------------
# trust merging on a real role


def test_foreign_statements_are_preserved(aws):
    foreign = [
        EC2_STATEMENT,
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "sts:AssumeRole"},
        {
            "Effect": "Deny",
            "Principal": {"Federated": BLUE_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringLike": {BLUE + ":sub": SA + "kube-system:*"}},
        },
    ]
    aws.iam.create_role(RoleName="AWSIRSATestRole", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": foreign}))
    # Made by someone else: adopted by name only.
    result = aws.run(**base(adopt=True))
    assert result["changed"] is True and result["adopted"] is True
    assert stored_trust(aws)["Statement"] == foreign + [irsa_statement(BLUE, BLUE_ARN, [SA + "default:irsa-test"])]
    assert aws.run(**base())["changed"] is False

    exclusive = aws.run(**base(purge_trust_statements=True))
    assert exclusive["changed"] is True
    assert stored_trust(aws)["Statement"] == [irsa_statement(BLUE, BLUE_ARN, [SA + "default:irsa-test"])]


def test_purge_service_accounts_false_adds(aws):
    aws.run(**base())
    result = aws.run(**base(service_accounts=["other:app"], purge_service_accounts=False))
    assert result["changed"] is True
    assert stored_trust(aws)["Statement"][0]["Condition"]["StringEquals"][BLUE + ":sub"] == [
        SA + "default:irsa-test",
        SA + "other:app",
    ]
    assert aws.run(**base(service_accounts=["other:app"], purge_service_accounts=False))["changed"] is False


def test_warns_about_star_under_stringequals(aws):
    broken = irsa_statement(BLUE, BLUE_ARN, [SA + "default:*"])
    aws.iam.create_role(RoleName="AWSIRSATestRole", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [broken]}))
    result = aws.run(**base(adopt=True))
    assert any("StringEquals" in warning and "never matches" in warning for warning in result.get("warnings", []))


def test_two_providers_then_one_absent(aws):
    both = [
        {"provider": BLUE_ARN, "service_accounts": ["pay:api"]},
        {"provider": "https://" + GREEN, "service_accounts": ["pay:api"]},
    ]
    result = aws.run(name="shared", oidc_providers=both)
    assert result["changed"] is True
    assert stored_trust(aws, "shared")["Statement"] == [
        irsa_statement(BLUE, BLUE_ARN, [SA + "pay:api"]),
        irsa_statement(GREEN, GREEN_ARN, [SA + "pay:api"]),
    ]
    assert aws.run(name="shared", oidc_providers=both)["changed"] is False

    # dropping green from the list keeps its statement (not ours any more) ...
    assert aws.run(name="shared", oidc_providers=both[:1])["changed"] is False
    # ... state: absent removes only green's
    retire = [both[0], {"provider": GREEN, "state": "absent"}]
    assert aws.run(name="shared", oidc_providers=retire, check_mode=True)["changed"] is True
    assert aws.run(name="shared", oidc_providers=retire)["changed"] is True
    assert stored_trust(aws, "shared")["Statement"] == [irsa_statement(BLUE, BLUE_ARN, [SA + "pay:api"])]
    assert aws.run(name="shared", oidc_providers=retire)["changed"] is False


def test_provider_host_path_uses_caller_account(aws):
    result = aws.run(**base(oidc_provider=BLUE))
    assert result["changed"] is True
    assert stored_trust(aws)["Statement"][0]["Principal"]["Federated"] == BLUE_ARN


def test_cluster_name_resolves_with_one_describe_cluster(aws):
    cluster = {
        "name": "blue",
        "arn": "arn:aws:eks:%s:%s:cluster/blue" % (REGION, ACCOUNT),
        "identity": {"oidc": {"issuer": "https://" + BLUE}},
        "status": "ACTIVE",
    }
    with mock.patch.object(irsa_aws, "lookup_cluster", return_value=cluster) as lookup:
        args = base(cluster_name="blue")
        del args["oidc_provider"]
        assert aws.run(**args)["changed"] is True
        assert aws.run(**args)["changed"] is False
        assert len(aws.reads()) <= 3
        assert lookup.call_count == 2
    assert stored_trust(aws)["Statement"][0]["Principal"]["Federated"] == BLUE_ARN


def test_missing_oidc_provider_fails_before_create(aws):
    missing = "arn:aws:iam::%s:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/0000000000000000000000000000DEAD" % ACCOUNT
    result = aws.run(**base(oidc_provider=missing))
    assert result["failed"] and "does not exist" in result["msg"] and "eks_oidc_provider" in result["msg"]
    assert aws.writes() == []


# --------------------------------------------------------------------------------------------
# policies, boundary, tags


def test_managed_policies_by_name_and_purge(aws):
    reader = aws.iam.create_policy(PolicyName="reader", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    writer = aws.iam.create_policy(PolicyName="writer", PolicyDocument=json.dumps(S3_READ), Path="/team/")["Policy"]["Arn"]
    result = aws.run(**base(managed_policies=["reader", writer]))
    assert result["role"]["managed_policies"] == sorted([reader, writer])
    # names of attached policies resolve without ListPolicies
    again = aws.run(**base(managed_policies=["reader", "writer"]))
    assert again["changed"] is False and "ListPolicies" not in aws.calls
    # not given: left alone
    assert aws.run(**base())["changed"] is False
    # purge false keeps; [] with purge detaches all
    assert aws.run(**base(managed_policies=[], purge_managed_policies=False))["changed"] is False
    detached = aws.run(**base(managed_policies=[]))
    assert detached["changed"] is True and detached["role"]["managed_policies"] == []
    assert aws.writes() == ["DetachRolePolicy", "DetachRolePolicy"]


def test_permissions_boundary_by_name_then_removed(aws):
    boundary = aws.iam.create_policy(PolicyName="boundary", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    assert aws.run(**base(permissions_boundary="boundary"))["role"]["permissions_boundary"] == boundary
    assert aws.run(**base(permissions_boundary="boundary"))["changed"] is False
    assert aws.run(**base(permissions_boundary=boundary))["changed"] is False
    removed = aws.run(**base(permissions_boundary=""))
    assert removed["changed"] is True and removed["role"]["permissions_boundary"] is None


def test_inline_policies_update_and_purge(aws):
    aws.run(**base(inline_policies={"a": S3_READ, "b": S3_READ}))
    changed_doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
    predicted = aws.run(check_mode=True, **base(inline_policies={"a": changed_doc}))
    real = aws.run(**base(inline_policies={"a": changed_doc}))
    assert predicted["diff"] == real["diff"]
    assert real["diff"]["before"]["inline_policies"] == {"a": S3_READ, "b": S3_READ}
    assert real["diff"]["after"]["inline_policies"] == {"a": changed_doc}
    assert sorted(aws.writes()) == ["DeleteRolePolicy", "PutRolePolicy"]
    assert aws.iam.list_role_policies(RoleName="AWSIRSATestRole")["PolicyNames"] == ["a"]
    assert aws.run(**base(inline_policies={"c": S3_READ}, purge_inline_policies=False))["role"]["inline_policies"] == ["a", "c"]


def test_tags_purge(aws):
    aws.run(**base(tags={"a": "1", "b": "2"}))
    result = aws.run(**base(tags={"a": "1"}, purge_tags=False))
    assert result["changed"] is False
    result = aws.run(**base(tags={"a": "3"}))
    assert result["changed"] is True and result["role"]["tags"] == {"a": "3", OWNER_TAG: "eks.irsa"}


# --------------------------------------------------------------------------------------------
# ownership: only roles the collection created (or adopts by name) are changed beyond adding, or deleted


def _foreign(aws, statements, name="AWSIRSATestRole", tags=None):
    aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
                        Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()])
    aws.calls.clear()


def test_a_created_role_carries_the_ownership_tag(aws):
    created = aws.run(**base())
    assert created["adopted"] is False
    tags = aws.iam.list_role_tags(RoleName="AWSIRSATestRole")["Tags"]
    assert tags == [{"Key": OWNER_TAG, "Value": "eks.irsa"}]


def test_a_foreign_role_is_refused_before_any_write(aws):
    _foreign(aws, [EC2_STATEMENT])
    for check_mode in (True, False):
        result = aws.run(check_mode=check_mode, **base())
        assert result["failed"] is True and result["changed"] is False and aws.writes() == []
        assert result["foreign_role"] == "AWSIRSATestRole"
        assert "was not created by eks.irsa" in result["msg"] and "adopt: true" in result["msg"]
        assert "irsa_adopt_roles" in result["msg"]
    assert stored_trust(aws)["Statement"] == [EC2_STATEMENT]
    assert aws.iam.list_role_tags(RoleName="AWSIRSATestRole")["Tags"] == []


def test_a_role_exactly_as_the_collection_writes_it_is_adopted_with_only_the_tag(aws):
    """Roles made before roles were tagged: same trust, nothing else to change."""
    _foreign(aws, [irsa_statement(BLUE, BLUE_ARN, [SA + "default:irsa-test"])])
    predicted = aws.run(check_mode=True, **base())
    assert predicted["changed"] is True and predicted["adopted"] is True and aws.writes() == []
    result = aws.run(**base())
    assert result["changed"] is True and result["adopted"] is True
    assert aws.writes() == ["TagRole"]
    again = aws.run(**base())
    assert again["changed"] is False and again["adopted"] is False and aws.writes() == []


def test_a_foreign_role_with_other_tags_is_not_adopted_when_the_task_would_purge_them(aws):
    _foreign(aws, [irsa_statement(BLUE, BLUE_ARN, [SA + "default:irsa-test"])], tags={"owner": "someone"})
    result = aws.run(**base(tags={"team": "a"}))
    assert result["failed"] is True and aws.writes() == []
    assert "tags owner, team" in result["msg"]


def test_delete_refuses_a_role_that_is_not_ours(aws):
    _foreign(aws, [EC2_STATEMENT])
    for check_mode in (True, False):
        result = aws.run(check_mode=check_mode, name="AWSIRSATestRole", state="absent")
        assert result["failed"] is True and aws.writes() == []
        assert "not deleted" in result["msg"] and "irsa_adopt_roles" in result["msg"]
    assert aws.iam.get_role(RoleName="AWSIRSATestRole")
    adopted = aws.run(name="AWSIRSATestRole", state="absent", adopt=True)
    assert adopted["changed"] is True and adopted["deleted"] is True


def test_unbind_removes_only_the_given_service_accounts(aws):
    aws.run(**base(service_accounts=["default:irsa-test", "default:worker"]))
    aws.calls.clear()
    unbind = dict(name="AWSIRSATestRole", state="absent", oidc_provider=BLUE_ARN, service_accounts=["default:irsa-test"])
    predicted = aws.run(check_mode=True, **unbind)
    assert predicted["changed"] is True and predicted["deleted"] is False and aws.writes() == []
    real = aws.run(**unbind)
    assert real["diff"] == predicted["diff"] and real["deleted"] is False
    assert aws.writes() == ["UpdateAssumeRolePolicy"]
    assert stored_trust(aws)["Statement"] == [irsa_statement(BLUE, BLUE_ARN, [SA + "default:worker"])]
    assert aws.run(**unbind)["changed"] is False and aws.writes() == []
    # the last ServiceAccount goes: nothing is left in the trust, and the role is ours, so it goes too
    last = dict(unbind, service_accounts=["default:worker"])
    assert aws.run(check_mode=True, **last)["deleted"] is True and aws.writes() == []
    assert aws.run(**last)["deleted"] is True
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName="AWSIRSATestRole")


def test_unbind_keeps_a_role_with_another_cluster_or_a_foreign_statement(aws):
    aws.run(name="shared", oidc_providers=[{"provider": BLUE_ARN, "service_accounts": ["pay:api"]},
                                           {"provider": GREEN_ARN, "service_accounts": ["pay:api"]}])
    result = aws.run(name="shared", state="absent", oidc_provider=GREEN_ARN, service_accounts=["pay:api"])
    assert result["changed"] is True and result["deleted"] is False
    assert stored_trust(aws, "shared")["Statement"] == [irsa_statement(BLUE, BLUE_ARN, [SA + "pay:api"])]

    aws.run(**base(adopt=True))
    trust_policy = stored_trust(aws)
    trust_policy["Statement"].append(EC2_STATEMENT)
    aws.iam.update_assume_role_policy(RoleName="AWSIRSATestRole", PolicyDocument=json.dumps(trust_policy))
    result = aws.run(name="AWSIRSATestRole", state="absent", oidc_provider=BLUE_ARN, service_accounts=["default:irsa-test"])
    assert result["changed"] is True and result["deleted"] is False
    assert stored_trust(aws)["Statement"] == [EC2_STATEMENT]


def test_unbind_leaves_a_foreign_role_alone(aws):
    # A hand-made EC2 role that never trusted the ServiceAccount: nothing to do, nothing deleted.
    _foreign(aws, [EC2_STATEMENT], name="hand-role")
    result = aws.run(name="hand-role", state="absent", oidc_provider=BLUE_ARN, service_accounts=["default:case-b"])
    assert result.get("failed") is not True and result["changed"] is False and result["owned"] is False
    assert aws.writes() == []
    # A foreign role that does trust it: refused, with the way to opt in.
    _foreign(aws, [irsa_statement(BLUE, BLUE_ARN, [SA + "default:case-b"])], name="hand-irsa")
    result = aws.run(name="hand-irsa", state="absent", oidc_provider=BLUE_ARN, service_accounts=["default:case-b"])
    assert result["failed"] is True and aws.writes() == [] and "irsa_adopt_roles" in result["msg"]
    assert aws.iam.get_role(RoleName="hand-irsa")


# --------------------------------------------------------------------------------------------
# errors: all before any write


BAD_INPUTS = [
    ("name-characters", base(name="bad name!"), "not a valid IAM role name"),
    ("name-too-long", base(name="r" * 65), "65 characters"),
    ("path-not-slashed", base(path="irsa"), "must begin and end with '/'"),
    ("inline-json", base(inline_policies={"p": "{not json"}), "is not valid JSON"),
    ("inline-not-policy", base(inline_policies={"p": {"Effect": "Allow"}}), "not a policy document"),
    ("namespace-dns1123", base(service_accounts=["Default:app"]), "not a valid Kubernetes namespace"),
    ("name-dns1123", base(service_accounts=["default:App_1"]), "not a valid Kubernetes name"),
    ("not-namespace-name", base(service_accounts=["app"]), "namespace:name"),
    ("empty-service-accounts", base(service_accounts=[]), "service_accounts is empty"),
    ("no-trust", {"name": "r"}, "no trust is given"),
    ("both-provider-forms", base(oidc_providers=[{"provider": BLUE_ARN, "service_accounts": ["a:b"]}]), "mutually exclusive"),
    ("session-duration", base(max_session_duration=60), "3600 to 43200"),
    ("issuer-http", base(oidc_provider="http://" + BLUE), "https"),
    ("provider-entry-without-sa", {"name": "r", "oidc_providers": [{"provider": BLUE_ARN}]}, "has no service_accounts"),
    (
        "provider-listed-twice",
        {"name": "r", "oidc_providers": [{"provider": BLUE_ARN, "service_accounts": ["a:b"]}, {"provider": BLUE, "service_accounts": ["a:c"]}]},
        "listed twice",
    ),
    ("unknown-managed-policy", base(managed_policies=["NoSuchPolicy"]), "no managed policy named 'NoSuchPolicy'"),
    ("unknown-managed-arn", base(managed_policies=["arn:aws:iam::%s:policy/nope" % ACCOUNT]), "does not exist"),
    ("bad-managed-arn", base(managed_policies=["arn:aws:s3:::bucket"]), "is not a managed policy ARN"),
    ("unknown-boundary", base(permissions_boundary="nope"), "no managed policy named 'nope'"),
]


@pytest.mark.parametrize("args, message", [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_fails_before_any_write(aws, args, message):
    result = aws.run(**args)
    assert result.get("failed"), result
    assert message in result["msg"]
    assert "Traceback" not in result["msg"]
    assert aws.writes() == []


def test_path_of_existing_role_cannot_change(aws):
    aws.run(**base())
    result = aws.run(**base(path="/irsa/"))
    assert result["failed"] and "cannot change the path" in result["msg"] and "path: /" in result["msg"]
    assert aws.writes() == []


def test_unknown_policy_name_leaves_no_role_behind(aws):
    aws.run(**base(managed_policies=["missing"]))
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName="AWSIRSATestRole")


def test_trust_size_limit(aws):
    many = ["namespace-%03d:service-account-%03d" % (i, i) for i in range(40)]
    result = aws.run(**base(service_accounts=many))
    assert result["failed"]
    for advice in ("over the limit of 2048", "wildcard", "second role", "quota"):
        assert advice in result["msg"]
    assert aws.writes() == []
    # a raised limit (after a quota increase) lets it through
    assert aws.run(**base(service_accounts=many, trust_policy_size_limit=4096))["changed"] is True


def test_size_checked_before_update(aws):
    aws.run(**base())
    result = aws.run(**base(service_accounts=["default:irsa-test"], trust_policy_size_limit=100))
    assert result["failed"] and "over the limit of 100" in result["msg"]
    assert aws.writes() == []


def test_a_role_created_meanwhile_by_another_run_is_converged_on(aws):
    """Two runs create the same role at once: the one whose CreateRole loses (EntityAlreadyExists) adds its
    ServiceAccount to what the other made instead of failing."""
    other = {"Version": "2012-10-17", "Statement": [irsa_statement(BLUE, BLUE_ARN, [SA + "default:other"])]}
    with mock.patch.object(irsa_iam, "create_role", side_effect=_racing_create(aws, other)), \
            mock.patch.object(role_apply.time, "sleep"):
        result = aws.run(**base(purge_service_accounts=False))
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    subjects = json.dumps(stored_trust(aws))
    assert SA + "default:other" in subjects and SA + "default:irsa-test" in subjects
    assert "UpdateAssumeRolePolicy" in aws.writes()


def _racing_create(aws, other):
    """A create_role whose role was made by someone else a moment before: IAM answers EntityAlreadyExists."""
    from botocore.exceptions import ClientError

    def create_role(_client, name, *_args, **_kwargs):
        aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(other), Tags=[{"Key": OWNER_TAG, "Value": "eks.irsa"}])
        error = ClientError({"Error": {"Code": "EntityAlreadyExists", "Message": "Role with name %s already exists." % name}},
                            "CreateRole")
        raise IrsaAWSError(message="Failed to create role", exception=error)

    return create_role


def _subjects_in(document):
    text = json.dumps(document)
    return sorted(name for name in ("first", "theirs", "ours") if SA + "default:" + name in text)


def test_merge_mode_merges_again_when_a_concurrent_writer_drops_its_subjects(aws):
    """Another run read the trust before our write and wrote after it (IAM has no conditional write): the
    re-read after the pause sees our ServiceAccount gone, and merges it back in, keeping theirs."""
    aws.run(**base(service_accounts=["default:first"]))
    theirs = {"Version": "2012-10-17", "Statement": [irsa_statement(BLUE, BLUE_ARN, [SA + "default:first", SA + "default:theirs"])]}
    pauses = []

    def concurrent_writer(seconds):
        pauses.append(seconds)
        if len(pauses) == 1:
            aws.iam.update_assume_role_policy(RoleName="AWSIRSATestRole", PolicyDocument=json.dumps(theirs))

    with mock.patch.object(role_apply.time, "sleep", concurrent_writer):
        result = aws.run(**base(service_accounts=["default:ours"], purge_service_accounts=False))
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert _subjects_in(stored_trust(aws)) == ["first", "ours", "theirs"]
    assert _subjects_in(result["role"]["trust_policy"]) == ["first", "ours", "theirs"]
    assert aws.writes().count("UpdateAssumeRolePolicy") == 2
    assert len(pauses) == 2 and all(p >= role_apply.TRUST_RECHECK_DELAY for p in pauses)


def test_merge_mode_without_a_concurrent_writer_checks_once(aws):
    aws.run(**base(service_accounts=["default:first"]))
    with mock.patch.object(role_apply.time, "sleep") as pause:
        result = aws.run(**base(service_accounts=["default:ours"], purge_service_accounts=False))
    assert result["changed"] is True and pause.call_count == 1
    assert aws.writes() == ["UpdateAssumeRolePolicy"]
    assert _subjects_in(stored_trust(aws)) == ["first", "ours"]


def test_purge_mode_owns_the_trust_and_does_not_recheck(aws):
    aws.run(**base(service_accounts=["default:first"]))
    with mock.patch.object(role_apply.time, "sleep") as pause:
        result = aws.run(**base(service_accounts=["default:ours"]))
    assert result["changed"] is True and pause.call_count == 0
    assert _subjects_in(stored_trust(aws)) == ["ours"]


def test_merge_mode_gives_up_on_a_writer_that_keeps_replacing_the_trust(aws):
    aws.run(**base(service_accounts=["default:first"]))
    theirs = {"Version": "2012-10-17", "Statement": [irsa_statement(BLUE, BLUE_ARN, [SA + "default:theirs"])]}

    def relentless_writer(_seconds):
        aws.iam.update_assume_role_policy(RoleName="AWSIRSATestRole", PolicyDocument=json.dumps(theirs))

    with mock.patch.object(role_apply.time, "sleep", relentless_writer):
        result = aws.run(**base(service_accounts=["default:ours"], purge_service_accounts=False))
    assert result["failed"] is True
    assert "another writer keeps replacing it" in result["msg"]
    assert "purge_service_accounts: true" in result["msg"]


# --------------------------------------------------------------------------------------------
# trust policies carry no wildcard the user did not ask for


NAMES = ["app", "api.v2", "x1-y2", "a" * 63, "b" * 253]
NAMESPACES = ["default", "kube-system", "team-a", "n" * 63]


def _exact_accounts(count, offset=0):
    return ["%s:%s" % (NAMESPACES[(offset + i) % len(NAMESPACES)], NAMES[(offset + 2 * i) % len(NAMES)]) for i in range(count)]


def _wildcard_matrix():
    cases = []
    for count in (1, 2, 4):
        for audience in (None, "sts.amazonaws.com", "https://vault.example.com/aud"):
            one = {"oidc_provider": BLUE_ARN, "service_accounts": _exact_accounts(count, count)}
            if audience:
                one["audience"] = audience
            cases.append(pytest.param(one, id="one-cluster-%d-sa-%s" % (count, audience or "default-aud")))
    cases += [
        pytest.param({"oidc_provider": "https://" + GREEN,
                      "service_accounts": [{"namespace": "prod", "name": "api"}, "system:serviceaccount:prod:worker"]},
                     id="dict-and-subject-forms"),
        pytest.param({"oidc_providers": [{"provider": BLUE_ARN, "service_accounts": _exact_accounts(3)},
                                         {"provider": GREEN, "service_accounts": _exact_accounts(2, 1), "audience": "other-aud"}]},
                     id="two-clusters"),
        pytest.param({"oidc_providers": [{"provider": BLUE_ARN, "service_accounts": ["prod:*", "default:app"]},
                                         {"provider": GREEN_ARN, "service_accounts": ["prod:api"]}]},
                     id="two-clusters-star-in-one"),
        pytest.param({"oidc_providers": [{"provider": BLUE_ARN, "service_accounts": ["prod:api"]},
                                         {"provider": GREEN_ARN, "service_accounts": ["team-?:reader"]}]},
                     id="two-clusters-question-mark-in-one"),
        pytest.param({"oidc_provider": BLUE_ARN, "service_accounts": ["*:app"]}, id="any-namespace"),
    ]
    return cases


def _asked_for_wildcards(args):
    """{provider host: whether the user's ServiceAccounts of that provider hold * or ?}."""
    providers = args.get("oidc_providers") or [{"provider": args["oidc_provider"], "service_accounts": args["service_accounts"]}]
    asked = {}
    for entry in providers:
        host = entry["provider"].split("oidc-provider/")[-1].replace("https://", "")
        asked[host] = "*" in json.dumps(entry["service_accounts"]) or "?" in json.dumps(entry["service_accounts"])
    return asked


def _wildcard_problems(document, asked):
    problems = []
    for index, statement in enumerate(document["Statement"]):
        host = statement["Principal"]["Federated"].split("oidc-provider/")[-1]
        text = json.dumps(statement)
        has_wildcard = "*" in text or "?" in text
        if has_wildcard != asked[host]:
            problems.append("statement %d (%s): wildcard %s, asked for %s" % (index, host, has_wildcard, asked[host]))
        operators = sorted(statement["Condition"])
        expected = ["StringEquals", "StringLike"] if asked[host] else ["StringEquals"]
        if operators != expected:
            problems.append("statement %d (%s): operators %s, expected %s" % (index, host, operators, expected))
        if asked[host] and list(statement["Condition"]["StringLike"]) != [host + ":sub"]:
            problems.append("statement %d: StringLike holds more than :sub" % index)
        if statement["Action"] != "sts:AssumeRoleWithWebIdentity":
            problems.append("statement %d: action %s" % (index, statement["Action"]))
    if sorted(_statement_hosts(document)) != sorted(asked):
        problems.append("statements for %s, asked for %s" % (sorted(_statement_hosts(document)), sorted(asked)))
    return problems


def _statement_hosts(document):
    return [statement["Principal"]["Federated"].split("oidc-provider/")[-1] for statement in document["Statement"]]


@pytest.mark.parametrize("args", _wildcard_matrix())
def test_trust_holds_wildcards_only_where_the_user_wrote_them(aws, args):
    result = aws.run(name="matrix", **args)
    assert result.get("failed") is not True, result.get("msg")
    asked = _asked_for_wildcards(args)
    for document in (stored_trust(aws, "matrix"), result["role"]["trust_policy"]):
        assert _wildcard_problems(document, asked) == []
    if not any(asked.values()):
        assert "*" not in json.dumps(stored_trust(aws, "matrix")) and "?" not in json.dumps(stored_trust(aws, "matrix"))


def test_a_wildcard_dropped_by_the_user_leaves_the_trust(aws):
    aws.run(name="narrowed", oidc_provider=BLUE_ARN, service_accounts=["prod:*"])
    assert "StringLike" in stored_trust(aws, "narrowed")["Statement"][0]["Condition"]
    result = aws.run(name="narrowed", oidc_provider=BLUE_ARN, service_accounts=["prod:api", "prod:worker"])
    assert result["changed"] is True
    assert _wildcard_problems(stored_trust(aws, "narrowed"), {BLUE: False}) == []
    # adding an exact ServiceAccount to an exact trust keeps it exact
    with mock.patch.object(role_apply.time, "sleep"):
        aws.run(name="narrowed", oidc_provider=BLUE_ARN, service_accounts=["default:app"], purge_service_accounts=False)
    trust = stored_trust(aws, "narrowed")
    assert _wildcard_problems(trust, {BLUE: False}) == []
    assert trust["Statement"][0]["Condition"]["StringEquals"][BLUE + ":sub"] == [
        SA + "default:app", SA + "prod:api", SA + "prod:worker"]


def test_a_failure_after_the_role_was_created_still_reports_changed(aws):
    """The role was created, then attaching a policy failed: the task fails, and says the account changed,
    so that neither the user nor a handler takes the failed run for one that did nothing."""
    policy = aws.iam.create_policy(PolicyName="reader", PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    aws.failures["AttachRolePolicy"] = ("ServiceFailure", "The request processing has failed because of an unknown error.")
    result = aws.run(**base(managed_policies=[policy]))
    assert result["failed"] is True and result["changed"] is True, result
    assert "CreateRole" in aws.writes()
    aws.failures.clear()
    result = aws.run(**base(managed_policies=[policy]))
    assert result["changed"] is True and aws.writes() == ["AttachRolePolicy"]
    assert aws.run(**base(managed_policies=[policy]))["changed"] is False


def test_a_failure_before_any_write_reports_unchanged(aws):
    aws.failures["CreateRole"] = ("ServiceFailure", "The request processing has failed because of an unknown error.")
    result = aws.run(**base())
    assert result["failed"] is True and result["changed"] is False, result


def test_a_refused_secret_key_is_named_not_only_aws_error_code(aws):
    aws.failures["GetRole"] = ("SignatureDoesNotMatch",
                               "The request signature we calculated does not match the signature you provided.")
    result = aws.run(**base())
    assert result["failed"] and result["changed"] is False
    assert "AWS refused the credentials in use" in result["msg"], result["msg"]
    assert "secret_key" in result["msg"], result["msg"]
    assert "example" not in result["msg"].replace("EXAMPLE", "")  # the secret key itself is never shown
    assert aws.writes() == []


# --------------------------------------------------------------------------------------------
# roles: many roles in one module run, each with its own result


ROLES = [{"name": "app-%d" % index, "service_accounts": ["shop:app-%d" % index]} for index in range(5)]


def test_every_role_is_created_with_its_own_trust_and_result(aws):
    created = aws.run(roles=ROLES, oidc_provider=BLUE_ARN)
    assert created["changed"] is True and "failed" not in created
    assert [entry["name"] for entry in created["results"]] == ["app-%d" % index for index in range(5)]
    assert all(entry["changed"] for entry in created["results"])
    assert sorted(aws.writes()) == ["CreateRole"] * 5
    for index in range(5):
        assert stored_trust(aws, "app-%d" % index)["Statement"] == [irsa_statement(BLUE, BLUE_ARN, [SA + "shop:app-%d" % index])]
        assert created["results"][index]["role"]["arn"] == "arn:aws:iam::%s:role/app-%d" % (ACCOUNT, index)

    again = aws.run(roles=ROLES, oidc_provider=BLUE_ARN)
    assert again["changed"] is False and not any(entry["changed"] for entry in again["results"])
    # One read per role, and nothing else: no write, no second look at anything shared.
    assert aws.writes() == [] and sorted(aws.reads()) == ["GetRole"] * 5


def test_check_mode_predicts_every_role_and_writes_nothing(aws):
    predicted = aws.run(check_mode=True, roles=ROLES[:2], oidc_provider=BLUE_ARN)
    assert predicted["changed"] is True and aws.writes() == []
    assert [entry["changed"] for entry in predicted["results"]] == [True, True]
    real = aws.run(roles=ROLES[:2], oidc_provider=BLUE_ARN)
    for guess, made in zip(predicted["results"], real["results"]):
        assert guess["diff"] == made["diff"] and guess["role"]["arn"] == made["role"]["arn"]


def test_a_failing_role_does_not_stop_the_others(aws):
    aws.iam.create_role(RoleName="app-1", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [EC2_STATEMENT]}))
    result = aws.run(roles=ROLES[:3], oidc_provider=BLUE_ARN)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith("1 of 3 roles failed: role 'app-1' (roles[1]): ")
    assert "irsa_adopt_roles" in result["msg"]
    first, foreign, third = result["results"]
    assert foreign["failed"] is True and foreign["foreign_role"] == "app-1" and foreign["changed"] is False
    assert first["changed"] is True and third["changed"] is True and "failed" not in first
    # The foreign role is untouched, the others exist with their trust.
    assert stored_trust(aws, "app-1")["Statement"] == [EC2_STATEMENT]
    assert stored_trust(aws, "app-2")["Statement"] == [irsa_statement(BLUE, BLUE_ARN, [SA + "shop:app-2"])]
    assert sorted(aws.writes()) == ["CreateRole", "CreateRole"]


def test_items_take_the_task_options_and_override_them(aws):
    roles = [
        {"name": "blue-app", "service_accounts": ["shop:app"]},
        # Its own provider: the task's oidc_provider is not inherited with it (they exclude each other).
        {"name": "green-app", "oidc_providers": [{"provider": GREEN_ARN, "service_accounts": ["shop:app"]}]},
        {"role_name": "tagged", "service_accounts": ["shop:tagged"], "tags": {"team": "b"}},
    ]
    result = aws.run(roles=roles, oidc_provider=BLUE_ARN, tags={"team": "a"})
    assert "failed" not in result, result.get("msg")
    assert stored_trust(aws, "green-app")["Statement"][0]["Principal"]["Federated"] == GREEN_ARN
    assert stored_trust(aws, "blue-app")["Statement"][0]["Principal"]["Federated"] == BLUE_ARN
    tags = {t["Key"]: t["Value"] for t in aws.iam.list_role_tags(RoleName="tagged")["Tags"]}
    assert tags["team"] == "b"
    tags = {t["Key"]: t["Value"] for t in aws.iam.list_role_tags(RoleName="blue-app")["Tags"]}
    assert tags["team"] == "a"


def test_a_bad_item_fails_alone_and_says_which(aws):
    roles = [{"name": "good", "service_accounts": ["shop:good"]}, {"name": "bad", "service_acounts": ["shop:x"]}, "just-a-name",
             {"name": "empty", "service_accounts": []}]
    result = aws.run(roles=roles, oidc_provider=BLUE_ARN)
    assert result["failed"] is True
    good, bad, text, empty = result["results"]
    assert good["changed"] is True
    assert "roles[1] has unknown keys service_acounts" in bad["msg"] and "service_accounts" in bad["msg"]
    assert "roles[2] is 'just-a-name', not a dict" in text["msg"]
    assert "service_accounts is empty" in empty["msg"] and empty["msg"].startswith("role 'empty' (roles[3])")
    assert aws.writes() == ["CreateRole"]


def test_name_and_roles_exclude_each_other(aws):
    result = aws.run(name="x", roles=ROLES[:1], oidc_provider=BLUE_ARN)
    assert result["failed"] is True and "mutually exclusive" in result["msg"] and "name|roles" in result["msg"]
    assert aws.calls == []


def test_a_shared_cluster_is_described_once(aws):
    cluster = {"name": "blue", "arn": "arn:aws:eks:%s:%s:cluster/blue" % (REGION, ACCOUNT),
               "identity": {"oidc": {"issuer": "https://" + BLUE}}, "status": "ACTIVE"}
    with mock.patch.object(irsa_aws, "lookup_cluster", return_value=cluster) as lookup:
        result = aws.run(roles=ROLES, cluster_name="blue")
    assert "failed" not in result, result.get("msg")
    assert lookup.call_count == 1


def test_warnings_name_their_role(aws):
    wildcard = {"Version": "2012-10-17", "Statement": [dict(irsa_statement(BLUE, BLUE_ARN, [SA + "shop:*"]))]}
    aws.iam.create_role(RoleName="app-0", AssumeRolePolicyDocument=json.dumps(wildcard),
                        Tags=[{"Key": "eks.irsa/managed-by", "Value": "eks.irsa"}])
    result = aws.run(roles=ROLES[:2], oidc_provider=BLUE_ARN)
    assert any(w.startswith("role 'app-0' (roles[0]): the trust policy's statement 0 compares") for w in result["warnings"])
    assert result["results"][0]["warnings"] and not result["results"][1]["warnings"]


# --------------------------------------------------------------------------------------------
# presets


@pytest.fixture
def aws_managed(moto, module_runner):
    """moto with AWS's managed policies loaded, as the sandbox has them."""
    with moto(iam={"load_aws_managed_policies": True}):
        yield AWS(module_runner)


FOREIGN_INLINE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}


def test_a_managed_preset_attaches_aws_policy_and_a_second_run_writes_nothing(aws_managed):
    created = aws_managed.run(**base(preset="aws-efs-csi-driver"))
    assert created["changed"] is True and created["warnings"] == []
    arn = "arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"
    assert created["preset"]["managed_policies"] == [arn] and created["preset"]["inline_policy_name"] is None
    attached = aws_managed.iam.list_attached_role_policies(RoleName="AWSIRSATestRole")["AttachedPolicies"]
    assert [item["PolicyArn"] for item in attached] == [arn]
    assert aws_managed.iam.list_role_policies(RoleName="AWSIRSATestRole")["PolicyNames"] == []
    again = aws_managed.run(**base(preset="aws-efs-csi-driver"))
    assert again["changed"] is False and aws_managed.writes() == []


def test_a_generated_preset_puts_its_policy_and_warns_of_each_wildcard(aws_managed):
    created = aws_managed.run(**base(preset="external-dns"))
    assert created["changed"] is True
    stored = aws_managed.iam.get_role_policy(RoleName="AWSIRSATestRole", PolicyName="eks-irsa-preset-external-dns")["PolicyDocument"]
    assert "arn:aws:route53:::hostedzone/*" in json.dumps(stored)
    assert [w for w in created["warnings"] if "preset_options.hosted_zone_ids is not set" in w], created["warnings"]
    scoped = aws_managed.run(**base(preset="external-dns", preset_options={"hosted_zone_ids": ["Z0123456789ABCDEFGHIJ"]}))
    assert scoped["changed"] is True and aws_managed.writes() == ["PutRolePolicy"]
    assert not [w for w in scoped["warnings"] if "hosted_zone_ids" in w]
    stored = aws_managed.iam.get_role_policy(RoleName="AWSIRSATestRole", PolicyName="eks-irsa-preset-external-dns")["PolicyDocument"]
    assert "hostedzone/*" not in json.dumps(stored) and "hostedzone/Z0123456789ABCDEFGHIJ" in json.dumps(stored)
    again = aws_managed.run(**base(preset="external-dns", preset_options={"hosted_zone_ids": ["Z0123456789ABCDEFGHIJ"]}))
    assert again["changed"] is False and aws_managed.writes() == []


def test_a_preset_leaves_the_other_policies_of_the_role_alone(aws_managed):
    aws_managed.run(**base())
    aws_managed.iam.put_role_policy(RoleName="AWSIRSATestRole", PolicyName="hand-made", PolicyDocument=json.dumps(FOREIGN_INLINE))
    aws_managed.iam.attach_role_policy(RoleName="AWSIRSATestRole", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    aws_managed.run(**base(preset="external-dns"))
    assert sorted(aws_managed.iam.list_role_policies(RoleName="AWSIRSATestRole")["PolicyNames"]) == [
        "eks-irsa-preset-external-dns", "hand-made"]
    aws_managed.run(**base(preset="aws-efs-csi-driver"))
    attached = sorted(item["PolicyArn"] for item in aws_managed.iam.list_attached_role_policies(
        RoleName="AWSIRSATestRole")["AttachedPolicies"])
    assert attached == ["arn:aws:iam::aws:policy/ReadOnlyAccess",
                        "arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"]


def test_managed_policies_given_beside_a_preset_keep_the_preset_policy(aws_managed):
    aws_managed.run(**base(preset="aws-efs-csi-driver", managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"]))
    attached = sorted(item["PolicyArn"] for item in aws_managed.iam.list_attached_role_policies(
        RoleName="AWSIRSATestRole")["AttachedPolicies"])
    assert attached == ["arn:aws:iam::aws:policy/ReadOnlyAccess",
                        "arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"]


def test_check_mode_predicts_the_preset_policy_and_writes_nothing(aws_managed):
    predicted = aws_managed.run(check_mode=True, **base(preset="external-dns"))
    assert predicted["changed"] is True and aws_managed.writes() == []
    assert list(predicted["diff"]["after"]["inline_policies"]) == ["eks-irsa-preset-external-dns"]


def test_preset_input_errors_are_refused_before_any_call(aws_managed):
    unknown = aws_managed.run(**base(preset="external-dns", preset_options={"bucket_names": ["b"]}))
    assert unknown["failed"] and "preset_options.bucket_names is not an option of preset external-dns" in unknown["msg"]
    assert aws_managed.calls == []
    orphan = aws_managed.run(**base(preset_options={"hosted_zone_ids": ["Z1"]}))
    assert orphan["failed"] and "preset_options is given without a preset" in orphan["msg"]
    clash = aws_managed.run(**base(preset="external-dns", inline_policies={"eks-irsa-preset-external-dns": S3_READ}))
    assert clash["failed"] and "is the name of the policy of preset external-dns" in clash["msg"]
    assert aws_managed.calls == []


def test_inline_policies_over_iam_limit_are_refused_before_any_write(aws_managed):
    big = {"Version": "2012-10-17", "Statement": [
        {"Sid": "S%d" % index, "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::bucket-with-a-long-name-%04d/*" % index} for index in range(200)]}
    refused = aws_managed.run(**base(preset="external-dns", inline_policies={"big": big}))
    assert refused["failed"] and "over IAM's limit of 10240" in refused["msg"] and "managed_policies" in refused["msg"]
    assert aws_managed.writes() == []


def test_changing_the_preset_replaces_its_policy_and_keeps_the_others(aws_managed):
    aws_managed.run(**base(preset="aws-load-balancer-controller"))
    aws_managed.iam.put_role_policy(RoleName="AWSIRSATestRole", PolicyName="hand-made", PolicyDocument=json.dumps(FOREIGN_INLINE))
    narrowed = aws_managed.run(**base(preset="aws-load-balancer-controller-tgb-only",
                                      preset_options={"target_group_arns": [
                                          "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/app/0123456789abcdef"]}))
    assert narrowed["changed"] is True
    assert sorted(aws_managed.writes()) == ["DeleteRolePolicy", "PutRolePolicy"]
    assert sorted(aws_managed.iam.list_role_policies(RoleName="AWSIRSATestRole")["PolicyNames"]) == [
        "eks-irsa-preset-aws-load-balancer-controller-tgb-only", "hand-made"]
    assert "eks-irsa-preset-aws-load-balancer-controller" in narrowed["diff"]["before"]["inline_policies"]
    # A managed-only preset replaces the generated one too; the hand-made policy stays.
    aws_managed.run(**base(preset="aws-efs-csi-driver"))
    assert aws_managed.iam.list_role_policies(RoleName="AWSIRSATestRole")["PolicyNames"] == ["hand-made"]
    again = aws_managed.run(**base(preset="aws-efs-csi-driver"))
    assert again["changed"] is False and aws_managed.writes() == []
