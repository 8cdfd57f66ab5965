"""eks_oidc_provider is what makes STS accept a cluster's ServiceAccount tokens.

Before the provider exists, a real TokenRequest token of the sandbox cluster is refused by STS with
InvalidIdentityToken; after eks_oidc_provider ran, the same token assumes a role that trusts it.
"""

import subprocess

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from irsa_sandbox.testing import irsa_trust_policy, start_sandbox, unique
from playbook_runner import run_playbook


@pytest.fixture
def fresh_sandbox(tmp_path):
    with start_sandbox(str(tmp_path / "sandbox")) as running:
        yield running


def _kubectl(sandbox, *args):
    result = subprocess.run(
        ["kubectl", *args], env=sandbox.subprocess_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _assume(sandbox, role_arn, token):
    sts = boto3.client(
        "sts",
        endpoint_url=sandbox.env["AWS_ENDPOINT_URL"],
        region_name=sandbox.env["AWS_REGION"],
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    return sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="oidc-test", WebIdentityToken=token)


def test_provider_makes_sts_accept_the_clusters_tokens(fresh_sandbox, tmp_path):
    sandbox = fresh_sandbox
    cluster = sandbox.vars["irsa_sandbox_cluster"]
    _kubectl(sandbox, "create", "serviceaccount", "irsa-test", "-n", "default")
    token = _kubectl(sandbox, "create", "token", "irsa-test", "-n", "default", "--audience", "sts.amazonaws.com")
    role_name = unique("oidc-trust")
    role_arn = sandbox.create_role(role_name, irsa_trust_policy(sandbox.cluster(cluster), "default", "irsa-test"))

    with pytest.raises(ClientError) as refused:
        _assume(sandbox, role_arn, token)
    assert refused.value.response["Error"]["Code"] == "InvalidIdentityToken"
    assert "No OpenIDConnect provider found" in refused.value.response["Error"]["Message"]

    playbook = tmp_path / "provider.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - eks.irsa.eks_oidc_provider:\n"
        "        cluster_name: '{{ irsa_sandbox_cluster }}'\n"
        "      register: provider\n"
        "    - ansible.builtin.assert:\n"
        "        that: provider is changed\n",
        encoding="utf-8",
    )
    result = run_playbook(sandbox, str(playbook), str(tmp_path))
    assert result.returncode == 0, result.stdout[-6000:]

    credentials = _assume(sandbox, role_arn, token)["Credentials"]
    caller = boto3.client(
        "sts",
        endpoint_url=sandbox.env["AWS_ENDPOINT_URL"],
        region_name=sandbox.env["AWS_REGION"],
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    ).get_caller_identity()
    assert caller["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/%s/oidc-test" % role_name)
