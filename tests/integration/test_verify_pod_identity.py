"""irsa_verify with mechanism: pod_identity through ansible-playbook on the sandbox: what a user reads.

Each binding is broken on purpose in one way (no association, an association for another namespace or role, a role
whose trust lacks the service principal, sts:TagSession or this cluster, a namespace that a Fargate profile selects,
the agent add-on removed, pods created before the association, a pod with IRSA's variables besides Pod Identity's) and one task
verifies them all: each is diagnosed by the finding that names its broken link, and by none other.

The token and pod checks go through the sandbox's EKS Auth (AssumeRoleForPodIdentity), the Pod Identity agent's
credentials endpoint and AWS's webhook's pod mutation.
"""

import json
import time

import pytest
import yaml
from irsa_sandbox.testing import unique
from kube_api import KubeApi
from playbook_runner import run_playbook

ACCOUNT = "123456789012"
CLUSTER = "sandbox"
SERVICE = "pods.eks.amazonaws.com"


def cluster_arn(sandbox):
    return next(cluster["arn"] for cluster in sandbox.vars["irsa_sandbox_clusters"] if cluster["name"] == CLUSTER)


def pod_trust(actions=("sts:AssumeRole", "sts:TagSession"), source_arn=None):
    stmt = {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": list(actions)}
    if source_arn:
        stmt["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnEquals": {"aws:SourceArn": source_arn}}
    return {"Version": "2012-10-17", "Statement": [stmt]}


def create_role(sandbox, name, trust):
    return sandbox.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def associate(sandbox, namespace, service_account, role_arn, **extra):
    request = dict(clusterName=CLUSTER, namespace=namespace, serviceAccount=service_account, roleArn=role_arn, **extra)
    return sandbox.client("eks").create_pod_identity_association(**request)["association"]


def verify(sandbox, tmp_path, bindings, checks=("static",)):
    """Run irsa_verify once over ``bindings`` (fail_on_error: false); its result, the playbook's output, and how long it took."""
    result_file = tmp_path / ("result-%d.json" % len(list(tmp_path.glob("result-*.json"))))
    task = {"cluster_name": CLUSTER, "kubeconfig": sandbox.vars["kubeconfig"], "context": CLUSTER, "region": "{{ aws_region }}",
            "service_accounts": bindings, "checks": list(checks), "fail_on_error": False, "propagation_timeout": 20, "pod_timeout": 60}
    playbook = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "verify", "eks.irsa.irsa_verify": task, "register": "outcome"},
        {"ansible.builtin.copy": {"content": "{{ outcome | to_json }}", "dest": str(result_file)}},
    ]}]
    path = tmp_path / "playbook.yml"
    path.write_text(yaml.safe_dump(playbook), encoding="utf-8")
    completed = run_playbook(sandbox, str(path), str(tmp_path))
    assert completed.returncode == 0, completed.stdout[-6000:]
    return json.loads(result_file.read_text(encoding="utf-8")), completed.stdout


def findings(result, name, severity="error"):
    """The failed checks of severity ``severity`` of binding ``name``, by check name."""
    entry = next(item for item in result["results"] if item["service_account"] == name)
    return {check["name"]: check for check in entry["checks"] if check["passed"] is False and check["severity"] == severity}


def entry_of(result, name):
    return next(item for item in result["results"] if item["service_account"] == name)


def pi(namespace, name, **extra):
    return dict({"namespace": namespace, "name": name, "mechanism": "pod_identity"}, **extra)


def assert_no_secret(sandbox, *texts):
    secrets = sandbox.secrets()
    for kind in ("aws_secret_access_keys", "aws_session_tokens", "service_account_tokens"):
        for secret in secrets.get(kind, []):
            for text in texts:
                assert secret not in text, kind


@pytest.fixture
def namespace(sandbox):
    kube = KubeApi(sandbox, CLUSTER)
    name = unique("piv")
    kube.create_namespace(name)
    yield name
    kube.delete_namespace(name)


