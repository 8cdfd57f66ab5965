# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Many items in one module run: irsa_role's ``roles`` and irsa_service_account's ``service_accounts``.

A module given a list of items runs each as its single form would: the task's own options are the defaults of
every item and an item's keys override them; each item gets its own result, ``changed``, diff, warnings and
failure, and a failing item does not stop the others. Items run on a bounded pool of threads (their AWS and
Kubernetes calls wait on the network), reads that every item needs are made once (``OnceCache``), and the
single form is a batch of one, so both go through the same code.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError

# Items in flight at once: enough to hide the network's latency, few enough to stay clear of AWS's throttling
# (throttled calls are retried with backoff as in the single form).
DEFAULT_CONCURRENCY = 8


class ItemModule:
    """What the single-item code uses of the module, for one item: its own ``params`` and warnings; the rest
    (check mode, diff, clients, region) is the module's."""

    def __init__(self, module, params, label, cache):
        self._module = module
        self.params = params
        self.label = label
        self.cache = cache
        self.warnings = []

    def warn(self, warning, *_args, **_kwargs):
        self.warnings.append(warning)

    def __getattr__(self, name):
        return getattr(self._module, name)


class OnceCache:
    """Values every item may need (the account, a cluster's provider, the managed policies): computed once, by
    the first item that asks, while the others asking for the same key wait.

    A failure is not kept by default: the next item asking tries again (and reports its own failure). With
    ``remember_failures`` the same failure is raised to every item sharing the key, for reads whose retrying is
    done already (irsa_verify's facts).
    """

    def __init__(self, remember_failures=False):
        self._lock = threading.Lock()
        self._locks = {}
        self._values = {}
        self._remember_failures = remember_failures

    def get(self, key, compute):
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                try:
                    self._values[key] = (True, compute())
                except Exception as e:  # noqa: B902 - raised again below, to this item and (if kept) to the others
                    if not self._remember_failures:
                        raise
                    self._values[key] = (False, e)
            ok, value = self._values[key]
        if not ok:
            raise value
        return value


class NamespaceReads:
    """The first read of each item's ServiceAccount, namespace and pods. A namespace that several items name is read
    with one list of its ServiceAccounts (and one of its pods) instead of a read per item; a namespace of one item
    is read with a get (and a list of that ServiceAccount's pods). Re-reads after a conflict go to the API."""

    def __init__(self, kube, cache, items_per_namespace):
        self.kube = kube
        self.cache = cache
        self.listed = {namespace for namespace, count in items_per_namespace.items() if count > 1}

    def service_account(self, namespace, name):
        """The ServiceAccount (a copy the caller may change), or None."""
        if namespace not in self.listed:
            return self.kube.get_service_account(namespace, name)
        by_name = self.cache.get(("serviceaccounts", namespace), lambda: {
            (item.get("metadata") or {}).get("name"): item for item in self.kube.list_service_accounts(namespace)})
        found = by_name.get(name)
        return dict(copy.deepcopy(found), apiVersion="v1", kind="ServiceAccount") if found is not None else None

    def namespace_exists(self, namespace):
        return self.cache.get(("namespace", namespace), lambda: self.kube.get_namespace(namespace) is not None)

    def pods(self, namespace, name):
        """The pods that run as ServiceAccount ``name``."""
        if namespace not in self.listed:
            return self.kube.list_pods(namespace, service_account=name)
        pods = self.cache.get(("pods", namespace), lambda: self.kube.list_pods(namespace))
        return [pod for pod in pods if (pod.get("spec") or {}).get("serviceAccountName", "default") == name]


def item_spec(argument_spec, exclude):
    """The options an item takes: the module's, without ``exclude`` (the list option, the connection) and without
    defaults, so that an option an item leaves out takes the task's value."""
    spec = {}
    for name, option in argument_spec.items():
        if name in exclude:
            continue
        option = dict(option)
        option.pop("default", None)
        spec[name] = option
    return spec


def item_params(module, item, spec, where, exclusive=()):
    """``(params, None)`` for one item (the task's options overridden by the item's keys), or ``(None, message)``
    when the item is not valid; ``where`` names it in messages (``roles[2]``). ``exclusive`` are groups of
    mutually exclusive options: an item that sets one of a group does not inherit the task's others."""
    if not isinstance(item, dict):
        return None, "{0} is {1!r}, not a dict of options".format(where, item)
    canonical = {alias: name for name, option in spec.items() for alias in option.get("aliases", [])}
    unknown = sorted(str(key) for key in item if key not in spec and key not in canonical)
    if unknown:
        return None, "{0} has unknown keys {1}: it takes {2}".format(where, ", ".join(unknown), ", ".join(sorted(spec)))
    merged = {name: module.params.get(name) for name in spec}
    given = {canonical.get(key, key): value for key, value in item.items() if value is not None}
    for group in exclusive:
        if any(name in given for name in group):
            merged.update(dict.fromkeys(group))
    merged.update(given)
    # Left out rather than None: the validator counts an option that is present as given.
    merged = {name: value for name, value in merged.items() if value is not None}
    validated = ArgumentSpecValidator(spec, mutually_exclusive=list(exclusive)).validate(merged)
    if validated.error_messages:
        return None, "{0}: {1}".format(where, "; ".join(validated.error_messages))
    return validated.validated_parameters, None


def items_of(module, option, spec, describe, cache, exclusive=()):
    """``[(ItemModule or None, label or error)]``: every item of the list option ``option``, or the single form as a
    batch of one. ``describe(params, where)`` labels a valid item in messages; ``exclusive`` as for ``item_params``."""
    if module.params[option] is None:
        return [(ItemModule(module, module.params, "", cache), "")]
    items = []
    for index, item in enumerate(module.params[option]):
        where = "{0}[{1}]".format(option, index)
        params, error = item_params(module, item, spec, where, exclusive)
        label = describe(params, where) if params else where
        items.append((ItemModule(module, params, label, cache) if params else None, error or label))
    return items


def run_items(work, items, concurrency=DEFAULT_CONCURRENCY):
    """``[work(item) for item in items]``, at most ``concurrency`` at a time, in the order of ``items``."""
    items = list(items)
    if len(items) <= 1 or concurrency <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
        return list(pool.map(work, items))


def finish(module, items, results, noun):
    """End the module run of a batch: each item's warnings and failure message labelled with the item, ``changed`` when
    any item changed, and a failure naming every failed item ("k of n <noun> failed: ...") when one failed."""
    for (item, label), result in zip(items, results):
        for warning in result.get("warnings", []):
            module.warn("{0}: {1}".format(label, warning))
        if result.get("failed") and item is not None:
            result["msg"] = "{0}: {1}".format(label, result["msg"])
    outcome = dict(changed=any(result.get("changed") for result in results), results=results)
    if any(result.get("failed") for result in results):
        errors.fail(module, IrsaError(batch_message(results, noun)), **outcome)
    module.exit_json(**outcome)


def batch_message(results, noun):
    """The failure message of a batch: how many items failed, and each one's message."""
    failed = [result for result in results if result.get("failed")]
    return "{0} of {1} {2} failed: {3}".format(
        len(failed), len(results), noun, " | ".join(result.get("msg", "") for result in failed))
