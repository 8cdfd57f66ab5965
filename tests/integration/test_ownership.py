"""Ownership and lifecycle, through the role: nothing foreign is lost, teardown and prune remove exactly ours.

Each scenario asserts the end state in IAM and Kubernetes, the message a user reads, what check mode predicted
and, where something is refused, that nothing at all was written.

A sandbox costs a kube-apiserver's boot: the scenarios that neither prune (which would take the others' roles) nor
need two clusters share one sandbox of the module, each with names of its own, and each starts as in a fresh account,
without the cluster's OIDC provider (so "nothing was written" still covers the provider a run would create).
"""

import json
import os
import subprocess

import pytest
import yaml
from botocore.exceptions import ClientError
from irsa_sandbox.testing import start_sandbox
from playbook_runner import ROOT, run_playbook

SITE = os.path.join(ROOT, "playbooks", "site.yml")
VERIFY = os.path.join(ROOT, "playbooks", "verify.yml")
TEARDOWN = os.path.join(ROOT, "playbooks", "teardown.yml")
ACCOUNT = "123456789012"
ROLE_ARN = "arn:aws:iam::%s:role/" % ACCOUNT
OWNER_TAG = {"Key": "eks.irsa/managed-by", "Value": "eks.irsa"}
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory):
    with start_sandbox(str(tmp_path_factory.mktemp("ownership"))) as running:
        yield running


@pytest.fixture
def owned(shared_sandbox):
    """The module's sandbox with no OIDC provider, as a fresh account has none."""
    iam = shared_sandbox.client("iam")
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
    return shared_sandbox


def run(sandbox, tmp_path, playbook, args=(), inventory=None, **variables):
    path = tmp_path / ("vars-%d.yml" % len(list(tmp_path.glob("vars-*.yml"))))
    path.write_text(yaml.safe_dump(variables), encoding="utf-8")
    return run_playbook(sandbox, playbook, str(tmp_path), extra_vars=["@" + str(path)], args=args, inventory=inventory)


