# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The IAM role calls of eks.irsa (irsa_role, irsa_repoint, irsa_prune), and what a role's tags say of its owner.

Every call goes through ``aws.aws_call``: throttling is retried, and a failure is an ``IrsaAWSError`` whose message
is "Failed to <what>", or for an AccessDenied names the IAM permission that is missing. A read answers None (or an
empty list) and a deletion False when IAM has no such entity; the cluster, caller and OIDC provider calls live in
the ``aws`` module_utils.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import copy
import functools
import json
import time

try:
    import botocore.exceptions
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.eks.irsa.plugins.module_utils.aws import ACCESS_DENIED_CODES
from ansible_collections.eks.irsa.plugins.module_utils.aws import aws_call
from ansible_collections.eks.irsa.plugins.module_utils.aws import trust_document
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_KEY
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError

# Answers that say "try again" rather than "no": a waiter gives up on them, so the wait starts over until its timeout.
_TRANSIENT_CODES = ("InternalFailure", "ServiceFailure", "ServiceUnavailable", "Throttling", "ThrottlingException",
                    "RequestLimitExceeded")


def _read(description, permission, missing):
    """Decorator: ``aws_call``, answering (a copy of) ``missing`` when IAM says there is no such entity."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except is_boto3_error_code("NoSuchEntity"):
                return copy.copy(missing)

        return aws_call(description, permission)(wrapper)

    return decorator


def is_owned(role):
    """Whether eks.irsa created ``role`` (a GetRole answer, tags included): it carries the ownership tag."""
    return boto3_tag_list_to_ansible_dict(role.get("Tags") or []).get(OWNER_TAG_KEY) == OWNER_TAG_VALUE


# ---------------------------------------------------------------------------------------------
# reads


@_read("get role", "iam:GetRole", None)
def get_role(client, name):
    """The role as GetRole answers it (tags included), its trust policy as a dict; None when there is no such role."""
    role = client.get_role(RoleName=name)["Role"]
    return dict(role, AssumeRolePolicyDocument=trust_document(role.get("AssumeRolePolicyDocument")))


@_read("list policies attached to role", "iam:ListAttachedRolePolicies", [])
def list_attached_policies(client, name):
    """``[{PolicyName, PolicyArn}]`` of the managed policies attached to the role."""
    paginator = client.get_paginator("list_attached_role_policies")
    return paginator.paginate(RoleName=name).build_full_result()["AttachedPolicies"]


@_read("list policies for role", "iam:ListRolePolicies", [])
def list_inline_policy_names(client, name):
    paginator = client.get_paginator("list_role_policies")
    return paginator.paginate(RoleName=name).build_full_result()["PolicyNames"]


@_read("get inline policy of role", "iam:GetRolePolicy", None)
def get_role_policy(client, role_name, policy_name):
    """The document of an inline policy as a dict, or None when the role has no such policy."""
    return trust_document(client.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"])


@aws_call("list all managed policies", "iam:ListPolicies")
def list_managed_policies(client):
    """Every managed policy the account can attach: its own and AWS's."""
    return client.get_paginator("list_policies").paginate().build_full_result()["Policies"]


@_read("get managed policy", "iam:GetPolicy", None)
def get_managed_policy(client, arn):
    """The managed policy ``arn``, or None when it does not exist."""
    return client.get_policy(PolicyArn=arn)["Policy"]


@_read("list instance profiles", "iam:ListInstanceProfilesForRole", [])
def list_instance_profiles(client, name):
    paginator = client.get_paginator("list_instance_profiles_for_role")
    return paginator.paginate(RoleName=name).build_full_result()["InstanceProfiles"]


def _transient(waiter_error):
    response = waiter_error.last_response or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
    return status >= 500 or (response.get("Error") or {}).get("Code") in _TRANSIENT_CODES


@aws_call("wait for the new role to be visible", "iam:GetRole")
def wait_for_role(client, role_name, timeout):
    """Wait until GetRole finds the new role, through IAM's transient failures; a refusal ends the wait at once."""
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
            response = e.last_response or {}
            if (response.get("Error") or {}).get("Code") in ACCESS_DENIED_CODES:
                # As GetRole's own answer, so that the message names the permission that is missing.
                raise botocore.exceptions.ClientError(response, "GetRole") from e
            if not _transient(e) or time.monotonic() + delay > deadline:
                raise IrsaAWSError(message="Timeout trying to wait for the new role to be visible", exception=e) from e
        time.sleep(delay)


# ---------------------------------------------------------------------------------------------
# writes


@aws_call("create role", "iam:CreateRole and iam:TagRole")
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


@aws_call("update the trust policy of role", "iam:UpdateAssumeRolePolicy")
def update_trust_policy(client, name, trust_policy):
    client.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust_policy))


def _role_write(action, description, deletion=False):
    """IAM's ``action`` on one role as a function ``(client, name, **params)`` (``params`` as boto3 names them),
    through ``aws_call`` with the permission iam:<action>. A ``deletion`` answers True, or False when there was
    nothing to delete."""

    def write(client, name, **params):
        getattr(client, botocore.xform_name(action))(RoleName=name, **params)
        return True

    if deletion:
        return _read(description, "iam:" + action, False)(write)
    return aws_call(description, "iam:" + action)(write)


update_role = _role_write("UpdateRole", "update role")
put_permissions_boundary = _role_write("PutRolePermissionsBoundary", "set the permissions boundary of role")
delete_permissions_boundary = _role_write("DeleteRolePermissionsBoundary", "remove the permissions boundary of role", deletion=True)
tag_role = _role_write("TagRole", "tag role")
untag_role = _role_write("UntagRole", "untag role")
attach_policy = _role_write("AttachRolePolicy", "attach managed policy to role")
detach_policy = _role_write("DetachRolePolicy", "detach managed policy from role", deletion=True)
put_role_policy = _role_write("PutRolePolicy", "put inline policy of role")
delete_role_policy = _role_write("DeleteRolePolicy", "delete inline policy of role", deletion=True)
remove_from_instance_profile = _role_write("RemoveRoleFromInstanceProfile", "remove role from instance profile", deletion=True)
delete_role = _role_write("DeleteRole", "delete role", deletion=True)


def delete_role_with_attachments(client, name, attached=None, inline_names=None):
    """Delete a role as IAM requires: out of its instance profiles, policies detached and deleted, then the role.

    ``attached`` (policy ARNs) and ``inline_names`` are read when not given.
    """
    for profile in list_instance_profiles(client, name):
        remove_from_instance_profile(client, name, InstanceProfileName=profile["InstanceProfileName"])
    if attached is None:
        attached = [item["PolicyArn"] for item in list_attached_policies(client, name)]
    if inline_names is None:
        inline_names = list_inline_policy_names(client, name)
    for arn in sorted(attached):
        detach_policy(client, name, PolicyArn=arn)
    for policy_name in inline_names:
        delete_role_policy(client, name, PolicyName=policy_name)
    delete_role(client, name)
