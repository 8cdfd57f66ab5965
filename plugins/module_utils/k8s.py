# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Kubernetes connection of eks.irsa: kubernetes.core's options, plus an EKS mode with AWS credentials only.

Where the connection comes from, first match wins:

1. ``host`` given to the task (with ``api_key`` or client certificates);
2. ``kubeconfig`` and/or ``context`` given to the task;
3. EKS mode: ``cluster_name`` given to the task; the endpoint and CA come from ``eks:DescribeCluster`` and
   the bearer token is made in-process as ``aws eks get-token`` makes it (``k8s-aws-v1.`` + base64url of a
   presigned STS GetCallerIdentity URL carrying the signed header ``x-k8s-aws-id: <cluster>``), renewed
   before its 15 minutes run out;
4. the ``K8S_AUTH_*`` environment variables of kubernetes.core (``K8S_AUTH_HOST``, ``K8S_AUTH_API_KEY``,
   ``K8S_AUTH_KUBECONFIG``, ``K8S_AUTH_CONTEXT``, ...);
5. the default kubeconfig (``KUBECONFIG`` or ``~/.kube/config``), else the in-cluster ServiceAccount.

The API is spoken with urllib3 (already there for botocore) instead of the kubernetes Python client,
whose API classes alone take about a second to import on each module run. Kubeconfig users may authenticate with a token,
a token file, client certificates or an exec plugin (``aws eks get-token`` among them).

Errors are ``KubernetesError`` with a message that says what failed, why and how to fix it: a 401 names
the identity that was refused (in EKS mode after asking AWS whether it accepts the credentials at all, so
that a wrong secret key or an expired session token is not taken for a missing access entry), a 403 the
verb and resource that identity lacks. Tokens never appear in messages.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time
from urllib.parse import quote, urlencode

from ansible.module_utils.common.text.converters import to_native

try:
    import urllib3
except ImportError:  # pragma: no cover - urllib3 comes with botocore, which the modules require
    urllib3 = None

EKS_TOKEN_PREFIX = "k8s-aws-v1."
# The presigned URL inside an EKS token says X-Amz-Expires=60. The authenticator accepts tokens for up to
# 15 minutes, but signing one is local and cheap, so a token is renewed before its own 60 seconds run out.
EKS_TOKEN_RENEW_AFTER = 45
CLUSTER_ID_HEADER = "x-k8s-aws-id"
RETRIABLE_STATUSES = (429, 500, 502, 503, 504)
MAX_ATTEMPTS = 6
IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
IN_CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


