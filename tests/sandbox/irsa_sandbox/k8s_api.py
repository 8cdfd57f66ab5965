"""What the Kubernetes emulator serves: resource types, discovery documents and table output.

Discovery follows the legacy (non-aggregated) documents a real API server returns; clients that
ask for aggregated discovery (kubectl >= 1.30) get plain JSON and fall back to them, exactly as they
do against a server without aggregated discovery. ``kubectl get`` asks for ``meta.k8s.io/v1``
Tables, which the emulator renders with the columns the real server prints.
"""

import time
from dataclasses import dataclass, field

from .k8s_store import parse_rfc3339

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.3-eks-4096722",
    "gitCommit": "3a3a6d7e4d7d0b3a2f9e7c1b5e2d8f0a6c4b9e21",
    "gitTreeState": "clean",
    "buildDate": "2025-04-04T03:33:48Z",
    "goVersion": "go1.23.7",
    "compiler": "gc",
    "platform": "linux/amd64",
}

WRITE_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class ResourceType:
    name: str  # plural, as in the URL
    kind: str
    singular: str
    group: str
    version: str
    namespaced: bool
    verbs: list
    short_names: list = field(default_factory=list)
    categories: list = field(default_factory=list)
    field_selectors: tuple = ("metadata.name", "metadata.namespace")
    subresources: dict = field(default_factory=dict)  # name -> (kind, verbs, group, version)

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self):
        return self.kind + "List"

    def discovery_entries(self):
        entry = {
            "name": self.name,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        for sub, (kind, verbs, group, version) in self.subresources.items():
            sub_entry = {"name": f"{self.name}/{sub}", "singularName": "", "namespaced": self.namespaced}
            if group is not None:
                sub_entry["group"] = group
                sub_entry["version"] = version
            sub_entry["kind"] = kind
            sub_entry["verbs"] = list(verbs)
            entries.append(sub_entry)
        return entries


RESOURCES = {
    ("", "namespaces"): ResourceType(
        "namespaces", "Namespace", "namespace", "", "v1", False,
        ["create", "delete", "get", "list", "patch", "update", "watch"], ["ns"],
        field_selectors=("metadata.name", "status.phase"),
    ),
    ("", "serviceaccounts"): ResourceType(
        "serviceaccounts", "ServiceAccount", "serviceaccount", "", "v1", True, WRITE_VERBS, ["sa"],
        subresources={"token": ("TokenRequest", ["create"], "authentication.k8s.io", "v1")},
    ),
    ("", "pods"): ResourceType(
        "pods", "Pod", "pod", "", "v1", True, WRITE_VERBS, ["po"], ["all"],
        field_selectors=(
            "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
            "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
            "status.podIP", "status.podIPs", "status.nominatedNodeName",
        ),
        subresources={"log": ("Pod", ["get"], None, None)},
    ),
    ("", "events"): ResourceType(
        "events", "Event", "event", "", "v1", True, WRITE_VERBS, ["ev"],
        field_selectors=(
            "metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
            "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
            "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
            "reportingComponent", "source", "type",
        ),
    ),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): ResourceType(
        "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", "mutatingwebhookconfiguration",
        "admissionregistration.k8s.io", "v1", False, ["get", "list", "watch"], categories=["api-extensions"],
    ),
    ("authentication.k8s.io", "selfsubjectreviews"): ResourceType(
        "selfsubjectreviews", "SelfSubjectReview", "selfsubjectreview", "authentication.k8s.io", "v1",
        False, ["create"],
    ),
}

GROUPS = ["admissionregistration.k8s.io", "authentication.k8s.io"]


def api_versions(server_address):
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_entry(group):
    version = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {"name": group, "versions": [version], "preferredVersion": version}


def api_group_list():
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group_entry(g) for g in GROUPS]}


def api_group(group):
    return dict({"kind": "APIGroup", "apiVersion": "v1"}, **_group_entry(group))


def resource_list(group, version):
    resources = []
    for (res_group, _unused), resource in RESOURCES.items():
        if res_group == group and resource.version == version:
            resources.extend(resource.discovery_entries())
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


# --------------------------------------------------------------------------- tables