def test_each_broken_link_is_named_by_its_own_finding(sandbox, tmp_path, namespace):
    kube = KubeApi(sandbox, CLUSTER)
    prefix = namespace
    arn = cluster_arn(sandbox)
    good = create_role(sandbox, prefix + "-good", pod_trust(source_arn=arn))
    other = create_role(sandbox, prefix + "-other", pod_trust())
    irsa_only = create_role(sandbox, prefix + "-irsa", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::%s:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X" % ACCOUNT},
        "Action": "sts:AssumeRoleWithWebIdentity"}]})
    no_tag = create_role(sandbox, prefix + "-notag", pod_trust(actions=["sts:AssumeRole"]))
    elsewhere = create_role(sandbox, prefix + "-elsewhere", pod_trust(source_arn=arn.replace(":cluster/sandbox", ":cluster/other")))
    for name in ("good", "noassoc", "otherrole", "nosp", "notag", "notagoff", "elsewhere", "stale", "irsa", "annotated"):
        kube.create_service_account(namespace, name, {"eks.amazonaws.com/role-arn": other} if name in ("irsa", "annotated") else None)
    # A pod that runs before its ServiceAccount's association exists.
    kube.request("POST", "/api/v1/namespaces/%s/pods" % namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stale-app"},
                 "spec": {"serviceAccountName": "stale", "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "600"]}]}})
    associate(sandbox, namespace + "-dev", "noassoc", good)
    for name, role in (("good", good), ("otherrole", good), ("nosp", irsa_only), ("notag", no_tag), ("elsewhere", elsewhere),
                       ("stale", good), ("irsa", good), ("annotated", good)):
        associate(sandbox, namespace, name, role)
    associate(sandbox, namespace, "notagoff", no_tag, disableSessionTags=True)
    # A pod created after the association, whose template also sets IRSA's variables: AWS's webhook adds Pod Identity's,
    # and the pod has both.
    irsa_env = [{"name": "AWS_ROLE_ARN", "value": other},
                {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}]
    kube.request("POST", "/api/v1/namespaces/%s/pods" % namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "irsa-app"},
                 "spec": {"serviceAccountName": "irsa", "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "600"],
                                                                        "env": irsa_env}]}})

    result, output = verify(sandbox, tmp_path, [pi(namespace, name) for name in (
        "good", "noassoc", "nosp", "notag", "notagoff", "elsewhere", "stale", "irsa", "annotated")] + [pi(namespace, "otherrole", role_arn=other)])
    assert result["summary"] == {"total": 10, "verified": 5, "failed": 5}
    for name in ("good", "notagoff", "stale", "irsa", "annotated"):
        assert entry_of(result, name)["verified"], entry_of(result, name)["checks"]
        assert entry_of(result, name)["mechanism"] == "pod_identity"
    assert findings(result, "good", "warning") == {} and findings(result, "notagoff", "warning") == {}
    # The IRSA annotation beside the association is no problem: AWS's webhook gives new pods Pod Identity only.
    assert findings(result, "annotated", "warning") == {}

    missing = findings(result, "noassoc")
    assert list(missing) == ["association"]
    assert "no Pod Identity association for %s/noassoc" % namespace in missing["association"]["message"]
    assert "in another namespace: %s-dev/noassoc" % namespace in missing["association"]["message"]

    wrong = findings(result, "otherrole")
    assert list(wrong) == ["association"] and "names the role %s, not the expected %s" % (good, other) in wrong["association"]["message"]

    assert list(findings(result, "nosp")) == ["trust_policy"]
    assert "does not name the service principal pods.eks.amazonaws.com" in findings(result, "nosp")["trust_policy"]["message"]
    assert list(findings(result, "notag")) == ["trust_policy_tag_session"]
    assert "disable_session_tags: true" in findings(result, "notag")["trust_policy_tag_session"]["remediation"]
    assert list(findings(result, "elsewhere")) == ["trust_policy"]
    assert "its conditions exclude this cluster (%s)" % arn in findings(result, "elsewhere")["trust_policy"]["message"]

    stale = findings(result, "stale", "warning")
    assert list(stale) == ["stale_pods"] and "stale-app" in stale["stale_pods"]["message"]
    assert entry_of(result, "stale")["pods_to_restart"] == ["stale-app"]
    irsa = findings(result, "irsa", "warning")
    assert list(irsa) == ["irsa_precedence"]
    assert "so they run as %s, not as the Pod Identity role %s: irsa-app." % (other, good) in irsa["irsa_precedence"]["message"]
    # Warnings of a run that passes are also said on the task's output.
    assert "[irsa_precedence]" in output


