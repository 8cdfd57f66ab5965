"""A Kubernetes API server emulator, one per sandbox EKS cluster.

Served over HTTPS on loopback with its own CA. What it implements, and how faithfully, is in the
module docstrings beside it: ``k8s_store`` (API machinery), ``k8s_api`` (discovery, tables),
``k8s_admission`` (defaults, ServiceAccount plugin, pod identity webhook, Pod Security),
``k8s_kubelet`` (pods run with the real AWS CLI). This module holds the cluster: authentication,
routing, the resource handlers, TokenRequest, logs and watches.

Authentication: client certificates signed by the cluster CA (the subject's CN is the user, its O
entries the groups; asked before bearer tokens, as kube-apiserver's x509 authenticator is), the static
admin token, EKS ``k8s-aws-v1.`` tokens (checked as aws-iam-authenticator does, then sent to the
sandbox STS with the ``x-k8s-aws-id`` header), and the cluster's own ServiceAccount tokens. Every
authenticated identity is authorized for everything. Requests without credentials are
``system:anonymous``, who may read only ``/version``, the health endpoints and the OIDC discovery
documents.

Request log: every request is recorded as ``("kubernetes", "<verb> <resource>")`` with verbs
get/list/watch/create/update/patch/delete/deletecollection and resources such as ``serviceaccounts``,
``serviceaccounts/token``, ``pods``, ``pods/log``, ``namespaces``, ``mutatingwebhookconfigurations``.
Discovery, ``/version``, health and OIDC documents are recorded as ``get discovery``. Resource
requests also carry the API group and the namespace RBAC sees (a namespace object's own name). ``write`` is
True for requests that change stored state (dry runs and TokenRequests do not). Faults are drawn
for resource requests only, never for discovery. A ``conflict`` fault is another writer's update of
the object a write targets, made just before that write is handled; the write is then answered as
the API server would (409 Conflict when it is conditional on the resourceVersion it read) and
logged with ``fault`` ``conflict``.
"""

import base64
import collections
import copy
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from xml.etree import ElementTree

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import k8s_admission as admission
from . import k8s_protobuf
from .k8s_api import (
    RESOURCES,
    SERVER_VERSION,
    api_group,
    api_group_list,
    api_versions,
    openapi_v3_documents,
    prune_unknown_fields,
    resource_list,
    table,
    wants_table,
)
from .k8s_kubelet import Kubelet
from .k8s_store import (
    ApiError,
    FieldError,
    Store,
    already_exists,
    apply_patch,
    bad_request,
    conflict,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    fields_match,
    forbidden,
    invalid,
    json_merge_patch,
    json_patch,
    labels_match,
    metadata_errors,
    not_found,
    now_rfc3339,
    omit_empty,
    parse_field_selector,
    parse_label_selector,
    random_suffix,
    strategic_merge_patch,
    strip_for_compare,
)

API_AUDIENCE = "https://kubernetes.default.svc"
MAX_TOKEN_EXPIRATION = 86400  # EKS runs the API server with --service-account-max-token-expiration=24h
EKS_TOKEN_PREFIX = "k8s-aws-v1."
EKS_TOKEN_LIFETIME = 15 * 60
EKS_TOKEN_PARAMETERS = {
    "action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
    "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders",
}
STS_HOST = re.compile(r"^sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$")
TOKEN_CACHE_SECONDS = 120  # kube-apiserver --authentication-token-webhook-cache-ttl default
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ANONYMOUS_PATHS = ("/version", "/healthz", "/livez", "/readyz", "/.well-known/openid-configuration", "/openid/v1/jwks")

UNAUTHORIZED = ApiError(401, "Unauthorized", "Unauthorized")


class User:
    def __init__(self, username, groups, uid="", extra=None):
        self.username = username
        self.groups = groups
        self.uid = uid
        self.extra = extra or {}


