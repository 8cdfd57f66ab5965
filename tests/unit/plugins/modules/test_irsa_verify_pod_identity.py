# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""irsa_verify with mechanism: pod_identity, against stubbed EKS reads, a stubbed EKS Auth and STS (botocore's
Stubber) and a fake Kubernetes API: the findings of each broken link, the token exchange, the pod check, and that no
token or credential leaves the module. IRSA bindings beside them are verified as before."""

import copy

import boto3
import pytest
from botocore.stub import ANY
from botocore.stub import Stubber

from ansible_collections.eks.irsa.plugins.module_utils import aws
from ansible_collections.eks.irsa.plugins.module_utils import iam
from ansible_collections.eks.irsa.plugins.module_utils import pod_identity_association as associations
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.verify import pod_identity_aws
from ansible_collections.eks.irsa.plugins.module_utils.verify import runner
from test_irsa_verify import ACCOUNT
from test_irsa_verify import ISSUER
from test_irsa_verify import TOKEN
from test_irsa_verify import FakeAWS
from test_irsa_verify import FakeKube
from test_irsa_verify import FakeModule
from test_irsa_verify import annotated
from test_irsa_verify import make_verifier

CLUSTER = "blue"
CLUSTER_ARN = "arn:aws:eks:us-west-2:{0}:cluster/{1}".format(ACCOUNT, CLUSTER)
ROLE_ARN = "arn:aws:iam::{0}:role/shop-cart".format(ACCOUNT)
OTHER_ROLE_ARN = "arn:aws:iam::{0}:role/shop-other".format(ACCOUNT)
SERVICE = "pods.eks.amazonaws.com"
POD_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
PI_CREDENTIALS = {"accessKeyId": "ASIAPODIDENTITYKEY01", "secretAccessKey": "pod/identity/secret/never/shown",
                  "sessionToken": "IQoJpodidentitysessiontokenneverreturned", "expiration": "2030-01-01T00:00:00Z"}
SECRETS = (TOKEN, PI_CREDENTIALS["secretAccessKey"], PI_CREDENTIALS["sessionToken"], PI_CREDENTIALS["accessKeyId"])
POD_IDENTITY_ENV = [{"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": "http://169.254.170.23/v1/credentials"},
                    {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                     "value": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"}]


def service_account(namespace="shop", name="cart", annotations=None):
    return {(namespace, name): {"metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}}}}


class FakeEKS:
    """The cluster's associations, add-on and Fargate profiles, as the EKS reads return them, with counters."""

    def __init__(self, monkeypatch, associations_=None, addon=True, profiles=()):
        self.associations = associations_ if associations_ is not None else [
            {"associationId": "a-cart", "clusterName": CLUSTER, "namespace": "shop", "serviceAccount": "cart", "roleArn": ROLE_ARN,
             "disableSessionTags": False}]
        self.addon = {"addonName": "eks-pod-identity-agent", "status": "ACTIVE", "addonVersion": "v1.3.4-eksbuild.1"} if addon else None
        self.profiles = list(profiles)
        self.calls = []
        monkeypatch.setattr(aws, "lookup_cluster", self.lookup_cluster)
        monkeypatch.setattr(associations, "list_associations", self.list_associations)
        monkeypatch.setattr(associations, "describe_association", self.describe_association)
        monkeypatch.setattr(pod_identity_aws, "describe_addon", self.describe_addon)
        monkeypatch.setattr(pod_identity_aws, "fargate_profiles", self.fargate_profiles)

    def lookup_cluster(self, client, name, region):
        self.calls.append(("describe_cluster", name))
        return {"name": name, "arn": CLUSTER_ARN}

    def list_associations(self, client, cluster):
        self.calls.append(("list_associations", cluster))
        return [{key: item[key] for key in ("associationId", "namespace", "serviceAccount")} for item in self.associations]

    def describe_association(self, client, cluster, association_id):
        self.calls.append(("describe_association", association_id))
        return copy.deepcopy([item for item in self.associations if item["associationId"] == association_id][0])

    def describe_addon(self, client, cluster, addon):
        self.calls.append(("describe_addon", addon))
        return copy.deepcopy(self.addon)

    def fargate_profiles(self, client, cluster):
        self.calls.append(("fargate_profiles", cluster))
        return copy.deepcopy(self.profiles)

    def count(self, name):
        return sum(1 for call in self.calls if call[0] == name)


