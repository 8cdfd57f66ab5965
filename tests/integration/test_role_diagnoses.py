"""The role's own diagnoses: the right cluster, the same connection in every entry point, the role's own words.

Each test is a finding of a new-user run; each failed before the change that made it pass.
"""

import os

import pytest
import yaml
from botocore.exceptions import ClientError
from irsa_sandbox.testing import start_sandbox
from playbook_runner import ROOT, run_playbook

SITE = os.path.join(ROOT, "playbooks", "site.yml")
VERIFY = os.path.join(ROOT, "playbooks", "verify.yml")
TEARDOWN = os.path.join(ROOT, "playbooks", "teardown.yml")
ROLE_ARN = "arn:aws:iam::123456789012:role/"


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    with start_sandbox(str(tmp_path_factory.mktemp("sandbox2")), clusters=("blue", "green")) as running:
        yield running


def run(sandbox, tmp_path, playbook, args=(), env=None, inventory=None, **variables):
    path = tmp_path / ("vars-%d.yml" % len(list(tmp_path.glob("vars-*.yml"))))
    path.write_text(yaml.safe_dump(variables), encoding="utf-8")
    return run_playbook(sandbox, playbook, str(tmp_path), extra_vars=["@" + str(path)], args=args, env=env,
                        inventory=inventory)


def writes(sandbox):
    return [call["action"] for call in sandbox.log()["calls"] if call["write"]]


def role_exists(sandbox, name):
    try:
        sandbox.client("iam").get_role(RoleName=name)
        return True
    except ClientError:
        return False


def test_a_kubeconfig_context_of_another_cluster_is_refused_before_any_write(two, tmp_path):
    green = next(cluster for cluster in two.vars["irsa_sandbox_clusters"] if cluster["name"] == "green")
    two.reset_log()
    result = run(two, tmp_path, SITE, irsa_cluster_name="blue", irsa_k8s_auth="kubeconfig",
                 irsa_kubeconfig=two.vars["kubeconfig"], irsa_context="green",
                 irsa_bindings=[{"service_account": "app", "role_name": "wrong-cluster"}])
    assert result.returncode != 0
    assert "Nothing was written" in result.stdout
    assert "is not cluster blue: it issues tokens for %s" % green["issuer_url"] in result.stdout
    assert "Set irsa_context to the context of cluster blue" in result.stdout
    assert "STS has not caught up" not in result.stdout
    assert writes(two) == [] and not role_exists(two, "wrong-cluster")


def test_every_entry_point_reaches_kubernetes_the_way_the_variables_say(two, tmp_path):
    """irsa_k8s_auth: kubeconfig with empty irsa_kubeconfig/irsa_context means the default kubeconfig, in site.yml,
    verify.yml and teardown.yml alike. The default kubeconfig here holds a token the API refuses, so a playbook
    that uses it fails with 401, and one that silently used EKS mode instead would pass."""
    default_kubeconfig = yaml.safe_load(open(two.vars["kubeconfig"], encoding="utf-8"))
    for user in default_kubeconfig["users"]:
        user["user"] = {"token": "refused-by-the-api"}
    refused = tmp_path / "default-kubeconfig"
    refused.write_text(yaml.safe_dump(default_kubeconfig), encoding="utf-8")
    env = {"KUBECONFIG": str(refused)}
    bindings = [{"service_account": "conn", "role_name": "conn-role"}]
    eks = {"irsa_cluster_name": "blue", "irsa_bindings": bindings, "irsa_k8s_auth": "eks"}
    kubeconfig = {**eks, "irsa_k8s_auth": "kubeconfig"}
    for playbook in (SITE, VERIFY, TEARDOWN):
        result = run(two, tmp_path, playbook, env=env, **kubeconfig)
        assert result.returncode != 0, (playbook, result.stdout[-4000:])
        assert "401 Unauthorized" in result.stdout, (playbook, result.stdout[-4000:])
        if playbook == SITE:
            applied = run(two, tmp_path, playbook, env=env, **eks)
            assert applied.returncode == 0, applied.stdout[-6000:]
        else:
            passed = run(two, tmp_path, playbook, env=env, **eks)
            assert passed.returncode == 0, (playbook, passed.stdout[-6000:])


def test_check_mode_on_a_fresh_account_does_not_warn_about_the_provider_it_would_create(fresh, tmp_path):
    result = run(fresh, tmp_path, SITE, args=["--check"], irsa_cluster_name="sandbox",
                 irsa_bindings=[{"service_account": "app", "role_name": "fresh-role"}])
    assert result.returncode == 0, result.stdout[-6000:]
    assert "does not exist" not in result.stdout
    assert "Passing 'warnings' to 'exit_json'" not in result.stdout


def test_messages_name_the_role_variables_not_module_options(two, tmp_path):
    no_region = run(two, tmp_path, SITE, env={"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}, irsa_cluster_name="blue",
                    irsa_bindings=[{"service_account": "app", "role_name": "r"}])
    assert no_region.returncode != 0
    assert "set irsa_region (or AWS_REGION)" in no_region.stdout and "region option" not in no_region.stdout
    bad_context = run(two, tmp_path, SITE, irsa_cluster_name="blue", irsa_k8s_auth="kubeconfig",
                      irsa_kubeconfig=two.vars["kubeconfig"], irsa_context="blu",
                      irsa_bindings=[{"service_account": "app", "role_name": "r"}])
    assert bad_context.returncode != 0
    assert "set irsa_context to one of them" in bad_context.stdout and "set context to" not in bad_context.stdout


def test_a_run_lists_only_the_tasks_of_its_own_state(two, tmp_path):
    bindings = [{"service_account": "quiet", "role_name": "quiet-role"}]
    applied = run(two, tmp_path, SITE, irsa_cluster_name="blue", irsa_bindings=bindings)
    assert applied.returncode == 0, applied.stdout[-6000:]
    assert "Take the bindings' ServiceAccounts out of their roles' trust" not in applied.stdout
    assert "TASK [eks.irsa.irsa : Remove the role annotations that name the bindings' roles]" not in applied.stdout
    torn = run(two, tmp_path, TEARDOWN, irsa_cluster_name="blue", irsa_bindings=bindings)
    assert torn.returncode == 0, torn.stdout[-6000:]
    assert "Annotate the ServiceAccounts" not in torn.stdout


def test_verify_checks_the_role_the_binding_names(two, tmp_path):
    applied = run(two, tmp_path, SITE, irsa_cluster_name="blue",
                  irsa_bindings=[{"service_account": "a", "role_name": "role-one"}, {"service_account": "b", "role_name": "role-two"}])
    assert applied.returncode == 0, applied.stdout[-6000:]
    # the binding now says role-two, the ServiceAccount still carries role-one
    audit = run(two, tmp_path, VERIFY, irsa_cluster_name="blue", irsa_bindings=[{"service_account": "a", "role_name": "role-two"}])
    assert audit.returncode != 0
    assert ROLE_ARN + "role-one" in audit.stdout and ROLE_ARN + "role-two" in audit.stdout


def test_one_cluster_from_the_command_line_runs_once_whatever_the_inventory(two, tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("web1 ansible_connection=local\nweb2 ansible_connection=local\n", encoding="utf-8")
    result = run(two, tmp_path, SITE, inventory=str(inventory), irsa_cluster_name="blue",
                 irsa_bindings=[{"service_account": "once", "role_name": "once-role"}])
    assert result.returncode == 0, result.stdout[-6000:]
    recap = result.stdout[result.stdout.rindex("PLAY RECAP"):]
    assert "localhost" in recap and "web1" not in recap and "web2" not in recap
