"""EKS Pod Identity associations and the pod identity agent add-on, as boto3 sees them in the sandbox's EKS API
(moto has neither): their shapes, AWS's errors, tags, paging, and that the gateway logs, faults and authorizes
them as the other EKS calls."""

import json
import re

import pytest
from botocore.exceptions import ClientError
from irsa_sandbox.testing import unique

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pia-app"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/pia-other"
TARGET = "arn:aws:iam::210987654321:role/pia-target"


def code_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def create(eks, namespace, service_account="app", **extra):
    return eks.create_pod_identity_association(clusterName="sandbox", namespace=namespace, serviceAccount=service_account,
                                               roleArn=ROLE, **extra)["association"]


def test_an_association_as_eks_answers_it(sandbox):
    eks, namespace = sandbox.client("eks"), unique("pia")
    created = create(eks, namespace, tags={"team": "shop"})
    assert re.fullmatch(r"a-[a-z0-9]{17}", created["associationId"])
    assert created["associationArn"] == (f"arn:aws:eks:us-east-1:{ACCOUNT}:podidentityassociation/sandbox/"
                                         f"{created['associationId']}")
    assert created["tags"] == {"team": "shop"} and created["disableSessionTags"] is False
    assert "targetRoleArn" not in created and "externalId" not in created and "ownerArn" not in created
    described = eks.describe_pod_identity_association(clusterName="sandbox", associationId=created["associationId"])
    assert described["association"] == created
    listed = eks.list_pod_identity_associations(clusterName="sandbox", namespace=namespace)["associations"]
    assert listed == [{key: created[key] for key in ("clusterName", "namespace", "serviceAccount", "associationArn",
                                                     "associationId")}]
    eks.delete_pod_identity_association(clusterName="sandbox", associationId=created["associationId"])


def test_errors_as_aws_names_them(sandbox):
    eks, namespace = sandbox.client("eks"), unique("pia")
    created = create(eks, namespace)
    code, message = code_of(lambda: create(eks, namespace))
    assert code == "ResourceInUseException" and created["associationId"] in message
    assert code_of(lambda: eks.list_pod_identity_associations(clusterName="nope"))[0] == "ResourceNotFoundException"
    assert code_of(lambda: eks.describe_pod_identity_association(clusterName="sandbox", associationId="a-00000000000000000"))[0] == \
        "ResourceNotFoundException"
    assert code_of(lambda: eks.create_pod_identity_association(
        clusterName="sandbox", namespace=namespace, serviceAccount="x", roleArn="role/app"))[0] == "InvalidParameterException"
    code, message = code_of(lambda: eks.create_pod_identity_association(
        clusterName="sandbox", namespace=namespace, serviceAccount="x", roleArn="arn:aws:iam::210987654321:role/app"))
    assert code == "InvalidParameterException" and "cluster's account" in message
    assert code_of(lambda: eks.update_pod_identity_association(
        clusterName="sandbox", associationId=created["associationId"]))[0] == "InvalidParameterException"
    eks.delete_pod_identity_association(clusterName="sandbox", associationId=created["associationId"])
    assert code_of(lambda: eks.delete_pod_identity_association(
        clusterName="sandbox", associationId=created["associationId"]))[0] == "ResourceNotFoundException"


def test_target_role_external_id_and_session_tags(sandbox):
    eks, namespace = sandbox.client("eks"), unique("pia")
    created = create(eks, namespace, targetRoleArn=TARGET, disableSessionTags=True)
    assert created["targetRoleArn"] == TARGET and created["externalId"] and created["disableSessionTags"] is True
    association_id = created["associationId"]
    updated = eks.update_pod_identity_association(clusterName="sandbox", associationId=association_id, roleArn=OTHER_ROLE)
    assert updated["association"]["roleArn"] == OTHER_ROLE and updated["association"]["externalId"] == created["externalId"]
    removed = eks.update_pod_identity_association(clusterName="sandbox", associationId=association_id, targetRoleArn="",
                                                  disableSessionTags=False)["association"]
    assert "targetRoleArn" not in removed and "externalId" not in removed and removed["disableSessionTags"] is False
    assert removed["modifiedAt"] >= created["modifiedAt"]
    eks.delete_pod_identity_association(clusterName="sandbox", associationId=association_id)


def test_tags_on_associations_and_on_clusters(sandbox):
    eks, namespace = sandbox.client("eks"), unique("pia")
    arn = create(eks, namespace, tags={"a": "1", "b": "2"})["associationArn"]
    eks.tag_resource(resourceArn=arn, tags={"c": "3"})
    eks.untag_resource(resourceArn=arn, tagKeys=["a", "b"])
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"c": "3"}
    cluster_arn = eks.describe_cluster(name="sandbox")["cluster"]["arn"]
    assert "tags" in eks.list_tags_for_resource(resourceArn=cluster_arn)  # still moto's
    code, _message = code_of(lambda: eks.tag_resource(resourceArn=arn[:-1] + "x", tags={"c": "3"}))
    assert code == "ResourceNotFoundException"
    eks.delete_pod_identity_association(clusterName="sandbox", associationId=arn.rsplit("/", 1)[1])


