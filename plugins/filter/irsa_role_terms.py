# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_role_terms
short_description: A module message in the terms of the eks.irsa.irsa role's variables
version_added: 0.1.0
author:
  - eks.irsa contributors (!UNKNOWN)
description:
  - Replaces each module option a message of this collection's modules names (C(set the region option)) by the role
    variable or binding field that sets it (C(set irsa_region)), for messages the role shows.
options:
  _input:
    description: The message.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Show a module's failure in the role's terms
  ansible.builtin.fail:
    msg: "{{ result.msg | eks.irsa.irsa_role_terms }}"
  when: result is failed
"""

RETURN = r"""
_value:
  description: The message in the role's terms.
  type: str
"""

from ansible_collections.eks.irsa.plugins.module_utils.role_terms import in_role_terms


class FilterModule:
    def filters(self):
        return {"irsa_role_terms": in_role_terms}
