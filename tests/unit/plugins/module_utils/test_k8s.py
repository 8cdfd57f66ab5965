"""The Kubernetes connection: EKS tokens, the precedence of connection sources, kubeconfig reading, errors."""

import base64
import datetime
import json
import os
import sys
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils.k8s import api as k8s_api
from ansible_collections.eks.irsa.plugins.module_utils.k8s import connection as k8s_connection


def decode(token):
    assert token.startswith("k8s-aws-v1.")
    body = token[len("k8s-aws-v1."):]
    assert "=" not in body
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def test_eks_token_is_a_presigned_get_caller_identity_for_the_cluster():
    sts = boto3.client("sts", region_name="us-west-2", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    url = urlparse(decode(k8s_connection.eks_token(sts, "my-cluster")))
    query = parse_qs(url.query)
    assert query["Action"] == ["GetCallerIdentity"]
    assert query["X-Amz-Expires"] == ["60"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    assert url.netloc.startswith("sts.")


def test_the_cluster_header_does_not_leak_into_other_calls():
    sts = boto3.client("sts", region_name="us-west-2", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    k8s_connection.eks_token(sts, "a")
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    assert "x-k8s-aws-id" not in parse_qs(urlparse(url).query)["X-Amz-SignedHeaders"][0]


class FakeModule:
    def __init__(self, **params):
        self.params = dict({key: None for key in k8s_connection.k8s_argument_spec()}, **params)
        self.region = "us-east-1"


KUBECONFIG = {
    "apiVersion": "v1",
    "current-context": "one",
    "clusters": [
        {"name": "c1", "cluster": {"server": "https://one.example:6443", "certificate-authority-data": base64.b64encode(b"PEM").decode()}},
        {"name": "c2", "cluster": {"server": "https://two.example", "insecure-skip-tls-verify": True}},
    ],
    "users": [{"name": "u1", "user": {"token": "secret-token"}}, {"name": "u2", "user": {"token": "other"}}],
    "contexts": [{"name": "one", "context": {"cluster": "c1", "user": "u1"}}, {"name": "two", "context": {"cluster": "c2", "user": "u2"}}],
}


@pytest.mark.parametrize(
    "params, environ, host, mode",
    [
        ({"host": "https://explicit", "api_key": "k", "kubeconfig": KUBECONFIG, "eks_cluster": "x"}, {}, "https://explicit", "the host option"),
        ({"kubeconfig": KUBECONFIG, "eks_cluster": "x"}, {"K8S_AUTH_HOST": "https://env"}, "https://one.example:6443", "kubeconfig"),
        ({"kubeconfig": KUBECONFIG, "context": "two"}, {}, "https://two.example", "kubeconfig"),
        ({}, {"K8S_AUTH_HOST": "https://env", "K8S_AUTH_API_KEY": "k"}, "https://env", "K8S_AUTH_HOST"),
    ],
)
def test_precedence(params, environ, host, mode):
    connection = k8s_connection.resolve_connection(FakeModule(**params), environ=environ)
    assert connection.host == host
    assert connection.mode == mode


def test_eks_mode_beats_the_environment(monkeypatch):
    seen = {}

    def fake_eks(module, cluster_name, verify, common):
        seen["cluster"] = cluster_name
        return k8s_connection.Connection("https://eks", mode="eks")

    monkeypatch.setattr(k8s_connection, "_eks", fake_eks)
    connection = k8s_connection.resolve_connection(FakeModule(eks_cluster="prod"), environ={"K8S_AUTH_HOST": "https://env"})
    assert connection.mode == "eks" and seen["cluster"] == "prod"


def test_kubeconfig_details():
    connection = k8s_connection.resolve_connection(FakeModule(kubeconfig=KUBECONFIG), environ={})
    with open(connection.ca_file, encoding="utf-8") as handle:
        assert handle.read() == "PEM"
    assert connection.authorization() == "Bearer secret-token"
    assert connection.verify is True
    assert k8s_connection.resolve_connection(FakeModule(kubeconfig=KUBECONFIG, context="two"), environ={}).verify is False
    # The Kubernetes TLS option overrides the kubeconfig, and is not amazon.aws's validate_certs.
    assert k8s_connection.resolve_connection(FakeModule(kubeconfig=KUBECONFIG, k8s_validate_certs=False), environ={}).verify is False
    assert "validate_certs" not in k8s_connection.k8s_argument_spec()


def test_unknown_context_lists_the_known_ones():
    with pytest.raises(errors.KubernetesError, match=r"Context 'three' is not in .*\(contexts: one, two\)"):
        k8s_connection.resolve_connection(FakeModule(kubeconfig=KUBECONFIG, context="three"), environ={})


def test_missing_kubeconfig_file_says_what_to_do(tmp_path):
    with pytest.raises(errors.KubernetesError, match="Cannot read the kubeconfig .*use eks_cluster for EKS mode"):
        k8s_connection.resolve_connection(FakeModule(kubeconfig=str(tmp_path / "missing")), environ={})


def test_nothing_to_connect_with(tmp_path):
    with pytest.raises(errors.KubernetesError, match="No Kubernetes connection"):
        k8s_connection.resolve_connection(FakeModule(), environ={"KUBECONFIG": str(tmp_path / "none")})


def test_eks_token_is_renewed_before_its_presigned_url_expires(monkeypatch):
    calls = []
    connection = k8s_connection.Connection("https://x", token_source=lambda: calls.append(1) or "t%d" % len(calls))
    assert connection.token() == "t1"
    assert connection.token() == "t1"
    monkeypatch.setattr(k8s_api.time, "monotonic", lambda: 10**9)
    assert connection.token() == "t2"


class FakeResponse:
    def __init__(self, status, body, headers=None):
        self.status = status
        self.data = json.dumps(body).encode()
        self.headers = dict({"Content-Type": "application/json"}, **(headers or {}))
        self.reason = ""


class FakePool:
    def __init__(self, responses):
        self.responses = list(responses)
        self.sent = []

    def request(self, method, url, body=None, headers=None):
        self.sent.append((method, url, headers))
        return self.responses.pop(0)

    def clear(self):
        pass


def api(responses, mode="kubeconfig", identity="user 'u1'"):
    client = k8s_api.KubernetesAPI(k8s_connection.Connection("https://api", token="secret-token", identity=identity, mode=mode))
    client._pool = FakePool(responses)
    return client


def test_403_names_the_identity_and_the_verb(monkeypatch):
    message = 'serviceaccounts "app" is forbidden: User "ci" cannot patch resource "serviceaccounts" in API group "" in the namespace "default"'
    client = api([FakeResponse(403, {"kind": "Status", "message": message, "reason": "Forbidden", "code": 403})])
    with pytest.raises(errors.KubernetesError) as raised:
        client.patch_service_account("default", "app", {"metadata": {}})
    text = str(raised.value)
    assert message in text and "user 'u1'" in text and "'patch'" in text and "secret-token" not in text


def test_403_of_a_list_asks_for_the_list_verb():
    message = 'pods is forbidden: User "ci" cannot list resource "pods" in API group "" in the namespace "shop"'
    client = api([FakeResponse(403, {"kind": "Status", "message": message, "reason": "Forbidden", "code": 403})])
    with pytest.raises(errors.KubernetesError) as raised:
        client.request("GET", "/api/v1/namespaces/shop/pods?labelSelector=app")
    assert "Grant the verb 'list'" in str(raised.value)


@pytest.mark.parametrize("method, path, message, verb", [
    # the authorizer's own words win
    ("GET", "/api/v1/namespaces/shop/pods", 'User "ci" cannot list resource "pods" in API group ""', "list"),
    ("GET", "/openid/v1/jwks", 'forbidden: User "ci" cannot get path "/openid/v1/jwks"', "get"),
    # else the method and the path (another authorizer, or no message)
    ("GET", "/api/v1/namespaces/shop/pods?labelSelector=a", "", "list"),
    ("GET", "/api/v1/namespaces/shop/pods/p1", "", "get"),
    ("GET", "/api/v1/namespaces/shop/pods/p1/log?container=c", "", "get"),
    ("GET", "/api/v1/namespaces/shop", "", "get"),
    ("GET", "/api/v1/namespaces", "", "list"),
    ("GET", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", "", "list"),
    ("GET", "/apis/apps/v1/namespaces/shop/deployments/web", "", "get"),
    ("GET", "/.well-known/openid-configuration", "", "get"),
    ("POST", "/api/v1/namespaces/shop/serviceaccounts/app/token", "", "create"),
    ("PATCH", "/api/v1/namespaces/shop/serviceaccounts/app", "", "patch"),
    ("DELETE", "/api/v1/namespaces/shop/pods/p1", "", "delete"),
])
def test_the_verb_a_403_asks_for(method, path, message, verb):
    assert k8s_api.denied_verb(method, path, message) == verb


def test_401_in_eks_mode_names_the_aws_identity_and_the_fix():
    client = api([FakeResponse(401, {"kind": "Status", "message": "Unauthorized", "code": 401})], mode="eks", identity="the AWS identity")
    client._aws_identity = lambda: ("arn:aws:iam::123456789012:user/ci", None)
    with pytest.raises(errors.KubernetesError) as raised:
        client.get_service_account("default", "app")
    assert "arn:aws:iam::123456789012:user/ci" in str(raised.value) and "access entry" in str(raised.value)
    assert raised.value.status == 401


def test_throttling_is_retried(monkeypatch):
    monkeypatch.setattr(k8s_api.time, "sleep", lambda seconds: None)
    client = api([FakeResponse(429, {"code": 429}, {"Retry-After": "1"}), FakeResponse(503, {"code": 503}),
                  FakeResponse(200, {"metadata": {"name": "app"}})])
    assert client.get_service_account("default", "app")["metadata"]["name"] == "app"
    assert len(client._pool.sent) == 3


def test_not_found_is_none_where_asked():
    client = api([FakeResponse(404, {"code": 404, "reason": "NotFound"})])
    assert client.get_service_account("default", "app") is None


def test_impersonation_sends_one_header_per_group():
    client = api([FakeResponse(200, {})])
    client.connection.impersonate_user = "alice"
    client.connection.impersonate_groups = ["a", "b"]
    client.get_namespace("default")
    headers = client._pool.sent[0][2]
    assert headers["Impersonate-User"] == "alice"
    assert headers.getlist("Impersonate-Group") == ["a", "b"]


class ReviewingAPI(k8s_api.KubernetesAPI):
    """The client with its transport replaced by a canned answer to the SelfSubjectAccessReview."""

    def __init__(self, answer):  # pylint: disable=super-init-not-called
        self.connection = k8s_connection.Connection("https://api.example", token="t", identity="user 'dev' of context 'one' in x")
        self._aws_identity = None
        self.answer = answer
        self.sent = []

    def request(self, method, path, query=None, body=None, content_type="application/json", accept="application/json",
                not_found=False, what=""):
        self.sent.append((method, path, body))
        return self.answer


@pytest.mark.parametrize("answer, refused", [
    ({"status": {"allowed": True}}, False),
    ({"status": {"allowed": False, "reason": "no RBAC policy matched"}}, True),
    ({"status": {"allowed": False}}, True),
    (None, False),  # a server without the review API (404): not asked
])
def test_check_allowed_asks_rbac_before_a_write(answer, refused):
    api = ReviewingAPI(answer)
    if refused:
        with pytest.raises(errors.KubernetesError) as raised:
            api.check_allowed("patch", "serviceaccounts", "shop")
        message = str(raised.value)
        assert raised.value.status == 403
        assert "RBAC does not let user 'dev' of context 'one' in x patch serviceaccounts in namespace shop" in message
        assert "permissions documentation" in message
    else:
        api.check_allowed("patch", "serviceaccounts", "shop")
    [(method, path, body)] = api.sent
    assert (method, path) == ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    assert body["spec"]["resourceAttributes"] == {"namespace": "shop", "verb": "patch", "resource": "serviceaccounts"}


def test_service_account_issuer_is_the_discovery_documents():
    issuer = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
    client = api([FakeResponse(200, {"issuer": issuer, "jwks_uri": issuer + "/keys"})])
    assert client.service_account_issuer() == issuer
    assert client._pool.sent[0][1] == "https://api/.well-known/openid-configuration"
    assert api([FakeResponse(404, {"code": 404, "reason": "NotFound"})]).service_account_issuer() is None


# --- kubeconfig files merged, exec plugins, proxy-url, tls-server-name, in-cluster (the kubernetes library) ---------


def write_kubeconfig(path, clusters=(), users=(), contexts=(), current=None):
    """A kubeconfig file of (name, cluster) / (name, user) / (name, cluster name, user name) entries."""
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster} for name, cluster in clusters],
        "users": [{"name": name, "user": user} for name, user in users],
        "contexts": [{"name": name, "context": {"cluster": cluster, "user": user}} for name, cluster, user in contexts],
    }
    if current:
        config["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return str(path)


@pytest.fixture
def two_files(tmp_path):
    """``first`` (current-context a, cluster ca with a CA file next to it) and ``second`` in another directory
    (current-context b, its own cluster cb with a relative CA path, and a cluster named ca that must not win)."""
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "ca.crt").write_text("CA OF FIRST", encoding="utf-8")
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "ca.crt").write_text("CA OF SECOND", encoding="utf-8")
    first = write_kubeconfig(tmp_path / "one" / "config", clusters=[("ca", {"server": "https://a.example", "certificate-authority": "ca.crt"})],
                             users=[("ua", {"token": "token-a"})], contexts=[("a", "ca", "ua")], current="a")
    second = write_kubeconfig(tmp_path / "two" / "config",
                              clusters=[("cb", {"server": "https://b.example", "certificate-authority": "ca.crt"}),
                                        ("ca", {"server": "https://shadowed.example"})],
                              users=[("ub", {"token": "token-b"})], contexts=[("b", "cb", "ub")], current="b")
    return first, second