def kubectl(sandbox, *args, check=True):
    result = subprocess.run(["kubectl", *args], env=sandbox.subprocess_env(), capture_output=True, text=True,
                            timeout=60, check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def service_account(sandbox, namespace, name, context=None):
    """The ServiceAccount as kubectl sees it, or None."""
    args = ["get", "serviceaccount", name, "-n", namespace, "-o", "json"] + (["--context", context] if context else [])
    result = kubectl(sandbox, *args, check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def annotations(sandbox, namespace, name, context=None):
    return (service_account(sandbox, namespace, name, context) or {}).get("metadata", {}).get("annotations") or {}


def role(sandbox, name):
    try:
        return sandbox.client("iam").get_role(RoleName=name)["Role"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchEntity"
        return None


def subjects(sandbox, name):
    """{provider host path: [subjects]} of the role's trust policy."""
    found = {}
    for statement in role(sandbox, name)["AssumeRolePolicyDocument"]["Statement"]:
        for block in statement.get("Condition", {}).values():
            for key, value in block.items():
                if key.endswith(":sub"):
                    found.setdefault(key[:-4], []).extend(value if isinstance(value, list) else [value])
    return found


def writes(sandbox, service=None):
    return [call["action"] for call in sandbox.log()["calls"]
            if call["write"] and (service is None or call["service"] == service)]


def sub(namespace, name):
    return "system:serviceaccount:%s:%s" % (namespace, name)


def test_a_role_the_collection_creates_is_tagged_and_a_second_run_changes_nothing(fresh, tmp_path):
    bindings = [{"service_account": "app", "role_name": "tagged-role"}]
    first = run(fresh, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=bindings)
    assert first.returncode == 0, first.stdout[-6000:]
    assert OWNER_TAG in role(fresh, "tagged-role")["Tags"]
    assert annotations(fresh, "default", "app")["eks.irsa/bound-role-arn"] == ROLE_ARN + "tagged-role"
    providers = fresh.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    tags = fresh.client("iam").list_open_id_connect_provider_tags(OpenIDConnectProviderArn=providers[0]["Arn"])["Tags"]
    assert OWNER_TAG in tags
    fresh.reset_log()
    second = run(fresh, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=bindings)
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-6000:]
    assert writes(fresh) == []


def test_teardown_of_one_cluster_of_two_keeps_the_shared_role_for_the_other(fresh2, tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"clusters": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "hosts": {name: {"irsa_cluster_name": name,
                         "irsa_bindings": [{"service_account": "payments", "role_name": "payments-multi"}]}
                  for name in ("blue", "green")}}}), encoding="utf-8")
    applied = run(fresh2, tmp_path, SITE, inventory=str(inventory), args=["--forks", "1"])
    assert applied.returncode == 0, applied.stdout[-6000:]
    providers = fresh2.vars["irsa_sandbox_clusters"]
    blue, green = (next(c["provider"] for c in providers if c["name"] == name) for name in ("blue", "green"))
    assert subjects(fresh2, "payments-multi") == {blue: [sub("default", "payments")], green: [sub("default", "payments")]}

    fresh2.reset_log()
    predicted = run(fresh2, tmp_path, TEARDOWN, inventory=str(inventory), args=["-l", "green", "--check", "--diff"])
    assert predicted.returncode == 0, predicted.stdout[-6000:]
    assert writes(fresh2) == []
    assert "default/payments -> payments-multi: ServiceAccount deleted" in predicted.stdout
    assert "left the trust of role payments-multi, which stays" in predicted.stdout

    torn = run(fresh2, tmp_path, TEARDOWN, inventory=str(inventory), args=["-l", "green"])
    assert torn.returncode == 0, torn.stdout[-6000:]
    assert "left the trust of role payments-multi, which stays" in torn.stdout
    assert subjects(fresh2, "payments-multi") == {blue: [sub("default", "payments")]}
    assert service_account(fresh2, "default", "payments", context="green") is None
    assert annotations(fresh2, "default", "payments", context="blue")["eks.amazonaws.com/role-arn"] == ROLE_ARN + "payments-multi"
    # blue still works end to end: static and token checks through the role's audit entry point
    audit = run(fresh2, tmp_path, VERIFY, inventory=str(inventory), args=["-l", "blue"])
    assert audit.returncode == 0, audit.stdout[-6000:]
    assert "'verified': True" in audit.stdout or '"verified": true' in audit.stdout


def test_teardown_within_one_cluster_removes_only_the_torn_down_binding(owned, tmp_path):
    both = [{"service_account": "api", "role_name": "shared-app"}, {"service_account": "worker", "role_name": "shared-app"}]
    assert run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=both).returncode == 0
    torn = run(owned, tmp_path, TEARDOWN, irsa_cluster_name="sandbox", irsa_bindings=both[:1])
    assert torn.returncode == 0, torn.stdout[-6000:]
    provider = owned.vars["irsa_sandbox_clusters"][0]["provider"]
    assert subjects(owned, "shared-app") == {provider: [sub("default", "worker")]}
    assert service_account(owned, "default", "api") is None
    assert annotations(owned, "default", "worker")["eks.amazonaws.com/role-arn"] == ROLE_ARN + "shared-app"
    # the last binding goes: the role is ours and nothing is left in its trust, so it goes too
    last = run(owned, tmp_path, TEARDOWN, irsa_cluster_name="sandbox", irsa_bindings=both[1:])
    assert last.returncode == 0, last.stdout[-6000:]
    assert "role shared-app deleted (nothing left in its trust)" in last.stdout
    assert role(owned, "shared-app") is None