def test_list_filters_and_pages(sandbox):
    eks, namespace = sandbox.client("eks"), unique("pia")
    ids = [create(eks, namespace, name)["associationId"] for name in ("a", "b", "c")]
    page = eks.list_pod_identity_associations(clusterName="sandbox", namespace=namespace, maxResults=2)
    assert len(page["associations"]) == 2 and page["nextToken"]
    rest = eks.list_pod_identity_associations(clusterName="sandbox", namespace=namespace, maxResults=2,
                                              nextToken=page["nextToken"])
    assert [a["serviceAccount"] for a in page["associations"] + rest["associations"]] == ["a", "b", "c"]
    assert "nextToken" not in rest
    only_b = eks.list_pod_identity_associations(clusterName="sandbox", namespace=namespace, serviceAccount="b")
    assert [a["associationId"] for a in only_b["associations"]] == [ids[1]]
    everything = eks.get_paginator("list_pod_identity_associations").paginate(clusterName="sandbox").build_full_result()
    assert set(ids) <= {a["associationId"] for a in everything["associations"]}
    for association_id in ids:
        eks.delete_pod_identity_association(clusterName="sandbox", associationId=association_id)


def test_calls_are_logged_faulted_and_authorized(sandbox):
    eks, namespace = sandbox.client("eks"), unique("pia")
    sandbox.reset_log()
    association_id = create(eks, namespace)["associationId"]
    eks.describe_pod_identity_association(clusterName="sandbox", associationId=association_id)
    calls = [c for c in sandbox.log()["calls"] if c["service"] == "eks"]
    assert [(c["action"], c["write"]) for c in calls] == [
        ("CreatePodIdentityAssociation", True), ("DescribePodIdentityAssociation", False)]
    assert calls[0]["authorization"] == [["eks:CreatePodIdentityAssociation", f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/sandbox"]]
    assert calls[1]["resource"] == f"arn:aws:eks:us-east-1:{ACCOUNT}:podidentityassociation/sandbox/{association_id}"
    try:
        sandbox.set_faults([{"service": "eks", "action": "UpdatePodIdentityAssociation", "kind": "throttle", "fraction": 1.0}])
        code, _message = code_of(lambda: eks.update_pod_identity_association(
            clusterName="sandbox", associationId=association_id, roleArn=OTHER_ROLE))
        assert code == "ThrottlingException"
    finally:
        sandbox.set_faults([])
    assert eks.describe_pod_identity_association(clusterName="sandbox", associationId=association_id)["association"]["roleArn"] == ROLE

    iam, user = sandbox.client("iam"), unique("pia-reader")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["eks:ListPodIdentityAssociations", "eks:DescribePodIdentityAssociation"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = sandbox.client("eks", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    try:
        assert reader.describe_pod_identity_association(clusterName="sandbox", associationId=association_id)
        code, message = code_of(lambda: reader.delete_pod_identity_association(clusterName="sandbox", associationId=association_id))
        assert code == "AccessDeniedException"
        assert f"eks:DeletePodIdentityAssociation on resource: arn:aws:eks:us-east-1:{ACCOUNT}:podidentityassociation/sandbox/" \
            f"{association_id}" in message
    finally:
        iam.delete_user_policy(UserName=user, PolicyName="read")
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=user)
    eks.delete_pod_identity_association(clusterName="sandbox", associationId=association_id)


def test_the_pod_identity_agent_add_on_is_there_until_removed(sandbox2):
    eks = sandbox2.client("eks")
    for cluster in ("blue", "green"):
        assert eks.list_addons(clusterName=cluster)["addons"] == ["eks-pod-identity-agent"]
        addon = eks.describe_addon(clusterName=cluster, addonName="eks-pod-identity-agent")["addon"]
        assert addon["status"] == "ACTIVE" and addon["clusterName"] == cluster
        assert addon["addonArn"].startswith(f"arn:aws:eks:us-east-1:{ACCOUNT}:addon/{cluster}/eks-pod-identity-agent/")
    assert code_of(lambda: eks.describe_addon(clusterName="blue", addonName="vpc-cni")) == \
        ("ResourceNotFoundException", "No addon: vpc-cni found in cluster: blue")
    assert code_of(lambda: eks.list_addons(clusterName="nope"))[0] == "ResourceNotFoundException"
    try:
        assert sandbox2.control("POST", "eks/addon", {"cluster": "green", "present": False})["present"] is False
        assert eks.list_addons(clusterName="green")["addons"] == []
        assert eks.list_addons(clusterName="blue")["addons"] == ["eks-pod-identity-agent"]
        assert code_of(lambda: eks.describe_addon(clusterName="green", addonName="eks-pod-identity-agent"))[0] == \
            "ResourceNotFoundException"
    finally:
        sandbox2.control("POST", "eks/addon", {"cluster": "green", "present": True})
    assert eks.list_addons(clusterName="green")["addons"] == ["eks-pod-identity-agent"]
