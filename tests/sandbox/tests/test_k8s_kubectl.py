"""The sandbox's Kubernetes as kubectl sees it: the sandbox kubeconfig, kubectl's own messages."""

import json
import subprocess
import time

import pytest
from irsa_sandbox.testing import unique

ROLE_ARN = "arn:aws:iam::123456789012:role/kubectl-test"


def kubectl(sandbox, *args, check=True, stdin=None):
    result = subprocess.run(
        ["kubectl", *args], env=sandbox.subprocess_env(), input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def wait_for(predicate, timeout=20, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


@pytest.fixture
def namespace(sandbox):
    name = unique("kubectl")
    kubectl(sandbox, "create", "namespace", name)
    yield name
    kubectl(sandbox, "delete", "namespace", name, "--wait=false", check=False)


def pod_phase(sandbox, namespace, name):
    result = kubectl(sandbox, "-n", namespace, "get", "pod", name, "-o", "jsonpath={.status.phase}", check=False)
    return result.stdout


def test_kubectl_service_account_lifecycle(sandbox, namespace):
    assert "kube-system" in kubectl(sandbox, "get", "ns").stdout
    assert kubectl(sandbox, "-n", namespace, "create", "sa", "app").stdout.strip() == "serviceaccount/app created"
    kubectl(sandbox, "-n", namespace, "annotate", "sa", "app", f"eks.amazonaws.com/role-arn={ROLE_ARN}")

    service_account = json.loads(kubectl(sandbox, "-n", namespace, "get", "sa", "app", "-o", "json").stdout)
    assert service_account["kind"] == "ServiceAccount"
    assert service_account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    assert service_account["metadata"]["uid"] and int(service_account["metadata"]["resourceVersion"]) > 0

    listing = kubectl(sandbox, "-n", namespace, "get", "sa").stdout.splitlines()
    assert listing[0].split() == ["NAME", "SECRETS", "AGE"]
    assert {line.split()[0] for line in listing[1:]} == {"app", "default"}

    token = kubectl(sandbox, "-n", namespace, "create", "token", "app", "--audience", "sts.amazonaws.com").stdout.strip()
    header, payload, signature = token.split(".")
    from irsa_sandbox.core import b64url_decode

    claims = json.loads(b64url_decode(payload))
    assert claims["sub"] == f"system:serviceaccount:{namespace}:app"
    assert claims["aud"] == ["sts.amazonaws.com"]
    assert claims["iss"] == sandbox.cluster()["issuer_url"]
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "app", "uid": service_account["metadata"]["uid"]}

    missing = kubectl(sandbox, "-n", namespace, "get", "sa", "x", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): serviceaccounts "x" not found'
    no_namespace = kubectl(sandbox, "-n", unique("absent"), "create", "sa", "app", check=False)
    assert "not found" in no_namespace.stderr and "namespaces" in no_namespace.stderr

    # kubectl v1.34 (the apiserver's, first on PATH under make) names the namespace it deleted from.
    assert kubectl(sandbox, "-n", namespace, "delete", "sa", "app").stdout.strip() == f'serviceaccount "app" deleted from {namespace} namespace'
    assert "NotFound" in kubectl(sandbox, "-n", namespace, "get", "sa", "app", check=False).stderr


def test_kubectl_run_logs_delete(sandbox, namespace):
    kubectl(sandbox, "-n", namespace, "run", "hello", "--image=busybox:1.36", "--restart=Never", "--", "echo", "hi there")
    wait_for(lambda: pod_phase(sandbox, namespace, "hello") == "Succeeded")
    assert kubectl(sandbox, "-n", namespace, "logs", "hello").stdout == "hi there\n"
    table = kubectl(sandbox, "-n", namespace, "get", "pods").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1].split()[:4] == ["hello", "0/1", "Completed", "0"]

    events = kubectl(sandbox, "-n", namespace, "get", "events", "--field-selector", "involvedObject.name=hello").stdout
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert reason in events

    kubectl(sandbox, "-n", namespace, "run", "other", "--image=busybox:1.36", "--restart=Never", "--", "curl", "-s", "x")
    wait_for(lambda: pod_phase(sandbox, namespace, "other") == "Failed")
    assert "cannot run" in kubectl(sandbox, "-n", namespace, "logs", "other").stdout
    state = json.loads(kubectl(sandbox, "-n", namespace, "get", "pod", "other", "-o", "json").stdout)
    terminated = state["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("Error", 127)

    kubectl(sandbox, "-n", namespace, "run", "sleeper", "--image=busybox:1.36", "--", "sleep", "3600")
    kubectl(sandbox, "-n", namespace, "wait", "--for=condition=Ready", "pod/sleeper", "--timeout=20s")
    assert kubectl(sandbox, "-n", namespace, "delete", "pod", "sleeper", "hello", "other").returncode == 0
    assert "No resources found" in kubectl(sandbox, "-n", namespace, "get", "pods").stderr


def test_kubectl_apply_client_and_server_side(sandbox, namespace):
    manifest = (
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: applied\n  namespace: {ns}\n"
        "  labels: {{team: {team}}}\n"
    )
    out = kubectl(sandbox, "apply", "-f", "-", stdin=manifest.format(ns=namespace, team="a")).stdout
    assert out.strip() == "serviceaccount/applied created"
    out = kubectl(sandbox, "apply", "-f", "-", stdin=manifest.format(ns=namespace, team="b")).stdout
    assert out.strip() == "serviceaccount/applied configured"
    out = kubectl(sandbox, "apply", "-f", "-", stdin=manifest.format(ns=namespace, team="b")).stdout
    assert out.strip() == "serviceaccount/applied unchanged"
    out = kubectl(sandbox, "apply", "--server-side", "-f", "-", stdin=manifest.format(ns=namespace, team="c")).stdout
    assert out.strip() == "serviceaccount/applied serverside-applied"
    labels = kubectl(sandbox, "-n", namespace, "get", "sa", "applied", "-o", "jsonpath={.metadata.labels.team}").stdout
    assert labels == "c"

    unknown = kubectl(sandbox, "apply", "-f", "-", check=False,
                      stdin=f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: typo\n  namespace: {namespace}\nautomount: true\n")
    assert 'strict decoding error: unknown field "automount"' in unknown.stderr


def test_kubectl_pod_security_restricted(sandbox):
    name = unique("restricted")
    kubectl(sandbox, "create", "namespace", name)
    try:
        kubectl(sandbox, "label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted")
        rejected = kubectl(sandbox, "-n", name, "run", "root", "--image=busybox:1.36", "--restart=Never", "--", "true",
                           check=False)
        assert rejected.returncode == 1
        assert rejected.stderr.strip() == (
            'Error from server (Forbidden): pods "root" is forbidden: violates PodSecurity "restricted:latest": '
            'allowPrivilegeEscalation != false (container "root" must set securityContext.allowPrivilegeEscalation=false), '
            'unrestricted capabilities (container "root" must set securityContext.capabilities.drop=["ALL"]), '
            'runAsNonRoot != true (pod or container "root" must set securityContext.runAsNonRoot=true), '
            'seccompProfile (pod or container "root" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
        )
        overrides = {"spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "ok", "image": "busybox:1.36", "args": ["true"], "securityContext": {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
        }}
        kubectl(sandbox, "-n", name, "run", "ok", "--image=busybox:1.36", "--restart=Never",
                "--overrides", json.dumps(overrides))
        wait_for(lambda: pod_phase(sandbox, name, "ok") == "Succeeded")
    finally:
        kubectl(sandbox, "delete", "namespace", name, "--wait=false", check=False)