def test_teardown_never_touches_a_hand_made_role_or_another_roles_annotation(owned, tmp_path):
    iam = owned.client("iam")
    iam.create_role(RoleName="hand-role", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    kubectl(owned, "create", "serviceaccount", "case-b")
    kubectl(owned, "annotate", "serviceaccount", "case-b", "eks.amazonaws.com/role-arn=%sother-role" % ROLE_ARN)
    owned.reset_log()
    torn = run(owned, tmp_path, TEARDOWN, irsa_cluster_name="sandbox",
               irsa_bindings=[{"service_account": "case-b", "role_name": "hand-role"}])
    assert torn.returncode == 0, torn.stdout[-6000:]
    assert writes(owned) == []
    assert role(owned, "hand-role")["AssumeRolePolicyDocument"] == EC2_TRUST
    assert annotations(owned, "default", "case-b")["eks.amazonaws.com/role-arn"] == ROLE_ARN + "other-role"
    assert "annotation left: it names %sother-role, another binding's role" % ROLE_ARN in torn.stdout
    assert "role hand-role is not eks.irsa's and does not trust it: left as it is" in torn.stdout


def test_teardown_refuses_a_foreign_role_that_trusts_the_binding(owned, tmp_path):
    provider = owned.vars["irsa_sandbox_clusters"][0]
    iam = owned.client("iam")
    # eksctl or Terraform made it: no eks.irsa tag
    run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=[{"service_account": "seed", "role_name": "seed"}])
    trust_policy = role(owned, "seed")["AssumeRolePolicyDocument"]
    iam.create_role(RoleName="eksctl-role", AssumeRolePolicyDocument=json.dumps(trust_policy).replace(":seed", ":case-d"))
    owned.reset_log()
    torn = run(owned, tmp_path, TEARDOWN, irsa_cluster_name="sandbox",
               irsa_bindings=[{"service_account": "case-d", "role_name": "eksctl-role"}])
    assert torn.returncode != 0
    assert "role eksctl-role was not created by eks.irsa and still trusts default/case-d" in torn.stdout
    assert "add eksctl-role to irsa_adopt_roles" in torn.stdout
    assert "adopt: true" not in torn.stdout
    assert writes(owned, "iam") == []
    assert subjects(owned, "eksctl-role") == {provider["provider"]: [sub("default", "case-d")]}
    adopted = run(owned, tmp_path, TEARDOWN, irsa_cluster_name="sandbox", irsa_adopt_roles=["eksctl-role"],
                  irsa_bindings=[{"service_account": "case-d", "role_name": "eksctl-role"}])
    assert adopted.returncode == 0, adopted.stdout[-6000:]
    assert role(owned, "eksctl-role") is None


def test_a_foreign_annotation_is_not_overwritten_unless_taken_over_by_name(owned, tmp_path):
    kubectl(owned, "create", "serviceaccount", "case-c")
    kubectl(owned, "annotate", "serviceaccount", "case-c", "eks.amazonaws.com/role-arn=%sother-role" % ROLE_ARN)
    bindings = [{"service_account": "case-c", "role_name": "app-role"}, {"service_account": "fine", "role_name": "fine-role"}]
    owned.reset_log()
    refused = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=bindings)
    assert refused.returncode != 0
    assert "Nothing was written" in refused.stdout
    assert ("ServiceAccount default/case-c is annotated with role %sother-role, which eks.irsa did not set, so it is not "
            "replaced with %sapp-role" % (ROLE_ARN, ROLE_ARN)) in refused.stdout
    assert "add default/case-c to irsa_adopt_service_accounts" in refused.stdout
    assert "adopt: true" not in refused.stdout
    assert writes(owned) == []
    assert role(owned, "app-role") is None and role(owned, "fine-role") is None

    taken = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=bindings,
                irsa_adopt_service_accounts=["default/case-c"])
    assert taken.returncode == 0, taken.stdout[-6000:]
    assert "default/case-c -> %sapp-role: changed, verified" % ROLE_ARN in taken.stdout
    assert "replaced %sother-role" % ROLE_ARN in taken.stdout
    assert annotations(owned, "default", "case-c")["eks.amazonaws.com/role-arn"] == ROLE_ARN + "app-role"