class PodIdentityModule(FakeModule):
    """FakeModule whose eks-auth and sts clients are real botocore clients under a Stubber."""

    def __init__(self, **params):
        params.setdefault("cluster_name", CLUSTER)
        params.setdefault("oidc_provider", None)
        super().__init__(**params)
        self.eks_auth = boto3.client("eks-auth", region_name="us-west-2", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")
        self.sts = boto3.client("sts", region_name="us-west-2", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")
        self.eks_auth_stub = Stubber(self.eks_auth)
        self.sts_stub = Stubber(self.sts)
        self.sts_credentials = []

    def client(self, service, **extra):
        if service == "eks-auth":
            return self.eks_auth
        if service == "sts" and "aws_secret_access_key" in extra:
            self.sts_credentials.append(extra)
            return self.sts
        return super().client(service, **extra)

    def answer_exchange(self, role="shop-cart", error=None, times=1):
        for _time in range(times):
            if error:
                self.eks_auth_stub.add_client_error("assume_role_for_pod_identity", service_error_code=error[0], service_message=error[1],
                                                    http_status_code=error[2] if len(error) > 2 else 400,
                                                    expected_params={"clusterName": CLUSTER, "token": TOKEN})
                continue
            session = "arn:aws:sts::{0}:assumed-role/{1}/eks-blue-cart-0a1b2c".format(ACCOUNT, role)
            self.eks_auth_stub.add_response("assume_role_for_pod_identity", {
                "subject": {"namespace": "shop", "serviceAccount": "cart"}, "audience": SERVICE,
                "podIdentityAssociation": {"associationArn": "arn:aws:eks:us-west-2:{0}:podidentityassociation/blue/a-cart".format(ACCOUNT),
                                           "associationId": "a-cart"},
                "assumedRoleUser": {"arn": session, "assumeRoleId": "AROAEXAMPLE:eks-blue-cart-0a1b2c"},
                "credentials": dict(PI_CREDENTIALS)}, {"clusterName": CLUSTER, "token": TOKEN})
            self.sts_stub.add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": session, "UserId": "AROAEXAMPLE:eks-blue-cart-0a1b2c"}, {})
        self.eks_auth_stub.activate()
        self.sts_stub.activate()


def pi_binding(namespace="shop", name="cart", role_arn=None, target_role_arn=None, pod_labels=None):
    return {"namespace": namespace, "name": name, "role_arn": role_arn, "mechanism": "pod_identity",
            "target_role_arn": target_role_arn, "pod_labels": pod_labels}


def by_name(entry):
    return {check["name"]: check for check in entry["checks"]}


def failed(entry, severity="error"):
    return [check["name"] for check in entry["checks"] if check["passed"] is False and check["severity"] == severity]


def setup(monkeypatch, trust=None, sa=None, pods=(), checks=("static",), role_exists=True, **eks):
    FakeAWS(monkeypatch, roles={"shop-cart": {"RoleName": "shop-cart", "Arn": ROLE_ARN, "AssumeRolePolicyDocument": trust or POD_TRUST}}
            if role_exists else {})
    fake_eks = FakeEKS(monkeypatch, **eks)
    kube = FakeKube(sa if sa is not None else service_account())
    kube.list_pods = lambda namespace, service_account=None: copy.deepcopy(list(pods))
    module = PodIdentityModule(checks=list(checks))
    return make_verifier(module, kube), module, kube, fake_eks


def assert_no_secret(*objects):
    text = repr(objects)
    for secret in SECRETS:
        assert secret not in text


# --- static --------------------------------------------------------------------------------------------


def test_static_passes_for_a_working_binding(monkeypatch):
    verifier, _module, _kube, eks = setup(monkeypatch)
    entry = verifier.verify(pi_binding())
    assert entry["verified"], entry["checks"]
    assert entry["mechanism"] == "pod_identity" and entry["role_arn"] == ROLE_ARN
    assert [c["name"] for c in entry["checks"]] == ["service_account", "association", "role", "trust_policy", "trust_policy_tag_session",
                                                    "pod_identity_agent", "fargate"]
    assert all(c["passed"] for c in entry["checks"])


def test_shared_facts_are_read_once_for_many_bindings(monkeypatch):
    both = service_account()
    both.update(service_account(name="cart2"))
    verifier, _module, _kube, eks = setup(monkeypatch, sa=both)
    eks.associations.append(dict(eks.associations[0], associationId="a-cart2", serviceAccount="cart2"))
    results = verifier.run([pi_binding(), pi_binding(name="cart2")])
    assert all(entry["verified"] for entry in results)
    for call in ("describe_cluster", "list_associations", "describe_addon", "fargate_profiles"):
        assert eks.count(call) == 1, call
    assert eks.count("describe_association") == 2


def test_missing_association_names_the_one_for_another_namespace(monkeypatch):
    verifier, _module, _kube, _eks = setup(monkeypatch, associations_=[
        {"associationId": "a-dev", "clusterName": CLUSTER, "namespace": "shop-dev", "serviceAccount": "cart", "roleArn": ROLE_ARN}])
    entry = verifier.verify(pi_binding(role_arn=ROLE_ARN))
    assert failed(entry) == ["association"]
    assert "there is one for the ServiceAccount 'cart' in another namespace: shop-dev/cart" in by_name(entry)["association"]["message"]


def test_association_to_another_role(monkeypatch):
    verifier, _module, _kube, _eks = setup(monkeypatch)
    entry = verifier.verify(pi_binding(role_arn=OTHER_ROLE_ARN))
    assert failed(entry) == ["association"]
    assert "names the role {0}, not the expected {1}".format(ROLE_ARN, OTHER_ROLE_ARN) in by_name(entry)["association"]["message"]


def test_trust_without_the_service_principal_and_without_tag_session(monkeypatch):
    irsa_only = {"Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::{0}:oidc-provider/x".format(ACCOUNT)},
                                "Action": "sts:AssumeRoleWithWebIdentity"}]}
    verifier, _module, _kube, _eks = setup(monkeypatch, trust=irsa_only)
    entry = verifier.verify(pi_binding())
    assert failed(entry) == ["trust_policy"]
    assert "does not name the service principal pods.eks.amazonaws.com" in by_name(entry)["trust_policy"]["message"]
    no_tag = {"Statement": [dict(POD_TRUST["Statement"][0], Action="sts:AssumeRole")]}
    verifier, _module, _kube, _eks = setup(monkeypatch, trust=no_tag)
    assert failed(verifier.verify(pi_binding())) == ["trust_policy_tag_session"]


