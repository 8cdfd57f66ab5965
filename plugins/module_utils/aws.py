# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS reads and writes IRSA needs outside of roles: the EKS cluster, the caller, IAM OIDC providers.

Every call goes through amazon.aws's ``AWSRetry.jittered_backoff`` (throttling and transient errors
are retried) and turns a botocore error into ``IrsaAWSError``, whose message says what failed, why,
and how to fix it: an AccessDenied names the IAM permission that is missing.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import functools
import json
from urllib.parse import unquote

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

ACCESS_DENIED_CODES = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException")
# EKS's REST API names throttling and server errors differently from IAM and STS, and AWSRetry knows only the latter.
EKS_RETRY_CODES = ("ThrottlingException", "ServerException", "ServiceUnavailableException")


class IrsaAWSError(AnsibleAWSError):
    """An AWS failure with a message that says what failed, why, and how to fix it."""


def error_code(exception):
    if isinstance(exception, botocore.exceptions.ClientError):
        return exception.response.get("Error", {}).get("Code", "")
    return ""


def aws_call(description, permission, retry_codes=()):
    """Retry ``func`` on throttling and raise ``IrsaAWSError`` for anything botocore raises.

    ``description`` completes "Failed to ..."; ``permission`` is the IAM action the call needs;
    ``retry_codes`` are error codes retried besides those AWSRetry knows.
    """

    def decorator(func):
        retrying = AWSRetry.jittered_backoff(catch_extra_error_codes=list(retry_codes))(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return retrying(*args, **kwargs)
            except botocore.exceptions.ClientError as e:
                if error_code(e) in ACCESS_DENIED_CODES:
                    raise IrsaAWSError(
                        message=(
                            "Not allowed to {0}: the AWS identity in use lacks the IAM permission {1}. "
                            "Grant {1} to it, or run with credentials that have it".format(description, permission)
                        ),
                        exception=e,
                    ) from e
                raise IrsaAWSError(message="Failed to {0}".format(description), exception=e) from e
            except botocore.exceptions.BotoCoreError as e:
                raise IrsaAWSError(message="Failed to {0}".format(description), exception=e) from e

        return wrapper

    return decorator


READ_ACTION_PREFIXES = ("Get", "List", "Describe")


def watch_writes(client):
    """Watch ``client`` for calls that changed AWS state (any successful call that is not a Get, List or
    Describe). Returns a function answering whether one happened, so that a task failing after a write
    still reports ``changed: true``: the account did change, and a re-run converges from there."""
    wrote = []

    def after_call(http_response=None, model=None, **_kwargs):
        if model is not None and http_response is not None and http_response.status_code < 300 \
                and not model.name.startswith(READ_ACTION_PREFIXES):
            wrote.append(model.name)

    client.meta.events.register("after-call.*.*", after_call)
    return lambda: bool(wrote)


# --- EKS -------------------------------------------------------------------------------------------


@aws_call("describe the EKS cluster", "eks:DescribeCluster", EKS_RETRY_CODES)
def describe_cluster(client, name):
    """The cluster as DescribeCluster returns it, or None when there is no such cluster."""
    try:
        return client.describe_cluster(name=name)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


@aws_call("list the EKS clusters", "eks:ListClusters", EKS_RETRY_CODES)
def list_clusters(client):
    paginator = client.get_paginator("list_clusters")
    return paginator.paginate().build_full_result().get("clusters", [])


def lookup_cluster(client, name, region):
    """DescribeCluster, failing with the clusters that do exist in the region when ``name`` is not one."""
    cluster = describe_cluster(client, name)
    if cluster is not None:
        return cluster
    try:
        names = list_clusters(client)
    except IrsaAWSError:
        names = None  # listing is only a courtesy; eks:ListClusters may not be granted
    if names:
        known = "; clusters in that region: {0}".format(", ".join(sorted(names)))
    elif names == []:
        known = "; there are no EKS clusters in that region"
    else:
        known = ""
    raise IrsaAWSError(
        message=(
            "EKS cluster {0!r} was not found in region {1}{2}. Check cluster_name and the region "
            "(the region option, or AWS_REGION)".format(name, region, known)
        )
    )


def cluster_issuer_url(cluster):
    """The cluster's OIDC issuer URL; an error saying why when it has none yet."""
    issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
    if not issuer:
        raise IrsaAWSError(
            message=(
                "EKS cluster {0!r} has no OIDC issuer yet (status {1}). EKS assigns one while the cluster is "
                "created: wait until its status is ACTIVE and run again".format(cluster.get("name"), cluster.get("status", "unknown"))
            )
        )
    return issuer


# --- STS -------------------------------------------------------------------------------------------


@aws_call("read the caller identity", "sts:GetCallerIdentity")
def caller_identity(client):
    """Account, ARN and partition of the credentials in use."""
    identity = client.get_caller_identity()
    return {"account_id": identity["Account"], "arn": identity["Arn"], "partition": identity["Arn"].split(":")[1]}


# --- IAM OIDC providers ----------------------------------------------------------------------------


@aws_call("list the IAM OIDC identity providers", "iam:ListOpenIDConnectProviders")
def list_oidc_providers(client):
    """ARNs of every IAM OIDC provider of the account."""
    return [entry["Arn"] for entry in client.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])]