def test_agent_missing_and_fargate(sandbox, tmp_path, namespace):
    kube = KubeApi(sandbox, CLUSTER)
    good = create_role(sandbox, namespace + "-good", pod_trust())
    kube.create_service_account(namespace, "app")
    associate(sandbox, namespace, "app", good)
    eks = sandbox.client("eks")
    fargate = unique("fp")
    eks.create_fargate_profile(fargateProfileName=fargate, clusterName=CLUSTER, podExecutionRoleArn=good,
                               selectors=[{"namespace": namespace, "labels": {"compute": "fargate"}}])
    try:
        result, _output = verify(sandbox, tmp_path, [pi(namespace, "app")])
        assert entry_of(result, "app")["verified"]
        maybe = findings(result, "app", "warning")
        assert list(maybe) == ["fargate"] and repr(fargate) in maybe["fargate"]["message"]
        sandbox.control("POST", "eks/addon", {"cluster": CLUSTER, "addon": "eks-pod-identity-agent", "present": False})
        try:
            result, _output = verify(sandbox, tmp_path, [dict(pi(namespace, "app"), pod_labels={"compute": "fargate", "app": "x"})])
        finally:
            sandbox.control("POST", "eks/addon", {"cluster": CLUSTER, "addon": "eks-pod-identity-agent", "present": True})
        found = findings(result, "app")
        assert sorted(found) == ["fargate", "pod_identity_agent"]
        assert "aws eks create-addon --cluster-name sandbox --addon-name eks-pod-identity-agent" in found["pod_identity_agent"]["remediation"]
        assert "Pod Identity does not run on Fargate: use IRSA" in found["fargate"]["remediation"]
    finally:
        eks.delete_fargate_profile(clusterName=CLUSTER, fargateProfileName=fargate)


# --- token and pod: need the sandbox's EKS Auth, agent endpoint and pod mutation --------------------------------


def test_token_exchanged_with_eks_auth(sandbox, tmp_path, namespace):
    kube = KubeApi(sandbox, CLUSTER)
    good = create_role(sandbox, namespace + "-good", pod_trust(source_arn=cluster_arn(sandbox)))
    no_tag = create_role(sandbox, namespace + "-notag", pod_trust(actions=["sts:AssumeRole"]))
    for name, role in (("app", good), ("notag", no_tag), ("idle", good)):
        kube.create_service_account(namespace, name)
        associate(sandbox, namespace, name, role)
    kube.create_service_account(namespace, "noassoc")
    # The workloads: EKS Auth exchanges a pod's token, so the check binds its token to a running pod of the ServiceAccount.
    for name in ("app", "notag"):
        kube.request("POST", "/api/v1/namespaces/%s/pods" % namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name + "-0"},
                     "spec": {"serviceAccountName": name, "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "600"]}]}})
    deadline = time.monotonic() + 120
    while sorted(pod["metadata"]["name"] for pod in kube.pods(namespace) if pod.get("status", {}).get("phase") == "Running") != ["app-0", "notag-0"]:
        assert time.monotonic() < deadline, kube.pods(namespace)
        time.sleep(0.5)
    result, output = verify(sandbox, tmp_path, [pi(namespace, name) for name in ("app", "notag", "noassoc", "idle")], checks=("static", "token"))
    app = entry_of(result, "app")
    assert app["verified"], app["checks"]
    # The pod's session: EKS names it after the cluster and the pod.
    assert app["caller_identity"]["arn"].startswith("arn:aws:sts::%s:assumed-role/%s-good/eks-sandbox-app-0-" % (ACCOUNT, namespace))
    idle = next(check for check in entry_of(result, "idle")["checks"] if check["name"] == "token")
    assert idle["passed"] is None and "no pod of the ServiceAccount %s/idle runs; the pod check runs one" % namespace in idle["message"]
    token = findings(result, "notag")["token"]
    assert "EKS Auth answered AccessDeniedException" in token["message"] and "sts:TagSession" in token["message"]
    assert entry_of(result, "notag")["attempts"] == 1  # the static check explained it: not retried
    assert "no Pod Identity association" in findings(result, "noassoc")["token"]["message"]
    assert_no_secret(sandbox, output, json.dumps(result))


def test_pod_gets_the_role_through_the_container_credentials(sandbox, tmp_path, namespace):
    kube = KubeApi(sandbox, CLUSTER)
    good = create_role(sandbox, namespace + "-good", pod_trust())
    kube.create_service_account(namespace, "app")
    kube.create_service_account(namespace, "none")
    associate(sandbox, namespace, "app", good)
    result, output = verify(sandbox, tmp_path, [pi(namespace, "app"), pi(namespace, "none")], checks=("pod",))
    app = entry_of(result, "app")
    assert app["verified"], app["checks"]
    assert app["caller_identity"]["arn"].startswith("arn:aws:sts::%s:assumed-role/%s-good/" % (ACCOUNT, namespace))
    assert "admitted without Pod Identity credentials" in findings(result, "none")["pod"]["message"]
    assert kube.pods(namespace, "app.kubernetes.io/component=irsa-verify") == []
    assert_no_secret(sandbox, output, json.dumps(result))
