"""Every kubeconfig shape the Kubernetes connection reads, against the sandbox: two files merged, an exec plugin whose
token expires (``aws eks get-token`` itself, and a plugin whose token is always about to expire), an exec plugin that
answers a client certificate, a ``proxy-url`` through a local proxy, and ``tls-server-name`` for a server reached at an
address its certificate does not name.

Each case runs ``eks.irsa.irsa_service_account`` with that kubeconfig and checks what the user sees: the ServiceAccount
annotated (or a message that says what to fix, with no traceback and no write), and what the other side saw (the
plugin's runs, the proxy's CONNECT, the relay's connection).
"""

import base64
import datetime
import json
import os
import socket
import sys
import threading
import uuid

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from kube_api import KubeApi
from playbook_runner import run_playbook

ROLE = "arn:aws:iam::123456789012:role/kubeconfig-shapes"
ANNOTATION = "eks.amazonaws.com/role-arn"


# --- the pieces of a kubeconfig ----------------------------------------------------------------------------------


def sandbox_cluster(sandbox):
    """``(server, CA PEM, admin token)`` of the sandbox's first cluster, from the kubeconfig it wrote."""
    with open(sandbox.vars["kubeconfig"], encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    cluster = config["clusters"][0]["cluster"]
    token = next(entry["user"]["token"] for entry in config["users"])
    return cluster["server"], base64.b64decode(cluster["certificate-authority-data"]).decode(), token


def cluster_entry(ca_pem, server, **extra):
    """A kubeconfig cluster entry: ``server`` with the sandbox's CA inline, and ``extra`` fields."""
    return dict({"server": server, "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode()}, **extra)


def write_yaml(path, document):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


def one_file(path, cluster, user):
    """A kubeconfig with one cluster, one user and the context ``shape`` between them, as its current context."""
    return write_yaml(path, {
        "apiVersion": "v1", "kind": "Config", "current-context": "shape",
        "clusters": [{"name": "shape-cluster", "cluster": cluster}],
        "users": [{"name": "shape-user", "user": user}],
        "contexts": [{"name": "shape", "context": {"cluster": "shape-cluster", "user": "shape-user"}}],
    })


def exec_user(command, args, api_version="client.authentication.k8s.io/v1"):
    return {"exec": {"apiVersion": api_version, "command": command, "args": list(args), "interactiveMode": "Never"}}


def counting_plugin(tmp_path, body):
    """``(command, args, runs)``: a Python plugin that records each run, then runs ``body`` (which prints the
    ExecCredential or execs another plugin); ``runs()`` is how many times it ran."""
    runs = tmp_path / "plugin-runs"
    script = tmp_path / "plugin.py"
    script.write_text("import datetime, json, os, sys\nwith open({0!r}, 'a') as log:\n    log.write('run\\n')\n{1}".format(
        str(runs), body), encoding="utf-8")

    def count():
        return len(runs.read_text().splitlines()) if runs.exists() else 0

    return sys.executable, [str(script)], count


def exec_credential(status, expires_in=None):
    """Plugin body printing an ExecCredential with ``status``, expiring ``expires_in`` seconds after each run."""
    expiry = ""
    if expires_in is not None:
        expiry = ("status['expirationTimestamp'] = (datetime.datetime.now(datetime.timezone.utc) + "
                  "datetime.timedelta(seconds={0})).strftime('%Y-%m-%dT%H:%M:%SZ')\n".format(expires_in))
    return ("status = {0!r}\n{1}print(json.dumps({{'apiVersion': 'client.authentication.k8s.io/v1', "
            "'kind': 'ExecCredential', 'status': status}}))\n".format(status, expiry))


# --- a local proxy and a TCP relay ----------------------------------------------------------------------------


def _pipe(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Tunnel:
    """An HTTP CONNECT proxy (``target`` None) or a plain TCP relay to ``target``, listening on ``host``; ``seen`` lists
    the CONNECT request lines (proxy) or one entry per relayed connection."""

    def __init__(self, host="127.0.0.1", target=None):
        self.target = target
        self.seen = []
        self._server = socket.create_server((host, 0))
        self.host, self.port = self._server.getsockname()[:2]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._server.close()

    def _accept(self):
        while True:
            try:
                client, _unused = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        with client:
            target = self.target
            if target is None:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = client.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                self.seen.append(request_line)
                method, authority = request_line.split(" ")[:2]
                if method != "CONNECT":
                    client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    return
                host, port = authority.rsplit(":", 1)
                target = (host, int(port))
            else:
                self.seen.append("%s:%d" % target)
            with socket.create_connection(target, timeout=30) as upstream:
                if self.target is None:
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                back.start()
                _pipe(client, upstream)
                back.join(30)


@pytest.fixture
def tunnel():
    opened = []

    def open_tunnel(**kwargs):
        opened.append(Tunnel(**kwargs))
        return opened[-1]

    yield open_tunnel
    for each in opened:
        each.close()


# --- one module run ------------------------------------------------------------------------------------------


def annotate(sandbox, workdir, kubeconfig=None, env=None):
    """Run irsa_service_account with ``kubeconfig`` (None: the default kubeconfig, from the environment).

    Returns ``(name, outcome, output, kubernetes calls)``: the task's result as ``register`` sees it, ansible-playbook's
    output, and the Kubernetes calls the sandbox logged during the run.
    """
    name = "shape-" + uuid.uuid4().hex[:8]
    arguments = {"name": name, "namespace": "default", "role_arn": ROLE}
    if kubeconfig is not None:
        arguments["kubeconfig"] = kubeconfig
    outcome_path = workdir / "outcome.json"
    playbook = workdir / "annotate.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": "Annotate", "eks.irsa.irsa_service_account": arguments, "register": "outcome", "ignore_errors": True},
            {"name": "Keep the outcome", "ansible.builtin.copy": {"content": "{{ outcome | to_json }}", "dest": str(outcome_path)}},
        ],
    }]), encoding="utf-8")
    sandbox.reset_log()
    result = run_playbook(sandbox, str(playbook), str(workdir), env=env)
    assert result.returncode == 0, result.stdout[-6000:]
    calls = [call for call in sandbox.log()["calls"] if call["service"] == "kubernetes"]
    return name, json.loads(outcome_path.read_text(encoding="utf-8")), result.stdout, calls