@aws_call("read the IAM OIDC identity provider", "iam:GetOpenIDConnectProvider")
def get_oidc_provider(client, arn):
    """``{arn, url, client_ids, thumbprints, tags, create_date}``, or None when IAM has no such provider."""
    try:
        provider = client.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except is_boto3_error_code("NoSuchEntity"):
        return None
    create_date = provider.get("CreateDate")
    return {
        "arn": arn,
        "url": provider.get("Url", ""),
        "client_ids": list(provider.get("ClientIDList") or []),
        "thumbprints": list(provider.get("ThumbprintList") or []),
        "tags": boto3_tag_list_to_ansible_dict(provider.get("Tags") or []),
        "create_date": create_date.isoformat() if hasattr(create_date, "isoformat") else create_date,
    }


@aws_call("create the IAM OIDC identity provider", "iam:CreateOpenIDConnectProvider")
def create_oidc_provider(client, url, client_ids, thumbprints, tags):
    params = {"Url": url, "ClientIDList": client_ids}
    if thumbprints:
        params["ThumbprintList"] = thumbprints
    if tags:
        params["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
    return client.create_open_id_connect_provider(**params)["OpenIDConnectProviderArn"]


@aws_call("add a client ID to the IAM OIDC identity provider", "iam:AddClientIDToOpenIDConnectProvider")
def add_client_id(client, arn, client_id):
    client.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=client_id)


@aws_call("remove a client ID from the IAM OIDC identity provider", "iam:RemoveClientIDFromOpenIDConnectProvider")
def remove_client_id(client, arn, client_id):
    client.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=client_id)


@aws_call("update the thumbprints of the IAM OIDC identity provider", "iam:UpdateOpenIDConnectProviderThumbprint")
def update_thumbprints(client, arn, thumbprints):
    client.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=thumbprints)


@aws_call("tag the IAM OIDC identity provider", "iam:TagOpenIDConnectProvider")
def tag_oidc_provider(client, arn, tags):
    client.tag_open_id_connect_provider(
        OpenIDConnectProviderArn=arn, Tags=[{"Key": key, "Value": value} for key, value in tags.items()]
    )


@aws_call("untag the IAM OIDC identity provider", "iam:UntagOpenIDConnectProvider")
def untag_oidc_provider(client, arn, keys):
    client.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=keys)


@aws_call("delete the IAM OIDC identity provider", "iam:DeleteOpenIDConnectProvider")
def delete_oidc_provider(client, arn):
    try:
        client.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except is_boto3_error_code("NoSuchEntity"):
        return False
    return True


@aws_call("list the IAM roles", "iam:ListRoles")
def roles_trusting(client, arn):
    """Names of the roles whose trust policy names ``arn`` as a federated principal."""
    names = []
    for page in client.get_paginator("list_roles").paginate():
        for role in page.get("Roles", []):
            if _trusts(role.get("AssumeRolePolicyDocument"), arn):
                names.append(role["RoleName"])
    return names


def _trusts(document, arn):
    if isinstance(document, str):  # ListRoles documents arrive URL-encoded
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return arn in document
    statements = (document or {}).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        principal = statement.get("Principal") or {}
        federated = principal.get("Federated", []) if isinstance(principal, dict) else []
        if isinstance(federated, str):
            federated = [federated]
        if arn in federated:
            return True
    return False
