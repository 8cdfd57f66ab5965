"""Fault rules that model other parties: a concurrent writer (``conflict``), capped rules (``limit``),
and the cluster's own STS calls, which AWS faults leave alone."""

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from unittest import mock

import pytest
import yaml
from botocore.exceptions import ClientError
from irsa_sandbox.testing import unique

kubernetes = pytest.importorskip("kubernetes")
from kubernetes.client.rest import ApiException  # noqa: E402

THEIRS = {"metadata": {"labels": {"team": "payments"}, "annotations": {"example.com/owner": "payments"}}}


@pytest.fixture
def core(sandbox):
    # No client-side retries: every answer of the apiserver shows.
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=sandbox.env["KUBECONFIG"], client_configuration=configuration)
    configuration.retries = False
    client = kubernetes.client.ApiClient(configuration)
    yield kubernetes.client.CoreV1Api(client)
    client.close()


@pytest.fixture
def namespace(core):
    name = unique("conflict")
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def faulted(sandbox, action):
    return [(c["status"], c["fault"]) for c in sandbox.log()["calls"] if c["service"] == "kubernetes" and c["action"] == action]


def test_a_conditional_write_after_another_writer_gets_409_and_the_retry_keeps_both(sandbox, core, namespace):
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "app", "labels": {"tier": "web"}}})
    read = core.read_namespaced_service_account("app", namespace)
    sandbox.reset_log()
    sandbox.set_faults([{"service": "kubernetes", "action": "patch serviceaccounts", "kind": "conflict",
                         "limit": 1, "change": THEIRS}])
    ours = {"metadata": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/app"}}}
    try:
        with pytest.raises(ApiException) as conflict:
            core.patch_namespaced_service_account(
                "app", namespace, {"metadata": dict(ours["metadata"], resourceVersion=read.metadata.resource_version)})
        assert conflict.value.status == 409
        assert json.loads(conflict.value.body)["reason"] == "Conflict"

        # The other writer's change is stored under a new resourceVersion; ours is not.
        reread = core.read_namespaced_service_account("app", namespace)
        assert reread.metadata.resource_version != read.metadata.resource_version
        assert reread.metadata.labels == {"tier": "web", "team": "payments"}
        assert reread.metadata.annotations == {"example.com/owner": "payments"}

        # limit 1: the retry with the new resourceVersion goes through, on top of their change.
        patched = core.patch_namespaced_service_account(
            "app", namespace, {"metadata": dict(ours["metadata"], resourceVersion=reread.metadata.resource_version)})
        rules = sandbox.control("GET", "faults")["rules"]
    finally:
        sandbox.set_faults([])
    assert patched.metadata.annotations == {"example.com/owner": "payments",
                                            "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/app"}
    assert patched.metadata.labels == {"tier": "web", "team": "payments"}
    assert rules[0]["injected"] == 1
    assert faulted(sandbox, "patch serviceaccounts") == [(409, "conflict"), (200, "")]


def test_an_unconditional_write_lands_on_top_of_the_other_writers_change(sandbox, core, namespace):
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "app"}})
    sandbox.reset_log()
    sandbox.set_faults([{"service": "kubernetes", "action": "patch serviceaccounts", "kind": "conflict", "change": THEIRS}])
    try:
        patched = core.patch_namespaced_service_account("app", namespace, {"metadata": {"labels": {"tier": "web"}}})
    finally:
        sandbox.set_faults([])
    assert patched.metadata.labels == {"team": "payments", "tier": "web"}
    assert patched.metadata.annotations == {"example.com/owner": "payments"}
    assert faulted(sandbox, "patch serviceaccounts") == [(200, "conflict")]


def test_a_delete_with_a_stale_precondition_gets_409(sandbox, core, namespace):
    created = core.create_namespaced_service_account(namespace, {"metadata": {"name": "app"}})
    sandbox.set_faults([{"service": "kubernetes", "action": "delete serviceaccounts", "kind": "conflict", "limit": 1,
                         "change": THEIRS}])
    try:
        with pytest.raises(ApiException) as conflict:
            core.delete_namespaced_service_account("app", namespace, body=kubernetes.client.V1DeleteOptions(
                preconditions=kubernetes.client.V1Preconditions(resource_version=created.metadata.resource_version)))
    finally:
        sandbox.set_faults([])
    assert conflict.value.status == 409
    assert core.read_namespaced_service_account("app", namespace).metadata.labels == {"team": "payments"}