def assert_annotated(sandbox, name, outcome):
    assert not outcome.get("failed"), outcome.get("msg")
    assert outcome["changed"] is True
    assert outcome["service_account"]["annotations"][ANNOTATION] == ROLE
    stored = KubeApi(sandbox).request("GET", "/api/v1/namespaces/default/serviceaccounts/" + name)
    assert stored["metadata"]["annotations"][ANNOTATION] == ROLE


def authenticated(calls):
    """Whether the API server authenticated every call (none answered 401, or 403 as to anonymous)."""
    return all(call["status"] not in (401, 403) for call in calls)


def assert_refused(outcome, output, calls, phrases):
    assert outcome.get("failed"), outcome
    message = outcome["msg"]
    for phrase in phrases:
        assert phrase in message, (phrase, message)
    assert "Traceback" not in message and "Traceback" not in output
    assert [call for call in calls if call["write"]] == []


# --- the shapes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["kubeconfig option", "KUBECONFIG"])
def test_two_kubeconfig_files_are_merged(sandbox, tmp_path, via):
    """The user and context in one file, the cluster (with a CA path relative to its own file) in another."""
    server, ca_pem, token = sandbox_cluster(sandbox)
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters" / "ca.crt").write_text(ca_pem, encoding="utf-8")
    credentials = write_yaml(tmp_path / "credentials" / "config", {
        "apiVersion": "v1", "kind": "Config", "current-context": "merged", "clusters": [],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "merged", "context": {"cluster": "sandbox-api", "user": "admin"}}],
    })
    clusters = write_yaml(tmp_path / "clusters" / "config", {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "sandbox-api", "cluster": {"server": server, "certificate-authority": "ca.crt"}}],
    })
    merged = os.pathsep.join([credentials, clusters])
    if via == "KUBECONFIG":
        name, outcome, _output, _calls = annotate(sandbox, tmp_path, env={"KUBECONFIG": merged})
    else:
        name, outcome, _output, _calls = annotate(sandbox, tmp_path, kubeconfig=merged)
    assert_annotated(sandbox, name, outcome)


