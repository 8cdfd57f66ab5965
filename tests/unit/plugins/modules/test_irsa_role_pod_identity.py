# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""irsa_role's pod_identity option end to end (main()) against moto's in-memory IAM/STS, every AWS call recorded:
the trust IAM holds, the writes made, what the second run and check mode do."""

import json

import pytest

from ansible_collections.eks.irsa.plugins.module_utils import role_apply
from ansible_collections.eks.irsa.tests.unit.plugins.modules.test_irsa_role import ACCOUNT
from ansible_collections.eks.irsa.tests.unit.plugins.modules.test_irsa_role import AWS
from ansible_collections.eks.irsa.tests.unit.plugins.modules.test_irsa_role import BLUE
from ansible_collections.eks.irsa.tests.unit.plugins.modules.test_irsa_role import BLUE_ARN
from ansible_collections.eks.irsa.tests.unit.plugins.modules.test_irsa_role import EC2_STATEMENT
from ansible_collections.eks.irsa.tests.unit.plugins.modules.test_irsa_role import OWNER_TAG
from ansible_collections.eks.irsa.tests.unit.plugins.modules.test_irsa_role import SA
from ansible_collections.eks.irsa.tests.unit.plugins.modules.test_irsa_role import irsa_statement
from ansible_collections.eks.irsa.tests.unit.plugins.modules.test_irsa_role import stored_trust

NAME = "AWSIRSATestRole"
PROD = "arn:aws:eks:us-west-2:%s:cluster/prod" % ACCOUNT
IRSA = irsa_statement(BLUE, BLUE_ARN, [SA + "default:irsa-test"])
AWS_GUIDE = {"Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow",
             "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}


@pytest.fixture
def aws(moto, module_runner):
    with moto():
        yield AWS(module_runner)


def ours(**condition):
    stmt = {"Sid": "EksIrsaPodIdentity", "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"]}
    if condition:
        stmt["Condition"] = condition
    return stmt


def irsa_role(**extra):
    return dict({"name": NAME, "oidc_provider": BLUE_ARN, "service_accounts": ["default:irsa-test"]}, **extra)


def trust_of(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_a_role_for_pod_identity_only_needs_no_provider_and_carries_the_owner_tag(aws):
    args = {"name": NAME, "pod_identity": {"source_account": ACCOUNT, "clusters": ["prod"]}}
    predicted = aws.run(check_mode=True, **args)
    assert predicted["changed"] is True and aws.writes() == []
    real = aws.run(**args)
    assert real["changed"] is True and aws.writes() == ["CreateRole"]
    # No OIDC provider nor cluster is read: the account (for the cluster's ARN) is the caller's.
    assert "GetOpenIDConnectProvider" not in aws.calls and "DescribeCluster" not in aws.calls
    expected = trust_of(ours(StringEquals={"aws:SourceAccount": ACCOUNT}, ArnEquals={"aws:SourceArn": PROD}))
    assert stored_trust(aws) == expected and real["role"]["trust_policy"] == predicted["role"]["trust_policy"] == expected
    assert real["diff"] == predicted["diff"]
    assert aws.iam.list_role_tags(RoleName=NAME)["Tags"] == [{"Key": OWNER_TAG, "Value": "eks.irsa"}]
    assert real["trusts"] == predicted["trusts"] == {"irsa": [], "pod_identity": {
        "managed": True, "source_account": ACCOUNT, "cluster_arns": [PROD], "foreign_statements": []}}
    again = aws.run(**args)
    assert again["changed"] is False and aws.writes() == [] and again["trusts"] == real["trusts"]


def test_dual_trust_then_back_to_irsa_keeps_irsa_and_foreign_statements(aws):
    aws.run(**irsa_role())
    aws.iam.update_assume_role_policy(RoleName=NAME, PolicyDocument=json.dumps(trust_of(IRSA, EC2_STATEMENT)))
    dual = irsa_role(pod_identity={"clusters": [PROD]})
    predicted = aws.run(check_mode=True, **dual)
    assert predicted["changed"] is True and aws.writes() == []
    assert predicted["diff"]["after"]["trust_policy"] == trust_of(IRSA, EC2_STATEMENT, ours(ArnEquals={"aws:SourceArn": PROD}))
    result = aws.run(**dual)
    assert result["changed"] is True and aws.writes() == ["UpdateAssumeRolePolicy"]
    assert stored_trust(aws) == trust_of(IRSA, EC2_STATEMENT, ours(ArnEquals={"aws:SourceArn": PROD}))
    assert result["trusts"]["irsa"] == [{"provider_arn": BLUE_ARN, "audience": "sts.amazonaws.com",
                                         "subjects": [SA + "default:irsa-test"]}]
    assert result["trusts"]["pod_identity"]["managed"] is True
    assert aws.run(**dual)["changed"] is False and aws.writes() == []

    back = irsa_role(pod_identity={"state": "absent"})
    removed = aws.run(**back)
    assert removed["changed"] is True and aws.writes() == ["UpdateAssumeRolePolicy"]
    assert stored_trust(aws) == trust_of(IRSA, EC2_STATEMENT) and removed["trusts"]["pod_identity"] is None
    assert aws.run(**back)["changed"] is False and aws.writes() == []


def test_keep_only_pod_identity_removes_irsa_only_through_its_own_option(aws):
    aws.run(**irsa_role(pod_identity={}))
    # Without service_accounts the IRSA statement is not this task's: it stays.
    result = aws.run(name=NAME, pod_identity={})
    assert result["changed"] is False and stored_trust(aws) == trust_of(IRSA, ours())
    result = aws.run(name=NAME, oidc_providers=[{"provider": BLUE_ARN, "state": "absent"}], pod_identity={})
    assert result["changed"] is True and stored_trust(aws) == trust_of(ours())
    assert result["trusts"] == {"irsa": [], "pod_identity": {
        "managed": True, "source_account": None, "cluster_arns": [], "foreign_statements": []}}


def test_a_foreign_pod_identity_statement_is_used_refused_or_adopted_by_name(aws):
    aws.iam.create_role(RoleName=NAME, AssumeRolePolicyDocument=json.dumps(trust_of(IRSA, AWS_GUIDE)),
                        Tags=[{"Key": OWNER_TAG, "Value": "eks.irsa"}])
    # It already allows what the task asks: nothing to write, nothing of ours beside it.
    same = aws.run(**irsa_role(pod_identity={}))
    assert same["changed"] is False and aws.writes() == []
    assert same["trusts"]["pod_identity"] == {"managed": False, "source_account": None, "cluster_arns": [],
                                              "foreign_statements": [1]}
    for args in (irsa_role(pod_identity={"source_account": ACCOUNT}), irsa_role(pod_identity={"state": "absent"}),
                 {"name": NAME, "state": "absent", "pod_identity": {}}):
        for check_mode in (True, False):
            refused = aws.run(check_mode=check_mode, **args)
            assert refused["failed"] is True and refused["changed"] is False and aws.writes() == []
            assert "statement 1 (AllowEksAuthToAssumeRoleForPodIdentity) lets pods.eks.amazonaws.com assume the role " \
                   "but was not written by eks.irsa" in refused["msg"]
            assert "set pod_identity.adopt_statements: true" in refused["msg"]
    assert stored_trust(aws) == trust_of(IRSA, AWS_GUIDE)
    adopted = aws.run(**irsa_role(pod_identity={"source_account": ACCOUNT, "adopt_statements": True}))
    assert adopted["changed"] is True and aws.writes() == ["UpdateAssumeRolePolicy"]
    assert stored_trust(aws) == trust_of(IRSA, ours(StringEquals={"aws:SourceAccount": ACCOUNT}))


def test_state_absent_with_pod_identity_deletes_a_role_with_nothing_else_left(aws):
    aws.run(name=NAME, pod_identity={})
    aws.run(**irsa_role(pod_identity={}))
    kept = aws.run(name=NAME, state="absent", pod_identity={})
    assert kept["changed"] is True and kept["deleted"] is False and stored_trust(aws) == trust_of(IRSA)
    aws.run(name=NAME, pod_identity={}, oidc_providers=[{"provider": BLUE_ARN, "state": "absent"}])
    deleted = aws.run(name=NAME, state="absent", pod_identity={})
    assert deleted["deleted"] is True and "trusts" not in deleted
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName=NAME)


def test_a_role_that_would_trust_nobody_is_refused(aws):
    result = aws.run(name=NAME, pod_identity={"state": "absent"})
    assert result["failed"] is True and aws.writes() == []
    assert result["msg"].startswith("role 'AWSIRSATestRole' would trust nobody")
    result = aws.run(name=NAME)
    assert "or pod_identity for EKS Pod Identity" in result["msg"]


def test_the_size_limit_counts_the_pod_identity_statement(aws):
    clusters = ["cluster-%02d" % index for index in range(30)]
    result = aws.run(**irsa_role(pod_identity={"clusters": clusters}))
    assert result["failed"] is True and aws.writes() == []
    assert "over the limit of 2048: IAM would reject it" in result["msg"]
    assert aws.run(**irsa_role(pod_identity={"clusters": clusters}, trust_policy_size_limit=4096))["changed"] is True


def test_merge_mode_keeps_the_pod_identity_statement_when_purging_statements(aws, monkeypatch):
    monkeypatch.setattr(role_apply, "TRUST_RECHECK_DELAY", 0)
    aws.iam.create_role(RoleName=NAME, AssumeRolePolicyDocument=json.dumps(trust_of(EC2_STATEMENT)),
                        Tags=[{"Key": OWNER_TAG, "Value": "eks.irsa"}])
    args = irsa_role(pod_identity={}, purge_service_accounts=False, purge_trust_statements=True)
    result = aws.run(**args)
    assert result["changed"] is True and stored_trust(aws) == trust_of(IRSA, ours())
    assert aws.writes() == ["UpdateAssumeRolePolicy"]
    assert aws.run(**args)["changed"] is False and aws.writes() == []


@pytest.mark.parametrize("region, partition", [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_cluster_names_take_the_partition_of_the_region(aws, region, partition):
    result = aws.run(check_mode=True, region=region, name=NAME, pod_identity={"clusters": ["prod"]})
    assert result["changed"] is True and aws.writes() == []
    assert result["role"]["trust_policy"]["Statement"][0]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": "arn:%s:eks:%s:%s:cluster/prod" % (partition, region, ACCOUNT)}}


def test_a_role_not_ours_is_refused_unless_adopted_and_many_roles_take_pod_identity(aws):
    aws.iam.create_role(RoleName=NAME, AssumeRolePolicyDocument=json.dumps(trust_of(EC2_STATEMENT)))
    refused = aws.run(name=NAME, pod_identity={})
    assert refused["failed"] is True and refused["foreign_role"] == NAME and aws.writes() == []
    adopted = aws.run(name=NAME, pod_identity={}, adopt=True)
    assert adopted["adopted"] is True and stored_trust(aws) == trust_of(EC2_STATEMENT, ours())

    batch = aws.run(pod_identity={"clusters": ["prod"]}, roles=[
        {"name": "pods-only"}, {"name": "dual", "oidc_provider": BLUE_ARN, "service_accounts": ["shop:cart"]},
        {"name": "bad", "pod_identity": {"source_account": "42"}}])
    assert [item["changed"] for item in batch["results"]] == [True, True, False]
    assert stored_trust(aws, "pods-only") == trust_of(ours(ArnEquals={"aws:SourceArn": PROD}))
    assert stored_trust(aws, "dual")["Statement"][1] == ours(ArnEquals={"aws:SourceArn": PROD})
    assert batch["results"][1]["trusts"]["irsa"][0]["subjects"] == [SA + "shop:cart"]
    assert "pod_identity.source_account '42' is not an AWS account ID" in batch["results"][2]["msg"]
