"""The role and its modules when the APIs misbehave.

- AWS (IAM, STS, EKS) throttling or answering 500/503 on 30% of the calls, then the Kubernetes API
  answering 429 or 503 on 30%: playbooks/site.yml still succeeds, ends in the same state as a run
  without faults (roles, trust, policies, tags, OIDC provider, ServiceAccount annotations, nothing
  duplicated or left behind), and the next run changes nothing.
- Another writer changes the ServiceAccount between our read and our write: our annotation lands
  and theirs stays.
- IAM trust that reaches STS only after irsa_verify's propagation_timeout: the token check fails
  with a message that says so and what to do. (That a delay within the timeout passes is the
  propagation part of the irsa_verify target.)

The module has a sandbox of its own so that its faults and delays never reach other tests; every
test turns them off again in ``finally``. Fault rules are seeded; the AWS ones also fail the first
three calls of each service in a row, which botocore's own retries cannot get through.
"""

import json
import os
import re

import kubernetes
import pytest
import yaml
from irsa_sandbox.testing import irsa_trust_policy, start_sandbox, unique
from playbook_runner import ROOT, run_playbook

SITE = os.path.join(ROOT, "playbooks", "site.yml")
MANAGED_BY = "app.kubernetes.io/managed-by=eks.irsa"
ROLE_ARN = "eks.amazonaws.com/role-arn"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with start_sandbox(str(tmp_path_factory.mktemp("faults")), clusters=("sandbox",)) as running:
        yield running


@pytest.fixture(scope="module")
def core(sandbox):
    """The Kubernetes API without client retries, for setting up and reading the end state."""
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=sandbox.env["KUBECONFIG"], client_configuration=configuration)
    configuration.retries = False
    client = kubernetes.client.ApiClient(configuration)
    yield kubernetes.client.CoreV1Api(client)
    client.close()


def bindings(prefix):
    """Two roles, one shared by two ServiceAccounts; a managed policy, inline policies and tags."""
    shop, billing = prefix + "-shop", prefix + "-billing"
    return [
        {"service_account": "app", "namespace": shop, "role_name": prefix + "-shop-reader",
         "managed_policies": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
         "inline_policies": {"orders": {"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}]}},
         "tags": {"team": "shop", "env": "test"}},
        {"service_account": "worker", "namespace": shop, "role_name": prefix + "-shop-reader"},
        {"service_account": "api", "namespace": billing, "role_name": prefix + "-billing-api",
         "inline_policies": {"ledger": {"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": "*"}]}},
         "tags": {"team": "billing"}},
    ]


def namespaces(prefix):
    return [prefix + "-shop", prefix + "-billing"]


def run_site(sandbox, tmp_path, prefix, checks=("static", "token")):
    """playbooks/site.yml for the bindings of ``prefix``."""
    path = tmp_path / ("%s-%d.yml" % (prefix, len(list(tmp_path.glob(prefix + "-*.yml")))))
    path.write_text(yaml.safe_dump({"irsa_cluster_name": "sandbox", "irsa_bindings": bindings(prefix),
                                    "irsa_verify_checks": list(checks)}), encoding="utf-8")
    return run_playbook(sandbox, SITE, str(tmp_path), extra_vars=["@" + str(path)])


def fresh_start(sandbox, core, prefix):
    """The namespaces of ``prefix``, and no IAM OIDC provider: the run under test registers it."""
    iam = sandbox.client("iam", attempts=3)
    for listed in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=listed["Arn"])
    for namespace in namespaces(prefix):
        core.create_namespace({"metadata": {"name": namespace}})


