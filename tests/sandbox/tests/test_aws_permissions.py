"""IAM users are held to their identity-based policies as IAM holds them; the request log names what
each call was authorized for; the test-only secrets route lists every credential the sandbox issued."""

import base64
import json
import ssl
import urllib.request

import pytest
from botocore.exceptions import ClientError
from irsa_sandbox.aws import iam_authz
from irsa_sandbox.testing import irsa_trust_policy, unique

ACCOUNT = "123456789012"


# ------------------------------------------------------------------------------ policy evaluation


@pytest.mark.parametrize("pattern, arn, matches", [
    ("*", "arn:aws:iam::123456789012:role/a", True),
    ("arn:aws:iam::123456789012:role/irsa-*", "arn:aws:iam::123456789012:role/irsa-shop", True),
    ("arn:aws:iam::123456789012:role/irsa-*", "arn:aws:iam::123456789012:role/other", False),
    # a * of the resource part spans slashes (paths), within the last ARN segment
    ("arn:aws:iam::123456789012:role/irsa-*", "arn:aws:iam::123456789012:role/irsa-x/y", True),
    ("arn:aws:iam::123456789012:role/irsa-?", "arn:aws:iam::123456789012:role/irsa-ab", False),
    ("arn:aws:iam::*:role/a", "arn:aws:iam::123456789012:role/a", True),
    # a wildcard inside a segment does not cross a colon
    ("arn:aws:iam::1*:role/a", "arn:aws:iam::1:2:role/a", False),
    ("arn:aws:*", "arn:aws:iam::123456789012:role/a", True),
    # resources are case-sensitive
    ("arn:aws:iam::123456789012:role/IRSA-*", "arn:aws:iam::123456789012:role/irsa-a", False),
    ("arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/*",
     "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC", True),
])
def test_resource_patterns(pattern, arn, matches):
    assert iam_authz.resource_matches(pattern, arn) is matches


def test_decide_allow_deny_and_conditions():
    allow = {"Effect": "Allow", "Action": "IAM:getrole", "Resource": "arn:aws:iam::1:role/a*"}
    deny = {"Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::1:role/admin*"}
    conditional = {"Effect": "Allow", "Action": "iam:DeleteRole", "Resource": "*",
                   "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}}}
    document = {"Version": "2012-10-17", "Statement": [allow, deny, conditional]}
    assert iam_authz.decide([document], "iam:GetRole", "arn:aws:iam::1:role/app") == "Allow"  # actions ignore case
    assert iam_authz.decide([document], "iam:GetRole", "arn:aws:iam::1:role/admin") == "Deny"  # explicit deny wins
    assert iam_authz.decide([document], "iam:GetRole", "arn:aws:iam::1:role/b") == "ImplicitDeny"
    # conditions are not evaluated: a conditional Allow never grants
    assert iam_authz.decide([json.dumps(document)], "iam:DeleteRole", "arn:aws:iam::1:role/app") == "ImplicitDeny"


def test_what_a_call_is_authorized_for():
    def role_arn(name):
        return "arn:aws:iam::1:role/team/" + name if name == "existing" else None

    def required(service, action, params, path=""):
        return iam_authz.required(service, action, params, "1", "eu-west-1", path, role_arn)

    assert required("iam", "GetRole", {"RoleName": "existing"}) == [("iam:GetRole", "arn:aws:iam::1:role/team/existing")]
    assert required("iam", "GetRole", {"RoleName": "new"}) == [("iam:GetRole", "arn:aws:iam::1:role/new")]
    assert required("iam", "CreateRole", {"RoleName": "new", "Path": "/p/", "Tags.member.1.Key": "k"}) == [
        ("iam:CreateRole", "arn:aws:iam::1:role/p/new"), ("iam:TagRole", "arn:aws:iam::1:role/p/new")]
    assert required("iam", "CreateOpenIDConnectProvider", {"Url": "https://oidc.example/id/X"}) == [
        ("iam:CreateOpenIDConnectProvider", "arn:aws:iam::1:oidc-provider/oidc.example/id/X")]
    assert required("iam", "ListPolicies", {}) == [("iam:ListPolicies", "*")]
    assert required("eks", "DescribeCluster", {}, "/clusters/blue") == [
        ("eks:DescribeCluster", "arn:aws:eks:eu-west-1:1:cluster/blue")]
    assert required("sts", "GetCallerIdentity", {}) == []
    assert required("sts", "AssumeRoleWithWebIdentity", {"RoleArn": "arn:aws:iam::1:role/a"}) == []


# ------------------------------------------------------------------------------ enforcement


@pytest.fixture
def restricted_user(sandbox):
    """An IAM user allowed GetRole and CreateRole on roles named <prefix>-*, nothing else; a Deny on
    <prefix>-admin*. Yields (prefix, iam client, eks client, sts client, user ARN)."""
    iam = sandbox.client("iam")
    prefix, user = unique("lp"), unique("runner")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="runner", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:GetRole", "iam:CreateRole"], "Resource": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-*"},
            {"Effect": "Deny", "Action": "iam:*", "Resource": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-admin*"},
        ],
    }))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    credentials = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    yield (prefix, sandbox.client("iam", **credentials), sandbox.client("eks", **credentials), sandbox.client("sts", **credentials),
           f"arn:aws:iam::{ACCOUNT}:user/{user}")
    iam.delete_user_policy(UserName=user, PolicyName="runner")
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=user)


