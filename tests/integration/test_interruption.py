"""The role's run killed (SIGKILL) at many points: a re-run converges, and nothing is left half-done.

A pipeline job can die anywhere: the runner is lost, a timeout fires, someone cancels it. Each case below starts
playbooks/site.yml, watches the sandbox's request log and kills the whole process tree (ansible-playbook, its workers and
the module running) as soon as the sandbox has answered the call that marks the point. A fault rule on the call that
follows holds the run there (``latency`` on a read, or ``throttle`` on a write, which the client retries without effect),
so the kill lands at the point every time; the state left behind is checked to prove it.

The run is then repeated as it was: it must succeed and leave exactly the expected resources, counted (the IAM roles with
their trust, policies and tags, one OIDC provider, the annotated ServiceAccounts, no verification pod); a third run must
change nothing.

Every case has its own namespace and roles in a sandbox shared by the module.
"""

import json
import os
import re
import sys
import time
import uuid

import pytest
import yaml
from irsa_sandbox.testing import irsa_trust_policy, start_sandbox
from kube_api import KubeApi
from playbook_runner import COLLECTIONS, ROOT, kill_process_tree, read_output, run_playbook, start_playbook

sys.path.insert(0, COLLECTIONS)
from ansible_collections.eks.irsa.plugins.module_utils.verify.pod import LEFTOVER_POD_GRACE  # noqa: E402  pylint: disable=wrong-import-position

SITE = os.path.join(ROOT, "playbooks", "site.yml")
ACCOUNT = "123456789012"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
INLINE = {"s3-list": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}}
SHARED_TAGS = {"team": "payments", "cost-center": "42"}
SOLO_TAGS = {"team": "reports"}
# Every role the collection creates carries its ownership tag.
OWNER_TAG = {"eks.irsa/managed-by": "eks.irsa"}
MANAGED_BY = "app.kubernetes.io/managed-by=eks.irsa"
# How long a held call is delayed: far longer than the watcher needs to see the point and kill.
HOLD = 1.5


class Case:
    """The names of one case: a namespace, ServiceAccounts a and b sharing a role, c with a role of its own."""

    def __init__(self):
        self.id = uuid.uuid4().hex[:8]
        self.namespace = "int-" + self.id
        self.shared = "int-%s-shared" % self.id
        self.solo = "int-%s-solo" % self.id

    def bindings(self):
        shared = {"role_name": self.shared, "managed_policies": [READ_ONLY], "inline_policies": INLINE, "tags": SHARED_TAGS}
        solo = {"role_name": self.solo, "tags": SOLO_TAGS}
        return [dict(shared if name != "c" else solo, service_account=name, namespace=self.namespace) for name in ("a", "b", "c")]

    def arn(self, role):
        return "arn:aws:iam::%s:role/%s" % (ACCOUNT, role)

    def subject(self, name):
        return "system:serviceaccount:%s:%s" % (self.namespace, name)


# ---------------------------------------------------------------------------------------------------------------------
# Reading the state


