# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_roles
short_description: Group IRSA bindings into the IAM roles they need
version_added: 0.1.0
author:
  - eks.irsa contributors (!UNKNOWN)
description:
  - Takes the bindings of the C(eks.irsa.irsa) role (one ServiceAccount each) and returns one entry per
    IAM role, with the ServiceAccounts of every binding that names that role, so that two bindings sharing
    a role end up in one trust policy.
  - Managed policies of a shared role are the union of the bindings' lists; inline policies, tags and the
    single-valued options (path, permissions boundary, audience) must not contradict each other.
    A contradiction, or the same ServiceAccount bound twice, is an error that names both bindings.
  - A binding names one ServiceAccount exactly (a valid Kubernetes namespace and name, no wildcard) and a
    valid IAM role name; anything else is an error that says what to fix, raised before anything is written.
options:
  adopt:
    description:
      - The names of the roles that may be adopted (the role's C(irsa_adopt_roles)); when given, each entry gets
        C(adopt), so that the entries are the O(eks.irsa.irsa_role#module:roles) items of M(eks.irsa.irsa_role).
    type: list
    elements: str
  cluster_name:
    description:
      - The cluster of the bindings. A role with a binding of C(mechanism=pod_identity) gets this cluster added to the
        C(aws:SourceArn) condition of its EKS Pod Identity statement (the clusters of other runs stay), and the entry of
        a role that only such bindings name gets it as C(cluster_name).
    type: str
  state:
    description:
      - V(absent) for a teardown, whose entries list the ServiceAccount of every binding (IRSA or EKS Pod Identity) to
        take out of the role's IRSA trust.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - eks.irsa.bindings
"""

EXAMPLES = r"""
- name: One role per distinct role_name
  ansible.builtin.debug:
    msg: "{{ irsa_bindings | eks.irsa.irsa_roles }}"
  vars:
    irsa_bindings:
      - {service_account: app, namespace: shop, role_name: shop-reader}
      - {service_account: worker, namespace: shop, role_name: shop-reader}
"""

RETURN = r"""
_value:
  description: One entry per IAM role.
  type: list
  elements: dict
  contains:
    role_name:
      description: The role's name.
      type: str
    service_accounts:
      description: The C(namespace:name) of every ServiceAccount the role must trust.
      type: list
      elements: str
    managed_policies:
      description: Union of the bindings' managed policies; null when no binding names any.
      type: list
    inline_policies:
      description: The bindings' inline policies merged; null when no binding has any.
      type: dict
    permissions_boundary:
      description: The permissions boundary, or null.
      type: str
    path:
      description: The role's path, or null.
      type: str
    audience:
      description: The audience, or null.
      type: str
    tags:
      description: The bindings' tags merged, or null.
      type: dict
    pod_identity:
      description:
        - "C({state: present, clusters: [cluster_name], purge_clusters: false}) when a binding of the role has
          C(mechanism=pod_identity), else null (the role's Pod Identity statement is then left as it is)."
      type: dict
    purge_service_accounts:
      description:
        - V(false) when a binding of the role has C(mechanism=pod_identity), so that its ServiceAccount stays in the
          role's IRSA trust, if it is there, until the migration is finished (dual trust); else null.
      type: bool
    adopt:
      description: Whether the role is in O(adopt); only when O(adopt) is given.
      type: bool
"""

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.eks.irsa.plugins.module_utils import service_account as sa
from ansible_collections.eks.irsa.plugins.module_utils.bindings import BindingError
from ansible_collections.eks.irsa.plugins.module_utils.bindings import check_bindings
from ansible_collections.eks.irsa.plugins.module_utils.bindings import label as binding_label
from ansible_collections.eks.irsa.plugins.module_utils.bindings import mechanism
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError

_SINGLE = ("permissions_boundary", "path", "audience", "preset", "preset_options")
_ROLE_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")


def _check_binding(binding, label):
    """What irsa_service_account and irsa_role would refuse, refused before anything is written."""
    namespace, name = binding.get("namespace") or "default", binding["service_account"]
    for key, value in (("namespace", namespace), ("service_account", name)):
        if "*" in value or "?" in value:
            raise AnsibleFilterError(
                "binding {0}: {1} {2!r} holds a wildcard, but a binding annotates one ServiceAccount, so it names it "
                "exactly. To trust a pattern, give it to the eks.irsa.irsa_role module's service_accounts".format(label, key, value)
            )
    try:
        sa.check_names(namespace, name)
        if isinstance(binding.get("token_expiration"), int):
            sa.check_token_expiration(binding["token_expiration"])
    except NamingError as e:
        raise AnsibleFilterError("binding {0}: {1}".format(label, e)) from None
    _check_mechanism(binding, label)
    role_name = binding["role_name"]
    if not _ROLE_NAME.match(role_name):
        raise AnsibleFilterError(
            "binding {0}: role_name {1!r} is not a valid IAM role name ({2} characters): use 1 to 64 ASCII letters, "
            "digits and + = , . @ _ -".format(label, role_name, len(role_name))
        )


_MECHANISMS = ("irsa", "pod_identity")
# Fields that only one mechanism uses: a binding of the other one that sets them is refused.
_ONLY = {
    "irsa": ("audience", "sts_regional_endpoints", "token_expiration"),
    "pod_identity": ("target_role_arn", "disable_session_tags", "pod_labels"),
}


def _check_mechanism(binding, label):
    mechanism = binding.get("mechanism") or "irsa"
    if mechanism not in _MECHANISMS:
        raise AnsibleFilterError(
            "binding {0}: mechanism {1!r} is not one of irsa, pod_identity".format(label, mechanism))
    other = _MECHANISMS[1 - _MECHANISMS.index(mechanism)]
    for field in _ONLY[other]:
        if binding.get(field) is not None and binding.get(field) != "":
            raise AnsibleFilterError(
                "binding {0}: {1} is for mechanism {2}, and this binding's mechanism is {3}: remove {1}, or set "
                "mechanism: {2}".format(label, field, other, mechanism))


def _new_role(name):
    """A role entry before any binding's options are merged into it."""
    return {
        "role_name": name,
        "service_accounts": [],
        "pod_identity": None,
        "purge_service_accounts": None,
        "cluster_name": None,
        "managed_policies": None,
        "inline_policies": None,
        "permissions_boundary": None,
        "path": None,
        "audience": None,
        "tags": None,
        "preset": None,
        "preset_options": None,
    }


def _merge_single(role, binding, label, owners):
    """The single-valued options: a binding that sets one sets it for the role, unless another set it differently."""
    name = role["role_name"]
    for key in _SINGLE:
        value = binding.get(key)
        if value is None or value == "":
            continue
        if role[key] is not None and role[key] != value:
            raise AnsibleFilterError(
                "bindings {0} and {1} share role {2} but set different {3} ({4!r} and {5!r}): "
                "give them the same {3}, or set it on one of them only".format(
                    owners[(name, key)], label, name, key, role[key], value
                )
            )
        role[key] = value
        owners[(name, key)] = label


def _merge_mappings(role, binding, label, owners):
    """Inline policies and tags: the bindings' entries merged, the same name with two values refused."""
    name = role["role_name"]
    for key in ("inline_policies", "tags"):
        if binding.get(key) is None:
            continue
        merged = role[key] if role[key] is not None else {}
        for item, value in binding[key].items():
            if item in merged and merged[item] != value:
                raise AnsibleFilterError(
                    "bindings {0} and {1} share role {2} but give {3} {4!r} different values: "
                    "make them equal, or set it on one of them only".format(
                        owners[(name, key, item)], label, name, key[:-1] if key == "tags" else "inline policy", item
                    )
                )
            merged[item] = value
            owners[(name, key, item)] = label
        role[key] = merged


def _add_binding(role, binding, cluster_name, state):
    """The binding's trust: its ServiceAccount in the role's IRSA trust, or this cluster in the role's Pod Identity
    statement. A teardown takes the ServiceAccount out of the IRSA trust whatever the mechanism (a binding that moved
    to EKS Pod Identity may have been there before)."""
    if mechanism(binding) == "irsa" or state == "absent":
        role["service_accounts"].append("{0}:{1}".format(binding.get("namespace") or "default", binding["service_account"]))
    if mechanism(binding) == "irsa":
        return
    # This cluster added to (or taken out of) the clusters the statement lists: the role can serve several clusters.
    role["pod_identity"] = {"state": "present", "clusters": [cluster_name], "purge_clusters": False}
    # Its ServiceAccount stays in the role's IRSA trust, if it is there, until the migration is finished (irsa_retire).
    role["purge_service_accounts"] = False


def _finish_role(role, cluster_name):
    """A role that only Pod Identity bindings name manages no IRSA trust: its IRSA statements are left as they are."""
    if not role["service_accounts"]:
        role["service_accounts"] = None
        role["cluster_name"] = cluster_name
    return role


def irsa_roles(bindings, adopt=None, cluster_name=None, state="present"):
    try:
        check_bindings(bindings)
    except BindingError as e:
        raise AnsibleFilterError(str(e)) from None
    roles = {}
    owners = {}
    seen = {}
    for binding in bindings:
        label = binding_label(binding)
        _check_binding(binding, label)
        if label in seen:
            raise AnsibleFilterError(
                "ServiceAccount {0} is bound twice (to roles {1} and {2}): a ServiceAccount carries one "
                "eks.amazonaws.com/role-arn annotation; keep one binding".format(label, seen[label], binding["role_name"])
            )
        seen[label] = binding["role_name"]
        role = roles.setdefault(binding["role_name"], _new_role(binding["role_name"]))
        _add_binding(role, binding, cluster_name, state)
        _merge_single(role, binding, label, owners)
        if binding.get("managed_policies") is not None:
            merged = role["managed_policies"] or []
            role["managed_policies"] = merged + [p for p in binding["managed_policies"] if p not in merged]
        _merge_mappings(role, binding, label, owners)
    if adopt is not None:
        for name, role in roles.items():
            role["adopt"] = name in adopt
    return [_finish_role(role, cluster_name) for role in roles.values()]


class FilterModule:
    def filters(self):
        return {"irsa_roles": irsa_roles}
