# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Kubernetes connection of eks.irsa: kubernetes.core's options, plus an EKS mode with AWS credentials only.

Where the connection comes from, first match wins:

1. ``host`` given to the task (with ``api_key`` or client certificates);
2. ``kubeconfig`` and/or ``context`` given to the task;
3. EKS mode: ``eks_cluster`` given to the task; the endpoint and CA come from ``eks:DescribeCluster`` and
   the bearer token is made in-process as ``aws eks get-token`` makes it (``k8s-aws-v1.`` + base64url of a
   presigned STS GetCallerIdentity URL carrying the signed header ``x-k8s-aws-id: <cluster>``), renewed
   before its 15 minutes run out;
4. the ``K8S_AUTH_*`` environment variables of kubernetes.core (``K8S_AUTH_HOST``, ``K8S_AUTH_API_KEY``,
   ``K8S_AUTH_KUBECONFIG``, ``K8S_AUTH_CONTEXT``, ...);
5. the default kubeconfig (``KUBECONFIG`` or ``~/.kube/config``), else the in-cluster ServiceAccount.

Kubeconfig files and the in-cluster configuration are read by the ``kubernetes`` library (``kube_config``,
``incluster_config``), as kubectl reads them: several files in ``kubeconfig``/``K8S_AUTH_KUBECONFIG``/``KUBECONFIG``
separated by ``os.pathsep`` are merged (the first file that names a cluster, user or context, or sets current-context,
wins; missing files are skipped), contexts, tokens and token files, client certificates, ``auth-provider`` (oidc; gcp
with google-auth), exec plugins (a token kept until its ``expirationTimestamp`` is near, or a client certificate),
``proxy-url`` and ``tls-server-name`` (the name the server certificate is checked against, and the SNI).

The API calls over this connection are ``k8s/api.py``'s.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import time

from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import KubernetesError

EKS_TOKEN_PREFIX = "k8s-aws-v1."
# The presigned URL inside an EKS token says X-Amz-Expires=60. The authenticator accepts tokens for up to
# 15 minutes, but signing one is local and cheap, so a token is renewed before its own 60 seconds run out.
EKS_TOKEN_RENEW_AFTER = 45
CLUSTER_ID_HEADER = "x-k8s-aws-id"
IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
IN_CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|KEY", re.IGNORECASE)


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
        secrets = [user.get(key) for key in ("token", "password", "client-key-data", "client-certificate-data")]
        # An auth-provider's tokens and client secret, and what an exec plugin is given in variables named as secrets
        # (AWS_SECRET_ACCESS_KEY, a TOKEN...): other variables (a profile, a region) are words that may appear anywhere.
        provider_config = (user.get("auth-provider") or {}).get("config") or {}
        secrets += [provider_config.get(key) for key in ("id-token", "refresh-token", "access-token", "client-secret")]
        for variable in (user.get("exec") or {}).get("env") or []:
            if _SECRET_NAME.search(str((variable or {}).get("name", ""))):
                secrets.append(variable.get("value"))
        module.no_log_values.update(str(secret) for secret in secrets if secret)


# Until 1.x, the EKS-mode connection option was called cluster_name, which irsa_role and eks_oidc_* use for the cluster
# whose issuer a role trusts. The old name stays an alias, deprecated, where it never meant anything else.
CLUSTER_NAME_DEPRECATION = dict(name="cluster_name", version="1.0.0", collection_name="eks.irsa")


