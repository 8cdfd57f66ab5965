# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWS reads of the verification of an EKS Pod Identity binding: the cluster's add-on and Fargate profiles, and
the exchange of a ServiceAccount token with EKS Auth (``eks-auth:AssumeRoleForPodIdentity``).

As with ``aws.assume_role_with_web_identity``, EKS Auth's refusals are the answers being diagnosed, so the exchange
returns the error code and message instead of raising. The temporary credentials EKS Auth issues are used once, for
STS GetCallerIdentity, and dropped: they never enter an exception, a message or a return value.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.eks.irsa.plugins.module_utils.aws import EKS_RETRY_CODES
from ansible_collections.eks.irsa.plugins.module_utils.aws import aws_call
from ansible_collections.eks.irsa.plugins.module_utils.aws import error_code


@aws_call("describe the EKS add-on", "eks:DescribeAddon", EKS_RETRY_CODES)
def describe_addon(client, cluster, addon):
    """The add-on as DescribeAddon returns it, or None when the cluster has no such add-on."""
    try:
        return client.describe_addon(clusterName=cluster, addonName=addon)["addon"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


@aws_call("list the EKS Fargate profiles", "eks:ListFargateProfiles", EKS_RETRY_CODES)
def list_fargate_profiles(client, cluster):
    paginator = client.get_paginator("list_fargate_profiles")
    return paginator.paginate(clusterName=cluster).build_full_result().get("fargateProfileNames", [])


@aws_call("describe the EKS Fargate profile", "eks:DescribeFargateProfile", EKS_RETRY_CODES)
def describe_fargate_profile(client, cluster, name):
    try:
        return client.describe_fargate_profile(clusterName=cluster, fargateProfileName=name)["fargateProfile"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


def fargate_profiles(client, cluster):
    """Every Fargate profile of the cluster, described."""
    return [profile for profile in (describe_fargate_profile(client, cluster, name) for name in list_fargate_profiles(client, cluster)) if profile]


@AWSRetry.jittered_backoff(catch_extra_error_codes=list(EKS_RETRY_CODES))
def _assume_role_for_pod_identity(client, cluster, token):
    return client.assume_role_for_pod_identity(clusterName=cluster, token=token)


def exchange(eks_auth, sts_client_for, cluster, token):
    """``(identity, None)``, or ``(None, (code, message))`` when EKS Auth (or STS with its credentials) refuses.

    ``sts_client_for(access_key, secret_key, session_token)`` makes the STS client of the temporary credentials;
    ``identity`` is what GetCallerIdentity answers with them (``Account``, ``Arn``, ``UserId``). The credentials are
    dropped here.
    """
    try:
        answer = _assume_role_for_pod_identity(eks_auth, cluster, token)
    except botocore.exceptions.ClientError as e:
        return None, (error_code(e), e.response.get("Error", {}).get("Message", ""))
    except botocore.exceptions.BotoCoreError as e:
        return None, ("ConnectionError", type(e).__name__ + ": " + str(e))
    credentials = answer.get("credentials") or {}
    try:
        sts = sts_client_for(credentials.get("accessKeyId"), credentials.get("secretAccessKey"), credentials.get("sessionToken"))
        identity = sts.get_caller_identity()
    except botocore.exceptions.ClientError as e:
        return None, (error_code(e), "STS GetCallerIdentity with the credentials EKS Auth issued: " + e.response.get("Error", {}).get("Message", ""))
    except botocore.exceptions.BotoCoreError as e:
        return None, ("ConnectionError", type(e).__name__)
    return {"Account": identity.get("Account", ""), "Arn": identity.get("Arn", ""), "UserId": identity.get("UserId", "")}, None
