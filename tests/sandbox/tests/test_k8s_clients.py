"""The sandbox's Kubernetes through the kubernetes Python client (typed and DynamicClient) and raw
HTTPS: API errors, optimistic concurrency, dry runs, faults, the request log and EKS token auth."""

import base64
import datetime
import json
import ssl
import urllib.error
import urllib.request
from unittest import mock

import pytest
import yaml
from irsa_sandbox.testing import unique

kubernetes = pytest.importorskip("kubernetes")
from kubernetes.client.rest import ApiException  # noqa: E402
from kubernetes.dynamic import DynamicClient  # noqa: E402


@pytest.fixture
def api_client(sandbox):
    client = kubernetes.config.new_client_from_config(config_file=sandbox.env["KUBECONFIG"])
    yield client
    client.close()


@pytest.fixture
def namespace(sandbox, api_client):
    core = kubernetes.client.CoreV1Api(api_client)
    name = unique("client")
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def status_of(error):
    return json.loads(error.body)


def test_typed_client_errors_and_concurrency(sandbox, api_client, namespace):
    core = kubernetes.client.CoreV1Api(api_client)
    created = core.create_namespaced_service_account(namespace, {"metadata": {"name": "app", "labels": {"tier": "web"}}})
    assert created.metadata.resource_version and created.metadata.uid

    with pytest.raises(ApiException) as duplicate:
        core.create_namespaced_service_account(namespace, {"metadata": {"name": "app"}})
    assert duplicate.value.status == 409
    assert status_of(duplicate.value)["reason"] == "AlreadyExists"
    assert status_of(duplicate.value)["message"] == 'serviceaccounts "app" already exists'

    with pytest.raises(ApiException) as bad_name:
        core.create_namespaced_service_account(namespace, {"metadata": {"name": "Bad_Name"}})
    body = status_of(bad_name.value)
    assert (bad_name.value.status, body["reason"]) == (422, "Invalid")
    assert body["message"].startswith('ServiceAccount "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
                                      "a lowercase RFC 1123 subdomain must consist of")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["details"]["causes"][0]["reason"] == "FieldValueInvalid"

    with pytest.raises(ApiException) as missing:
        core.read_namespaced_service_account("nope", namespace)
    assert missing.value.status == 404
    assert status_of(missing.value)["message"] == 'serviceaccounts "nope" not found'

    stale = core.read_namespaced_service_account("app", namespace)
    fresh = core.patch_namespaced_service_account("app", namespace, {"metadata": {"annotations": {"a": "1"}}})
    assert int(fresh.metadata.resource_version) > int(stale.metadata.resource_version)
    stale.metadata.annotations = {"a": "2"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_service_account("app", namespace, stale)
    assert conflict.value.status == 409
    assert status_of(conflict.value)["reason"] == "Conflict"
    assert "the object has been modified" in status_of(conflict.value)["message"]
    fresh.metadata.annotations = {"a": "2"}
    assert core.replace_namespaced_service_account("app", namespace, fresh).metadata.annotations == {"a": "2"}

    unchanged = core.patch_namespaced_service_account("app", namespace, {"metadata": {"annotations": {"a": "2"}}})
    assert unchanged.metadata.resource_version == core.read_namespaced_service_account("app", namespace).metadata.resource_version

    dry = core.patch_namespaced_service_account("app", namespace, {"metadata": {"annotations": {"a": "3"}}}, dry_run="All")
    assert dry.metadata.annotations == {"a": "3"}
    assert core.read_namespaced_service_account("app", namespace).metadata.annotations == {"a": "2"}

    removed = core.patch_namespaced_service_account(
        "app", namespace, [{"op": "remove", "path": "/metadata/annotations/a"}])
    assert not removed.metadata.annotations

    selected = core.list_service_account_for_all_namespaces(label_selector="tier=web")
    assert [(sa.metadata.namespace, sa.metadata.name) for sa in selected.items] == [(namespace, "app")]
    assert core.list_namespaced_service_account(namespace, label_selector="tier!=web").items[0].metadata.name == "default"

    token = core.create_namespaced_service_account_token(
        "app", namespace, {"spec": {"audiences": ["sts.amazonaws.com"], "expirationSeconds": 600}})
    assert token.status.token.count(".") == 2 and token.spec.expiration_seconds == 600
    with pytest.raises(ApiException) as short:
        core.create_namespaced_service_account_token("app", namespace, {"spec": {"expirationSeconds": 60}})
    assert short.value.status == 422
    assert "may not specify a duration less than 10 minutes" in status_of(short.value)["message"]


def test_dynamic_client_list_and_patch(sandbox, api_client, namespace):
    dynamic = DynamicClient(api_client)
    service_accounts = dynamic.resources.get(api_version="v1", kind="ServiceAccount")
    service_accounts.create(body={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "dyn"}},
                            namespace=namespace)
    patched = service_accounts.patch(
        body={"metadata": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/dyn"}}},
        name="dyn", namespace=namespace, content_type="application/merge-patch+json")
    assert patched.metadata.annotations["eks.amazonaws.com/role-arn"].endswith(":role/dyn")
    strategic = service_accounts.patch(body={"metadata": {"annotations": {"eks.amazonaws.com/role-arn": None}}},
                                       name="dyn", namespace=namespace)
    assert not strategic.metadata.annotations
    listed = service_accounts.get(namespace=namespace)
    assert sorted(item.metadata.name for item in listed.items) == ["default", "dyn"]
    applied = service_accounts.server_side_apply(
        body={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "dyn", "labels": {"a": "b"}}},
        name="dyn", namespace=namespace, field_manager="test")
    assert applied.to_dict()["metadata"]["labels"] == {"a": "b"}
    webhooks = dynamic.resources.get(api_version="admissionregistration.k8s.io/v1", kind="MutatingWebhookConfiguration")
    assert "pod-identity-webhook" in [item.metadata.name for item in webhooks.get().items]
    pods = dynamic.resources.get(api_version="v1", kind="Pod")
    with pytest.raises(kubernetes.dynamic.exceptions.NotFoundError):
        pods.get(name="nope", namespace=namespace)


