"""Which workload a rollout restart replaces a pod through, and what is left alone."""
import datetime

from ansible_collections.eks.irsa.plugins.module_utils import restart


def pod(name, *owners):
    refs = [{"kind": kind, "name": owner, "controller": controller} for kind, owner, controller in owners]
    return {"metadata": {"name": name, "ownerReferences": refs} if refs else {"name": name}}


class Kube:
    def __init__(self, replica_sets):
        self.replica_sets = replica_sets
        self.reads = []
        self.patches = []
        self.reviews = []

    def get_replica_set(self, namespace, name):
        self.reads.append(name)
        return self.replica_sets.get(name)

    def patch_workload(self, resource, namespace, name, patch):
        self.patches.append((resource, namespace, name, patch))

    def check_allowed(self, verb, resource, namespace, group=""):
        self.reviews.append((verb, resource, namespace, group))


class Module:
    def __init__(self, check_mode=False):
        self.check_mode = check_mode


PODS = [
    pod("web-1", ("ReplicaSet", "web-5d9", True)),
    pod("web-2", ("ReplicaSet", "web-5d9", True)),
    pod("db-0", ("StatefulSet", "db", True)),
    pod("agent-x", ("DaemonSet", "agent", True)),
    pod("lonely-rs-1", ("ReplicaSet", "lonely", True)),
    pod("debug"),
    pod("job-1", ("Job", "migrate", True)),
]
REPLICA_SETS = {"web-5d9": {"metadata": {"ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}]}},
                "lonely": {"metadata": {}}}


def test_each_workload_is_found_once_and_other_pods_are_left_with_the_reason():
    kube = Kube(REPLICA_SETS)
    names = [p["metadata"]["name"] for p in PODS] + ["gone"]
    workloads, kept = restart.plan(kube, "shop", PODS, names)
    assert workloads == [("Deployment", "web"), ("StatefulSet", "db"), ("DaemonSet", "agent")]
    # A ReplicaSet no Deployment owns is not restarted by a rollout (its pods would only come back the same).
    assert [(item["pod"], item["reason"].split(":")[0].split(",")[0]) for item in kept] == [
        ("lonely-rs-1", "owned by ReplicaSet lonely"), ("debug", "a bare pod"), ("job-1", "owned by Job migrate")]
    assert kube.reads == ["web-5d9", "lonely"]  # each ReplicaSet read once


def test_restart_patches_the_template_as_kubectl_does_and_check_mode_only_asks_rbac():
    kube = Kube(REPLICA_SETS)
    restarted, kept = restart.restart(Module(), kube, "shop", PODS[:3], ["web-1", "web-2", "db-0"])
    assert restarted == ["Deployment/web", "StatefulSet/db"] and kept == []
    assert [(resource, name) for resource, _namespace, name, _patch in kube.patches] == [("deployments", "web"), ("statefulsets", "db")]
    annotations = kube.patches[0][3]["spec"]["template"]["metadata"]["annotations"]
    assert list(annotations) == ["kubectl.kubernetes.io/restartedAt"]
    checking = Kube(REPLICA_SETS)
    assert restart.restart(Module(check_mode=True), checking, "shop", PODS[:1], ["web-1"]) == (["Deployment/web"], [])
    assert checking.patches == [] and checking.reviews == [("patch", "deployments", "shop", "apps")]


def test_the_restart_stamp_is_utc_seconds():
    stamp = restart.restart_patch(datetime.datetime(2026, 11, 30, 20, 1, 2, tzinfo=datetime.timezone.utc))
    assert stamp == {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-30T20:01:02Z"}}}}}