def ca_text(connection):
    with open(connection.ca_file, encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("context, host, ca, authorization", [
    (None, "https://a.example", "CA OF FIRST", "Bearer token-a"),  # the first file's current-context wins, as with kubectl
    ("b", "https://b.example", "CA OF SECOND", "Bearer token-b"),  # a context of the second file, its CA path relative to it
])
def test_kubeconfig_files_are_merged_as_kubectl_merges_them(two_files, context, host, ca, authorization):
    source = os.pathsep.join(two_files)
    connection = k8s_connection.resolve_connection(FakeModule(kubeconfig=source, context=context), environ={})
    assert (connection.host, ca_text(connection), connection.authorization()) == (host, ca, authorization)
    assert connection.mode == "kubeconfig"


@pytest.mark.parametrize("params, environ, host", [
    # the kubeconfig option beats K8S_AUTH_KUBECONFIG and KUBECONFIG
    ({"kubeconfig": "FIRST"}, {"K8S_AUTH_KUBECONFIG": "SECOND", "KUBECONFIG": "SECOND"}, "https://a.example"),
    # context alone: the files of K8S_AUTH_KUBECONFIG, then KUBECONFIG, merged
    ({"context": "b"}, {"K8S_AUTH_KUBECONFIG": "FIRST:SECOND", "KUBECONFIG": "missing"}, "https://b.example"),
    ({"context": "b"}, {"KUBECONFIG": "FIRST:SECOND"}, "https://b.example"),
    # no option: K8S_AUTH_KUBECONFIG beats KUBECONFIG; KUBECONFIG's merged files, a missing one skipped
    ({}, {"K8S_AUTH_KUBECONFIG": "SECOND", "KUBECONFIG": "FIRST"}, "https://b.example"),
    ({}, {"KUBECONFIG": "MISSING:SECOND:FIRST"}, "https://b.example"),
    # K8S_AUTH_CONTEXT picks a's context; its cluster name "ca" is also in SECOND, listed first, whose entry wins
    ({}, {"K8S_AUTH_CONTEXT": "a", "KUBECONFIG": "SECOND:FIRST"}, "https://shadowed.example"),
])
def test_kubeconfig_precedence(two_files, tmp_path, params, environ, host):
    names = {"FIRST": two_files[0], "SECOND": two_files[1], "MISSING": str(tmp_path / "missing")}

    def paths(value):
        return os.pathsep.join(names.get(part, part) for part in value.split(":"))

    params = {key: paths(value) if key == "kubeconfig" else value for key, value in params.items()}
    environ = {key: paths(value) if "KUBECONFIG" in key else value for key, value in environ.items()}
    assert k8s_connection.resolve_connection(FakeModule(**params), environ=environ).host == host


@pytest.mark.parametrize("content, phrases", [
    ("clusters: [", ["is not valid YAML"]),
    ("- just\n- a list\n", ["is not a kubeconfig"]),
    ("clusters:\n- cluster: {server: https://x}\n", ["is not a kubeconfig", "entries with a name"]),
])
def test_a_broken_second_file_is_named(two_files, tmp_path, content, phrases):
    broken = tmp_path / "broken.yaml"
    broken.write_text(content, encoding="utf-8")
    with pytest.raises(errors.KubernetesError) as raised:
        k8s_connection.resolve_connection(FakeModule(kubeconfig=os.pathsep.join([two_files[0], str(broken)])), environ={})
    message = str(raised.value)
    assert str(broken) in message and all(phrase in message for phrase in phrases)


def test_no_current_context_asks_for_the_context_option(tmp_path):
    path = write_kubeconfig(tmp_path / "config", clusters=[("c", {"server": "https://c"})], users=[("u", {"token": "t"})],
                            contexts=[("only", "c", "u")])
    with pytest.raises(errors.KubernetesError, match=r"sets no current-context \(contexts: only\): set context to one of them"):
        k8s_connection.resolve_connection(FakeModule(kubeconfig=path), environ={})


def test_a_missing_certificate_file_is_named(tmp_path):
    path = write_kubeconfig(tmp_path / "config", clusters=[("c", {"server": "https://c", "certificate-authority": "nope.crt"})],
                            users=[("u", {"token": "t"})], contexts=[("x", "c", "u")], current="x")
    with pytest.raises(errors.KubernetesError, match=r"cannot be used with context 'x': File does not exist: .*nope\.crt"):
        k8s_connection.resolve_connection(FakeModule(kubeconfig=path), environ={})


def test_proxy_url_and_tls_server_name_reach_the_transport(tmp_path):
    cluster = {"server": "https://10.0.0.1:6443", "proxy-url": "http://proxy.example:3128", "tls-server-name": "api.internal"}
    path = write_kubeconfig(tmp_path / "config", clusters=[("c", cluster)], users=[("u", {"token": "t"})],
                            contexts=[("x", "c", "u")], current="x")
    connection = k8s_connection.resolve_connection(FakeModule(kubeconfig=path), environ={})
    assert (connection.proxy, connection.tls_server_name) == ("http://proxy.example:3128", "api.internal")
    client = k8s_api.KubernetesAPI(connection)
    assert isinstance(client._pool, k8s_api.urllib3.ProxyManager)
    assert client._pool.proxy.host == "proxy.example"
    assert client._pool.connection_pool_kw["server_hostname"] == "api.internal"
    # The task's proxy option wins over the kubeconfig's proxy-url, as in kubernetes.core.
    assert k8s_connection.resolve_connection(FakeModule(kubeconfig=path, proxy="http://other:8080"), environ={}).proxy == "http://other:8080"


def exec_plugin(tmp_path, status=None, exit_code=0, stderr=""):
    """A kubeconfig whose user runs a plugin script printing ``status`` (an ExecCredential's), counting its runs."""
    runs = tmp_path / "runs"
    script = tmp_path / "plugin.py"
    script.write_text(
        "import json, sys\n"
        "open({runs!r}, 'a').write('run\\n')\n"
        "sys.stderr.write({stderr!r})\n"
        "print(json.dumps({{'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', 'status': {status!r}}}))\n"
        "sys.exit({exit_code})\n".format(runs=str(runs), stderr=stderr, status=status or {}, exit_code=exit_code),
        encoding="utf-8")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": [str(script)],
                     "interactiveMode": "Never"}}
    path = write_kubeconfig(tmp_path / "config", clusters=[("c", {"server": "https://c.example"})], users=[("u", user)],
                            contexts=[("x", "c", "u")], current="x")

    def count():
        return len(runs.read_text().splitlines()) if runs.exists() else 0

    return path, count


