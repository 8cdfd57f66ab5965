"""Credentials AWS refuses are told apart (wrong secret key, unknown access key, bogus or expired session token,
AWS_SECURITY_TOKEN without AWS_SESSION_TOKEN, a clock that is off), in AWS's own error shapes; IrsaAWSModule's
warnings do not go through exit_json. A Kubernetes 401 in EKS mode is driven by tests/unit/test_diagnosis_cases.py."""

import json

import boto3
import pytest
from botocore.stub import Stubber

from ansible.module_utils import _internal
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils import aws

LONG_TERM_KEY = "AKIAIOSFODNN7EXAMPLE"
TEMPORARY_KEY = "ASIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEsessiontokenvalue"
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                      "Secret Access Key and signing method. Consult the service documentation for details.")
# A JSON service (EKS) quotes the canonical request it expected, security token header included.
SIGNATURE_MISMATCH_CANONICAL = (SIGNATURE_MISMATCH + "\n\nThe Canonical String for this request should have been\n'POST\n/clusters/"
                                "my-cluster\n\nhost:eks.us-east-1.amazonaws.com\nx-amz-date:20260101T000000Z\n"
                                "x-amz-security-token:" + SESSION_TOKEN + "\n'\n\nThe String-to-Sign should have been\n"
                                "'AWS4-HMAC-SHA256\n20260101T000000Z\n...'")
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED = "The security token included in the request is expired"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(cloud.time, "sleep", lambda seconds: None)


def params(access_key=LONG_TERM_KEY, session_token=None, profile=None):
    return {"access_key": access_key, "secret_key": SECRET if access_key else None, "session_token": session_token, "profile": profile}


def refused(service, operation, code, message, status=403):
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_client_error(operation, service_error_code=code, service_message=message, http_status_code=status)
    stubber.activate()
    return client


# case id, (service, call, code, AWS's message), credentials, environment, phrases of the message
CASES = [
    ("wrong-secret-key", ("sts", "get_caller_identity", "SignatureDoesNotMatch", SIGNATURE_MISMATCH), params(), {},
     ["AWS knows the access key AKIA...MPLE, but the signature made with the secret access key does not match",
      "Set secret_key (or AWS_SECRET_ACCESS_KEY) to the secret issued with the access key AKIA...MPLE"]),
    ("wrong-secret-key-eks", ("eks", "describe_cluster", "InvalidSignatureException", SIGNATURE_MISMATCH), params(), {},
     ["the secret key is not the one issued with that access key ID"]),
    ("wrong-secret-key-eks-canonical-request", ("eks", "describe_cluster", "InvalidSignatureException", SIGNATURE_MISMATCH_CANONICAL),
     params(TEMPORARY_KEY, SESSION_TOKEN), {}, ["the secret key is not the one issued with that access key ID"]),
    ("clock-off", ("sts", "get_caller_identity", "SignatureDoesNotMatch",
                   "Signature expired: 20260101T000000Z is now earlier than 20260101T001000Z (20260101T001500Z - 5 min.)"),
     params(), {}, ["the clock of this host is off by more than 5 minutes", "NTP"]),
    ("unknown-access-key", ("sts", "get_caller_identity", "InvalidClientTokenId", INVALID_TOKEN), params(), {},
     ["AWS does not know the access key AKIA...MPLE: it was deleted or deactivated, is mistyped",
      "Set access_key (or AWS_ACCESS_KEY_ID) to an active access key"]),
    ("unknown-access-key-eks", ("eks", "describe_cluster", "UnrecognizedClientException", INVALID_TOKEN), params(), {},
     ["AWS does not know the access key AKIA...MPLE"]),
    ("bogus-session-token", ("sts", "get_caller_identity", "InvalidClientTokenId", INVALID_TOKEN),
     params(TEMPORARY_KEY, SESSION_TOKEN), {}, ["AWS does not accept the session token given with the temporary access key ASIA...MPLE",
                                                "Set session_token (or AWS_SESSION_TOKEN) to the session token issued"]),
    ("expired-session-token", ("sts", "get_caller_identity", "ExpiredToken", EXPIRED), params(TEMPORARY_KEY, SESSION_TOKEN), {},
     ["the temporary credentials (the access key ASIA...MPLE with its session token) have expired", "Get new temporary credentials"]),
    ("security-token-without-session-token", ("sts", "get_caller_identity", "InvalidClientTokenId", INVALID_TOKEN),
     params(TEMPORARY_KEY), {"AWS_SECURITY_TOKEN": SESSION_TOKEN},
     ["AWS_SECURITY_TOKEN is set but AWS_SESSION_TOKEN is not, and amazon.aws reads only AWS_SESSION_TOKEN",
      "Set AWS_SESSION_TOKEN to the value of AWS_SECURITY_TOKEN"]),
    ("temporary-key-without-session-token", ("sts", "get_caller_identity", "InvalidClientTokenId", INVALID_TOKEN),
     params(TEMPORARY_KEY), {}, ["is a temporary key (ASIA...) and was sent without its session token"]),
    ("session-token-with-long-term-key", ("sts", "get_caller_identity", "InvalidClientTokenId", INVALID_TOKEN),
     params(LONG_TERM_KEY, SESSION_TOKEN), {}, ["a session token was sent with the long-term access key AKIA...MPLE, which takes none"]),
    ("profile-refused", ("sts", "get_caller_identity", "InvalidClientTokenId", INVALID_TOKEN), params(None, profile="ci"), {},
     ["AWS does not know the access key of the credentials of profile 'ci'"]),
]


