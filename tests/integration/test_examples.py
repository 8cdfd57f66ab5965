"""The modules' EXAMPLES are real calls: every option they use exists, and the OIDC and role examples
run as written against a two-cluster sandbox (my-cluster and the issuers of the examples mapped to it)."""

import ast
import functools
import json
import os
import subprocess
import sys

import pytest
import yaml
from irsa_sandbox.testing import start_sandbox
from playbook_runner import COLLECTIONS, ROOT, run_playbook

MODULES = ["eks_oidc_info", "eks_oidc_provider", "irsa_audit", "irsa_prune", "irsa_repoint", "irsa_role", "irsa_service_account",
           "irsa_verify"]
SEED_ISSUER = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
SECOND_ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6"


def examples(module):
    with open(os.path.join(ROOT, "plugins", "modules", module + ".py"), encoding="utf-8") as handle:
        for node in ast.parse(handle.read()).body:
            if isinstance(node, ast.Assign) and node.targets[0].id == "EXAMPLES":
                return node.value.value
    raise AssertionError("no EXAMPLES in " + module)


@functools.lru_cache(maxsize=None)
def documented_options(module):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "--json", "eks.irsa." + module],
                            env=env, capture_output=True, text=True, timeout=120, check=True)
    options = json.loads(result.stdout)["eks.irsa." + module]["doc"]["options"]
    names = set(options)
    for option in options.values():
        names.update(option.get("aliases") or [])
    return names


@pytest.mark.parametrize("module", MODULES)
def test_examples_use_only_documented_options(module):
    known = {name: documented_options(name) for name in MODULES}
    for task in yaml.safe_load(examples(module)):
        for key, args in task.items():
            if key.startswith("eks.irsa."):
                unknown = set(args) - known[key[len("eks.irsa."):]]
                assert not unknown, "%s EXAMPLES: %s has no option %s" % (module, key, sorted(unknown))


@pytest.fixture(scope="module")
def blue_green(tmp_path_factory):
    with start_sandbox(str(tmp_path_factory.mktemp("examples")), clusters=("blue", "green")) as running:
        yield running


@pytest.mark.parametrize("module", ["eks_oidc_info", "eks_oidc_provider", "irsa_prune", "irsa_role"])
def test_examples_run_as_written(blue_green, module, tmp_path):
    clusters = {cluster["name"]: cluster for cluster in blue_green.vars["irsa_sandbox_clusters"]}
    text = (examples(module)
            .replace(SEED_ISSUER, clusters["blue"]["issuer_url"])
            .replace(SECOND_ISSUER, clusters["green"]["provider"])
            .replace("my-cluster", "blue")
            .replace("us-west-2", blue_green.vars["aws_region"]))
    setup = [{"name": "The IAM OIDC providers the examples trust", "eks.irsa.eks_oidc_provider": {"cluster_name": name}}
             for name in ("blue", "green")] if module == "irsa_role" else []
    setup += [{"name": "Namespaces the examples use", "kubernetes.core.k8s": {
        "kubeconfig": "{{ kubeconfig }}", "kind": "Namespace", "name": "{{ item }}"}, "loop": ["prod", "batch", "payments"]}]
    playbook = [{
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/eks.irsa.irsa": {"endpoint_url": "{{ aws_endpoint_url }}", "region": "{{ aws_region }}",
                                                    "access_key": "{{ aws_access_key }}", "secret_key": "{{ aws_secret_key }}"}},
        "tasks": setup + yaml.safe_load(text),
    }]
    path = tmp_path / "examples.yml"
    path.write_text(yaml.safe_dump(playbook), encoding="utf-8")
    result = run_playbook(blue_green, str(path), str(tmp_path))
    assert result.returncode == 0, result.stdout[-6000:]
