# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_service_accounts
short_description: The items of one eks.irsa.irsa_service_account task for the bindings of the eks.irsa.irsa role
version_added: 0.1.0
author:
  - eks.irsa contributors (!UNKNOWN)
description:
  - Turns the bindings of the C(eks.irsa.irsa) role into the O(eks.irsa.irsa_service_account#module:service_accounts) items of one
    M(eks.irsa.irsa_service_account) task, so that one module run annotates every binding.
  - With O(state=present), only the bindings whose role is in place (a result of M(eks.irsa.irsa_role) with its
    C(role)) are returned, each with the ARN that result gives. A binding with C(mechanism=pod_identity) gets an item
    that only makes sure its ServiceAccount exists (C(annotate_role=false)), since its pods get the role from an
    association.
  - With O(state=absent), every binding is returned with the ARN of its role built from O(partition) and
    O(account_id). Only an annotation naming that role is removed, and a ServiceAccount the collection created
    goes when nothing but its own marks is left on it.
options:
  roles:
    description:
      - The registered results of the M(eks.irsa.irsa_role) tasks with O(eks.irsa.irsa_role#module:roles) (a later
        one wins for a role both name); with O(state=present).
    type: list
    elements: dict
  state:
    description: Whether the annotations are set or removed.
    type: str
    choices: [present, absent]
    default: present
  partition:
    description: The AWS partition of the roles, with O(state=absent).
    type: str
  account_id:
    description: The account of the roles, with O(state=absent).
    type: str
  adopt:
    description: The C(namespace/name) of the ServiceAccounts whose foreign role annotation may be replaced.
    type: list
    elements: str
  list_pods:
    description: Whether the module lists the pods that keep an old identity.
    type: bool
    default: true
  verify_checks:
    description:
      - The M(eks.irsa.irsa_verify) checks that will verify the bindings. Each item of O(state=present) then asks RBAC
        whether those checks could run (O(eks.irsa.irsa_service_account#module:verify_checks), with the binding's
        mechanism). A binding whose role result changed, one with C(mechanism=pod_identity) and one with
        C(remove_previous) always ask (another write precedes their verification); the others ask only when their
        ServiceAccount changes.
    type: list
    elements: str
extends_documentation_fragment:
  - eks.irsa.bindings
"""

EXAMPLES = r"""
- name: Annotate every binding's ServiceAccount in one task
  eks.irsa.irsa_service_account:
    service_accounts: "{{ irsa_bindings | eks.irsa.irsa_service_accounts(roles=[registered_roles]) }}"
"""

RETURN = r"""
_value:
  description: The items, one per binding kept.
  type: list
  elements: dict
"""

from ansible_collections.eks.irsa.plugins.module_utils.bindings import mechanism
from ansible_collections.eks.irsa.plugins.module_utils.role_results import role_results


def irsa_service_accounts(bindings, roles=None, state="present", partition=None, account_id=None, adopt=None,
                          list_pods=True, verify_checks=None):
    adopt = set(adopt or [])
    found, _failed = role_results(roles or [])
    items = []
    for binding in bindings:
        namespace = binding.get("namespace") or "default"
        name = binding["service_account"]
        if state == "absent":
            items.append({
                "name": name, "namespace": namespace, "state": "absent", "delete_when_unused": True, "list_pods": False,
                # Only an annotation naming this binding's role is removed (the path does not matter).
                "role_arn": "arn:{0}:iam::{1}:role/{2}".format(partition, account_id, binding["role_name"]),
            })
            continue
        role_result = found.get(binding["role_name"]) or {}
        role = role_result.get("role") or {}
        if not role.get("arn"):
            continue
        # The verification follows a write of the role (or of an association, planned later) whatever the
        # ServiceAccount's own change; else only its own.
        always = role_result.get("changed") or mechanism(binding) == "pod_identity" or binding.get("remove_previous")
        verify = {"verify_checks": list(verify_checks), "verify_mechanism": mechanism(binding),
                  "verify_when": "always" if always else "changed"} if verify_checks else {}
        if mechanism(binding) == "pod_identity":
            # Its pods get the role from an association: the ServiceAccount must exist, its annotations stay as they are.
            items.append(dict({
                "name": name, "namespace": namespace, "annotate_role": False, "create": binding.get("create_service_account", True),
                "create_namespace": binding.get("create_namespace", False), "list_pods": False,
            }, **verify))
            continue
        items.append(dict(verify, **{
            "name": name,
            "namespace": namespace,
            "role_arn": role["arn"],
            "audience": binding.get("audience") or None,
            "sts_regional_endpoints": binding.get("sts_regional_endpoints"),
            "token_expiration": binding.get("token_expiration") or None,
            "create": binding.get("create_service_account", True),
            "create_namespace": binding.get("create_namespace", False),
            "adopt": "{0}/{1}".format(namespace, name) in adopt,
            "list_pods": list_pods,
        }))
    return items


class FilterModule:
    def filters(self):
        return {"irsa_service_accounts": irsa_service_accounts}
