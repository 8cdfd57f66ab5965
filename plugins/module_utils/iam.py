# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The IAM role calls of irsa_role, each wrapped in amazon.aws retries and error handling.

Calls that amazon.aws already wraps (get role, list attached/inline policies, list managed
policies, instance profiles) are imported from amazon.aws by the callers, and the cluster, caller
and OIDC provider reads from this collection's ``aws`` module_utils; only the role calls they do
not offer, or offer with a different contract (``None`` for a missing policy), live here.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import json
import time
from urllib.parse import unquote

try:
    import botocore.exceptions
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore.

from ansible_collections.amazon.aws.plugins.module_utils.iam import IAMErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_instance_profiles
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_attached_policies
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_policies
from ansible_collections.amazon.aws.plugins.module_utils.iam import remove_role_from_iam_instance_profile
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list


# ---------------------------------------------------------------------------------------------
# reads


@IAMErrorHandler.list_error_handler("get inline policy of role")
@AWSRetry.jittered_backoff()
def get_role_policy(client, role_name, policy_name):
    """The document of an inline policy as a dict, or None when the role has no such policy."""
    document = client.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(unquote(document))
    return document


@IAMErrorHandler.list_error_handler("get managed policy")
@AWSRetry.jittered_backoff()
def get_managed_policy(client, arn):
    """The managed policy ``arn``, or None when it does not exist."""
    return client.get_policy(PolicyArn=arn)["Policy"]


# Answers that say "try again" rather than "no": a waiter gives up on them, so the wait starts over until its timeout.
_TRANSIENT_CODES = ("InternalFailure", "ServiceFailure", "ServiceUnavailable", "Throttling", "ThrottlingException",
                    "RequestLimitExceeded")


def _transient(waiter_error):
    response = waiter_error.last_response or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
    return status >= 500 or (response.get("Error") or {}).get("Code") in _TRANSIENT_CODES


@IAMErrorHandler.common_error_handler("wait for the new role to be visible")
def wait_for_role(client, role_name, timeout):
    delay = max(1, min(timeout, 5))
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.get_waiter("role_exists").wait(
                RoleName=role_name,
                WaiterConfig={"Delay": delay, "MaxAttempts": max(1, timeout // delay)},
            )
            return
        except botocore.exceptions.WaiterError as e:
            if not _transient(e) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)


# ---------------------------------------------------------------------------------------------
# writes


@IAMErrorHandler.common_error_handler("create role")
@AWSRetry.jittered_backoff()
def create_role(client, name, path, trust_policy, description=None, max_session_duration=None,
                permissions_boundary=None, tags=None):
    params = {
        "RoleName": name,
        "Path": path,
        "AssumeRolePolicyDocument": json.dumps(trust_policy),
    }
    if description is not None:
        params["Description"] = description
    if max_session_duration is not None:
        params["MaxSessionDuration"] = max_session_duration
    if permissions_boundary:
        params["PermissionsBoundary"] = permissions_boundary
    if tags:
        params["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    return client.create_role(**params)["Role"]


@IAMErrorHandler.common_error_handler("update the trust policy of role")
@AWSRetry.jittered_backoff()
def update_trust_policy(client, name, trust_policy):
    client.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust_policy))


@IAMErrorHandler.common_error_handler("update role")
@AWSRetry.jittered_backoff()
def update_role(client, name, **changes):
    client.update_role(RoleName=name, **changes)


@IAMErrorHandler.common_error_handler("set the permissions boundary of role")
@AWSRetry.jittered_backoff()
def put_permissions_boundary(client, name, arn):
    client.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=arn)


@IAMErrorHandler.deletion_error_handler("remove the permissions boundary of role")
@AWSRetry.jittered_backoff()
def delete_permissions_boundary(client, name):
    client.delete_role_permissions_boundary(RoleName=name)
    return True


@IAMErrorHandler.common_error_handler("tag role")
@AWSRetry.jittered_backoff()
def tag_role(client, name, tags):
    client.tag_role(RoleName=name, Tags=ansible_dict_to_boto3_tag_list(tags))


@IAMErrorHandler.common_error_handler("untag role")
@AWSRetry.jittered_backoff()
def untag_role(client, name, keys):
    client.untag_role(RoleName=name, TagKeys=list(keys))


@IAMErrorHandler.common_error_handler("attach managed policy to role")
@AWSRetry.jittered_backoff()
def attach_policy(client, name, arn):
    client.attach_role_policy(RoleName=name, PolicyArn=arn)


@IAMErrorHandler.deletion_error_handler("detach managed policy from role")
@AWSRetry.jittered_backoff()
def detach_policy(client, name, arn):
    client.detach_role_policy(RoleName=name, PolicyArn=arn)
    return True


@IAMErrorHandler.common_error_handler("put inline policy of role")
@AWSRetry.jittered_backoff()
def put_role_policy(client, name, policy_name, document):
    client.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))


@IAMErrorHandler.deletion_error_handler("delete inline policy of role")
@AWSRetry.jittered_backoff()
def delete_role_policy(client, name, policy_name):
    client.delete_role_policy(RoleName=name, PolicyName=policy_name)
    return True


@IAMErrorHandler.deletion_error_handler("delete role")
@AWSRetry.jittered_backoff()
def delete_role(client, name):
    client.delete_role(RoleName=name)
    return True


def delete_role_with_attachments(client, name, attached=None, inline_names=None):
    """Delete a role as IAM requires: out of its instance profiles, policies detached and deleted, then the role.

    ``attached`` (policy ARNs) and ``inline_names`` are read when not given.
    """
    for profile in list_iam_instance_profiles(client, role=name):
        remove_role_from_iam_instance_profile(client, profile["InstanceProfileName"], name)
    if attached is None:
        attached = [item["PolicyArn"] for item in list_iam_role_attached_policies(client, name)]
    if inline_names is None:
        inline_names = list_iam_role_policies(client, name)
    for arn in sorted(attached):
        detach_policy(client, name, arn)
    for policy_name in inline_names:
        delete_role_policy(client, name, policy_name)
    delete_role(client, name)