def test_a_broken_second_kubeconfig_file_is_named(sandbox, tmp_path):
    server, ca_pem, token = sandbox_cluster(sandbox)
    good = one_file(tmp_path / "good", cluster_entry(ca_pem, server), {"token": token})
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n  - name: half", encoding="utf-8")
    _name, outcome, output, calls = annotate(sandbox, tmp_path, kubeconfig=os.pathsep.join([good, str(broken)]))
    assert_refused(outcome, output, calls, ["The kubeconfig {0} is not valid YAML".format(broken)])
    assert calls == []


def test_aws_eks_get_token_runs_once_while_its_token_is_valid(sandbox, tmp_path):
    """``aws eks get-token`` (the AWS CLI's plugin, a token valid for 14 minutes) runs once for the whole module run."""
    server, ca_pem, _token = sandbox_cluster(sandbox)
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    command, args, runs = counting_plugin(tmp_path, "os.execv({0!r}, [{0!r}] + sys.argv[1:])\n".format(aws))
    user = exec_user(command, args + ["eks", "get-token", "--cluster-name", sandbox.vars["irsa_sandbox_cluster"]],
                     api_version="client.authentication.k8s.io/v1beta1")
    kubeconfig = one_file(tmp_path / "config", cluster_entry(ca_pem, server), user)
    name, outcome, output, calls = annotate(sandbox, tmp_path, kubeconfig=kubeconfig)
    assert_annotated(sandbox, name, outcome)
    assert len(calls) >= 3 and authenticated(calls), calls
    assert runs() == 1
    presented = sandbox.secrets()["eks_bearer_tokens"]
    assert presented, "the cluster saw no EKS token: the plugin's token was not used"
    assert not any(token in output for token in presented)


def test_an_expiring_exec_token_is_asked_for_again(sandbox, tmp_path):
    """A token that expires within the library's five minutes of skew is renewed before each call: the plugin runs
    once to load the kubeconfig, then once per request of the module run."""
    server, ca_pem, token = sandbox_cluster(sandbox)
    command, args, runs = counting_plugin(tmp_path, exec_credential({"token": token}, expires_in=60))
    kubeconfig = one_file(tmp_path / "config", cluster_entry(ca_pem, server), exec_user(command, args))
    name, outcome, output, calls = annotate(sandbox, tmp_path, kubeconfig=kubeconfig)
    assert_annotated(sandbox, name, outcome)
    assert len(calls) >= 3
    assert runs() == 1 + len(calls)
    assert token not in output


def test_a_failing_exec_plugin_says_why(sandbox, tmp_path):
    server, ca_pem, _token = sandbox_cluster(sandbox)
    command, args, _runs = counting_plugin(tmp_path, "sys.stderr.write('profile prod has no credentials')\nsys.exit(2)\n")
    kubeconfig = one_file(tmp_path / "config", cluster_entry(ca_pem, server), exec_user(command, args))
    _name, outcome, output, calls = annotate(sandbox, tmp_path, kubeconfig=kubeconfig)
    assert_refused(outcome, output, calls, ["credential plugin", "failed for cluster shape-cluster", "returned 2",
                                            "profile prod has no credentials"])


def test_an_exec_plugin_may_answer_a_client_certificate(sandbox, tmp_path):
    """No token at all: the sandbox answers anonymous requests 403, so the run passes only with the certificate."""
    server, ca_pem, _token = sandbox_cluster(sandbox)
    certificate, key = sandbox.client_certificate("shape-exec-user", groups=["system:masters"])
    command, args, runs = counting_plugin(tmp_path, exec_credential({"clientCertificateData": certificate, "clientKeyData": key},
                                                                    expires_in=3600))
    kubeconfig = one_file(tmp_path / "config", cluster_entry(ca_pem, server), exec_user(command, args))
    name, outcome, output, calls = annotate(sandbox, tmp_path, kubeconfig=kubeconfig)
    assert_annotated(sandbox, name, outcome)
    assert calls and authenticated(calls), calls
    assert runs() == 1
    assert key.strip().splitlines()[1] not in output


