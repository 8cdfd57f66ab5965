"""Pod admission as the API server chains it: defaulting, the ServiceAccount admission plugin, the
EKS pod identity webhook, validation, then Pod Security Admission.

The webhook follows ``aws/amazon-eks-pod-identity-webhook`` (``pkg/handler``): for a pod whose
ServiceAccount carries ``eks.amazonaws.com/role-arn`` it prepends the ``aws-iam-token`` projected
volume and, per container, appends ``AWS_STS_REGIONAL_ENDPOINTS`` (when asked),
``AWS_DEFAULT_REGION``/``AWS_REGION`` (unless a region variable is set), ``AWS_ROLE_ARN`` and
``AWS_WEB_IDENTITY_TOKEN_FILE`` (unless either is set) and the read-only mount.
"""

import csv
import io

from .k8s_store import FieldError, dns1123_label_errors, forbidden, random_suffix

ANNOTATION_DOMAIN = "eks.amazonaws.com"
ROLE_ARN_ANNOTATION = ANNOTATION_DOMAIN + "/role-arn"
AUDIENCE_ANNOTATION = ANNOTATION_DOMAIN + "/audience"
REGIONAL_STS_ANNOTATION = ANNOTATION_DOMAIN + "/sts-regional-endpoints"
TOKEN_EXPIRATION_ANNOTATION = ANNOTATION_DOMAIN + "/token-expiration"
SKIP_CONTAINERS_ANNOTATION = ANNOTATION_DOMAIN + "/skip-containers"
SKIP_POD_LABEL = ANNOTATION_DOMAIN + "/skip-pod-identity-webhook"

TOKEN_VOLUME = "aws-iam-token"
TOKEN_MOUNT_PATH = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
TOKEN_FILE = TOKEN_MOUNT_PATH + "/token"
DEFAULT_AUDIENCE = "sts.amazonaws.com"
DEFAULT_EXPIRATION = 86400
MIN_EXPIRATION = 600
MAX_EXPIRATION = 86400

