"""The sandbox's Kubernetes: kube-apiserver on etcd, the kubelet stand-in, the proxy, EKS tokens and access
entries. The seed's procedure by hand (AWS CLI + kubectl, AWS's webhook) is test_k8s_irsa.py's."""

import base64
import json
import os
import socket
import subprocess
import sys
import time

import yaml

from irsa_sandbox.testing import irsa_trust_policy as irsa_trust, unique

AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def kubectl(sandbox, *args, stdin=None, check=True, env=None):
    result = subprocess.run(["kubectl", *args], input=stdin, env=env or sandbox.subprocess_env(),
                            capture_output=True, text=True, timeout=120, check=False)
    if check:
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result


def wait_for_phase(sandbox, namespace, pod, phases=("Succeeded", "Failed"), timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        phase = kubectl(sandbox, "-n", namespace, "get", "pod", pod, "-o", "jsonpath={.status.phase}").stdout
        if phase in phases:
            return phase
        time.sleep(0.5)
    raise AssertionError(f"pod {namespace}/{pod} not in {phases} after {timeout}s")


def test_the_apiserver_is_the_pinned_release(sandbox):
    version = json.loads(kubectl(sandbox, "get", "--raw", "/version").stdout)
    assert version["gitVersion"].startswith("v1.")
    assert version["gitVersion"] != "v0.0.0-master+$Format:%H$"


def test_rbac_is_enforced_for_a_mapped_eks_identity(sandbox):
    """An IAM user mapped into a group that RBAC grants nothing is refused with 403; unmapped: 401."""
    iam = sandbox.client("iam")
    user = unique("viewer")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    user_arn = iam.get_user(UserName=user)["User"]["Arn"]
    env = sandbox.subprocess_env()
    env.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    with open(sandbox.env["KUBECONFIG"], encoding="utf-8") as handle:
        kubeconfig = yaml.safe_load(handle)
    kubeconfig["users"] = [{"name": "eks", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": AWS,
        "args": ["eks", "get-token", "--cluster-name", sandbox.vars["irsa_sandbox_cluster"]],
        "interactiveMode": "Never"}}}]
    for context in kubeconfig["contexts"]:
        context["context"]["user"] = "eks"
    path = os.path.join(sandbox.state_dir, f"{user}.kubeconfig")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(kubeconfig, handle)
    env["KUBECONFIG"] = path

    unmapped = kubectl(sandbox, "get", "serviceaccounts", env=env, check=False)
    time.sleep(1.1)  # the next token is signed in another second, so the apiserver's cached refusal is not it
    # kubectl's words for a 401: "(Unauthorized)" when it has the server's discovery cached, the generic reason when its
    # discovery request is the one refused.
    assert unmapped.returncode != 0 and "You must be logged in to the server" in unmapped.stderr, unmapped.stderr

    cluster = sandbox.vars["irsa_sandbox_cluster"]
    sandbox.control("POST", f"access-entries/{cluster}", {"principal_arn": user_arn, "groups": ["nobody"]})
    try:
        denied = kubectl(sandbox, "get", "serviceaccounts", env=env, check=False)
        assert denied.returncode != 0
        assert f'User "{user_arn}" cannot list resource "serviceaccounts"' in denied.stderr, denied.stderr
        who = json.loads(kubectl(sandbox, "auth", "whoami", "-o", "json", env=env).stdout)
        assert who["status"]["userInfo"]["username"] == user_arn
        assert "nobody" in who["status"]["userInfo"]["groups"]
    finally:
        sandbox.control("POST", f"access-entries/{cluster}", {"principal_arn": user_arn, "delete": True})


def test_tokens_carry_the_eks_issuer_and_the_gate_reads_the_apiservers_keys(sandbox):
    cluster = sandbox.ensure_oidc_provider(sandbox.vars["irsa_sandbox_cluster"])
    namespace = "default"
    account = unique("tok")
    kubectl(sandbox, "-n", namespace, "create", "sa", account)
    token = kubectl(sandbox, "-n", namespace, "create", "token", account, "--audience", "sts.amazonaws.com").stdout.strip()

    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["iss"] == cluster["issuer_url"]
    assert claims["sub"] == f"system:serviceaccount:{namespace}:{account}"
    jwks = json.loads(kubectl(sandbox, "get", "--raw", "/openid/v1/jwks").stdout)
    assert jwks["keys"][0]["kid"]
    role = unique("tok")
    arn = sandbox.create_role(role, irsa_trust(cluster, namespace, account))
    answer = sandbox.client("sts").assume_role_with_web_identity(RoleArn=arn, RoleSessionName="sess", WebIdentityToken=token)
    assert answer["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role}/sess")
    kubectl(sandbox, "-n", namespace, "delete", "sa", account)


def test_faults_and_the_request_log_go_through_the_proxy(sandbox):
    sandbox.reset_log()
    sandbox.set_faults([{"service": "kubernetes", "action": "list serviceaccounts", "kind": "throttle",
                         "fraction": 1.0, "limit": 1}])
    try:
        failed = kubectl(sandbox, "get", "serviceaccounts", "-n", "default", "-v=0", check=False)
        # kubectl retries a 429 after Retry-After; the second call passes.
        assert failed.returncode == 0, failed.stderr
    finally:
        sandbox.set_faults([])
    log = sandbox.log()
    assert log["counts"].get("kubernetes:list serviceaccounts", 0) >= 2
    calls = [c for c in log["calls"] if c["action"] == "list serviceaccounts"]
    assert calls[0]["status"] == 429 and calls[0]["fault"] == "throttle"
    assert calls[-1]["status"] == 200 and calls[-1]["namespace"] == "default"


def test_a_listener_whose_port_was_taken_meanwhile_starts_on_another(tmp_path, monkeypatch):
    """Between the sandbox choosing a free port and its process binding it, another process can take the port (another
    sandbox, an outgoing connection): the process is started again on a new port instead of failing the sandbox."""
    from irsa_sandbox import kube
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", kube.free_port()))
        taken.listen()
        chosen = [taken.getsockname()[1]]
        monkeypatch.setattr(kube, "free_port", lambda real=kube.free_port: chosen.pop() if chosen else real())
        cluster = kube.RealKubeCluster("c", "us-east-1", "123456789012", None, "http://127.0.0.1:9", None, None, str(tmp_path))
        listener = ("import socket, sys\nserver = socket.socket()\nserver.bind(('127.0.0.1', int(sys.argv[1])))\n"
                    "server.listen()\nwhile True:\n    server.accept()[0].sendall(b'ok')\n")

        def answers(port):  # the listener itself, not the socket that holds its first port
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                return connection.recv(2) == b"ok"

        try:
            (port,) = cluster._serve("listener", 1, lambda port: [sys.executable, "-c", listener, str(port)], answers)
            assert port != taken.getsockname()[1]
            assert [name for name, process in cluster._processes] == ["listener"]
            assert "Address already in use" in cluster._tail("listener")
        finally:
            cluster.stop()


def test_listeners_get_ports_below_the_ephemeral_range():
    from irsa_sandbox import kube
    ports = {kube.free_port() for _index in range(20)}
    assert all(kube.PORT_RANGE_START <= port < kube._ephemeral_start() for port in ports), ports
