"""What IAM authorizes for an AWS call, and the sandbox's evaluation of identity-based policies.

``required()`` names, for one API call, the ``(action, resource ARN)`` pairs IAM checks against the
caller's identity-based policies (AWS Service Authorization Reference): the call's own action on the
resource it acts on, plus the actions a parameter adds (creating a role or an OIDC provider *with
tags* also needs ``iam:TagRole`` / ``iam:TagOpenIDConnectProvider``). Calls that need no identity
permission give ``[]``: ``sts:GetCallerIdentity`` (always allowed, even under an explicit deny) and
the unsigned ``sts:AssumeRoleWithWebIdentity`` (decided by the role's trust policy alone).

``decide()`` evaluates identity-based policy documents as IAM does for one ``(action, resource)``:
an applying ``Deny`` wins, else an applying ``Allow``, else an implicit deny. ``Action`` /
``NotAction`` match case-insensitively with ``*`` and ``?``; ``Resource`` / ``NotResource`` match
case-sensitively, segment by segment of the ARN (a wildcard does not cross a ``:`` except a final
``*``). Conditions are not evaluated; to stay on the safe side an ``Allow`` with a ``Condition``
never applies and a ``Deny`` with one applies whenever its action and resource match.

EKS Pod Identity associations and add-ons are authorized on their own ARNs (``eks_resource``), creating and
listing them on the cluster's, as the Service Authorization Reference lists them; EKS Auth's
``eks-auth:AssumeRoleForPodIdentity`` on the cluster's ARN.

Test infrastructure only: nothing here is shared with ``plugins/``.
"""

import json
import re

from . import eks_pod_identity

PARTITION = "aws"

