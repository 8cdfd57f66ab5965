"""No credential ever reaches the output: the Kubernetes API token, EKS tokens, ServiceAccount tokens and
STS credentials are searched for, by value, in a -vvv run of the modules and in the sandbox's own log."""

import base64
import json
import os

import pytest
import yaml
from irsa_sandbox.testing import start_sandbox
from playbook_runner import run_playbook


@pytest.fixture
def fresh(tmp_path):
    with start_sandbox(str(tmp_path / "sandbox")) as running:
        yield running


def test_tokens_never_appear_in_verbose_output(fresh, tmp_path):
    sandbox = fresh
    with open(sandbox.env["KUBECONFIG"], encoding="utf-8") as handle:
        kubeconfig = yaml.safe_load(handle)
    cluster = kubeconfig["clusters"][0]["cluster"]
    admin_token = kubeconfig["users"][0]["user"]["token"]
    ca_path = tmp_path / "ca.crt"
    ca_path.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    playbook = tmp_path / "secrets.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/eks.irsa.irsa": {"endpoint_url": "{{ aws_endpoint_url }}", "region": "{{ aws_region }}",
                                                    "access_key": "{{ aws_access_key }}", "secret_key": "{{ aws_secret_key }}"}},
        "tasks": [
            {"name": "Provider", "eks.irsa.eks_oidc_provider": {"cluster_name": "{{ irsa_sandbox_cluster }}"}},
            {"name": "Role", "eks.irsa.irsa_role": {"name": "{{ resource_prefix }}", "cluster_name": "{{ irsa_sandbox_cluster }}",
                                                    "service_accounts": ["default:{{ resource_prefix }}"]}, "register": "role"},
            {"name": "Annotate with host and api_key", "eks.irsa.irsa_service_account": {
                "name": "{{ resource_prefix }}", "role_arn": "{{ role.role.arn }}", "host": cluster["server"],
                "api_key": admin_token, "ca_cert": str(ca_path)}, "diff": True},
            {"name": "Annotate with the kubeconfig as a dict", "eks.irsa.irsa_service_account": {
                "name": "{{ resource_prefix }}", "role_arn": "{{ role.role.arn }}", "kubeconfig": kubeconfig,
                "labels": {"step": "dict"}}, "diff": True},
            {"name": "Annotate in EKS mode", "eks.irsa.irsa_service_account": {
                "name": "{{ resource_prefix }}", "role_arn": "{{ role.role.arn }}", "cluster_name": "{{ irsa_sandbox_cluster }}"}},
            {"name": "Verify with token and pod", "eks.irsa.irsa_verify": {
                "service_account": "{{ resource_prefix }}", "namespace": "default", "cluster_name": "{{ irsa_sandbox_cluster }}",
                "checks": ["static", "token", "pod"]}},
            {"name": "A failing call in EKS mode", "eks.irsa.irsa_service_account": {
                "name": "{{ resource_prefix }}", "namespace": "no-such-namespace", "role_arn": "{{ role.role.arn }}",
                "cluster_name": "{{ irsa_sandbox_cluster }}"}, "ignore_errors": True},
            {"name": "Remove the role", "eks.irsa.irsa_role": {"name": "{{ resource_prefix }}", "state": "absent"}},
        ],
    }]), encoding="utf-8")
    result = run_playbook(sandbox, str(playbook), str(tmp_path), args=["-vvv", "--diff"])
    assert result.returncode == 0, result.stdout[-6000:]
    output = result.stdout
    assert admin_token not in output
    assert "k8s-aws-v1." not in output  # no EKS bearer token, whatever its signature
    # ServiceAccount tokens are JWTs (three base64url parts starting with eyJ); STS answers carry session tokens.
    assert "eyJhbGciOi" not in output
    assert "SessionToken" not in output and "SecretAccessKey" not in output
    assert sandbox.env["AWS_SECRET_ACCESS_KEY"] not in output
    # The sandbox's own output and request log hold no token either.
    with open(os.path.join(sandbox.state_dir, "sandbox.stderr"), encoding="utf-8", errors="replace") as handle:
        sandbox_output = handle.read()
    request_log = json.dumps(sandbox.log())
    for text in (sandbox_output, request_log):
        assert admin_token not in text and "k8s-aws-v1." not in text and "eyJhbGciOi" not in text
    assert "serviceaccounts/token" in request_log  # the token check did ask for ServiceAccount tokens
