"""The Kubernetes connection: EKS tokens, the precedence of connection sources, kubeconfig reading, errors."""

import base64
import json
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from ansible_collections.eks.irsa.plugins.module_utils import k8s


def decode(token):
    assert token.startswith("k8s-aws-v1.")
    body = token[len("k8s-aws-v1."):]
    assert "=" not in body
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def test_eks_token_is_a_presigned_get_caller_identity_for_the_cluster():
    sts = boto3.client("sts", region_name="us-west-2", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    url = urlparse(decode(k8s.eks_token(sts, "my-cluster")))
    query = parse_qs(url.query)
    assert query["Action"] == ["GetCallerIdentity"]
    assert query["X-Amz-Expires"] == ["60"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    assert url.netloc.startswith("sts.")


def test_the_cluster_header_does_not_leak_into_other_calls():
    sts = boto3.client("sts", region_name="us-west-2", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    k8s.eks_token(sts, "a")
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    assert "x-k8s-aws-id" not in parse_qs(urlparse(url).query)["X-Amz-SignedHeaders"][0]


class FakeModule:
    def __init__(self, **params):
        self.params = dict({key: None for key in k8s.k8s_argument_spec()}, **params)
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
        ({"host": "https://explicit", "api_key": "k", "kubeconfig": KUBECONFIG, "cluster_name": "x"}, {}, "https://explicit", "the host option"),
        ({"kubeconfig": KUBECONFIG, "cluster_name": "x"}, {"K8S_AUTH_HOST": "https://env"}, "https://one.example:6443", "kubeconfig"),
        ({"kubeconfig": KUBECONFIG, "context": "two"}, {}, "https://two.example", "kubeconfig"),
        ({}, {"K8S_AUTH_HOST": "https://env", "K8S_AUTH_API_KEY": "k"}, "https://env", "K8S_AUTH_HOST"),
    ],
)
def test_precedence(params, environ, host, mode):
    connection = k8s.resolve_connection(FakeModule(**params), environ=environ)
    assert connection.host == host
    assert connection.mode == mode


def test_eks_mode_beats_the_environment(monkeypatch):
    seen = {}

    def fake_eks(module, cluster_name, verify, common):
        seen["cluster"] = cluster_name
        return k8s.Connection("https://eks", mode="eks")

    monkeypatch.setattr(k8s, "_eks", fake_eks)
    connection = k8s.resolve_connection(FakeModule(cluster_name="prod"), environ={"K8S_AUTH_HOST": "https://env"})
    assert connection.mode == "eks" and seen["cluster"] == "prod"


def test_kubeconfig_details():
    connection = k8s.resolve_connection(FakeModule(kubeconfig=KUBECONFIG), environ={})
    assert connection.ca_pem == "PEM"
    assert connection.token() == "secret-token"
    assert connection.verify is True
    assert k8s.resolve_connection(FakeModule(kubeconfig=KUBECONFIG, context="two"), environ={}).verify is False
    # The Kubernetes TLS option overrides the kubeconfig, and is not amazon.aws's validate_certs.
    assert k8s.resolve_connection(FakeModule(kubeconfig=KUBECONFIG, k8s_validate_certs=False), environ={}).verify is False
    assert "validate_certs" not in k8s.k8s_argument_spec()


def test_unknown_context_lists_the_known_ones():
    with pytest.raises(k8s.KubernetesError, match=r"Context 'three' is not in .*\(contexts: one, two\)"):
        k8s.resolve_connection(FakeModule(kubeconfig=KUBECONFIG, context="three"), environ={})


def test_missing_kubeconfig_file_says_what_to_do(tmp_path):
    with pytest.raises(k8s.KubernetesError, match="Cannot read the kubeconfig .*use cluster_name for EKS mode"):
        k8s.resolve_connection(FakeModule(kubeconfig=str(tmp_path / "missing")), environ={})


def test_nothing_to_connect_with(tmp_path):
    with pytest.raises(k8s.KubernetesError, match="No Kubernetes connection"):
        k8s.resolve_connection(FakeModule(), environ={"KUBECONFIG": str(tmp_path / "none")})


def test_exec_plugin_token_is_renewed_after_ten_minutes(monkeypatch):
    calls = []
    connection = k8s.Connection("https://x", token_source=lambda: calls.append(1) or "t%d" % len(calls))
    assert connection.token() == "t1"
    assert connection.token() == "t1"
    monkeypatch.setattr(k8s.time, "monotonic", lambda: 10**9)
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
    client = k8s.KubernetesAPI(k8s.Connection("https://api", token="secret-token", identity=identity, mode=mode))
    client._pool = FakePool(responses)
    return client


def test_403_names_the_identity_and_the_verb(monkeypatch):
    message = 'serviceaccounts "app" is forbidden: User "ci" cannot patch resource "serviceaccounts" in API group "" in the namespace "default"'
    client = api([FakeResponse(403, {"kind": "Status", "message": message, "reason": "Forbidden", "code": 403})])
    with pytest.raises(k8s.KubernetesError) as raised:
        client.patch_service_account("default", "app", {"metadata": {}})
    text = str(raised.value)
    assert message in text and "user 'u1'" in text and "'patch'" in text and "secret-token" not in text


def test_401_in_eks_mode_names_the_aws_identity_and_the_fix():
    client = api([FakeResponse(401, {"kind": "Status", "message": "Unauthorized", "code": 401})], mode="eks", identity="the AWS identity")
    client._aws_identity = lambda: ("arn:aws:iam::123456789012:user/ci", None)
    with pytest.raises(k8s.KubernetesError) as raised:
        client.get_service_account("default", "app")
    assert "arn:aws:iam::123456789012:user/ci" in str(raised.value) and "access entry" in str(raised.value)
    assert raised.value.status == 401


def test_throttling_is_retried(monkeypatch):
    monkeypatch.setattr(k8s.time, "sleep", lambda seconds: None)
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


class ReviewingAPI(k8s.KubernetesAPI):
    """The client with its transport replaced by a canned answer to the SelfSubjectAccessReview."""

    def __init__(self, answer):  # pylint: disable=super-init-not-called
        self.connection = k8s.Connection("https://api.example", token="t", identity="user 'dev' of context 'one' in x")
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
        with pytest.raises(k8s.KubernetesError) as raised:
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
