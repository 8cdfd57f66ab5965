# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_outcome
short_description: What each IRSA binding came to, from the registered results of the eks.irsa.irsa role
version_added: 0.1.0
author:
  - eks.irsa contributors (!UNKNOWN)
description:
  - Joins the bindings of the C(eks.irsa.irsa) role with the registered results of its M(eks.irsa.irsa_role),
    M(eks.irsa.irsa_service_account) and M(eks.irsa.irsa_verify) tasks, and returns one entry per binding.
  - With O(stage=verify), returns instead the C(service_accounts) list to verify, the bindings whose role and
    ServiceAccount are in place (in check mode, only those that the run would not change, since the others do
    not exist yet). With O(unchanged_checks), a binding whose role and ServiceAccount were already right gets those
    checks (C(checks) in its entry), or is left out when the list is empty.
  - With O(stage=audit), the C(service_accounts) list of M(eks.irsa.irsa_verify) for every binding, each with the
    ARN of the role the binding names (O(partition), O(account_id)), so that a ServiceAccount annotated with another
    role fails verification.
  - With O(stage=teardown), one entry per binding of a teardown (C(irsa_state=absent)), saying what happened to its
    annotation, ServiceAccount and role.
  - Errors are worded in the role's terms (C(irsa_adopt_roles), C(irsa_adopt_service_accounts)), not the modules'.
  - Used by the role. The registered results are those of M(eks.irsa.irsa_role) with
    O(eks.irsa.irsa_role#module:roles) and M(eks.irsa.irsa_service_account) with
    O(eks.irsa.irsa_service_account#module:service_accounts); a list of them (a check-mode run, then the run that
    wrote) gives each item its latest result. A task that failed as a whole stands for every item it was given.
options:
  _input:
    description: The bindings (the role's C(irsa_bindings), with defaults applied).
    type: list
    elements: dict
    required: true
  roles:
    description: The registered result of the M(eks.irsa.irsa_role) task, or a list of them (later ones win).
    type: raw
    required: true
  service_accounts:
    description: The registered result of the M(eks.irsa.irsa_service_account) task, or a list of them (later ones win).
    type: raw
    required: true
  verify:
    description: The registered result of the M(eks.irsa.irsa_verify) task (may be skipped).
    type: dict
    default: {}
  stage:
    description:
      - C(summary) for the per-binding outcome, C(verify) for the list of ServiceAccounts to verify, C(teardown) for
        the outcome of a teardown, C(audit) for the list of ServiceAccounts and the roles their bindings name.
    type: str
    default: summary
    choices: [summary, verify, teardown, audit]
  cluster_name:
    description: The cluster's name, for messages.
    type: str
  partition:
    description: With O(stage=audit), the partition of the roles (as M(eks.irsa.eks_oidc_info) returns it).
    type: str
  account_id:
    description: With O(stage=audit), the account of the roles (as M(eks.irsa.eks_oidc_info) returns it).
    type: str
  check_mode:
    description: Whether the run is in check mode.
    type: bool
    default: false
  unchanged_checks:
    description:
      - With O(stage=verify), the checks of the bindings that the run did not change (C(irsa_verify_unchanged_checks));
        unset, every binding gets the task's checks.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Show what every binding came to
  ansible.builtin.debug:
    msg: "{{ irsa_bindings | eks.irsa.irsa_outcome(roles=__irsa_roles, service_accounts=__irsa_service_accounts, verify=__irsa_verify) }}"
"""

RETURN = r"""
_value:
  description:
    - With O(stage=summary), one entry per binding.
    - With O(stage=verify), a list of C({namespace, name, role_arn}), with C(checks) for an unchanged binding when
      O(unchanged_checks) is given.
  type: list
  elements: dict
  contains:
    binding:
      description: C(namespace/service_account).
      type: str
    role_name:
      description: The IAM role's name.
      type: str
    role_arn:
      description: The IAM role's ARN, when the role is in place.
      type: str
    changed:
      description: Whether the role or the ServiceAccount changed (would change, in check mode).
      type: bool
    verified:
      description: True or false when verified; null when verification did not run for this binding.
      type: bool
    pods_to_restart:
      description: Running pods of the ServiceAccount that keep their old identity until recreated (C(namespace/name)).
      type: list
      elements: str
    caller_arn:
      description: The identity the verification saw, C(arn:aws:sts::<account>:assumed-role/<role>/<session>), or an empty string.
      type: str
    error:
      description: Why the binding failed, or an empty string.
      type: str
    previous_role_arn:
      description: The role the ServiceAccount named before this run replaced it (with C(irsa_adopt_service_accounts)), or null.
      type: str
    summary:
      description:
        - The entry as one line, C(namespace/name -> role ARN, changed, verified as <caller>), with the error if any.
        - A binding verified without a token or pod check says C(verified (static checks only)).
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.eks.irsa.plugins.module_utils.role_results import changed_items
from ansible_collections.eks.irsa.plugins.module_utils.role_results import role_results
from ansible_collections.eks.irsa.plugins.module_utils.role_terms import in_role_terms


def _label(binding):
    return "{0}/{1}".format(binding.get("namespace") or "default", binding.get("service_account"))


def _index(results):
    if not isinstance(results, (dict, list)):
        raise AnsibleFilterError("irsa_outcome expects registered task results (dicts), got {0}".format(type(results).__name__))
    return role_results(results)


def _check_message(check):
    text = check.get("message", "")
    if check.get("remediation"):
        text += " Fix: " + check["remediation"]
    return in_role_terms(text)


def _summary_line(entry):
    """``ns/sa -> role: changed, verified as <caller>`` with the pods to restart and the error, if any."""
    verified = {True: "verified", False: "NOT verified", None: "not verified"}[entry["verified"]]
    if entry["verified"] and not entry["caller_arn"]:
        verified += " (static checks only)"
    line = "{0} -> {1}: {2}, {3}".format(
        entry["binding"], entry["role_arn"] or entry["role_name"], "changed" if entry["changed"] else "unchanged", verified
    )
    if entry["caller_arn"]:
        line += " as " + entry["caller_arn"]
    if entry["pods_to_restart"]:
        line += "; restart " + ", ".join(entry["pods_to_restart"])
    if entry.get("previous_role_arn"):
        line += "; replaced " + entry["previous_role_arn"]
    if entry["error"]:
        line += ". " + entry["error"]
    return line


def _role_error(binding, role_result, default):
    """A role task's failure in the role's terms."""
    name = role_result.get("foreign_role")
    if name:
        return (
            "role {0} exists and was not created by eks.irsa (no eks.irsa/managed-by tag), and this binding would change "
            "it, so nothing was written. If eks.irsa should manage it, add {0} to irsa_adopt_roles; otherwise give the "
            "binding another role_name".format(name)
        )
    return "role {0}: {1}".format(binding.get("role_name"), in_role_terms(role_result.get("msg", default)))


def _service_account_error(label, sa_result, role_arn, default, cluster_name=None):
    """A ServiceAccount task's failure in the role's terms."""
    if sa_result.get("wrong_cluster_issuer"):
        return (
            "ServiceAccount {0}: the Kubernetes API that irsa_k8s_auth, irsa_kubeconfig and irsa_context reach is not "
            "cluster {1}: it issues tokens for {2}, which {1}'s roles do not trust, so nothing was written. Set "
            "irsa_context to the context of cluster {1} (or irsa_k8s_auth: eks)".format(
                label, cluster_name or "irsa_cluster_name", sa_result["wrong_cluster_issuer"])
        )
    foreign = sa_result.get("foreign_role_arn")
    if foreign:
        return (
            "ServiceAccount {0} is annotated with role {1}, which eks.irsa did not set, so it is not replaced{2}. If this "
            "binding should take it over, add {0} to irsa_adopt_service_accounts".format(
                label, foreign, " with " + role_arn if role_arn else "")
        )
    return "ServiceAccount {0}: {1}".format(label, in_role_terms(sa_result.get("msg", default)))


def _teardown_entry(binding, label, role_result, sa_result):
    """What a teardown did to one binding: its annotation (or ServiceAccount) and its role."""
    parts, error = [], ""
    # A task registered with failed_when false says failed: false; a result without its keys is the failure.
    if sa_result and "deleted" not in sa_result:
        error = _service_account_error(label, sa_result, "", "not changed")
    elif sa_result.get("deleted"):
        parts.append("ServiceAccount deleted (created by eks.irsa, nothing else on it)")
    elif sa_result.get("kept_role_arn"):
        parts.append("annotation left: it names {0}, another binding's role".format(sa_result["kept_role_arn"]))
    elif sa_result.get("changed"):
        parts.append("annotation removed")
    role_name = binding.get("role_name")
    if role_result and "deleted" not in role_result:
        if role_result.get("foreign_role"):
            error = error or (
                "role {0} was not created by eks.irsa and still trusts {1}, so it was left as it is. To let the teardown "
                "change it, add {0} to irsa_adopt_roles".format(role_name, label)
            )
        else:
            error = error or "role {0}: {1}".format(role_name, in_role_terms(role_result.get("msg", "not changed")))
    elif role_result.get("deleted"):
        parts.append("role {0} deleted (nothing left in its trust)".format(role_name))
    elif role_result.get("changed"):
        parts.append("left the trust of role {0}, which stays (it still trusts others)".format(role_name))
    elif role_result.get("owned") is False:
        parts.append("role {0} is not eks.irsa's and does not trust it: left as it is".format(role_name))
    elif not role_result.get("role"):
        parts.append("role {0} does not exist".format(role_name))
    changed = bool(role_result.get("changed")) or bool(sa_result.get("changed"))
    entry = {"binding": label, "role_name": role_name, "changed": changed, "error": error}
    entry["summary"] = "{0} -> {1}: {2}{3}".format(
        label, role_name, ", ".join(parts) or "nothing to remove", ". " + error if error else "")
    return entry


def _audit_items(bindings, partition, account_id):
    """Each binding's ServiceAccount with the ARN of the role it should name."""
    return [{"namespace": binding.get("namespace") or "default", "name": binding["service_account"],
             "role_arn": "arn:{0}:iam::{1}:role{2}{3}".format(partition, account_id, binding.get("path") or "/",
                                                              binding["role_name"])}
            for binding in bindings]


def _verify_results(verify):
    """irsa_verify's results by the ``namespace/name`` of their ServiceAccount."""
    verified = {}
    for entry in (verify or {}).get("results", []) or []:
        verified["{0}/{1}".format(entry.get("namespace"), entry.get("service_account"))] = entry
    return verified


def _verify_target(binding, role_arn, checks):
    """The irsa_verify target of a binding in place, with ``checks`` when not None; None when nothing is to verify."""
    target = {"namespace": binding.get("namespace") or "default", "name": binding["service_account"], "role_arn": role_arn}
    if checks is not None:
        target["checks"] = list(checks)
    # An empty unchanged_checks leaves the unchanged bindings unverified.
    return None if target.get("checks") == [] else target


def _binding_error(binding, label, role_result, sa_result, check, cluster_name):
    """Why a binding failed: its role, its ServiceAccount, or its verification; an empty string when it did not."""
    if "role" not in role_result:
        return _role_error(binding, role_result, "not created")
    if "service_account" not in sa_result:
        return _service_account_error(label, sa_result, role_result["role"]["arn"], "not annotated", cluster_name)
    if check is not None and not check.get("verified"):
        failed = [c for c in check.get("checks", []) if not c.get("passed") and c.get("severity", "error") == "error"]
        return "verification: " + (
            " ".join(_check_message(c) for c in failed) if failed else "the ServiceAccount did not assume the role"
        )
    return ""


def _pods_to_restart(sa_result, check):
    """The pods (``namespace/name``) that the ServiceAccount task or the verification found to keep an old identity."""
    return sorted({
        "{0}/{1}".format(pod.get("namespace"), pod.get("name")) for pod in sa_result.get("pods_to_restart", []) or []
    }.union(
        # irsa_verify's static check finds them too (the role then skips the ServiceAccount module's listing).
        "{0}/{1}".format(check.get("namespace"), pod) for pod in (check or {}).get("pods_to_restart", []) or []
    ))


def _summary_entry(binding, label, role_result, sa_result, check, cluster_name):
    """What a run did to one binding: its role, its ServiceAccount and their verification."""
    entry = {
        "binding": label,
        "role_name": binding.get("role_name"),
        "role_arn": role_result["role"]["arn"] if "role" in role_result else "",
        "changed": bool(role_result.get("changed")) or bool(sa_result.get("changed")),
        "verified": None if check is None else bool(check.get("verified")),
        "pods_to_restart": _pods_to_restart(sa_result, check),
        "caller_arn": ((check or {}).get("caller_identity") or {}).get("arn", ""),
        "previous_role_arn": sa_result.get("previous_role_arn"),
        "error": _binding_error(binding, label, role_result, sa_result, check, cluster_name),
    }
    entry["summary"] = _summary_line(entry)
    return entry


def irsa_outcome(bindings, roles, service_accounts, verify=None, stage="summary", check_mode=False, partition=None,
                 account_id=None, cluster_name=None, unchanged_checks=None):
    if stage == "audit":
        return _audit_items(bindings, partition, account_id)
    roles_found, roles_failed = _index(roles)
    accounts_found, accounts_failed = _index(service_accounts)
    verified = _verify_results(verify)

    # Unchanged is what the checks found already right: a binding the check found to change, which another writer
    # then completed first (the write found it done), was not found right by this run.
    roles_changed = changed_items(roles) if unchanged_checks is not None else set()
    accounts_changed = changed_items(service_accounts) if unchanged_checks is not None else set()
    targets = []
    outcome = []
    for binding in bindings:
        label = _label(binding)
        role_result = roles_found.get(binding.get("role_name"), roles_failed or {})
        sa_result = accounts_found.get(label, accounts_failed or {})
        if stage == "teardown":
            outcome.append(_teardown_entry(binding, label, role_result, sa_result))
            continue
        entry = _summary_entry(binding, label, role_result, sa_result, verified.get(label), cluster_name)
        if "role" in role_result and "service_account" in sa_result and not (check_mode and entry["changed"]):
            unchanged = binding.get("role_name") not in roles_changed and label not in accounts_changed
            target = _verify_target(binding, entry["role_arn"], unchanged_checks if unchanged else None)
            if target is not None:
                targets.append(target)
        outcome.append(entry)
    return targets if stage == "verify" else outcome


class FilterModule:
    def filters(self):
        return {"irsa_outcome": irsa_outcome}
