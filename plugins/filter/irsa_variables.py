# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_variables
short_description: Refuse irsa_* variables the eks.irsa.irsa role does not know
version_added: 0.1.0
author:
  - eks.irsa contributors (!UNKNOWN)
description:
  - Takes the names of the C(irsa_*) variables that are set and the names the role knows, and fails for each
    unknown one that is close to a known one, naming it, so that a misspelt variable (C(irsa_binding)) stops the
    run instead of being ignored. Names far from every known one (variables of other plays that happen to start
    with C(irsa_)) pass.
  - Used by the role, first thing; returns the names it was given.
options:
  _input:
    description: The names of the variables set, for example C(query('ansible.builtin.varnames', '^irsa_')).
    type: list
    elements: str
    required: true
  known:
    description: The names the role knows.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a misspelt variable
  ansible.builtin.debug:
    msg: "{{ query('ansible.builtin.varnames', '^irsa_') | eks.irsa.irsa_variables(known=['irsa_bindings', 'irsa_cluster_name']) }}"
"""

RETURN = r"""
_value:
  description: The names given, when every one is known.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.eks.irsa.plugins.module_utils.bindings import did_you_mean


# How alike a name must be to a known one to be taken for a misspelling of it (difflib's ratio).
MISSPELLING = 0.85


def irsa_variables(names, known):
    misspelt = [(name, did_you_mean(name, known, MISSPELLING)) for name in sorted(set(names) - set(known))]
    misspelt = [(name, hint) for name, hint in misspelt if hint]
    if misspelt:
        raise AnsibleFilterError(
            "the eks.irsa.irsa role does not know the variable(s) {0}, and would ignore them: {1}. Its variables are "
            "listed by ansible-doc -t role eks.irsa.irsa".format(
                ", ".join(name for name, _hint in misspelt), " ".join(name + hint for name, hint in misspelt))
        )
    return names


class FilterModule:
    def filters(self):
        return {"irsa_variables": irsa_variables}