def k8s_argument_spec(cluster_alias=True):
    """The Kubernetes connection options (doc fragments ``eks.irsa.k8s_auth`` and ``eks.irsa.k8s_auth.eks_cluster``).

    ``cluster_alias``: ``cluster_name`` is a deprecated alias of ``eks_cluster``; false for a module whose own
    ``cluster_name`` names the cluster of the issuer. No ``env_fallback`` here: the ``K8S_AUTH_*`` variables come after
    EKS mode in the precedence, so they are read when the connection is resolved.
    """
    eks_cluster = dict(type="str")
    if cluster_alias:
        eks_cluster.update(aliases=["cluster_name"], deprecated_aliases=[dict(CLUSTER_NAME_DEPRECATION)])
    return dict(
        eks_cluster=eks_cluster,
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


# --- kubeconfig and in-cluster configuration: the kubernetes library reads them ------------------------


def _kubernetes_library():
    """``(kube_config, incluster_config, ConfigException, Configuration)`` of the kubernetes library.

    Imported on first need: EKS mode and the host option do without it, and importing it costs a module run
    about half a second (see the figures in this file's docstring).
    """
    try:
        # pylint: disable=import-outside-toplevel
        from kubernetes.client import Configuration
        from kubernetes.config import incluster_config, kube_config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise KubernetesError(
            "The Python library kubernetes is missing, and reading a kubeconfig or the in-cluster configuration needs it: "
            "install it where the module runs (pip install kubernetes), or use eks_cluster for EKS mode, or host with api_key"
        ) from None
    return kube_config, incluster_config, ConfigException, Configuration


_LOADER_CLASS = []


def _loader_class():
    """The library's ``KubeConfigLoader``, except that a failing exec plugin is an error with its reason.

    The library logs a plugin's failure and goes on without credentials, which the API server then answers with a bare
    401; a module run says which plugin failed and why instead. The rest (ExecProvider's environment and
    ``KUBERNETES_EXEC_INFO``, the token or client certificate, ``expirationTimestamp``) is the library's.
    """
    if _LOADER_CLASS:
        return _LOADER_CLASS[0]
    kube_config, _incluster, config_exception, _configuration = _kubernetes_library()
    from kubernetes.config.dateutil import parse_rfc3339  # pylint: disable=import-outside-toplevel
    from kubernetes.config.exec_provider import ExecProvider  # pylint: disable=import-outside-toplevel

    class Loader(kube_config.KubeConfigLoader):
        def _load_from_exec_plugin(self):
            if "exec" not in self._user:
                return None
            spec = self._user["exec"]
            command = spec.safe_get("command")
            cluster = self._current_context["context"].safe_get("cluster")
            base_path = self._get_base_path(self._cluster.path)
            try:
                status = ExecProvider(spec, base_path, self._cluster).run()
            except OSError as e:
                raise KubernetesError(
                    "The kubeconfig's credential plugin {0!r} could not run: {1}. Install it, or use eks_cluster for EKS "
                    "mode, which needs no plugin".format(command, e.strerror)
                ) from None
            except config_exception as e:
                raise KubernetesError(
                    "The kubeconfig's credential plugin {0!r} failed for cluster {1}: {2}".format(command, cluster, str(e)[-500:])
                ) from None
            if status.get("token"):
                self.token = "Bearer %s" % status["token"]
            elif status.get("clientCertificateData") and status.get("clientKeyData"):
                self.cert_file = kube_config.FileOrData(status, None, data_key_name="clientCertificateData",
                                                        base64_file_content=False, temp_file_path=self._temp_file_path).as_file()
                self.key_file = kube_config.FileOrData(status, None, data_key_name="clientKeyData",
                                                       base64_file_content=False, temp_file_path=self._temp_file_path).as_file()
            else:
                raise KubernetesError(
                    "The kubeconfig's credential plugin {0!r} printed an ExecCredential with neither a token nor "
                    "clientCertificateData and clientKeyData".format(command))
            if status.get("expirationTimestamp"):
                try:
                    self.expiry = parse_rfc3339(status["expirationTimestamp"])
                except ValueError as e:
                    raise KubernetesError("The kubeconfig's credential plugin {0!r} printed a bad expirationTimestamp: {1}".format(
                        command, e)) from None
            return True

    _LOADER_CLASS.append(Loader)
    return Loader


def _plain(node):
    """A kubeconfig entry as a dict, whether the library wrapped it in a ConfigNode or not."""
    return getattr(node, "value", node)


def _merge_kubeconfig_files(source):
    """The library's ``KubeConfigMerger`` over the files of ``source`` (paths separated by ``os.pathsep``).

    Files are added one by one so that a broken one is named. Missing files are skipped as kubectl skips them; the
    first file that sets ``current-context`` sets it, as with kubectl (the library would let the last one win).
    """
    import yaml  # pylint: disable=import-outside-toplevel

    kube_config, _incluster, config_exception, _configuration = _kubernetes_library()
    merger = kube_config.KubeConfigMerger("")
    current_context = None
    paths = [os.path.expanduser(path) for path in str(source).split(os.pathsep) if path]
    for path in paths:
        if not os.path.exists(path):
            continue
        try:
            merger.load_config(path)
        except OSError as e:
            raise KubernetesError("Cannot read the kubeconfig {0}: {1}. Make it readable, or leave it out of the kubeconfig "
                                  "paths given (kubeconfig option or K8S_AUTH_KUBECONFIG) and of KUBECONFIG".format(
                                      path, e.strerror)) from None
        except yaml.YAMLError as e:
            raise KubernetesError("The kubeconfig {0} is not valid YAML: {1}".format(path, e)) from None
        except config_exception:
            continue  # an empty file, which kubectl skips too
        except (AttributeError, KeyError, TypeError):
            raise KubernetesError(
                "The kubeconfig {0} is not a kubeconfig (a YAML mapping whose clusters, contexts and users are lists of "
                "entries with a name): fix it, or leave it out of the kubeconfig paths given (kubeconfig option or "
                "K8S_AUTH_KUBECONFIG) and of KUBECONFIG".format(path)
            ) from None
        merger.paths.append(path)
        current_context = current_context or merger.config_files[path].get("current-context")
    if merger.config is None:
        reason = "the file is empty" if any(os.path.exists(path) for path in paths) else "No such file or directory"
        raise KubernetesError(
            "Cannot read the kubeconfig {0}: {1}. Give the path of an existing kubeconfig (kubeconfig option or "
            "K8S_AUTH_KUBECONFIG), or use eks_cluster for EKS mode".format(source, reason)
        )
    merger.config.value["current-context"] = current_context
    return merger.config


def _check_context(config, context_name, where):
    """The context's name, checked against the kubeconfig before the library reads it, for messages in our terms."""
    contexts = [_plain(entry) for entry in _plain(config).get("contexts") or []]
    known = ", ".join(str(entry.get("name", "?")) for entry in contexts) or "none"
    context_name = context_name or _plain(config).get("current-context")
    if not context_name:
        raise KubernetesError("{0} sets no current-context (contexts: {1}): set context to one of them".format(
            where[0].upper() + where[1:], known))
    matches = [entry for entry in contexts if entry.get("name") == context_name]
    if not matches:
        raise KubernetesError("Context {0!r} is not in {1} (contexts: {2}): set context to one of them".format(context_name, where, known))
    context = matches[0].get("context") or {}
    clusters = [_plain(entry) for entry in _plain(config).get("clusters") or []]
    cluster = next((entry.get("cluster") or {} for entry in clusters if entry.get("name") == context.get("cluster")), None)
    if not cluster or not cluster.get("server"):
        raise KubernetesError("Context {0!r} of {1} names cluster {2!r}, which has no server".format(context_name, where, context.get("cluster")))
    return context_name, context


def _authorization_source(configuration):
    """The Authorization header the library's configuration holds, refreshed by its hook when it expires (an exec
    plugin's ``expirationTimestamp``, an OIDC token, the in-cluster token file), or None without one."""
    if not any(configuration.api_key.values()):
        return None

    def authorization():
        return configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix("authorization")

    return authorization


def _from_kubeconfig(source, context_name, verify, common):
    _kube_config, _incluster, config_exception, configuration_class = _kubernetes_library()
    if isinstance(source, dict):
        config, where = source, "the kubeconfig given"
    else:
        config, where = _merge_kubeconfig_files(source), "kubeconfig {0}".format(source)
    context_name, context = _check_context(config, context_name, where)
    configuration = configuration_class()
    try:
        _loader_class()(config_dict=config, active_context=context_name, config_base_path=None).load_and_set(configuration)
    except config_exception as e:
        raise KubernetesError("{0} cannot be used with context {1!r}: {2}. Fix the kubeconfig, or use another of its "
                              "contexts".format(where[0].upper() + where[1:], context_name, e)) from None
    except OSError as e:
        raise KubernetesError("Cannot read {0} named by {1}: {2}".format(e.filename, where, e.strerror)) from None
    return Connection(
        configuration.host, ca_file=configuration.ssl_ca_cert, client_cert=configuration.cert_file,
        client_key=configuration.key_file, authorization_source=_authorization_source(configuration),
        verify=configuration.verify_ssl if verify is None else verify, tls_server_name=configuration.tls_server_name,
        identity="user {0!r} of context {1!r} in {2}".format(context.get("user"), context_name, where), mode="kubeconfig",
        **dict(common, proxy=common.get("proxy") or configuration.proxy),
    )


def _in_cluster(verify, common, environ):
    _kube_config, incluster_config, config_exception, configuration_class = _kubernetes_library()
    configuration = configuration_class()
    try:
        incluster_config.InClusterConfigLoader(IN_CLUSTER_TOKEN, IN_CLUSTER_CA, environ=environ).load_and_set(configuration)
    except (config_exception, OSError) as e:
        raise KubernetesError("The pod's ServiceAccount credentials cannot be read: {0}. Mount the ServiceAccount token "
                              "(automountServiceAccountToken), or use eks_cluster for EKS mode or another Kubernetes connection "
                              "(kubeconfig, context or host)".format(e)) from None
    return Connection(configuration.host, ca_file=configuration.ssl_ca_cert,
                      authorization_source=_authorization_source(configuration),
                      verify=True if verify is None else verify, identity="the pod's ServiceAccount", mode="in-cluster", **common)


class Connection:
    """Where the API is and how to authenticate: host, CA, credentials, TLS and proxy settings.

    ``ca_pem`` is CA data, ``ca_file``, ``client_cert`` and ``client_key`` are paths. The Authorization header comes from
    ``token`` (static), ``token_source`` (a callable making a fresh bearer token, renewed every
    ``EKS_TOKEN_RENEW_AFTER`` seconds: EKS mode) or ``authorization_source`` (a callable answering the whole header, which
    renews it itself when it expires: the kubernetes library's configuration).
    """

    def __init__(self, host, ca_pem=None, token=None, token_source=None, client_cert=None, client_key=None,
                 verify=True, proxy=None, identity="", impersonate_user=None, impersonate_groups=None, mode="",
                 ca_file=None, tls_server_name=None, authorization_source=None):
        self.host = host.rstrip("/")
        self.ca_pem = ca_pem
        self.ca_file = ca_file
        self._token = token
        self._token_source = token_source
        self._token_time = time.monotonic() if token else 0.0
        self._authorization_source = authorization_source
        self.client_cert = client_cert
        self.client_key = client_key
        self.verify = verify
        self.proxy = proxy
        self.tls_server_name = tls_server_name
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

    def authorization(self):
        """The value of the Authorization header, or None for a client that authenticates otherwise."""
        if self._authorization_source is not None:
            with self._lock:  # the library's refresh hook is not thread safe, and irsa_verify calls from threads
                return self._authorization_source()
        token = self.token()
        return "Bearer " + token if token else None


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
    if params.get("eks_cluster"):
        return _eks(module, params["eks_cluster"], verify, common)
    if environ.get("K8S_AUTH_HOST"):
        return _explicit(environ["K8S_AUTH_HOST"], environ.get("K8S_AUTH_API_KEY"), environ.get("K8S_AUTH_SSL_CA_CERT"),
                         environ.get("K8S_AUTH_CERT_FILE"), environ.get("K8S_AUTH_KEY_FILE"),
                         verify if verify is not None else _env_bool(environ.get("K8S_AUTH_VERIFY_SSL")), common, "K8S_AUTH_HOST")
    if environ.get("K8S_AUTH_KUBECONFIG") or environ.get("K8S_AUTH_CONTEXT"):
        return _from_kubeconfig(environ.get("K8S_AUTH_KUBECONFIG") or _default_kubeconfig(environ),
                                environ.get("K8S_AUTH_CONTEXT"), verify, common)
    default = _default_kubeconfig(environ)
    if any(os.path.exists(os.path.expanduser(path)) for path in default.split(os.pathsep) if path):
        return _from_kubeconfig(default, None, verify, common)
    if os.path.exists(IN_CLUSTER_TOKEN) and environ.get("KUBERNETES_SERVICE_HOST"):
        return _in_cluster(verify, common, environ)
    raise KubernetesError(
        "No Kubernetes connection: give eks_cluster (EKS mode, AWS credentials only), or kubeconfig/context, or host "
        "with api_key; no kubeconfig was found at {0} and this is not a pod".format(default)
    )


def _env_bool(value):
    if value is None:
        return None
    return str(value).lower() in ("1", "true", "yes", "on")


def _default_kubeconfig(environ):
    return environ.get("KUBECONFIG") or os.path.join("~", ".kube", "config")


def _readable(path):
    """``path`` expanded, after checking that it can be read (so that a wrong path fails before any call)."""
    if not path:
        return None
    path = os.path.expanduser(path)
    with open(path, "rb"):
        return path


def _explicit(host, api_key, ca_cert, client_cert, client_key, verify, common, where):
    try:
        return Connection(host, ca_file=_readable(ca_cert), token=api_key, client_cert=_readable(client_cert),
                          client_key=_readable(client_key), verify=True if verify is None else verify,
                          identity=_explicit_identity(api_key, client_cert), mode=where, **common)
    except OSError as e:
        raise KubernetesError("Cannot read {0}: {1}".format(e.filename, e.strerror)) from None


def _explicit_identity(api_key, client_cert):
    if api_key:
        return "the api_key given"
    if client_cert:
        return "the client certificate given"
    return "an anonymous client (no api_key or client certificate was given; use api_key, a kubeconfig or eks_cluster)"


def _eks(module, cluster_name, verify, common):
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
