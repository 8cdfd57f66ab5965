# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which Kubernetes calls the checks of irsa_verify make that RBAC decides, so that a run can ask the API server
whether they are allowed before it writes anything (``rbac_only``).

A call is ``(verb, resource)`` in the binding's namespace (core API group). Only the calls a passing verification
makes are listed: the events a failed verification pod is explained with are read only when it fails, and the
webhook's configuration (cluster-wide) only changes a warning. Reading the ServiceAccount and its namespace is
what the ServiceAccount step checks already.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

from ansible_collections.eks.irsa.plugins.module_utils.verify.results import binding_entry
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import is_verified
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import result

LIST_PODS = ("list", "pods")
TOKEN = ("create", "serviceaccounts/token")

# check -> the calls it makes, by mechanism. The static check lists the ServiceAccount's pods (those still to
# restart); the token check asks for a token (bound to a running pod with Pod Identity, so it lists the pods too);
# the pod check removes the leftovers of killed runs, creates its pod, waits for it, reads its log and deletes it.
CALLS = {
    "irsa": {
        "static": (LIST_PODS,),
        "token": (TOKEN,),
        "pod": (LIST_PODS, ("create", "pods"), ("get", "pods"), ("get", "pods/log"), ("delete", "pods")),
    },
    "pod_identity": {
        "static": (LIST_PODS,),
        "token": (LIST_PODS, TOKEN),
        "pod": (LIST_PODS, ("create", "pods"), ("get", "pods"), ("get", "pods/log"), ("delete", "pods")),
    },
}


def calls_of(mechanism, checks):
    """The ``(verb, resource)`` calls of ``checks`` for a binding of ``mechanism``, each once, in the order made."""
    table = CALLS.get(mechanism) or CALLS["irsa"]
    calls = []
    for check in checks:
        for call in table.get(check, ()):
            if call not in calls:
                calls.append(call)
    return calls


def needs(bindings, default_checks):
    """``{namespace: [(verb, resource, [the checks that need it])]}`` for ``bindings`` (irsa_verify's, each with
    ``namespace``, ``mechanism`` and optionally its own ``checks``)."""
    wanted = {}
    for binding in bindings:
        checks = binding.get("checks") or default_checks
        per_call = wanted.setdefault(binding["namespace"], {})
        for check in checks:
            for call in calls_of(binding.get("mechanism") or "irsa", [check]):
                needed_by = per_call.setdefault(call, [])
                if check not in needed_by:
                    needed_by.append(check)
    return {namespace: [(verb, resource, checks) for (verb, resource), checks in calls.items()]
            for namespace, calls in wanted.items()}


def denied_check(verb, resource, namespace, checks, denial):
    """The failed ``rbac`` finding of a binding: ``checks`` (its own check names) need ``verb`` on ``resource``,
    which RBAC denies (``denial`` says so, naming the identity)."""
    plural = "s" if len(checks) > 1 else ""
    return result(
        "rbac", "rbac", False,
        "The {0} check{1} cannot run: {2}.".format(" and ".join(checks), plural, denial),
        "Grant the verb {0!r} on {1} in namespace {2} to that identity with a Role and RoleBinding (as in "
        "docs/permissions/irsa-runner-rbac.yml), or leave the {3} check{4} out of the checks option.".format(
            verb, resource, namespace, " and ".join(checks), plural),
    )


def allowed_check(namespace, count):
    """The passed ``rbac`` finding: RBAC allows every call the binding's checks make."""
    return result("rbac", "rbac", True, "RBAC lets this identity make the {0} call{1} of the checks in namespace {2}.".format(
        count, "s" if count != 1 else "", namespace))


def entries(bindings, default_checks, denied):
    """The per-binding results of an ``rbac_only`` run: ``denied`` is ``{(namespace, verb, resource): message}`` for
    the calls RBAC refused."""
    found = []
    for binding in bindings:
        namespace = binding["namespace"]
        checks = binding.get("checks") or default_checks
        mechanism = binding.get("mechanism") or "irsa"
        calls = calls_of(mechanism, checks)
        entry = binding_entry(namespace, binding["name"], mechanism=mechanism)
        entry["role_arn"] = binding.get("role_arn") or ""
        for verb, resource in calls:
            message = denied.get((namespace, verb, resource))
            if message is not None:
                needed_by = [check for check in checks if (verb, resource) in calls_of(mechanism, [check])]
                entry["checks"].append(denied_check(verb, resource, namespace, needed_by, message))
        if not entry["checks"]:
            entry["checks"].append(allowed_check(namespace, len(calls)))
        entry["verified"] = is_verified(entry["checks"])
        found.append(entry)
    return found
