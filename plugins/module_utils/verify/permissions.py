# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which Kubernetes calls the checks of irsa_verify make that RBAC decides, so that a run can ask the API server
whether they are allowed before it writes anything (irsa_service_account's ``verify_checks``).

A call is ``(verb, resource)`` in the binding's namespace (core API group). Only the calls a passing verification
makes are listed: the events a failed verification pod is explained with are read only when it fails, and the
webhook's configuration (cluster-wide) only changes a warning. Reading the ServiceAccount and its namespace is
what the ServiceAccount step checks already.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

LIST_PODS = ("list", "pods")
TOKEN = ("create", "serviceaccounts/token")
POD = (LIST_PODS, ("create", "pods"), ("get", "pods"), ("get", "pods/log"), ("delete", "pods"))

# check -> the calls it makes, by mechanism. The static check lists the ServiceAccount's pods (those still to
# restart); the token check asks for a token (bound to a running pod with Pod Identity, so it lists the pods too);
# the pod check removes the leftovers of killed runs, creates its pod, waits for it, reads its log and deletes it.
CALLS = {
    "irsa": {
        "static": (LIST_PODS,),
        "token": (TOKEN,),
        "pod": POD,
    },
    "pod_identity": {
        "static": (LIST_PODS,),
        "token": (LIST_PODS, TOKEN),
        "pod": POD,
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


def denied_call(verb, resource, namespace, checks, denial):
    """What a ServiceAccount's verification cannot do: ``checks`` (the irsa_verify check names) need ``verb`` on
    ``resource`` in ``namespace``, which RBAC denies (``denial`` says so, naming the identity)."""
    plural = "s" if len(checks) > 1 else ""
    named = " and ".join(checks)
    return {
        "verb": verb, "resource": resource, "checks": list(checks),
        "message": "The eks.irsa.irsa_verify {0} check{1} of this ServiceAccount cannot run: {2}. Grant the verb {3!r} on "
                   "{4} in namespace {5} to that identity with a Role and RoleBinding (as in docs/permissions/irsa-runner-rbac.yml), "
                   "or leave the {0} check{1} out (irsa_verify's checks option)".format(
                       named, plural, denial, verb, resource, namespace),
    }


def denied_calls(namespace, mechanism, checks, denial_of):
    """The calls of ``checks`` (for a ServiceAccount in ``namespace`` bound by ``mechanism``) that RBAC denies, each as
    ``denied_call`` gives it; ``denial_of(verb, resource)`` says why RBAC denies one, or None when it allows it."""
    found = []
    for verb, resource in calls_of(mechanism, checks):
        denial = denial_of(verb, resource)
        if denial is not None:
            found.append(denied_call(verb, resource, namespace,
                                     [check for check in checks if (verb, resource) in calls_of(mechanism, [check])], denial))
    return found


def blocking(denied, checks):
    """The messages of the ``denied`` calls (``denied_calls``) that any of ``checks`` needs."""
    return [call["message"] for call in denied or () if set(call["checks"]) & set(checks)]