class Stand:
    """The module's sandbox, with one IAM client and one Kubernetes API client for the test's own reads."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.iam = sandbox.client("iam", attempts=3)
        self.kube = KubeApi(sandbox)
        self.cluster = sandbox.cluster()


def _as_list(value):
    return sorted(value) if isinstance(value, list) else [value]


def _statement(statement):
    """An IRSA trust statement as its parts: provider, effect, action, subjects, audience, and any other condition."""
    federated = statement["Principal"]["Federated"]
    provider = federated.split(":oidc-provider/", 1)[1]
    conditions = {operator: dict(values) for operator, values in statement.get("Condition", {}).items()}
    equals = conditions.get("StringEquals", {})
    return {
        "federated": federated,
        "effect": statement["Effect"],
        "action": statement["Action"],
        "sub": _as_list(equals.pop(provider + ":sub", [])),
        "aud": equals.pop(provider + ":aud", None),
        "other_conditions": {operator: values for operator, values in conditions.items() if values},
    }


def verification_pods(stand, namespace):
    return [{"name": pod["metadata"]["name"], "phase": pod.get("status", {}).get("phase")} for pod in stand.kube.pods(namespace, MANAGED_BY)]


def snapshot(stand, case):
    """Everything of ``case`` that exists, counted: OIDC providers, roles, ServiceAccounts, verification pods."""
    iam = stand.iam
    roles = {}
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if not role["RoleName"].startswith("int-%s-" % case.id):
                continue
            name = role["RoleName"]
            document = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
            roles[name] = {
                "trust": [_statement(statement) for statement in document["Statement"]],
                "managed": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
                "inline": {policy: iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                           for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]},
                "tags": {tag["Key"]: tag["Value"] for tag in iam.list_role_tags(RoleName=name)["Tags"]},
            }
    providers = []
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        details = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
        providers.append({"arn": provider["Arn"], "client_ids": sorted(details["ClientIDList"])})
    accounts = {
        account["metadata"]["name"]: (account["metadata"].get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        for account in stand.kube.service_accounts(case.namespace) if account["metadata"]["name"] != "default"
    }
    return {"providers": providers, "roles": roles, "service_accounts": accounts, "verification_pods": verification_pods(stand, case.namespace)}


def trust(provider_arn, *subjects):
    return [{"federated": provider_arn, "effect": "Allow", "action": "sts:AssumeRoleWithWebIdentity",
             "sub": sorted(subjects), "aud": "sts.amazonaws.com", "other_conditions": {}}]


def converged(stand, case):
    """What a finished run of ``case.bindings()`` leaves, and nothing else."""
    provider_arn = stand.cluster["provider_arn"]
    return {
        "providers": [{"arn": provider_arn, "client_ids": ["sts.amazonaws.com"]}],
        "roles": {
            case.shared: {"trust": trust(provider_arn, case.subject("a"), case.subject("b")), "managed": [READ_ONLY],
                          "inline": INLINE, "tags": dict(SHARED_TAGS, **OWNER_TAG)},
            case.solo: {"trust": trust(provider_arn, case.subject("c")), "managed": [], "inline": {},
                        "tags": dict(SOLO_TAGS, **OWNER_TAG)},
        },
        "service_accounts": {"a": case.arn(case.shared), "b": case.arn(case.shared), "c": case.arn(case.solo)},
        "verification_pods": [],
    }


def recap(output):
    found = re.search(r"^localhost\s+:\s+(ok=.*)$", output, re.MULTILINE)
    assert found, output[-4000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", found.group(1))}


# ---------------------------------------------------------------------------------------------------------------------
# The points


def latency(service, action):
    return {"service": service, "action": action, "kind": "latency", "latency": HOLD}


def throttle(service, action):
    return {"service": service, "action": action, "kind": "throttle"}


class Point:
    def __init__(self, name, call, nth, hold, interrupted, prepare=None, checks=("static", "token")):
        self.name = name
        self.checks = checks
        self.service, self.action = call.split(" ", 1) if call.startswith("kubernetes ") else call.split(":", 1)
        self.nth = nth
        self.hold = hold
        self.interrupted = interrupted
        self.prepare = prepare

    def __repr__(self):
        return self.name


def _no_provider(stand, case):
    for provider in stand.iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        stand.iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])


def _existing_role(subjects, policy):
    """The shared role, and its ServiceAccounts annotated, as an earlier run left them before the killed run (the
    collection's ownership tag on the role, its record of the role on each ServiceAccount)."""
    def prepare(stand, case):
        trust_policy = irsa_trust_policy(stand.cluster, case.namespace, subjects[0])
        trust_policy["Statement"][0]["Condition"]["StringEquals"][stand.cluster["provider"] + ":sub"] = [case.subject(n) for n in subjects]
        stand.sandbox.ensure_oidc_provider()
        stand.iam.create_role(RoleName=case.shared, AssumeRolePolicyDocument=json.dumps(trust_policy),
                              Tags=[{"Key": key, "Value": value} for key, value in dict(SHARED_TAGS, **OWNER_TAG).items()])
        stand.iam.attach_role_policy(RoleName=case.shared, PolicyArn=policy)
        for name, document in INLINE.items():
            stand.iam.put_role_policy(RoleName=case.shared, PolicyName=name, PolicyDocument=json.dumps(document))
        for name in subjects:
            stand.kube.create_service_account(case.namespace, name, {"eks.amazonaws.com/role-arn": case.arn(case.shared),
                                                                     "eks.irsa/bound-role-arn": case.arn(case.shared)})
    return prepare


def _unannotated_service_accounts(stand, case):
    for name in ("a", "b", "c"):
        stand.kube.create_service_account(case.namespace, name)


def _pods_left(state, case, terminated=False):
    """Verification pods were left; with ``terminated``, at least one that ended (the others, verified concurrently, may
    still run)."""
    pods = state["verification_pods"]
    if terminated:
        return any(pod["phase"] in ("Succeeded", "Failed") for pod in pods)
    return bool(pods)


WITH_POD = ("static", "token", "pod")


def _no_policies_yet(state, case):
    """A role was created (the other may be too: roles are written concurrently), none has a policy, nothing annotated."""
    roles = state["roles"]
    return bool(roles) and set(roles) <= {case.shared, case.solo} and not state["service_accounts"] \
        and all(not role["managed"] and not role["inline"] for role in roles.values())


# The role writes the roles concurrently, then the ServiceAccounts concurrently: where a point stops one item, the
# others of the same step may be anywhere in theirs. What each point pins is the item it waits for.
POINTS = [
    Point("oidc-provider-created", "iam:CreateOpenIDConnectProvider", 1, [latency("iam", "GetRole")],
          lambda state, case: len(state["providers"]) == 1 and not state["roles"], prepare=_no_provider),
    Point("role-created-without-policies", "iam:CreateRole", 1, [latency("iam", "GetRole")], _no_policies_yet),
    Point("managed-policy-attached-inline-not-yet", "iam:AttachRolePolicy", 1, [throttle("iam", "PutRolePolicy")],
          lambda state, case: state["roles"][case.shared]["managed"] == [READ_ONLY] and not state["roles"][case.shared]["inline"]),
    Point("shared-role-complete-nothing-annotated", "iam:PutRolePolicy", 1, [latency("iam", "ListAttachedRolePolicies")],
          lambda state, case: state["roles"][case.shared]["inline"] == INLINE and not state["service_accounts"]),
    # The ServiceAccount task that writes has started (DescribeCluster for its Kubernetes connection) and not yet read
    # anything. DescribeCluster: 1 for the issuer, 1 for the check of the ServiceAccounts, then the one that writes.
    Point("roles-complete-before-annotation", "eks:DescribeCluster", 3, [latency("kubernetes", "list serviceaccounts")],
          lambda state, case: set(state["roles"]) == {case.shared, case.solo} and not state["service_accounts"]),
    Point("trust-widened-for-a-second-binding", "iam:UpdateAssumeRolePolicy", 1, [latency("iam", "ListAttachedRolePolicies")],
          lambda state, case: (state["roles"][case.shared]["trust"][0]["sub"] == [case.subject("a"), case.subject("b")]
                               and state["service_accounts"] == {"a": case.arn(case.shared)}),
          prepare=_existing_role(["a"], READ_ONLY)),
    Point("managed-policy-detached-replacement-not-yet", "iam:DetachRolePolicy", 1, [throttle("iam", "AttachRolePolicy")],
          lambda state, case: state["roles"][case.shared]["managed"] == [],
          prepare=_existing_role(["a", "b"], S3_READ_ONLY)),
    # The ServiceAccounts are written concurrently, nothing read between them: nothing to hold.
    Point("a-service-account-created", "kubernetes create serviceaccounts", 1, [],
          lambda state, case: 1 <= len(state["service_accounts"]) and not state["verification_pods"]),
    Point("two-service-accounts-annotated", "kubernetes patch serviceaccounts", 2, [],
          lambda state, case: sorted(state["service_accounts"]) == ["a", "b", "c"]
          and list(state["service_accounts"].values()).count(case.arn(case.shared)) >= 2,
          prepare=_unannotated_service_accounts),
    Point("token-requested-for-verification", "kubernetes create serviceaccounts/token", 1, [latency("sts", "AssumeRoleWithWebIdentity")],
          lambda state, case: len(state["service_accounts"]) == 3 and not state["verification_pods"]),
    Point("verification-pod-created", "kubernetes create pods", 1, [latency("kubernetes", "get pods")],
          _pods_left, checks=WITH_POD),
    Point("verification-pod-finished-not-deleted", "kubernetes get pods/log", 1, [throttle("kubernetes", "delete pods")],
          lambda state, case: _pods_left(state, case, terminated=True), checks=WITH_POD),
]


# ---------------------------------------------------------------------------------------------------------------------
# Running


@pytest.fixture(scope="module")
def stand(tmp_path_factory):
    with start_sandbox(str(tmp_path_factory.mktemp("interruption"))) as running:
        yield Stand(running)


def vars_file(workdir, bindings, checks):
    path = os.path.join(workdir, "vars-%s.yml" % uuid.uuid4().hex[:8])
    with open(path, "w", encoding="utf-8") as handle:
        # The bindings a killed run completed are unchanged for the next run: it proves them with the same checks.
        yaml.safe_dump({"irsa_cluster_name": "sandbox", "irsa_bindings": bindings, "irsa_verify_checks": list(checks),
                        "irsa_verify_unchanged_checks": list(checks)}, handle)
    return "@" + path


def site(sandbox, case, workdir, checks):
    return run_playbook(sandbox, SITE, workdir, extra_vars=[vars_file(workdir, case.bindings(), checks)],
                        env=_ansible_temp(workdir), timeout=300)


def _ansible_temp(workdir):
    # A killed run leaves its temporary files; keep them in the test's directory.
    return {"ANSIBLE_LOCAL_TEMP": os.path.join(workdir, "ansible-local"), "ANSIBLE_REMOTE_TMP": os.path.join(workdir, "ansible-remote")}


def answered(log, point):
    return [call for call in log["calls"]
            if call["service"] == point.service and call["action"] == point.action and not call["fault"] and 200 <= call["status"] < 300]


def run_and_kill(sandbox, case, workdir, point):
    """Start the run, kill it once the sandbox answered the point's call; return the run's output so far."""
    sandbox.reset_log()
    sandbox.set_faults(point.hold)
    process = start_playbook(sandbox, SITE, workdir, extra_vars=[vars_file(workdir, case.bindings(), point.checks)],
                             env=_ansible_temp(workdir))
    killed_at, seen, cursor = None, 0, 0
    try:
        deadline = time.monotonic() + 240
        while process.poll() is None and time.monotonic() < deadline:
            # Only the calls answered since the last poll: the whole log on every poll would cost the sandbox more CPU
            # than the run itself.
            log = sandbox.log(since=cursor)
            cursor = max([cursor] + [call["seq"] for call in log["calls"]])
            seen += len(answered(log, point))
            if seen >= point.nth:
                kill_process_tree(process.pid)
                killed_at = time.monotonic()
                break
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            kill_process_tree(process.pid)
        process.wait()
        sandbox.set_faults([])
    output = read_output(process)
    assert killed_at is not None, "the run ended (rc %s) before call %d of %s:%s:\n%s" % (
        process.returncode, point.nth, point.service, point.action, output[-4000:])
    if any(rule["kind"] == "latency" for rule in point.hold):
        # A held read the sandbox is still delaying is answered to nobody; let it pass before reading the state.
        time.sleep(max(0.0, killed_at + HOLD + 0.3 - time.monotonic()))
    return output


def wait_for_terminated_pods(stand, namespace, timeout=120):
    """The killed run's verification pods run on; wait until they have ended and their owner's grace is over.

    A pod that is still running may belong to a concurrent run, so a re-run leaves it alone: only a pod that ended (or
    outlived its deadline) is a leftover.
    """
    deadline = time.monotonic() + timeout
    while True:
        pods = verification_pods(stand, namespace)
        if all(pod["phase"] in ("Succeeded", "Failed") for pod in pods):
            break
        assert time.monotonic() < deadline, pods
        time.sleep(0.5)
    if pods:
        time.sleep(LEFTOVER_POD_GRACE + 1)


@pytest.mark.parametrize("point", POINTS, ids=[point.name for point in POINTS])
def test_a_killed_run_is_completed_by_the_next_run(stand, tmp_path, point):
    sandbox, case, workdir = stand.sandbox, Case(), str(tmp_path)
    stand.kube.create_namespace(case.namespace)
    if point.prepare:
        point.prepare(stand, case)

    output = run_and_kill(sandbox, case, workdir, point)
    assert "PLAY RECAP" not in output
    interrupted = snapshot(stand, case)
    assert point.interrupted(interrupted, case), "the kill did not land at %s: %s" % (point.name, json.dumps(interrupted, indent=1))

    wait_for_terminated_pods(stand, case.namespace)
    rerun = site(sandbox, case, workdir, point.checks)
    assert rerun.returncode == 0, rerun.stdout[-8000:]
    assert rerun.stdout.count(", verified as arn:aws:sts::%s:assumed-role/int-%s-" % (ACCOUNT, case.id)) == 3, rerun.stdout[-8000:]
    assert snapshot(stand, case) == converged(stand, case)

    # The next run (checks static and token, no pod) has nothing left to do and writes nothing.
    sandbox.reset_log()
    third = site(sandbox, case, workdir, ("static", "token"))
    assert third.returncode == 0, third.stdout[-8000:]
    assert recap(third.stdout)["changed"] == 0, third.stdout[-8000:]
    assert [call for call in sandbox.log()["calls"] if call["write"]] == []
    assert snapshot(stand, case) == converged(stand, case)