def rfc3339(seconds_from_now):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_exec_plugin_token_is_kept_until_it_expires(tmp_path):
    path, runs = exec_plugin(tmp_path, {"token": "plugin-token", "expirationTimestamp": rfc3339(3600)})
    connection = k8s_connection.resolve_connection(FakeModule(kubeconfig=path), environ={})
    assert [connection.authorization() for _use in range(5)] == ["Bearer plugin-token"] * 5
    assert runs() == 1


def test_an_expiring_exec_plugin_token_is_asked_for_again(tmp_path):
    # Within the library's five minutes of skew, the token counts as expired: each use runs the plugin again.
    path, runs = exec_plugin(tmp_path, {"token": "short-lived", "expirationTimestamp": rfc3339(60)})
    connection = k8s_connection.resolve_connection(FakeModule(kubeconfig=path), environ={})
    assert connection.authorization() == "Bearer short-lived"
    assert connection.authorization() == "Bearer short-lived"
    assert runs() == 3  # one to load the kubeconfig, one per use


def test_an_exec_plugin_may_answer_a_client_certificate(tmp_path):
    path, runs = exec_plugin(tmp_path, {"clientCertificateData": "CERT PEM", "clientKeyData": "KEY PEM",
                                        "expirationTimestamp": rfc3339(3600)})
    connection = k8s_connection.resolve_connection(FakeModule(kubeconfig=path), environ={})
    with open(connection.client_cert, encoding="utf-8") as cert, open(connection.client_key, encoding="utf-8") as key:
        assert (cert.read(), key.read()) == ("CERT PEM", "KEY PEM")
    assert connection.authorization() is None and runs() == 1
    assert oct(os.stat(connection.client_key).st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("plugin, phrases", [
    (dict(exit_code=3, stderr="no credentials for profile prod"),
     ["credential plugin", "failed for cluster c", "exec: process returned 3", "no credentials for profile prod"]),
    (dict(status={"something": "else"}), ["neither a token nor clientCertificateData and clientKeyData"]),
    (dict(status={"token": "t", "expirationTimestamp": "tomorrow"}), ["bad expirationTimestamp"]),
])
def test_a_failing_exec_plugin_says_why(tmp_path, plugin, phrases):
    path, _runs = exec_plugin(tmp_path, **plugin)
    with pytest.raises(errors.KubernetesError) as raised:
        k8s_connection.resolve_connection(FakeModule(kubeconfig=path), environ={})
    assert all(phrase in str(raised.value) for phrase in phrases), str(raised.value)


def test_a_missing_exec_plugin_says_to_install_it(tmp_path):
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "no-such-plugin-anywhere"}}
    path = write_kubeconfig(tmp_path / "config", clusters=[("c", {"server": "https://c"})], users=[("u", user)],
                            contexts=[("x", "c", "u")], current="x")
    with pytest.raises(errors.KubernetesError, match="'no-such-plugin-anywhere' could not run: No such file or directory. Install it"):
        k8s_connection.resolve_connection(FakeModule(kubeconfig=path), environ={})


