# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The results of the verification of IRSA bindings: one check, one binding, and the report of a run.

A check result is a dict ``{name, check, passed, severity, message, remediation}``: ``check`` is the group it
belongs to (``static``, ``token``, ``pod``), ``severity`` is ``error`` (the binding cannot work while it fails),
``warning`` (it works, but something is at risk) or ``info`` (skipped). A binding is verified when no check of
severity ``error`` failed and at least one passed.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

CHECKS = ("static", "token", "pod")
DEFAULT_CHECKS = ("static", "token")

ERROR = "error"
WARNING = "warning"
INFO = "info"


def result(name, check, passed, message, remediation="", severity=ERROR):
    return {
        "name": name,
        "check": check,
        "passed": passed,
        "severity": severity,
        "message": message,
        "remediation": remediation if not passed else "",
    }


def skipped(name, check, message):
    entry = result(name, check, None, message, severity=INFO)
    entry["skipped"] = True
    return entry


def stopped(message):
    """The finding of a binding whose verification an access problem stopped (``message`` names it)."""
    return result("error", "static", False, "Verification stopped: {0}".format(message), "Fix the access problem named and run again.")


def failures(checks, severity=ERROR):
    return [entry for entry in checks if entry["passed"] is False and entry["severity"] == severity]


def is_verified(checks):
    """True when no error-severity check failed and at least one check passed."""
    return not failures(checks) and any(entry["passed"] for entry in checks)


def binding_label(namespace, name):
    return "{0}/{1}".format(namespace, name)


def binding_entry(namespace, name, mechanism="irsa"):
    """The result of one binding before any check ran."""
    return {
        "namespace": namespace, "service_account": name, "mechanism": mechanism, "role_arn": "", "verified": False,
        "caller_identity": {}, "attempts": 0, "checks": [], "pod": "", "pods_to_restart": [],
    }


def summary(results):
    verified = sum(1 for entry in results if entry.get("verified"))
    return {"total": len(results), "verified": verified, "failed": len(results) - verified}


def failure_report(results):
    """One line per binding that was not verified, with the message and fix of every failed check."""
    lines = []
    for entry in results:
        if entry.get("verified"):
            continue
        found = failures(entry.get("checks") or [])
        reasons = " ".join(
            "[{0}] {1}{2}".format(c["name"], c["message"], " Fix: " + c["remediation"] if c["remediation"] else "") for c in found
        ) or "no check could run"
        lines.append("{0}: {1}".format(binding_label(entry["namespace"], entry["service_account"]), reasons))
    return lines


def run_output(results, single=False):
    """The result of a run over ``results`` (one entry per binding): ``verified``, ``results``, ``summary``, the fields of
    the one binding when ``single``, and ``msg`` with every finding when a binding was not verified."""
    output = dict(changed=False, verified=all(entry["verified"] for entry in results), results=results, summary=summary(results))
    if single:
        first = results[0]
        output.update({key: first[key] for key in ("role_arn", "caller_identity", "checks", "attempts", "pod")})
    if not output["verified"]:
        output["msg"] = "{0} of {1} ServiceAccount(s) do not assume their role. {2}".format(
            output["summary"]["failed"], output["summary"]["total"], " ".join(failure_report(results)))
    return output


def warning_report(results):
    """The failed warning-severity checks of ``results``, each once however many bindings share it, as
    ``[name] message Fix: remediation (bindings)``: what a run that passes still has to say."""
    found = {}
    for entry in results:
        for check in failures(entry.get("checks") or [], severity=WARNING):
            text = "[{0}] {1}{2}".format(check["name"], check["message"], " Fix: " + check["remediation"] if check["remediation"] else "")
            found.setdefault(text, []).append(binding_label(entry["namespace"], entry["service_account"]))
    return ["{0} ({1})".format(text, ", ".join(labels)) for text, labels in found.items()]
