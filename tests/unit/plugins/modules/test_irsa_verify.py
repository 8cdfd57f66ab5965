# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""irsa_verify's orchestration against stubbed AWS reads, STS and Kubernetes API: what is read once, what is
retried, that pods are always deleted, and that no token or credential leaves the module."""

import copy
import json
import threading
import time

import botocore.exceptions
import pytest

from ansible_collections.eks.irsa.plugins.module_utils import aws
from ansible_collections.eks.irsa.plugins.module_utils import iam
from ansible_collections.eks.irsa.plugins.module_utils.errors import KubernetesError
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.verify import runner
from ansible_collections.eks.irsa.plugins.module_utils.verify.pod import pod_manifest
from ansible_collections.eks.irsa.plugins.modules import irsa_verify

ACCOUNT = "111122223333"
PROVIDER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
ISSUER = "https://" + PROVIDER
PROVIDER_ARN = "arn:aws:iam::{0}:oidc-provider/{1}".format(ACCOUNT, PROVIDER)
ROLE_ARN = "arn:aws:iam::{0}:role/my-app".format(ACCOUNT)
TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXNlcnZpY2VhY2NvdW50LXRva2Vu.signature-of-the-secret-token"
CREDENTIALS = {
    "AccessKeyId": "ASIAEXAMPLETEMPORARY",
    "SecretAccessKey": "temporary/secret/access/key/never/shown",
    "SessionToken": "FwoGZXIvYXdzEXAMPLEsessiontokenneverreturned",
}
SECRETS = (TOKEN, CREDENTIALS["SecretAccessKey"], CREDENTIALS["SessionToken"], CREDENTIALS["AccessKeyId"])


def trust(*subjects):
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {PROVIDER + ":sub": list(subjects), PROVIDER + ":aud": "sts.amazonaws.com"}},
    }]}


class InstantEvent(threading.Event):
    """A stop event whose waits return at once, so retries and polls take no time."""

    def __init__(self):
        super().__init__()
        self.waited = []

    def wait(self, timeout=None):
        self.waited.append(timeout)
        return self.is_set()


class ClockEvent(InstantEvent):
    """A stop event whose waits move a fake ``time.monotonic`` of irsa_verify forward instead of sleeping."""

    def __init__(self, monkeypatch):
        super().__init__()
        self.now = 0.0
        monkeypatch.setattr(runner.time, "monotonic", lambda: self.now)

    def wait(self, timeout=None):
        self.now += timeout
        return super().wait(timeout)


class FakeModule:
    def __init__(self, check_mode=False, **params):
        self.params = dict(
            namespace="default", service_account=None, role_arn=None, service_accounts=None, cluster_name=None,
            oidc_provider=ISSUER, checks=["static", "token"], fail_on_error=True, propagation_timeout=60,
            pod_timeout=180, image="public.ecr.aws/aws-cli/aws-cli:2.25.4", image_pull_secrets=[],
            pod_command=["aws", "sts", "get-caller-identity", "--output", "json"], keep_pod=False, max_concurrency=10,
            trust_policy_size_limit=2048, region="us-west-2", endpoint_url=None, access_key=None, secret_key=None,
            session_token=None, profile=None, validate_certs=True, aws_ca_bundle=None, aws_config=None,
        )
        self.params.update(params)
        self.check_mode = check_mode
        self.region = "us-west-2"
        self.no_log_values = set()
        self.warnings = []

    def client(self, service, **_extra):
        return "client:" + service

    def warn(self, message):
        self.warnings.append(message)


def mutate(pod, role_arn):
    pod = copy.deepcopy(pod)
    pod["spec"]["volumes"].insert(0, {"name": "aws-iam-token", "projected": {"sources": []}})
    pod["spec"]["containers"][0]["env"] += [
        {"name": "AWS_ROLE_ARN", "value": role_arn},
        {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
    ]
    pod["status"] = {"phase": "Pending"}
    return pod


class FakeKube:
    """The KubernetesAPI calls irsa_verify makes, over in-memory objects."""

    def __init__(self, service_accounts, webhook=True, pod_log=None, pod_phases=("Running", "Succeeded"), mutating=True):
        self.service_accounts = service_accounts
        self.webhook = webhook
        self.log = pod_log
        self.pod_phases = list(pod_phases)
        self.mutating = mutating
        self.calls = []
        self.pods = {}
        self.deleted = []
        self.lock = threading.Lock()
        self.fail_get_pod = None

    def record(self, *call):
        with self.lock:
            self.calls.append(call)

    def get_service_account(self, namespace, name):
        self.record("get_service_account", namespace, name)
        return copy.deepcopy(self.service_accounts.get((namespace, name)))

    def list_service_accounts(self, namespace):
        self.record("list_service_accounts", namespace)
        return [copy.deepcopy(sa) for (ns, _name), sa in sorted(self.service_accounts.items()) if ns == namespace]

    def get_namespace(self, namespace):
        self.record("get_namespace", namespace)
        return {"metadata": {"name": namespace}} if any(ns == namespace for ns, _name in self.service_accounts) else None

    def list_pods(self, namespace, service_account=None):
        self.record("list_pods", namespace)
        return []

    def list_mutating_webhook_configurations(self):
        self.record("list_mutating_webhook_configurations")
        return [{"metadata": {"name": "pod-identity-webhook"}, "webhooks": [{"name": "iam-for-pods.amazonaws.com"}]}] if self.webhook else []

    def create_token(self, namespace, name, audience, expiration_seconds, bound_pod=None):
        if bound_pod:
            self.record("create_token", namespace, name, audience, expiration_seconds, bound_pod["metadata"]["name"])
        else:
            self.record("create_token", namespace, name, audience, expiration_seconds)
        return TOKEN

    def create_pod(self, namespace, manifest):
        self.record("create_pod", namespace, manifest["metadata"]["name"])
        sa = self.service_accounts[(namespace, manifest["spec"]["serviceAccountName"])]
        pod = mutate(manifest, sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]) if self.mutating else dict(manifest, status={})
        self.pods[manifest["metadata"]["name"]] = pod
        return copy.deepcopy(pod)

    def get_pod(self, namespace, name):
        self.record("get_pod", namespace, name)
        if self.fail_get_pod:
            raise self.fail_get_pod
        pod = self.pods[name]
        if self.pod_phases:
            phase = self.pod_phases.pop(0)
            pod["status"]["phase"] = phase
            if phase in ("Succeeded", "Failed"):
                pod["status"]["containerStatuses"] = [{"name": "irsa-verify", "state": {"terminated": {
                    "exitCode": 0 if phase == "Succeeded" else 1, "reason": "Completed" if phase == "Succeeded" else "Error"}}}]
        return copy.deepcopy(pod)

    def pod_log(self, namespace, name, container=None, tail_lines=200):
        self.record("pod_log", namespace, name)
        return self.log or ""

    def list_events(self, namespace, involved_name):
        self.record("list_events", namespace, involved_name)
        return [{"type": "Normal", "reason": "Started", "message": "Started container irsa-verify"}]

    def delete_pod(self, namespace, name):
        self.record("delete_pod", namespace, name)
        self.deleted.append(name)
        self.pods.pop(name, None)

    def count(self, name):
        return sum(1 for call in self.calls if call[0] == name)


def annotated(name="my-app", namespace="default", role_arn=ROLE_ARN, **extra):
    annotations = {"eks.amazonaws.com/role-arn": role_arn}
    annotations.update(extra)
    return {(namespace, name): {"metadata": {"name": name, "namespace": namespace, "annotations": annotations}}}


class FakeAWS:
    """The AWS reads and the STS exchange, with counters."""

    def __init__(self, monkeypatch, roles=None, provider_client_ids=("sts.amazonaws.com",), sts_answers=None, identity_role="my-app"):
        default_role = {"RoleName": "my-app", "Arn": ROLE_ARN, "AssumeRolePolicyDocument": trust("system:serviceaccount:default:my-app")}
        self.roles = roles if roles is not None else {"my-app": default_role}
        self.provider_client_ids = provider_client_ids
        self.sts_answers = list(sts_answers or [])
        self.identity_role = identity_role
        self.calls = []
        self.lock = threading.Lock()
        monkeypatch.setattr(iam, "get_role", self.get_role)
        monkeypatch.setattr(aws, "get_oidc_provider", self.get_oidc_provider)
        monkeypatch.setattr(aws, "caller_identity", lambda client: {"account_id": ACCOUNT, "arn": "x", "partition": "aws"})
        # The boto3 call itself: STS's whole answer, credentials included, goes through the module's own code.
        monkeypatch.setattr(aws, "_assume_role_with_web_identity", self.assume)

    def record(self, *call):
        with self.lock:
            self.calls.append(call)

    def count(self, name):
        return sum(1 for call in self.calls if call[0] == name)

    def get_role(self, client, name):
        self.record("get_role", name)
        return copy.deepcopy(self.roles.get(name))

    def get_oidc_provider(self, client, arn):
        self.record("get_oidc_provider", arn)
        if self.provider_client_ids is None:
            return None
        return {"arn": arn, "client_ids": list(self.provider_client_ids)}

    def assume(self, client, role_arn, token, session_name, duration=900):
        self.record("assume", role_arn)
        assert token == TOKEN
        with self.lock:
            answer = self.sts_answers.pop(0) if self.sts_answers else None
        if answer:
            raise botocore.exceptions.ClientError({"Error": {"Code": answer[0], "Message": answer[1]}}, "AssumeRoleWithWebIdentity")
        session = "arn:aws:sts::{0}:assumed-role/{1}/eks-irsa-verify-1".format(ACCOUNT, self.identity_role)
        return {"Credentials": dict(CREDENTIALS), "AssumedRoleUser": {"Arn": session, "AssumedRoleId": "AROAEXAMPLE:eks-irsa-verify-1"},
                "SubjectFromWebIdentityToken": "system:serviceaccount:default:my-app", "Audience": "sts.amazonaws.com"}


def make_verifier(module, kube, checks=None):
    verifier = runner.Verifier(module, kube, checks or module.params["checks"])
    verifier.stop = InstantEvent()
    return verifier


def binding(name="my-app", namespace="default", role_arn=None):
    return {"namespace": namespace, "name": name, "role_arn": role_arn}


def names(entry, failed_only=True):
    return [c["name"] for c in entry["checks"] if not failed_only or (c["passed"] is False and c["severity"] == "error")]


def assert_no_secret(*objects):
    text = json.dumps(objects, default=str)
    for secret in SECRETS:
        assert secret not in text


# ---------------------------------------------------------------------------------------------


def test_static_and_token_pass(monkeypatch):
    FakeAWS(monkeypatch)
    kube = FakeKube(annotated())
    module = FakeModule()
    entry = make_verifier(module, kube).verify(binding())
    assert entry["verified"], entry["checks"]
    assert names(entry, failed_only=False) == ["role_arn_annotation", "role", "oidc_provider", "trust_policy", "webhook", "token"]
    assert entry["caller_identity"] == {
        "account": ACCOUNT, "arn": "arn:aws:sts::111122223333:assumed-role/my-app/eks-irsa-verify-1", "user_id": "AROAEXAMPLE:eks-irsa-verify-1",
    }
    assert entry["attempts"] == 1
    assert ("create_token", "default", "my-app", "sts.amazonaws.com", 600) in kube.calls
    assert_no_secret(entry, module.warnings)
    # Ansible masks the token in anything the module returns, should it ever slip through; the temporary
    # credentials are dropped where STS's answer is read.
    assert TOKEN in module.no_log_values


def test_propagation_is_retried_with_backoff(monkeypatch):
    denied = ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    aws = FakeAWS(monkeypatch, sts_answers=[denied, ("InvalidIdentityToken", "No OpenIDConnect provider found"), denied])
    verifier = make_verifier(FakeModule(), FakeKube(annotated()))
    entry = verifier.verify(binding())
    assert entry["verified"]
    assert entry["attempts"] == 4
    assert verifier.stop.waited == [1.0, 2.0, 4.0]
    assert "4 attempts" in [c for c in entry["checks"] if c["name"] == "token"][0]["message"]
    assert aws.count("assume") == 4


def test_retries_stop_at_the_propagation_timeout(monkeypatch):
    denied = ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    FakeAWS(monkeypatch, sts_answers=[denied] * 50)
    verifier = make_verifier(FakeModule(propagation_timeout=20, checks=["token"]), FakeKube(annotated()))
    verifier.stop = ClockEvent(monkeypatch)
    entry = verifier.verify(binding())
    assert not entry["verified"]
    # The last pause is shortened so that the last attempt is made when the 20 s are up.
    assert verifier.stop.waited == [1.0, 2.0, 4.0, 8.0, 5.0]
    (token,) = [c for c in entry["checks"] if c["name"] == "token"]
    assert "STS answered AccessDenied" in token["message"]
    assert "(6 attempts over 20 s)" in token["message"]


def test_trust_that_reaches_sts_in_the_last_seconds_of_the_timeout_passes(monkeypatch):
    denied = ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    # Refused at 0, 1, 3, 7 and 15 s; accepted at 20 s, the end of propagation_timeout.
    aws = FakeAWS(monkeypatch, sts_answers=[denied] * 5)
    verifier = make_verifier(FakeModule(propagation_timeout=20, checks=["token"]), FakeKube(annotated()))
    verifier.stop = ClockEvent(monkeypatch)
    entry = verifier.verify(binding())
    assert entry["verified"], entry["checks"]
    assert entry["attempts"] == 6 and aws.count("assume") == 6
    assert verifier.stop.now == 20.0


def test_a_refusal_past_the_timeout_with_a_right_trust_is_reported_as_not_propagated(monkeypatch):
    FakeAWS(monkeypatch, sts_answers=[("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")] * 50)
    verifier = make_verifier(FakeModule(propagation_timeout=20), FakeKube(annotated()))
    verifier.stop = ClockEvent(monkeypatch)
    entry = verifier.verify(binding())
    assert not entry["verified"]
    assert names(entry) == ["token"]
    (token,) = [c for c in entry["checks"] if c["name"] == "token"]
    assert "STS has not caught up with IAM" in token["message"] and "propagation_timeout (20 s) ran out" in token["message"]
    assert "(6 attempts over 20 s)" in token["message"]
    assert "raise propagation_timeout (now 20 s)" in token["remediation"]


def test_a_cause_found_by_static_is_not_retried(monkeypatch):
    aws = FakeAWS(monkeypatch, sts_answers=[("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")] * 5)
    kube = FakeKube(annotated(name="intruder"))
    entry = make_verifier(FakeModule(), kube).verify(binding(name="intruder"))
    assert not entry["verified"]
    assert names(entry) == ["trust_policy", "token"]
    assert entry["attempts"] == 1 and aws.count("assume") == 1
    token = entry["checks"][-1]
    assert token["message"].startswith("STS answered AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity. The trust policy")


def test_unannotated_service_account_stops_before_sts(monkeypatch):
    aws = FakeAWS(monkeypatch)
    kube = FakeKube({("default", "plain"): {"metadata": {"name": "plain", "annotations": {}}}})
    entry = make_verifier(FakeModule(), kube).verify(binding(name="plain"))
    assert names(entry) == ["role_arn_annotation", "token"]
    assert aws.count("assume") == 0 and kube.count("create_token") == 0
    assert entry["role_arn"] == ""


def test_missing_service_account_and_namespace(monkeypatch):
    FakeAWS(monkeypatch)
    entry = make_verifier(FakeModule(), FakeKube({})).verify(binding(name="ghost", namespace="nowhere"))
    assert names(entry) == ["service_account", "token"]
    assert "The namespace 'nowhere' does not exist" in entry["checks"][0]["message"]


def test_kubernetes_errors_become_a_finding(monkeypatch):
    FakeAWS(monkeypatch)
    kube = FakeKube(annotated())

    def forbidden(*_args):
        raise KubernetesError("serviceaccounts \"my-app\" is forbidden (403 Forbidden for user 'ci')", status=403)

    kube.create_token = forbidden
    entry = make_verifier(FakeModule(), kube).verify(binding())
    assert not entry["verified"]
    assert entry["checks"][-1]["message"].startswith("Verification stopped: serviceaccounts \"my-app\" is forbidden")


def test_shared_facts_are_read_once(monkeypatch):
    aws = FakeAWS(monkeypatch)
    service_accounts = {}
    for index in range(12):
        service_accounts.update(annotated(name="app-{0}".format(index), namespace="ns-{0}".format(index % 3)))
    aws.roles["my-app"]["AssumeRolePolicyDocument"] = trust(*["system:serviceaccount:ns-{0}:app-{1}".format(i % 3, i) for i in range(12)])
    kube = FakeKube(service_accounts)
    verifier = make_verifier(FakeModule(max_concurrency=4), kube)
    results = verifier.run([binding(name="app-{0}".format(i), namespace="ns-{0}".format(i % 3)) for i in range(12)])
    assert [entry["service_account"] for entry in results] == ["app-{0}".format(i) for i in range(12)]
    assert all(entry["verified"] for entry in results)
    assert aws.count("get_role") == 1
    assert aws.count("get_oidc_provider") == 1
    assert kube.count("list_mutating_webhook_configurations") == 1
    assert kube.count("list_pods") == 3
    # Several bindings of one namespace: one list instead of a read each.
    assert kube.count("list_service_accounts") == 3
    assert kube.count("get_service_account") == 0
    assert aws.count("assume") == 12


def test_a_lone_binding_of_a_namespace_reads_its_service_account(monkeypatch):
    FakeAWS(monkeypatch)
    service_accounts = dict(annotated())
    service_accounts.update(annotated(name="other", namespace="prod"))
    kube = FakeKube(service_accounts)
    verifier = make_verifier(FakeModule(), kube)
    results = verifier.run([binding(), binding(name="missing")])
    assert results[0]["verified"] and not results[1]["verified"]
    assert "role_arn_annotation" in names(results[1]) or "service_account" in names(results[1])
    assert kube.count("list_service_accounts") == 1 and kube.count("get_service_account") == 0
    lone = make_verifier(FakeModule(), kube)
    kube.calls = []
    assert lone.run([binding(name="other", namespace="prod")])[0]["service_account"] == "other"
    assert kube.count("get_service_account") == 1 and kube.count("list_service_accounts") == 0


def test_pod_check_success_deletes_the_pod(monkeypatch):
    FakeAWS(monkeypatch)
    log = json.dumps({"UserId": "AROAEXAMPLE:botocore-session-1", "Account": ACCOUNT,
                      "Arn": "arn:aws:sts::111122223333:assumed-role/my-app/botocore-session-1"})
    kube = FakeKube(annotated(), pod_log=log)
    entry = make_verifier(FakeModule(checks=["static", "token", "pod"]), kube).verify(binding())
    assert entry["verified"], entry["checks"]
    assert entry["caller_identity"]["arn"].endswith("assumed-role/my-app/botocore-session-1")
    (created,) = [call[2] for call in kube.calls if call[0] == "create_pod"]
    assert kube.deleted == [created] and entry["pod"] == ""
    assert kube.count("list_events") == 0


@pytest.mark.parametrize("keep", [False, True])
def test_pod_check_failure_reports_state_and_cleans_up(monkeypatch, keep):
    FakeAWS(monkeypatch)
    kube = FakeKube(annotated(), pod_log="eks-sandbox: cannot run 'nope'\n", pod_phases=["Failed"])
    entry = make_verifier(FakeModule(checks=["pod"], keep_pod=keep), kube).verify(binding())
    assert not entry["verified"]
    pod = entry["checks"][-1]
    assert pod["name"] == "pod"
    assert "phase Failed" in pod["message"] and "log tail: eks-sandbox: cannot run 'nope'" in pod["message"]
    assert "events: Normal Started" in pod["message"]
    (created,) = [call[2] for call in kube.calls if call[0] == "create_pod"]
    assert kube.deleted == ([] if keep else [created])
    assert entry["pod"] == (created if keep else "")


def test_unmutated_pod_fails_at_once_and_is_deleted(monkeypatch):
    FakeAWS(monkeypatch)
    kube = FakeKube(annotated(), webhook=False, mutating=False)
    entry = make_verifier(FakeModule(checks=["static", "pod"]), kube).verify(binding())
    assert names(entry) == ["webhook", "pod"]
    assert "the cluster has no pod identity webhook" in entry["checks"][-1]["message"]
    assert kube.count("get_pod") == 0
    assert len(kube.deleted) == 1


def test_pod_is_deleted_when_interrupted(monkeypatch):
    FakeAWS(monkeypatch)
    kube = FakeKube(annotated())
    kube.fail_get_pod = runner.Interrupted("SIGTERM")
    verifier = make_verifier(FakeModule(checks=["pod"]), kube)
    with pytest.raises(runner.Interrupted):
        verifier.verify(binding())
    assert len(kube.deleted) == 1
    assert verifier.live_pods == {}


def test_pod_is_deleted_when_reading_it_fails(monkeypatch):
    FakeAWS(monkeypatch)
    kube = FakeKube(annotated())
    kube.fail_get_pod = KubernetesError("Cannot reach the Kubernetes API")
    entry = make_verifier(FakeModule(checks=["pod"]), kube).verify(binding())
    assert not entry["verified"]
    assert len(kube.deleted) == 1


def test_stop_event_interrupts_workers_and_pods_go(monkeypatch):
    FakeAWS(monkeypatch)
    kube = FakeKube(annotated(), pod_phases=["Running"] * 1000)
    verifier = make_verifier(FakeModule(checks=["pod"]), kube)
    verifier.stop.set()
    with pytest.raises(runner.Interrupted):
        verifier.verify(binding())
    assert len(kube.deleted) == 1


def _left_pod(name, phase, service_account="my-app", ended_seconds_ago=60):
    ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - ended_seconds_ago))
    pod = pod_manifest(name, "default", service_account)
    pod["metadata"]["creationTimestamp"] = ended
    pod["status"] = {"phase": phase, "containerStatuses": [{"name": "irsa-verify", "state": (
        {"terminated": {"exitCode": 0, "finishedAt": ended}} if phase in ("Succeeded", "Failed") else {"running": {}})}]}
    return pod


@pytest.mark.parametrize("checks", [["static", "pod"], ["pod"]])
def test_pod_check_deletes_the_pods_a_killed_run_left(monkeypatch, checks):
    FakeAWS(monkeypatch)
    log = json.dumps({"Account": ACCOUNT, "Arn": "arn:aws:sts::111122223333:assumed-role/my-app/botocore-session-1"})
    kube = FakeKube(annotated(), pod_log=log)
    left = [_left_pod("irsa-verify-ended", "Succeeded"), _left_pod("irsa-verify-broke", "Failed"),
            _left_pod("irsa-verify-other", "Succeeded", service_account="other"), _left_pod("irsa-verify-fresh", "Succeeded", ended_seconds_ago=0),
            _left_pod("irsa-verify-concurrent", "Running")]
    kube.list_pods = lambda namespace, service_account=None: kube.record("list_pods", namespace) or copy.deepcopy(left)
    entry = make_verifier(FakeModule(checks=checks), kube).verify(binding())
    assert entry["verified"], entry["checks"]
    (created,) = [call[2] for call in kube.calls if call[0] == "create_pod"]
    assert sorted(kube.deleted) == sorted(["irsa-verify-broke", "irsa-verify-ended", created])
    # Deleted before the new pod is made; the namespace's pods are listed once, whatever the checks.
    assert [call[0] for call in kube.calls].index("create_pod") > [call[0] for call in kube.calls].index("delete_pod")
    assert kube.count("list_pods") == 1


def test_pod_check_goes_on_when_leftovers_cannot_be_listed(monkeypatch):
    FakeAWS(monkeypatch)
    log = json.dumps({"Account": ACCOUNT, "Arn": "arn:aws:sts::111122223333:assumed-role/my-app/botocore-session-1"})
    kube = FakeKube(annotated(), pod_log=log)

    def forbidden(namespace, service_account=None):
        raise KubernetesError("pods is forbidden: User cannot list resource pods", status=403)

    kube.list_pods = forbidden
    module = FakeModule(checks=["pod"])
    entry = make_verifier(module, kube).verify(binding())
    assert entry["verified"], entry["checks"]
    assert len(kube.deleted) == 1
    assert any("left by an interrupted run" in warning and "forbidden" in warning for warning in module.warnings)


def test_check_mode_skips_the_pod(monkeypatch):
    FakeAWS(monkeypatch)
    kube = FakeKube(annotated())
    entry = make_verifier(FakeModule(check_mode=True, checks=["static", "token", "pod"]), kube).verify(binding())
    assert entry["verified"]
    assert entry["checks"][-1] == {"name": "pod", "check": "pod", "passed": None, "severity": "info",
                                   "message": "Skipped in check mode: the pod check creates a pod.", "remediation": "", "skipped": True}
    assert kube.count("create_pod") == 0


def test_wrong_identity_fails_the_token_check(monkeypatch):
    FakeAWS(monkeypatch, identity_role="other-role")
    entry = make_verifier(FakeModule(checks=["token"]), FakeKube(annotated())).verify(binding())
    assert names(entry) == ["token"]
    assert "a session of role 'other-role'" in entry["checks"][-1]["message"]


def test_secrets_never_in_failures(monkeypatch):
    FakeAWS(monkeypatch, identity_role="other-role")
    module = FakeModule(checks=["static", "token"])
    entry = make_verifier(module, FakeKube(annotated())).verify(binding())
    assert not entry["verified"]
    assert_no_secret(entry, module.warnings)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"service_account": "a", "namespace": "x", "role_arn": ROLE_ARN}, [{"namespace": "x", "name": "a", "role_arn": ROLE_ARN}]),
        ({"service_accounts": [{"name": "a", "namespace": None}, {"name": "a", "namespace": "default"}, {"name": "b", "namespace": "y"}]},
         [{"namespace": "default", "name": "a", "role_arn": None}, {"namespace": "y", "name": "b", "role_arn": None}]),
    ],
)
def test_bindings_from(params, expected):
    base = {"service_account": None, "namespace": "default", "role_arn": None, "service_accounts": None}
    base.update(params)
    assert runner.bindings_from(base) == expected


def test_a_binding_runs_its_own_checks(monkeypatch):
    aws = FakeAWS(monkeypatch)
    service_accounts = dict(annotated())
    service_accounts.update(annotated(name="static-only"))
    aws.roles["my-app"]["AssumeRolePolicyDocument"] = trust("system:serviceaccount:default:my-app", "system:serviceaccount:default:static-only")
    kube = FakeKube(service_accounts)
    results = make_verifier(FakeModule(), kube).run([binding(), dict(binding(name="static-only"), checks=["static"])])
    assert all(entry["verified"] for entry in results)
    assert "token" in names(results[0], failed_only=False)
    assert "token" not in names(results[1], failed_only=False)
    assert results[1]["caller_identity"] == {}
    # The binding left to the task's checks exchanged its token; the static-only one did not.
    assert [call[2] for call in kube.calls if call[0] == "create_token"] == ["my-app"]
    assert aws.count("assume") == 1


def test_known_roles_are_not_read_again(monkeypatch):
    aws = FakeAWS(monkeypatch)
    kube = FakeKube(annotated())
    verifier = make_verifier(FakeModule(), kube)
    verifier.know_roles([{"arn": ROLE_ARN, "name": "my-app", "path": "/", "trust_policy": trust("system:serviceaccount:default:my-app"),
                          "managed_policies": []}])
    entry = verifier.run([binding()])[0]
    assert entry["verified"], entry["checks"]
    assert aws.count("get_role") == 0
    # A known role is judged as given: a trust that does not name the ServiceAccount is the diagnosis.
    verifier = make_verifier(FakeModule(checks=["static"]), FakeKube(annotated()))
    verifier.know_roles([{"arn": ROLE_ARN, "name": "my-app", "trust_policy": trust("system:serviceaccount:default:someone-else")}])
    entry = verifier.run([binding()])[0]
    assert names(entry) == ["trust_policy"]
    assert aws.count("get_role") == 0


@pytest.mark.parametrize("role, message", [
    ({"name": "x"}, "known_roles: an entry has no arn and no trust_policy"),
    ({"arn": ROLE_ARN, "trust_policy": "{}"}, "is not a policy document"),
    ({"arn": ROLE_ARN, "trust_policy": {"Statement": []}}, None),
])
def test_known_role_problems(role, message):
    problem = runner.known_role_problem(role)
    assert (problem is None) if message is None else (message in problem)


def test_an_empty_checks_list_of_a_binding_is_refused():
    params = {"service_account": None, "namespace": "default", "role_arn": None,
              "service_accounts": [{"name": "a", "namespace": "x", "checks": []}]}
    with pytest.raises(NamingError, match="x/a has an empty checks list"):
        runner.bindings_from(params)


def test_pods_created_before_the_annotation_are_listed_to_restart(monkeypatch):
    FakeAWS(monkeypatch)
    kube = FakeKube(annotated())
    old = {"metadata": {"name": "app-old", "namespace": "default"}, "status": {"phase": "Running"},
           "spec": {"serviceAccountName": "my-app", "containers": [{"name": "app", "env": []}]}}
    other = copy.deepcopy(old)
    other["metadata"]["name"], other["spec"]["serviceAccountName"] = "not-mine", "someone-else"
    kube.list_pods = lambda namespace, service_account=None: [copy.deepcopy(old), copy.deepcopy(other)]
    entry = make_verifier(FakeModule(), kube).verify(binding())
    assert entry["verified"], entry["checks"]
    assert entry["pods_to_restart"] == ["app-old"]
    assert "stale_pods" in names(entry, failed_only=False)


@pytest.mark.parametrize("connection", [{}, {"eks_cluster": "green"}, {"kubeconfig": "/kube/config"}, {"context": "blue"},
                                        {"host": "https://api.example"}])
def test_cluster_name_alone_still_reaches_its_cluster_with_a_deprecation(connection):
    """Before eks_cluster, cluster_name also named the cluster reached in EKS mode; a task that relies on it keeps
    working until 1.0.0 and is told so, and any connection option given wins without a word."""
    module = FakeModule(cluster_name="blue", **dict(dict(eks_cluster=None, kubeconfig=None, context=None, host=None), **connection))
    deprecations = []
    module.deprecate = lambda msg, version=None, collection_name=None: deprecations.append((msg, version, collection_name))
    irsa_verify.connect_like_before(module)
    if connection:
        assert module.params["eks_cluster"] == connection.get("eks_cluster") and deprecations == []
    else:
        assert module.params["eks_cluster"] == "blue"
        assert deprecations == [("irsa_verify reaches the Kubernetes API of cluster_name 'blue' (EKS mode) because no "
                                 "connection is given; set eks_cluster: blue for that", "1.0.0", "eks.irsa")]


@pytest.mark.parametrize("options", [{"mechanism": "pod_identity"},
                                     {"service_accounts": [{"name": "a"}, {"name": "b", "mechanism": "pod_identity"}]}])
def test_cluster_name_is_only_the_association_cluster_with_pod_identity(options):
    """With EKS Pod Identity (which came with eks_cluster) cluster_name names the cluster of the associations and never
    the connection: the default kubeconfig is used, as a role run in kubeconfig mode asks."""
    module = FakeModule(cluster_name="blue", eks_cluster=None, kubeconfig=None, context=None, host=None, **options)
    module.deprecate = lambda *args, **kwargs: pytest.fail("no deprecation expected")
    irsa_verify.connect_like_before(module)
    assert module.params["eks_cluster"] is None
