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
  associations:
    description:
      - The registered result of the M(eks.irsa.eks_pod_identity_association) task, or a list of them (later ones win), for
        the bindings with C(mechanism=pod_identity) (and those with C(remove_previous) that go back to IRSA).
    type: raw
  retired:
    description:
      - The registered results of the tasks that removed the previous mechanism of the bindings with C(remove_previous)
        (M(eks.irsa.irsa_role) and M(eks.irsa.irsa_service_account) with the items of P(eks.irsa.irsa_retire#filter)).
    type: list
    elements: dict
  verify_checks:
    description:
      - The checks the bindings that change are verified with (the role's C(irsa_verify_checks)), with O(stage=verify_allowed),
        and in check mode, where a binding whose verification RBAC would deny gets that as its error.
    type: list
    elements: str
  restarted:
    description:
      - The registered result of the M(eks.irsa.irsa_service_account) task that restarted the pods to restart
        (C(irsa_restart_pods)), with the items of O(stage=restart).
    type: dict
  verify:
    description: The registered result of the M(eks.irsa.irsa_verify) task (may be skipped).
    type: dict
    default: {}
  stage:
    description:
      - C(summary) for the per-binding outcome, C(verify) for the list of ServiceAccounts to verify, C(teardown) for
        the outcome of a teardown, C(audit) for the list of ServiceAccounts and the roles their bindings name.
      - C(pod_identity_ready), before anything is written, one entry (C(binding), C(error), C(summary)) per binding
        with C(mechanism=pod_identity) that the cluster cannot serve (no active C(eks-pod-identity-agent) add-on, or
        its pods would run on Fargate), from the O(verify) result of their C(static) check.
      - C(pod_identity_targets), the items of that check (the bindings with C(mechanism=pod_identity)).
      - C(verify_allowed), before anything is written, one entry (C(binding), C(error), C(summary)) per binding whose
        verification Kubernetes RBAC would deny, from the C(verify_denied) of its check-mode M(eks.irsa.irsa_service_account)
        result, for the checks it will be verified with (O(verify_checks), or O(unchanged_checks) for a binding the
        plans leave unchanged); none when the plans write nothing.
      - C(restart), the O(eks.irsa.irsa_service_account#module:service_accounts) items that restart the pods each binding
        has to restart (O(eks.irsa.irsa_service_account#module:restart_pods)).
    type: str
    default: summary
    choices: [summary, verify, teardown, audit, pod_identity_ready, pod_identity_targets, verify_allowed, restart]
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
    mechanism:
      description: How the ServiceAccount's pods get the role, C(irsa) or C(pod_identity).
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

from ansible_collections.eks.irsa.plugins.module_utils.bindings import mechanism as _mechanism


from ansible_collections.eks.irsa.plugins.module_utils.role_results import changed_items
from ansible_collections.eks.irsa.plugins.module_utils.role_results import role_results
from ansible_collections.eks.irsa.plugins.module_utils.role_terms import in_role_terms
from ansible_collections.eks.irsa.plugins.module_utils.verify import permissions


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
    line = "{0} -> {1}{2}: {3}, {4}".format(
        entry["binding"], entry["role_arn"] or entry["role_name"],
        " (EKS Pod Identity)" if entry.get("mechanism") == "pod_identity" else "",
        "changed" if entry["changed"] else "unchanged", verified
    )
    if entry["caller_arn"]:
        line += " as " + entry["caller_arn"]
    if entry["pods_to_restart"]:
        line += "; restart " + ", ".join(entry["pods_to_restart"])
    if entry.get("previous_role_arn"):
        line += "; replaced " + entry["previous_role_arn"]
    if entry.get("restarted"):
        line += "; restarted " + ", ".join(entry["restarted"])
    if entry.get("previous_removed"):
        line += "; removed " + entry["previous_removed"]
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


def _association_error(label, result, default):
    """An association task's failure in the role's terms."""
    return "EKS Pod Identity association of {0}: {1}".format(label, in_role_terms(result.get("msg", default)))


def _association_part(result):
    """What a teardown (or a migration back to IRSA) did to the binding's association, for the summary."""
    if result.get("deleted"):
        return "EKS Pod Identity association deleted"
    if result.get("kept_role_arn"):
        return "EKS Pod Identity association left: it names {0}, not the binding's role".format(result["kept_role_arn"])
    return ""


def _teardown_entry(binding, label, role_result, sa_result, association_result=None):
    """What a teardown did to one binding: its annotation (or ServiceAccount), its association and its role."""
    parts, error = [], ""
    association_result = association_result or {}
    if association_result and "deleted" not in association_result:
        error = _association_error(label, association_result, "not deleted")
    elif _association_part(association_result):
        parts.append(_association_part(association_result))
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
    changed = any(bool(result.get("changed")) for result in (role_result, sa_result, association_result))
    entry = {"binding": label, "role_name": role_name, "changed": changed, "error": error}
    entry["summary"] = "{0} -> {1}: {2}{3}".format(
        label, role_name, ", ".join(parts) or "nothing to remove", ". " + error if error else "")
    return entry


def _audit_items(bindings, partition, account_id):
    """Each binding's ServiceAccount with the ARN of the role it should name."""
    items = []
    for binding in bindings:
        item = {"namespace": binding.get("namespace") or "default", "name": binding["service_account"],
                "role_arn": "arn:{0}:iam::{1}:role{2}{3}".format(partition, account_id, binding.get("path") or "/",
                                                                 binding["role_name"])}
        if _mechanism(binding) == "pod_identity":
            item["mechanism"] = "pod_identity"
            for key in ("target_role_arn", "pod_labels"):
                if binding.get(key):
                    item[key] = binding[key]
        items.append(item)
    return items


def _verify_results(verify):
    """irsa_verify's results by the ``namespace/name`` of their ServiceAccount."""
    verified = {}
    for entry in (verify or {}).get("results", []) or []:
        verified["{0}/{1}".format(entry.get("namespace"), entry.get("service_account"))] = entry
    return verified


def _verify_target(binding, role_arn, checks):
    """The irsa_verify target of a binding in place, with ``checks`` when not None; None when nothing is to verify."""
    target = {"namespace": binding.get("namespace") or "default", "name": binding["service_account"], "role_arn": role_arn}
    if _mechanism(binding) == "pod_identity":
        target["mechanism"] = "pod_identity"
        for key in ("target_role_arn", "pod_labels"):
            if binding.get(key):
                target[key] = binding[key]
    if checks is not None:
        target["checks"] = list(checks)
    # An empty unchanged_checks leaves the unchanged bindings unverified.
    return None if target.get("checks") == [] else target


def _association_needed(binding):
    """Whether the binding has an association step: made for Pod Identity, deleted going back to IRSA."""
    return _mechanism(binding) == "pod_identity" or bool(binding.get("remove_previous"))


def _binding_error(binding, label, role_result, sa_result, association_result, check, cluster_name):
    """Why a binding failed: its role, its ServiceAccount, its association or its verification; an empty string when
    it did not."""
    if "role" not in role_result:
        return _role_error(binding, role_result, "not created")
    if "service_account" not in sa_result:
        return _service_account_error(label, sa_result, role_result["role"]["arn"], "not annotated", cluster_name)
    if _association_needed(binding) and "association" not in association_result:
        return _association_error(label, association_result, "not made")
    if association_result.get("kept_role_arn") and _mechanism(binding) == "irsa":
        return ("its EKS Pod Identity association names role {0}, not the binding's, so it was left in place; while it "
                "exists, new pods get that role's credentials, not IRSA's. Delete the association, or bind the "
                "ServiceAccount with mechanism: pod_identity".format(association_result["kept_role_arn"]))
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


def _summary_entry(binding, label, role_result, sa_result, association_result, check, cluster_name):
    """What a run did to one binding: its role, its ServiceAccount, its association and their verification."""
    entry = {
        "binding": label,
        "role_name": binding.get("role_name"),
        "role_arn": role_result["role"]["arn"] if "role" in role_result else "",
        "mechanism": _mechanism(binding),
        "changed": any(bool(result.get("changed")) for result in (role_result, sa_result, association_result)),
        "verified": None if check is None else bool(check.get("verified")),
        "pods_to_restart": _pods_to_restart(sa_result, check),
        "caller_arn": ((check or {}).get("caller_identity") or {}).get("arn", ""),
        "previous_role_arn": sa_result.get("previous_role_arn"),
        "error": _binding_error(binding, label, role_result, sa_result, association_result, check, cluster_name),
    }
    entry["summary"] = _summary_line(entry)
    return entry


# The findings of irsa_verify's static check that no write of the run can fix: the cluster cannot serve the binding.
_NOT_SERVED = ("pod_identity_agent", "fargate")


def _blocks(check):
    """Whether a static finding says the cluster cannot serve the binding with EKS Pod Identity."""
    return check.get("name") in _NOT_SERVED and check.get("passed") is False and check.get("severity", "error") == "error"


def _pod_identity_targets(bindings):
    """The static check, before any write, of every binding with ``mechanism: pod_identity`` (the add-on, Fargate)."""
    targets = []
    for binding in bindings:
        if _mechanism(binding) == "pod_identity":
            target = {"namespace": binding.get("namespace") or "default", "name": binding["service_account"],
                      "mechanism": "pod_identity", "checks": ["static"]}
            if binding.get("pod_labels"):
                target["pod_labels"] = binding["pod_labels"]
            targets.append(target)
    return targets


def _not_served(bindings, verify):
    """The bindings the cluster cannot serve with EKS Pod Identity, as the static check found them."""
    verified = _verify_results(verify)
    entries = []
    for binding in bindings:
        label = _label(binding)
        if _mechanism(binding) != "pod_identity" or label not in verified:
            continue
        failed = [check for check in verified[label].get("checks") or [] if _blocks(check)]
        if failed:
            entries.append(_stop_entry(binding, label, "mechanism pod_identity: " + " ".join(_check_message(check) for check in failed)))
    return entries


def _stop_entry(binding, label, error):
    """An entry of the stop before any write: ``binding``, ``error`` and ``summary``."""
    return {"binding": label, "error": error, "summary": "{0} -> {1}: {2}".format(label, binding.get("role_name"), error)}


def _verification_denied(bindings, roles, service_accounts, associations, verify_checks, unchanged_checks):
    """``{binding: error}`` for the bindings whose verification RBAC would deny: a call that the checks each will be
    verified with need (``verify_checks``, or ``unchanged_checks`` for what the plans leave unchanged) is in the
    ``verify_denied`` of its check-mode ServiceAccount result. Empty when the plans write nothing: a run without a
    write has nothing to stop before."""
    if not verify_checks or not (changed_items(roles) | changed_items(service_accounts) | changed_items(associations or [])):
        return {}
    accounts_found, _failed = _index(service_accounts)
    targets = irsa_outcome(bindings, roles, service_accounts, associations=associations, stage="verify",
                           unchanged_checks=unchanged_checks if unchanged_checks is not None else verify_checks)
    denied = {}
    for target in targets:
        label = "{0}/{1}".format(target["namespace"], target["name"])
        messages = permissions.blocking(accounts_found.get(label, {}).get("verify_denied"), target.get("checks") or verify_checks)
        if messages:
            denied[label] = "verification: " + in_role_terms(" ".join(message + "." for message in messages))
    return denied


def _retired(entry, binding, label, retired):
    """What the run removed of the binding's previous mechanism (``remove_previous``), into ``entry``."""
    if not binding.get("remove_previous") or not retired:
        return
    found, failed = _index(retired)
    role = found.get(binding.get("role_name"), {})
    account = found.get(label, {}) if _mechanism(binding) == "pod_identity" else {}
    if failed and not (role or account):
        role = failed
    results = [result for result in (role, account) if result]
    for result in results:
        if "changed" not in result or result.get("failed"):
            entry["error"] = entry["error"] or "removing the previous mechanism: " + in_role_terms(result.get("msg", "failed"))
    if any(result.get("changed") for result in results):
        entry["changed"] = True
        entry["previous_removed"] = ("the IRSA annotation and trust" if _mechanism(binding) == "pod_identity"
                                     else "this cluster from the role's EKS Pod Identity statement")


def _restart_item(entry):
    """The irsa_service_account item that restarts the pods a binding has to restart, or None."""
    if not entry["pods_to_restart"]:
        return None
    namespace, name = entry["binding"].split("/", 1)
    return {"name": name, "namespace": namespace, "annotate_role": False, "create": False, "list_pods": False,
            "restart_pods": [pod.split("/", 1)[1] for pod in entry["pods_to_restart"]]}


def _restarted(entry, label, restarted):
    """What the restart task did for the binding, into ``entry``: the workloads restarted, and the pods that are
    still to restart (those no workload owns)."""
    found, failed = _index(restarted) if restarted else ({}, None)
    result = found.get(label) or (failed if failed and entry["pods_to_restart"] else {})
    if not result:
        return
    if "restarted" not in result:
        entry["error"] = entry["error"] or "restarting its pods: " + in_role_terms(result.get("msg", "failed"))
        return
    entry["restarted"] = result["restarted"]
    entry["changed"] = entry["changed"] or bool(result["restarted"])
    kept = {item["pod"] for item in result.get("not_restarted") or []}
    entry["pods_to_restart"] = [pod for pod in entry["pods_to_restart"] if pod.split("/", 1)[1] in kept]


def irsa_outcome(bindings, roles, service_accounts, verify=None, stage="summary", check_mode=False, partition=None,
                 account_id=None, cluster_name=None, unchanged_checks=None, associations=None, retired=None,
                 restarted=None, verify_checks=None):
    if stage == "audit":
        return _audit_items(bindings, partition, account_id)
    if stage == "pod_identity_targets":
        return _pod_identity_targets(bindings)
    if stage == "pod_identity_ready":
        return _not_served(bindings, verify)
    if stage == "verify_allowed":
        denied = _verification_denied(bindings, roles, service_accounts, associations, verify_checks, unchanged_checks)
        return [_stop_entry(binding, _label(binding), denied[_label(binding)]) for binding in bindings if _label(binding) in denied]
    denied = _verification_denied(bindings, roles, service_accounts, associations, verify_checks, unchanged_checks) if check_mode else {}
    roles_found, roles_failed = _index(roles)
    accounts_found, accounts_failed = _index(service_accounts)
    associations_found, associations_failed = _index(associations or [])
    verified = _verify_results(verify)

    # Unchanged is what the checks found already right: a binding the check found to change, which another writer
    # then completed first (the write found it done), was not found right by this run.
    roles_changed = changed_items(roles) if unchanged_checks is not None else set()
    accounts_changed = changed_items(service_accounts) if unchanged_checks is not None else set()
    associations_changed = changed_items(associations or []) if unchanged_checks is not None else set()
    targets = []
    outcome = []
    for binding in bindings:
        label = _label(binding)
        role_result = roles_found.get(binding.get("role_name"), roles_failed or {})
        sa_result = accounts_found.get(label, accounts_failed or {})
        association_result = {}
        if _association_needed(binding) or stage == "teardown":
            association_result = associations_found.get(label, associations_failed or {})
        if stage == "teardown":
            outcome.append(_teardown_entry(binding, label, role_result, sa_result, association_result))
            continue
        entry = _summary_entry(binding, label, role_result, sa_result, association_result, verified.get(label), cluster_name)
        if check_mode and not entry["error"] and label in denied:
            # What check mode did not verify, a real run could not: RBAC denies a call of its verification.
            entry["error"] = denied[label]
        if _mechanism(binding) == "irsa" and association_result.get("deleted"):
            entry["previous_removed"] = "the EKS Pod Identity association"
        _retired(entry, binding, label, retired)
        _restarted(entry, label, restarted)
        entry["summary"] = _summary_line(entry)
        in_place = "role" in role_result and "service_account" in sa_result and (
            not _association_needed(binding) or "association" in association_result)
        if in_place and not (check_mode and entry["changed"]):
            unchanged = not ({binding.get("role_name"), label} & (roles_changed | accounts_changed | associations_changed))
            target = _verify_target(binding, entry["role_arn"], unchanged_checks if unchanged else None)
            if target is not None:
                targets.append(target)
        outcome.append(entry)
    if stage == "restart":
        return [item for item in (_restart_item(entry) for entry in outcome) if item]
    return targets if stage == "verify" else outcome


class FilterModule:
    def filters(self):
        return {"irsa_outcome": irsa_outcome}