def recap(output):
    match = re.search(r"^localhost\s+:\s+(ok=.*)$", output, re.MULTILINE)
    assert match, output[-3000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def canonical(value):
    """Lists sorted, so that documents compare by meaning rather than by the order of their items."""
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((canonical(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    return value


def end_state(sandbox, core, prefix):
    """What a user can see of the bindings of ``prefix``, with ``prefix`` replaced by ``<p>``."""
    iam = sandbox.client("iam", attempts=3)
    roles = {}
    for page in iam.get_paginator("list_roles").paginate():
        for listed in page["Roles"]:
            name = listed["RoleName"]
            if not name.startswith(prefix + "-"):
                continue
            role = iam.get_role(RoleName=name)["Role"]
            roles[name] = {
                "path": role["Path"],
                "trust": role["AssumeRolePolicyDocument"],
                "managed": [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]],
                "inline": {policy: iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                           for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]},
                "tags": {tag["Key"]: tag["Value"] for tag in iam.list_role_tags(RoleName=name)["Tags"]},
            }
    providers = []
    for listed in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=listed["Arn"])
        providers.append({"arn": listed["Arn"], "url": provider["Url"], "client_ids": provider["ClientIDList"],
                          "thumbprints": provider.get("ThumbprintList", []),
                          "tags": {tag["Key"]: tag["Value"] for tag in provider.get("Tags", [])}})
    service_accounts = {}
    for namespace in namespaces(prefix):
        for account in core.list_namespaced_service_account(namespace).items:
            service_accounts["%s/%s" % (namespace, account.metadata.name)] = {
                "annotations": account.metadata.annotations or {}, "labels": account.metadata.labels or {}}
    state = {
        "roles": roles,
        "oidc_providers": providers,
        "service_accounts": service_accounts,
        "verification_pods": [pod.metadata.name for pod in core.list_pod_for_all_namespaces(label_selector=MANAGED_BY).items],
    }
    return canonical(json.loads(json.dumps(state, default=str).replace(prefix + "-", "<p>-")))


def injected(sandbox):
    """``{"<service> <kind> <status>": faults injected}`` of the rules in place, and the faulted calls of the log."""
    counts = {}
    for rule in sandbox.control("GET", "faults")["rules"]:
        key = "%s %s%s%s" % (rule["service"], rule["kind"], " %d" % rule["status"] if rule["kind"] == "error" else "",
                             " (first %d)" % rule["limit"] if rule["limit"] else "")
        counts[key] = counts.get(key, 0) + rule["injected"]
    logged = {}
    for call in sandbox.log()["calls"]:
        if call["fault"]:
            key = "%s:%s" % (call["service"], call["action"])
            logged[key] = logged.get(key, 0) + 1
    return counts, logged


def writes(sandbox):
    return ["%s:%s" % (call["service"], call["action"]) for call in sandbox.log()["calls"]
            if call["write"] and (call["service"] != "kubernetes" or "serviceaccounts" in call["action"])]


@pytest.fixture(scope="module")
def clean(sandbox, core, tmp_path_factory):
    """The end state of a run without faults: what every faulted run must converge to."""
    fresh_start(sandbox, core, "clean")
    result = run_site(sandbox, tmp_path_factory.mktemp("clean"), "clean")
    assert result.returncode == 0, result.stdout[-8000:]
    state = end_state(sandbox, core, "clean")
    # The reference itself is what the bindings ask for.
    assert sorted(state["roles"]) == ["<p>-billing-api", "<p>-shop-reader"]
    assert state["roles"]["<p>-shop-reader"]["managed"] == ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
    assert sorted(state["roles"]["<p>-shop-reader"]["inline"]) == ["orders"]
    assert state["roles"]["<p>-shop-reader"]["tags"] == {"team": "shop", "env": "test", "eks.irsa/managed-by": "eks.irsa"}
    assert "system:serviceaccount:<p>-shop:worker" in json.dumps(state["roles"]["<p>-shop-reader"]["trust"])
    assert len(state["oidc_providers"]) == 1
    assert sorted(state["service_accounts"]) == ["<p>-billing/api", "<p>-billing/default", "<p>-shop/app",
                                                 "<p>-shop/default", "<p>-shop/worker"]
    assert state["service_accounts"]["<p>-shop/worker"]["annotations"] == {
        ROLE_ARN: "arn:aws:iam::123456789012:role/<p>-shop-reader",
        "eks.irsa/bound-role-arn": "arn:aws:iam::123456789012:role/<p>-shop-reader"}
    return state


def aws_rules(kind):
    """30% of the calls of IAM, STS and EKS, seeded; and first the first three calls of each service in a row, as many
    as botocore's own attempts (3 in its standard mode), so that only the collection's own retry gets through."""
    rules = []
    for service, status in (("iam", 500), ("sts", 503), ("eks", 500)):
        if kind == "throttle":
            rules.append({"service": service, "kind": "throttle", "fraction": 1.0, "limit": 3})
            rules.append({"service": service, "kind": "throttle", "fraction": 0.3})
        else:
            rules.append({"service": service, "kind": "error", "status": status, "fraction": 1.0, "limit": 3})
            # 30% in all: 15% answered 500, then 18% of the rest 503.
            rules.append({"service": service, "kind": "error", "status": 500, "fraction": 0.15})
            rules.append({"service": service, "kind": "error", "status": 503, "fraction": 0.18})
    return rules


# name: (fault rules, services faulted, checks of the run, prefix of its names)
SCENARIOS = {
    "aws-throttling": (aws_rules("throttle"), ("iam", "sts", "eks"), ("static", "token"), "throttled"),
    "aws-500-503": (aws_rules("error"), ("iam", "sts", "eks"), ("static", "token"), "failing"),
    # With the pod check too: its pod must be gone whatever the API answered.
    "kubernetes-429": ([{"service": "kubernetes", "kind": "throttle", "fraction": 0.3}], ("kubernetes",),
                       ("static", "token", "pod"), "kube429"),
    "kubernetes-503": ([{"service": "kubernetes", "kind": "error", "status": 503, "fraction": 0.3}], ("kubernetes",),
                       ("static", "token", "pod"), "kube503"),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_faulted_run_converges_to_the_clean_end_state_and_the_next_run_changes_nothing(
        scenario, sandbox, core, clean, tmp_path):
    rules, services, checks, prefix = SCENARIOS[scenario]
    fresh_start(sandbox, core, prefix)
    sandbox.reset_log()
    sandbox.set_faults(rules, seed=20240611)
    try:
        faulted = run_site(sandbox, tmp_path, prefix, checks)
        counts, logged = injected(sandbox)
    finally:
        sandbox.set_faults([])
    print("%s: faults injected per rule %s; faulted calls %s" % (scenario, counts, logged))
    assert faulted.returncode == 0, faulted.stdout[-8000:]
    assert faulted.stdout.count(", verified as ") == 3, faulted.stdout[-8000:]
    # The faults were there, on the services meant.
    assert sum(counts.values()) == sum(logged.values()) > 0
    assert {key.split(":")[0] for key in logged} == set(services)
    for service in services:
        # At least the three in a row for each AWS service.
        assert sum(n for key, n in logged.items() if key.startswith(service + ":")) >= (1 if service == "kubernetes" else 3)

    state = end_state(sandbox, core, prefix)
    assert state == clean

    sandbox.reset_log()
    again = run_site(sandbox, tmp_path, prefix)
    assert again.returncode == 0, again.stdout[-8000:]
    assert recap(again.stdout)["changed"] == 0, again.stdout[-8000:]
    assert writes(sandbox) == []
    assert end_state(sandbox, core, prefix) == clean


# ----------------------------------------------------------------------------- concurrent writer

ANNOTATE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Annotate the ServiceAccount
      eks.irsa.irsa_service_account:
        endpoint_url: "{{ aws_endpoint_url }}"
        region: "{{ aws_region }}"
        access_key: "{{ aws_access_key }}"
        secret_key: "{{ aws_secret_key }}"
        cluster_name: "{{ irsa_sandbox_cluster }}"
        namespace: "{{ namespace }}"
        name: app
        role_arn: "{{ role_arn }}"
      register: annotated

    - name: Keep the result
      ansible.builtin.copy:
        content: "{{ annotated | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


def test_a_concurrent_writer_keeps_its_change_and_our_annotation_lands(sandbox, core, tmp_path):
    namespace = unique("writers")
    core.create_namespace({"metadata": {"name": namespace}})
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "app", "labels": {"tier": "web"},
                                                                    "annotations": {"example.com/note": "helm"}}})
    theirs = {"metadata": {"labels": {"team": "payments"}, "annotations": {"example.com/owner": "payments"}}}
    role_arn = "arn:aws:iam::123456789012:role/%s-app" % namespace
    playbook = tmp_path / "annotate.yml"
    playbook.write_text(ANNOTATE, encoding="utf-8")
    result_file = tmp_path / "result.json"
    sandbox.reset_log()
    # Between our read and our write, the other writer adds a label and an annotation of its own.
    sandbox.set_faults([{"service": "kubernetes", "action": "patch serviceaccounts", "kind": "conflict", "limit": 1,
                         "change": theirs}])
    try:
        run = run_playbook(sandbox, str(playbook), str(tmp_path), extra_vars=[
            "namespace=%s" % namespace, "role_arn=%s" % role_arn, "result_file=%s" % result_file])
        rules = sandbox.control("GET", "faults")["rules"]
    finally:
        sandbox.set_faults([])
    assert run.returncode == 0, run.stdout[-8000:]
    assert rules[0]["injected"] == 1
    patches = [(call["status"], call["fault"]) for call in sandbox.log()["calls"] if call["action"] == "patch serviceaccounts"]
    assert patches == [(409, "conflict"), (200, "")]

    account = core.read_namespaced_service_account("app", namespace)
    assert account.metadata.annotations == {ROLE_ARN: role_arn, "eks.irsa/bound-role-arn": role_arn,
                                            "example.com/note": "helm", "example.com/owner": "payments"}
    assert account.metadata.labels == {"tier": "web", "team": "payments"}
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert result["changed"] is True
    assert result["service_account"]["annotations"][ROLE_ARN] == role_arn