def test_tag_session_is_not_needed_when_the_association_disables_session_tags(monkeypatch):
    no_tag = {"Statement": [dict(POD_TRUST["Statement"][0], Action="sts:AssumeRole")]}
    verifier, _module, _kube, eks = setup(monkeypatch, trust=no_tag)
    eks.associations[0]["disableSessionTags"] = True
    entry = verifier.verify(pi_binding())
    assert entry["verified"] and "trust_policy_tag_session" not in by_name(entry)


def test_trust_whose_conditions_exclude_the_cluster(monkeypatch):
    other = {"Statement": [dict(POD_TRUST["Statement"][0], Condition={"ArnEquals": {"aws:SourceArn": CLUSTER_ARN.replace("blue", "green")}})]}
    verifier, _module, _kube, _eks = setup(monkeypatch, trust=other)
    entry = verifier.verify(pi_binding())
    assert failed(entry) == ["trust_policy"]
    assert "its conditions exclude this cluster ({0})".format(CLUSTER_ARN) in by_name(entry)["trust_policy"]["message"]


def test_missing_role(monkeypatch):
    verifier, _module, _kube, _eks = setup(monkeypatch, role_exists=False)
    entry = verifier.verify(pi_binding())
    assert failed(entry) == ["role"]


def test_agent_missing(monkeypatch):
    verifier, _module, _kube, _eks = setup(monkeypatch, addon=False)
    entry = verifier.verify(pi_binding())
    assert failed(entry) == ["pod_identity_agent"]
    assert "aws eks create-addon --cluster-name blue --addon-name eks-pod-identity-agent" in by_name(entry)["pod_identity_agent"]["remediation"]


