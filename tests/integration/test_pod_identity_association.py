"""eks_pod_identity_association through ansible-playbook on the sandbox: what a user notices.

Each step runs the module in a playbook of its own, then looks at the association in EKS (boto3 against the sandbox)
and at the request log: a second run and a check-mode run write nothing, a refusal writes nothing, and only the
collection's own associations (or adopted ones) are changed or deleted.
"""

import ast
import json
import os

import yaml
from irsa_sandbox.testing import unique
from playbook_runner import ROOT, run_module, run_playbook

ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::%s:role/pia-app" % ACCOUNT
OTHER_ROLE = "arn:aws:iam::%s:role/pia-other" % ACCOUNT
TARGET = "arn:aws:iam::210987654321:role/pia-target"
OWNER = {"eks.irsa/managed-by": "eks.irsa"}
MODULE = "eks.irsa.eks_pod_identity_association"


def run(sandbox, tmp_path, args, check=False):
    return run_module(sandbox, tmp_path, MODULE, args, "eks", check)


def writes(calls):
    return [action for action, write in calls if write]


def associations(sandbox, namespace):
    """{ServiceAccount: association as DescribePodIdentityAssociation shows it} of a namespace of cluster sandbox."""
    eks = sandbox.client("eks")
    found = {}
    for summary in eks.list_pod_identity_associations(clusterName="sandbox", namespace=namespace)["associations"]:
        association = eks.describe_pod_identity_association(clusterName="sandbox", associationId=summary["associationId"])
        found[summary["serviceAccount"]] = association["association"]
    return found


def app(namespace, **extra):
    return dict({"cluster_name": "sandbox", "namespace": namespace, "service_account": "app", "role_arn": ROLE}, **extra)


def test_create_again_update_and_delete_each_in_check_mode_first(sandbox, tmp_path):
    namespace = unique("pia")
    predicted, calls = run(sandbox, tmp_path, app(namespace, tags={"team": "shop"}), check=True)
    assert predicted["changed"] is True and writes(calls) == [] and associations(sandbox, namespace) == {}
    assert predicted["association"]["role_arn"] == ROLE and predicted["diff"]["before"] == {}

    created, calls = run(sandbox, tmp_path, app(namespace, tags={"team": "shop"}))
    assert created["changed"] is True and writes(calls) == ["CreatePodIdentityAssociation"]
    in_eks = associations(sandbox, namespace)["app"]
    assert in_eks["roleArn"] == ROLE and in_eks["tags"] == dict(OWNER, team="shop") and in_eks["disableSessionTags"] is False
    assert created["association"]["association_id"] == in_eks["associationId"]
    assert created["association"]["association_arn"] == in_eks["associationArn"] and created["association"]["owned"] is True

    again, calls = run(sandbox, tmp_path, app(namespace, tags={"team": "shop"}))
    assert again["changed"] is False and writes(calls) == []
    assert calls == [("ListPodIdentityAssociations", False), ("DescribePodIdentityAssociation", False)]

    predicted, calls = run(sandbox, tmp_path, app(namespace, role_arn=OTHER_ROLE, disable_session_tags=True), check=True)
    assert predicted["changed"] is True and writes(calls) == [] and associations(sandbox, namespace)["app"]["roleArn"] == ROLE
    assert predicted["diff"]["before"]["role_arn"] == ROLE and predicted["diff"]["after"]["role_arn"] == OTHER_ROLE
    updated, calls = run(sandbox, tmp_path, app(namespace, role_arn=OTHER_ROLE, disable_session_tags=True))
    assert updated["changed"] is True and writes(calls) == ["UpdatePodIdentityAssociation"]
    in_eks = associations(sandbox, namespace)["app"]
    assert in_eks["roleArn"] == OTHER_ROLE and in_eks["disableSessionTags"] is True
    assert in_eks["associationId"] == created["association"]["association_id"]  # updated in place
    assert run(sandbox, tmp_path, app(namespace, role_arn=OTHER_ROLE, disable_session_tags=True))[0]["changed"] is False

    predicted, calls = run(sandbox, tmp_path, app(namespace, state="absent", role_arn=None), check=True)
    assert predicted["changed"] is True and writes(calls) == [] and "app" in associations(sandbox, namespace)
    deleted, calls = run(sandbox, tmp_path, app(namespace, state="absent", role_arn=None))
    assert deleted["deleted"] is True and writes(calls) == ["DeletePodIdentityAssociation"]
    assert associations(sandbox, namespace) == {}
    again, calls = run(sandbox, tmp_path, app(namespace, state="absent", role_arn=None))
    assert again["changed"] is False and writes(calls) == []


def test_a_foreign_association_is_refused_until_adopted(sandbox, tmp_path):
    namespace = unique("pia")
    eks = sandbox.client("eks")
    foreign = eks.create_pod_identity_association(clusterName="sandbox", namespace=namespace, serviceAccount="app",
                                                  roleArn=ROLE, tags={"owner": "terraform"})["association"]

    as_wanted, calls = run(sandbox, tmp_path, app(namespace))
    assert as_wanted["changed"] is False and writes(calls) == [] and as_wanted["association"]["owned"] is False

    refused, calls = run(sandbox, tmp_path, app(namespace, role_arn=OTHER_ROLE))
    assert refused["failed"] is True and refused["changed"] is False and writes(calls) == []
    assert "EKS Pod Identity association %s of %s/app in cluster sandbox was not created by eks.irsa" % (
        foreign["associationId"], namespace) in refused["msg"]
    assert "set adopt: true" in refused["msg"] and refused["foreign_association"] == foreign["associationId"]
    refused, calls = run(sandbox, tmp_path, app(namespace, state="absent", role_arn=None))
    assert refused["failed"] is True and "so it is not deleted" in refused["msg"] and writes(calls) == []
    assert associations(sandbox, namespace)["app"]["roleArn"] == ROLE

    adopted, calls = run(sandbox, tmp_path, app(namespace, role_arn=OTHER_ROLE, adopt=True))
    assert adopted["changed"] is True and adopted["adopted"] is True
    assert writes(calls) == ["UpdatePodIdentityAssociation", "TagResource"]
    in_eks = associations(sandbox, namespace)["app"]
    assert in_eks["roleArn"] == OTHER_ROLE and in_eks["tags"] == dict(OWNER, owner="terraform")

    deleted, calls = run(sandbox, tmp_path, app(namespace, state="absent", role_arn=None))
    assert deleted["deleted"] is True and associations(sandbox, namespace) == {}