# ----------------------------------------------------------------------------- trust propagation

VERIFY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Verify the ServiceAccount
      eks.irsa.irsa_verify:
        endpoint_url: "{{ aws_endpoint_url }}"
        region: "{{ aws_region }}"
        access_key: "{{ aws_access_key }}"
        secret_key: "{{ aws_secret_key }}"
        cluster_name: "{{ irsa_sandbox_cluster }}"
        namespace: "{{ namespace }}"
        service_account: app
        checks: [static, token]
        propagation_timeout: "{{ timeout }}"
      register: verified
      ignore_errors: true

    - name: Keep the result
      ansible.builtin.copy:
        content: "{{ verified | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


def test_trust_that_reaches_sts_after_the_propagation_timeout_fails_with_what_to_do(sandbox, core, tmp_path):
    timeout = 3
    namespace = unique("late")
    cluster = sandbox.ensure_oidc_provider()
    # IAM changes reach STS five minutes late for the role created now (the delay is taken at the write).
    sandbox.set_propagation_delay(300)
    try:
        role_arn = sandbox.create_role(namespace + "-app", irsa_trust_policy(cluster, namespace, "app"))
    finally:
        sandbox.set_propagation_delay(0)
    core.create_namespace({"metadata": {"name": namespace}})
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "app", "annotations": {ROLE_ARN: role_arn}}})
    playbook = tmp_path / "verify.yml"
    playbook.write_text(VERIFY, encoding="utf-8")
    result_file = tmp_path / "result.json"
    sandbox.reset_log()
    run = run_playbook(sandbox, str(playbook), str(tmp_path), extra_vars=[
        "namespace=%s" % namespace, "timeout=%d" % timeout, "result_file=%s" % result_file])
    assert run.returncode == 0, run.stdout[-8000:]
    result = json.loads(result_file.read_text(encoding="utf-8"))

    assert result["failed"] is True and result["verified"] is False
    checks = {check["name"]: check for check in result["checks"]}
    # The configuration is right: only the exchange failed.
    assert checks["trust_policy"]["passed"] is True
    token = checks["token"]
    assert token["passed"] is False
    exchanges = sandbox.log()["counts"]["sts:AssumeRoleWithWebIdentity"]
    assert result["attempts"] == exchanges > 1
    print("token check: %s / %s" % (token["message"], token["remediation"]))
    # What happened: the configuration is in place, STS kept refusing until the timeout ran out.
    assert token["message"].startswith("STS answered AccessDenied")
    assert "%d attempts" % exchanges in token["message"]
    assert "STS has not caught up with IAM" in token["message"]
    assert "propagation_timeout (%d s) ran out" % timeout in token["message"]
    # What to do: wait, or wait longer; not "fix the trust policy", which is right.
    assert "run again later, or raise propagation_timeout (now %d s)" % timeout in token["remediation"]
    assert "Fix the trust policy" not in token["remediation"]
    assert token["message"] in result["msg"] and token["remediation"] in result["msg"]