def canonical_arn(arn):
    """aws-iam-authenticator's ``arn.Canonicalize``: assumed-role session ARNs become role ARNs."""
    match = re.fullmatch(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/(.+)", arn)
    if match:
        partition, account, role, _unused = match.groups()
        return f"arn:{partition}:iam::{account}:role/{role}"
    return arn


def _certificate_user(request):
    """The ``User`` of a client certificate the TLS handshake verified against the cluster CA, else None."""
    connection = request.environ.get("werkzeug.socket")
    certificate = connection.getpeercert() if hasattr(connection, "getpeercert") else None
    if not certificate:
        return None
    attributes = [attribute for rdn in certificate.get("subject", ()) for attribute in rdn]
    names = [value for key, value in attributes if key == "commonName"]
    if not names:
        return None
    groups = [value for key, value in attributes if key == "organizationName"]
    return User(names[0], groups + ["system:authenticated"])


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log(self, type, message, *args):  # noqa: A002 - werkzeug's signature
        pass


def _serialize(obj):
    """Objects in the field order the API server writes: apiVersion, kind, metadata, the rest."""
    if not isinstance(obj, dict):
        return obj
    ordered = {}
    for key in ("apiVersion", "kind", "metadata"):
        if key in obj:
            ordered[key] = obj[key]
    for key, value in obj.items():
        if key not in ordered:
            ordered[key] = value
    return ordered


class KubeCluster:
    """The Kubernetes API of one sandbox EKS cluster."""

    def __init__(self, name, region, account_id, issuer, aws_endpoint_url, log, faults, workdir):
        self.name = name
        self.region = region
        self.account_id = account_id
        self.issuer = issuer
        self.aws_endpoint_url = aws_endpoint_url.rstrip("/")
        self.log = log
        self.faults = faults
        self.workdir = workdir
        self.url = None
        self.ca_pem = None
        self.admin_token = None
        self.store = Store()
        self.kubelet = Kubelet(self)
        self._webhook_enabled = True
        self._server = None
        self._thread = None
        self._stopping = threading.Event()
        self._token_cache = {}
        self._token_cache_lock = threading.Lock()
        self.eks_tokens_seen = collections.deque(maxlen=1000)  # test only: GET /_sandbox/secrets
        self.client_keys_issued = collections.deque(maxlen=1000)  # test only: GET /_sandbox/secrets
        self._seed()

    # ------------------------------------------------------------------ lifecycle

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.admin_token = secrets.token_urlsafe(32)
        context = self._tls_context()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, ssl_context=context,
                                   request_handler=_QuietHandler)
        self._server.daemon_threads = True
        port = self._server.socket.getsockname()[1]
        self.url = f"https://127.0.0.1:{port}"
        self._install_webhook()
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"kube-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        with self.store.lock:
            self.store.changed.notify_all()
        self.kubelet.stop_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def webhook_enabled(self):
        return self._webhook_enabled

    @webhook_enabled.setter
    def webhook_enabled(self, enabled):
        self._webhook_enabled = bool(enabled)
        if self.ca_pem is not None:
            self._install_webhook()

    def _install_webhook(self):
        with self.store.lock:
            present = self.store.peek("mutatingwebhookconfigurations", "", "pod-identity-webhook") is not None
            if self._webhook_enabled and not present:
                config = admission.webhook_configuration(base64.b64encode(self.ca_pem.encode()).decode())
                self.store.new_metadata(config["metadata"])
                self.store.put("mutatingwebhookconfigurations", config, "ADDED")
            elif not self._webhook_enabled and present:
                self.store.remove("mutatingwebhookconfigurations", "", "pod-identity-webhook")

    def _seed(self):
        for namespace in PROTECTED_NAMESPACES:
            self._create_namespace_objects({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def _create_namespace_objects(self, namespace):
        meta = namespace["metadata"]
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        namespace["spec"] = {"finalizers": ["kubernetes"]}
        namespace["status"] = {"phase": "Active"}
        self.store.new_metadata(meta)
        stored = self.store.put("namespaces", namespace, "ADDED")
        # The ServiceAccount controller gives every namespace its "default" ServiceAccount.
        default_sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": meta["name"]}}
        self.store.new_metadata(default_sa["metadata"])
        self.store.put("serviceaccounts", default_sa, "ADDED")
        return stored

    def _tls_context(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                              data_encipherment=False, key_agreement=False, key_cert_sign=True,
                              crl_sign=False, encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local"]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False,
                              crl_sign=False, encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
        self._ca = (ca_cert, ca_key)
        tls_dir = os.path.join(self.workdir, "tls")
        os.makedirs(tls_dir, exist_ok=True)
        cert_path = os.path.join(tls_dir, "apiserver.crt")
        key_path = os.path.join(tls_dir, "apiserver.key")
        with open(cert_path, "wb") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_path, key_path)
        # X.509 client authentication as kube-apiserver's --client-ca-file: a certificate is optional, one signed by the
        # cluster CA authenticates its subject, any other fails the handshake.
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata=self.ca_pem)
        return context

    def issue_client_certificate(self, username, groups=(), expires_in=3600):
        """Test only: ``(certificate PEM, key PEM)`` of a client certificate signed by the cluster CA for ``username``
        (the subject's CN) in ``groups`` (its O entries), as kubeadm or a CSR approver issues them."""
        ca_cert, ca_key = self._ca
        now = datetime.datetime.now(datetime.timezone.utc)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
                            + [x509.NameAttribute(NameOID.COMMON_NAME, username)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(seconds=int(expires_in)))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        self.client_keys_issued.append(key_pem)
        return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem

    # ------------------------------------------------------------------ tokens

    def issue_token(self, namespace, service_account, audiences, expiration, pod=None, node=None):
        """A ServiceAccount token as the API server's TokenRequest issues it."""
        now = int(time.time())
        claims = {
            "aud": list(audiences),
            "exp": now + int(expiration),
            "iat": now,
            "iss": self.issuer.url,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {
                    "name": service_account["metadata"]["name"],
                    "uid": service_account["metadata"]["uid"],
                },
            },
            "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{service_account['metadata']['name']}",
        }
        if node:
            claims["kubernetes.io"]["node"] = {"name": node, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, node))}
        if pod:
            claims["kubernetes.io"]["pod"] = {"name": pod["name"], "uid": pod["uid"]}
        return self.issuer.sign(claims), now + int(expiration)

    def issue_pod_token(self, namespace, sa_name, pod_name, pod_uid, audience, expiration, node):
        service_account = self.store.get("serviceaccounts", namespace, sa_name)
        if service_account is None:
            return None
        audiences = [audience] if audience else [API_AUDIENCE]
        expiration = min(int(expiration or 3600), MAX_TOKEN_EXPIRATION)
        token, _unused = self.issue_token(namespace, service_account, audiences, expiration,
                                          pod={"name": pod_name, "uid": pod_uid}, node=node)
        return token

    # ------------------------------------------------------------------ authentication

    def _authenticate(self, request):
        """The caller as a ``User``, None for anonymous; raises 401 for bad credentials."""
        user = _certificate_user(request)
        if user is not None:  # kube-apiserver asks its x509 authenticator before the bearer token ones
            return user
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _unused, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UNAUTHORIZED
        if self.admin_token and hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return User("kubernetes-admin", ["system:masters", "system:authenticated"])
        key = hashlib.sha256(token.encode()).hexdigest()
        with self._token_cache_lock:
            cached = self._token_cache.get(key)
            if cached and cached[1] > time.time():
                return cached[0]
        if token.startswith(EKS_TOKEN_PREFIX):
            self.eks_tokens_seen.append(token)
            user, valid_until = self._verify_eks_token(token)
        else:
            user, valid_until = self._verify_service_account_token(token)
        if user is None:
            raise UNAUTHORIZED
        with self._token_cache_lock:
            now = time.time()
            self._token_cache = {k: v for k, v in self._token_cache.items() if v[1] > now}
            self._token_cache[key] = (user, min(valid_until, now + TOKEN_CACHE_SECONDS))
        return user

    def _verify_eks_token(self, token):
        """aws-iam-authenticator's ``tokenVerifier.Verify``, with the sandbox STS as the STS."""
        if len(token) > 4096:
            return None, 0
        encoded = token[len(EKS_TOKEN_PREFIX):]
        if "=" in encoded or not re.fullmatch(r"[A-Za-z0-9_-]*", encoded):
            return None, 0
        try:
            url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            parsed = urllib.parse.urlsplit(url)
        except (ValueError, UnicodeDecodeError):
            return None, 0
        sandbox = urllib.parse.urlsplit(self.aws_endpoint_url)
        if (parsed.scheme, parsed.netloc) != (sandbox.scheme, sandbox.netloc):
            if parsed.scheme != "https" or not STS_HOST.match(parsed.hostname or ""):
                return None, 0
        if parsed.path != "/":
            return None, 0
        try:
            query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            return None, 0
        params = {}
        for key, values in query.items():
            if key.lower() not in EKS_TOKEN_PARAMETERS or len(values) != 1:
                return None, 0
            params[key.lower()] = values[0]
        if params.get("action") != "GetCallerIdentity":
            return None, 0
        if "x-k8s-aws-id" not in [h.lower() for h in params.get("x-amz-signedheaders", "").split(";")]:
            return None, 0
        try:
            expires = int(params.get("x-amz-expires", ""))
        except ValueError:
            return None, 0
        if not 0 <= expires <= 900:
            return None, 0
        try:
            signed_at = datetime.datetime.strptime(params.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ")
        except ValueError:
            return None, 0
        valid_until = signed_at.replace(tzinfo=datetime.timezone.utc).timestamp() + EKS_TOKEN_LIFETIME
        if time.time() > valid_until:
            return None, 0
        target = self.aws_endpoint_url + "/?" + parsed.query
        request = urllib.request.Request(target, method="GET", headers={
            "x-k8s-aws-id": self.name, "Accept": "application/json", "Host": parsed.netloc,
        })
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=10) as response:
                body = response.read()
        except (urllib.error.URLError, OSError):
            return None, 0
        identity = _caller_identity(body)
        if not identity or not identity.get("Arn"):
            return None, 0
        arn = identity["Arn"]
        user_id, _unused, session = identity.get("UserId", "").partition(":")
        access_key = params.get("x-amz-credential", "").split("/")[0]
        extra = {
            "arn": [arn],
            "canonicalArn": [canonical_arn(arn)],
            "sessionName": [session] if session else [],
            "accessKeyId": [access_key],
            "principalId": [user_id],
        }
        extra = {key: value for key, value in extra.items() if value}
        user = User(arn if ":assumed-role/" in arn else canonical_arn(arn),
                    ["system:authenticated"], uid=f"aws-iam-authenticator:{identity.get('Account', '')}:{user_id}",
                    extra=extra)
        return user, valid_until

    def _verify_service_account_token(self, token):
        claims = self.issuer.verify(token)
        if not claims or claims.get("iss") != self.issuer.url:
            return None, 0
        now = time.time()
        if claims.get("exp", 0) < now or claims.get("nbf", 0) > now + 60:
            return None, 0
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else audiences or []
        if API_AUDIENCE not in audiences:
            return None, 0
        info = claims.get("kubernetes.io") or {}
        namespace = info.get("namespace", "")
        sa_info = info.get("serviceaccount") or {}
        service_account = self.store.get("serviceaccounts", namespace, sa_info.get("name", ""))
        if service_account is None or service_account["metadata"]["uid"] != sa_info.get("uid"):
            return None, 0
        pod_info = info.get("pod")
        if pod_info:
            pod = self.store.get("pods", namespace, pod_info.get("name", ""))
            if pod is None or pod["metadata"]["uid"] != pod_info.get("uid"):
                return None, 0
        user = User(claims["sub"], ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
                    uid=sa_info.get("uid", ""))
        return user, claims["exp"]

    # ------------------------------------------------------------------ HTTP

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except ApiError as error:
            response = self._status_response(error)
        except Exception as error:  # an emulator bug must still answer like an API server
            response = self._status_response(ApiError(500, "InternalError", f"Internal error occurred: {error}",
                                                      {"causes": [{"message": str(error)}]}))
        response.headers.setdefault("Audit-Id", str(uuid.uuid4()))
        response.headers.setdefault("Cache-Control", "no-cache, private")
        return response(environ, start_response)

    @staticmethod
    def _json(obj, status=200, headers=None):
        response = Response(json.dumps(_serialize(obj)) + "\n", status=status, mimetype="application/json")
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    def _status_response(self, error):
        return self._json(error.status(), error.code, error.headers)

    def _record(self, action, write, status, fault="", info=None):
        detail = {}
        if info and info.get("kind") == "resource":
            # The request attributes RBAC decides on: for a namespace object, its namespace is itself.
            namespace = info["namespace"] or (info["name"] if info["type"].name == "namespaces" else "")
            detail = {"api_group": info["type"].group, "namespace": namespace}
        self.log.record("kubernetes", action, write=write, status=status, fault=fault, **detail)

    def _dispatch(self, request):
        path = request.path.rstrip("/") or "/"
        info = self._parse(request, path)
        try:
            user = self._authenticate(request)
        except ApiError as error:
            self._record(info["action"], False, error.code, info=info)
            raise
        if user is None and path not in ANONYMOUS_PATHS:
            self._record(info["action"], False, 403, info=info)
            raise self._anonymous_forbidden(info, path, request)
        if info["kind"] == "discovery":
            response = self._discovery(path)
            self._record("get discovery", False, response.status_code)
            return response
        fault = None
        if self.faults is not None:
            fault = self.faults.pick("kubernetes", info["action"], conflict=self._has_target(info))
        if fault is not None and fault.kind == "conflict":
            self._write_as_another_writer(info, fault.change)
        elif fault is not None:
            error = self._fault_error(fault)
            self._record(info["action"], info["write"], error.code, fault=fault.kind, info=info)
            raise error
        injected = fault.kind if fault is not None else ""
        try:
            response = self._handle_resource(request, info, user)
        except ApiError as error:
            self._record(info["action"], False, error.code, fault=injected, info=info)
            raise
        write = info["write"] and not self._dry_run(request) and response.status_code < 300
        self._record(info["action"], write, response.status_code, fault=injected, info=info)
        return response

    def _has_target(self, info):
        """Whether the call writes an object that exists (what a ``conflict`` fault needs)."""
        return (info["verb"] in ("update", "patch", "delete") and not info["sub"]
                and self.store.get(info["type"].name, info["namespace"], info["name"]) is not None)

    def _write_as_another_writer(self, info, change):
        """A ``conflict`` fault: someone else updates the target first (``change``, a JSON merge patch)."""
        rt = info["type"]
        with self.store.lock:
            existing = self.store.get(rt.name, info["namespace"], info["name"])
            if existing is None:
                return
            updated = json_merge_patch(existing, change or {})
            updated["metadata"] = dict(updated.get("metadata") or {}, name=existing["metadata"]["name"],
                                       uid=existing["metadata"]["uid"])
            if rt.namespaced:
                updated["metadata"]["namespace"] = info["namespace"]
            self.store.put(rt.name, updated, "MODIFIED")

    @staticmethod
    def _fault_error(fault):
        if fault.kind == "throttle":
            return ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                            {"retryAfterSeconds": 1}, headers={"Retry-After": "1"})
        if fault.status == 500:
            return ApiError(500, "InternalError", "Internal error occurred: injected fault",
                            {"causes": [{"message": "injected fault"}]})
        return ApiError(fault.status or 503, "ServiceUnavailable", "the server is currently unable to handle the request")

    def _anonymous_forbidden(self, info, path, request):
        if info["kind"] != "resource":
            return ApiError(403, "Forbidden", f'forbidden: User "system:anonymous" cannot {request.method.lower()} path "{path}"', {})
        rt = info["type"]
        scope = f'in the namespace "{info["namespace"]}"' if info["namespace"] else "at the cluster scope"
        resource = rt.name + (f"/{info['sub']}" if info["sub"] else "")
        subject = f'{rt.name} "{info["name"]}"' if info["name"] else rt.name
        return ApiError(
            403, "Forbidden",
            f'{subject} is forbidden: User "system:anonymous" cannot {info["verb"]} resource "{resource}" '
            f'in API group "{rt.group}" {scope}',
            {"name": info["name"], "kind": rt.name} if info["name"] else {"kind": rt.name},
        )

    # ------------------------------------------------------------------ routing

    def _parse(self, request, path):
        """Split the URL into verb, resource type, namespace, name and subresource."""
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")] if path != "/" else []
        discovery = {"kind": "discovery", "action": "get discovery", "write": False, "namespace": "", "name": ""}
        if request.method == "GET" and (
            not parts
            or path in ANONYMOUS_PATHS
            or path.startswith("/openapi")
            or parts == ["api"] or parts == ["api", "v1"] or parts == ["apis"]
            or (parts[0] == "apis" and len(parts) in (2, 3))
        ):
            return discovery
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise _not_found_path()
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        resource = rest[0] if rest else ""
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3:
            raise _not_found_path()
        rt = RESOURCES.get((group, resource))
        if rt is None or rt.version != version or (namespace and not rt.namespaced):
            raise _not_found_path()
        if sub and sub not in rt.subresources:
            raise _not_found_path()
        watch = request.args.get("watch") in ("true", "1")
        method = request.method
        if method == "GET":
            verb = "watch" if watch else ("get" if name else "list")
        elif method == "POST":
            verb = "create"
        elif method == "PUT":
            verb = "update"
        elif method == "PATCH":
            verb = "patch"
        elif method == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})
        if (verb in ("create",) and name and not sub) or (verb in ("update", "patch") and not name):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})
        resource_name = rt.name + (f"/{sub}" if sub else "")
        write = verb in ("create", "update", "patch", "delete", "deletecollection") and sub != "token" and rt.name != "selfsubjectreviews"
        return {
            "kind": "resource", "type": rt, "verb": verb, "namespace": namespace, "name": name, "sub": sub,
            "action": f"{verb} {resource_name}", "write": write,
        }

    def _discovery(self, path):
        if path == "/version":
            return self._json(SERVER_VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return Response("ok", mimetype="text/plain")
        if path == "/.well-known/openid-configuration":
            document = dict(self.issuer.discovery())
            return self._json(document)
        if path == "/openid/v1/jwks":
            return Response(json.dumps(self.issuer.jwks()), mimetype="application/jwk-set+json")
        if path == "/openapi/v3":
            index = {}
            for key, document in openapi_v3_documents().items():
                digest = hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest().upper()
                index[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
            return self._json({"paths": index})
        if path.startswith("/openapi/v3/"):
            document = openapi_v3_documents().get(path[len("/openapi/v3/"):])
            if document is None:
                raise _not_found_path()
            return self._json(document)
        if path == "/api":
            return self._json(api_versions(self.url.split("://", 1)[1] if self.url else ""))
        if path == "/api/v1":
            return self._json(resource_list("", "v1"))
        if path == "/apis":
            return self._json(api_group_list())
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2 and parts[1] in {g for g, _unused in RESOURCES if g}:
            return self._json(api_group(parts[1]))
        if parts[0] == "apis" and len(parts) == 3 and parts[2] == "v1" and parts[1] in {g for g, _unused in RESOURCES if g}:
            return self._json(resource_list(parts[1], "v1"))
        raise _not_found_path()

    # ------------------------------------------------------------------ resource handlers

    @staticmethod
    def _dry_run(request):
        values = request.args.getlist("dryRun")
        for value in values:
            if value != "All":
                raise invalid_dry_run(value)
        return bool(values)

    def _body(self, request):
        content_type = (request.mimetype or "").lower()
        raw = request.get_data()
        if content_type == "application/vnd.kubernetes.protobuf":
            try:
                return k8s_protobuf.decode(raw)
            except ValueError as error:
                raise ApiError(415, "UnsupportedMediaType",
                               f"the body of the request was in an unknown format - accepted media types include: "
                               f"application/json, application/yaml ({error})", {})
        try:
            if content_type in ("application/apply-patch+yaml", "application/yaml"):
                return yaml.safe_load(raw.decode() or "null")
            return json.loads(raw.decode() or "null")
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request(f"the object provided is unrecognized (body could not be decoded): {error}")

    def _handle_resource(self, request, info, user):
        rt = info["type"]
        verb = info["verb"]
        sub = info["sub"]
        if rt.name == "selfsubjectreviews":
            return self._self_subject_review(user)
        if sub == "token":
            return self._token_request(request, info)
        if sub == "log":
            return self._pod_log(request, info)
        if verb == "watch":
            return self._watch(request, info)
        if verb not in rt.verbs:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})
        if verb == "get":
            return self._get(request, info)
        if verb == "list":
            return self._list(request, info)
        if verb == "create":
            return self._create(request, info)
        if verb == "update":
            return self._update(request, info, self._body(request))
        if verb == "patch":
            return self._patch(request, info)
        if verb == "delete":
            return self._delete(request, info)
        return self._delete_collection(request, info)

    def _present(self, rt, obj):
        obj = copy.deepcopy(obj)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        return obj

    def _get(self, request, info):
        rt = info["type"]
        obj = self.store.get(rt.name, info["namespace"], info["name"])
        if obj is None:
            raise not_found(rt.name, info["name"], rt.group)
        if wants_table(request.headers.get("Accept")):
            return self._json(table(rt, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                                    request.args.get("includeObject", "Metadata")))
        return self._json(self._present(rt, obj))

    def _select(self, request, info):
        rt = info["type"]
        labels = parse_label_selector(request.args.get("labelSelector", ""))
        fields = parse_field_selector(request.args.get("fieldSelector", ""), rt.field_selectors, rt.name)
        items = self.store.list(rt.name, info["namespace"] or None)
        return [o for o in items if labels_match(labels, o["metadata"].get("labels")) and fields_match(fields, o)]

    def _list(self, request, info):
        rt = info["type"]
        with self.store.lock:
            items = self._select(request, info)
            resource_version = self.store.resource_version
        meta = {"resourceVersion": resource_version}
        limit = request.args.get("limit", type=int)
        start = 0
        token = request.args.get("continue")
        if token:
            try:
                start = json.loads(base64.b64decode(token))["start"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. "
                               "You can start a new list without the continue parameter.", {})
        if limit and limit > 0:
            page = items[start:start + limit]
            if start + limit < len(items):
                meta["continue"] = base64.b64encode(json.dumps({"start": start + limit, "rv": resource_version}).encode()).decode()
                meta["remainingItemCount"] = len(items) - start - limit
            items = page
        elif start:
            items = items[start:]
        if wants_table(request.headers.get("Accept")):
            return self._json(table(rt, items, meta, request.args.get("includeObject", "Metadata")))
        for item in items:
            item.pop("apiVersion", None)
            item.pop("kind", None)
        return self._json({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items})

    def _check_namespace(self, rt, namespace, name):
        ns = self.store.get("namespaces", "", namespace)
        if ns is None:
            raise not_found("namespaces", namespace)
        if ns.get("status", {}).get("phase") == "Terminating":
            raise forbidden(rt.name, name, f"unable to create new content in namespace {namespace} because it is being terminated")
        return ns

    def _name_errors(self, rt):
        return dns1123_label_errors if rt.name == "namespaces" else dns1123_subdomain_errors

    def _create(self, request, info):
        rt = info["type"]
        obj = self._body(request)
        if not isinstance(obj, dict):
            raise bad_request("the object provided is unrecognized (body is not an object)")
        dry_run = self._dry_run(request)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        self._check_type(rt, obj)
        warnings = []
        self._field_validation(request, rt, obj, warnings)
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != info["namespace"]:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = info["namespace"]
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "generation"):
            meta.pop(key, None)
        name = meta.get("name") or meta.get("generateName", "")
        errors = metadata_errors(meta, self._name_errors(rt), rt.namespaced)
        if errors:
            raise invalid(rt.kind, name, errors, rt.group)
        with self.store.lock:
            namespace_obj = self._check_namespace(rt, info["namespace"], name) if rt.namespaced else None
            if self.store.peek(rt.name, info["namespace"], name) is not None:
                raise already_exists(rt.name, name, rt.group)
            if rt.name == "pods":
                warnings += self._admit_pod(obj, namespace_obj)
            elif rt.name == "namespaces":
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
                obj["spec"] = {"finalizers": ["kubernetes"]}
                obj["status"] = {"phase": "Active"}
            elif rt.name == "serviceaccounts":
                obj.pop("status", None)
            self.store.new_metadata(meta)
            if dry_run:
                result = omit_empty(obj)
            elif rt.name == "namespaces":
                result = self._create_namespace_objects(obj)
            else:
                result = self.store.put(rt.name, obj, "ADDED")
        if rt.name == "pods" and not dry_run:
            self.kubelet.start(result)
        return self._json(self._present(rt, result), 201, self._warning_headers(warnings))

    @staticmethod
    def _field_validation(request, rt, obj, warnings):
        """Prune unknown fields like the typed decoder; ``fieldValidation`` decides what is said."""
        unknown = prune_unknown_fields(rt.kind, obj)
        mode = request.args.get("fieldValidation", "")
        if not unknown or mode in ("", "Ignore"):
            return
        fields = ", ".join(f'unknown field "{path}"' for path in unknown)
        if mode == "Strict":
            raise bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: {fields}')
        warnings.extend(f'unknown field "{path}"' for path in unknown)

    @staticmethod
    def _warning_headers(warnings):
        return {"Warning": ", ".join('299 - ' + json.dumps(w) for w in warnings)} if warnings else None

    @staticmethod
    def _check_type(rt, obj):
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version and api_version != rt.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})")
        if kind and kind != rt.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")

    def _admit_pod(self, pod, namespace_obj):
        """Admission chain for pod creation; returns the Warning headers to send."""
        admission.default_pod(pod)
        namespace = pod["metadata"]["namespace"]
        service_account = self.store.get("serviceaccounts", namespace, pod["spec"]["serviceAccountName"])
        admission.service_account_admission(pod, service_account)
        if self._webhook_enabled:
            admission.pod_identity_webhook(pod, service_account, self.region)
        errors = admission.pod_errors(pod)
        if errors:
            raise invalid("Pod", pod["metadata"]["name"], errors)
        error, warnings = admission.pod_security(pod, namespace_obj)
        if error is not None:
            raise error
        return warnings

    def _update(self, request, info, obj):
        rt = info["type"]
        dry_run = self._dry_run(request)
        if not isinstance(obj, dict):
            raise bad_request("the object provided is unrecognized (body is not an object)")
        self._check_type(rt, obj)
        warnings = []
        self._field_validation(request, rt, obj, warnings)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        with self.store.lock:
            existing = self.store.get(rt.name, info["namespace"], info["name"])
            if existing is None:
                raise not_found(rt.name, info["name"], rt.group)
            if meta.get("name", info["name"]) != info["name"]:
                raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({info['name']})")
            meta["name"] = info["name"]
            if rt.namespaced:
                if meta.get("namespace") and meta["namespace"] != info["namespace"]:
                    raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
                meta["namespace"] = info["namespace"]
            current_rv = existing["metadata"]["resourceVersion"]
            if meta.get("resourceVersion") and meta["resourceVersion"] != current_rv:
                raise conflict(rt.name, info["name"], rt.group)
            if meta.get("uid") and meta["uid"] != existing["metadata"]["uid"]:
                raise conflict(rt.name, info["name"], rt.group)
            for key in ("uid", "creationTimestamp", "deletionTimestamp", "generateName"):
                if key in existing["metadata"]:
                    meta[key] = existing["metadata"][key]
                else:
                    meta.pop(key, None)
            meta["resourceVersion"] = current_rv
            meta.pop("managedFields", None)
            errors = metadata_errors(meta, self._name_errors(rt), rt.namespaced)
            if rt.name == "pods":
                obj["status"] = existing.get("status", {})
                errors += _pod_update_errors(existing, obj)
            elif rt.name == "namespaces":
                obj["status"] = existing.get("status", {})
                obj["spec"] = existing.get("spec", {})
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = info["name"]
            if errors:
                raise invalid(rt.kind, info["name"], errors, rt.group)
            obj.pop("apiVersion", None)
            obj.pop("kind", None)
            omit_empty(obj)
            if strip_for_compare(obj) == strip_for_compare(existing) or dry_run:
                result = obj if dry_run else existing
            else:
                result = self.store.put(rt.name, obj, "MODIFIED")
        return self._json(self._present(rt, result), headers=self._warning_headers(warnings))

    def _patch(self, request, info):
        rt = info["type"]
        content_type = (request.mimetype or "").lower()
        patchers = {
            "application/json-patch+json": json_patch,
            "application/merge-patch+json": json_merge_patch,
            "application/strategic-merge-patch+json": strategic_merge_patch,
            "application/apply-patch+yaml": apply_patch,
        }
        if content_type not in patchers:
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
                           "application/strategic-merge-patch+json", {})
        patch = self._body(request)
        is_apply = content_type == "application/apply-patch+yaml"
        if is_apply:
            if not request.args.get("fieldManager"):
                raise bad_request("PATCH " + request.path + ": fieldManager is required for apply requests")
            if not isinstance(patch, dict):
                raise bad_request("error decoding YAML: the object provided is unrecognized")
            self._check_type(rt, patch)
        elif content_type != "application/json-patch+json" and not isinstance(patch, dict):
            raise bad_request("the object provided is unrecognized (body is not an object)")
        with self.store.lock:
            existing = self.store.get(rt.name, info["namespace"], info["name"])
            if existing is None:
                if is_apply:
                    return self._create_from_apply(request, info, patch)
                raise not_found(rt.name, info["name"], rt.group)
            current = self._present(rt, existing)
            try:
                patched = patchers[content_type](current, patch)
            except ApiError:
                raise
            except (TypeError, AttributeError, ValueError) as error:
                raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {error}", {})
            if not isinstance(patched, dict):
                raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})
            patched_meta = patched.get("metadata") or {}
            if patched_meta.get("resourceVersion") and patched_meta["resourceVersion"] != existing["metadata"]["resourceVersion"]:
                raise conflict(rt.name, info["name"], rt.group)
            return self._update(request, info, patched)

    def _create_from_apply(self, request, info, obj):
        rt = info["type"]
        meta = obj.setdefault("metadata", {})
        if meta.get("name", info["name"]) != info["name"]:
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({info['name']})")
        meta["name"] = info["name"]
        body = json.dumps(obj).encode()
        environ = dict(request.environ)
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = __import__("io").BytesIO(body)
        return self._create(Request(environ), dict(info, name=""))

    def _delete(self, request, info):
        rt = info["type"]
        dry_run = self._dry_run(request)
        options = {}
        if request.get_data():
            options = self._body(request) or {}
            if not isinstance(options, dict):
                raise bad_request("the object provided is unrecognized (DeleteOptions is not an object)")
        if "dryRun" in options and options["dryRun"]:
            dry_run = True
        with self.store.lock:
            existing = self.store.get(rt.name, info["namespace"], info["name"])
            if existing is None:
                raise not_found(rt.name, info["name"], rt.group)
            preconditions = options.get("preconditions") or {}
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != existing["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on {rt.name} \"{info['name']}\": "
                               f"the ResourceVersion in the precondition ({preconditions['resourceVersion']}) does not match "
                               f"the ResourceVersion in record ({existing['metadata']['resourceVersion']}). "
                               "The object might have been modified", {"name": info["name"], "kind": rt.name})
            if preconditions.get("uid") and preconditions["uid"] != existing["metadata"]["uid"]:
                raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on {rt.name} \"{info['name']}\": "
                               f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                               f"UID in object meta: {existing['metadata']['uid']}", {"name": info["name"], "kind": rt.name})
            if rt.name == "namespaces" and info["name"] in PROTECTED_NAMESPACES:
                raise forbidden("namespaces", info["name"], "this namespace may not be deleted")
            if dry_run:
                return self._json(self._present(rt, existing))
            result = self._remove(rt, existing)
        return self._json(self._present(rt, result))

    def _remove(self, rt, existing):
        """Delete one stored object; returns the object as the DELETE response shows it."""
        meta = existing["metadata"]
        if rt.name == "namespaces":
            for resource in ("pods", "serviceaccounts", "events"):
                for obj in self.store.list(resource, meta["name"]):
                    self._remove(RESOURCES[("", resource)], obj)
            removed = self.store.remove("namespaces", "", meta["name"])
            removed["metadata"]["deletionTimestamp"] = now_rfc3339()
            removed["status"] = {"phase": "Terminating"}
            return removed
        removed = self.store.remove(rt.name, meta.get("namespace", ""), meta["name"])
        if rt.name == "pods":
            self.kubelet.stop(meta["uid"])
            grace = removed["spec"].get("terminationGracePeriodSeconds", 30)
            removed["metadata"]["deletionTimestamp"] = now_rfc3339()
            removed["metadata"]["deletionGracePeriodSeconds"] = grace
        return removed

    def _delete_collection(self, request, info):
        rt = info["type"]
        dry_run = self._dry_run(request)
        with self.store.lock:
            items = self._select(request, info)
            deleted = []
            for obj in items:
                if rt.name == "namespaces" and obj["metadata"]["name"] in PROTECTED_NAMESPACES:
                    continue
                deleted.append(obj if dry_run else self._remove(rt, obj))
            resource_version = self.store.resource_version
        return self._json({"kind": rt.list_kind, "apiVersion": rt.api_version,
                           "metadata": {"resourceVersion": resource_version}, "items": deleted})

    # ------------------------------------------------------------------ subresources

    def _token_request(self, request, info):
        body = self._body(request) or {}
        if not isinstance(body, dict):
            raise bad_request("the object provided is unrecognized (body is not an object)")
        spec = body.get("spec") or {}
        audiences = spec.get("audiences") or [API_AUDIENCE]
        expiration = spec.get("expirationSeconds")
        expiration = 3600 if expiration is None else expiration
        name = info["name"]
        errors = []
        if not isinstance(expiration, int) or expiration < 600:
            errors.append(FieldError("Invalid", "spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes"))
        elif expiration > 2 ** 32:
            errors.append(FieldError("TooLong", "spec.expirationSeconds", expiration, "may not specify a duration larger than 2^32 seconds"))
        if errors:
            raise invalid("TokenRequest", name, errors, "authentication.k8s.io")
        service_account = self.store.get("serviceaccounts", info["namespace"], name)
        if service_account is None:
            raise not_found("serviceaccounts", name)
        bound = spec.get("boundObjectRef")
        pod = None
        if bound:
            if bound.get("kind") != "Pod":
                raise invalid("TokenRequest", name, [FieldError(
                    "Invalid", "spec.boundObjectRef.kind", bound.get("kind"),
                    "this sandbox binds tokens to pods only")], "authentication.k8s.io")
            pod_obj = self.store.get("pods", info["namespace"], bound.get("name", ""))
            if pod_obj is None:
                raise not_found("pods", bound.get("name", ""))
            if bound.get("uid") and bound["uid"] != pod_obj["metadata"]["uid"]:
                raise conflict("pods", bound.get("name", ""))
            if pod_obj["spec"].get("serviceAccountName") != name:
                raise bad_request(f'cannot bind token for serviceaccount "{name}" to pod running with different serviceaccount name.')
            pod = {"name": pod_obj["metadata"]["name"], "uid": pod_obj["metadata"]["uid"]}
            bound = {"kind": "Pod", "apiVersion": "v1", "name": pod["name"], "uid": pod["uid"]}
        effective = min(expiration, MAX_TOKEN_EXPIRATION)
        token, expires_at = self.issue_token(info["namespace"], service_account, audiences, effective, pod=pod,
                                             node=self.kubelet.node_name if pod else None)
        result = {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": info["namespace"], "creationTimestamp": None},
            "spec": {"audiences": audiences, "expirationSeconds": effective, "boundObjectRef": bound},
            "status": {
                "token": token,
                "expirationTimestamp": datetime.datetime.fromtimestamp(expires_at, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }
        return self._json(result, 201)

    def _self_subject_review(self, user):
        user_info = {"username": user.username, "groups": user.groups}
        if user.uid:
            user_info["uid"] = user.uid
        if user.extra:
            user_info["extra"] = user.extra
        return self._json({
            "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": now_rfc3339()}, "status": {"userInfo": user_info},
        }, 201)

    def _pod_log(self, request, info):
        name = info["name"]
        pod = self.store.get("pods", info["namespace"], name)
        if pod is None:
            raise not_found("pods", name)
        containers = [c["name"] for c in pod["spec"].get("containers", [])]
        init_containers = [c["name"] for c in pod["spec"].get("initContainers") or []]
        container = request.args.get("container")
        if not container:
            if len(containers) != 1:
                message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
                if init_containers:
                    message += f" or one of the init containers: [{' '.join(init_containers)}]"
                raise bad_request(message)
            container = containers[0]
        if container not in containers + init_containers:
            raise bad_request(f"container {container} is not valid for pod {name}")
        if not pod["spec"].get("nodeName"):
            raise bad_request(f"pod {name} does not have a host assigned")
        statuses = (pod["status"].get("containerStatuses") or []) + (pod["status"].get("initContainerStatuses") or [])
        status = next((s for s in statuses if s["name"] == container), None)
        previous = request.args.get("previous") in ("true", "1")
        if previous:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        waiting = (status or {}).get("state", {}).get("waiting")
        if status is None or (waiting and status.get("restartCount", 0) == 0):
            reason = (waiting or {}).get("reason", "ContainerCreating")
            raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
        uid = pod["metadata"]["uid"]
        timestamps = request.args.get("timestamps") in ("true", "1")
        tail = request.args.get("tailLines", type=int)
        since = request.args.get("sinceSeconds", type=int)
        limit = request.args.get("limitBytes", type=int)

        def render(lines):
            if since:
                cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=since)
                lines = [(ts, line) for ts, line in lines if ts >= cutoff.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")]
            if tail is not None and tail >= 0:
                lines = lines[-tail:] if tail else []
            return "".join((f"{ts} {line}\n" if timestamps else f"{line}\n") for ts, line in lines)

        if request.args.get("follow") not in ("true", "1"):
            text = render(self.kubelet.log_lines(uid, container))
            if limit:
                text = text.encode()[:limit].decode(errors="ignore")
            return Response(text, mimetype="text/plain")

        def follow():
            yield b""
            sent = 0
            first = True
            while not self._stopping.is_set():
                lines = self.kubelet.log_lines(uid, container)
                if first:
                    chunk = render(lines)
                    first = False
                else:
                    chunk = "".join((f"{ts} {line}\n" if timestamps else f"{line}\n") for ts, line in lines[sent:])
                sent = len(lines)
                if chunk:
                    yield chunk.encode()
                current = self.store.get("pods", info["namespace"], name)
                if current is None or current["metadata"]["uid"] != uid:
                    return
                statuses = (current["status"].get("containerStatuses") or []) + (current["status"].get("initContainerStatuses") or [])
                state = next((s for s in statuses if s["name"] == container), {}).get("state", {})
                if "running" not in state and sent == len(self.kubelet.log_lines(uid, container)):
                    return
                time.sleep(0.2)

        return Response(follow(), mimetype="text/plain", direct_passthrough=True)

    # ------------------------------------------------------------------ watch

    def _watch(self, request, info):
        rt = info["type"]
        labels = parse_label_selector(request.args.get("labelSelector", ""))
        fields = parse_field_selector(request.args.get("fieldSelector", ""), rt.field_selectors, rt.name)
        name = info["name"]
        namespace = info["namespace"]
        timeout = request.args.get("timeoutSeconds", type=int) or 1800
        rv_param = request.args.get("resourceVersion", "")
        as_table = wants_table(request.headers.get("Accept"))

        def matches(obj):
            meta = obj["metadata"]
            return ((not namespace or meta.get("namespace") == namespace) and (not name or meta["name"] == name)
                    and labels_match(labels, meta.get("labels")) and fields_match(fields, obj))

        def encode(kind, obj):
            if as_table:
                obj = table(rt, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                            request.args.get("includeObject", "Metadata"))
            else:
                obj = self._present(rt, obj)
            return (json.dumps({"type": kind, "object": _serialize(obj)}) + "\n").encode()

        with self.store.lock:
            if rv_param in ("", "0"):
                initial = [o for o in self.store.list(rt.name, namespace or None) if matches(o)]
                last = int(self.store.resource_version)
            else:
                try:
                    last = int(rv_param)
                except ValueError:
                    raise bad_request(f'resourceVersion: Invalid value: "{rv_param}": must be a number')
                initial = []
                if self.store.events_since(last) is None:
                    initial = None

        def stream():
            nonlocal last
            yield b""  # sends the response headers now, as the API server does before any event
            if initial is None:
                gone = ApiError(410, "Expired", f"too old resource version: {rv_param} ({self.store.resource_version})")
                yield (json.dumps({"type": "ERROR", "object": gone.status()}) + "\n").encode()
                return
            for obj in initial:
                yield encode("ADDED", obj)
            deadline = time.monotonic() + timeout
            while not self._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                with self.store.lock:
                    events = self.store.events_since(last)
                    if events is not None and not events:
                        self.store.changed.wait(min(remaining, 1.0))
                        events = self.store.events_since(last)
                if events is None:
                    return
                for event in events:
                    last = event.rv
                    if event.resource == rt.name and matches(event.obj):
                        yield encode(event.type, event.obj)

        return Response(stream(), mimetype="application/json", direct_passthrough=True)

    # ------------------------------------------------------------------ used by the kubelet

    def update_pod(self, namespace, name, uid, mutate):
        with self.store.lock:
            pod = self.store.get("pods", namespace, name)
            if pod is None or pod["metadata"]["uid"] != uid:
                return None
            mutate(pod)
            return self.store.put("pods", pod, "MODIFIED")

    def record_event(self, namespace, pod_name, pod_uid, reason, message, kind, field_path, component, node):
        now = now_rfc3339()
        with self.store.lock:
            pod = self.store.peek("pods", namespace, pod_name)
            if pod is None or pod["metadata"]["uid"] != pod_uid:
                return
            involved = {"kind": "Pod", "namespace": namespace, "name": pod_name, "uid": pod_uid,
                        "apiVersion": "v1", "resourceVersion": pod["metadata"]["resourceVersion"]}
            if field_path:
                involved["fieldPath"] = field_path
            event = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{pod_name}.{time.time_ns():x}", "namespace": namespace},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "source": {"component": component, "host": node} if component == "kubelet" else {},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "type": kind,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": node if component == "kubelet" else "",
            }
            self.store.new_metadata(event["metadata"])
            self.store.put("events", event, "ADDED")


