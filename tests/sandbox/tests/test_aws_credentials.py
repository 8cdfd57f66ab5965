"""Every signed IAM, STS and EKS call is refused, as AWS refuses it, when its credentials are broken:
an unknown access key, a wrong secret key, a bogus or expired session token, a request signed too
long ago. What a user with broken credentials sees (the code botocore raises) is AWS's."""

import datetime

import botocore.exceptions
import pytest

from irsa_sandbox.testing import irsa_trust_policy as irsa_trust, unique

CALLS = {
    "iam": lambda client: client.list_roles(MaxItems=1),
    "sts": lambda client: client.get_caller_identity(),
    "eks": lambda client: client.list_clusters(),
}
UNKNOWN_KEY = {"iam": "InvalidClientTokenId", "sts": "InvalidClientTokenId", "eks": "UnrecognizedClientException"}
WRONG_SECRET = {"iam": "SignatureDoesNotMatch", "sts": "SignatureDoesNotMatch", "eks": "InvalidSignatureException"}
EXPIRED = {"iam": "ExpiredToken", "sts": "ExpiredToken", "eks": "ExpiredTokenException"}


def static(sandbox, **override):
    credentials = {"aws_access_key_id": sandbox.env["AWS_ACCESS_KEY_ID"],
                   "aws_secret_access_key": sandbox.env["AWS_SECRET_ACCESS_KEY"]}
    credentials.update(override)
    return credentials


def refusal(call, client):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(client)
    error = caught.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"].get("Message", "")


def web_identity_credentials(sandbox):
    cluster = sandbox.ensure_oidc_provider(sandbox.vars["irsa_sandbox_cluster"])
    name = unique("creds")
    arn = sandbox.create_role(name, irsa_trust(cluster, "default", "creds"))
    return sandbox.client("sts").assume_role_with_web_identity(
        RoleArn=arn, RoleSessionName="pod", WebIdentityToken=sandbox.token(service_account="creds"))["Credentials"]


@pytest.mark.parametrize("service", sorted(CALLS))
def test_good_static_credentials_are_accepted(sandbox, service):
    CALLS[service](sandbox.client(service))


@pytest.mark.parametrize("service", sorted(CALLS))
def test_unknown_access_key(sandbox, service):
    client = sandbox.client(service, aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key="x" * 40)
    status, code, message = refusal(CALLS[service], client)
    assert (status, code) == (403, UNKNOWN_KEY[service])
    assert message == "The security token included in the request is invalid."


@pytest.mark.parametrize("service", sorted(CALLS))
def test_wrong_secret_key(sandbox, service):
    client = sandbox.client(service, **static(sandbox, aws_secret_access_key="wrong" + sandbox.env["AWS_SECRET_ACCESS_KEY"][5:]))
    status, code, message = refusal(CALLS[service], client)
    assert (status, code) == (403, WRONG_SECRET[service])
    assert message.startswith("The request signature we calculated does not match the signature you provided.")


@pytest.mark.parametrize("service", sorted(CALLS))
def test_static_key_with_a_session_token(sandbox, service):
    client = sandbox.client(service, **static(sandbox, aws_session_token="FwoGZXIvYXdzEBogus"))
    assert refusal(CALLS[service], client)[:2] == (403, UNKNOWN_KEY[service])


@pytest.mark.parametrize("service", sorted(CALLS))
def test_temporary_credentials(sandbox, service):
    credentials = web_identity_credentials(sandbox)
    good = {"aws_access_key_id": credentials["AccessKeyId"], "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"]}
    if service == "sts":  # the assumed role may call GetCallerIdentity; IAM and EKS would need a policy
        assert ":assumed-role/" in CALLS["sts"](sandbox.client("sts", **good))["Arn"]
    bogus = dict(good, aws_session_token="not-the-session-token")
    assert refusal(CALLS[service], sandbox.client(service, **bogus))[:2] == (403, UNKNOWN_KEY[service])
    missing = dict(good, aws_session_token=None)
    assert refusal(CALLS[service], sandbox.client(service, **missing))[:2] == (403, UNKNOWN_KEY[service])
    wrong_secret = dict(good, aws_secret_access_key="x" * 40)
    assert refusal(CALLS[service], sandbox.client(service, **wrong_secret))[:2] == (403, WRONG_SECRET[service])


def test_expired_session_token(sandbox):
    credentials = web_identity_credentials(sandbox)
    key_id = credentials["AccessKeyId"]
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
    sandbox.control("POST", "expire-credentials", {"access_key_id": key_id, "expiration": past.isoformat()})
    for service, call in sorted(CALLS.items()):
        client = sandbox.client(service, aws_access_key_id=key_id, aws_secret_access_key=credentials["SecretAccessKey"],
                                aws_session_token=credentials["SessionToken"])
        status, code, message = refusal(call, client)
        assert (status, code) == (403, EXPIRED[service]), service
        assert message == "The security token included in the request is expired"


def test_request_signed_too_long_ago(sandbox, monkeypatch):
    """A signature older than AWS's 5 minutes of clock skew (a machine whose clock is off)."""
    import botocore.auth

    client = sandbox.client("iam")
    stale = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=6)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: stale)
    status, code, message = refusal(CALLS["iam"], client)
    assert (status, code) == (403, "SignatureDoesNotMatch")
    assert message.startswith("Signature expired:")


def test_refusals_are_in_the_request_log(sandbox):
    sandbox.reset_log()
    client = sandbox.client("iam", aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key="x" * 40)
    refusal(CALLS["iam"], client)
    calls = [call for call in sandbox.log()["calls"] if call["action"] == "ListRoles"]
    assert [call["status"] for call in calls] == [403]


def test_a_path_with_non_ascii_characters_is_verified_as_sent(sandbox):
    """The signature covers the path the client percent-encoded; a name AWS then refuses as unknown
    must not read as a signature mismatch."""
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        sandbox.client("eks").describe_cluster(name="clüster")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