class KubernetesError(Exception):
    """A Kubernetes API failure; ``status`` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, message, status=0, reason=""):
        super().__init__(message)
        self.status = status
        self.reason = reason


def hide_kubeconfig_secrets(module):
    """Register the secrets of a kubeconfig given as a dict as no_log values, before anything can print them.

    A kubeconfig path is harmless to log; a kubeconfig dict carries tokens and keys (kubernetes.core marks the
    whole option no_log, which would hide the path too).
    """
    config = module.params.get("kubeconfig")
    if not isinstance(config, dict):
        return
    for entry in config.get("users") or []:
        user = (entry or {}).get("user") or {}
        for key in ("token", "password", "client-key-data", "client-certificate-data"):
            if user.get(key):
                module.no_log_values.add(str(user[key]))


def k8s_argument_spec():
    """The Kubernetes connection options (doc fragment ``eks.irsa.k8s_auth``).

    No ``env_fallback`` here: the ``K8S_AUTH_*`` variables come after EKS mode in the precedence, so they are
    read when the connection is resolved.
    """
    return dict(
        cluster_name=dict(type="str"),
        kubeconfig=dict(type="raw"),
        context=dict(type="str"),
        host=dict(type="str"),
        api_key=dict(type="str", no_log=True),
        ca_cert=dict(type="path", aliases=["ssl_ca_cert"]),
        client_cert=dict(type="path", aliases=["cert_file"]),
        client_key=dict(type="path", aliases=["key_file"], no_log=False),
        proxy=dict(type="str"),
        k8s_validate_certs=dict(type="bool", aliases=["k8s_verify_ssl"]),
        impersonate_user=dict(type="str"),
        impersonate_groups=dict(type="list", elements="str"),
    )


# --- the EKS token ----------------------------------------------------------------------------------


def eks_token(sts_client, cluster_name):
    """``k8s-aws-v1.`` + base64url (no padding) of a presigned GetCallerIdentity URL for ``cluster_name``."""

    def add_cluster_header(request, **_kwargs):
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    event = "before-sign.sts.GetCallerIdentity"
    sts_client.meta.events.register(event, add_cluster_header)
    try:
        url = sts_client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    finally:
        sts_client.meta.events.unregister(event, add_cluster_header)
    return EKS_TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")


# --- kubeconfig ---------------------------------------------------------------------------------------


def _load_kubeconfig(source):
    if isinstance(source, dict):
        return source, os.getcwd()
    import yaml  # pylint: disable=import-outside-toplevel

    paths = [path for path in str(source).split(os.pathsep) if path]
    path = os.path.expanduser(paths[0]) if paths else ""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}, os.path.dirname(os.path.abspath(path))
    except OSError as e:
        raise KubernetesError(
            "Cannot read the kubeconfig {0}: {1}. Give the path of an existing kubeconfig (kubeconfig option or "
            "K8S_AUTH_KUBECONFIG), or use cluster_name for EKS mode".format(path, e.strerror)
        ) from None
    except yaml.YAMLError as e:
        raise KubernetesError("The kubeconfig {0} is not valid YAML: {1}".format(path, e)) from None


def _named(config, kind, name):
    for entry in config.get(kind + "s") or []:
        if entry.get("name") == name:
            return entry.get(kind) or {}
    return None


def _data_or_file(section, key, base_dir):
    """(pem bytes or None) from ``<key>-data`` (base64) or ``<key>`` (a path relative to the kubeconfig)."""
    if section.get(key + "-data"):
        return base64.b64decode(section[key + "-data"])
    if section.get(key):
        path = section[key]
        if not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        with open(path, "rb") as handle:
            return handle.read()
    return None


def _run_exec_plugin(spec, cluster_name):
    """Run a kubeconfig exec credential plugin; return its ExecCredential status."""
    command = [spec.get("command")] + list(spec.get("args") or [])
    env = dict(os.environ)
    for item in spec.get("env") or []:
        env[item.get("name")] = item.get("value", "")
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    except OSError as e:
        raise KubernetesError(
            "The kubeconfig's credential plugin {0!r} could not run: {1}. Install it, or use cluster_name for EKS mode, "
            "which needs no plugin".format(spec.get("command"), e.strerror)
        ) from None
    if result.returncode != 0:
        raise KubernetesError(
            "The kubeconfig's credential plugin {0!r} failed for cluster {1}: {2}".format(
                spec.get("command"), cluster_name, (result.stderr or result.stdout).strip()[-500:]
            )
        )
    try:
        return json.loads(result.stdout).get("status") or {}
    except ValueError:
        raise KubernetesError("The kubeconfig's credential plugin {0!r} printed no ExecCredential JSON".format(spec.get("command"))) from None


class Connection:
    """Where the API is and how to authenticate: host, CA, credentials, TLS and proxy settings."""

    def __init__(self, host, ca_pem=None, token=None, token_source=None, client_cert=None, client_key=None,
                 verify=True, proxy=None, identity="", impersonate_user=None, impersonate_groups=None, mode=""):
        self.host = host.rstrip("/")
        self.ca_pem = ca_pem
        self._token = token
        self._token_source = token_source  # callable returning a fresh token (EKS mode, exec plugins)
        self._token_time = time.monotonic() if token else 0.0
        self.client_cert = client_cert
        self.client_key = client_key
        self.verify = verify
        self.proxy = proxy
        self.identity = identity
        self.impersonate_user = impersonate_user
        self.impersonate_groups = impersonate_groups or []
        self.mode = mode
        self._lock = threading.Lock()

    def token(self):
        if self._token_source is None:
            return self._token
        with self._lock:
            if self._token is None or time.monotonic() - self._token_time > EKS_TOKEN_RENEW_AFTER:
                self._token = self._token_source()
                self._token_time = time.monotonic()
            return self._token


def resolve_connection(module, params=None, environ=None):
    """The ``Connection`` of a module run, following the precedence in this file's docstring."""
    params = module.params if params is None else params
    environ = os.environ if environ is None else environ
    verify = params.get("k8s_validate_certs")
    groups = environ.get("K8S_AUTH_IMPERSONATE_GROUPS")
    common = dict(
        proxy=params.get("proxy") or environ.get("K8S_AUTH_PROXY"),
        impersonate_user=params.get("impersonate_user") or environ.get("K8S_AUTH_IMPERSONATE_USER"),
        impersonate_groups=params.get("impersonate_groups") or ([g.strip() for g in groups.split(",") if g.strip()] if groups else None),
    )
    if params.get("host"):
        return _explicit(params.get("host"), params.get("api_key"), params.get("ca_cert"), params.get("client_cert"),
                         params.get("client_key"), verify, common, "the host option")
    if params.get("kubeconfig") or params.get("context"):
        source = params.get("kubeconfig") or environ.get("K8S_AUTH_KUBECONFIG") or _default_kubeconfig(environ)
        return _from_kubeconfig(source, params.get("context"), verify, common)
    if params.get("cluster_name"):
        return _eks(module, params["cluster_name"], verify, common)
    if environ.get("K8S_AUTH_HOST"):
        return _explicit(environ["K8S_AUTH_HOST"], environ.get("K8S_AUTH_API_KEY"), environ.get("K8S_AUTH_SSL_CA_CERT"),
                         environ.get("K8S_AUTH_CERT_FILE"), environ.get("K8S_AUTH_KEY_FILE"),
                         verify if verify is not None else _env_bool(environ.get("K8S_AUTH_VERIFY_SSL")), common, "K8S_AUTH_HOST")
    if environ.get("K8S_AUTH_KUBECONFIG") or environ.get("K8S_AUTH_CONTEXT"):
        return _from_kubeconfig(environ.get("K8S_AUTH_KUBECONFIG") or _default_kubeconfig(environ),
                                environ.get("K8S_AUTH_CONTEXT"), verify, common)
    default = _default_kubeconfig(environ)
    if os.path.exists(os.path.expanduser(default.split(os.pathsep)[0])):
        return _from_kubeconfig(default, None, verify, common)
    if os.path.exists(IN_CLUSTER_TOKEN) and environ.get("KUBERNETES_SERVICE_HOST"):
        with open(IN_CLUSTER_TOKEN, encoding="utf-8") as handle:
            token = handle.read().strip()
        host = "https://{0}:{1}".format(environ["KUBERNETES_SERVICE_HOST"], environ.get("KUBERNETES_SERVICE_PORT", "443"))
        with open(IN_CLUSTER_CA, encoding="utf-8") as handle:
            ca_pem = handle.read()
        return Connection(host, ca_pem=ca_pem, token=token, verify=True if verify is None else verify,
                          identity="the pod's ServiceAccount", mode="in-cluster", **common)
    raise KubernetesError(
        "No Kubernetes connection: give cluster_name (EKS mode, AWS credentials only), or kubeconfig/context, or host "
        "with api_key; no kubeconfig was found at {0} and this is not a pod".format(default)
    )


