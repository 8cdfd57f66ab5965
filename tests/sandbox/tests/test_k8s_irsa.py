"""The seed's procedure (enable-irsa.md) end to end with the AWS CLI and kubectl, and the pod
identity webhook switched off."""

import json
import os
import re
import subprocess
import sys
import time

import pytest
from irsa_sandbox.testing import irsa_trust_policy, unique

AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def run(sandbox, *args, stdin=None):
    result = subprocess.run(list(args), env=sandbox.subprocess_env(), input=stdin, capture_output=True, text=True,
                            timeout=90, check=False)
    assert result.returncode == 0, f"{' '.join(args)}: {result.stderr}"
    return result.stdout


def pod_manifest(name, namespace, service_account, script, env=None):
    container = {"name": "irsa", "image": "public.ecr.aws/aws-cli/aws-cli:2.25.4", "command": ["sh", "-c", script]}
    if env:
        container["env"] = [{"name": key, "value": value} for key, value in env.items()]
    return json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
        "spec": {"serviceAccountName": service_account, "containers": [container]},
    })


def wait_for_log(sandbox, namespace, pod, pattern, timeout=60):
    deadline = time.monotonic() + timeout
    log = ""
    while time.monotonic() < deadline:
        result = subprocess.run(["kubectl", "-n", namespace, "logs", pod], env=sandbox.subprocess_env(),
                                capture_output=True, text=True, timeout=30, check=False)
        log = result.stdout
        if re.search(pattern, log):
            return log
        time.sleep(0.3)
    raise AssertionError(f"pod {pod} log never matched {pattern!r}: {log!r}")


@pytest.fixture
def namespace(sandbox):
    name = unique("irsa")
    run(sandbox, "kubectl", "create", "namespace", name)
    yield name
    subprocess.run(["kubectl", "delete", "namespace", name, "--wait=false"], env=sandbox.subprocess_env(),
                   capture_output=True, timeout=30, check=False)


def test_seed_procedure_end_to_end(sandbox, namespace):
    cluster = sandbox.cluster()
    issuer = run(sandbox, AWS, "eks", "describe-cluster", "--name", cluster["name"],
                 "--query", "cluster.identity.oidc.issuer", "--output", "text").strip()
    assert issuer == cluster["issuer_url"]
    provider = issuer[len("https://"):]
    providers = json.loads(run(sandbox, AWS, "iam", "list-open-id-connect-providers"))["OpenIDConnectProviderList"]
    if cluster["provider_arn"] not in [p["Arn"] for p in providers]:
        run(sandbox, AWS, "iam", "create-open-id-connect-provider", "--url", issuer,
            "--client-id-list", "sts.amazonaws.com", "--thumbprint-list", "9e99a48a9960b14926bb7f3b02e22da2b0ab7280")

    role = "AWSIRSATestRole"
    trust = irsa_trust_policy(cluster, namespace, "irsa-sa")
    assert trust["Statement"][0]["Principal"]["Federated"] == f"arn:aws:iam::123456789012:oidc-provider/{provider}"
    roles = json.loads(run(sandbox, AWS, "iam", "list-roles", "--query", "Roles[].RoleName"))
    if role in roles:
        run(sandbox, AWS, "iam", "update-assume-role-policy", "--role-name", role, "--policy-document", json.dumps(trust))
    else:
        run(sandbox, AWS, "iam", "create-role", "--role-name", role, "--assume-role-policy-document", json.dumps(trust))

    run(sandbox, "kubectl", "-n", namespace, "create", "serviceaccount", "irsa-sa")
    run(sandbox, "kubectl", "-n", namespace, "annotate", "serviceaccount", "irsa-sa",
        f"eks.amazonaws.com/role-arn=arn:aws:iam::123456789012:role/{role}")
    run(sandbox, "kubectl", "apply", "-f", "-",
        stdin=pod_manifest("irsa-test", namespace, "irsa-sa", 'aws sts "get-caller-identity" && sleep 3600'))

    log = wait_for_log(sandbox, namespace, "irsa-test", r'"Arn"')
    assert re.search(r'"Arn": "arn:aws:sts::123456789012:assumed-role/AWSIRSATestRole/botocore-session-\d+"', log), log
    assert re.search(r'"UserId": "\w+:botocore-session-\d+"', log), log

    pod = json.loads(run(sandbox, "kubectl", "-n", namespace, "get", "pod", "irsa-test", "-o", "json"))
    env = {item["name"]: item.get("value") for item in pod["spec"]["containers"][0]["env"]}
    assert env == {
        "AWS_DEFAULT_REGION": sandbox.env["AWS_REGION"],
        "AWS_REGION": sandbox.env["AWS_REGION"],
        "AWS_ROLE_ARN": f"arn:aws:iam::123456789012:role/{role}",
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
    }
    volume = pod["spec"]["volumes"][0]
    assert volume["name"] == "aws-iam-token"
    assert volume["projected"]["sources"] == [
        {"serviceAccountToken": {"audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"}}]
    assert {"name": "aws-iam-token", "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount",
            "readOnly": True} in pod["spec"]["containers"][0]["volumeMounts"]
    assert pod["status"]["phase"] == "Running"

    # the webhook mutates at creation only: a pod that predates the annotation keeps no credentials
    run(sandbox, "kubectl", "-n", namespace, "annotate", "serviceaccount", "irsa-sa", "--overwrite",
        "eks.amazonaws.com/token-expiration=3600")
    unchanged = json.loads(run(sandbox, "kubectl", "-n", namespace, "get", "pod", "irsa-test", "-o", "json"))
    assert unchanged["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 86400


def test_webhook_switched_off(sandbox, namespace):
    cluster = sandbox.cluster()["name"]
    run(sandbox, "kubectl", "-n", namespace, "create", "serviceaccount", "app")
    run(sandbox, "kubectl", "-n", namespace, "annotate", "serviceaccount", "app",
        "eks.amazonaws.com/role-arn=arn:aws:iam::123456789012:role/whatever")
    sandbox.set_webhook(cluster, False)
    try:
        assert "pod-identity-webhook" not in run(sandbox, "kubectl", "get", "mutatingwebhookconfigurations")
        run(sandbox, "kubectl", "apply", "-f", "-",
            stdin=pod_manifest("plain", namespace, "app", "aws sts get-caller-identity",
                               env={"AWS_REGION": sandbox.env["AWS_REGION"]}))
        log = wait_for_log(sandbox, namespace, "plain", "Unable to locate credentials", timeout=20)
        assert "Unable to locate credentials" in log
        pod = json.loads(run(sandbox, "kubectl", "-n", namespace, "get", "pod", "plain", "-o", "json"))
        assert pod["spec"]["containers"][0]["env"] == [{"name": "AWS_REGION", "value": sandbox.env["AWS_REGION"]}]
        assert all(v["name"] != "aws-iam-token" for v in pod["spec"]["volumes"])
    finally:
        sandbox.set_webhook(cluster, True)
    assert "pod-identity-webhook" in run(sandbox, "kubectl", "get", "mutatingwebhookconfigurations")
