# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWS calls of irsa_verify that the collection's ``aws`` module_utils does not make.

Reads go through ``aws.aws_call`` (retries on throttling, AccessDenied naming the permission). The
web-identity exchange is different: there AccessDenied and InvalidIdentityToken are the answers
being diagnosed, not missing permissions of the caller, so it returns STS's error code and message
instead of raising, and the caller decides whether to retry (IAM is eventually consistent).

The ServiceAccount token and the temporary credentials are passed in and out in memory only; they
never enter an exception, a message or a return value of the module.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import json
import os
import threading
from urllib.parse import unquote

try:
    import boto3
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing boto3/botocore.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.eks.irsa.plugins.module_utils.aws import aws_call
from ansible_collections.eks.irsa.plugins.module_utils.aws import error_code

# How long the temporary credentials of the token check live: the minimum STS issues.
SESSION_DURATION = 900


@aws_call("read the IAM role", "iam:GetRole")
def get_role(client, name):
    """GetRole's ``Role`` with the trust policy as a dict, or None when there is no such role."""
    try:
        role = client.get_role(RoleName=name)["Role"]
    except is_boto3_error_code("NoSuchEntity"):
        return None
    document = role.get("AssumeRolePolicyDocument")
    if isinstance(document, str):
        role["AssumeRolePolicyDocument"] = json.loads(unquote(document))
    return role


@AWSRetry.jittered_backoff()
def _assume_role_with_web_identity(client, role_arn, token, session_name, duration):
    return client.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName=session_name, WebIdentityToken=token, DurationSeconds=duration
    )


def assume_role_with_web_identity(client, role_arn, token, session_name, duration=SESSION_DURATION):
    """``(credentials, None)`` on success, ``(None, (code, message))`` when STS refuses.

    The call is unsigned (botocore sends AssumeRoleWithWebIdentity without signature), as a pod
    makes it. Throttling and transient errors are retried; refusals are returned.
    """
    try:
        response = _assume_role_with_web_identity(client, role_arn, token, session_name, duration)
    except botocore.exceptions.ClientError as e:
        return None, (error_code(e), e.response.get("Error", {}).get("Message", ""))
    except botocore.exceptions.BotoCoreError as e:
        return None, ("ConnectionError", type(e).__name__ + ": " + str(e))
    return response["Credentials"], None


class StsSessions:
    """Creates STS clients with temporary credentials from one boto3 session (its service model is
    loaded once), on the endpoint of the module's AWS connection. Thread-safe."""

    def __init__(self, region, endpoint_url=None, verify=None, config=None):
        self.region = region
        self.endpoint_url = endpoint_url
        self.verify = verify
        self.config = config
        self._lock = threading.Lock()
        self._session = None

    def client(self, credentials):
        with self._lock:
            if self._session is None:
                # No profile: only the temporary credentials may be used.
                self._session = boto3.session.Session(botocore_session=botocore.session.Session(profile=None))
            return self._session.client(
                "sts",
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                verify=self.verify,
                config=self.config,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )


@AWSRetry.jittered_backoff()
def _get_caller_identity(client):
    return client.get_caller_identity()


def caller_identity_with(sessions, credentials):
    """``(identity, None)`` for the temporary credentials, or ``(None, (code, message))``."""
    try:
        identity = _get_caller_identity(sessions.client(credentials))
    except botocore.exceptions.ClientError as e:
        return None, (error_code(e), e.response.get("Error", {}).get("Message", ""))
    except botocore.exceptions.BotoCoreError as e:
        return None, ("ConnectionError", type(e).__name__ + ": " + str(e))
    return {key: identity.get(key, "") for key in ("Account", "Arn", "UserId")}, None


def configured_sts_endpoint(environ=None):
    """The STS endpoint the environment configures for every AWS client (``AWS_ENDPOINT_URL_STS``, then
    ``AWS_ENDPOINT_URL``), as botocore honours them; None when there is none or they are to be ignored."""
    environ = os.environ if environ is None else environ
    if str(environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "")).lower() == "true":
        return None
    return environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL") or None


def regional_sts_endpoint(region, partition):
    """The regional STS endpoint a pod uses with AWS_STS_REGIONAL_ENDPOINTS=regional."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return "https://sts.{0}.{1}".format(region, suffix)