def test_fargate_profile_selecting_the_namespace(monkeypatch):
    verifier, _module, _kube, _eks = setup(monkeypatch, profiles=[{"fargateProfileName": "fp", "selectors": [{"namespace": "shop"}]}])
    entry = verifier.verify(pi_binding())
    assert failed(entry) == ["fargate"]
    assert "use IRSA" in by_name(entry)["fargate"]["remediation"]


def test_pods_predating_the_association_and_irsa_precedence_are_warnings(monkeypatch):
    old = {"metadata": {"name": "cart-old"}, "status": {"phase": "Running"},
           "spec": {"serviceAccountName": "cart", "containers": [{"name": "app", "env": []}]}}
    irsa_env = [{"name": "AWS_ROLE_ARN", "value": OTHER_ROLE_ARN},
                {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}]
    pod_identity_env = [{"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": "http://169.254.170.23/v1/credentials"},
                        {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                         "value": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"}]
    both = {"metadata": {"name": "cart-both"}, "status": {"phase": "Running"},
            "spec": {"serviceAccountName": "cart", "containers": [{"name": "app", "env": irsa_env + pod_identity_env}]}}
    # The annotation beside the association is no problem of its own: AWS's webhook injects Pod Identity only.
    sa = service_account(annotations={"eks.amazonaws.com/role-arn": OTHER_ROLE_ARN})
    verifier, module, _kube, _eks = setup(monkeypatch, sa=sa, pods=[old, both])
    entry = verifier.verify(pi_binding())
    assert entry["verified"] and failed(entry) == []
    assert failed(entry, "warning") == ["stale_pods", "irsa_precedence"]
    assert entry["pods_to_restart"] == ["cart-old"]
    message = by_name(entry)["irsa_precedence"]["message"]
    assert "so they run as {0}, not as the Pod Identity role {1}: cart-both.".format(OTHER_ROLE_ARN, ROLE_ARN) in message
    output = runner.run_output([entry], single=True)
    assert output["verified"]


# --- token ---------------------------------------------------------------------------------------------


def running_pod(name="cart-app"):
    """A running pod of shop/cart that AWS's webhook gave the container credentials."""
    env = [{"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": "http://169.254.170.23/v1/credentials"},
           {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "value": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"}]
    return {"metadata": {"name": name, "uid": "0a1b2c"}, "status": {"phase": "Running"},
            "spec": {"serviceAccountName": "cart", "containers": [{"name": "app", "env": env}]}}


def test_without_a_running_pod_there_is_no_token_to_exchange(monkeypatch):
    pending = dict(running_pod("cart-pending"), status={"phase": "Pending"})
    verifier, module, kube, _eks = setup(monkeypatch, checks=("static", "token"), pods=[pending])
    entry = verifier.verify(pi_binding())
    token = by_name(entry)["token"]
    assert token["passed"] is None and "EKS Auth exchanges the token of a pod" in token["message"]
    assert "no pod of the ServiceAccount shop/cart runs; the pod check runs one" in token["message"]
    assert not [call for call in kube.calls if call[0] == "create_token"]
    module.eks_auth_stub.assert_no_pending_responses()


def test_token_exchanged_with_eks_auth_then_get_caller_identity(monkeypatch):
    verifier, module, kube, _eks = setup(monkeypatch, checks=("static", "token"), pods=[running_pod()])
    module.answer_exchange()
    entry = verifier.verify(pi_binding())
    assert entry["verified"], entry["checks"]
    token = by_name(entry)["token"]
    assert token["passed"] and "assumed-role/shop-cart/eks-blue-cart-0a1b2c" in token["message"]
    assert entry["caller_identity"]["arn"] == "arn:aws:sts::{0}:assumed-role/shop-cart/eks-blue-cart-0a1b2c".format(ACCOUNT)
    # The token is bound to the running pod, as the one the agent presents is.
    assert ("create_token", "shop", "cart", "pods.eks.amazonaws.com", 600, "cart-app") in kube.calls
    # GetCallerIdentity is made with the credentials EKS Auth issued, which are then masked and never returned.
    assert module.sts_credentials == [{"aws_access_key_id": PI_CREDENTIALS["accessKeyId"], "aws_secret_access_key": PI_CREDENTIALS["secretAccessKey"],
                                       "aws_session_token": PI_CREDENTIALS["sessionToken"]}]
    assert {TOKEN, PI_CREDENTIALS["secretAccessKey"], PI_CREDENTIALS["sessionToken"]} <= module.no_log_values
    assert_no_secret(entry, module.warnings, runner.run_output([entry], single=True))
    module.eks_auth_stub.assert_no_pending_responses()
    module.sts_stub.assert_no_pending_responses()


def test_token_for_another_role_fails(monkeypatch):
    verifier, module, _kube, _eks = setup(monkeypatch, checks=("token",), pods=[running_pod()])
    module.answer_exchange(role="shop-other")
    entry = verifier.verify(pi_binding())
    assert failed(entry) == ["token"] and "not a session of role 'shop-cart'" in by_name(entry)["token"]["message"]


def test_a_refusal_that_static_explains_is_not_retried(monkeypatch):
    no_tag = {"Statement": [dict(POD_TRUST["Statement"][0], Action="sts:AssumeRole")]}
    verifier, module, _kube, _eks = setup(monkeypatch, trust=no_tag, checks=("static", "token"), pods=[running_pod()])
    module.answer_exchange(error=("AccessDeniedException", "Unauthorized", 403))
    entry = verifier.verify(pi_binding())
    assert failed(entry) == ["trust_policy_tag_session", "token"]
    assert entry["attempts"] == 1
    token = by_name(entry)["token"]
    assert "EKS Auth answered AccessDeniedException" in token["message"] and "allows sts:AssumeRole but not sts:TagSession" in token["message"]
    assert_no_secret(entry)


def test_an_unexplained_refusal_is_retried_for_propagation(monkeypatch):
    verifier, module, _kube, _eks = setup(monkeypatch, checks=("token",), pods=[running_pod()])
    module.answer_exchange(error=("AccessDeniedException", "Unauthorized", 403), times=2)
    module.answer_exchange()
    entry = verifier.verify(pi_binding())
    assert entry["verified"] and entry["attempts"] == 3
    assert verifier.stop.waited == [1.0, 2.0]


def test_no_exchange_without_an_association(monkeypatch):
    verifier, module, kube, _eks = setup(monkeypatch, checks=("static", "token"), associations_=[])
    entry = verifier.verify(pi_binding())
    assert failed(entry) == ["association", "token"]
    assert "no Pod Identity association" in by_name(entry)["token"]["message"]
    assert kube.count("create_token") == 0


# --- pod -----------------------------------------------------------------------------------------------


def pod_kube(kube, env, log):
    def create_pod(namespace, manifest):
        kube.record("create_pod", namespace, manifest["metadata"]["name"])
        pod = copy.deepcopy(manifest)
        pod["spec"]["containers"][0]["env"] += env
        pod["status"] = {"phase": "Pending"}
        kube.pods[manifest["metadata"]["name"]] = pod
        return copy.deepcopy(pod)
    kube.create_pod = create_pod
    kube.log = log


def test_pod_check_through_the_container_credentials(monkeypatch):
    verifier, module, kube, _eks = setup(monkeypatch, checks=("pod",))
    arn = "arn:aws:sts::{0}:assumed-role/shop-cart/eks-blue-cart-1".format(ACCOUNT)
    pod_kube(kube, POD_IDENTITY_ENV, '{"UserId": "AROA:x", "Account": "%s", "Arn": "%s"}' % (ACCOUNT, arn))
    entry = verifier.verify(pi_binding())
    assert entry["verified"], entry["checks"]
    assert by_name(entry)["pod"]["passed"] and entry["caller_identity"]["arn"] == arn
    assert kube.deleted and not kube.pods


def test_pod_without_the_container_credentials(monkeypatch):
    verifier, module, kube, _eks = setup(monkeypatch, checks=("pod",))
    pod_kube(kube, [], "")
    entry = verifier.verify(pi_binding())
    assert failed(entry) == ["pod"]
    assert "admitted without Pod Identity credentials" in by_name(entry)["pod"]["message"]
    assert kube.deleted


def test_pod_with_irsa_env_runs_as_the_irsa_role(monkeypatch):
    verifier, module, kube, _eks = setup(monkeypatch, checks=("pod",))
    irsa_env = [{"name": "AWS_ROLE_ARN", "value": OTHER_ROLE_ARN}, {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/t"}]
    arn = "arn:aws:sts::{0}:assumed-role/shop-other/botocore-session-1".format(ACCOUNT)
    pod_kube(kube, POD_IDENTITY_ENV + irsa_env, '{"UserId": "AROA:x", "Account": "%s", "Arn": "%s"}' % (ACCOUNT, arn))
    entry = verifier.verify(pi_binding())
    pod = by_name(entry)["pod"]
    assert pod["passed"] is False and "IRSA's web identity, which the CLI takes first" in pod["message"] and "shop-other" in pod["message"]


# --- options -------------------------------------------------------------------------------------------


def test_options_of_pod_identity_bindings():
    module = FakeModule(service_accounts=[{"namespace": "shop", "name": "cart", "mechanism": "pod_identity"},
                                          {"namespace": "default", "name": "my-app"}], oidc_provider=ISSUER, known_roles=[])
    with pytest.raises(InputError, match="cluster_name"):
        runner.options(module)
    module.params["cluster_name"] = CLUSTER
    bindings, _checks = runner.options(module)
    assert bindings[0]["mechanism"] == "pod_identity" and "mechanism" not in bindings[1]
    # Without an IRSA binding, the static check needs no OIDC issuer.
    module = FakeModule(service_account="cart", namespace="shop", mechanism="pod_identity", oidc_provider=None, eks_cluster=CLUSTER,
                        known_roles=[])
    bindings, _checks = runner.options(module)
    assert bindings == [pi_binding()]
    module = FakeModule(service_account="cart", namespace="shop", pod_labels={"a": "b"}, known_roles=[])
    with pytest.raises(Exception, match="pod_labels is for mechanism: pod_identity"):
        runner.options(module)


def test_stubbed_eks_reads_of_the_agent_and_fargate_profiles():
    eks = boto3.client("eks", region_name="us-west-2", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x")
    with Stubber(eks) as stub:
        stub.add_client_error("describe_addon", "ResourceNotFoundException", "No addon: eks-pod-identity-agent found in cluster: blue", 404)
        assert pod_identity_aws.describe_addon(eks, CLUSTER, "eks-pod-identity-agent") is None
        stub.add_response("list_fargate_profiles", {"fargateProfileNames": ["fp"]}, {"clusterName": CLUSTER})
        stub.add_response("describe_fargate_profile", {"fargateProfile": {"fargateProfileName": "fp", "selectors": [{"namespace": "shop"}]}},
                          {"clusterName": CLUSTER, "fargateProfileName": ANY})
        assert pod_identity_aws.fargate_profiles(eks, CLUSTER) == [{"fargateProfileName": "fp", "selectors": [{"namespace": "shop"}]}]


def test_irsa_bindings_are_unchanged_beside_pod_identity(monkeypatch):
    verifier, module, kube, _eks = setup(monkeypatch)
    kube.service_accounts.update(annotated())
    module.params["oidc_provider"] = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
    entry = verifier.verify({"namespace": "default", "name": "my-app", "role_arn": None})
    assert entry["mechanism"] == "irsa"
    assert [c["name"] for c in entry["checks"]][:2] == ["role_arn_annotation", "role"]
    assert iam  # the IRSA role read is FakeAWS's


def test_fargate_profiles_not_readable_are_a_warning_not_a_stop(monkeypatch):
    verifier, _module, _kube, eks = setup(monkeypatch)

    def refused(client, cluster):
        raise IrsaAWSError(message="Not allowed to list the EKS Fargate profiles: the AWS identity in use lacks the IAM permission "
                                   "eks:ListFargateProfiles")
    monkeypatch.setattr(pod_identity_aws, "fargate_profiles", refused)
    entry = verifier.verify(pi_binding())
    assert entry["verified"] and failed(entry, "warning") == ["fargate"]
    assert "eks:ListFargateProfiles" in by_name(entry)["fargate"]["message"]