def _self_signed_client_certificate():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(hours=1)).sign(key, hashes.SHA256()))
    return (certificate.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())


def test_a_client_certificate_the_cluster_does_not_trust_is_refused_without_a_write(sandbox, tmp_path):
    server, ca_pem, _token = sandbox_cluster(sandbox)
    certificate, key = _self_signed_client_certificate()
    command, args, _runs = counting_plugin(tmp_path, exec_credential({"clientCertificateData": certificate, "clientKeyData": key}))
    kubeconfig = one_file(tmp_path / "config", cluster_entry(ca_pem, server), exec_user(command, args))
    _name, outcome, output, calls = annotate(sandbox, tmp_path, kubeconfig=kubeconfig)
    assert_refused(outcome, output, calls, ["Kubernetes API at " + server])
    assert key.strip().splitlines()[1] not in output


def test_proxy_url_goes_through_the_proxy(sandbox, tmp_path, tunnel):
    server, ca_pem, token = sandbox_cluster(sandbox)
    proxy = tunnel()
    kubeconfig = one_file(tmp_path / "config", cluster_entry(ca_pem, server, **{"proxy-url": "http://127.0.0.1:%d" % proxy.port}), {"token": token})
    name, outcome, _output, calls = annotate(sandbox, tmp_path, kubeconfig=kubeconfig)
    assert_annotated(sandbox, name, outcome)
    api = server[len("https://"):]
    assert proxy.seen and {tuple(line.split(" ")[:2]) for line in proxy.seen} == {("CONNECT", api)}, proxy.seen
    assert calls


def test_an_unreachable_proxy_url_is_named(sandbox, tmp_path):
    server, ca_pem, token = sandbox_cluster(sandbox)
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    proxy_url = "http://someone:proxy-password@127.0.0.1:%d" % port
    kubeconfig = one_file(tmp_path / "config", cluster_entry(ca_pem, server, **{"proxy-url": proxy_url}), {"token": token})
    _name, outcome, output, calls = annotate(sandbox, tmp_path, kubeconfig=kubeconfig)
    assert_refused(outcome, output, calls, ["Cannot reach the Kubernetes API at " + server,
                                            "through the proxy http://127.0.0.1:%d" % port, "proxy-url"])
    assert calls == [] and "proxy-password" not in outcome["msg"]


@pytest.mark.parametrize("tls_server_name", ["kubernetes", None])
def test_tls_server_name_checks_the_name_the_certificate_carries(sandbox, tmp_path, tunnel, tls_server_name):
    """The API reached at 127.0.0.2 (a relay, as through a tunnel or a load balancer), an address its certificate does
    not name: the run passes with tls-server-name set to a name the certificate carries, and fails without it."""
    server, ca_pem, token = sandbox_cluster(sandbox)
    api_host, api_port = server[len("https://"):].rsplit(":", 1)
    relay = tunnel(host="127.0.0.2", target=(api_host, int(api_port)))
    cluster = cluster_entry(ca_pem, "https://127.0.0.2:%d" % relay.port)
    if tls_server_name:
        cluster["tls-server-name"] = tls_server_name
    name, outcome, output, calls = annotate(sandbox, tmp_path, kubeconfig=one_file(tmp_path / "config", cluster, {"token": token}))
    assert relay.seen, "the run did not go through the relay"
    if tls_server_name:
        assert_annotated(sandbox, name, outcome)
    else:
        assert_refused(outcome, output, calls, ["TLS to the Kubernetes API at https://127.0.0.2:%d failed" % relay.port,
                                                "tls-server-name"])
        assert calls == []
