"""The eks.irsa.irsa role with mechanism: pod_identity, through playbooks/site.yml and teardown.yml on the sandbox.

What a user sees in IAM, in the EKS API and in Kubernetes: the role's trust (IRSA subject and EKS Pod Identity
statement), the association, the ServiceAccount's annotation, the summary line, changed on the second run, the caller
identity of a real pod at every step of a migration IRSA -> EKS Pod Identity -> IRSA, and the refusal, before any
write, of a binding the cluster cannot serve (no agent add-on, Fargate).
"""

import json
import os
import re
import subprocess
import time

import yaml
from irsa_sandbox.testing import unique
from playbook_runner import ROOT, run_playbook

SITE = os.path.join(ROOT, "playbooks", "site.yml")
TEARDOWN = os.path.join(ROOT, "playbooks", "teardown.yml")
ACCOUNT = "123456789012"
CLUSTER = "sandbox"
ROLE_ARN = "arn:aws:iam::%s:role/" % ACCOUNT
CHECKS = ["static", "token", "pod"]


def run(sandbox, *args, stdin=None, check=True):
    result = subprocess.run(list(args), env=sandbox.subprocess_env(), input=stdin, capture_output=True, text=True,
                            timeout=90, check=False)
    assert result.returncode == 0 or not check, "%s: %s" % (" ".join(args), result.stderr)
    return result.stdout


def site(sandbox, tmp_path, bindings, playbook=SITE, check=False, expect_rc=0, **variables):
    values = dict(dict(irsa_cluster_name=CLUSTER, irsa_bindings=bindings, irsa_verify_checks=CHECKS,
                       irsa_verify_unchanged_checks=CHECKS), **variables)
    path = tmp_path / ("vars-%d.yml" % len(list(tmp_path.glob("vars-*.yml"))))
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    completed = run_playbook(sandbox, playbook, str(tmp_path), extra_vars=["@" + str(path)], args=["--check"] if check else [])
    assert completed.returncode == expect_rc, completed.stdout[-8000:]
    return completed.stdout


def changed_count(output):
    return int(output.rsplit("changed=", 1)[1].split()[0])


def statements(sandbox, role):
    return sandbox.client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"]


def irsa_subjects(sandbox, role):
    return [subject for stmt in statements(sandbox, role) if "Federated" in stmt["Principal"]
            for condition in stmt["Condition"].values() for key, subject in condition.items() if key.endswith(":sub")]


def pod_identity_clusters(sandbox, role):
    found = [stmt for stmt in statements(sandbox, role) if stmt["Principal"].get("Service") == "pods.eks.amazonaws.com"]
    assert [stmt.get("Sid") for stmt in found] in ([], ["EksIrsaPodIdentity"])
    return [stmt["Condition"]["ArnEquals"]["aws:SourceArn"] for stmt in found]


def associations(sandbox, namespace):
    eks = sandbox.client("eks")
    found = eks.list_pod_identity_associations(clusterName=CLUSTER, namespace=namespace)["associations"]
    return [eks.describe_pod_identity_association(clusterName=CLUSTER, associationId=item["associationId"])["association"]
            for item in found]


def annotation(sandbox, namespace, name):
    account = json.loads(run(sandbox, "kubectl", "-n", namespace, "get", "serviceaccount", name, "-o", "json"))
    return (account["metadata"].get("annotations") or {}).get("eks.amazonaws.com/role-arn")


def start_workload(sandbox, namespace, name):
    """A pod of ServiceAccount app that asks STS who it is every two seconds, as a workload calling AWS does (the
    sandbox's kubelet runs no shell loop: the script is the step written out)."""
    script = "aws sts get-caller-identity --query Arn --output text || echo FAILED; sleep 2; " * 400
    run(sandbox, "kubectl", "apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
        "spec": {"serviceAccountName": "app", "restartPolicy": "Never", "containers": [
            {"name": "app", "image": "public.ecr.aws/aws-cli/aws-cli:2.25.4", "command": ["sh", "-c", script]}]}}))


def workload_identities(sandbox, namespace, name, at_least=1, timeout=90):
    """The lines the workload has logged (its caller ARNs, or FAILED), once it has logged ``at_least``."""
    deadline = time.monotonic() + timeout
    while True:
        lines = run(sandbox, "kubectl", "-n", namespace, "logs", name, check=False).splitlines()
        if len(lines) >= at_least or time.monotonic() > deadline:
            assert len(lines) >= at_least, "workload %s logged %r" % (name, lines)
            return lines
        time.sleep(1)


def stop_workload(sandbox, namespace, name):
    run(sandbox, "kubectl", "-n", namespace, "delete", "pod", name, "--grace-period=0", "--wait=false")