def test_conflict_rules_fire_only_on_writes_to_existing_objects(sandbox, core, namespace):
    sandbox.set_faults([{"service": "*", "action": "*", "kind": "conflict", "change": THEIRS}])
    try:
        core.create_namespaced_service_account(namespace, {"metadata": {"name": "new"}})
        core.read_namespaced_service_account("new", namespace)
        core.list_namespaced_service_account(namespace)
        with pytest.raises(ApiException) as missing:
            core.patch_namespaced_service_account("absent", namespace, {"metadata": {"labels": {"a": "b"}}})
        sandbox.client("iam").list_roles()  # AWS has no such fault
        sandbox.client("sts").get_caller_identity()
        rules = sandbox.control("GET", "faults")["rules"]
    finally:
        sandbox.set_faults([])
    assert missing.value.status == 404
    assert rules[0]["injected"] == 0
    assert not core.read_namespaced_service_account("new", namespace).metadata.labels


def test_limit_caps_the_faults_of_a_rule(sandbox, core, namespace):
    sandbox.reset_log()
    sandbox.set_faults([{"service": "kubernetes", "action": "list serviceaccounts", "kind": "throttle", "fraction": 1.0,
                         "limit": 2}])
    try:
        for _unused in range(2):
            with pytest.raises(ApiException) as throttled:
                core.list_namespaced_service_account(namespace)
            assert throttled.value.status == 429
        core.list_namespaced_service_account(namespace)
        rules = sandbox.control("GET", "faults")["rules"]
    finally:
        sandbox.set_faults([])
    assert rules[0]["injected"] == 2
    assert faulted(sandbox, "list serviceaccounts") == [(429, "throttle"), (429, "throttle"), (200, "")]


def test_sts_faults_leave_the_clusters_own_token_check_alone(sandbox):
    """An EKS bearer token still authenticates while every STS call of the client is throttled."""
    import botocore.session
    from awscli.customizations.eks.get_token import STSClientFactory, TokenGenerator

    session = botocore.session.Session()
    session.set_credentials(sandbox.env["AWS_ACCESS_KEY_ID"], sandbox.env["AWS_SECRET_ACCESS_KEY"])
    session.set_config_variable("region", sandbox.env["AWS_REGION"])
    # A token is presigned to the second, and kube-apiserver caches the webhook's answer for a token (2 minutes): a
    # test before this one on the same sandbox may have made the very same token in the same second, and the check
    # would then not reach STS at all. A token of a later second is one no earlier test made.
    time.sleep(1.1)
    with mock.patch.dict("os.environ", {"AWS_ENDPOINT_URL": sandbox.env["AWS_ENDPOINT_URL"]}):
        token = TokenGenerator(STSClientFactory(session).get_sts_client(region_name=sandbox.env["AWS_REGION"])).get_token("sandbox")
    cluster = sandbox.cluster()
    with open(sandbox.env["KUBECONFIG"], encoding="utf-8") as handle:
        ca = base64.b64decode(yaml.safe_load(handle)["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    request = urllib.request.Request(cluster["endpoint"] + "/api/v1/namespaces/default/serviceaccounts",
                                     headers={"Authorization": "Bearer " + token})
    sandbox.reset_log()
    sandbox.set_faults([{"service": "sts", "kind": "throttle", "fraction": 1.0}])
    try:
        with pytest.raises(ClientError) as throttled:
            sandbox.client("sts").get_caller_identity()
        try:
            with urllib.request.urlopen(request, context=ssl.create_default_context(cadata=ca), timeout=15) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        rules = sandbox.control("GET", "faults")["rules"]
    finally:
        sandbox.set_faults([])
    assert throttled.value.response["Error"]["Code"] == "Throttling"
    assert status == 200
    assert rules[0]["injected"] == 1
    checks = [c for c in sandbox.log()["calls"] if c["action"] == "GetCallerIdentity"]
    assert [(c["status"], c["fault"]) for c in checks] == [(400, "throttle"), (200, "")]
