"""EKS Pod Identity end to end on a real cluster: AWS's pod identity webhook mutates the pods of associated
ServiceAccounts (its --watch-container-credentials-config), the kubelet stand-in projects the token, the real AWS
CLI's container provider fetches credentials from the node's Pod Identity Agent, which calls EKS Auth; and which
role the CLI picks when a pod has both IRSA's web identity and Pod Identity's container credentials."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from irsa_sandbox.testing import irsa_trust_policy, unique

AWS = os.path.join(os.path.dirname(sys.executable), "aws")
ACCOUNT = "123456789012"
TOKEN_DIR = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
POD_IDENTITY_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}


def run(sandbox, *args, stdin=None):
    result = subprocess.run(list(args), env=sandbox.subprocess_env(), input=stdin, capture_output=True, text=True,
                            timeout=90, check=False)
    assert result.returncode == 0, f"{' '.join(args)}: {result.stderr}"
    return result.stdout


def start_pod(sandbox, namespace, name, service_account, script, env=None, volumes=None, mounts=None):
    container = {"name": "app", "image": "public.ecr.aws/aws-cli/aws-cli:2.25.4", "command": ["sh", "-c", script]}
    if env:
        container["env"] = [{"name": key, "value": value} for key, value in env.items()]
    if mounts:
        container["volumeMounts"] = mounts
    spec = {"serviceAccountName": service_account, "restartPolicy": "Never", "containers": [container]}
    if volumes:
        spec["volumes"] = volumes
    run(sandbox, "kubectl", "apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}))
    return json.loads(run(sandbox, "kubectl", "-n", namespace, "get", "pod", name, "-o", "json"))


def finished_log(sandbox, namespace, pod, timeout=60):
    """The pod's log once its container has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        phase = json.loads(run(sandbox, "kubectl", "-n", namespace, "get", "pod", pod, "-o", "json"))["status"].get("phase")
        if phase in ("Succeeded", "Failed"):
            return phase, run(sandbox, "kubectl", "-n", namespace, "logs", pod)
        time.sleep(0.3)
    raise AssertionError(f"pod {pod} still running after {timeout}s")


def agent_answer(url, token):
    """``(HTTP status, error code)`` of the Pod Identity Agent at ``url`` for a refused request."""
    request = urllib.request.Request(url, headers={"Authorization": token} if token else {})
    try:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["code"]
    raise AssertionError(f"{url} gave credentials")


def associate(sandbox, namespace, service_account, role_arn):
    return sandbox.client("eks").create_pod_identity_association(
        clusterName="sandbox", namespace=namespace, serviceAccount=service_account, roleArn=role_arn)["association"]


@pytest.fixture
def namespace(sandbox):
    name = unique("podid")
    run(sandbox, "kubectl", "create", "namespace", name)
    for account in ("app", "plain"):
        run(sandbox, "kubectl", "-n", name, "create", "serviceaccount", account)
    yield name
    subprocess.run(["kubectl", "delete", "namespace", name, "--wait=false"], env=sandbox.subprocess_env(),
                   capture_output=True, timeout=30, check=False)


