# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The input of the filters that read the bindings of the eks.irsa.irsa role."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  _input:
    description: The bindings, as in the C(irsa_bindings) variable of the C(eks.irsa.irsa) role.
    type: list
    elements: dict
    required: true
"""
