"""The seeded EKS clusters, as DescribeCluster shows them, and the sandbox's files."""

import base64
import json
import urllib.request

import yaml


def test_describe_cluster_points_at_the_sandbox(sandbox):
    eks = sandbox.client("eks")
    assert eks.list_clusters()["clusters"] == ["sandbox"]
    cluster = eks.describe_cluster(name="sandbox")["cluster"]
    facts = sandbox.vars["irsa_sandbox_clusters"][0]
    assert cluster["status"] == "ACTIVE"
    assert cluster["identity"]["oidc"]["issuer"] == facts["issuer_url"]
    assert facts["issuer_url"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")
    assert len(facts["issuer_url"].rsplit("/", 1)[1]) == 32
    assert cluster["endpoint"] == facts["endpoint"] and cluster["endpoint"].startswith("https://127.0.0.1:")
    with open(sandbox.env["KUBECONFIG"], encoding="utf-8") as handle:
        kubeconfig = yaml.safe_load(handle)
    entry = next(c["cluster"] for c in kubeconfig["clusters"] if c["name"] == "sandbox")
    assert cluster["certificateAuthority"]["data"] == entry["certificate-authority-data"]
    assert base64.b64decode(cluster["certificateAuthority"]["data"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert kubeconfig["current-context"] == "sandbox"


def test_unknown_cluster_is_resource_not_found(sandbox):
    eks = sandbox.client("eks")
    try:
        eks.describe_cluster(name="nope")
    except eks.exceptions.ResourceNotFoundException:
        return
    raise AssertionError("DescribeCluster of an unknown cluster must fail")


def test_two_clusters_two_issuers_and_endpoints(sandbox2):
    facts = {c["name"]: c for c in sandbox2.vars["irsa_sandbox_clusters"]}
    assert list(facts) == ["blue", "green"] and sandbox2.vars["irsa_sandbox_cluster"] == "blue"
    assert facts["blue"]["issuer_url"] != facts["green"]["issuer_url"]
    assert facts["blue"]["endpoint"] != facts["green"]["endpoint"]
    eks = sandbox2.client("eks")
    assert sorted(eks.list_clusters()["clusters"]) == ["blue", "green"]
    for name in ("blue", "green"):
        cluster = eks.describe_cluster(name=name)["cluster"]
        assert cluster["identity"]["oidc"]["issuer"] == facts[name]["issuer_url"]
        assert cluster["endpoint"] == facts[name]["endpoint"]
    with open(sandbox2.env["KUBECONFIG"], encoding="utf-8") as handle:
        kubeconfig = yaml.safe_load(handle)
    assert [c["name"] for c in kubeconfig["contexts"]] == ["blue", "green"]
    assert kubeconfig["current-context"] == "blue"
    cas = {c["name"]: c["cluster"]["certificate-authority-data"] for c in kubeconfig["clusters"]}
    assert cas["blue"] != cas["green"]
    assert sandbox2.clusters() == sandbox2.vars["irsa_sandbox_clusters"]


def test_issuer_documents(sandbox2):
    for cluster in sandbox2.vars["irsa_sandbox_clusters"]:
        base = f"{sandbox2.url}/_sandbox/oidc/{cluster['name']}"
        with urllib.request.urlopen(f"{base}/.well-known/openid-configuration", timeout=10) as response:
            discovery = json.load(response)
        with urllib.request.urlopen(f"{base}/keys", timeout=10) as response:
            jwks = json.load(response)
        assert discovery["issuer"] == cluster["issuer_url"]
        assert discovery["jwks_uri"] == cluster["issuer_url"] + "/keys"
        assert jwks["keys"][0]["kty"] == "RSA" and jwks["keys"][0]["alg"] == "RS256"


def test_env_and_vars_files(sandbox):
    env, variables = sandbox.env, sandbox.vars
    for key in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "KUBECONFIG", "IRSA_SANDBOX_CLUSTER", "IRSA_SANDBOX_URL"):
        assert env.get(key), key
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == variables["aws_region"] == "us-east-1"
    assert variables["aws_account_id"] == "123456789012"
    assert variables["aws_endpoint_url"] == env["AWS_ENDPOINT_URL"] == variables["irsa_sandbox_url"]
    assert variables["aws_access_key"] == env["AWS_ACCESS_KEY_ID"]
    assert variables["kubeconfig"] == env["KUBECONFIG"]
    assert set(variables["irsa_sandbox_clusters"][0]) >= {"name", "context", "issuer_url", "provider", "provider_arn",
                                                          "endpoint"}
    assert sandbox.client("sts").get_caller_identity()["Account"] == "123456789012"