def test_a_foreign_role_is_refused_before_any_write_and_adopted_by_name(owned, tmp_path):
    iam = owned.client("iam")
    iam.create_role(RoleName="team-role", AssumeRolePolicyDocument=json.dumps(EC2_TRUST), Tags=[{"Key": "team", "Value": "x"}])
    bindings = [{"service_account": "case-e", "role_name": "team-role"}]
    owned.reset_log()
    refused = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=bindings)
    assert refused.returncode != 0
    assert "role team-role exists and was not created by eks.irsa" in refused.stdout
    assert "add team-role to irsa_adopt_roles" in refused.stdout
    assert writes(owned) == []
    assert service_account(owned, "default", "case-e") is None

    adopted = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=bindings, irsa_adopt_roles=["team-role"])
    assert adopted.returncode == 0, adopted.stdout[-6000:]
    stored = role(owned, "team-role")
    assert stored["AssumeRolePolicyDocument"]["Statement"][0] == EC2_TRUST["Statement"][0]
    assert len(stored["AssumeRolePolicyDocument"]["Statement"]) == 2
    assert OWNER_TAG in stored["Tags"] and {"Key": "team", "Value": "x"} in stored["Tags"]


def test_roles_and_annotations_of_version_0_1_0_are_adopted_only_when_exact(owned, tmp_path):
    bindings = [{"service_account": "old", "role_name": "old-role"}]
    assert run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=bindings).returncode == 0
    # what a version from before the marks left behind: no tag, no record
    iam = owned.client("iam")
    iam.untag_role(RoleName="old-role", TagKeys=["eks.irsa/managed-by"])
    kubectl(owned, "annotate", "serviceaccount", "old", "eks.irsa/bound-role-arn-")
    adopted = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=bindings)
    assert adopted.returncode == 0, adopted.stdout[-6000:]
    assert OWNER_TAG in role(owned, "old-role")["Tags"]
    assert annotations(owned, "default", "old")["eks.irsa/bound-role-arn"] == ROLE_ARN + "old-role"


def test_a_missing_namespace_stops_the_run_before_any_write(owned, tmp_path):
    bindings = [{"service_account": "app", "namespace": "not-there", "role_name": "ns-role"}]
    owned.reset_log()
    refused = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=bindings)
    assert refused.returncode != 0
    assert "namespace 'not-there' does not exist" in refused.stdout
    assert "set create_namespace: true on the binding" in refused.stdout
    assert writes(owned) == [] and role(owned, "ns-role") is None
    bindings[0]["create_namespace"] = True
    created = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=bindings)
    assert created.returncode == 0, created.stdout[-6000:]
    assert annotations(owned, "not-there", "app")["eks.amazonaws.com/role-arn"] == ROLE_ARN + "ns-role"


def test_a_rejected_kubernetes_credential_stops_the_run_before_any_write(owned, tmp_path):
    kubeconfig = yaml.safe_load(open(owned.vars["kubeconfig"], encoding="utf-8"))
    for user in kubeconfig["users"]:
        user["user"] = {"token": "not-a-valid-token"}
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(yaml.safe_dump(kubeconfig), encoding="utf-8")
    owned.reset_log()
    refused = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_k8s_auth="kubeconfig", irsa_kubeconfig=str(bad),
                  irsa_bindings=[{"service_account": "app", "role_name": "k8s-denied"}])
    assert refused.returncode != 0
    assert "401" in refused.stdout and "Nothing was written" in refused.stdout
    assert writes(owned) == [] and role(owned, "k8s-denied") is None


def test_a_misspelt_variable_and_empty_bindings_say_so(owned, tmp_path):
    misspelt = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_binding=[{"service_account": "a", "role_name": "r"}])
    assert misspelt.returncode != 0
    assert "irsa_binding; did you mean 'irsa_bindings'?" in misspelt.stdout
    empty = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=[])
    assert empty.returncode == 0
    assert "irsa_bindings is empty: there is nothing to create, annotate and verify" in empty.stdout
    wrong_field = run(owned, tmp_path, SITE, irsa_cluster_name="sandbox",
                      irsa_bindings=[{"service_account": "a", "role_name": "r"}, {"service_account": "api", "role": "r"}])
    assert wrong_field.returncode != 0
    assert "irsa_bindings[1] (default/api): unknown field 'role'; did you mean 'role_name'?" in wrong_field.stdout
    assert "argument_spec_data" not in wrong_field.stdout