def _env_bool(value):
    if value is None:
        return None
    return str(value).lower() in ("1", "true", "yes", "on")


def _default_kubeconfig(environ):
    return environ.get("KUBECONFIG") or os.path.join("~", ".kube", "config")


def _read_optional(path):
    if not path:
        return None
    with open(os.path.expanduser(path), "rb") as handle:
        return handle.read()


def _explicit(host, api_key, ca_cert, client_cert, client_key, verify, common, where):
    try:
        ca_pem = _read_optional(ca_cert)
        return Connection(host, ca_pem=ca_pem.decode("utf-8") if ca_pem else None, token=api_key,
                          client_cert=_read_optional(client_cert), client_key=_read_optional(client_key),
                          verify=True if verify is None else verify, identity=_explicit_identity(api_key, client_cert),
                          mode=where, **common)
    except OSError as e:
        raise KubernetesError("Cannot read {0}: {1}".format(e.filename, e.strerror)) from None


def _explicit_identity(api_key, client_cert):
    if api_key:
        return "the api_key given"
    if client_cert:
        return "the client certificate given"
    return "an anonymous client (no api_key or client certificate was given; use api_key, a kubeconfig or cluster_name)"


def _from_kubeconfig(source, context_name, verify, common):
    config, base_dir = _load_kubeconfig(source)
    where = "the kubeconfig given" if isinstance(source, dict) else "kubeconfig {0}".format(source)
    context_name = context_name or config.get("current-context")
    context = _named(config, "context", context_name)
    if context is None:
        known = ", ".join(entry.get("name", "?") for entry in config.get("contexts") or []) or "none"
        raise KubernetesError("Context {0!r} is not in {1} (contexts: {2}): set context to one of them".format(context_name, where, known))
    cluster = _named(config, "cluster", context.get("cluster"))
    if cluster is None or not cluster.get("server"):
        raise KubernetesError("Context {0!r} of {1} names cluster {2!r}, which has no server".format(context_name, where, context.get("cluster")))
    user = _named(config, "user", context.get("user")) or {}
    try:
        ca = _data_or_file(cluster, "certificate-authority", base_dir)
        client_cert = _data_or_file(user, "client-certificate", base_dir)
        client_key = _data_or_file(user, "client-key", base_dir)
    except OSError as e:
        raise KubernetesError("Cannot read {0} named by {1}: {2}".format(e.filename, where, e.strerror)) from None
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token_path = user["tokenFile"] if os.path.isabs(user["tokenFile"]) else os.path.join(base_dir, user["tokenFile"])
        with open(token_path, encoding="utf-8") as handle:
            token = handle.read().strip()
    if not token and user.get("exec"):
        spec = user["exec"]

        def token_source_fn():
            return _run_exec_plugin(spec, context.get("cluster")).get("token")

    else:
        token_source_fn = None
    if verify is None:
        verify = not cluster.get("insecure-skip-tls-verify", False)
    return Connection(cluster["server"], ca_pem=ca.decode("utf-8") if ca else None, token=token, token_source=token_source_fn,
                      client_cert=client_cert, client_key=client_key, verify=verify,
                      identity="user {0!r} of context {1!r} in {2}".format(context.get("user"), context_name, where),
                      mode="kubeconfig", **common)


