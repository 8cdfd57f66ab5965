# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pruning one cluster's IRSA to its bindings (irsa_prune): what eks.irsa added that no binding names any more.

``bound`` reads the bindings; ``plan_roles`` plans the subjects to remove from the trust of the roles eks.irsa
created (a role left with no statement is deleted) and ``plan_service_accounts`` the role annotations eks.irsa set on
ServiceAccounts no binding names (a ServiceAccount it created, with nothing else left on it, is deleted); ``apply``
writes both, and ``result_of`` is the module's result and diff.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

from ansible_collections.eks.irsa.plugins.module_utils import aws as irsa_aws
from ansible_collections.eks.irsa.plugins.module_utils import iam as irsa_iam
from ansible_collections.eks.irsa.plugins.module_utils import service_account as sa
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_oidc_provider
from ansible_collections.eks.irsa.plugins.module_utils.naming import provider_arn


def bound(bindings):
    """``{role name: {subjects}}`` and ``{(namespace, name)}`` of the bindings, checked as the role checks them."""
    subjects, service_accounts = {}, set()
    for index, binding in enumerate(bindings):
        namespace, name = binding.get("namespace") or "default", binding.get("service_account")
        if not binding.get("role_name") or not name:
            raise NamingError("bindings[{0}] needs service_account and role_name; got {1!r}".format(index, binding))
        sa.check_names(namespace, name)
        subjects.setdefault(binding["role_name"], set()).add(trust.subject(namespace, name))
        service_accounts.add((namespace, name))
    return subjects, service_accounts


def resolve_provider(module):
    """The ARN of the provider given in ``oidc_provider``; for an issuer or a provider host, of the caller's account."""
    issuer, arn = parse_oidc_provider(module.params["oidc_provider"])
    if arn is None:
        identity = irsa_aws.caller_identity(module.client("sts"))
        arn = provider_arn(issuer.provider, identity["account_id"], identity["partition"])
    return arn


def plan_roles(iam_client, arn, subjects):
    """``[(role name, trust before, trust after, removed subjects)]`` for our roles trusting subjects nobody binds."""
    plans = []
    for name in irsa_aws.roles_trusting(iam_client, arn):
        role = irsa_iam.get_role(iam_client, name)
        if role is None or not irsa_iam.is_owned(role):
            continue
        before = role["AssumeRolePolicyDocument"]
        wanted = subjects.get(name, set())
        after, removed = before, []
        for audience in trust.irsa_audiences(trust.statements_of(before), arn):
            existing = trust.provider_subjects(after, arn, audience)
            kept = [item for item in existing if item in wanted]
            if len(kept) == len(existing):
                continue
            removed.extend(item for item in existing if item not in wanted)
            after = trust.merge_trust_policy(
                after, {arn: {"subjects": kept, "audience": audience, "state": "present" if kept else "absent"}})
        if removed:
            plans.append((name, before, after, sorted(removed)))
    return plans


def plan_service_accounts(kube, service_accounts):
    """``[(ServiceAccount, annotations to remove, delete)]`` for our role annotations on unbound ServiceAccounts."""
    plans = []
    for item in kube.list_all_service_accounts():
        metadata = item.get("metadata") or {}
        if (metadata.get("namespace"), metadata.get("name")) in service_accounts:
            continue
        _role_arn, ours = sa.role_annotation(metadata)
        if not ours:
            continue
        removal = sa.irsa_removal(metadata)
        plans.append((item, removal, sa.unused_after(metadata, removal)))
    return plans


def apply(iam_client, kube, role_plans, account_plans, done):
    """Write the plans; ``done`` collects what was written, for a failure halfway."""
    for name, _before, after, _removed in role_plans:
        if trust.statements_of(after):
            irsa_iam.update_trust_policy(iam_client, name, after)
        else:
            irsa_iam.delete_role_with_attachments(iam_client, name)
        done.append(name)
    for item, removal, delete in account_plans:
        metadata = item["metadata"]
        if delete:
            kube.delete_service_account(metadata["namespace"], metadata["name"])
            done.append(metadata["name"])
            continue
        patch = sa.metadata_patch(metadata, {}, removal, {})
        # Conditional on what was read: a ServiceAccount changed meanwhile is a 409, not a lost update.
        patch["metadata"]["resourceVersion"] = metadata.get("resourceVersion")
        kube.patch_service_account(metadata["namespace"], metadata["name"], patch)
        done.append(metadata["name"])


def result_of(role_plans, account_plans, with_diff):
    """The module's result: the ``roles`` and ``service_accounts`` changed, and with ``with_diff`` the trust policies
    and annotations before and after (``None`` after for what is deleted)."""
    roles, accounts = [], []
    diff = {"before": {"roles": {}, "service_accounts": {}}, "after": {"roles": {}, "service_accounts": {}}}
    for name, before, after, removed in role_plans:
        deleted = not trust.statements_of(after)
        roles.append({"name": name, "removed": removed, "deleted": deleted})
        diff["before"]["roles"][name] = before
        diff["after"]["roles"][name] = None if deleted else after
    for item, removal, delete in account_plans:
        metadata = item["metadata"]
        accounts.append({"namespace": metadata["namespace"], "name": metadata["name"],
                         "role_arn": sa.role_annotation(metadata)[0], "deleted": delete})
        key = "{0}/{1}".format(metadata["namespace"], metadata["name"])
        diff["before"]["service_accounts"][key] = metadata.get("annotations") or {}
        diff["after"]["service_accounts"][key] = None if delete else (
            sa.apply_patch(metadata, sa.metadata_patch(metadata, {}, removal, {}))["annotations"])
    result = dict(changed=bool(roles or accounts), roles=roles, service_accounts=accounts)
    if with_diff:
        result["diff"] = diff
    return result
