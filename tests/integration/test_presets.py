"""Every preset through the eks.irsa.irsa role on the sandbox: one binding per preset, converged, verified and
left alone by the second run.

One run binds every preset at once (as a platform team binds its add-ons), so this module runs two playbooks
whatever the number of presets; each preset is then its own test case.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml
from playbook_runner import ROOT, run_playbook

sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))

from ansible_collections.eks.irsa.plugins.module_utils.presets import base, catalogue  # noqa: E402
from irsa_sandbox.testing import start_sandbox  # noqa: E402

SITE = os.path.join(ROOT, "playbooks", "site.yml")
ACCOUNT = "123456789012"
CLUSTER = "sandbox"
# Two presets of the same chart name the same ServiceAccount: the second gets a ServiceAccount of its own.
SERVICE_ACCOUNT = {"aws-load-balancer-controller-tgb-only": "aws-load-balancer-controller-tgb"}


def _options(preset):
    return {option.name: option.example for option in preset.options if option.example is not None and option.name != "cluster_name"}


def _binding(name):
    preset = catalogue.PRESETS[name]
    binding = {"preset": name, "create_namespace": True}
    options = _options(preset)
    if options:
        binding["preset_options"] = options
    if name in SERVICE_ACCOUNT:
        binding["service_account"] = SERVICE_ACCOUNT[name]
    return binding


# The acceptance case as a user writes it: nothing but the preset's name.
BINDINGS = [{"preset": "aws-load-balancer-controller"}] + [
    _binding(name) for name in catalogue.names() if name != "aws-load-balancer-controller"]


def _expected(name, region):
    preset = catalogue.PRESETS[name]
    options = dict(_options(preset))
    if any(option.name == "cluster_name" for option in preset.options):
        options["cluster_name"] = CLUSTER
    return catalogue.expand(name, options, base.Context("aws", "amazonaws.com", region, ACCOUNT, CLUSTER))


def _kubectl_json(sandbox, *args):
    result = subprocess.run(["kubectl", *args, "-o", "json"], env=sandbox.subprocess_env(), capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("presets")
    with start_sandbox(str(workdir / "sandbox")) as sandbox:
        variables = workdir / "vars.yml"
        variables.write_text(yaml.safe_dump({"irsa_cluster_name": CLUSTER, "irsa_bindings": BINDINGS}), encoding="utf-8")
        first = run_playbook(sandbox, SITE, str(workdir), extra_vars=["@" + str(variables)])
        sandbox.reset_log()
        second = run_playbook(sandbox, SITE, str(workdir), extra_vars=["@" + str(variables)])
        log = sandbox.log()
        iam = sandbox.client("iam")
        region = iam.meta.region_name
        roles = {}
        for name in catalogue.names():
            role_name = "{0}-{1}".format(CLUSTER, name)
            attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
            inline = {policy: iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
                      for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]}
            trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
            roles[name] = {"attached": sorted(item["PolicyArn"] for item in attached), "inline": inline, "trust": trust}
        accounts = {}
        for binding in BINDINGS:
            preset = catalogue.PRESETS[binding["preset"]]
            namespace, account = preset.namespace, binding.get("service_account", preset.service_account)
            accounts[binding["preset"]] = (namespace, account, _kubectl_json(
                sandbox, "get", "serviceaccount", account, "-n", namespace)["metadata"].get("annotations", {}))
        yield {"first": first, "second": second, "log": log, "roles": roles, "accounts": accounts, "region": region}


def test_first_run_converges_every_preset(runs):
    assert runs["first"].returncode == 0, runs["first"].stdout[-8000:]
    # Every scoping option was given, so no preset widened anything to a wildcard.
    assert "is not set, so the policy allows" not in runs["first"].stdout


@pytest.mark.parametrize("name", catalogue.names())
def test_preset_binding_is_verified_with_its_policy(runs, name):
    namespace, account, annotations = runs["accounts"][name]
    role_arn = "arn:aws:iam::{0}:role/{1}-{2}".format(ACCOUNT, CLUSTER, name)
    assert annotations.get("eks.amazonaws.com/role-arn") == role_arn
    line = "{0}/{1} -> {2}".format(namespace, account, role_arn)
    summary = [item for item in runs["first"].stdout.splitlines() if line in item]
    assert summary and "verified" in summary[0] and "static checks only" not in summary[0], runs["first"].stdout[-6000:]
    assert "system:serviceaccount:{0}:{1}".format(namespace, account) in json.dumps(runs["roles"][name]["trust"])
    expected = _expected(name, runs["region"])
    role = runs["roles"][name]
    assert role["attached"] == expected["managed_policies"]
    if expected["inline_policy"] is None:
        assert role["inline"] == {}
    else:
        assert role["inline"] == {expected["inline_policy_name"]: expected["inline_policy"]}
    assert role["attached"] or role["inline"], "a preset gives its role a policy"


def test_second_run_changes_and_writes_nothing(runs):
    second = runs["second"]
    assert second.returncode == 0, second.stdout[-8000:]
    assert "changed=0" in second.stdout
    writes = [(call["service"], call["action"]) for call in runs["log"]["calls"] if call["write"]]
    assert writes == []