def human_duration(seconds):
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``."""
    seconds = int(seconds)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(timestamp):
    if not timestamp:
        return "<unknown>"
    return human_duration(time.time() - parse_rfc3339(timestamp))


NAME_COLUMN = {
    "name": "Name", "type": "string", "format": "name", "priority": 0,
    "description": "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name automatically. Name "
    "is primarily intended for creation idempotence and configuration definition. Cannot be updated. More "
    "info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
}
AGE_COLUMN = {
    "name": "Age", "type": "string", "format": "", "priority": 0,
    "description": "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate operations. Clients may "
    "not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
    "Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
}


def _column(name, kind="string", description="", priority=0):
    return {"name": name, "type": kind, "format": "", "description": description, "priority": priority}


def pod_status_text(pod):
    """The STATUS column of ``kubectl get pods`` (``printPod`` in the real printers)."""
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or "Unknown"
    init_statuses = status.get("initContainerStatuses") or []
    initializing = False
    for index, cs in enumerate(init_statuses):
        state = cs.get("state", {})
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if terminated:
            reason = "Init:" + (terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        elif waiting and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(pod['spec'].get('initContainers', []))}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state", {})
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated", {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif state.get("terminated"):
                reason = f"ExitCode:{state['terminated'].get('exitCode')}"
            elif state.get("running") and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(pod):
    statuses = pod.get("status", {}).get("containerStatuses") or []
    total = len(pod["spec"].get("containers", []))
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(cs.get("restartCount", 0) for cs in statuses)
    last_restart = None
    for cs in statuses:
        finished = cs.get("lastState", {}).get("terminated", {}).get("finishedAt")
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished
    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({_age(last_restart)} ago)"
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        pod_status_text(pod),
        restarts_text,
        _age(pod["metadata"].get("creationTimestamp")),
        pod.get("status", {}).get("podIP") or "<none>",
        pod["spec"].get("nodeName") or "<none>",
        pod.get("status", {}).get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _event_row(event):
    involved = event.get("involvedObject", {})
    source = event.get("source", {})
    source_text = source.get("component", "")
    if source.get("host"):
        source_text += ", " + source["host"]
    last = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
    first = event.get("firstTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
    return [
        _age(last[:19] + "Z" if last else None),
        event.get("type", ""),
        event.get("reason", ""),
        f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        source_text or event.get("reportingComponent", ""),
        event.get("message", "").strip(),
        _age(first[:19] + "Z" if first else None),
        event.get("count", 1),
        event["metadata"]["name"],
    ]


TABLES = {
    "namespaces": (
        [NAME_COLUMN, _column("Status", description="The status of the namespace"), AGE_COLUMN],
        lambda o: [o["metadata"]["name"], o.get("status", {}).get("phase", "Active"), _age(o["metadata"].get("creationTimestamp"))],
    ),
    "serviceaccounts": (
        [NAME_COLUMN,
         _column("Secrets", "integer",
                 "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
         AGE_COLUMN],
        lambda o: [o["metadata"]["name"], len(o.get("secrets") or []), _age(o["metadata"].get("creationTimestamp"))],
    ),
    "pods": (
        [
            NAME_COLUMN,
            _column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
            _column("Status", description="The aggregate status of the containers in this pod."),
            _column("Restarts", description="The number of times the containers in this pod have been restarted and when the last "
                                            "container in this pod has restarted."),
            AGE_COLUMN,
            _column("IP", description="IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", priority=1),
            _column("Node", description="NodeName is a request to schedule this pod onto a specific node.", priority=1),
            _column("Nominated Node", description="nominatedNodeName is set only when this pod preempts other pods on the node.", priority=1),
            _column("Readiness Gates", description="If specified, all readiness gates will be evaluated for pod readiness.", priority=1),
        ],
        _pod_row,
    ),
    "events": (
        [
            _column("Last Seen", description="The time at which the most recent occurrence of this event was recorded."),
            _column("Type", description="Type of this event (Normal, Warning), new types could be added in the future."),
            _column("Reason", description="This should be a short, machine understandable string that gives the reason for the "
                                          "transition into the object's current status."),
            _column("Object", description="The object that this event is about."),
            _column("Subobject", description="An optional field path within the involved object.", priority=1),
            _column("Source", description="The component reporting this event.", priority=1),
            _column("Message", description="A human-readable description of the status of this operation."),
            _column("First Seen", description="The time at which the event was first recorded.", priority=1),
            _column("Count", "integer", "The number of times this event has occurred.", priority=1),
            _column("Name", description="Name of the event.", priority=1),
        ],
        _event_row,
    ),
    "mutatingwebhookconfigurations": (
        [NAME_COLUMN, _column("Webhooks", "integer", "Webhooks is a list of webhooks and the affected resources and operations."), AGE_COLUMN],
        lambda o: [o["metadata"]["name"], len(o.get("webhooks") or []), _age(o["metadata"].get("creationTimestamp"))],
    ),
}


def wants_table(accept):
    return "as=Table" in (accept or "")


def table(resource, objects, list_meta, include_object="Metadata"):
    columns, row_of = TABLES[resource.name]
    rows = []
    for obj in objects:
        row = {"cells": row_of(obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    }


# --------------------------------------------------------------------------- schemas

OBJECT_META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
}
CONTAINER_FIELDS = {
    "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy",
    "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe",
    "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext",
    "stdin", "stdinOnce", "tty",
}
POD_SPEC_FIELDS = {
    "volumes", "initContainers", "containers", "ephemeralContainers", "restartPolicy",
    "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy", "nodeSelector",
    "serviceAccountName", "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork",
    "hostPID", "hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname",
    "subdomain", "affinity", "schedulerName", "tolerations", "hostAliases", "priorityClassName", "priority",
    "dnsConfig", "readinessGates", "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "overhead",
    "topologySpreadConstraints", "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates", "resourceClaims",
    "resources",
}
TOP_LEVEL_FIELDS = {
    "Namespace": {"apiVersion", "kind", "metadata", "spec", "status"},
    "ServiceAccount": {"apiVersion", "kind", "metadata", "secrets", "imagePullSecrets", "automountServiceAccountToken"},
    "Pod": {"apiVersion", "kind", "metadata", "spec", "status"},
    "Event": None,
    "MutatingWebhookConfiguration": None,
}


def prune_unknown_fields(kind, obj):
    """Drop the fields the typed decoder of the real server would not know; return their paths.

    Checked: the top level, ``metadata``, and for pods ``spec`` and each container.
    """
    unknown = []

    def prune(node, known, prefix):
        if not isinstance(node, dict):
            return
        for key in list(node):
            if key not in known:
                unknown.append(prefix + key)
                del node[key]

    top = TOP_LEVEL_FIELDS.get(kind)
    if top is None or not isinstance(obj, dict):
        return unknown
    prune(obj, top, "")
    prune(obj.get("metadata"), OBJECT_META_FIELDS, "metadata.")
    if kind == "Pod" and isinstance(obj.get("spec"), dict):
        spec = obj["spec"]
        prune(spec, POD_SPEC_FIELDS, "spec.")
        for list_name in ("initContainers", "containers", "ephemeralContainers"):
            for index, container in enumerate(spec.get(list_name) or []):
                prune(container, CONTAINER_FIELDS, f"spec.{list_name}[{index}].")
    return unknown


# --------------------------------------------------------------------------- OpenAPI v3

def _openapi_path_item(resource, namespaced):
    """One item path with the PATCH operation kubectl inspects for ``fieldValidation`` support."""
    base = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    path = f"{base}/namespaces/{{namespace}}/{resource.name}/{{name}}" if namespaced else f"{base}/{resource.name}/{{name}}"
    params = [
        {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for name in ("dryRun", "fieldManager", "fieldValidation", "force")
    ]
    operation = {
        "tags": [f"{resource.group or 'core'}_{resource.version}"],
        "operationId": f"patch{resource.kind}",
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
    }
    return path, {"patch": operation}


def openapi_v3_documents():
    """``{"api/v1": document, "apis/<group>/v1": document}`` for the writable resources."""
    documents = {}
    for (group, _unused), resource in RESOURCES.items():
        if "patch" not in resource.verbs:
            continue
        key = f"apis/{group}/{resource.version}" if group else "api/v1"
        document = documents.setdefault(key, {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": {},
            "components": {"schemas": {}},
        })
        path, item = _openapi_path_item(resource, resource.namespaced)
        document["paths"][path] = item
    return documents