def error_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"], \
        caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_an_iam_user_is_held_to_its_policy(sandbox, restricted_user):
    prefix, iam, eks, sts, user_arn = restricted_user
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    sandbox.reset_log()
    # Allowed: the role does not exist yet (NoSuchEntity, not AccessDenied), then it is created.
    assert error_of(lambda: iam.get_role(RoleName=f"{prefix}-app"))[0] == "NoSuchEntity"
    iam.create_role(RoleName=f"{prefix}-app", AssumeRolePolicyDocument=trust)
    assert iam.get_role(RoleName=f"{prefix}-app")["Role"]["RoleName"] == f"{prefix}-app"
    # Outside the resource pattern, or another action: AWS's AccessDenied, naming action and resource.
    other = f"arn:aws:iam::{ACCOUNT}:role/other-{prefix}"
    assert error_of(lambda: iam.get_role(RoleName=f"other-{prefix}")) == (
        "AccessDenied", f"User: {user_arn} is not authorized to perform: iam:GetRole on resource: {other} "
        "because no identity-based policy allows the iam:GetRole action", 403)
    assert error_of(lambda: iam.delete_role(RoleName=f"{prefix}-app"))[:2] == (
        "AccessDenied", f"User: {user_arn} is not authorized to perform: iam:DeleteRole on resource: "
        f"arn:aws:iam::{ACCOUNT}:role/{prefix}-app because no identity-based policy allows the iam:DeleteRole action")
    # Creating with tags also needs iam:TagRole; an explicit Deny wins over the Allow.
    tags = [{"Key": "k", "Value": "v"}]
    code, message, _status = error_of(lambda: iam.create_role(RoleName=f"{prefix}-tagged", AssumeRolePolicyDocument=trust, Tags=tags))
    assert code == "AccessDenied" and "perform: iam:TagRole on resource" in message
    code, message, _status = error_of(lambda: iam.get_role(RoleName=f"{prefix}-admin"))
    assert code == "AccessDenied" and message.endswith("with an explicit deny in an identity-based policy")
    # EKS answers in its own shape; GetCallerIdentity needs no permission at all.
    assert error_of(lambda: eks.describe_cluster(name="sandbox"))[::2] == ("AccessDeniedException", 403)
    assert sts.get_caller_identity()["Arn"] == user_arn

    calls = sandbox.log()["calls"]
    assert [(call["action"], call["status"]) for call in calls] == [
        ("GetRole", 404), ("CreateRole", 200), ("GetRole", 200), ("GetRole", 403), ("DeleteRole", 403),
        ("CreateRole", 403), ("GetRole", 403), ("DescribeCluster", 403), ("GetCallerIdentity", 200)]
    assert calls[1]["resource"] == f"arn:aws:iam::{ACCOUNT}:role/{prefix}-app"
    assert calls[5]["authorization"] == [["iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/{prefix}-tagged"],
                                         ["iam:TagRole", f"arn:aws:iam::{ACCOUNT}:role/{prefix}-tagged"]]
    assert calls[-1]["authorization"] == []
    # The sandbox's own key is not restricted.
    sandbox.client("iam").delete_role(RoleName=f"{prefix}-app")


