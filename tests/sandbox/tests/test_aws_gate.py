"""The STS web-identity gate: AssumeRoleWithWebIdentity answers as AWS does, with boto3."""

import json
import time

import pytest
from botocore.exceptions import ClientError
from irsa_sandbox.testing import irsa_trust_policy as irsa_trust, unique


@pytest.fixture(scope="module")
def cluster(sandbox):
    return sandbox.ensure_oidc_provider(sandbox.vars["irsa_sandbox_cluster"])


def assume(sandbox, role_arn, token, session="test-session", **extra):
    sts = sandbox.client("sts")
    return sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName=session, WebIdentityToken=token, **extra)


def error_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"], \
        caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_happy_path_assumed_role_arn(sandbox, cluster):
    name = unique("app")
    arn = sandbox.create_role(name, irsa_trust(cluster, "default", "app"))
    answer = assume(sandbox, arn, sandbox.token(namespace="default", service_account="app"), session="pod-1")
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{name}/pod-1"
    assert answer["SubjectFromWebIdentityToken"] == "system:serviceaccount:default:app"
    assert answer["Audience"] == "sts.amazonaws.com"
    assert answer["Provider"] == cluster["provider"]
    credentials = answer["Credentials"]
    sts = sandbox.client(
        "sts",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{name}/pod-1"


def test_no_oidc_provider_for_issuer(sandbox, cluster):
    arn = sandbox.create_role(unique("app"), irsa_trust(cluster, "default", "app"))
    foreign = "https://oidc.eks.us-east-1.amazonaws.com/id/00000000000000000000000000000000"
    token = sandbox.token(service_account="app", claims={"iss": foreign})
    code, message, status = error_of(lambda: assume(sandbox, arn, token))
    assert (code, status) == ("InvalidIdentityToken", 400)
    assert message == f"No OpenIDConnect provider found in your account for {foreign}"


def test_registered_provider_without_reachable_keys(sandbox, cluster):
    iam = sandbox.client("iam")
    url = f"https://oidc.example.com/{unique('issuer')}"
    iam.create_open_id_connect_provider(Url=url, ClientIDList=["sts.amazonaws.com"],
                                        ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    arn = sandbox.create_role(unique("app"), irsa_trust(cluster, "default", "app"))
    token = sandbox.token(service_account="app", claims={"iss": url})
    code, message, _unused = error_of(lambda: assume(sandbox, arn, token))
    assert code == "InvalidIdentityToken" and "verification key" in message


def test_wrong_audience(sandbox, cluster):
    arn = sandbox.create_role(unique("app"), irsa_trust(cluster, "default", "app"))
    token = sandbox.token(service_account="app", audience="vault")
    assert error_of(lambda: assume(sandbox, arn, token)) == ("InvalidIdentityToken", "Incorrect token audience", 400)


def test_token_of_another_serviceaccount(sandbox, cluster):
    arn = sandbox.create_role(unique("app"), irsa_trust(cluster, "default", "app"))
    code, message, status = error_of(lambda: assume(sandbox, arn, sandbox.token(service_account="intruder")))
    assert (code, message, status) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403)


def test_token_of_another_namespace(sandbox, cluster):
    arn = sandbox.create_role(unique("app"), irsa_trust(cluster, "default", "app"))
    token = sandbox.token(namespace="staging", service_account="app")
    assert error_of(lambda: assume(sandbox, arn, token))[0] == "AccessDenied"


def test_expired_token(sandbox, cluster):
    arn = sandbox.create_role(unique("app"), irsa_trust(cluster, "default", "app"))
    token = sandbox.token(service_account="app", expires_in=-5)
    code, message, status = error_of(lambda: assume(sandbox, arn, token))
    assert (code, status) == ("ExpiredTokenException", 400)
    assert message.startswith("Token expired: current date/time ")


def test_tampered_signature(sandbox, cluster):
    arn = sandbox.create_role(unique("app"), irsa_trust(cluster, "default", "app"))
    header, claims, signature = sandbox.token(service_account="app").split(".")
    flipped = ("A" if signature[10] != "A" else "B")
    tampered = f"{header}.{claims}.{signature[:10]}{flipped}{signature[11:]}"
    assert error_of(lambda: assume(sandbox, arn, tampered))[0] == "InvalidIdentityToken"


def test_token_signed_by_another_cluster(sandbox, sandbox2):
    """Claims naming the issuer of one cluster, signed with another cluster's key."""
    blue = sandbox2.ensure_oidc_provider("blue")
    arn = sandbox2.create_role(unique("app"), irsa_trust(blue, "default", "app"))
    forged = sandbox2.token(cluster="green", service_account="app", claims={"iss": blue["issuer_url"]})
    assert error_of(lambda: assume(sandbox2, arn, forged))[0] == "InvalidIdentityToken"


def test_role_missing(sandbox, cluster):
    token = sandbox.token(service_account="app")
    arn = f"arn:aws:iam::123456789012:role/{unique('missing')}"
    assert error_of(lambda: assume(sandbox, arn, token))[:2] == \
        ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")


def test_explicit_deny_wins(sandbox, cluster):
    policy = irsa_trust(cluster, "default", "app")
    policy["Statement"].append({
        "Effect": "Deny",
        "Principal": {"Federated": cluster["provider_arn"]},
        "Action": "sts:*",
        "Condition": {"StringLike": {f"{cluster['provider']}:sub": "system:serviceaccount:default:*"}},
    })
    arn = sandbox.create_role(unique("app"), policy)
    assert error_of(lambda: assume(sandbox, arn, sandbox.token(service_account="app")))[0] == "AccessDenied"


@pytest.mark.parametrize("namespace, service_account, allowed", [
    ("team-a", "worker-1", True),
    ("team-a", "worker-", False),  # ? needs exactly one character
    ("team-b", "worker-1", False),
    ("team-a", "worker-12", False),
])
def test_stringlike_patterns(sandbox, cluster, namespace, service_account, allowed):
    policy = irsa_trust(cluster, "team-a", "worker-?", operator="StringLike")
    arn = sandbox.create_role(unique("app"), policy)
    token = sandbox.token(namespace=namespace, service_account=service_account)
    if allowed:
        assert assume(sandbox, arn, token)["AssumedRoleUser"]["Arn"].endswith("/test-session")
    else:
        assert error_of(lambda: assume(sandbox, arn, token))[0] == "AccessDenied"


def test_duration_beyond_max_session(sandbox, cluster):
    arn = sandbox.create_role(unique("app"), irsa_trust(cluster, "default", "app"))
    token = sandbox.token(service_account="app")
    assert error_of(lambda: assume(sandbox, arn, token, DurationSeconds=7200))[0] == "ValidationError"


def test_trust_update_propagates_after_delay(sandbox, cluster):
    delay = 1.0
    name = unique("app")
    iam = sandbox.client("iam")
    sandbox.set_propagation_delay(delay)
    try:
        arn = sandbox.create_role(name, irsa_trust(cluster, "default", "app"))
        # The sandbox starts the delay when it handles the call, before it answers: count from the answer, as below.
        written = time.monotonic()
        token = sandbox.token(service_account="app")
        assert error_of(lambda: assume(sandbox, arn, token))[0] == "AccessDenied", "a new role is not visible at once"
        time.sleep(max(0.0, delay - (time.monotonic() - written)) + 0.1)
        assume(sandbox, arn, token)

        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(irsa_trust(cluster, "default", "other")))
        written = time.monotonic()
        assume(sandbox, arn, token)  # the old trust is still what STS sees
        time.sleep(max(0.0, delay - (time.monotonic() - written)) + 0.1)
        assert error_of(lambda: assume(sandbox, arn, token))[0] == "AccessDenied"
    finally:
        sandbox.set_propagation_delay(0)


def test_unsigned_get_form_is_checked_too(sandbox, cluster):
    """AssumeRoleWithWebIdentity as a plain GET query (how some SDKs send it) meets the same gate."""
    import urllib.error
    import urllib.parse
    import urllib.request

    arn = sandbox.create_role(unique("app"), irsa_trust(cluster, "default", "app"))
    query = urllib.parse.urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": arn,
                                    "RoleSessionName": "s", "WebIdentityToken": sandbox.token(service_account="x")})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{sandbox.url}/?{query}", timeout=10)
    assert caught.value.code == 403 and b"<Code>AccessDenied</Code>" in caught.value.read()