def _eks(module, cluster_name, verify, common):
    from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSError  # pylint: disable=import-outside-toplevel
    from ansible_collections.eks.irsa.plugins.module_utils.aws import describe_error  # pylint: disable=import-outside-toplevel
    from ansible_collections.eks.irsa.plugins.module_utils.aws import lookup_cluster  # pylint: disable=import-outside-toplevel

    if not module.region:
        raise KubernetesError("EKS mode needs the cluster's region: set the region option or AWS_REGION")
    try:
        cluster = lookup_cluster(module.client("eks"), cluster_name, module.region)
    except IrsaAWSError as e:
        raise KubernetesError(describe_error(e, module.params)) from None
    endpoint = cluster.get("endpoint")
    if not endpoint:
        raise KubernetesError(
            "EKS cluster {0!r} has no API endpoint yet (status {1}): wait until it is ACTIVE".format(cluster_name, cluster.get("status"))
        )
    ca_data = (cluster.get("certificateAuthority") or {}).get("data")
    sts = module.client("sts")

    def token_source():
        return eks_token(sts, cluster_name)

    return Connection(endpoint, ca_pem=base64.b64decode(ca_data).decode("utf-8") if ca_data else None, token_source=token_source,
                      verify=True if verify is None else verify,
                      identity="the AWS identity of this task (EKS mode, cluster {0})".format(cluster_name), mode="eks", **common)


# --- the API ------------------------------------------------------------------------------------------