def test_kubernetes_calls_are_logged_with_group_and_namespace(sandbox):
    sandbox.reset_log()
    cluster = sandbox.cluster()
    context = ssl.create_default_context(cadata=_ca_pem(sandbox))
    admin = _admin_token(sandbox)
    for path in ("/api/v1/namespaces/default/serviceaccounts", "/api/v1/namespaces/default",
                 "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"):
        request = urllib.request.Request(cluster["endpoint"] + path, headers={"Authorization": f"Bearer {admin}"})
        with urllib.request.urlopen(request, context=context, timeout=15) as response:
            assert response.status == 200
    logged = [(call["action"], call["api_group"], call["namespace"]) for call in sandbox.log()["calls"]]
    # A namespace object is in its own namespace, as RBAC sees it.
    assert logged == [("list serviceaccounts", "", "default"), ("get namespaces", "", "default"),
                      ("list mutatingwebhookconfigurations", "admissionregistration.k8s.io", "")]


# ------------------------------------------------------------------------------ secrets route


def test_the_secrets_route_lists_every_credential_issued(sandbox):
    cluster = sandbox.ensure_oidc_provider()
    name = unique("secret")
    arn = sandbox.create_role(name, irsa_trust_policy(cluster, "default", "app"))
    token = sandbox.token(service_account="app")
    credentials = sandbox.client("sts").assume_role_with_web_identity(
        RoleArn=arn, RoleSessionName="pod", WebIdentityToken=token)["Credentials"]
    bearer = _eks_token(sandbox)
    context = ssl.create_default_context(cadata=_ca_pem(sandbox))
    request = urllib.request.Request(sandbox.cluster()["endpoint"] + "/api/v1/namespaces/default/serviceaccounts",
                                     headers={"Authorization": f"Bearer {bearer}"})
    with urllib.request.urlopen(request, context=context, timeout=15) as response:
        assert response.status == 200

    secrets = sandbox.secrets()
    assert credentials["SecretAccessKey"] in secrets["aws_secret_access_keys"]
    assert sandbox.env["AWS_SECRET_ACCESS_KEY"] in secrets["aws_secret_access_keys"]
    assert credentials["SessionToken"] in secrets["aws_session_tokens"]
    assert token in secrets["service_account_tokens"]
    assert bearer in secrets["eks_bearer_tokens"]
    assert _admin_token(sandbox) in secrets["kubernetes_admin_tokens"]
    # The request log itself holds none of them.
    log = json.dumps(sandbox.log())
    assert not [kind for kind, values in secrets.items() for value in values if value in log]
    sandbox.client("iam").delete_role(RoleName=name)


def _kubeconfig(sandbox):
    import yaml

    with open(sandbox.env["KUBECONFIG"], encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _ca_pem(sandbox):
    return base64.b64decode(_kubeconfig(sandbox)["clusters"][0]["cluster"]["certificate-authority-data"]).decode()


def _admin_token(sandbox):
    return _kubeconfig(sandbox)["users"][0]["user"]["token"]


def _eks_token(sandbox):
    """An ``aws eks get-token`` style token for the first cluster, made with the sandbox's static key."""
    sts = sandbox.client("sts")
    cluster = sandbox.cluster()["name"]

    def add_cluster_header(request, **_kwargs):
        request.headers["x-k8s-aws-id"] = cluster

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