def test_migration_irsa_to_pod_identity_and_back_with_a_running_workload(sandbox, tmp_path):
    namespace, role = unique("migrate"), unique("migrate-role")
    run(sandbox, "kubectl", "create", "namespace", namespace)
    binding = {"service_account": "app", "namespace": namespace, "role_name": role}
    line = "%s/app -> %s%s" % (namespace, ROLE_ARN, role)
    cluster_arn = "arn:aws:eks:%s:%s:cluster/%s" % (sandbox.vars["aws_region"], ACCOUNT, CLUSTER)
    subject = "system:serviceaccount:%s:app" % namespace
    try:
        # 1. IRSA, and a workload running on it.
        output = site(sandbox, tmp_path, [binding])
        assert line + ": changed, verified as arn:aws:sts::%s:assumed-role/%s/" % (ACCOUNT, role) in output
        start_workload(sandbox, namespace, "worker-1")
        assert workload_identities(sandbox, namespace, "worker-1")[0].startswith("arn:aws:sts::%s:assumed-role/%s/" % (ACCOUNT, role))

        # 2. To EKS Pod Identity: dual trust, the association; the annotation stays, the running pod is to restart.
        output = site(sandbox, tmp_path, [dict(binding, mechanism="pod_identity")])
        assert line + " (EKS Pod Identity): changed, verified as arn:aws:sts::%s:assumed-role/%s/eks-%s-irsa-verify-" % (
            ACCOUNT, role, CLUSTER) in output
        assert "restart %s/worker-1" % namespace in output
        assert irsa_subjects(sandbox, role) == [subject] and pod_identity_clusters(sandbox, role) == [cluster_arn]
        association = associations(sandbox, namespace)
        assert [(item["serviceAccount"], item["roleArn"], item["tags"]) for item in association] == [
            ("app", ROLE_ARN + role, {"eks.irsa/managed-by": "eks.irsa"})]
        assert annotation(sandbox, namespace, "app") == ROLE_ARN + role
        seen = len(workload_identities(sandbox, namespace, "worker-1"))
        # The pod that runs on IRSA keeps working: its trust is still there.
        lines = workload_identities(sandbox, namespace, "worker-1", at_least=seen + 2)
        assert "FAILED" not in lines, lines

        # The pods restarted: the new one runs on EKS Pod Identity.
        start_workload(sandbox, namespace, "worker-2")
        stop_workload(sandbox, namespace, "worker-1")
        assert workload_identities(sandbox, namespace, "worker-2")[0].startswith(
            "arn:aws:sts::%s:assumed-role/%s/eks-%s-worker-2-" % (ACCOUNT, role, CLUSTER))

        # 3. Finish: the annotation and the IRSA subject go, once no pod runs on IRSA.
        output = site(sandbox, tmp_path, [dict(binding, mechanism="pod_identity", remove_previous=True)])
        assert "removed the IRSA annotation and trust" in output
        assert line + " (EKS Pod Identity): changed, verified as arn:aws:sts::%s:assumed-role/%s/eks-%s-irsa-verify-" % (
            ACCOUNT, role, CLUSTER) in output
        assert irsa_subjects(sandbox, role) == [] and pod_identity_clusters(sandbox, role) == [cluster_arn]
        assert annotation(sandbox, namespace, "app") is None
        assert "FAILED" not in workload_identities(sandbox, namespace, "worker-2")
        assert changed_count(site(sandbox, tmp_path, [dict(binding, mechanism="pod_identity", remove_previous=True)])) == 0

        # 4. Back to IRSA: dual trust, the annotation, and the association deleted so that new pods get IRSA.
        output = site(sandbox, tmp_path, [dict(binding, remove_previous=True)])
        assert line + ": changed, verified as arn:aws:sts::%s:assumed-role/%s/" % (ACCOUNT, role) in output
        assert "removed the EKS Pod Identity association" in output and "restart %s/worker-2" % namespace in output
        assert associations(sandbox, namespace) == []
        assert irsa_subjects(sandbox, role) == [subject] and pod_identity_clusters(sandbox, role) == [cluster_arn]
        assert annotation(sandbox, namespace, "app") == ROLE_ARN + role
        start_workload(sandbox, namespace, "worker-3")
        stop_workload(sandbox, namespace, "worker-2")
        first = workload_identities(sandbox, namespace, "worker-3")[0]
        assert first.startswith("arn:aws:sts::%s:assumed-role/%s/" % (ACCOUNT, role)) and "/eks-" not in first

        # 5. Finish: this cluster leaves the role's EKS Pod Identity statement (the last one: the statement goes).
        output = site(sandbox, tmp_path, [dict(binding, remove_previous=True)])
        assert "removed this cluster from the role's EKS Pod Identity statement" in output
        assert line + ": changed, verified as arn:aws:sts::%s:assumed-role/%s/" % (ACCOUNT, role) in output
        assert pod_identity_clusters(sandbox, role) == [] and irsa_subjects(sandbox, role) == [subject]
        assert changed_count(site(sandbox, tmp_path, [dict(binding, remove_previous=True)])) == 0
        assert "FAILED" not in workload_identities(sandbox, namespace, "worker-3")
    finally:
        site(sandbox, tmp_path, [binding], playbook=TEARDOWN, irsa_state="absent")
        run(sandbox, "kubectl", "delete", "namespace", namespace, "--wait=false", check=False)
    assert role not in [item["RoleName"] for item in sandbox.client("iam").list_roles()["Roles"]]


