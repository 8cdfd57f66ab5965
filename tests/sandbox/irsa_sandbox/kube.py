"""Real Kubernetes for one sandbox EKS cluster.

Per cluster, as processes under ``<state>/clusters/<name>/``:

- **etcd** and **kube-apiserver** (built by ``tests/sandbox/kube/build``, pinned by its go.mod), the
  apiserver with ``--service-account-issuer`` = the cluster's EKS-shaped issuer URL and the issuer's
  signing key, ``--authorization-mode Node,RBAC``, its default admission plugins (ServiceAccount,
  PodSecurity, NodeRestriction, MutatingAdmissionWebhook, ...), a static admin token for the
  kubeconfig, and a TokenReview webhook (``--authentication-token-webhook-config-file``) served by the
  sandbox (``/_sandbox/tokenreview/<cluster>``) for EKS ``k8s-aws-v1.`` tokens: the presigned
  GetCallerIdentity is checked against the sandbox STS, then the IAM identity is mapped as an EKS
  access entry maps it (``access_entries``: the cluster creator ``sandbox-admin`` is a cluster admin;
  tests add others); an unmapped identity is refused (401).
- **kube-controller-manager** with the controllers a cluster's namespaces need (serviceaccount,
  namespace deletion, root CA publisher, garbage collector), and those of Deployments (deployment, replicaset),
  so that a rollout restart replaces a workload's pods.
- **AWS's pod identity webhook** (amazon-eks-pod-identity-webhook, flags as EKS runs it), registered
  through a MutatingWebhookConfiguration with a URL client config and the sandbox's CA. It watches the
  container credentials configuration (``--watch-container-credentials-config``), the ServiceAccounts with an
  EKS Pod Identity association, which ``write_pod_identities`` writes, and points their pods at the node's
  Pod Identity Agent (``--container-credentials-full-uri``).
- **The node's EKS Pod Identity Agent** (``pod_identity_agent.PodIdentityAgent``) on a loopback port, running
  while the ``eks-pod-identity-agent`` add-on is present (``set_pod_identity_agent``); it signs its EKS Auth
  calls with ``node_credentials()``, which the sandbox sets.
- **A node and a kubelet stand-in** (``NodeAgent``): registers a Node, binds pending pods to it (the
  scheduler's job), runs each container's command as ``kubelet.Kubelet`` does (the real AWS CLI,
  a token from TokenRequest at the projected volume's path), reports pod status and events as the
  node's own user (so the Node authorizer and NodeRestriction apply), finishes graceful deletions,
  and serves the kubelet API's ``/containerLogs`` so ``kubectl logs`` works through the apiserver.
- **A thin proxy** (``ApiProxy``) in front of the apiserver; clients (kubeconfig, the EKS endpoint)
  talk to it. It records each request in the sandbox's request log as ``("kubernetes", "<verb>
  <resource>")`` with API group and namespace, and injects the configured faults (429 throttling,
  500/503 errors, latency, and ``conflict``: another writer's merge patch applied to the target
  through the apiserver just before the request goes on, so the apiserver itself answers 409). A
  proxy rather than the audit log because faults must happen before the apiserver sees the request,
  and because a test reads the log right after its call returns, when an audit line may not be
  written yet.
"""

import base64
import collections
import datetime
import http.client
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .eks_auth import EKS_TOKEN_PREFIX, verify_eks_token
from .kubelet import Kubelet
from .pod_identity_agent import PodIdentityAgent

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(os.path.dirname(HERE), "kube", "build")
API_AUDIENCE = "https://kubernetes.default.svc"
# The user of the proxy's own client certificate, the one the apiserver takes X-Remote-User from.
FRONT_PROXY_USER = "front-proxy-client"
WEBHOOK_NAME = "pod-identity-webhook"
SKIP_POD_LABEL = "eks.amazonaws.com/skip-pod-identity-webhook"
DISCOVERY_PATHS = ("/version", "/healthz", "/livez", "/readyz", "/.well-known/openid-configuration",
                   "/openid/v1/jwks")
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
START_TIMEOUT = 120
# What the webhook logs each time it has read its container credentials configuration.
IDENTITIES_LOADED = b"Successfully loaded container credentials config file"
IDENTITIES_LOAD_TIMEOUT = 10
STOP_GRACE = 0.5

_binaries_lock = threading.Lock()
_binaries_dir = None


def binaries():
    """The directory holding the built binaries (building them on first need)."""
    global _binaries_dir
    with _binaries_lock:
        if _binaries_dir is None:
            env = dict(os.environ)
            # make installs a Go toolchain into the virtualenv when the machine has none.
            env["PATH"] = os.pathsep.join([env.get("PATH", ""), os.path.dirname(sys.executable)])
            result = subprocess.run([BUILD], env=env, stdout=subprocess.PIPE, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"{BUILD} failed (exit {result.returncode}); see its output above")
            _binaries_dir = result.stdout.strip().splitlines()[-1]
        return _binaries_dir


def versions(directory):
    """``{"kube-apiserver": "v1.34.4", "etcd": "v3.6.4", "amazon-eks-pod-identity-webhook": "v0.6.9"}``
    from the build directory's name."""
    parts = os.path.basename(directory).split("-")
    found = {}
    for key, label in (("k8s", "kube-apiserver"), ("etcd", "etcd"), ("podidentitywebhook", "amazon-eks-pod-identity-webhook")):
        if key in parts:
            found[label] = parts[parts.index(key) + 1]
    return found


# Ports for the sandbox's listeners are chosen below the kernel's ephemeral range: a port there that was free when
# probed can be taken by an outgoing connection (or another sandbox's probe) before the process binds it.
PORT_RANGE_START = 10000


