# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Kubernetes API calls of eks.irsa, answering plain dicts, with retries on 429/5xx and clear errors.

The API is spoken with urllib3 (it comes with botocore), fed from the library's ``Configuration`` (host, CA,
client certificate, TLS check, proxy, tls-server-name, the Authorization header its refresh hook renews). Why not the
library's ``ApiClient``: importing ``kubernetes`` costs a module start 0.41 s on its own (``kubernetes.client``,
measured in-process), 0.78 s of wall time on a loaded two-core machine (a process that imports this file and resolves
a kubeconfig connection: 1.38 s with the library against 0.60 s with the former YAML reader, medians of 7), so it is
imported only when a kubeconfig or the in-cluster configuration is read. EKS mode, which AWX jobs use, and the ``host``
option never pay it, and one transport keeps the retries, ``Retry-After`` and the messages below the same in every mode.
A client certificate an exec plugin answers is used for the whole module run (the library renews tokens only).

Errors are ``KubernetesError`` with a message that says what failed, why and how to fix it: a 401 names
the identity that was refused (in EKS mode after asking AWS whether it accepts the credentials at all, so
that a wrong secret key or an expired session token is not taken for a missing access entry), a 403 the
verb and resource that identity lacks. Tokens never appear in messages.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from urllib.parse import quote, urlencode

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import KubernetesError
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import resolve_connection

try:
    import urllib3
except ImportError:  # pragma: no cover - urllib3 comes with botocore, which the modules require
    urllib3 = None

RETRIABLE_STATUSES = (429, 500, 502, 503, 504)
MAX_ATTEMPTS = 6
# The verb in the RBAC authorizer's refusal: 'User "ci" cannot list resource "pods" in API group "" ...', or
# 'cannot get path "/openid/v1/jwks"'.
FORBIDDEN_VERB = re.compile(r'cannot ([a-z]+) (?:resource|path) "')