KUBE_API_ACCESS_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def webhook_configuration(ca_bundle_b64):
    """The MutatingWebhookConfiguration EKS installs for the pod identity webhook."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "pod-identity-webhook", "generation": 1},
        "webhooks": [
            {
                "name": "iam-for-pods.amazonaws.com",
                "admissionReviewVersions": ["v1beta1"],
                "clientConfig": {"url": "https://127.0.0.1:23443/mutate", "caBundle": ca_bundle_b64},
                "failurePolicy": "Ignore",
                "matchPolicy": "Equivalent",
                "namespaceSelector": {},
                "objectSelector": {
                    "matchExpressions": [{"key": SKIP_POD_LABEL, "operator": "DoesNotExist"}]
                },
                "reinvocationPolicy": "IfNeeded",
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                        "scope": "*",
                    }
                ],
                "sideEffects": "None",
                "timeoutSeconds": 10,
            }
        ],
    }


def all_containers(spec):
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


# --------------------------------------------------------------------------- defaulting


def default_pod(pod):
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
    spec["serviceAccount"] = spec["serviceAccountName"]
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    for container in all_containers(spec):
        image = container.get("image", "")
        tag = image.rsplit("/", 1)[-1]
        if "imagePullPolicy" not in container:
            latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
            container["imagePullPolicy"] = "Always" if latest else "IfNotPresent"
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
    pod.setdefault("status", {})
    pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


# --------------------------------------------------------------------------- ServiceAccount plugin


def service_account_admission(pod, service_account):
    """The built-in ServiceAccount admission plugin: the SA must exist; mount its API token."""
    name = pod["metadata"]["name"]
    namespace = pod["metadata"]["namespace"]
    sa_name = pod["spec"]["serviceAccountName"]
    if service_account is None:
        raise forbidden(
            "pods", name,
            f'error looking up service account {namespace}/{sa_name}: serviceaccount "{sa_name}" not found',
        )
    automount = pod["spec"].get("automountServiceAccountToken")
    if automount is None:
        automount = service_account.get("automountServiceAccountToken", True)
    if not automount:
        return
    volumes = pod["spec"].setdefault("volumes", [])
    if any(
        m.get("mountPath") == KUBE_API_ACCESS_PATH
        for c in all_containers(pod["spec"])
        for m in c.get("volumeMounts") or []
    ):
        return
    volume_name = "kube-api-access-" + random_suffix()
    volumes.append(
        {
            "name": volume_name,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {
                        "downwardAPI": {
                            "items": [
                                {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                            ]
                        }
                    },
                ],
            },
        }
    )
    for container in all_containers(pod["spec"]):
        container.setdefault("volumeMounts", []).append(
            {"name": volume_name, "readOnly": True, "mountPath": KUBE_API_ACCESS_PATH}
        )


# --------------------------------------------------------------------------- pod identity webhook


def _expiration(text, default):
    try:
        value = int(text)
    except (TypeError, ValueError):
        return default
    return max(MIN_EXPIRATION, min(MAX_EXPIRATION, value))


def pod_identity_webhook(pod, service_account, region):
    """Mutate ``pod`` in place as the EKS pod identity webhook does. Returns True when it changed."""
    if service_account is None or SKIP_POD_LABEL in (pod["metadata"].get("labels") or {}):
        return False
    annotations = service_account["metadata"].get("annotations") or {}
    role_arn = annotations.get(ROLE_ARN_ANNOTATION, "")
    if not role_arn:
        return False
    audience = annotations.get(AUDIENCE_ANNOTATION) or DEFAULT_AUDIENCE
    regional_sts = annotations.get(REGIONAL_STS_ANNOTATION) == "true"
    expiration = _expiration(annotations.get(TOKEN_EXPIRATION_ANNOTATION), DEFAULT_EXPIRATION)
    pod_annotations = pod["metadata"].get("annotations") or {}
    if TOKEN_EXPIRATION_ANNOTATION in pod_annotations:
        expiration = _expiration(pod_annotations[TOKEN_EXPIRATION_ANNOTATION], expiration)
    skipped = set()
    if SKIP_CONTAINERS_ANNOTATION in pod_annotations:
        try:
            skipped = set(next(csv.reader(io.StringIO(pod_annotations[SKIP_CONTAINERS_ANNOTATION]))))
        except (StopIteration, csv.Error):
            skipped = set()

    changed = False
    for container in all_containers(pod["spec"]):
        if container.get("name") in skipped:
            continue
        changed |= _add_env(container, role_arn, regional_sts, region)

    volumes = pod["spec"].setdefault("volumes", [])
    if not any(v.get("name") == TOKEN_VOLUME for v in volumes):
        volumes.insert(
            0,
            {
                "name": TOKEN_VOLUME,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"audience": audience, "expirationSeconds": expiration, "path": "token"}}
                    ],
                },
            },
        )
        changed = True
    return changed


def _add_env(container, role_arn, regional_sts, region):
    env = container.setdefault("env", [])
    names = {item.get("name") for item in env}
    reserved = bool(names & {"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"})
    region_set = bool(names & {"AWS_REGION", "AWS_DEFAULT_REGION"})
    sts_set = "AWS_STS_REGIONAL_ENDPOINTS" in names
    if reserved and region_set and sts_set:
        return False
    changed = False
    if not sts_set and regional_sts:
        env.append({"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"})
        changed = True
    if not region_set and region:
        env.append({"name": "AWS_DEFAULT_REGION", "value": region})
        env.append({"name": "AWS_REGION", "value": region})
        changed = True
    if not reserved:
        env.append({"name": "AWS_ROLE_ARN", "value": role_arn})
        env.append({"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": TOKEN_FILE})
        changed = True
    mounts = container.setdefault("volumeMounts", [])
    if not any(m.get("name") == TOKEN_VOLUME for m in mounts):
        mounts.append({"name": TOKEN_VOLUME, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})
        changed = True
    return changed


# --------------------------------------------------------------------------- validation


def pod_errors(pod):
    """``ValidatePodCreate``, for the fields the sandbox runs on."""
    errors = []
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers:
        errors.append(FieldError("Required", "spec.containers", None, ""))
    volume_names = set()
    for index, volume in enumerate(spec.get("volumes") or []):
        field = f"spec.volumes[{index}].name"
        if not volume.get("name"):
            errors.append(FieldError("Required", field, None, ""))
        elif volume["name"] in volume_names:
            errors.append(FieldError("Duplicate", field, volume["name"]))
        else:
            errors.extend(dns1123_label_errors(field, volume["name"]))
        volume_names.add(volume.get("name"))
    seen = set()
    for list_name in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(list_name) or []):
            prefix = f"spec.{list_name}[{index}]"
            name = container.get("name")
            if not name:
                errors.append(FieldError("Required", prefix + ".name", None, ""))
            elif name in seen:
                errors.append(FieldError("Duplicate", prefix + ".name", name))
            else:
                errors.extend(dns1123_label_errors(prefix + ".name", name))
            seen.add(name)
            if not container.get("image"):
                errors.append(FieldError("Required", prefix + ".image", None, ""))
            for m_index, mount in enumerate(container.get("volumeMounts") or []):
                if mount.get("name") not in volume_names:
                    errors.append(FieldError("NotFound", f"{prefix}.volumeMounts[{m_index}].name", mount.get("name")))
                if not mount.get("mountPath"):
                    errors.append(FieldError("Required", f"{prefix}.volumeMounts[{m_index}].mountPath", None, ""))
            env_names = set()
            for e_index, item in enumerate(container.get("env") or []):
                if not item.get("name"):
                    errors.append(FieldError("Required", f"{prefix}.env[{e_index}].name", None, ""))
                env_names.add(item.get("name"))
    policy = spec.get("restartPolicy")
    if policy not in ("Always", "OnFailure", "Never"):
        errors.append(
            FieldError("NotSupported", "spec.restartPolicy", policy, 'supported values: "Always", "OnFailure", "Never"')
        )
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or deadline <= 0):
        errors.append(FieldError("Invalid", "spec.activeDeadlineSeconds", deadline, "must be between 1 and 2147483647, inclusive"))
    return errors


# --------------------------------------------------------------------------- Pod Security Admission

PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
PSA_ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"
PSA_WARN = "pod-security.kubernetes.io/warn"
PSA_WARN_VERSION = "pod-security.kubernetes.io/warn-version"

BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}


def _quote_join(names):
    return ", ".join(f'"{n}"' for n in names)


def _containers_phrase(names):
    return ("container " if len(names) == 1 else "containers ") + _quote_join(names)


def _sc(container):
    return container.get("securityContext") or {}


def pod_security_violations(pod, level):
    """``[(reason, detail)]`` the pod breaks at ``level`` (``baseline`` or ``restricted``)."""
    if level not in ("baseline", "restricted"):
        return []
    spec = pod["spec"]
    pod_sc = spec.get("securityContext") or {}
    containers = all_containers(spec) + list(spec.get("ephemeralContainers") or [])
    violations = []

    host = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    if host:
        violations.append(("host namespaces", ", ".join(host)))

    privileged = [c["name"] for c in containers if _sc(c).get("privileged")]
    if privileged:
        violations.append(("privileged", f"{_containers_phrase(privileged)} must not set securityContext.privileged=true"))

    if level == "baseline":
        bad_caps, bad_names = [], []
        for c in containers:
            adds = [cap for cap in (_sc(c).get("capabilities") or {}).get("add") or [] if cap not in BASELINE_CAPABILITIES]
            if adds:
                bad_names.append(c["name"])
                bad_caps.extend(cap for cap in adds if cap not in bad_caps)
        if bad_names:
            violations.append(("non-default capabilities",
                               f"{_containers_phrase(bad_names)} must not include {_quote_join(bad_caps)} in securityContext.capabilities.add"))

    host_path = [v["name"] for v in spec.get("volumes") or [] if "hostPath" in v]
    if host_path:
        violations.append(("hostPath volumes", ("volume " if len(host_path) == 1 else "volumes ") + _quote_join(host_path)))

    host_ports = []
    for c in containers:
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                host_ports.append(str(port["hostPort"]))
    if host_ports:
        names = [c["name"] for c in containers if any(p.get("hostPort") for p in c.get("ports") or [])]
        violations.append(("hostPort", f"{_containers_phrase(names)} uses {'hostPort' if len(host_ports) == 1 else 'hostPorts'} {', '.join(host_ports)}"))

    if level != "restricted":
        return violations

    escalation = [c["name"] for c in containers if _sc(c).get("allowPrivilegeEscalation") is not False]
    if escalation:
        violations.append(("allowPrivilegeEscalation != false", f"{_containers_phrase(escalation)} must set securityContext.allowPrivilegeEscalation=false"))

    missing_drop, adding, forbidden_caps = [], [], []
    for c in containers:
        caps = _sc(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            missing_drop.append(c["name"])
        bad = [cap for cap in caps.get("add") or [] if cap != "NET_BIND_SERVICE"]
        if bad:
            adding.append(c["name"])
            forbidden_caps.extend(cap for cap in bad if cap not in forbidden_caps)
    details = []
    if missing_drop:
        details.append(f'{_containers_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{_containers_phrase(adding)} must not include {_quote_join(forbidden_caps)} in securityContext.capabilities.add")
    if details:
        violations.append(("unrestricted capabilities", "; ".join(details)))

    volume_kinds = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
    restricted_volumes = []
    for v in spec.get("volumes") or []:
        kinds = [k for k in v if k != "name"]
        if kinds and kinds[0] not in volume_kinds:
            restricted_volumes.append((v["name"], kinds[0]))
    if restricted_volumes:
        names = [n for n, _unused in restricted_volumes]
        kinds = sorted({k for _unused, k in restricted_volumes})
        violations.append(
            (
                "restricted volume types",
                f"{'volume' if len(names) == 1 else 'volumes'} {_quote_join(names)} "
                f"{'uses' if len(names) == 1 else 'use'} restricted volume {'type' if len(kinds) == 1 else 'types'} {_quote_join(kinds)}",
            )
        )

    bad_setters, explicit, implicit = [], [], []
    pod_non_root = False
    if pod_sc.get("runAsNonRoot") is not None:
        if pod_sc["runAsNonRoot"]:
            pod_non_root = True
        else:
            bad_setters.append("pod")
    for c in containers:
        value = _sc(c).get("runAsNonRoot")
        if value is not None:
            if not value:
                explicit.append(c["name"])
        elif not pod_non_root:
            implicit.append(c["name"])
    if explicit:
        bad_setters.append(_containers_phrase(explicit))
    details = []
    if bad_setters:
        details.append(f"{' and '.join(bad_setters)} must not set securityContext.runAsNonRoot=false")
    if implicit:
        details.append(f"pod or {_containers_phrase(implicit)} must set securityContext.runAsNonRoot=true")
    if details:
        violations.append(("runAsNonRoot != true", "; ".join(details)))

    root_setters = []
    if pod_sc.get("runAsUser") == 0:
        root_setters.append("pod")
    root_containers = [c["name"] for c in containers if _sc(c).get("runAsUser") == 0]
    if root_containers:
        root_setters.append(_containers_phrase(root_containers))
    if root_setters:
        violations.append(("runAsUser=0", f"{' and '.join(root_setters)} must not set runAsUser=0"))

    allowed = ("RuntimeDefault", "Localhost")
    bad_setters, bad_values, implicit = [], [], []
    pod_type = (pod_sc.get("seccompProfile") or {}).get("type")
    pod_ok = pod_type in allowed
    if pod_type is not None and not pod_ok:
        bad_setters.append("pod")
        bad_values.append(pod_type)
    explicit = []
    for c in containers:
        ctype = (_sc(c).get("seccompProfile") or {}).get("type")
        if ctype is not None:
            if ctype not in allowed:
                explicit.append(c["name"])
                if ctype not in bad_values:
                    bad_values.append(ctype)
        elif not pod_ok:
            implicit.append(c["name"])
    if explicit:
        bad_setters.append(_containers_phrase(explicit))
    details = []
    if bad_setters:
        details.append(f"{' and '.join(bad_setters)} must not set securityContext.seccompProfile.type to {_quote_join(bad_values)}")
    if implicit:
        details.append(f'pod or {_containers_phrase(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"')
    if details:
        violations.append(("seccompProfile", "; ".join(details)))
    return violations


def format_violations(level, version, violations):
    parts = [f"{reason} ({detail})" if detail else reason for reason, detail in violations]
    return f'violates PodSecurity "{level}:{version or "latest"}": ' + ", ".join(parts)


def pod_security(pod, namespace_obj):
    """Return (error_or_None, warnings) for the namespace's Pod Security labels."""
    labels = (namespace_obj or {}).get("metadata", {}).get("labels") or {}
    warnings = []
    warn_level = labels.get(PSA_WARN)
    if warn_level:
        violations = pod_security_violations(pod, warn_level)
        if violations:
            warnings.append("would " + format_violations(warn_level, labels.get(PSA_WARN_VERSION), violations))
    level = labels.get(PSA_ENFORCE)
    if level:
        violations = pod_security_violations(pod, level)
        if violations:
            message = format_violations(level, labels.get(PSA_ENFORCE_VERSION), violations)
            return forbidden("pods", pod["metadata"]["name"], message), warnings
    return None, warnings