def test_request_log_and_throttling(sandbox, namespace):
    # urllib3 honours Retry-After on 429/503 by itself; without retries each fault shows.
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=sandbox.env["KUBECONFIG"], client_configuration=configuration)
    configuration.retries = False
    core = kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(configuration))
    sandbox.reset_log()
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "logged"}})
    core.patch_namespaced_service_account("logged", namespace, {"metadata": {"labels": {"x": "y"}}})
    core.list_namespaced_service_account(namespace)
    calls = [c for c in sandbox.log()["calls"] if c["service"] == "kubernetes"]
    assert [(c["action"], c["write"], c["status"]) for c in calls] == [
        ("create serviceaccounts", True, 201),
        ("patch serviceaccounts", True, 200),
        ("list serviceaccounts", False, 200),
    ]

    sandbox.set_faults([{"service": "kubernetes", "action": "list serviceaccounts", "kind": "throttle", "fraction": 1.0}])
    try:
        with pytest.raises(ApiException) as throttled:
            core.list_namespaced_service_account(namespace)
        assert throttled.value.status == 429
        assert throttled.value.headers["Retry-After"] == "1"
        assert status_of(throttled.value)["reason"] == "TooManyRequests"
        sandbox.set_faults([{"service": "kubernetes", "action": "get *", "kind": "error", "status": 503, "fraction": 1.0}])
        with pytest.raises(ApiException) as unavailable:
            core.read_namespaced_service_account("logged", namespace)
        assert unavailable.value.status == 503
        assert status_of(unavailable.value)["reason"] == "ServiceUnavailable"
    finally:
        sandbox.set_faults([])
    faulted = [c for c in sandbox.log()["calls"] if c["fault"]]
    assert [(c["action"], c["status"], c["fault"]) for c in faulted] == [
        ("list serviceaccounts", 429, "throttle"), ("get serviceaccounts", 503, "error")]


# ---------------------------------------------------------------------------------- EKS tokens