def test_pod_identity_binding_check_create_again_and_teardown(sandbox, tmp_path):
    namespace, role = unique("podid-role"), unique("podid-role")
    binding = {"service_account": "app", "namespace": namespace, "role_name": role, "mechanism": "pod_identity",
               "create_namespace": True}
    iam = sandbox.client("iam")

    predicted = site(sandbox, tmp_path, [binding], check=True)
    assert re.search(r"%s/app -> (%s)?%s \(EKS Pod Identity\): changed, not verified" % (namespace, ROLE_ARN, role), predicted)
    assert role not in [item["RoleName"] for item in iam.list_roles()["Roles"]] and associations(sandbox, namespace) == []

    output = site(sandbox, tmp_path, [binding])
    assert "%s/app -> %s%s (EKS Pod Identity): changed, verified as arn:aws:sts::%s:assumed-role/%s/eks-%s-irsa-verify-" % (
        namespace, ROLE_ARN, role, ACCOUNT, role, CLUSTER) in output
    assert irsa_subjects(sandbox, role) == [] and len(pod_identity_clusters(sandbox, role)) == 1
    assert [(item["serviceAccount"], item["roleArn"]) for item in associations(sandbox, namespace)] == [("app", ROLE_ARN + role)]
    account = json.loads(run(sandbox, "kubectl", "-n", namespace, "get", "serviceaccount", "app", "-o", "json"))
    assert account["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "eks.irsa"}
    assert not (account["metadata"].get("annotations") or {})

    again = site(sandbox, tmp_path, [binding])
    assert changed_count(again) == 0 and "(EKS Pod Identity): unchanged, verified as" in again

    teardown = site(sandbox, tmp_path, [binding], playbook=TEARDOWN, irsa_state="absent")
    assert "EKS Pod Identity association deleted" in teardown and "role %s deleted" % role in teardown
    assert role not in [item["RoleName"] for item in iam.list_roles()["Roles"]] and associations(sandbox, namespace) == []
    assert run(sandbox, "kubectl", "-n", namespace, "get", "serviceaccount", "app", check=False) == ""
    run(sandbox, "kubectl", "delete", "namespace", namespace, "--wait=false", check=False)


def test_a_binding_the_cluster_cannot_serve_is_refused_before_any_write(sandbox, tmp_path):
    namespace, role = unique("podid-fargate"), unique("podid-fargate")
    run(sandbox, "kubectl", "create", "namespace", namespace)
    eks, iam = sandbox.client("eks"), sandbox.client("iam")
    execution = iam.create_role(RoleName=unique("fargate-exec"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks-fargate-pods.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]
    profile = unique("fp")
    eks.create_fargate_profile(fargateProfileName=profile, clusterName=CLUSTER, podExecutionRoleArn=execution["Arn"],
                               selectors=[{"namespace": namespace}])
    sandbox.control("POST", "eks/addon", {"cluster": CLUSTER, "addon": "eks-pod-identity-agent", "present": False})
    try:
        binding = {"service_account": "app", "namespace": namespace, "role_name": role, "mechanism": "pod_identity"}
        output = site(sandbox, tmp_path, [binding], expect_rc=2)
        assert run(sandbox, "kubectl", "-n", namespace, "get", "serviceaccount", "app", check=False) == ""
    finally:
        sandbox.control("POST", "eks/addon", {"cluster": CLUSTER, "addon": "eks-pod-identity-agent", "present": True})
        eks.delete_fargate_profile(clusterName=CLUSTER, fargateProfileName=profile)
        run(sandbox, "kubectl", "delete", "namespace", namespace, "--wait=false", check=False)
    message = output.split("Nothing was written", 1)[1]
    assert "%s/app -> %s: mechanism pod_identity:" % (namespace, role) in message
    assert "eks-pod-identity-agent" in message and "aws eks create-addon --cluster-name sandbox" in message
    assert repr(profile) in message and "use IRSA" in message
    assert role not in [item["RoleName"] for item in iam.list_roles()["Roles"]]
    assert associations(sandbox, namespace) == []


def test_a_target_role_in_another_account_is_what_the_pods_run_as(sandbox, tmp_path):
    other = "210987654321"
    namespace, role, target = unique("podid-chain"), unique("podid-source"), unique("data-reader")
    # The other account's administrator lets the binding's role assume its role, session tags included.
    target_arn = sandbox.control("POST", "iam/role", {"account_id": other, "name": target, "trust_policy": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE_ARN + role},
                                                "Action": ["sts:AssumeRole", "sts:TagSession"]}]}})["arn"]
    assert target_arn == "arn:aws:iam::%s:role/%s" % (other, target)
    binding = {"service_account": "app", "namespace": namespace, "role_name": role, "mechanism": "pod_identity",
               "target_role_arn": target_arn, "create_namespace": True}
    try:
        output = site(sandbox, tmp_path, [binding])
        # The token and pod checks end as the other account's role: EKS assumed the binding's role, then chained.
        assert "%s/app -> %s%s (EKS Pod Identity): changed, verified as arn:aws:sts::%s:assumed-role/%s/eks-%s-irsa-verify-" % (
            namespace, ROLE_ARN, role, other, target, CLUSTER) in output
        association, = associations(sandbox, namespace)
        assert association["roleArn"] == ROLE_ARN + role and association["targetRoleArn"] == target_arn
        assert association["externalId"]
        assert changed_count(site(sandbox, tmp_path, [binding])) == 0
    finally:
        site(sandbox, tmp_path, [binding], playbook=TEARDOWN, irsa_state="absent")
        run(sandbox, "kubectl", "delete", "namespace", namespace, "--wait=false", check=False)
    assert associations(sandbox, namespace) == []


