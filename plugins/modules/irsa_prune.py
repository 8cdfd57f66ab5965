#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: irsa_prune
short_description: Remove what eks.irsa added for an EKS cluster that its bindings no longer name
version_added: 0.1.0
description:
  - Makes O(bindings) the whole truth for one cluster (one OIDC provider). In the IAM roles this collection created
    (tagged C(eks.irsa/managed-by=eks.irsa)) that trust the provider, the ServiceAccounts of the provider's IRSA
    statement that no binding names for that role are removed; a role of ours left with no statement at all in
    its trust policy is deleted. On the cluster, the IAM role annotation this collection set (recorded in
    C(eks.irsa/bound-role-arn)) is removed from every ServiceAccount no binding names; a ServiceAccount it created
    with nothing else left on it is deleted.
  - Roles without the tag, statements of other providers, statements this collection does not write, and
    annotations it did not set are never touched.
  - Use it only for a cluster whose IRSA bindings all come from one list. Run it in check mode with diff first.
  - It reads every role of the account once (C(iam:ListRoles)), each role trusting the provider once more
    (C(iam:GetRole)), and lists the cluster's ServiceAccounts once.
author:
  - eks.irsa contributors (!UNKNOWN)
options:
  oidc_provider:
    description:
      - The cluster's OIDC provider, as issuer URL, provider (the issuer without C(https://)) or IAM OIDC provider
        ARN, as M(eks.irsa.eks_oidc_info) returns it.
    type: str
    required: true
  bindings:
    description:
      - Every binding of the cluster, as the C(irsa_bindings) of the P(eks.irsa.irsa#role) role
        (C(service_account), C(namespace), C(role_name); other keys are ignored).
    type: list
    elements: dict
    required: true
extends_documentation_fragment:
  - eks.irsa.k8s_auth
  - eks.irsa.k8s_auth.eks_cluster
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - eks.irsa.requirements
attributes:
  check_mode:
    support: full
    description: Predicts exactly what a real run removes and removes nothing.
  diff_mode:
    support: full
    description: Shows each changed role's trust policy and each changed ServiceAccount's annotations before and after.
notes:
  - "Permissions used: C(iam:ListRoles), C(iam:GetRole), C(iam:UpdateAssumeRolePolicy), and to delete a role
    C(iam:ListInstanceProfilesForRole), C(iam:RemoveRoleFromInstanceProfile), C(iam:ListAttachedRolePolicies),
    C(iam:DetachRolePolicy), C(iam:ListRolePolicies), C(iam:DeleteRolePolicy), C(iam:DeleteRole); Kubernetes: list
    serviceaccounts in every namespace, patch and delete serviceaccounts."
seealso:
  - module: eks.irsa.irsa_role
  - module: eks.irsa.irsa_service_account
"""

EXAMPLES = r"""
- name: Find the cluster's OIDC provider
  eks.irsa.eks_oidc_info:
    cluster_name: my-cluster
  register: oidc

- name: Show what no binding names any more (nothing is removed)
  eks.irsa.irsa_prune:
    oidc_provider: "{{ oidc.provider_arn }}"
    bindings:
      - {service_account: api, namespace: shop, role_name: shop-api}
    eks_cluster: my-cluster
  check_mode: true
  diff: true
"""

RETURN = r"""
roles:
  description: The roles of ours whose trust lost ServiceAccounts (or would, in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The role's name.
      type: str
      sample: shop-api
    removed:
      description: The subjects removed from its trust.
      type: list
      elements: str
      sample: ["system:serviceaccount:shop:old-worker"]
    deleted:
      description: Whether the role was deleted, nothing being left in its trust.
      type: bool
      sample: false
service_accounts:
  description: The ServiceAccounts whose role annotation was removed (or would be, in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    namespace:
      description: Its namespace.
      type: str
      sample: shop
    name:
      description: Its name.
      type: str
      sample: old-worker
    role_arn:
      description: The role the annotation named.
      type: str
      sample: arn:aws:iam::123456789012:role/shop-api
    deleted:
      description: Whether the ServiceAccount itself was deleted (created by eks.irsa, nothing else on it).
      type: bool
      sample: false
"""

from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils import aws as irsa_aws
from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils import iam as irsa_iam
from ansible_collections.eks.irsa.plugins.module_utils import service_account as sa
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import hide_kubeconfig_secrets
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import k8s_argument_spec
from ansible_collections.eks.irsa.plugins.module_utils.k8s.api import kubernetes_services
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
        for audience in sorted({DEFAULT_AUDIENCE} | _audiences(before, arn)):
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


def _audiences(document, arn):
    """The audiences of the IRSA statements of ``arn`` in ``document`` (the ``:aud`` values)."""
    key = trust.provider_from_arn(arn) + ":aud"
    return {value for stmt in trust.statements_of(document) for _operator, value in trust.condition_values(stmt, key)}


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


def result_of(role_plans, account_plans):
    """The ``roles`` and ``service_accounts`` results, and the diff: trust policies and annotations before and after
    (``None`` after for what is deleted)."""
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
    return roles, accounts, diff


def main():
    argument_spec = dict(
        oidc_provider=dict(type="str", required=True),
        bindings=dict(type="list", elements="dict", required=True),
    )
    argument_spec.update(k8s_argument_spec())
    module = IrsaAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    kube = None
    wrote = bool
    done = []
    try:
        hide_kubeconfig_secrets(module)
        subjects, service_accounts = bound(module.params["bindings"])
        iam_client = module.client("iam")
        wrote = irsa_aws.watch_writes(iam_client)
        arn = resolve_provider(module)
        kube = kubernetes_services(module)
        # Both sides are planned before anything is written.
        role_plans = plan_roles(iam_client, arn, subjects)
        account_plans = plan_service_accounts(kube, service_accounts)
        if not module.check_mode:
            apply(iam_client, kube, role_plans, account_plans, done)
    except IrsaError as e:
        errors.fail(module, e, changed=wrote() or bool(done), written=done)
    finally:
        if kube is not None:
            kube.close()
    roles, accounts, diff = result_of(role_plans, account_plans)
    result = dict(changed=bool(roles or accounts), roles=roles, service_accounts=accounts)
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
