"""The sandbox's Kubernetes API from the test process, with the admin credentials of its kubeconfig.

For tests that read and prepare Kubernetes objects often: a request here costs a few milliseconds, where kubectl starts a
process each time.
"""

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

import yaml


class KubeApi:
    def __init__(self, sandbox, context=None):
        """The cluster of kubeconfig context ``context`` (default: the current context)."""
        with open(sandbox.vars["kubeconfig"], encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        context = next(c["context"] for c in config["contexts"] if c["name"] == (context or config["current-context"]))
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        self._server = cluster["server"]
        self._tls = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode("ascii"))
        self._token = user["token"]

    def request(self, method, path, body=None, content_type="application/json"):
        """The decoded answer; None for a 404."""
        request = urllib.request.Request(self._server + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": "Bearer " + self._token, "Content-Type": content_type,
                                                  "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self._tls, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise AssertionError("%s %s: HTTP %d: %s" % (method, path, error.code, error.read().decode(errors="replace"))) from None

    def delete_namespace(self, name):
        self.request("DELETE", "/api/v1/namespaces/" + name)

    def create_namespace(self, name):
        self.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def create_service_account(self, namespace, name, annotations=None):
        metadata = {"name": name, "namespace": namespace, "annotations": dict(annotations or {})}
        self.request("POST", "/api/v1/namespaces/%s/serviceaccounts" % namespace, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata})

    def namespace_exists(self, name):
        return self.request("GET", "/api/v1/namespaces/" + name) is not None

    def service_accounts(self, namespace):
        return self.request("GET", "/api/v1/namespaces/%s/serviceaccounts" % namespace)["items"]

    def service_account(self, namespace, name):
        return self.request("GET", "/api/v1/namespaces/%s/serviceaccounts/%s" % (namespace, name))

    def pods(self, namespace, label_selector=None):
        query = "?labelSelector=" + urllib.parse.quote(label_selector) if label_selector else ""
        return self.request("GET", "/api/v1/namespaces/%s/pods%s" % (namespace, query))["items"]