def deployment_pods(sandbox, namespace):
    """``{pod name: whether it has EKS Pod Identity's variables}`` of the running pods of Deployment web."""
    pods = json.loads(run(sandbox, "kubectl", "-n", namespace, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
    return {pod["metadata"]["name"]: any(env["name"] == "AWS_CONTAINER_CREDENTIALS_FULL_URI"
                                         for env in pod["spec"]["containers"][0].get("env") or [])
            for pod in pods if pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")}


def wait_for(condition, what, timeout=90):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            assert value, "%s after %ss" % (what, timeout)
            return value
        time.sleep(1)


def test_the_run_restarts_the_deployment_whose_pods_keep_irsa_and_finishes_the_migration(sandbox, tmp_path):
    namespace, role = unique("podid-restart"), unique("podid-restart")
    run(sandbox, "kubectl", "create", "namespace", namespace)
    binding = {"service_account": "app", "namespace": namespace, "role_name": role}
    try:
        site(sandbox, tmp_path, [binding], irsa_verify_checks=["static"], irsa_verify_unchanged_checks=["static"])
        run(sandbox, "kubectl", "apply", "-f", "-", stdin=json.dumps({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"serviceAccountName": "app", "containers": [
                    {"name": "web", "image": "public.ecr.aws/aws-cli/aws-cli:2.25.4", "command": ["sleep", "infinity"]}]}}}}))
        before = wait_for(lambda: len(deployment_pods(sandbox, namespace)) == 2 and deployment_pods(sandbox, namespace),
                          "two pods of Deployment web running")
        assert not any(before.values())

        moved = dict(binding, mechanism="pod_identity", remove_previous=True)
        output = site(sandbox, tmp_path, [moved], irsa_restart_pods=True, irsa_verify_checks=["static"],
                      irsa_verify_unchanged_checks=["static"])
        # The pods were on IRSA: restarted through their Deployment, once; nothing removed while they run.
        assert "; restarted Deployment/web" in output and "; removed" not in output
        template = json.loads(run(sandbox, "kubectl", "-n", namespace, "get", "deployment", "web", "-o", "json"))["spec"]["template"]
        assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]

        def replaced():
            pods = deployment_pods(sandbox, namespace)
            return len(pods) == 2 and all(pods.values()) and not set(pods) & set(before)

        wait_for(replaced, "the Deployment's pods replaced by pods on EKS Pod Identity")

        # The next run finds no pod on IRSA: the migration finishes.
        output = site(sandbox, tmp_path, [moved], irsa_restart_pods=True, irsa_verify_checks=["static"],
                      irsa_verify_unchanged_checks=["static"])
        assert "removed the IRSA annotation and trust" in output and "; restarted" not in output
        assert annotation(sandbox, namespace, "app") is None and irsa_subjects(sandbox, role) == []
    finally:
        site(sandbox, tmp_path, [binding], playbook=TEARDOWN, irsa_state="absent")
        run(sandbox, "kubectl", "delete", "namespace", namespace, "--wait=false", check=False)
