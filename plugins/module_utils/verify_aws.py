# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWS calls of irsa_verify that the collection's ``aws`` module_utils does not make.

Reads go through ``aws.aws_call`` (retries on throttling, AccessDenied naming the permission). The
web-identity exchange is different: there AccessDenied and InvalidIdentityToken are the answers
being diagnosed, not missing permissions of the caller, so it returns STS's error code and message
instead of raising, and the caller decides whether to retry (IAM is eventually consistent).

The ServiceAccount token is passed in memory only, and the temporary credentials STS issues are
dropped as soon as they are received; neither enters an exception, a message or a return value.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import json
import os
from urllib.parse import unquote

try:
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
    """``(identity, None)`` on success, ``(None, (code, message))`` when STS refuses.

    The call is unsigned (botocore sends AssumeRoleWithWebIdentity without signature), as a pod
    makes it. Throttling and transient errors are retried; refusals are returned.

    ``identity`` is who the temporary credentials are, as STS states it in the answer
    (``AssumedRoleUser``), in GetCallerIdentity's shape (``Account``, ``Arn``, ``UserId``): the same
    answer GetCallerIdentity with them gives, without a second call. The credentials themselves are
    dropped here and never leave this function.
    """
    try:
        response = _assume_role_with_web_identity(client, role_arn, token, session_name, duration)
    except botocore.exceptions.ClientError as e:
        return None, (error_code(e), e.response.get("Error", {}).get("Message", ""))
    except botocore.exceptions.BotoCoreError as e:
        return None, ("ConnectionError", type(e).__name__ + ": " + str(e))
    user = response.get("AssumedRoleUser") or {}
    arn = user.get("Arn", "")
    parts = arn.split(":")
    return {"Account": parts[4] if len(parts) > 5 else "", "Arn": arn, "UserId": user.get("AssumedRoleId", "")}, None


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
