"""EKS Auth's AssumeRoleForPodIdentity (what the EKS Pod Identity Agent calls), as boto3 sees it in the sandbox:
AWS's checks each with the error of botocore's eks-auth model, the credentials and their session tags, target
role chaining, and that the gateway logs and authorizes the call as eks-auth:AssumeRoleForPodIdentity on the
cluster's ARN."""

import json
import re
import time

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from irsa_sandbox.testing import unique

ACCOUNT = "123456789012"
AUDIENCE = "pods.eks.amazonaws.com"
CLUSTER_ARN = f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/sandbox"


def pod_identity_trust(actions=("sts:AssumeRole", "sts:TagSession"), condition=None):
    statement = {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": list(actions)}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def pod_token(sandbox, namespace, service_account, cluster="sandbox", audience=AUDIENCE, pod="web-5d8c7b9f4-x2x9q", **claims):
    """A projected token of a pod of ``namespace``/``service_account``, signed by ``cluster``'s issuer."""
    kubernetes = {"namespace": namespace,
                  "serviceaccount": {"name": service_account, "uid": "6f1c1a52-6d0e-4c11-9b3e-2b0c8f0a7a11"},
                  "pod": {"name": pod, "uid": "0d6b7a4e-8f3a-4f0e-a1f5-6a0c3d8e9b21"}}
    return sandbox.token(cluster=cluster, namespace=namespace, service_account=service_account, audience=audience,
                         claims={"kubernetes.io": kubernetes, **claims})


def setup(sandbox, trust, cluster="sandbox", **association):
    """A role with ``trust`` and an association of a new namespace's ServiceAccount ``app`` with it."""
    namespace, role = unique("eksauth"), unique("pod-role")
    role_arn = sandbox.create_role(role, trust)
    created = sandbox.client("eks").create_pod_identity_association(
        clusterName=cluster, namespace=namespace, serviceAccount="app", roleArn=role_arn, **association)["association"]
    return namespace, role, created


def error_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def sessions(sandbox):
    return {item["access_key_id"]: item for item in sandbox.control("GET", "eks/pod-identity-sessions")["sessions"]}


def test_credentials_for_an_associated_pod(sandbox):
    condition = {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnEquals": {"aws:SourceArn": CLUSTER_ARN}}
    namespace, role, association = setup(sandbox, pod_identity_trust(condition=condition))
    sandbox.reset_log()
    answer = sandbox.client("eks-auth").assume_role_for_pod_identity(
        clusterName="sandbox", token=pod_token(sandbox, namespace, "app"))
    assert answer["subject"] == {"namespace": namespace, "serviceAccount": "app"}
    assert answer["audience"] == AUDIENCE
    assert answer["podIdentityAssociation"] == {"associationArn": association["associationArn"],
                                                "associationId": association["associationId"]}
    arn = answer["assumedRoleUser"]["arn"]
    assert re.fullmatch(rf"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/eks-sandbox-web-5d8c7b9f4-x2x9q-[0-9a-f-]+", arn), arn
    assert answer["assumedRoleUser"]["assumeRoleId"].endswith(":" + arn.split("/")[-1])
    credentials = answer["credentials"]
    assert 3000 < credentials["expiration"].timestamp() - time.time() <= 3600
    identity = sandbox.client("sts", aws_access_key_id=credentials["accessKeyId"],
                              aws_secret_access_key=credentials["secretAccessKey"],
                              aws_session_token=credentials["sessionToken"]).get_caller_identity()
    assert identity["Arn"] == arn  # GetCallerIdentity names the session, not its tags
    [call] = [c for c in sandbox.log()["calls"] if c["service"] == "eks-auth"]
    assert (call["action"], call["status"], call["write"]) == ("AssumeRoleForPodIdentity", 200, False)
    assert call["authorization"] == [["eks-auth:AssumeRoleForPodIdentity", CLUSTER_ARN]]


def test_session_tags_as_eks_sets_them(sandbox):
    namespace, role, _association = setup(sandbox, pod_identity_trust(
        condition={"StringEquals": {"aws:RequestTag/kubernetes-service-account": "app"}}))
    credentials = sandbox.client("eks-auth").assume_role_for_pod_identity(
        clusterName="sandbox", token=pod_token(sandbox, namespace, "app"))["credentials"]
    session = sessions(sandbox)[credentials["accessKeyId"]]
    assert session["tags"] == {
        "eks-cluster-arn": CLUSTER_ARN, "eks-cluster-name": "sandbox", "kubernetes-namespace": namespace,
        "kubernetes-service-account": "app", "kubernetes-pod-name": "web-5d8c7b9f4-x2x9q",
        "kubernetes-pod-uid": "0d6b7a4e-8f3a-4f0e-a1f5-6a0c3d8e9b21"}
    assert session["role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/{role}"


def test_tokens_that_are_not_this_clusters_pods(sandbox):
    namespace, _role, _association = setup(sandbox, pod_identity_trust())
    eks_auth = sandbox.client("eks-auth")

    def assume(token):
        return error_of(lambda: eks_auth.assume_role_for_pod_identity(clusterName="sandbox", token=token))

    assert assume(pod_token(sandbox, namespace, "app", audience="sts.amazonaws.com")) == ("InvalidTokenException", 400)
    assert assume(pod_token(sandbox, namespace, "app", exp=int(time.time()) - 5)) == ("ExpiredTokenException", 400)
    assert assume(pod_token(sandbox, namespace, "app", iss="https://oidc.eks.us-east-1.amazonaws.com/id/0000")) == \
        ("InvalidTokenException", 400)
    unbound = sandbox.token(namespace=namespace, service_account="app", audience=AUDIENCE)  # bound to no pod
    assert assume(unbound) == ("InvalidTokenException", 400)
    assert assume("eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl") == ("InvalidTokenException", 400)
    assert assume(pod_token(sandbox, namespace, "other")) == ("ResourceNotFoundException", 404)
    assert error_of(lambda: eks_auth.assume_role_for_pod_identity(
        clusterName="nope", token=pod_token(sandbox, namespace, "app"))) == ("ResourceNotFoundException", 404)
    unsigned = boto3.client("eks-auth", endpoint_url=sandbox.url, region_name="us-east-1",
                            config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    assert error_of(lambda: unsigned.assume_role_for_pod_identity(
        clusterName="sandbox", token=pod_token(sandbox, namespace, "app"))) == ("MissingAuthenticationTokenException", 403)


def test_another_clusters_token(sandbox2):
    namespace, _role, _association = setup(sandbox2, pod_identity_trust(), cluster="blue")
    eks_auth = sandbox2.client("eks-auth")
    green = pod_token(sandbox2, namespace, "app", cluster="green")
    assert error_of(lambda: eks_auth.assume_role_for_pod_identity(clusterName="blue", token=green)) == \
        ("InvalidTokenException", 400)
    blue = pod_token(sandbox2, namespace, "app", cluster="blue")
    assert eks_auth.assume_role_for_pod_identity(clusterName="blue", token=blue)["subject"]["namespace"] == namespace


def test_trust_without_tag_session(sandbox):
    namespace, _role, association = setup(sandbox, pod_identity_trust(actions=("sts:AssumeRole",)))
    eks_auth = sandbox.client("eks-auth")
    assert error_of(lambda: eks_auth.assume_role_for_pod_identity(
        clusterName="sandbox", token=pod_token(sandbox, namespace, "app"))) == ("AccessDeniedException", 400)
    # without session tags sts:AssumeRole is enough
    sandbox.client("eks").update_pod_identity_association(
        clusterName="sandbox", associationId=association["associationId"], disableSessionTags=True)
    credentials = eks_auth.assume_role_for_pod_identity(
        clusterName="sandbox", token=pod_token(sandbox, namespace, "app"))["credentials"]
    assert sessions(sandbox)[credentials["accessKeyId"]]["tags"] == {}


def test_trust_conditions_that_do_not_hold(sandbox):
    eks_auth = sandbox.client("eks-auth")
    for condition in ({"ArnEquals": {"aws:SourceArn": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/other"}},
                      {"StringEquals": {"aws:SourceAccount": "210987654321"}},
                      {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "elsewhere"}}):
        namespace, _role, _association = setup(sandbox, pod_identity_trust(condition=condition))
        assert error_of(lambda: eks_auth.assume_role_for_pod_identity(
            clusterName="sandbox", token=pod_token(sandbox, namespace, "app"))) == ("AccessDeniedException", 400), condition
    # a trust naming another service principal
    namespace, _role, _association = setup(sandbox, {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
    assert error_of(lambda: eks_auth.assume_role_for_pod_identity(
        clusterName="sandbox", token=pod_token(sandbox, namespace, "app"))) == ("AccessDeniedException", 400)


def test_target_role_chaining(sandbox):
    first = unique("pod-first")
    first_arn = sandbox.create_role(first, pod_identity_trust())
    namespace, target = unique("eksauth"), unique("pod-target")
    target_arn = f"arn:aws:iam::{ACCOUNT}:role/{target}"
    eks = sandbox.client("eks")
    association = eks.create_pod_identity_association(
        clusterName="sandbox", namespace=namespace, serviceAccount="app", roleArn=first_arn,
        targetRoleArn=target_arn)["association"]
    eks_auth = sandbox.client("eks-auth")
    target_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": first_arn}, "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {"sts:ExternalId": "not-the-association's"}}}]}
    sandbox.create_role(target, target_trust)
    assert error_of(lambda: eks_auth.assume_role_for_pod_identity(
        clusterName="sandbox", token=pod_token(sandbox, namespace, "app"))) == ("AccessDeniedException", 400)

    target_trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = association["externalId"]
    sandbox.client("iam").update_assume_role_policy(RoleName=target, PolicyDocument=json.dumps(target_trust))
    answer = eks_auth.assume_role_for_pod_identity(clusterName="sandbox", token=pod_token(sandbox, namespace, "app"))
    assert answer["assumedRoleUser"]["arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{target}/eks-sandbox-")
    session = sessions(sandbox)[answer["credentials"]["accessKeyId"]]
    assert (session["role_arn"], session["source_role_arn"]) == (target_arn, first_arn)
    assert session["tags"]["kubernetes-namespace"] == namespace


def test_identity_policies_and_faults(sandbox):
    namespace, _role, _association = setup(sandbox, pod_identity_trust())
    iam, user = sandbox.client("iam"), unique("node-user")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = sandbox.client("eks-auth", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    token = pod_token(sandbox, namespace, "app")
    assert error_of(lambda: as_user.assume_role_for_pod_identity(clusterName="sandbox", token=token)) == \
        ("AccessDeniedException", 400)
    iam.put_user_policy(UserName=user, PolicyName="agent", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "eks-auth:AssumeRoleForPodIdentity", "Resource": CLUSTER_ARN}]}))
    assert as_user.assume_role_for_pod_identity(clusterName="sandbox", token=token)["subject"]["serviceAccount"] == "app"
    sandbox.set_faults([{"service": "eks-auth", "kind": "throttle", "fraction": 1.0, "limit": 1}])
    try:
        assert error_of(lambda: as_user.assume_role_for_pod_identity(clusterName="sandbox", token=token)) == \
            ("ThrottlingException", 429)
    finally:
        sandbox.set_faults([])