def _ephemeral_start():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _http_ok(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status == 200


def free_port():
    """A port of 127.0.0.1 that is free now, chosen at random below the ephemeral range."""
    span = _ephemeral_start() - PORT_RANGE_START
    for _attempt in range(100 if span > 1000 else 0):
        port = PORT_RANGE_START + secrets.randbelow(span)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:  # no room below the ephemeral range: let the kernel choose
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- PKI


class Pki:
    """A CA per cluster and one serving certificate for 127.0.0.1 (apiserver, proxy, webhook,
    kubelet)."""

    def __init__(self, directory, cluster_name):
        os.makedirs(directory, exist_ok=True)
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kubernetes ({cluster_name})")])
        ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local"]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self._ca = ca_cert, ca_key
        self.ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
        self.ca_file = _write(os.path.join(directory, "ca.crt"), self.ca_pem)
        # The proxy's own client certificate: the apiserver takes the user it names in X-Remote-User
        # (--requestheader-*) only from this one, as from an aggregator's front proxy.
        front_cert, front_key = self.client_certificate(FRONT_PROXY_USER, (), 365 * 86400)
        self.front_proxy_cert_file = _write(os.path.join(directory, "front-proxy-client.crt"), front_cert)
        self.front_proxy_key_file = _write(os.path.join(directory, "front-proxy-client.key"), front_key, 0o600)
        self.cert_file = _write(os.path.join(directory, "serving.crt"), cert.public_bytes(serialization.Encoding.PEM).decode())
        self.key_file = _write(os.path.join(directory, "serving.key"), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(), 0o600)

    def client_certificate(self, username, groups, expires_in):
        """``(certificate PEM, key PEM)`` of a client certificate signed by the cluster CA for
        ``username`` (the subject's CN) in ``groups`` (its O entries), as kubeadm or a CSR approver
        issues them."""
        ca_cert, ca_key = self._ca
        now = datetime.datetime.now(datetime.timezone.utc)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
                            + [x509.NameAttribute(NameOID.COMMON_NAME, username)])
        cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(seconds=int(expires_in)))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem

    def server_context(self, client_certificates=False):
        """TLS for the apiserver's listeners; with ``client_certificates`` it asks for a client
        certificate and verifies one given against the cluster CA (Python cannot ask without
        verifying, so an untrusted or expired one fails the handshake where kube-apiserver answers 401)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        context.set_alpn_protocols(["http/1.1"])
        if client_certificates:
            context.load_verify_locations(cafile=self.ca_file)
            context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def client_context(self, front_proxy=False):
        context = ssl.create_default_context(cafile=self.ca_file)
        context.set_alpn_protocols(["http/1.1"])
        if front_proxy:
            context.load_cert_chain(self.front_proxy_cert_file, self.front_proxy_key_file)
        return context


def _own_group_dying_with_parent():
    """In the child: its own process group (stopped as one), and SIGTERM when the sandbox dies
    however it dies (Linux's PR_SET_PDEATHSIG), so no apiserver outlives a killed sandbox."""
    import ctypes

    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except OSError:
        pass


def _write(path, text, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


# --------------------------------------------------------------------------- API client


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


class ApiClient:
    """Just enough of a Kubernetes client: JSON requests and watch streams, one identity."""

    def __init__(self, server, context, token):
        parsed = urllib.parse.urlsplit(server)
        self.host, self.port = parsed.hostname, parsed.port
        self.context = context
        self.token = token

    def _connection(self, timeout):
        return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)

    def raw(self, method, path, timeout=10):
        """``(status, body bytes)``."""
        connection = self._connection(timeout)
        try:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            connection.request(method, path, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def request(self, method, path, body=None, content_type="application/json", timeout=30, allow=()):
        """The decoded answer; None when the status is in ``allow``; raises ``ApiError`` otherwise."""
        connection = self._connection(timeout)
        try:
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = content_type
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        if response.status in allow:
            return None
        if response.status >= 300:
            raise ApiError(response.status, payload.decode(errors="replace"))
        return json.loads(payload or b"null")

    def watch(self, path, stop, timeout_seconds=60):
        """``(type, object)`` events from ``path`` (a list URL with query), relisting after errors,
        until ``stop`` is set. The first events of each (re)list are ``ADDED`` for what exists."""
        resource_version = None
        separator = "&" if "?" in path else "?"
        while not stop.is_set():
            try:
                if resource_version is None:
                    listed = self.request("GET", path)
                    resource_version = listed["metadata"]["resourceVersion"]
                    for item in listed.get("items") or []:
                        yield "ADDED", item
                url = (f"{path}{separator}watch=1&allowWatchBookmarks=true&timeoutSeconds={timeout_seconds}"
                       f"&resourceVersion={resource_version}")
                connection = self._connection(timeout_seconds + 30)
                try:
                    connection.request("GET", url, headers={"Authorization": f"Bearer {self.token}",
                                                            "Accept": "application/json"})
                    response = connection.getresponse()
                    if response.status != 200:
                        response.read()
                        resource_version = None
                        stop.wait(0.5)
                        continue
                    for line in response:
                        if stop.is_set():
                            return
                        event = json.loads(line)
                        kind, obj = event["type"], event["object"]
                        if kind == "ERROR":
                            resource_version = None
                            break
                        resource_version = obj["metadata"]["resourceVersion"]
                        if kind != "BOOKMARK":
                            yield kind, obj
                finally:
                    connection.close()
            except (OSError, http.client.HTTPException, ValueError, ApiError):
                resource_version = None
                stop.wait(0.5)


# --------------------------------------------------------------------------- the cluster


class RealKubeCluster:
    """One sandbox EKS cluster's Kubernetes: the processes, the node, the proxy."""

    def __init__(self, name, region, account_id, issuer, aws_endpoint_url, log, faults, workdir):
        self.name = name
        self.region = region
        self.account_id = account_id
        self.issuer = issuer
        self.aws_endpoint_url = aws_endpoint_url.rstrip("/")
        self.log = log
        self.faults = faults
        self.workdir = os.path.abspath(workdir)
        self.url = None
        self.ca_pem = None
        self.admin_token = None
        self.apiserver_url = None
        self.eks_tokens_seen = collections.deque(maxlen=1000)  # test only: GET /_sandbox/secrets
        self.client_keys_issued = collections.deque(maxlen=100)  # test only: GET /_sandbox/secrets
        # canonical IAM principal ARN -> {"username": template or None, "groups": [...]}, as EKS access entries.
        # The cluster creator is a cluster admin (EKS's bootstrapClusterCreatorAdminPermissions).
        self.access_entries = {}
        self._webhook_enabled = True
        self.node_credentials = None  # () -> the node role's (access key, secret key, session token); the sandbox's
        self.pod_identity_agent = None
        self.pod_identities_file = None
        self._identities_text = None
        self._identities_lock = threading.Lock()
        self._processes = []  # (name, Popen), in start order
        self._stopping = threading.Event()
        self.api = None
        self.node = None
        self.proxy = None

    # ------------------------------------------------------------------ lifecycle

    def start(self):
        bin_dir = binaries()
        os.makedirs(self.workdir, exist_ok=True)
        self.pki = Pki(os.path.join(self.workdir, "pki"), self.name)
        self.ca_pem = self.pki.ca_pem
        sa_key = _write(os.path.join(self.workdir, "pki", "sa.key"), self.issuer.private_pem().decode(), 0o600)
        sa_pub = _write(os.path.join(self.workdir, "pki", "sa.pub"), self.issuer.public_pem().decode())

        self.admin_token = secrets.token_urlsafe(32)
        self.tokens = {role: secrets.token_urlsafe(32) for role in ("controller-manager", "node", "scheduler", "webhook")}
        node_name = f"ip-127-0-0-1.{self.region}.compute.internal"
        _write(os.path.join(self.workdir, "tokens.csv"), "".join([
            f'{self.admin_token},kubernetes-admin,kubernetes-admin,"system:masters"\n',
            f'{self.tokens["controller-manager"]},system:kube-controller-manager,kcm,"system:masters"\n',
            f'{self.tokens["node"]},system:node:{node_name},node,"system:nodes"\n',
            f'{self.tokens["scheduler"]},system:kube-scheduler,scheduler\n',
            f'{self.tokens["webhook"]},system:serviceaccount:kube-system:pod-identity-webhook,webhook,'
            '"system:serviceaccounts,system:serviceaccounts:kube-system"\n',
        ]), 0o600)

        token_webhook = os.path.join(self.workdir, "token-webhook.kubeconfig")
        _write(token_webhook, yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "eks-sandbox", "cluster": {"server": f"{self.aws_endpoint_url}/_sandbox/tokenreview/{self.name}"}}],
            "users": [{"name": "kube-apiserver", "user": {}}],
            "contexts": [{"name": "webhook", "context": {"cluster": "eks-sandbox", "user": "kube-apiserver"}}],
            "current-context": "webhook",
        }))

        etcd_client, _etcd_peer = self._serve("etcd", 2, lambda client, peer: [
            os.path.join(bin_dir, "etcd"), "--name", "default", "--data-dir", os.path.join(self.workdir, "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{client}",
            "--advertise-client-urls", f"http://127.0.0.1:{client}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync", "--log-level", "warn",
        ], lambda client, peer: _http_ok(f"http://127.0.0.1:{client}/health"))
        context = self.pki.client_context()
        (apiserver_port,) = self._serve("kube-apiserver", 1, lambda apiserver_port: [
            os.path.join(bin_dir, "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{etcd_client}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={apiserver_port}",
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={self.pki.cert_file}", f"--tls-private-key-file={self.pki.key_file}",
            f"--client-ca-file={self.pki.ca_file}",
            # Client certificates end at the proxy, which passes the user they name on (aggregator style).
            f"--requestheader-client-ca-file={self.pki.ca_file}", f"--requestheader-allowed-names={FRONT_PROXY_USER}",
            "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--service-account-issuer={self.issuer.url}",
            f"--service-account-signing-key-file={sa_key}", f"--service-account-key-file={sa_pub}",
            f"--api-audiences={API_AUDIENCE}",
            "--service-account-max-token-expiration=24h",  # as EKS
            "--service-cluster-ip-range=10.100.0.0/16",  # EKS's default service range (no traffic goes there)
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            f"--token-auth-file={os.path.join(self.workdir, 'tokens.csv')}",
            f"--authentication-token-webhook-config-file={token_webhook}",
            "--authentication-token-webhook-version=v1",
            "--kubelet-preferred-address-types=InternalIP",
            "--enable-priority-and-fairness=false", "--profiling=false",
            "--v=1",
        ], lambda apiserver_port: ApiClient(f"https://127.0.0.1:{apiserver_port}", context, self.admin_token).raw(
            "GET", "/readyz")[0] == 200)
        self.apiserver_url = f"https://127.0.0.1:{apiserver_port}"
        self.api = ApiClient(self.apiserver_url, context, self.admin_token)

        kcm_kubeconfig = self._kubeconfig("kube-controller-manager", self.tokens["controller-manager"])
        self._spawn("kube-controller-manager", [
            os.path.join(bin_dir, "kube-controller-manager"), f"--kubeconfig={kcm_kubeconfig}",
            "--controllers=serviceaccount,namespace,root-ca-cert-publisher,garbagecollector,deployment,replicaset",
            f"--root-ca-file={self.pki.ca_file}", "--leader-elect=false", "--secure-port=0",
            "--use-service-account-credentials=false", "--v=1",
        ])

        self._bootstrap()
        self.pod_identity_agent = PodIdentityAgent(self.name, self.region, self.aws_endpoint_url, free_port(),
                                                   self._node_credentials)
        os.makedirs(os.path.join(self.workdir, "pod-identity-webhook"), exist_ok=True)
        self.pod_identities_file = os.path.join(self.workdir, "pod-identity-webhook", "container-credentials.json")
        self._identities_text = json.dumps({"identities": []})
        _write(self.pod_identities_file, self._identities_text)
        webhook_kubeconfig = self._kubeconfig('pod-identity-webhook', self.tokens['webhook'])
        webhook_port, _metrics_port = self._serve("amazon-eks-pod-identity-webhook", 2, lambda webhook_port, metrics_port: [
            os.path.join(bin_dir, "amazon-eks-pod-identity-webhook"),
            # As EKS runs it on the control plane.
            "--in-cluster=false", "--namespace=eks", "--service-name=pod-identity-webhook",
            "--annotation-prefix=eks.amazonaws.com", "--token-audience=sts.amazonaws.com",
            f"--aws-default-region={self.region}", "--sts-regional-endpoint=true",
            f"--kubeconfig={webhook_kubeconfig}",
            f"--tls-cert={self.pki.cert_file}", f"--tls-key={self.pki.key_file}",
            f"--port={webhook_port}", f"--metrics-port={metrics_port}", "--logtostderr",
            # EKS Pod Identity: the associated ServiceAccounts, and the node's agent.
            f"--watch-container-credentials-config={self.pod_identities_file}",
            f"--container-credentials-full-uri={self.pod_identity_agent.url}",
        ], lambda webhook_port, metrics_port: ApiClient(f"https://127.0.0.1:{webhook_port}", context, "").raw(
            "GET", "/healthz")[0] == 200)
        self.webhook_url = f"https://127.0.0.1:{webhook_port}"
        self._install_webhook()

        self.node = NodeAgent(self, node_name)
        self.node.start()
        self.pod_identity_agent.start()
        self.proxy = ApiProxy(self)
        self.proxy.start()
        self.url = self.proxy.url
        # Ready when the namespace "default" has its ServiceAccount (kube-controller-manager is up).
        self._wait("kube-controller-manager", lambda: self.api.request(
            "GET", "/api/v1/namespaces/default/serviceaccounts/default", allow=(404,)))
        return self

    def stop(self):
        self._stopping.set()
        if self.proxy is not None:
            self.proxy.stop()
        if self.node is not None:
            self.node.stop()
        if self.pod_identity_agent is not None:
            self.pod_identity_agent.stop()
        # Throwaway clusters: a short grace, then SIGKILL (kube-apiserver's graceful shutdown waits out its
        # long-running requests, about 10 s, for nothing here).
        for _name, process in reversed(self._processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + STOP_GRACE
        for _name, process in reversed(self._processes):
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except OSError:
                    pass
                process.wait(timeout=5)
        self._processes = []

    def _spawn(self, name, argv):
        log = open(os.path.join(self.workdir, f"{name}.log"), "ab")
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   preexec_fn=_own_group_dying_with_parent, cwd=self.workdir)
        log.close()
        self._processes.append((name, process))
        return process

    def _serve(self, name, count, argv_of, ready_of):
        """Start ``name`` listening on ``count`` free ports (``argv_of(*ports)``), wait until ``ready_of(*ports)`` and
        return the ports. A port that another process took between its choice and the bind is chosen again."""
        attempts = 1
        while True:
            ports = [free_port() for _index in range(count)]
            process = self._spawn(name, argv_of(*ports))
            try:
                self._wait(name, lambda: ready_of(*ports))
                return ports
            except RuntimeError:
                if attempts == 3 or process.poll() is None or "address already in use" not in self._tail(name)[-600:].lower():
                    raise
            self._processes.remove((name, process))
            attempts += 1

    def _wait(self, name, probe, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        process = dict(self._processes).get(name)
        last = None
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {self._tail(name)}")
            try:
                if probe():
                    return
            except (OSError, http.client.HTTPException, ApiError, ValueError) as error:
                last = error
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready after {timeout}s ({last}): {self._tail(name)}")

    def _tail(self, name):
        try:
            with open(os.path.join(self.workdir, f"{name}.log"), "rb") as handle:
                return handle.read()[-3000:].decode(errors="replace")
        except OSError:
            return ""

    def _kubeconfig(self, user, token):
        path = os.path.join(self.workdir, f"{user}.kubeconfig")
        _write(path, yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": self.name,
                          "cluster": {"server": self.apiserver_url, "certificate-authority": self.pki.ca_file}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": user}}],
            "current-context": self.name,
        }), 0o600)
        return path

    def _bootstrap(self):
        """What the pod identity webhook may read (upstream's deploy/auth.yaml, less its in-cluster
        certificate requests)."""
        self.api.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "pod-identity-webhook"},
            "rules": [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "watch", "list"]},
                      {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "watch", "list"]}],
        }, allow=(409,))
        self.api.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "pod-identity-webhook"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "pod-identity-webhook"},
            "subjects": [{"kind": "ServiceAccount", "name": "pod-identity-webhook", "namespace": "kube-system"}],
        }, allow=(409,))

    # ------------------------------------------------------------------ the webhook's registration

    @property
    def webhook_enabled(self):
        return self._webhook_enabled

    @webhook_enabled.setter
    def webhook_enabled(self, enabled):
        self._webhook_enabled = bool(enabled)
        if self.api is not None:
            self._install_webhook()

    def _install_webhook(self):
        path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
        if not self._webhook_enabled:
            self.api.request("DELETE", f"{path}/{WEBHOOK_NAME}", allow=(404,))
            return
        self.api.request("POST", path, {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": WEBHOOK_NAME},
            "webhooks": [{
                "name": "iam-for-pods.amazonaws.com",
                "admissionReviewVersions": ["v1beta1"],
                "clientConfig": {"url": f"{self.webhook_url}/mutate",
                                 "caBundle": base64.b64encode(self.ca_pem.encode()).decode()},
                "failurePolicy": "Ignore",
                "matchPolicy": "Equivalent",
                "namespaceSelector": {},
                "objectSelector": {"matchExpressions": [{"key": SKIP_POD_LABEL, "operator": "DoesNotExist"}]},
                "reinvocationPolicy": "IfNeeded",
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                           "resources": ["pods"], "scope": "*"}],
                "sideEffects": "None",
                "timeoutSeconds": 10,
            }],
        }, allow=(409,))

    # ------------------------------------------------------------------ EKS Pod Identity

    def _node_credentials(self):
        if self.node_credentials is None:
            raise RuntimeError("the node has no role credentials")
        return self.node_credentials()

    def set_pod_identity_agent(self, present):
        """Run the node's Pod Identity Agent (the add-on is present) or stop it (connections refused)."""
        if self.pod_identity_agent is not None:
            (self.pod_identity_agent.start if present else self.pod_identity_agent.stop)()

    def write_pod_identities(self, identities):
        """Write the webhook's container credentials configuration (``{"identities": [{"namespace",
        "serviceAccount"}]}``, pkg/containercredentials' format) and wait until the webhook has read it, so that
        a pod created next is mutated as the associations now say."""
        text = json.dumps({"identities": list(identities)})
        with self._identities_lock:
            if self.pod_identities_file is None or text == self._identities_text:
                return
            log = os.path.join(self.workdir, "amazon-eks-pod-identity-webhook.log")
            loaded = self._count_in(log, IDENTITIES_LOADED)
            temporary = f"{self.pod_identities_file}.tmp"
            _write(temporary, text)
            os.replace(temporary, self.pod_identities_file)  # one event for the watched name, a whole file
            self._identities_text = text
            deadline = time.monotonic() + IDENTITIES_LOAD_TIMEOUT
            while self._count_in(log, IDENTITIES_LOADED) <= loaded and time.monotonic() < deadline:
                time.sleep(0.05)

    @staticmethod
    def _count_in(path, needle):
        try:
            with open(path, "rb") as handle:
                return handle.read().count(needle)
        except OSError:
            return 0

    # ------------------------------------------------------------------ JWKS for the STS gate

    def jwks(self):
        """The apiserver's own ``/openid/v1/jwks`` (served as application/jwk-set+json)."""
        status, body = self.api.raw("GET", "/openid/v1/jwks")
        if status != 200:
            raise ApiError(status, body.decode(errors="replace"))
        return json.loads(body)

    # ------------------------------------------------------------------ EKS authentication

    def token_review(self, review):
        """Answer the apiserver's TokenReview for a bearer token it could not authenticate itself."""
        token = ((review or {}).get("spec") or {}).get("token", "")
        answer = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                  "status": {"authenticated": False}}
        if not token.startswith(EKS_TOKEN_PREFIX):
            return answer
        self.eks_tokens_seen.append(token)
        # aws-iam-authenticator's verification, with the sandbox STS as STS.
        user, _unused = verify_eks_token(token, self.aws_endpoint_url, self.name)
        if user is None:
            answer["status"]["error"] = "the EKS token could not be verified with STS"
            return answer
        canonical = user.extra.get("canonicalArn", [user.username])[0]
        entry = self.access_entries.get(canonical)
        if entry is None and canonical == f"arn:aws:iam::{self.account_id}:user/sandbox-admin":
            entry = {"username": None, "groups": ["system:masters"]}
        if entry is None:
            answer["status"]["error"] = f"{canonical} has no access entry in cluster {self.name}"
            return answer
        username = entry.get("username") or user.username
        session = (user.extra.get("sessionName") or [""])[0]
        username = username.replace("{{SessionName}}", session).replace("{{AccountID}}", self.account_id)
        answer["status"] = {
            "authenticated": True,
            "user": {"username": username, "uid": user.uid, "groups": list(entry.get("groups") or []),
                     "extra": user.extra},
            "audiences": [API_AUDIENCE],
        }
        return answer

    # ------------------------------------------------------------------ kubelet hooks (NodeAgent)

    def issue_client_certificate(self, username, groups=(), expires_in=3600):
        """Test only: ``(certificate PEM, key PEM)`` of a client certificate the cluster trusts."""
        certificate, key = self.pki.client_certificate(username, groups, expires_in)
        self.client_keys_issued.append(key)
        return certificate, key

    def pod_log_text(self, namespace, name, container, query):
        return self.node.log_text(namespace, name, container, query)