# Actions on one role: the resource is the role's ARN (with its path).
ROLE_ACTIONS = frozenset("""
    GetRole CreateRole DeleteRole UpdateRole UpdateRoleDescription UpdateAssumeRolePolicy TagRole UntagRole
    ListRoleTags ListAttachedRolePolicies ListRolePolicies GetRolePolicy PutRolePolicy DeleteRolePolicy
    AttachRolePolicy DetachRolePolicy PutRolePermissionsBoundary DeleteRolePermissionsBoundary
    ListInstanceProfilesForRole
""".split())
# Actions on one IAM OIDC identity provider: the resource is the provider's ARN.
OIDC_PROVIDER_ACTIONS = frozenset("""
    GetOpenIDConnectProvider CreateOpenIDConnectProvider DeleteOpenIDConnectProvider
    AddClientIDToOpenIDConnectProvider RemoveClientIDFromOpenIDConnectProvider
    UpdateOpenIDConnectProviderThumbprint TagOpenIDConnectProvider UntagOpenIDConnectProvider
    ListOpenIDConnectProviderTags
""".split())
# Actions on one managed policy: the resource is the policy's ARN.
POLICY_ACTIONS = frozenset("GetPolicy GetPolicyVersion ListPolicyVersions ListEntitiesForPolicy".split())
# Actions that support no resource-level permission: IAM checks them against "*".
UNSCOPED_ACTIONS = frozenset({
    "iam:ListOpenIDConnectProviders", "iam:ListPolicies", "iam:ListRoles", "eks:ListClusters",
})
# Calls that need no identity-based permission at all.
NO_PERMISSION = frozenset({"sts:GetCallerIdentity", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"})


def required(service, action, params, account_id, region, path="", role_arn=None):
    """``[(action, resource)]`` IAM authorizes for this call.

    ``params``: the query/form parameters; ``path``: the REST path (EKS); ``role_arn(name)``: the ARN of
    an existing role, None when there is none (IAM then checks the ARN without a path).
    """
    qualified = f"{service}:{action}"
    if qualified in NO_PERMISSION or service is None:
        return []
    if qualified in UNSCOPED_ACTIONS:
        return [(qualified, "*")]
    iam = f"arn:{PARTITION}:iam::{account_id}:"
    resource = "*"
    if service == "iam" and action in ROLE_ACTIONS:
        name = params.get("RoleName", "")
        existing = role_arn(name) if role_arn else None
        if existing:
            resource = existing
        elif action == "CreateRole":
            resource = f"{iam}role{params.get('Path') or '/'}{name}"
        else:
            resource = f"{iam}role/{name}"
    elif service == "iam" and action in OIDC_PROVIDER_ACTIONS:
        resource = params.get("OpenIDConnectProviderArn", "")
        if action == "CreateOpenIDConnectProvider":
            url = params.get("Url", "")
            resource = f"{iam}oidc-provider/{url.split('://', 1)[-1]}"
    elif service == "iam" and action in POLICY_ACTIONS:
        resource = params.get("PolicyArn", "")
    elif service == "iam" and action == "RemoveRoleFromInstanceProfile":
        resource = f"{iam}instance-profile/{params.get('InstanceProfileName', '')}"
    elif service == "sts" and action == "AssumeRole":
        resource = params.get("RoleArn", "")
    elif service in ("eks", "eks-auth"):
        resource = eks_resource(action, path, account_id, region) or resource
    needed = [(qualified, resource)]
    tagged = any(key.startswith("Tags.member.") for key in params)
    if tagged and qualified == "iam:CreateRole":
        needed.append(("iam:TagRole", resource))
    if tagged and qualified == "iam:CreateOpenIDConnectProvider":
        needed.append(("iam:TagOpenIDConnectProvider", resource))
    return needed


def eks_resource(action, path, account_id, region):
    """The ARN IAM checks for an EKS call: the Pod Identity association or add-on a path names, the ARN of a
    ``/tags/`` path, else the cluster (creating and listing associations and add-ons act on the cluster)."""
    if action in eks_pod_identity.TAG_OPERATIONS:
        return eks_pod_identity.tagged_arn(path) or None
    match = re.match(r"/clusters/([^/]+)/pod-identity-associations/([^/]+)", path)
    if match:
        return eks_pod_identity.association_arn(region, account_id, match.group(1), match.group(2), PARTITION)
    match = re.match(r"/clusters/([^/]+)/addons/([^/]+)", path)
    if match:
        return eks_pod_identity.addon_arn(region, account_id, match.group(1), match.group(2), PARTITION)
    match = re.match(r"/clusters/([^/]+)", path)
    if match:
        return f"arn:{PARTITION}:eks:{region}:{account_id}:cluster/{match.group(1)}"
    return None


def _like(pattern, value, ignore_case=False):
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def action_matches(pattern, action):
    return _like(pattern, action, ignore_case=True)


def resource_matches(pattern, arn):
    if pattern == "*":
        return True
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) < 6 and pattern.endswith("*"):
        return _like(pattern, arn)  # a final * of a shorter pattern expands beyond the colons
    if len(wanted) != 6 or len(actual) != 6:
        return False
    return all(_like(part, value) for part, value in zip(wanted, actual))


def statements(document):
    if isinstance(document, str):
        document = json.loads(document)
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _as_list(value):
    return [value] if isinstance(value, str) else list(value or [])


def statement_applies(statement, action, resource):
    """Whether ``statement`` covers ``action`` on ``resource`` (conditions left aside)."""
    if "Action" in statement:
        if not any(action_matches(p, action) for p in _as_list(statement["Action"])):
            return False
    elif any(action_matches(p, action) for p in _as_list(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        return any(resource_matches(p, resource) for p in _as_list(statement["Resource"]))
    return not any(resource_matches(p, resource) for p in _as_list(statement.get("NotResource")))


def decide(documents, action, resource):
    """``"Allow"``, ``"Deny"`` (explicit) or ``"ImplicitDeny"`` for ``action`` on ``resource``."""
    allowed = False
    for document in documents:
        for statement in statements(document):
            if not statement_applies(statement, action, resource):
                continue
            effect = statement.get("Effect")
            if effect == "Deny":  # with or without a Condition: conditions are not evaluated
                return "Deny"
            if effect == "Allow" and "Condition" not in statement:
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def denial(principal_arn, action, resource, verdict):
    """AWS's AccessDenied message for an identity-based denial."""
    because = ("with an explicit deny in an identity-based policy" if verdict == "Deny"
               else f"because no identity-based policy allows the {action} action")
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {because}"
