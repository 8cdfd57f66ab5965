# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Restarting the pods that still run with a ServiceAccount's previous role or mechanism.

A pod reads its credentials setup (IRSA's or EKS Pod Identity's variables and token) when it is created, so after a
binding changes its pods must be replaced. They are replaced as ``kubectl rollout restart`` does it: the pod template
of the Deployment, StatefulSet or DaemonSet that owns them gets the annotation ``kubectl.kubernetes.io/restartedAt``,
and the workload's controller replaces its pods under its own rollout rules (surge, unavailability, disruption
budgets). A pod no such workload owns (a bare pod, a Job's) is never deleted: it is reported, with why.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import datetime

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# The workloads a rollout restart replaces the pods of, and their resource names (API group apps).
WORKLOADS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}


def _controller(metadata):
    """The ``ownerReferences`` entry that controls an object (the first one when none says so), or ``{}``."""
    references = (metadata or {}).get("ownerReferences") or []
    return next((ref for ref in references if ref.get("controller")), references[0] if references else {})


def owner(kube, namespace, pod, replica_sets):
    """``(kind, name)`` of the workload whose rollout replaces ``pod``: its ReplicaSet's Deployment, or its
    StatefulSet or DaemonSet; for any other pod, ``(kind, name)`` of its owner (``("", "")`` for a bare pod).
    ``replica_sets`` caches the ReplicaSets read."""
    ref = _controller(pod.get("metadata"))
    kind, name = ref.get("kind", ""), ref.get("name", "")
    if kind != "ReplicaSet":
        return kind, name
    if name not in replica_sets:
        replica_sets[name] = kube.get_replica_set(namespace, name)
    parent = _controller((replica_sets[name] or {}).get("metadata"))
    return (parent.get("kind"), parent.get("name")) if parent.get("kind") == "Deployment" else (kind, name)


def plan(kube, namespace, pods, names):
    """``(workloads, not restarted)`` for the pods named ``names`` among ``pods``: the ``(kind, name)`` of each workload
    to restart once, and ``{pod, reason}`` for each pod no such workload owns. A pod that is gone is left out."""
    by_name = {(pod.get("metadata") or {}).get("name"): pod for pod in pods}
    workloads, kept, replica_sets = [], [], {}
    for name in names:
        pod = by_name.get(name)
        if pod is None:
            continue
        kind, owner_name = owner(kube, namespace, pod, replica_sets)
        if kind in WORKLOADS:
            if (kind, owner_name) not in workloads:
                workloads.append((kind, owner_name))
            continue
        reason = ("a bare pod: no workload recreates it, so it is not deleted; recreate it yourself" if not kind else
                  "owned by {0} {1}, which a rollout restart does not replace; recreate it yourself".format(kind, owner_name))
        kept.append({"pod": name, "reason": reason})
    return workloads, kept


def restart_patch(now=None):
    """The merge patch of a rollout restart, as ``kubectl rollout restart`` writes it."""
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}


def restart(module, kube, namespace, pods, names):
    """Restart the workloads owning the pods ``names`` (check mode: ask RBAC whether it may); ``(restarted, not
    restarted)``, the first as ``Kind/name``."""
    workloads, kept = plan(kube, namespace, pods, names)
    patch = restart_patch()
    for kind, name in workloads:
        if module.check_mode:
            kube.check_allowed("patch", WORKLOADS[kind], namespace, group="apps")
        else:
            kube.patch_workload(WORKLOADS[kind], namespace, name, patch)
    return ["{0}/{1}".format(kind, name) for kind, name in workloads], kept
