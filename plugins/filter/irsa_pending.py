# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_pending
short_description: The items of a batched task that its check-mode run found to change or to fail
version_added: 0.1.0
author:
  - eks.irsa contributors (!UNKNOWN)
description:
  - Given the items of an M(eks.irsa.irsa_role) (O(eks.irsa.irsa_role#module:roles)) or
    M(eks.irsa.irsa_service_account) (O(eks.irsa.irsa_service_account#module:service_accounts)) task and the
    registered result of the same task run in check mode, returns the items that run found would change, or
    failed on, so that the task that writes runs only for those. An item the check-mode run has no result for is
    kept.
options:
  _input:
    description: The items.
    type: list
    elements: dict
    required: true
  plan:
    description: The registered result of the check-mode run.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write only the roles the check found to change
  eks.irsa.irsa_role:
    roles: "{{ role_items | eks.irsa.irsa_pending(plan=checked_roles) }}"
"""

RETURN = r"""
_value:
  description: The items to write.
  type: list
  elements: dict
"""

from ansible_collections.eks.irsa.plugins.module_utils.role_results import item_key


def irsa_pending(items, plan):
    planned = {item_key(result): result for result in (plan or {}).get("results") or []}
    pending = []
    for item in items:
        result = planned.get(item_key(item))
        if result is None or result.get("failed") or result.get("changed"):
            pending.append(item)
    return pending


class FilterModule:
    def filters(self):
        return {"irsa_pending": irsa_pending}
