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

from ansible_collections.eks.irsa.plugins.module_utils import aws as irsa_aws
from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils import prune
from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import hide_kubeconfig_secrets
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import k8s_argument_spec
from ansible_collections.eks.irsa.plugins.module_utils.k8s.api import kubernetes_services


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
        subjects, service_accounts = prune.bound(module.params["bindings"])
        iam_client = module.client("iam")
        wrote = irsa_aws.watch_writes(iam_client)
        arn = prune.resolve_provider(module)
        kube = kubernetes_services(module)
        # Both sides are planned before anything is written.
        role_plans = prune.plan_roles(iam_client, arn, subjects)
        account_plans = prune.plan_service_accounts(kube, service_accounts)
        if not module.check_mode:
            prune.apply(iam_client, kube, role_plans, account_plans, done)
    except IrsaError as e:
        errors.fail(module, e, changed=wrote() or bool(done), written=done)
    finally:
        if kube is not None:
            kube.close()
    module.exit_json(**prune.result_of(role_plans, account_plans, module._diff))


if __name__ == "__main__":
    main()
