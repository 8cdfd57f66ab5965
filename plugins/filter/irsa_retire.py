# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_retire
short_description: What the eks.irsa.irsa role removes to finish a migration between IRSA and EKS Pod Identity
version_added: 0.1.0
author:
  - eks.irsa contributors (!UNKNOWN)
description:
  - For the bindings with C(remove_previous) that the run has just verified on their mechanism, with no pod left that
    still runs with the previous one, the items that remove what the previous mechanism gave them.
  - With O(kind=service_accounts), the O(eks.irsa.irsa_service_account#module:service_accounts) items that remove the
    role annotation of each C(mechanism=pod_identity) binding (only an annotation naming the binding's role).
  - With O(kind=roles), the O(eks.irsa.irsa_role#module:roles) items that take each C(mechanism=pod_identity)
    binding's ServiceAccount out of its role's IRSA trust, and, for the C(mechanism=irsa) bindings, take the cluster out
    of the role's EKS Pod Identity statement, when no binding of the run uses EKS Pod Identity with that role. A role
    is not deleted by this (it still trusts the mechanism the binding moved to).
  - A binding that was not verified, or whose pods still run with the previous mechanism (RV(eks.irsa.irsa_verify#module:results[].pods_to_restart)),
    keeps both, so nothing is removed before its pods have moved.
options:
  verify:
    description: The registered result of the M(eks.irsa.irsa_verify) task of the run.
    type: dict
    required: true
  kind:
    description: Which items.
    type: str
    choices: [roles, service_accounts]
    required: true
  cluster_name:
    description: The cluster of the bindings.
    type: str
  check_mode:
    description: Whether the run is in check mode (nothing was written, so nothing is ready to be removed).
    type: bool
    default: false
extends_documentation_fragment:
  - eks.irsa.bindings
"""

EXAMPLES = r"""
- name: Remove the IRSA annotation of the bindings that moved to EKS Pod Identity
  eks.irsa.irsa_service_account:
    service_accounts: "{{ irsa_bindings | eks.irsa.irsa_retire(verify=verified, kind='service_accounts') }}"
"""

RETURN = r"""
_value:
  description: The items.
  type: list
  elements: dict
"""

from ansible_collections.eks.irsa.plugins.module_utils.bindings import mechanism as _mechanism


def _ready(binding, verified):
    """Whether the binding was verified on its mechanism and none of its pods still runs with the previous one."""
    label = "{0}/{1}".format(binding.get("namespace") or "default", binding["service_account"])
    result = verified.get(label) or {}
    # Only the static check lists the pods that still run with the previous mechanism.
    listed = any(check.get("check") == "static" for check in result.get("checks") or [])
    return bool(result.get("verified")) and listed and not result.get("pods_to_restart")


def irsa_retire(bindings, verify, kind, cluster_name=None, check_mode=False):
    if check_mode:
        return []
    verified = {"{0}/{1}".format(entry.get("namespace"), entry.get("service_account")): entry
                for entry in (verify or {}).get("results") or []}
    ready = [binding for binding in bindings if binding.get("remove_previous") and _ready(binding, verified)]
    if kind == "service_accounts":
        return [{"name": binding["service_account"], "namespace": binding.get("namespace") or "default", "state": "absent",
                 "role_arn": (verified["{0}/{1}".format(binding.get("namespace") or "default", binding["service_account"])]
                              .get("role_arn")),
                 "list_pods": False}
                for binding in ready if _mechanism(binding) == "pod_identity"]
    pod_identity_roles = {binding["role_name"] for binding in bindings if _mechanism(binding) == "pod_identity"}
    roles = {}
    for binding in ready:
        name = binding["role_name"]
        if _mechanism(binding) == "pod_identity":
            role = roles.setdefault(name, {"name": name, "state": "absent", "service_accounts": []})
            role["service_accounts"].append("{0}:{1}".format(binding.get("namespace") or "default", binding["service_account"]))
        elif name not in pod_identity_roles:
            roles[name] = {"name": name, "state": "absent", "cluster_name": cluster_name,
                           "pod_identity": {"clusters": [cluster_name], "purge_clusters": False}}
    return list(roles.values())


class FilterModule:
    def filters(self):
        return {"irsa_retire": irsa_retire}