def denied_verb(method, path, message):
    """The RBAC verb of a refused request: the one the apiserver's refusal names, else the one its method and path
    make (a GET of a collection is 'list'; of an object, its subresource or a path outside the API 'get')."""
    said = FORBIDDEN_VERB.search(message or "")
    if said:
        return said.group(1)
    parts = path.split("?", 1)[0].strip("/").split("/")
    if method == "GET" and parts[0] in ("api", "apis"):
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            rest = rest[2:]
        return "list" if len(rest) <= 1 else "get"
    return {"GET": "get", "POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}.get(method, method.lower())


class KubernetesAPI:
    """A few Kubernetes API calls as plain dicts, with retries on 429/5xx and clear errors."""

    def __init__(self, connection, aws_identity=None):
        if urllib3 is None:
            raise KubernetesError("The Python library urllib3 is missing: install botocore (pip install botocore)")
        self.connection = connection
        self._aws_identity = aws_identity  # callable naming the AWS caller, for 401/403 messages in EKS mode
        self._pool = self._make_pool()

    def _make_pool(self):
        connection = self.connection
        try:
            context = ssl.create_default_context(cafile=connection.ca_file, cadata=connection.ca_pem)
            if not connection.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if connection.client_cert and connection.client_key:
                context.load_cert_chain(connection.client_cert, connection.client_key)
        except (OSError, ssl.SSLError) as e:
            raise KubernetesError(
                "Cannot load the TLS material of {0} (CA {1}, client certificate {2}): {3}. Check that they are PEM files "
                "(ca_cert, client_cert, client_key, or the kubeconfig's certificate-authority and client-certificate)".format(
                    connection.identity, connection.ca_file or ("data" if connection.ca_pem else "none"),
                    connection.client_cert or "none", _reason(e))
            ) from None
        # Keep as many connections as irsa_verify runs bindings concurrently (its max_concurrency default).
        options = dict(ssl_context=context, retries=False, timeout=urllib3.Timeout(connect=10, read=60), maxsize=10)
        if connection.tls_server_name:
            # The name the server certificate must carry and the SNI sent, whatever address the host holds.
            options["server_hostname"] = connection.tls_server_name
        if not connection.proxy:
            return urllib3.PoolManager(**options)
        if connection.proxy.startswith("socks"):
            try:
                from urllib3.contrib.socks import SOCKSProxyManager  # pylint: disable=import-outside-toplevel
            except ImportError:
                raise KubernetesError("The proxy {0} is a SOCKS proxy, which needs the Python library PySocks: install it "
                                      "(pip install pysocks) or give an HTTP proxy".format(connection.proxy)) from None
            return SOCKSProxyManager(connection.proxy, **options)
        return urllib3.ProxyManager(connection.proxy, **options)

    def close(self):
        self._pool.clear()

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
            authorization = self.connection.authorization()
            if authorization:
                headers["Authorization"] = authorization
            try:
                response = self._pool.request(method, url, body=data, headers=self._with_groups(headers))
            except urllib3.exceptions.SSLError as e:
                raise KubernetesError(
                    "TLS to the Kubernetes API at {0} failed: {1}. Check the cluster CA (ca_cert, the kubeconfig's "
                    "certificate-authority, or EKS mode's CA); k8s_validate_certs=false skips the check. When the server's "
                    "certificate names another host than the address in the kubeconfig's server (a tunnel, a load "
                    "balancer), set the cluster's tls-server-name to that name".format(self.connection.host, _reason(e))
                ) from None
            except urllib3.exceptions.HTTPError as e:
                if attempt < MAX_ATTEMPTS:
                    time.sleep(delay)
                    delay = min(delay * 2, 8)
                    continue
                raise KubernetesError(
                    "Cannot reach the Kubernetes API at {0}{1}: {2}. Check the endpoint, the network path and the proxy "
                    "option".format(self.connection.host, self._through_proxy(), _reason(e))
                ) from None
            if response.status in RETRIABLE_STATUSES and attempt < MAX_ATTEMPTS:
                retry_after = response.headers.get("Retry-After")
                time.sleep(min(float(retry_after), 10) if retry_after and retry_after.isdigit() else delay)
                delay = min(delay * 2, 8)
                continue
            return self._answer(response, method, path, not_found, what)
        raise KubernetesError("The Kubernetes API kept failing for {0} {1}".format(method, path))  # pragma: no cover

    def _through_proxy(self):
        """`` through the proxy host:port`` (never its credentials), or nothing without a proxy."""
        if not self.connection.proxy:
            return ""
        proxy = urllib3.util.parse_url(self.connection.proxy)
        return " through the proxy {0}://{1}:{2} (the proxy option, K8S_AUTH_PROXY or the kubeconfig's proxy-url)".format(
            proxy.scheme, proxy.host, proxy.port or "")

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
            verb = denied_verb(method, path, message)
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

    def denial(self, verb, resource, namespace, group=""):
        """Why RBAC denies ``verb`` on ``resource`` (of API group ``group``) in ``namespace`` to this identity, or None
        when it allows it (a SelfSubjectAccessReview, which writes nothing; a server without the review API is not
        asked)."""
        attributes = {"namespace": namespace, "verb": verb, "resource": resource}
        if group:
            attributes["group"] = group
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": attributes}}
        answer = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review, not_found=True,
                              what="a SelfSubjectAccessReview")
        status = (answer or {}).get("status") or {} if isinstance(answer, dict) else {}
        if answer is None or status.get("allowed", True):
            return None
        return "Kubernetes RBAC does not let {0} {1} {2} in namespace {3}{4}".format(
            self._who(self.connection.identity), verb, resource + ("." + group if group else ""), namespace,
            " ({0})".format(status["reason"]) if status.get("reason") else "")

    def check_allowed(self, verb, resource, namespace, group=""):
        """Fail when RBAC denies ``verb`` on ``resource`` (of API group ``group``) in ``namespace`` to this identity."""
        denied = self.denial(verb, resource, namespace, group)
        if denied is None:
            return
        raise KubernetesError(
            "{0}, so the run would fail there: grant the verb {1!r} on {2} to that identity with a Role and RoleBinding "
            "(see the collection's permissions documentation)".format(denied, verb, resource + ("." + group if group else "")),
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

    def list_all_pods(self):
        answer = self.request("GET", "/api/v1/pods", what="pods in every namespace")
        return answer.get("items") or []

    def create_service_account(self, namespace, body):
        return self.request("POST", "/api/v1/namespaces/{0}/serviceaccounts".format(quote(namespace)), body=body,
                            what=_label("serviceaccount", namespace, body["metadata"]["name"]))

    def patch_service_account(self, namespace, name, patch):
        return self.request("PATCH", _sa_path(namespace, name), body=patch, content_type="application/merge-patch+json",
                            what=_label("serviceaccount", namespace, name))

    def delete_service_account(self, namespace, name):
        return self.request("DELETE", _sa_path(namespace, name), not_found=True, what=_label("serviceaccount", namespace, name))

    def create_token(self, namespace, name, audience, expiration_seconds, bound_pod=None):
        """A token of the ServiceAccount; with ``bound_pod`` (a pod object), bound to that pod as a projected token is."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [audience], "expirationSeconds": int(expiration_seconds)}}
        if bound_pod:
            metadata = bound_pod.get("metadata") or {}
            body["spec"]["boundObjectRef"] = {"apiVersion": "v1", "kind": "Pod", "name": metadata.get("name"), "uid": metadata.get("uid")}
        answer = self.request("POST", _sa_path(namespace, name) + "/token", body=body,
                              what="a token for " + _label("serviceaccount", namespace, name))
        return (answer.get("status") or {}).get("token")

    def get_replica_set(self, namespace, name):
        return self.request("GET", "/apis/apps/v1/namespaces/{0}/replicasets/{1}".format(quote(namespace), quote(name)),
                            not_found=True, what=_label("replicaset", namespace, name))

    def patch_workload(self, resource, namespace, name, patch):
        """Merge-patch a Deployment, StatefulSet or DaemonSet (``resource`` is its plural name in API group apps)."""
        return self.request("PATCH", "/apis/apps/v1/namespaces/{0}/{1}/{2}".format(quote(namespace), resource, quote(name)),
                            body=patch, content_type="application/merge-patch+json", what=_label(resource[:-1], namespace, name))

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
        except IrsaAWSError as e:
            return None, aws.credentials_message("", e.exception, module.params)

    return KubernetesAPI(connection, aws_identity=aws_identity)
