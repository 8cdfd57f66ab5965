"""The eks.irsa.irsa role end to end, through playbooks/site.yml, verify.yml and teardown.yml.

Each test gets a sandbox of its own, so "a fresh cluster" is really fresh and the request log counts
only what the test did.
"""

import json
import os
import re
import subprocess

import pytest
import yaml
from botocore.exceptions import ClientError
from playbook_runner import ROOT, run_playbook

SITE = os.path.join(ROOT, "playbooks", "site.yml")
VERIFY = os.path.join(ROOT, "playbooks", "verify.yml")
TEARDOWN = os.path.join(ROOT, "playbooks", "teardown.yml")
ROLE_ARN = "arn:aws:iam::123456789012:role/"


def write_vars(tmp_path, **values):
    path = tmp_path / ("vars-%d.yml" % len(list(tmp_path.glob("vars-*.yml"))))
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return "@" + str(path)


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    hosts = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.MULTILINE):
        hosts[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counters)}
    return hosts


def kubectl_json(sandbox, *args):
    result = subprocess.run(["kubectl", *args, "-o", "json"], env=sandbox.subprocess_env(), capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def kubectl(sandbox, *args):
    subprocess.run(["kubectl", *args], env=sandbox.subprocess_env(), capture_output=True, text=True, timeout=60, check=True)


def writes(log, service=None):
    return [call for call in log["calls"] if call["write"] and (service is None or call["service"] == service)]


BINDINGS = [
    {"service_account": "app", "namespace": "shop", "role_name": "shop-reader"},
    {"service_account": "worker", "namespace": "shop", "role_name": "shop-reader"},
    {"service_account": "irsa-test", "namespace": "default", "role_name": "AWSIRSATestRole"},
]


def test_create_verify_rerun_and_teardown(fresh, tmp_path):
    kubectl(fresh, "create", "namespace", "shop")
    bindings = write_vars(tmp_path, irsa_cluster_name="sandbox", irsa_bindings=BINDINGS,
                          irsa_verify_checks=["static", "token", "pod"])

    first = run_playbook(fresh, SITE, str(tmp_path), extra_vars=[bindings])
    assert first.returncode == 0, first.stdout[-8000:]
    assert recap(first.stdout)["localhost"]["changed"] > 0

    iam = fresh.client("iam")
    trust = iam.get_role(RoleName="shop-reader")["Role"]["AssumeRolePolicyDocument"]
    subjects = json.dumps(trust)
    assert "system:serviceaccount:shop:app" in subjects and "system:serviceaccount:shop:worker" in subjects
    for binding in BINDINGS:
        account = kubectl_json(fresh, "get", "serviceaccount", binding["service_account"], "-n", binding["namespace"])
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE_ARN + binding["role_name"]
        assert "%s/%s -> %s%s" % (binding["namespace"], binding["service_account"], ROLE_ARN, binding["role_name"]) in first.stdout
    assert first.stdout.count(", verified") == len(BINDINGS)
    # The verification pods are gone.
    assert not [pod for pod in kubectl_json(fresh, "get", "pods", "-A")["items"]
                if pod["metadata"]["name"].startswith("irsa-verify-")]

    fresh.reset_log()
    second = run_playbook(fresh, SITE, str(tmp_path), extra_vars=[bindings])
    assert second.returncode == 0, second.stdout[-8000:]
    assert recap(second.stdout)["localhost"]["changed"] == 0
    log = fresh.log()
    assert writes(log, "iam") == [] and writes(log, "eks") == []
    assert [call["action"] for call in writes(log, "kubernetes") if "serviceaccounts" == call["action"].split()[-1]] == []
    # Unchanged bindings are checked against the roles the run has just read: each role read once, no token exchanged.
    for binding in BINDINGS:
        assert "%s/%s -> %s%s: unchanged, verified (static checks only)" % (
            binding["namespace"], binding["service_account"], ROLE_ARN, binding["role_name"]) in second.stdout, second.stdout[-8000:]
    actions = [(call["service"], call["action"]) for call in log["calls"]]
    assert actions.count(("iam", "GetRole")) == 2, actions
    assert ("sts", "AssumeRoleWithWebIdentity") not in actions
    assert not [action for service, action in actions if service == "kubernetes" and action.endswith("serviceaccounts/token")]

    # Asked for, every run exchanges a token for every binding.
    fresh.reset_log()
    proven = run_playbook(fresh, SITE, str(tmp_path), extra_vars=[bindings, write_vars(
        tmp_path, irsa_verify_unchanged_checks=["static", "token"])])
    assert proven.returncode == 0, proven.stdout[-8000:]
    assert proven.stdout.count(": unchanged, verified as arn:aws:sts::123456789012:assumed-role/") == len(BINDINGS), proven.stdout[-8000:]
    actions = [(call["service"], call["action"]) for call in fresh.log()["calls"]]
    assert actions.count(("sts", "AssumeRoleWithWebIdentity")) == len(BINDINGS)

    audit = run_playbook(fresh, VERIFY, str(tmp_path), extra_vars=[bindings])
    assert audit.returncode == 0, audit.stdout[-8000:]

    teardown = run_playbook(fresh, TEARDOWN, str(tmp_path), extra_vars=[bindings])
    assert teardown.returncode == 0, teardown.stdout[-8000:]
    for role in ("shop-reader", "AWSIRSATestRole"):
        with pytest.raises(ClientError) as missing:
            iam.get_role(RoleName=role)
        assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
    # The ServiceAccounts were created by eks.irsa and carry nothing else: they go with their bindings.
    for binding in BINDINGS:
        missing = subprocess.run(["kubectl", "get", "serviceaccount", binding["service_account"], "-n", binding["namespace"]],
                                 env=fresh.subprocess_env(), capture_output=True, text=True, timeout=60, check=False)
        assert missing.returncode != 0 and "NotFound" in missing.stderr, missing.stdout


def test_check_mode_on_a_fresh_cluster_predicts_and_writes_nothing(fresh, tmp_path):
    bindings = write_vars(tmp_path, irsa_cluster_name="sandbox", irsa_bindings=BINDINGS[2:],
                          irsa_verify_checks=["static", "token", "pod"])
    fresh.reset_log()
    result = run_playbook(fresh, SITE, str(tmp_path), extra_vars=[bindings], args=["--check"])
    assert result.returncode == 0, result.stdout[-8000:]
    assert recap(result.stdout)["localhost"]["changed"] > 0
    # The checks are the run in check mode: each says changed for what a real run would write.
    for task in ("Check the IAM roles", "Check the ServiceAccounts"):
        after = result.stdout[result.stdout.index("TASK [eks.irsa.irsa : " + task):]
        assert after.split("\n", 2)[1].startswith("changed: [localhost]"), after[:600]
    assert writes(fresh.log()) == []
    with pytest.raises(ClientError):
        fresh.client("iam").get_role(RoleName="AWSIRSATestRole")


BROKEN = {"service_account": "broken", "namespace": "default", "role_name": "broken-role",
          "managed_policies": ["policy-that-does-not-exist"]}


def test_a_broken_binding_stops_the_run_before_any_write(fresh, tmp_path):
    bindings = write_vars(tmp_path, irsa_cluster_name="sandbox", irsa_bindings=[BINDINGS[2], BROKEN])
    fresh.reset_log()
    result = run_playbook(fresh, SITE, str(tmp_path), extra_vars=[bindings])
    assert result.returncode != 0
    assert "Nothing was written" in result.stdout and "policy-that-does-not-exist" in result.stdout
    failure = result.stdout[result.stdout.rfind("Stop before any write"):]
    assert "default/broken" in failure and "irsa-test" not in failure
    assert writes(fresh.log()) == []
    with pytest.raises(ClientError):
        fresh.client("iam").get_role(RoleName="AWSIRSATestRole")


def test_with_fail_on_error_false_a_broken_binding_fails_clearly_and_the_others_are_still_verified(fresh, tmp_path):
    bindings = write_vars(tmp_path, irsa_cluster_name="sandbox", irsa_bindings=[BINDINGS[2], BROKEN], irsa_fail_on_error=False)
    result = run_playbook(fresh, SITE, str(tmp_path), extra_vars=[bindings])
    assert result.returncode == 0, result.stdout[-8000:]
    assert "policy-that-does-not-exist" in result.stdout
    assert re.search(r"default/irsa-test -> %sAWSIRSATestRole: changed, verified" % re.escape(ROLE_ARN), result.stdout)
    assert re.search(r"default/broken -> broken-role: .*not verified", result.stdout)


def test_an_inventory_of_two_clusters(fresh2, tmp_path):
    inventory = {
        "eks_clusters": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "hosts": {
                name: {"irsa_cluster_name": name,
                       "irsa_bindings": [{"service_account": "irsa-test", "namespace": "default", "role_name": "irsa-%s" % name}]}
                for name in ("blue", "green")
            },
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    result = run_playbook(fresh2, SITE, str(tmp_path), inventory=str(path), args=["--forks", "2"])
    assert result.returncode == 0, result.stdout[-8000:]
    counters = recap(result.stdout)
    assert set(counters) >= {"blue", "green"}
    assert "default/irsa-test -> %sirsa-blue" % ROLE_ARN in result.stdout
    assert "default/irsa-test -> %sirsa-green" % ROLE_ARN in result.stdout