def call(service, operation, code, message):
    client = refused(service, operation, code, message)
    if operation == "get_caller_identity":
        return aws.caller_identity(client)
    return aws.describe_cluster(client, "my-cluster")


@pytest.mark.parametrize("case, error, credentials, environ, phrases", CASES, ids=[case[0] for case in CASES])
def test_refused_credentials_are_told_apart(case, error, credentials, environ, phrases):
    with pytest.raises(IrsaAWSError) as raised:
        call(*error)
    message = aws.describe_error(raised.value, credentials, environ)
    assert message.startswith("Failed to ")
    assert "AWS refused the credentials in use ({0}: ".format(error[2]) in message
    for phrase in phrases:
        assert phrase in message, message
    for secret in (SECRET, SESSION_TOKEN, LONG_TERM_KEY, TEMPORARY_KEY):
        assert secret not in message


def test_other_errors_keep_their_message():
    with pytest.raises(IrsaAWSError) as raised:
        call("eks", "describe_cluster", "AccessDeniedException", "User is not authorized")
    assert aws.describe_error(raised.value, params(), {}) == raised.value.message
    assert "eks:DescribeCluster" in raised.value.message


# --- warnings -----------------------------------------------------------------------------------------


def test_warnings_do_not_go_through_exit_json(monkeypatch, capsys):
    """AnsibleAWSModule passes its warnings to exit_json as warnings=, which ansible-core 2.19 deprecates."""
    args = {"ANSIBLE_MODULE_ARGS": {"_ansible_remote_tmp": "/tmp", "_ansible_keep_remote_files": False}}
    # As in a module process: warnings and deprecations go into the result (a test that imported controller code
    # would otherwise send them to the controller's display).
    monkeypatch.setattr(_internal, "is_controller", False)
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps(args)))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    monkeypatch.setattr(basic, "_PARSED_MODULE_ARGS", None, raising=False)
    module = aws.IrsaAWSModule(argument_spec={}, supports_check_mode=True)
    module.warn("the IAM OIDC provider may not exist yet")
    with pytest.raises(SystemExit):
        module.exit_json(changed=False)
    result = json.loads(capsys.readouterr().out)
    assert "the IAM OIDC provider may not exist yet" in json.dumps(result.get("warnings"))
    assert "Passing `warnings`" not in json.dumps(result), result.get("deprecations")