class KubernetesAPI:
    """A few Kubernetes API calls as plain dicts, with retries on 429/5xx and clear errors."""

    def __init__(self, connection, aws_identity=None):
        if urllib3 is None:
            raise KubernetesError("The Python library urllib3 is missing: install botocore (pip install botocore)")
        self.connection = connection
        self._aws_identity = aws_identity  # callable naming the AWS caller, for 401/403 messages in EKS mode
        self._tempdir = None
        self._pool = self._make_pool()

    def _make_pool(self):
        connection = self.connection
        context = ssl.create_default_context(cadata=connection.ca_pem) if connection.ca_pem else ssl.create_default_context()
        if not connection.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if connection.client_cert and connection.client_key:
            # ssl loads certificates only from files: keep them in a private directory removed with this object.
            self._tempdir = tempfile.TemporaryDirectory(prefix="eks-irsa-")
            cert_path = os.path.join(self._tempdir.name, "client.crt")
            key_path = os.path.join(self._tempdir.name, "client.key")
            for path, data in ((cert_path, connection.client_cert), (key_path, connection.client_key)):
                with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                    handle.write(data)
            context.load_cert_chain(cert_path, key_path)
        # Keep as many connections as irsa_verify runs bindings concurrently (its max_concurrency default).
        options = dict(ssl_context=context, retries=False, timeout=urllib3.Timeout(connect=10, read=60), maxsize=10)
        if connection.proxy:
            return urllib3.ProxyManager(connection.proxy, **options)
        return urllib3.PoolManager(**options)

    def close(self):
        self._pool.clear()
        if self._tempdir is not None:
            self._tempdir.cleanup()

    # ----- transport ---------------------------------------------------------------------------

    def request(self, method, path, query=None, body=None, content_type="application/json", accept="application/json",
                not_found=False, what=""):
        """Send one request; return the decoded JSON (or text for non-JSON answers).

        ``not_found=True`` turns a 404 into ``None``. ``what`` names the object for messages
        (``serviceaccount default/app``).
        """
        url = self.connection.host + path
        if query:
            url += "?" + urlencode(query)
        headers = {"Accept": accept, "User-Agent": "eks.irsa"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = content_type
        if self.connection.impersonate_user:
            headers["Impersonate-User"] = self.connection.impersonate_user
        delay = 0.5
        for attempt in range(1, MAX_ATTEMPTS + 1):
            token = self.connection.token()
            if token:
                headers["Authorization"] = "Bearer " + token
            try:
                response = self._pool.request(method, url, body=data, headers=self._with_groups(headers))
            except urllib3.exceptions.SSLError as e:
                raise KubernetesError(
                    "TLS to the Kubernetes API at {0} failed: {1}. Check the cluster CA (ca_cert, the kubeconfig's "
                    "certificate-authority, or EKS mode's CA); k8s_validate_certs=false skips the check".format(
                        self.connection.host, _reason(e))
                ) from None
            except urllib3.exceptions.HTTPError as e:
                if attempt < MAX_ATTEMPTS:
                    time.sleep(delay)
                    delay = min(delay * 2, 8)
                    continue
                raise KubernetesError(
                    "Cannot reach the Kubernetes API at {0}: {1}. Check the endpoint, the network path and the proxy "
                    "option".format(self.connection.host, _reason(e))
                ) from None
            if response.status in RETRIABLE_STATUSES and attempt < MAX_ATTEMPTS:
                retry_after = response.headers.get("Retry-After")
                time.sleep(min(float(retry_after), 10) if retry_after and retry_after.isdigit() else delay)
                delay = min(delay * 2, 8)
                continue
            return self._answer(response, method, path, not_found, what)
        raise KubernetesError("The Kubernetes API kept failing for {0} {1}".format(method, path))  # pragma: no cover

    def _with_groups(self, headers):
        if not self.connection.impersonate_groups:
            return headers
        merged = urllib3.HTTPHeaderDict(headers)
        for group in self.connection.impersonate_groups:
            merged.add("Impersonate-Group", group)  # one header per group, as the API server expects
        return merged

    def _answer(self, response, method, path, not_found, what):
        text = response.data.decode("utf-8", "replace")
        if 200 <= response.status < 300:
            if "json" in (response.headers.get("Content-Type") or ""):
                return json.loads(text) if text else {}
            return text
        if response.status == 404 and not_found:
            return None
        try:
            status = json.loads(text)
        except ValueError:
            status = {"message": text.strip()[:300]}
        message = status.get("message") or response.reason or ""
        reason = status.get("reason") or ""
        raise KubernetesError(self._explain(response.status, message, method, path, what), status=response.status, reason=reason)

    def _explain(self, status, message, method, path, what):
        identity = self.connection.identity
        if status == 401:
            said = "401 Unauthorized{0}".format(": " + message if message and message != "Unauthorized" else "")
            if self.connection.mode == "eks":
                return self._explain_eks_401(said)
            return "The Kubernetes API at {0} refused {1} ({2}): renew the credentials (an expired token?) and run again".format(
                self.connection.host, identity, said)
        if status == 403:
            verb = {"GET": "get", "POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}.get(method, method.lower())
            return ("{0} (403 Forbidden for {1}). Grant the verb {2!r} on the resource named there to {1} "
                    "with a Role/RoleBinding (or ClusterRole), see the collection's permissions documentation".format(
                        message, self._who(identity), verb))
        if status == 422:
            return "The Kubernetes API rejected {0}: {1}".format(what or path, message)
        return "Kubernetes API {0} {1} failed ({2}): {3}".format(method, what or path, status, message)

    def _explain_eks_401(self, said):
        """A 401 in EKS mode: the credentials themselves are checked first (GetCallerIdentity), since the cluster
        refuses a token signed with credentials AWS refuses just as it refuses an identity it does not map."""
        arn, refused = self._aws_identity() if self._aws_identity is not None else (None, None)
        host, identity = self.connection.host, self.connection.identity
        if refused:
            return ("The Kubernetes API at {0} refused the token of {1} ({2}) because AWS refuses the credentials it was "
                    "signed with. {3}".format(host, identity, said, refused))
        if arn:
            return ("The Kubernetes API at {0} refused {1} ({2}), although AWS accepts these credentials "
                    "(GetCallerIdentity: {3}): the cluster does not map that identity. Add an EKS access entry for it "
                    "(aws eks create-access-entry --principal-arn with its IAM user or role ARN; for an assumed-role "
                    "session, the role's ARN) or map it in the aws-auth ConfigMap, and run again. If it is mapped, check "
                    "the clock of this host: the token is valid for 15 minutes from the time it is signed".format(
                        host, identity, said, arn))
        return ("The Kubernetes API at {0} refused {1} ({2}): check that AWS accepts the credentials of this task "
                "(aws sts get-caller-identity), then map that identity into the cluster (an EKS access entry, or the "
                "aws-auth ConfigMap) and run again".format(host, identity, said))

    def _who(self, identity):
        if self.connection.mode == "eks" and self._aws_identity is not None:
            arn, _refused = self._aws_identity()
            if arn:
                return "{0} ({1})".format(identity, arn)
        return identity

    # ----- the calls the modules make -------------------------------------------------------------

    def check_allowed(self, verb, resource, namespace):
        """Fail when RBAC denies ``verb`` on ``resource`` in ``namespace`` to this identity (a SelfSubjectAccessReview,
        which writes nothing); a server without the review API is not asked."""
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource}}}
        answer = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review, not_found=True,
                              what="a SelfSubjectAccessReview")
        status = (answer or {}).get("status") or {} if isinstance(answer, dict) else {}
        if answer is None or status.get("allowed", True):
            return
        raise KubernetesError(
            "Kubernetes RBAC does not let {0} {1} {2} in namespace {3}{4}, so the run would fail there: grant the verb {1!r} "
            "on {2} to that identity with a Role and RoleBinding (see the collection's permissions documentation)".format(
                self._who(self.connection.identity), verb, resource, namespace,
                " ({0})".format(status["reason"]) if status.get("reason") else ""),
            status=403, reason="Forbidden",
        )

    def service_account_issuer(self):
        """The issuer of the API server's ServiceAccount tokens (its OIDC discovery), or None when it may not be read.

        Which cluster a kubeconfig reaches: an EKS cluster's API server issues tokens for the cluster's OIDC issuer.
        """
        try:
            answer = self.request("GET", "/.well-known/openid-configuration", not_found=True,
                                  what="the API server's OIDC discovery document")
        except KubernetesError as e:
            if e.status == 403:
                return None
            raise
        return answer.get("issuer") if isinstance(answer, dict) else None

    def get_namespace(self, namespace):
        return self.request("GET", "/api/v1/namespaces/" + quote(namespace), not_found=True, what="namespace " + namespace)

    def create_namespace(self, namespace, labels=None):
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels or {}}}
        return self.request("POST", "/api/v1/namespaces", body=body, what="namespace " + namespace)

    def get_service_account(self, namespace, name):
        return self.request("GET", _sa_path(namespace, name), not_found=True, what=_label("serviceaccount", namespace, name))

    def list_service_accounts(self, namespace):
        answer = self.request("GET", "/api/v1/namespaces/{0}/serviceaccounts".format(quote(namespace)),
                              what="serviceaccounts in " + namespace)
        return answer.get("items") or []

    def list_all_service_accounts(self):
        answer = self.request("GET", "/api/v1/serviceaccounts", what="serviceaccounts in every namespace")
        return answer.get("items") or []

    def create_service_account(self, namespace, body):
        return self.request("POST", "/api/v1/namespaces/{0}/serviceaccounts".format(quote(namespace)), body=body,
                            what=_label("serviceaccount", namespace, body["metadata"]["name"]))

    def patch_service_account(self, namespace, name, patch):
        return self.request("PATCH", _sa_path(namespace, name), body=patch, content_type="application/merge-patch+json",
                            what=_label("serviceaccount", namespace, name))

    def delete_service_account(self, namespace, name):
        return self.request("DELETE", _sa_path(namespace, name), not_found=True, what=_label("serviceaccount", namespace, name))

    def create_token(self, namespace, name, audience, expiration_seconds):
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [audience], "expirationSeconds": int(expiration_seconds)}}
        answer = self.request("POST", _sa_path(namespace, name) + "/token", body=body,
                              what="a token for " + _label("serviceaccount", namespace, name))
        return (answer.get("status") or {}).get("token")

    def list_pods(self, namespace, service_account=None):
        query = {"fieldSelector": "spec.serviceAccountName=" + service_account} if service_account else None
        answer = self.request("GET", "/api/v1/namespaces/{0}/pods".format(quote(namespace)), query=query, what="pods in " + namespace)
        return answer.get("items") or []

    def create_pod(self, namespace, manifest):
        return self.request("POST", "/api/v1/namespaces/{0}/pods".format(quote(namespace)), body=manifest,
                            what=_label("pod", namespace, manifest["metadata"]["name"]))

    def get_pod(self, namespace, name):
        return self.request("GET", "/api/v1/namespaces/{0}/pods/{1}".format(quote(namespace), quote(name)), not_found=True,
                            what=_label("pod", namespace, name))

    def delete_pod(self, namespace, name):
        return self.request("DELETE", "/api/v1/namespaces/{0}/pods/{1}".format(quote(namespace), quote(name)),
                            query={"gracePeriodSeconds": "0"}, not_found=True, what=_label("pod", namespace, name))

    def pod_log(self, namespace, name, container=None, tail_lines=200):
        query = {"tailLines": str(tail_lines)}
        if container:
            query["container"] = container
        try:
            answer = self.request("GET", "/api/v1/namespaces/{0}/pods/{1}/log".format(quote(namespace), quote(name)), query=query,
                                  accept="*/*", what="the log of " + _label("pod", namespace, name))
        except KubernetesError as e:
            if e.status in (400, 404):
                return ""  # no log yet (container not started) or the pod is gone
            raise
        return answer if isinstance(answer, str) else json.dumps(answer)

    def list_events(self, namespace, involved_name):
        answer = self.request("GET", "/api/v1/namespaces/{0}/events".format(quote(namespace)),
                              query={"fieldSelector": "involvedObject.name=" + involved_name}, what="events of " + involved_name)
        return answer.get("items") or []

    def list_mutating_webhook_configurations(self):
        answer = self.request("GET", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
                              what="mutatingwebhookconfigurations")
        return answer.get("items") or []


def _sa_path(namespace, name):
    return "/api/v1/namespaces/{0}/serviceaccounts/{1}".format(quote(namespace), quote(name))


def _label(kind, namespace, name):
    return "{0} {1}/{2}".format(kind, namespace, name)


def _reason(exception):
    reason = getattr(exception, "reason", None) or exception
    return to_native(reason)


def kubernetes_services(module):
    """The ``KubernetesAPI`` of a module run, its connection resolved from the module's options."""
    connection = resolve_connection(module)
    if connection.mode != "eks":
        return KubernetesAPI(connection)
    from ansible_collections.eks.irsa.plugins.module_utils import aws  # pylint: disable=import-outside-toplevel

    def aws_identity():
        """``(arn, None)`` when AWS accepts the credentials of the task, ``(None, why not)`` when it refuses them,
        ``(None, None)`` when that cannot be told."""
        try:
            return aws.caller_identity(module.client("sts"))["arn"], None
        except aws.IrsaAWSError as e:
            return None, aws.credentials_message("", e.exception, module.params)

    return KubernetesAPI(connection, aws_identity=aws_identity)