def eks_token(sandbox, cluster, when=None):
    """``aws eks get-token``'s token (awscli's own generator), optionally signed at ``when``."""
    import botocore.session
    from awscli.customizations.eks.get_token import STSClientFactory, TokenGenerator

    session = botocore.session.Session()
    session.set_credentials(sandbox.env["AWS_ACCESS_KEY_ID"], sandbox.env["AWS_SECRET_ACCESS_KEY"])
    session.set_config_variable("region", sandbox.env["AWS_REGION"])
    with mock.patch.dict("os.environ", {"AWS_ENDPOINT_URL": sandbox.env["AWS_ENDPOINT_URL"]}):
        sts = STSClientFactory(session).get_sts_client(region_name=sandbox.env["AWS_REGION"])
        if when is None:
            return TokenGenerator(sts).get_token(cluster)
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            return TokenGenerator(sts).get_token(cluster)


def raw_get(sandbox, path, token):
    cluster = sandbox.cluster()
    context = ssl.create_default_context(cadata=_ca_pem(sandbox))
    request = urllib.request.Request(cluster["endpoint"] + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _ca_pem(sandbox):
    import yaml

    with open(sandbox.env["KUBECONFIG"], encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    data = config["clusters"][0]["cluster"]["certificate-authority-data"]
    return base64.b64decode(data).decode()


def test_eks_token_authentication(sandbox):
    cluster = sandbox.cluster()["name"]
    unauthorized = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}

    good = eks_token(sandbox, cluster)
    assert good.startswith("k8s-aws-v1.")
    status, body = raw_get(sandbox, "/api/v1/namespaces/default/serviceaccounts", good)
    assert status == 200 and body["kind"] == "ServiceAccountList"
    status, review = _whoami(sandbox, good)
    assert review["status"]["userInfo"]["username"] == "arn:aws:iam::123456789012:user/sandbox-admin"

    assert raw_get(sandbox, "/api/v1/namespaces", eks_token(sandbox, "some-other-cluster")) == (401, unauthorized)
    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=16)
    assert raw_get(sandbox, "/api/v1/namespaces", eks_token(sandbox, cluster, when=old)) == (401, unauthorized)
    encoded = good[len("k8s-aws-v1."):]
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    tampered = url.replace("Action=GetCallerIdentity", "Action=GetCallerIdentity&Version=2011-06-15", 1) \
        if "Version=" not in url else url.replace("Version=2011-06-15", "Version=2011-06-16")
    forged = "k8s-aws-v1." + base64.urlsafe_b64encode(tampered.encode()).decode().rstrip("=")
    assert raw_get(sandbox, "/api/v1/namespaces", forged) == (401, unauthorized)
    assert raw_get(sandbox, "/api/v1/namespaces", "k8s-aws-v1.garbage") == (401, unauthorized)
    assert raw_get(sandbox, "/api/v1/namespaces", "not-a-token") == (401, unauthorized)


def _whoami(sandbox, token):
    cluster = sandbox.cluster()
    context = ssl.create_default_context(cadata=_ca_pem(sandbox))
    request = urllib.request.Request(
        cluster["endpoint"] + "/apis/authentication.k8s.io/v1/selfsubjectreviews", method="POST",
        data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=context, timeout=15) as response:
        return response.status, json.loads(response.read())


def test_oidc_discovery_and_anonymous_access(sandbox):
    """The issuer's discovery is the apiserver's own (system:service-account-issuer-discovery: ServiceAccounts and
    admins may read it, as on EKS, where the public copy is AWS's issuer URL); anonymous requests are refused."""
    cluster = sandbox.cluster()
    context = ssl.create_default_context(cadata=_ca_pem(sandbox))
    with open(sandbox.env["KUBECONFIG"], encoding="utf-8") as handle:
        token = yaml.safe_load(handle)["users"][0]["user"]["token"]  # the kubeconfig's admin
    status, discovery = raw_get(sandbox, "/.well-known/openid-configuration", token)
    assert status == 200 and discovery["issuer"] == cluster["issuer_url"]
    status, jwks = raw_get(sandbox, "/openid/v1/jwks", token)
    assert status == 200 and jwks["keys"][0]["alg"] == "RS256"
    with pytest.raises(urllib.error.HTTPError) as anonymous_discovery:
        urllib.request.urlopen(cluster["endpoint"] + "/.well-known/openid-configuration", context=context)
    assert anonymous_discovery.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(cluster["endpoint"] + "/api/v1/namespaces", context=context)
    assert anonymous.value.code == 403
    assert json.loads(anonymous.value.read())["message"] == (
        'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" '
        "at the cluster scope")