def test_a_pod_of_an_associated_service_account(sandbox, namespace):
    role = unique("podid-role")
    role_arn = sandbox.create_role(role, POD_IDENTITY_TRUST)
    association = associate(sandbox, namespace, "app", role_arn)

    pod = start_pod(sandbox, namespace, "web", "app", "aws sts get-caller-identity")
    container = pod["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1/credentials", env.pop("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
    assert env == {"AWS_STS_REGIONAL_ENDPOINTS": "regional", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": f"{TOKEN_DIR}/eks-pod-identity-token"}
    assert {"name": "eks-pod-identity-token", "mountPath": TOKEN_DIR, "readOnly": True} in container["volumeMounts"]
    [volume] = [v for v in pod["spec"]["volumes"] if v["name"] == "eks-pod-identity-token"]
    [source] = volume["projected"]["sources"]
    assert source["serviceAccountToken"]["audience"] == "pods.eks.amazonaws.com"
    assert source["serviceAccountToken"]["path"] == "eks-pod-identity-token"

    phase, log = finished_log(sandbox, namespace, "web")
    assert phase == "Succeeded", log
    assert re.search(rf'"Arn": "arn:aws:sts::{ACCOUNT}:assumed-role/{role}/eks-sandbox-web-[0-9a-f-]+"', log), log
    calls = [c for c in sandbox.log()["calls"] if c["service"] == "eks-auth"]
    assert calls and calls[-1]["status"] == 200

    # the agent itself: a request without the pod's token, and one with a token for another audience
    agent = container["env"][[item["name"] for item in container["env"]].index("AWS_CONTAINER_CREDENTIALS_FULL_URI")]["value"]
    assert agent_answer(agent, None) == (400, "InvalidRequest")
    assert agent_answer(agent, sandbox.token(namespace=namespace, service_account="app")) == (400, "InvalidTokenException")

    # a ServiceAccount without an association: AWS's webhook leaves its pods alone
    plain = start_pod(sandbox, namespace, "plain", "plain", "aws sts get-caller-identity", env={"AWS_REGION": "us-east-1"})
    assert plain["spec"]["containers"][0]["env"] == [{"name": "AWS_REGION", "value": "us-east-1"}]
    assert all(v["name"] != "eks-pod-identity-token" for v in plain["spec"]["volumes"])
    phase, log = finished_log(sandbox, namespace, "plain")
    assert phase == "Failed" and "Unable to locate credentials" in log, log

    # once the association is deleted, new pods are not mutated either
    sandbox.client("eks").delete_pod_identity_association(clusterName="sandbox", associationId=association["associationId"])
    after = start_pod(sandbox, namespace, "after", "app", "true")
    assert "env" not in after["spec"]["containers"][0]


def test_without_the_agent_add_on(sandbox, namespace):
    associate(sandbox, namespace, "app", sandbox.create_role(unique("podid-role"), POD_IDENTITY_TRUST))
    sandbox.control("POST", "eks/addon", {"cluster": "sandbox", "present": False})
    try:
        pod = start_pod(sandbox, namespace, "no-agent", "app", "aws sts get-caller-identity")
        env = {item["name"]: item.get("value") for item in pod["spec"]["containers"][0]["env"]}
        with pytest.raises(urllib.error.URLError) as refused:  # nothing listens where the agent would
            agent_answer(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], "token")
        assert isinstance(refused.value.reason, ConnectionRefusedError)
        phase, log = finished_log(sandbox, namespace, "no-agent")
    finally:
        sandbox.control("POST", "eks/addon", {"cluster": "sandbox", "present": True})
    assert phase == "Failed", log
    # botocore's ContainerProvider, when nothing listens at AWS_CONTAINER_CREDENTIALS_FULL_URI
    assert "Error when retrieving credentials from container-role" in log, log
    assert "Could not connect to the endpoint URL" in log or "Connection refused" in log, log


def test_chain_order_web_identity_before_container_credentials(sandbox, namespace):
    """botocore's chain (credentials.create_credential_resolver): env, assume-role profile, web identity
    (AssumeRoleWithWebIdentityProvider), sso, shared files, ..., container (ContainerProvider), instance metadata.
    A pod with both IRSA's variables and Pod Identity's gets the IRSA role."""
    cluster = sandbox.ensure_oidc_provider()
    irsa_role = unique("irsa-role")
    irsa_arn = sandbox.create_role(irsa_role, irsa_trust_policy(cluster, namespace, "app"))
    pod_identity_role = unique("podid-role")
    associate(sandbox, namespace, "app", sandbox.create_role(pod_identity_role, POD_IDENTITY_TRUST))

    # The ServiceAccount annotated for IRSA too: AWS's webhook gives the container credentials precedence and
    # injects Pod Identity only (handler.buildPodPatchConfig), so the CLI gets the Pod Identity role.
    run(sandbox, "kubectl", "-n", namespace, "annotate", "serviceaccount", "app", f"eks.amazonaws.com/role-arn={irsa_arn}")
    pod = start_pod(sandbox, namespace, "annotated", "app", "aws sts get-caller-identity")
    names = {item["name"] for item in pod["spec"]["containers"][0]["env"]}
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" in names and "AWS_ROLE_ARN" not in names
    phase, log = finished_log(sandbox, namespace, "annotated")
    assert phase == "Succeeded" and f"assumed-role/{pod_identity_role}/eks-sandbox-annotated-" in log, log

    # Both sets of variables in one pod (IRSA's written into the spec, as the webhook writes them): web identity wins.
    irsa_volume = {"name": "aws-iam-token", "projected": {"sources": [{"serviceAccountToken": {
        "audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"}}]}}
    pod = start_pod(sandbox, namespace, "both", "app", "aws sts get-caller-identity",
                    env={"AWS_ROLE_ARN": irsa_arn,
                         "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
                    volumes=[irsa_volume],
                    mounts=[{"name": "aws-iam-token", "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount",
                             "readOnly": True}])
    env = {item["name"] for item in pod["spec"]["containers"][0]["env"]}
    assert {"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"} <= env
    phase, log = finished_log(sandbox, namespace, "both")
    assert phase == "Succeeded", log
    assert re.search(rf'"Arn": "arn:aws:sts::{ACCOUNT}:assumed-role/{irsa_role}/botocore-session-\d+"', log), log