# --------------------------------------------------------------------------- node + kubelet


class _PodReader:
    def __init__(self, node):
        self._node = node

    def get(self, kind, namespace, name):
        assert kind == "pods"
        return self._node.api.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}", allow=(404,))


class NodeAgent:
    """The node, its kubelet stand-in (``kubelet.Kubelet`` over the real API) and a binder.

    The Kubelet class talks to ``self`` as its cluster: ``update_pod``, ``record_event``,
    ``issue_pod_token``, ``store.get``, ``workdir``, ``aws_endpoint_url``, ``region``.
    """

    def __init__(self, cluster, node_name):
        self.cluster = cluster
        self.region = cluster.region
        self.workdir = cluster.workdir
        self.aws_endpoint_url = cluster.aws_endpoint_url
        context = cluster.pki.client_context()
        self.api = ApiClient(cluster.apiserver_url, context, cluster.tokens["node"])
        self.scheduler = ApiClient(cluster.apiserver_url, context, cluster.tokens["scheduler"])
        self.store = _PodReader(self)
        self.kubelet = Kubelet(self)
        self.kubelet.node_name = node_name
        self.kubelet.node_ip = "127.0.0.1"  # what the apiserver dials for logs: nothing else may be reached
        self.node_name = node_name
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running = {}  # uid -> (namespace, name)
        self._uids = {}  # (namespace, name) -> uid of the pod run last
        self._threads = []
        self._server = None

    def start(self):
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, self._kubelet_api, threaded=True,
                                   ssl_context=self.cluster.pki.server_context())
        self._server.daemon_threads = True
        port = self._server.socket.getsockname()[1]
        self._spawn(self._server.serve_forever, "kubelet-api")
        self._register(port)
        self._spawn(self._bind_pods, "binder")
        self._spawn(self._run_pods, "kubelet")

    def stop(self):
        self._stop.set()
        self.kubelet.stop_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _spawn(self, target, name):
        thread = threading.Thread(target=target, name=f"{name}-{self.cluster.name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _register(self, port):
        labels = {"kubernetes.io/hostname": self.node_name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "topology.kubernetes.io/region": self.region, "eks.amazonaws.com/nodegroup": "sandbox"}
        self.api.request("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                   "metadata": {"name": self.node_name, "labels": labels}}, allow=(409,))
        now = _now()
        conditions = [{"type": kind, "status": "False", "reason": f"KubeletHas{reason}", "message": message,
                       "lastHeartbeatTime": now, "lastTransitionTime": now}
                      for kind, reason, message in (("MemoryPressure", "SufficientMemory", "kubelet has sufficient memory available"),
                                                    ("DiskPressure", "NoDiskPressure", "kubelet has no disk pressure"),
                                                    ("PIDPressure", "SufficientPID", "kubelet has sufficient PID available"))]
        conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                           "lastHeartbeatTime": now, "lastTransitionTime": now})
        resources = {"cpu": "2", "memory": "8Gi", "pods": "110", "ephemeral-storage": "20Gi"}
        self.api.request("PATCH", f"/api/v1/nodes/{self.node_name}/status", {"status": {
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": self.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            "capacity": resources, "allocatable": resources,
            "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": os.uname().release,
                         "osImage": "eks-sandbox", "containerRuntimeVersion": "eks-sandbox://0",
                         "kubeletVersion": versions(binaries()).get("kube-apiserver", ""), "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": "amd64"},
        }}, content_type="application/merge-patch+json")

    # ------------------------------------------------------------------ binder (the scheduler's job)

    def _bind_pods(self):
        for kind, pod in self.scheduler.watch("/api/v1/pods?fieldSelector=spec.nodeName%3D", self._stop):
            meta = pod["metadata"]
            if kind == "DELETED" or meta.get("deletionTimestamp") or pod["spec"].get("nodeName"):
                continue
            try:
                self.scheduler.request("POST", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/binding", {
                    "apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"], "uid": meta["uid"]},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name},
                }, allow=(404, 409))
            except (ApiError, OSError):
                pass

    # ------------------------------------------------------------------ kubelet

    def _run_pods(self):
        selector = urllib.parse.quote(f"spec.nodeName={self.node_name}")
        for kind, pod in self.api.watch(f"/api/v1/pods?fieldSelector={selector}", self._stop):
            meta = pod["metadata"]
            uid = meta["uid"]
            if kind == "DELETED":
                self._forget(uid)
                continue
            if meta.get("deletionTimestamp"):
                threading.Thread(target=self._finish_deletion, args=(pod,), daemon=True).start()
                continue
            with self._lock:
                known = uid in self._running
                if not known:
                    self._running[uid] = (meta["namespace"], meta["name"])
                    self._uids[(meta["namespace"], meta["name"])] = uid
            if not known and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                self.kubelet.start(pod)

    def _forget(self, uid):
        with self._lock:
            place = self._running.pop(uid, None)
            if place and self._uids.get(place) == uid:
                del self._uids[place]
        self.kubelet.stop(uid)

    def _finish_deletion(self, pod):
        """The kubelet's part of a graceful deletion: stop the containers, then remove the pod."""
        meta = pod["metadata"]
        self.kubelet.stop(meta["uid"])
        try:
            self.api.request("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}", {
                "apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "preconditions": {"uid": meta["uid"]},
            }, allow=(404, 409))
        except (ApiError, OSError):
            pass

    # --- what kubelet.Kubelet calls

    def update_pod(self, namespace, name, uid, mutate):
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        for _attempt in range(10):
            pod = self.api.request("GET", path, allow=(404,))
            if pod is None or pod["metadata"]["uid"] != uid or pod["metadata"].get("deletionTimestamp"):
                return None
            pod.setdefault("status", {})
            mutate(pod)
            try:
                return self.api.request("PUT", f"{path}/status", pod)
            except ApiError as error:
                if error.status == 409:
                    continue
                if error.status == 404:
                    return None
                raise
        return None

    def record_event(self, namespace, pod_name, pod_uid, reason, message, kind, field_path, component, node):
        now = _now()
        involved = {"kind": "Pod", "namespace": namespace, "name": pod_name, "uid": pod_uid, "apiVersion": "v1"}
        if field_path:
            involved["fieldPath"] = field_path
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{pod_name}.{secrets.token_hex(8)}", "namespace": namespace},
            "involvedObject": involved, "reason": reason, "message": message, "type": kind,
            "source": {"component": component, "host": node}, "firstTimestamp": now, "lastTimestamp": now,
            "count": 1, "reportingComponent": component, "reportingInstance": node,
        }
        client = self.scheduler if component == "default-scheduler" else self.api
        try:
            client.request("POST", f"/api/v1/namespaces/{namespace}/events", event)
        except (ApiError, OSError):
            pass

    def issue_pod_token(self, namespace, sa_name, pod_name, pod_uid, audience, expiration, node):
        """TokenRequest, as the kubelet makes it for a projected ServiceAccount token volume."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
            "audiences": [audience] if audience else [],
            "expirationSeconds": int(expiration or 3600),
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod_name, "uid": pod_uid},
        }}
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{sa_name or 'default'}/token"
        for _attempt in range(20):  # the Node authorizer learns of a new pod's binding a moment later
            try:
                token = self.api.request("POST", path, body)["status"]["token"]
                self.cluster.issuer.issued.append(token)  # test only: GET /_sandbox/secrets
                return token
            except ApiError as error:
                if error.status == 404:
                    return None
                if error.status != 403:
                    raise
            time.sleep(0.25)
        return None

    # ------------------------------------------------------------------ kubelet API: container logs

    def _kubelet_api(self, environ, start_response):
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        parts = request.path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "containerLogs":
            return Response("404 page not found\n", status=404, mimetype="text/plain")(environ, start_response)
        _unused, namespace, name, container = parts
        with self._lock:
            uid = self._uids.get((namespace, name))
        if uid is None:
            return Response(f'pod "{name}" not found\n', status=404, mimetype="text/plain")(environ, start_response)
        args = request.args
        timestamps = args.get("timestamps") in ("true", "1")
        tail = args.get("tailLines", type=int)
        since = args.get("sinceSeconds", type=int)
        limit = args.get("limitBytes", type=int)

        def line_text(entry):
            return f"{entry[0]} {entry[1]}\n" if timestamps else f"{entry[1]}\n"

        def render(lines):
            if since:
                cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=since)
                lines = [entry for entry in lines if entry[0] >= cutoff.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")]
            if tail is not None and tail >= 0:
                lines = lines[-tail:] if tail else []
            return "".join(line_text(entry) for entry in lines)

        if args.get("follow") not in ("true", "1"):
            text = render(self.kubelet.log_lines(uid, container))
            if limit:
                text = text.encode()[:limit].decode(errors="ignore")
            return Response(text, mimetype="text/plain")(environ, start_response)

        def follow():
            yield b""
            sent, first = 0, True
            while not self._stop.is_set():
                lines = self.kubelet.log_lines(uid, container)
                chunk = render(lines) if first else "".join(line_text(entry) for entry in lines[sent:])
                first, sent = False, len(lines)
                if chunk:
                    yield chunk.encode()
                with self.kubelet._lock:  # pylint: disable=protected-access
                    run = self.kubelet._pods.get(uid)  # pylint: disable=protected-access
                if run is None or not run.thread.is_alive():
                    if sent == len(self.kubelet.log_lines(uid, container)):
                        return
                time.sleep(0.2)

        return Response(follow(), mimetype="text/plain", direct_passthrough=True)(environ, start_response)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- the proxy


def request_info(method, target):
    """What the apiserver's RequestInfo makes of a request: ``{"kind": "discovery"|"resource"|"other",
    "action", "verb", "resource", "sub", "api_group", "namespace", "name", "write"}``."""
    parsed = urllib.parse.urlsplit(target)
    path = parsed.path.rstrip("/") or "/"
    query = urllib.parse.parse_qs(parsed.query)
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")] if path != "/" else []
    info = {"kind": "discovery", "action": "get discovery", "verb": "get", "resource": "", "sub": "",
            "api_group": "", "namespace": "", "name": "", "write": False, "path": path,
            "dry_run": bool(query.get("dryRun"))}
    if method == "GET" and (not parts or path in DISCOVERY_PATHS or path.startswith("/openapi")
                            or parts in (["api"], ["api", "v1"], ["apis"])
                            or (parts[0] == "apis" and len(parts) in (2, 3))):
        return info
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        info.update(kind="other", action=f"{method.lower()} {path}", verb=method.lower())
        return info
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    watch = (query.get("watch") or [""])[0] in ("true", "1")
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method)
    if method == "GET":
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    elif verb is None:
        verb = method.lower()
    write = verb in WRITE_VERBS and sub != "token" and not resource.endswith("reviews")
    info.update(kind="resource", verb=verb, resource=resource, sub=sub, api_group=group,
                namespace=namespace or (name if resource == "namespaces" else ""), name=name,
                action=f"{verb} {resource}" + (f"/{sub}" if sub else ""), write=write)
    return info


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ApiProxy:
    """HTTPS in front of the apiserver: one request per client connection, relayed byte for byte."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.server_context = cluster.pki.server_context(client_certificates=True)
        self.upstream_context = cluster.pki.client_context()
        self.front_proxy_context = cluster.pki.client_context(front_proxy=True)
        parsed = urllib.parse.urlsplit(cluster.apiserver_url)
        self.upstream = (parsed.hostname, parsed.port)
        self._server = None
        self.url = None

    def start(self):
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                proxy.handle(self.request)

        self._server = _ProxyServer(("127.0.0.1", 0), Handler)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                         name=f"proxy-{self.cluster.name}", daemon=True).start()

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------------ one connection

    def handle(self, raw):
        raw.settimeout(300)
        try:
            client = self.server_context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            self._serve(client)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                client.close()
            except OSError:
                pass

    def _serve(self, client):
        reader = client.makefile("rb")
        request_line = reader.readline(65537)
        if not request_line:
            return
        method, target, _version = request_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers = []
        while True:
            line = reader.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _unused, value = line.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        lower = {name.lower(): value for name, value in headers}
        upgrade = "upgrade" in lower.get("connection", "").lower()
        body = b""
        if "content-length" in lower:
            body = reader.read(int(lower["content-length"]))
        elif lower.get("transfer-encoding", "").lower() == "chunked":
            body = _read_chunked(reader)

        info = request_info(method, target)
        cluster = self.cluster
        fault = None
        if info["kind"] == "resource" and cluster.faults is not None:
            fault = cluster.faults.pick("kubernetes", info["action"], conflict=self._has_target(info))
        if fault is not None and fault.kind == "conflict":
            self._write_as_another_writer(info, fault.change)
        elif fault is not None:
            status, reason, payload, extra = _fault_answer(fault)
            client.sendall(_response_head(status, reason, [("Content-Type", "application/json"),
                                                           ("Content-Length", str(len(payload))),
                                                           ("Connection", "close")] + extra) + payload)
            self._record(info, status, fault.kind)
            return

        forwarded = [(name, value) for name, value in headers
                     if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length",
                                             "proxy-connection") and not name.lower().startswith("x-remote-")]
        certified = _certificate_user(client.getpeercert())
        if certified is not None:  # a client certificate the CA signed: its user, as kube-apiserver reads it
            user, groups = certified
            forwarded += [("X-Remote-User", user)] + [("X-Remote-Group", group) for group in groups]
        if upgrade:
            forwarded.append(("Connection", lower["connection"]))
        else:
            forwarded.append(("Connection", "close"))
        if body or method in ("POST", "PUT", "PATCH"):
            forwarded.append(("Content-Length", str(len(body))))
        context = self.front_proxy_context if certified is not None else self.upstream_context
        upstream = context.wrap_socket(
            socket.create_connection(self.upstream, timeout=300), server_hostname=self.upstream[0])
        try:
            head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in forwarded) + "\r\n"
            upstream.sendall(head.encode("latin-1") + body)
            first = upstream.recv(65536)
            status = _status_of(first)
            self._record(info, status, fault.kind if fault is not None else "")
            if first:
                client.sendall(first)
            if upgrade and status == 101:
                _relay_both(client, upstream)
                return
            # TokenRequest answers are kept (test only: GET /_sandbox/secrets).
            seen = bytearray(first) if info["action"] == "create serviceaccounts/token" else None
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                client.sendall(chunk)
                if seen is not None and len(seen) < 1 << 20:
                    seen += chunk
            if seen:
                for token in re.findall(rb'"token":"([A-Za-z0-9._-]+)"', bytes(seen)):
                    cluster.issuer.issued.append(token.decode())
        finally:
            upstream.close()

    def _record(self, info, status, fault=""):
        detail = {}
        if info["kind"] == "resource":
            detail = {"api_group": info["api_group"], "namespace": info["namespace"]}
        write = info["write"] and not info["dry_run"] and 0 < status < 300
        self.cluster.log.record("kubernetes", info["action"], write=write, status=status, fault=fault, **detail)

    def _object_path(self, info):
        return info["path"]

    def _has_target(self, info):
        if info["verb"] not in ("update", "patch", "delete") or info["sub"]:
            return False
        try:
            return self.cluster.api.request("GET", self._object_path(info), allow=(404, 403)) is not None
        except (ApiError, OSError):
            return False

    def _write_as_another_writer(self, info, change):
        """A ``conflict`` fault: someone else changes the target first (``change``: a JSON merge patch),
        so the object gets a new resourceVersion and a write conditional on the old one gets 409."""
        change = dict(change or {})
        if not change:  # even an empty change must make a new resourceVersion
            change = {"metadata": {"annotations": {"eks-sandbox/another-writer": secrets.token_hex(4)}}}
        try:
            self.cluster.api.request("PATCH", self._object_path(info), change,
                                     content_type="application/merge-patch+json", allow=(404,))
        except (ApiError, OSError):
            pass


