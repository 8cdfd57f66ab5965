"""The eks-sandbox process: starts, writes its files, stops cleanly on SIGTERM (how fast is not a test's business)."""

import os
import signal
import subprocess
import sys

from irsa_sandbox.testing import SCRIPT, start_sandbox


def test_starts_with_its_files_and_stops_on_sigterm(tmp_path):
    running = start_sandbox(tmp_path / "state", clusters=("a", "b"), extra_args=("--create-oidc-provider",))
    try:
        for name in ("kubeconfig", "env", "vars.yml", "ready"):
            assert (tmp_path / "state" / name).exists(), name
        assert [c["name"] for c in running.vars["irsa_sandbox_clusters"]] == ["a", "b"]
        assert running.env["IRSA_SANDBOX_CLUSTER"] == "a"
        # --create-oidc-provider registers every cluster's issuer with the sts.amazonaws.com audience
        import boto3

        iam = boto3.client("iam", endpoint_url=running.url, region_name="us-east-1",
                           aws_access_key_id=running.env["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=running.env["AWS_SECRET_ACCESS_KEY"])
        for cluster in running.vars["irsa_sandbox_clusters"]:
            provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=cluster["provider_arn"])
            assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    finally:
        code = running.stop()
    assert code == 0
    assert not (tmp_path / "state" / "ready").exists(), "ready must go away when the sandbox stops"


def test_sigint_also_stops_cleanly_and_without_the_flag_no_oidc_provider_is_registered(tmp_path):
    running = start_sandbox(tmp_path / "state")
    iam = running.client("iam")
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(15) == 0


def test_bad_arguments_fail_before_ready(tmp_path):
    result = subprocess.run([sys.executable, SCRIPT, "--state-dir", str(tmp_path), "--clusters", "a,a"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0 and "distinct" in result.stderr
    assert not os.path.exists(tmp_path / "ready")
