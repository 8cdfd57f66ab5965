# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_associations
short_description: The items of one eks.irsa.eks_pod_identity_association task for the bindings of the eks.irsa.irsa role
version_added: 0.1.0
author:
  - eks.irsa contributors (!UNKNOWN)
description:
  - Turns the bindings of the C(eks.irsa.irsa) role into the O(eks.irsa.eks_pod_identity_association#module:associations)
    items of one M(eks.irsa.eks_pod_identity_association) task.
  - With O(state=present), a binding with C(mechanism=pod_identity) whose role is in place (a result of
    M(eks.irsa.irsa_role) with its C(role)) gets the association of its ServiceAccount to that role; a binding with
    C(mechanism=irsa) and C(remove_previous) gets the deletion of its ServiceAccount's association, when it names
    the binding's role (the last step of a migration back to IRSA, since while the association exists new pods get EKS
    Pod Identity's credentials).
  - With O(state=absent), every binding with C(mechanism=pod_identity) gets the deletion of its association, when it
    names the binding's role (built from O(partition) and O(account_id)).
options:
  roles:
    description:
      - The registered results of the M(eks.irsa.irsa_role) tasks with O(eks.irsa.irsa_role#module:roles) (a later
        one wins); with O(state=present).
    type: list
    elements: dict
  state:
    description: Whether the associations are made or deleted.
    type: str
    choices: [present, absent]
    default: present
  partition:
    description: The AWS partition of the roles, with O(state=absent).
    type: str
  account_id:
    description: The account of the roles, with O(state=absent).
    type: str
extends_documentation_fragment:
  - eks.irsa.bindings
"""

EXAMPLES = r"""
- name: Associate every Pod Identity binding's ServiceAccount with its role, in one task
  eks.irsa.eks_pod_identity_association:
    cluster_name: my-cluster
    associations: "{{ irsa_bindings | eks.irsa.irsa_associations(roles=[registered_roles]) }}"
"""

RETURN = r"""
_value:
  description: The items, one per binding that has an association to make or delete.
  type: list
  elements: dict
"""

from ansible_collections.eks.irsa.plugins.module_utils.bindings import mechanism as _mechanism


from ansible_collections.eks.irsa.plugins.module_utils.role_results import role_results


def irsa_associations(bindings, roles=None, state="present", partition=None, account_id=None):
    found, _failed = role_results(roles or [])
    items = []
    for binding in bindings:
        item = {"namespace": binding.get("namespace") or "default", "service_account": binding["service_account"]}
        if state == "absent":
            if _mechanism(binding) == "pod_identity":
                items.append(dict(item, state="absent",
                                  role_arn="arn:{0}:iam::{1}:role/{2}".format(partition, account_id, binding["role_name"])))
            continue
        role = (found.get(binding["role_name"]) or {}).get("role") or {}
        if not role.get("arn"):
            continue
        if _mechanism(binding) == "pod_identity":
            item["role_arn"] = role["arn"]
            for key in ("target_role_arn", "disable_session_tags"):
                if binding.get(key) is not None:
                    item[key] = binding[key]
            items.append(item)
        elif binding.get("remove_previous"):
            items.append(dict(item, state="absent", role_arn=role["arn"]))
    return items


class FilterModule:
    def filters(self):
        return {"irsa_associations": irsa_associations}