def _certificate_user(peer):
    """``(user, groups)`` of a verified client certificate (``getpeercert()``): CN and O entries, as
    kube-apiserver's x509 authenticator reads them; None without one."""
    if not peer:
        return None
    names = [attribute for entry in peer.get("subject", ()) for attribute in entry]
    user = next((value for key, value in names if key == "commonName"), "")
    return (user, [value for key, value in names if key == "organizationName"]) if user else None


def _read_chunked(reader):
    body = b""
    while True:
        size_line = reader.readline(65537)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while reader.readline(65537) not in (b"\r\n", b"\n", b""):
                pass
            return body
        body += reader.read(size)
        reader.readline(65537)


def _status_of(first):
    try:
        return int(first.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 502


def _response_head(status, reason, headers):
    return (f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n").encode("latin-1")


def _fault_answer(fault):
    def status_body(code, reason, message, details=None):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                "reason": reason, "code": code}
        if details:
            body["details"] = details
        return json.dumps(body).encode()

    if fault.kind == "throttle":
        return 429, "Too Many Requests", status_body(429, "TooManyRequests", "Too many requests, please try again later.",
                                                     {"retryAfterSeconds": 1}), [("Retry-After", "1")]
    if int(fault.status or 503) == 500:
        return 500, "Internal Server Error", status_body(500, "InternalError", "Internal error occurred: injected fault",
                                                         {"causes": [{"message": "injected fault"}]}), []
    return 503, "Service Unavailable", status_body(503, "ServiceUnavailable",
                                                   "the server is currently unable to handle the request"), []


def _relay_both(a, b):
    """Copy bytes both ways until either side closes (exec, attach, port-forward upgrades)."""
    def pump(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    other = threading.Thread(target=pump, args=(b, a), daemon=True)
    other.start()
    pump(a, b)
    other.join(timeout=5)


class JwksIssuer:
    """Verifies service-account tokens against the apiserver's ``/openid/v1/jwks`` (fetched when a
    token names a key id not seen yet), as AWS fetches the issuer's keys."""

    def __init__(self, issuer, cluster):
        self.url = issuer.url
        self.provider = issuer.provider
        self._issuer = issuer
        self._cluster = cluster
        self._keys = {}
        self._lock = threading.Lock()

    def __getattr__(self, name):  # discovery(), sign(), issued ... stay the issuer's
        return getattr(self._issuer, name)

    def _key(self, kid):
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

        with self._lock:
            if kid not in self._keys:
                for jwk in self._cluster.jwks().get("keys", []):
                    numbers = RSAPublicNumbers(_b64int(jwk["e"]), _b64int(jwk["n"]))
                    self._keys[jwk.get("kid", "")] = numbers.public_key()
            return self._keys.get(kid)

    def verify(self, token):
        from cryptography.hazmat.primitives.asymmetric import padding

        from .core import b64url_decode

        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            if header.get("alg") != "RS256":
                return None
            key = self._key(header.get("kid", ""))
            if key is None:
                return None
            key.verify(b64url_decode(signature_b64), f"{header_b64}.{claims_b64}".encode("ascii"),
                       padding.PKCS1v15(), hashes.SHA256())
            return json.loads(b64url_decode(claims_b64))
        except Exception as error:  # any malformed or forged token is simply not the cluster's
            print(f"eks-sandbox: {self.url}: token not verified: {error!r}", file=sys.stderr, flush=True)
            return None


def _b64int(text):
    from .core import b64url_decode

    return int.from_bytes(b64url_decode(text), "big")