def test_in_cluster_configuration_reads_the_pods_service_account(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("pod-token", encoding="utf-8")
    (tmp_path / "ca.crt").write_text("POD CA", encoding="utf-8")
    monkeypatch.setattr(k8s_connection, "IN_CLUSTER_TOKEN", str(tmp_path / "token"))
    monkeypatch.setattr(k8s_connection, "IN_CLUSTER_CA", str(tmp_path / "ca.crt"))
    environ = {"KUBECONFIG": str(tmp_path / "none"), "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    connection = k8s_connection.resolve_connection(FakeModule(), environ=environ)
    assert (connection.host, connection.mode, ca_text(connection)) == ("https://10.96.0.1:443", "in-cluster", "POD CA")
    assert connection.authorization() == "bearer pod-token"


@pytest.mark.parametrize("params", [{"host": "https://api.example", "api_key": "k"}])
def test_the_host_option_does_without_the_kubernetes_library(params):
    """The kubernetes library is imported only to read a kubeconfig or the in-cluster configuration (its import is
    the cost measured in module_utils/k8s/api.py's docstring); the host option and EKS mode never pay it."""
    import subprocess  # pylint: disable=import-outside-toplevel

    script = (
        "import sys\n"
        "from ansible_collections.eks.irsa.plugins.module_utils.k8s import api as k8s_api\n"
        "from ansible_collections.eks.irsa.plugins.module_utils.k8s import connection as k8s_connection\n"
        "class Module:\n"
        "    params = dict({key: None for key in k8s_connection.k8s_argument_spec()}, **%r)\n"
        "k8s_api.KubernetesAPI(k8s_connection.resolve_connection(Module(), environ={}))\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'kubernetes'))\n" % (params,)
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert result.stdout.strip() == "[]"


def test_an_unreachable_proxy_is_named_without_its_credentials(monkeypatch):
    monkeypatch.setattr(k8s_api.time, "sleep", lambda seconds: None)
    connection = k8s_connection.Connection("https://api.example", token="t", proxy="http://alice:proxy-secret@proxy.example:3128")
    client = k8s_api.KubernetesAPI(connection)

    class Unreachable(FakePool):
        def request(self, method, url, body=None, headers=None):
            self.sent.append((method, url, headers))
            raise k8s_api.urllib3.exceptions.ProxyError("Unable to connect to proxy", OSError("Connection refused"))

    client._pool = Unreachable([])
    with pytest.raises(errors.KubernetesError) as raised:
        client.get_namespace("default")
    message = str(raised.value)
    assert "through the proxy http://proxy.example:3128" in message and "proxy-url" in message
    assert "proxy-secret" not in message and len(client._pool.sent) == k8s_api.MAX_ATTEMPTS


def test_the_secrets_of_a_kubeconfig_dict_are_hidden_before_anything_prints_them():
    provider = {"name": "oidc", "config": {"id-token": "idt", "refresh-token": "rft", "client-secret": "cs", "client-id": "public-id"}}
    env = [{"name": "AWS_SECRET_ACCESS_KEY", "value": "sak"}, {"name": "AWS_SESSION_TOKEN", "value": "st"},
           {"name": "AWS_PROFILE", "value": "prod"}]
    user = {"token": "tok", "auth-provider": provider, "exec": {"command": "aws", "env": env}}
    module = FakeModule(kubeconfig=dict(KUBECONFIG, users=[{"name": "u1", "user": user}]))
    module.no_log_values = set()
    k8s_connection.hide_kubeconfig_secrets(module)
    assert module.no_log_values == {"tok", "idt", "rft", "cs", "sak", "st"}


def test_cluster_name_still_names_the_eks_cluster_with_a_deprecation():
    """A playbook written before eks_cluster keeps working: cluster_name is its alias, deprecated for 1.0.0."""
    validated = ArgumentSpecValidator(k8s_connection.k8s_argument_spec()).validate({"cluster_name": "prod"})
    assert validated.error_messages == []
    assert validated.validated_parameters["eks_cluster"] == "prod"
    assert [(d["version"], d["collection_name"]) for d in validated._deprecations] == [("1.0.0", "eks.irsa")]
    assert "cluster_name" in validated._deprecations[0]["msg"]


def test_no_cluster_name_alias_where_cluster_name_names_the_issuer():
    spec = k8s_connection.k8s_argument_spec(cluster_alias=False)
    assert "aliases" not in spec["eks_cluster"]
    validated = ArgumentSpecValidator(spec).validate({"eks_cluster": "prod"})
    assert validated.validated_parameters["eks_cluster"] == "prod" and not validated._deprecations