def _not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def invalid_dry_run(value):
    return ApiError(400, "BadRequest", f'dryRun: Unsupported value: "{value}": supported values: "All"')


def _caller_identity(body):
    """``GetCallerIdentityResult`` from a JSON (or, failing that, XML) STS answer."""
    try:
        document = json.loads(body)
        return document["GetCallerIdentityResponse"]["GetCallerIdentityResult"]
    except (ValueError, KeyError, TypeError):
        pass
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    result = {}
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("Arn", "Account", "UserId"):
            result[tag] = (element.text or "").strip()
    return result or None


def _pod_update_errors(existing, updated):
    """Pods are immutable except images, activeDeadlineSeconds and added tolerations."""
    def mutable_view(spec):
        spec = copy.deepcopy(spec)
        for list_name in ("containers", "initContainers"):
            for container in spec.get(list_name) or []:
                container.pop("image", None)
        spec.pop("activeDeadlineSeconds", None)
        spec.pop("tolerations", None)
        return spec

    if mutable_view(existing.get("spec", {})) != mutable_view(updated.get("spec", {})):
        return [FieldError(
            "Forbidden", "spec",
            detail="pod updates may not change fields other than `spec.containers[*].image`,"
            "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
            "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
            "(allow it to be set to 1 if it was previously negative)",
        )]
    return []