def test_prune_removes_what_no_binding_names_and_nothing_foreign(fresh, tmp_path):
    provider = fresh.vars["irsa_sandbox_clusters"][0]["provider"]
    abc = [{"service_account": name, "role_name": "%s-role" % name} for name in ("a", "b", "c")]
    abc.append({"service_account": "b2", "role_name": "c-role"})
    assert run(fresh, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=abc).returncode == 0
    # foreign things in the same cluster: a role made by hand trusting it, an annotation set by hand
    trust_policy = role(fresh, "a-role")["AssumeRolePolicyDocument"]
    fresh.client("iam").create_role(RoleName="foreign-role",
                                    AssumeRolePolicyDocument=json.dumps(trust_policy).replace(":a\"", ":zz\""))
    kubectl(fresh, "create", "serviceaccount", "hand")
    kubectl(fresh, "annotate", "serviceaccount", "hand", "eks.amazonaws.com/role-arn=%sforeign-role" % ROLE_ARN)

    kept = [abc[0], abc[2]]  # b and b2 go
    fresh.reset_log()
    predicted = run(fresh, tmp_path, SITE, args=["--check", "--diff"], irsa_cluster_name="sandbox", irsa_bindings=kept,
                    irsa_prune=True)
    assert predicted.returncode == 0, predicted.stdout[-6000:]
    assert writes(fresh) == []
    assert "role b-role" in predicted.stdout and "ServiceAccount default/b2" in predicted.stdout

    pruned = run(fresh, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=kept, irsa_prune=True)
    assert pruned.returncode == 0, pruned.stdout[-6000:]
    assert role(fresh, "b-role") is None
    assert subjects(fresh, "c-role") == {provider: [sub("default", "c")]}
    assert "eks.amazonaws.com/role-arn" not in annotations(fresh, "default", "b2")
    assert service_account(fresh, "default", "b") is None  # created by eks.irsa, nothing else left on it
    assert subjects(fresh, "foreign-role") == {provider: [sub("default", "zz")]}
    assert annotations(fresh, "default", "hand")["eks.amazonaws.com/role-arn"] == ROLE_ARN + "foreign-role"
    assert annotations(fresh, "default", "a")["eks.amazonaws.com/role-arn"] == ROLE_ARN + "a-role"
    fresh.reset_log()
    again = run(fresh, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=kept, irsa_prune=True)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-6000:]
    assert writes(fresh) == []


def test_moving_a_binding_to_another_role_says_so_and_prune_cleans_the_old_role(fresh, tmp_path):
    provider = fresh.vars["irsa_sandbox_clusters"][0]["provider"]
    first = [{"service_account": "mover", "role_name": "move-1"}]
    assert run(fresh, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=first).returncode == 0
    moved = [{"service_account": "mover", "role_name": "move-2"}]
    result = run(fresh, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=moved)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "default/mover -> %smove-2: changed, verified" % ROLE_ARN in result.stdout
    assert "replaced %smove-1" % ROLE_ARN in result.stdout
    # no binding names move-1 any more: without prune it keeps trusting the ServiceAccount; with it, it goes
    assert subjects(fresh, "move-1") == {provider: [sub("default", "mover")]}
    pruned = run(fresh, tmp_path, SITE, irsa_cluster_name="sandbox", irsa_bindings=moved, irsa_prune=True)
    assert pruned.returncode == 0, pruned.stdout[-6000:]
    assert role(fresh, "move-1") is None
    assert annotations(fresh, "default", "mover")["eks.amazonaws.com/role-arn"] == ROLE_ARN + "move-2"