def test_many_associations_in_one_task_with_a_target_role_and_deleting_only_ours(sandbox, tmp_path):
    namespace = unique("pia")
    eks = sandbox.client("eks")
    eks.create_pod_identity_association(clusterName="sandbox", namespace=namespace, serviceAccount="legacy", roleArn=ROLE)
    items = [
        {"service_account": "cart"},
        {"service_account": "billing", "target_role_arn": TARGET},
        {"service_account": "reports", "disable_session_tags": True, "tags": {"team": "reports"}},
    ]
    task = {"cluster_name": "sandbox", "namespace": namespace, "role_arn": ROLE, "tags": {"team": "shop"}, "associations": items}
    result, calls = run(sandbox, tmp_path, task)
    assert result["changed"] is True and not result.get("failed")
    assert [item["changed"] for item in result["results"]] == [True, True, True]
    assert sorted(writes(calls)) == ["CreatePodIdentityAssociation"] * 3
    assert calls.count(("ListPodIdentityAssociations", False)) == 1
    in_eks = associations(sandbox, namespace)
    assert in_eks["billing"]["targetRoleArn"] == TARGET and in_eks["billing"]["externalId"]
    billing = result["results"][1]["association"]
    assert billing["target_role_arn"] == TARGET and billing["external_id"] == in_eks["billing"]["externalId"]
    assert in_eks["reports"]["disableSessionTags"] is True and in_eks["reports"]["tags"] == dict(OWNER, team="reports")
    assert in_eks["cart"]["tags"] == dict(OWNER, team="shop") and "targetRoleArn" not in in_eks["cart"]

    again, calls = run(sandbox, tmp_path, task)
    assert again["changed"] is False and writes(calls) == []

    removed, calls = run(sandbox, tmp_path, dict(task, associations=[{"service_account": "billing", "target_role_arn": ""}]))
    assert removed["changed"] is True and "targetRoleArn" not in associations(sandbox, namespace)["billing"]

    teardown = {"cluster_name": "sandbox", "namespace": namespace, "state": "absent",
                "associations": [{"service_account": name} for name in ("cart", "billing", "reports", "legacy")]}
    result, calls = run(sandbox, tmp_path, teardown)
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith("1 of 4 associations failed: association %s/legacy in cluster sandbox" % namespace)
    assert [item.get("deleted") for item in result["results"]] == [True, True, True, None]
    assert sorted(writes(calls)) == ["DeletePodIdentityAssociation"] * 3
    assert list(associations(sandbox, namespace)) == ["legacy"]


def test_bad_input_is_a_message_in_the_options_words(sandbox, tmp_path):
    namespace = unique("pia")
    result, calls = run(sandbox, tmp_path, app(namespace, service_account="App_1", role_arn="arn:aws:iam:%s:role/x" % ACCOUNT))
    assert result["failed"] is True and calls == []
    assert result["msg"].startswith("service_account 'App_1' is not a Kubernetes ServiceAccount name")
    result, calls = run(sandbox, tmp_path, app(namespace, role_arn="arn:aws:iam:%s:role/x" % ACCOUNT))
    assert "role_arn: 'arn:aws:iam:%s:role/x' is not an IAM role ARN: a ':' is missing" % ACCOUNT in result["msg"]
    result, calls = run(sandbox, tmp_path, app(namespace, cluster_name="nope"))
    assert result["msg"].startswith("EKS cluster 'nope' was not found in region us-east-1; clusters in that region: sandbox")
    assert "Traceback" not in json.dumps(result)


def examples():
    with open(os.path.join(ROOT, "plugins", "modules", "eks_pod_identity_association.py"), encoding="utf-8") as handle:
        for node in ast.parse(handle.read()).body:
            if isinstance(node, ast.Assign) and node.targets[0].id == "EXAMPLES":
                return node.value.value
    raise AssertionError("no EXAMPLES")


def test_examples_run_as_written(sandbox, tmp_path):
    tasks = yaml.safe_load(examples().replace("my-cluster", "sandbox").replace("us-west-2", "'{{ aws_region }}'"))
    path = tmp_path / "examples.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]), encoding="utf-8")
    completed = run_playbook(sandbox, str(path), str(tmp_path))
    assert completed.returncode == 0, completed.stdout[-6000:]
    in_eks = associations(sandbox, "shop")
    assert sorted(in_eks) == ["billing", "checkout", "reports"]  # cart was created, then removed by the last example
    assert in_eks["billing"]["targetRoleArn"] == "arn:aws:iam::210987654321:role/billing-reader"
    assert "sts:ExternalId %s" % in_eks["billing"]["externalId"] in completed.stdout
    for association in in_eks.values():
        sandbox.client("eks").delete_pod_identity_association(clusterName="sandbox", associationId=association["associationId"])
