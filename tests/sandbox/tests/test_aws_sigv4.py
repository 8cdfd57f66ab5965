"""Presigned GetCallerIdentity (the request inside an EKS ``k8s-aws-v1.`` token) is verified as
STS verifies it: signature, validity window, signed cluster header, known keys."""

import re
import time
import urllib.error
import urllib.request

from irsa_sandbox.testing import irsa_trust_policy as irsa_trust, unique


def presign(client, cluster_id="sandbox", expires=60):
    """As ``aws eks get-token`` does: the cluster name in a signed ``x-k8s-aws-id`` header."""
    def add_cluster_header(request, **_):
        request.headers["x-k8s-aws-id"] = cluster_id

    client.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    return client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=expires, HttpMethod="GET")


def fetch(url, cluster_id="sandbox"):
    headers = {"x-k8s-aws-id": cluster_id} if cluster_id is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def code_of(body):
    match = re.search(r"<Code>([^<]+)</Code>", body)
    return match.group(1) if match else None


def arn_of(body):
    match = re.search(r"<Arn>([^<]+)</Arn>", body)
    return match.group(1) if match else None


def test_valid_presigned_request_answers_the_caller(sandbox):
    status, body = fetch(presign(sandbox.client("sts")))
    assert status == 200, body
    assert arn_of(body) == "arn:aws:iam::123456789012:user/sandbox-admin"


def test_tampered_signature(sandbox):
    url = presign(sandbox.client("sts"))
    signature = re.search(r"X-Amz-Signature=([0-9a-f]+)", url).group(1)
    tampered = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    status, body = fetch(tampered)
    assert (status, code_of(body)) == (403, "SignatureDoesNotMatch")


def test_other_cluster_header_does_not_match(sandbox):
    status, body = fetch(presign(sandbox.client("sts"), cluster_id="sandbox"), cluster_id="elsewhere")
    assert (status, code_of(body)) == (403, "SignatureDoesNotMatch")


def test_unsigned_cluster_header_rejected(sandbox):
    url = sandbox.client("sts").generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    assert fetch(url, cluster_id=None)[0] == 200  # no cluster header at all: a plain presigned call
    status, body = fetch(url, cluster_id="sandbox")
    assert (status, code_of(body)) == (403, "SignatureDoesNotMatch")


def test_expired_presigned_request(sandbox):
    plain = sandbox.client("sts").generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=1, HttpMethod="GET")
    eks_token_url = presign(sandbox.client("sts"), expires=1)
    time.sleep(2.1)
    status, body = fetch(plain, cluster_id=None)
    assert (status, code_of(body)) == (403, "SignatureDoesNotMatch")
    assert "Signature expired" in body
    # An EKS token's URL stays good for 15 minutes after it was signed, whatever its X-Amz-Expires says.
    assert fetch(eks_token_url)[0] == 200


def test_unknown_access_key(sandbox):
    client = sandbox.client("sts", aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key="x" * 40)
    status, body = fetch(presign(client))
    assert (status, code_of(body)) == (403, "InvalidClientTokenId")


def test_temporary_credentials_of_an_assumed_role(sandbox):
    cluster = sandbox.ensure_oidc_provider(sandbox.vars["irsa_sandbox_cluster"])
    name = unique("app")
    arn = sandbox.create_role(name, irsa_trust(cluster, "default", "app"))
    credentials = sandbox.client("sts").assume_role_with_web_identity(
        RoleArn=arn, RoleSessionName="pod", WebIdentityToken=sandbox.token(service_account="app"))["Credentials"]
    client = sandbox.client(
        "sts",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    status, body = fetch(presign(client))
    assert status == 200, body
    assert arn_of(body) == f"arn:aws:sts::123456789012:assumed-role/{name}/pod"

    forged = presign(
        sandbox.client(
            "sts",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token="not-the-session-token",
        )
    )
    assert code_of(fetch(forged)[1]) == "InvalidClientTokenId"


def test_json_answer_when_asked(sandbox):
    """aws-iam-authenticator asks STS for JSON; STS renders the same answer as JSON."""
    import json

    url = presign(sandbox.client("sts"))
    request = urllib.request.Request(url, headers={"x-k8s-aws-id": "sandbox", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        document = json.load(response)
    result = document["GetCallerIdentityResponse"]["GetCallerIdentityResult"]
    assert result["Arn"] == "arn:aws:iam::123456789012:user/sandbox-admin"
    assert result["Account"] == "123456789012"
    request = urllib.request.Request(url, headers={"x-k8s-aws-id": "other", "Accept": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 403
        assert json.load(error)["Error"]["Code"] == "SignatureDoesNotMatch"
    else:
        raise AssertionError("a mismatching cluster header must be refused")


def test_eks_token_from_aws_cli_authenticates_to_the_cluster(sandbox):
    """The whole EKS token path: ``aws eks get-token`` -> Kubernetes API -> presigned STS call."""
    import json
    import os
    import ssl
    import subprocess
    import sys

    import yaml

    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    result = subprocess.run([aws, "eks", "get-token", "--cluster-name", "sandbox"], env=sandbox.subprocess_env(),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    token = json.loads(result.stdout)["status"]["token"]
    assert token.startswith("k8s-aws-v1.")
    with open(sandbox.env["KUBECONFIG"], encoding="utf-8") as handle:
        kubeconfig = yaml.safe_load(handle)
    import base64

    ca = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    context = ssl.create_default_context(cadata=ca)
    endpoint = sandbox.vars["irsa_sandbox_clusters"][0]["endpoint"]
    sandbox.reset_log()
    request = urllib.request.Request(f"{endpoint}/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code  # authenticated but perhaps not authorised: not 401 either way
    assert status != 401
    assert sandbox.log()["counts"].get("sts:GetCallerIdentity") == 1
