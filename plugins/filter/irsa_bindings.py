# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_bindings
short_description: The bindings of the eks.irsa.irsa role with what their presets give filled in
version_added: 0.1.0
author:
  - eks.irsa contributors (!UNKNOWN)
description:
  - Given the role's C(irsa_bindings), returns them with, for each binding that names a C(preset), the add-on chart's
    namespace and ServiceAccount, the role name C(<cluster>-<preset>) and the preset's C(cluster_name) option filled
    in where the binding says nothing. Bindings without a preset are returned as they are.
  - An unknown preset, an option the preset does not have, or an option of the wrong type fails with a message that
    names the binding.
options:
  cluster_name:
    description: The cluster of the bindings (the role's C(irsa_cluster_name)).
    type: str
    required: true
extends_documentation_fragment:
  - eks.irsa.bindings
"""

EXAMPLES = r"""
- name: The add-on's ServiceAccount and role name
  ansible.builtin.debug:
    msg: "{{ [{'preset': 'external-dns'}] | eks.irsa.irsa_bindings(cluster_name='prod') }}"
"""

RETURN = r"""
_value:
  description: The bindings, with the preset defaults filled in.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.eks.irsa.plugins.module_utils.bindings import BindingError
from ansible_collections.eks.irsa.plugins.module_utils.bindings import apply_presets


def irsa_bindings(bindings, cluster_name):
    try:
        return apply_presets(bindings, cluster_name)
    except BindingError as e:
        raise AnsibleFilterError(str(e)) from None


class FilterModule:
    def filters(self):
        return {"irsa_bindings": irsa_bindings}
