"""Two runs at the same time: both succeed and the end state is what either would have made alone.

Pipelines overlap: a retry starts while the first attempt still runs, two teams apply their bindings to one shared role.
The races are forced, not hoped for: a ``latency`` fault delays every create (or trust update) in the sandbox, so both
runs read "absent" (or the old trust) before either writes; the request log then proves that the race took place.
"""

import json
import os
import re
import subprocess
import time
import uuid

import pytest
import yaml
from irsa_sandbox.testing import irsa_trust_policy, start_sandbox
from playbook_runner import ROOT, read_output, start_playbook

SITE = os.path.join(ROOT, "playbooks", "site.yml")
ROLE_ARN = "arn:aws:iam::123456789012:role/"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
# Long enough for the second run to read before the first run's write is applied.
HOLD = 4.0

ADD_SERVICE_ACCOUNT = """
- name: Add one ServiceAccount to a shared role, keeping the ServiceAccounts already in its trust
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Trust the ServiceAccount
      eks.irsa.irsa_role:
        name: "{{ role_name }}"
        oidc_provider: "{{ irsa_sandbox_clusters[0].provider_arn }}"
        service_accounts: ["{{ service_account }}"]
        purge_service_accounts: false
        endpoint_url: "{{ aws_endpoint_url }}"
        region: "{{ aws_region }}"
        access_key: "{{ aws_access_key }}"
        secret_key: "{{ aws_secret_key }}"
"""


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory):
    with start_sandbox(str(tmp_path_factory.mktemp("concurrency"))) as running:
        yield running


def kubectl_json(sandbox, *args):
    result = subprocess.run(["kubectl", *args, "-o", "json"], env=sandbox.subprocess_env(), capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_together(sandbox, workdir, playbook, extra_vars_per_run, timeout=300):
    """Start one run per entry of ``extra_vars_per_run`` at once; wait for all; return (returncode, output) per run."""
    processes = [start_playbook(sandbox, playbook, workdir, extra_vars=extra_vars) for extra_vars in extra_vars_per_run]
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return [(process.returncode, read_output(process)) for process in processes]


def statuses(log, service, action):
    return sorted(call["status"] for call in log["calls"] if call["service"] == service and call["action"] == action)


def subjects_of(document, provider):
    subjects = []
    for statement in document["Statement"]:
        value = statement["Condition"]["StringEquals"][provider + ":sub"]
        subjects += value if isinstance(value, list) else [value]
    return sorted(subjects)


def test_two_runs_of_the_same_binding_at_once_both_succeed(shared_sandbox, tmp_path):
    sandbox, name = shared_sandbox, "conc-" + uuid.uuid4().hex[:8]
    cluster = sandbox.cluster()
    subprocess.run(["kubectl", "create", "namespace", name], env=sandbox.subprocess_env(), capture_output=True, check=True)
    bindings = [{"service_account": "app", "namespace": name, "role_name": name, "managed_policies": [READ_ONLY], "tags": {"team": "a"}}]
    path = tmp_path / "vars.yml"
    path.write_text(yaml.safe_dump({"irsa_cluster_name": "sandbox", "irsa_bindings": bindings,
                                    "irsa_verify_checks": ["static", "token", "pod"]}), encoding="utf-8")
    iam = sandbox.client("iam", attempts=3)
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])

    sandbox.reset_log()
    sandbox.set_faults([{"service": "iam", "action": "CreateOpenIDConnectProvider", "kind": "latency", "latency": HOLD},
                        {"service": "iam", "action": "CreateRole", "kind": "latency", "latency": HOLD},
                        {"service": "kubernetes", "action": "create serviceaccounts", "kind": "latency", "latency": HOLD}])
    try:
        runs = run_together(sandbox, str(tmp_path), SITE, [["@" + str(path)]] * 2)
    finally:
        sandbox.set_faults([])
    log = sandbox.log()

    # The races happened: each run found nothing and created, and one of each pair was told it already exists.
    assert statuses(log, "iam", "CreateOpenIDConnectProvider") == [200, 409]
    assert statuses(log, "iam", "CreateRole") == [200, 409]
    assert statuses(log, "kubernetes", "create serviceaccounts") == [201, 409]
    # Both runs succeeded, and both proved the binding works.
    for returncode, output in runs:
        assert returncode == 0, output[-8000:]
        assert re.search(r"%s/app -> %s%s: (changed|unchanged), verified as arn:aws:sts::123456789012:assumed-role/%s/" % (
            name, ROLE_ARN, name, name), output), output[-8000:]

    providers = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [provider["Arn"] for provider in providers] == [cluster["provider_arn"]]
    roles = [role["RoleName"] for page in iam.get_paginator("list_roles").paginate() for role in page["Roles"]
             if role["RoleName"].startswith(name)]
    assert roles == [name]
    role = iam.get_role(RoleName=name)["Role"]
    assert subjects_of(role["AssumeRolePolicyDocument"], cluster["provider"]) == ["system:serviceaccount:%s:app" % name]
    assert len(role["AssumeRolePolicyDocument"]["Statement"]) == 1
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]] == [READ_ONLY]
    account = kubectl_json(sandbox, "get", "serviceaccount", "app", "-n", name)
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE_ARN + name
    assert kubectl_json(sandbox, "get", "pods", "-n", name, "-l", "app.kubernetes.io/managed-by=eks.irsa")["items"] == []


def test_two_runs_adding_different_service_accounts_to_one_role_keep_both(shared_sandbox, tmp_path):
    sandbox, name = shared_sandbox, "conc-" + uuid.uuid4().hex[:8]
    cluster = sandbox.ensure_oidc_provider()
    # The role an earlier run of the collection made for the ServiceAccount "base" (so it carries the ownership tag).
    sandbox.create_role(name, irsa_trust_policy(cluster, name, "base"), tags={"eks.irsa/managed-by": "eks.irsa"})
    playbook = tmp_path / "add-service-account.yml"
    playbook.write_text(ADD_SERVICE_ACCOUNT, encoding="utf-8")

    sandbox.reset_log()
    # Both runs read the trust (base) before either update is applied: the read-modify-write interleaving.
    sandbox.set_faults([{"service": "iam", "action": "UpdateAssumeRolePolicy", "kind": "latency", "latency": HOLD}])
    try:
        runs = run_together(sandbox, str(tmp_path), str(playbook),
                            [["role_name=" + name, "service_account=%s:%s" % (name, account)] for account in ("one", "two")])
    finally:
        sandbox.set_faults([])
    log = sandbox.log()

    for returncode, output in runs:
        assert returncode == 0, output[-8000:]
    order = [call["action"] for call in log["calls"] if call["service"] == "iam" and call["action"] in ("GetRole", "UpdateAssumeRolePolicy")]
    assert order.count("UpdateAssumeRolePolicy") >= 2, order
    assert order.index("UpdateAssumeRolePolicy") >= 2, "the second run read the trust after the first run wrote it: %s" % order

    # Each run kept what it found and added its ServiceAccount: none of the three may be lost.
    document = sandbox.client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    expected = ["system:serviceaccount:%s:%s" % (name, account) for account in ("base", "one", "two")]
    assert subjects_of(document, cluster["provider"]) == expected, "one run's update of the trust was lost: %s" % json.dumps(document)
