# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The registered results of the eks.irsa.irsa role's batched tasks, found per role and per ServiceAccount.

The role runs irsa_role and irsa_service_account once in check mode for every binding, then once more, writing,
for the items that check found to change. What a binding came to is the later result of its item, else the
earlier one. A task that failed as a whole (no per-item ``results``) stands for every item it was given.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations


def item_key(entry):
    """``namespace/name`` for a ServiceAccount (an item or its result), the role name for a role."""
    if "namespace" in entry:
        # An association (its item or result) names its ServiceAccount service_account.
        return "{0}/{1}".format(entry.get("namespace") or "default", entry.get("name") or entry.get("service_account"))
    return entry.get("name") or entry.get("role_name")


def changed_items(registered):
    """The keys of the items that any of the registered results (one dict or a list) says changed or would change."""
    if isinstance(registered, dict):
        registered = [registered]
    return {item_key(entry) for result in registered or [] if isinstance(result, dict)
            for entry in result.get("results") or [] if entry.get("changed")}


def role_results(registered):
    """``({key: result}, fallback)`` from registered results (one dict or a list, later ones winning).

    ``fallback`` is the result of a task that failed before it had per-item results (its message then stands for
    every item), or None.
    """
    if isinstance(registered, dict):
        registered = [registered]
    found, fallback = {}, None
    for result in registered or []:
        if not isinstance(result, dict) or result.get("skipped"):
            continue
        items = result.get("results")
        if items is None:
            # Failed as a whole (registered with failed_when false, it says failed: false but keeps its msg).
            if result.get("msg"):
                fallback = result
            continue
        for entry in items:
            found[item_key(entry)] = entry
    return found, fallback
