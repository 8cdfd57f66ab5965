"""The least privilege documented for running the eks.irsa.irsa role is sufficient and minimal.

The IAM policy and the Kubernetes RBAC are read from the files users apply
(docs/permissions/irsa-runner-iam-policy.json, docs/permissions/irsa-runner-rbac.yml), so the
documentation and this test cannot drift apart.

A whole lifecycle of the role runs as an IAM user that holds exactly the documented policy and
nothing else, in EKS mode (AWS credentials only, as AWX runs it), with one namespace enforcing the
restricted Pod Security profile: create with every check, managed policies (by ARN and by name), an
inline policy and tags; a second, no-op run; a run that adds a ServiceAccount to a shared role and
drops a tag; an audit that finds a trust narrowed by hand (so the pod check's diagnosis runs); the
teardown. The sandbox enforces the user's policy as IAM does, so the lifecycle succeeding shows the
policy is enough. Its request log then says what was called: every IAM authorization (action and
resource ARN) must be granted by the documented policy, and every action and resource pattern of the
policy must have been needed by some call; every Kubernetes request (verb, resource, API group,
namespace) must be allowed by the documented Role (in the bindings' namespaces) or ClusterRole, and
every verb of every rule must have been used. The runner reaches the cluster as an EKS access entry
maps it (the group eks-irsa-runners), and the documented RBAC is applied to the cluster as the file
says: the real kube-apiserver's RBAC authorizes every request, so the lifecycle passing shows the RBAC is
enough, and a run without any one of its rules fails at the step that needs it, with the collection's
403 message.
"""

import copy
import json
import os
import re
import subprocess

import pytest
import yaml
from irsa_sandbox.aws import iam_authz
from irsa_sandbox.testing import start_sandbox
from playbook_runner import ROOT, run_playbook

POLICY_FILE = os.path.join("docs", "permissions", "irsa-runner-iam-policy.json")
RBAC_FILE = os.path.join("docs", "permissions", "irsa-runner-rbac.yml")
SITE = os.path.join(ROOT, "playbooks", "site.yml")
VERIFY = os.path.join(ROOT, "playbooks", "verify.yml")
TEARDOWN = os.path.join(ROOT, "playbooks", "teardown.yml")
PLACEHOLDERS = ("ACCOUNT_ID", "REGION", "CLUSTER_NAME")
RUNNER_GROUP = "eks-irsa-runners"
# Allowed to every authenticated user by the default ClusterRoles system:discovery and system:basic-user.
K8S_ALWAYS_ALLOWED = {"get discovery", "create selfsubjectreviews", "create selfsubjectaccessreviews"}

S3_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
S3_LIST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}


def policy_text(sandbox):
    """The documented policy with its placeholders filled in for ``sandbox``."""
    with open(os.path.join(ROOT, POLICY_FILE), encoding="utf-8") as handle:
        text = handle.read()
    values = {"ACCOUNT_ID": sandbox.vars["aws_account_id"], "REGION": sandbox.env["AWS_REGION"],
              "CLUSTER_NAME": sandbox.vars["irsa_sandbox_cluster"]}
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def load_rbac():
    with open(os.path.join(ROOT, RBAC_FILE), encoding="utf-8") as handle:
        listed = yaml.safe_load(handle)  # one document, a List, as kubectl apply takes it
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List"), RBAC_FILE
    by_kind = {}
    for item in listed["items"]:
        assert item["kind"] not in by_kind, "%s: one %s only" % (RBAC_FILE, item["kind"])
        by_kind[item["kind"]] = item
    assert sorted(by_kind) == ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"], sorted(by_kind)
    return by_kind


def as_list(value):
    return [value] if isinstance(value, str) else list(value)


# --------------------------------------------------------------------------------------------
# the files themselves


def test_the_policy_names_every_action_and_scopes_every_resource_it_can():
    with open(os.path.join(ROOT, POLICY_FILE), encoding="utf-8") as handle:
        policy = json.load(handle)
    assert policy["Version"] == "2012-10-17"
    problems = []
    for index, statement in enumerate(policy["Statement"]):
        where = "statement %d (%s)" % (index, statement.get("Sid", "no Sid"))
        if set(statement) - {"Sid", "Effect", "Action", "Resource"}:
            problems.append("%s: only Sid, Effect, Action, Resource are expected, found %s" % (where, sorted(statement)))
        if statement.get("Effect") != "Allow":
            problems.append("%s: Effect must be Allow" % where)
        actions = as_list(statement.get("Action", []))
        resources = as_list(statement.get("Resource", []))
        problems += ["%s: wildcard action %s" % (where, action) for action in actions if "*" in action or "?" in action]
        if "*" in resources:
            unscoped = [action for action in actions if action not in iam_authz.UNSCOPED_ACTIONS]
            if unscoped or resources != ["*"]:
                problems.append("%s: Resource * for actions that support resource-level permissions: %s" % (where, unscoped))
        for resource in resources:
            if resource != "*" and not re.fullmatch(r"arn:aws:(iam|eks):[^*:]*:(ACCOUNT_ID|aws):[a-z-]+/.+", resource):
                problems.append("%s: resource %s is not scoped to a resource type of the account" % (where, resource))
    assert not problems, "\n".join(problems)


def test_the_rbac_grants_no_wildcard_and_nothing_cluster_wide_but_one_list():
    rbac = load_rbac()
    role, cluster_role = rbac["Role"], rbac["ClusterRole"]
    for binding, target in (("RoleBinding", role), ("ClusterRoleBinding", cluster_role)):
        ref = rbac[binding]["roleRef"]
        assert (ref["kind"], ref["name"]) == (target["kind"], target["metadata"]["name"]), binding
    assert rbac["RoleBinding"]["metadata"]["namespace"] == role["metadata"]["namespace"]
    assert rbac["RoleBinding"]["subjects"] == rbac["ClusterRoleBinding"]["subjects"]
    for document in (role, cluster_role):
        for rule in document["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert not [value for value in rule[key] if "*" in value], "%s: wildcard in %s" % (document["kind"], key)
            assert "secrets" not in rule["resources"], "%s grants access to Secrets" % document["kind"]
            assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
    assert cluster_role["rules"] == [{"apiGroups": ["admissionregistration.k8s.io"],
                                      "resources": ["mutatingwebhookconfigurations"], "verbs": ["list"]}]


def test_the_docs_show_and_link_the_files_as_they_are():
    with open(os.path.join(ROOT, "docs", "permissions.md"), encoding="utf-8") as handle:
        section = handle.read().split("## Least privilege for the `eks.irsa.irsa` role", 1)[1]
    with open(os.path.join(ROOT, POLICY_FILE), encoding="utf-8") as handle:
        assert json.loads(re.search(r"```json\n(.*?)```", section, re.DOTALL).group(1)) == json.load(handle)
    rbac = load_rbac()
    shown = list(yaml.safe_load_all(re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)))
    assert shown == [rbac["Role"], rbac["ClusterRole"]]
    for linked in ("(permissions/irsa-runner-iam-policy.json)", "(permissions/irsa-runner-rbac.yml)"):
        assert linked in section
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        more = [line for line in handle.read().split("\n\n") if line.startswith("More:")]
    assert len(more) == 1 and "(%s)" % POLICY_FILE in more[0] and "(%s)" % RBAC_FILE in more[0]


# --------------------------------------------------------------------------------------------
# the lifecycle


@pytest.fixture
def fresh(tmp_path):
    with start_sandbox(str(tmp_path / "sandbox")) as running:
        yield running


def write_vars(tmp_path, name, **values):
    path = tmp_path / ("%s.yml" % name)
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return "@" + str(path)


def recap_changed(output):
    match = re.search(r"^localhost\s+:\s+ok=\d+\s+changed=(\d+)", output, re.MULTILINE)
    assert match, output[-3000:]
    return int(match.group(1))


def iam_problems(policy, authorizations):
    """``(missing, superfluous)``: authorizations the policy does not grant, parts of it nothing needed."""
    missing = sorted({"%s on %s" % pair for pair in authorizations if iam_authz.decide([policy], *pair) != "Allow"})
    superfluous = []
    for index, statement in enumerate(iam_authz.statements(policy)):
        where = "statement %d (%s)" % (index, statement.get("Sid", "no Sid"))
        actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])

        def used(action_pattern, resource_pattern):
            return any(iam_authz.action_matches(action_pattern, action) and iam_authz.resource_matches(resource_pattern, resource)
                       for action, resource in authorizations)

        superfluous += ["%s: action %s" % (where, action) for action in actions
                        if not any(used(action, resource) for resource in resources)]
        superfluous += ["%s: resource %s" % (where, resource) for resource in resources
                        if not any(used(action, resource) for action in actions)]
    return missing, superfluous


def rule_allows(rule, group, resource, verb):
    return group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]


def rbac_problems(rbac, requests, namespaces):
    """``(missing, superfluous)`` for Kubernetes ``requests`` ``(verb, resource, group, namespace)``: the
    Role is bound in each of ``namespaces``, the ClusterRole everywhere."""
    role_rules, cluster_rules = rbac["Role"]["rules"], rbac["ClusterRole"]["rules"]
    missing = set()
    for verb, resource, group, namespace in requests:
        by_role = namespace in namespaces and any(rule_allows(rule, group, resource, verb) for rule in role_rules)
        if not (by_role or any(rule_allows(rule, group, resource, verb) for rule in cluster_rules)):
            missing.add("%s %s (group %r) %s" % (verb, resource, group, "in namespace " + namespace if namespace else "cluster-wide"))
    superfluous = []
    for kind, rules, scoped in (("Role", role_rules, True), ("ClusterRole", cluster_rules, False)):
        for rule in rules:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        if not any((verb, resource, group) == request[:3] and (not scoped or request[3] in namespaces)
                                   for request in requests):
                            superfluous.append("%s: %s %s (group %r)" % (kind, verb, resource, group))
    return sorted(missing), superfluous


def kubectl(sandbox, *args, stdin=None):
    return subprocess.run(["kubectl", *args], env=sandbox.subprocess_env(), input=stdin, capture_output=True, text=True,
                          timeout=60, check=True)


def grant_rbac(sandbox, namespaces, without=None):
    """Apply the documented RBAC as its comment says (the Role and RoleBinding copied into each of
    ``namespaces``), leaving out the rule ``without`` = ``(kind, index)``; returns the rule left out."""
    rbac = load_rbac()
    items, dropped = [rbac["ClusterRole"], rbac["ClusterRoleBinding"]], None
    for namespace in namespaces:
        for kind in ("Role", "RoleBinding"):
            item = copy.deepcopy(rbac[kind])
            item["metadata"]["namespace"] = namespace
            items.append(item)
    if without is not None:
        kind, index = without
        for item in items:
            if item["kind"] == kind:
                dropped = item["rules"].pop(index)
    kubectl(sandbox, "apply", "-f", "-", stdin=yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    return dropped


def make_runner(sandbox, policy):
    """The IAM user irsa-runner with exactly ``policy``, mapped into the cluster with the group eks-irsa-runners as an
    EKS access entry does; returns its credentials as environment variables."""
    admin_iam = sandbox.client("iam")
    user = admin_iam.create_user(UserName="irsa-runner")["User"]
    admin_iam.put_user_policy(UserName="irsa-runner", PolicyName="irsa-runner", PolicyDocument=policy)
    key = admin_iam.create_access_key(UserName="irsa-runner")["AccessKey"]
    sandbox.control("POST", "access-entries/%s" % sandbox.vars["irsa_sandbox_cluster"],
                    {"principal_arn": user["Arn"], "groups": [RUNNER_GROUP]})
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def test_the_documented_permissions_are_exactly_what_a_lifecycle_of_the_role_needs(fresh, tmp_path):
    sandbox, cluster = fresh, fresh.vars["irsa_sandbox_cluster"]
    admin_iam = sandbox.client("iam")
    # shop/app exists already (a Helm chart made it): the role annotates it, and the teardown only removes its annotations.
    for command in (["create", "namespace", "shop"], ["label", "namespace", "shop", "pod-security.kubernetes.io/enforce=restricted"],
                    ["create", "serviceaccount", "app", "-n", "shop"]):
        kubectl(sandbox, *command)
    admin_iam.create_policy(PolicyName="irsa-s3-read", PolicyDocument=json.dumps(S3_READ))
    policy = policy_text(sandbox)
    runner = make_runner(sandbox, policy)
    grant_rbac(sandbox, ["shop", "default"])
    shop = {"service_account": "app", "namespace": "shop", "role_name": "irsa-shop",
            "managed_policies": ["irsa-s3-read", "arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "inline_policies": {"list": S3_LIST}, "tags": {"team": "shop", "stage": "test"}}
    customer_policy = "arn:aws:iam::%s:policy/irsa-s3-read" % sandbox.vars["aws_account_id"]
    bindings = [shop, {"service_account": "irsa-test", "namespace": "default", "role_name": "irsa-test",
                       "managed_policies": [customer_policy]}]
    shared = [dict(shop, tags={"team": "shop"}), dict(shop, service_account="worker", tags={"team": "shop"}), bindings[1]]
    checks = {"irsa_cluster_name": cluster, "irsa_verify_checks": ["static", "token", "pod"]}
    sandbox.reset_log()

    def run(playbook, name, succeed=True, **values):
        result = run_playbook(sandbox, playbook, str(tmp_path), extra_vars=[write_vars(tmp_path, name, **dict(checks, **values))],
                              env=runner)
        assert (result.returncode == 0) == succeed, "%s: %s" % (name, result.stdout[-8000:])
        return result

    first = run(SITE, "create", irsa_bindings=bindings)
    assert first.stdout.count(", verified") == 2, first.stdout[-8000:]
    assert recap_changed(run(SITE, "again", irsa_bindings=bindings).stdout) == 0
    assert run(SITE, "shared", irsa_bindings=shared).stdout.count(", verified") == 3
    # Someone narrows the trust of irsa-test by hand: the audit must say so, with the pod's events.
    trust = admin_iam.get_role(RoleName="irsa-test")["Role"]["AssumeRolePolicyDocument"]
    admin_iam.update_assume_role_policy(RoleName="irsa-test", PolicyDocument=json.dumps(trust).replace(":irsa-test", ":other"))
    audit = run(VERIFY, "audit", succeed=False, irsa_bindings=shared[2:])
    assert "default/irsa-test" in audit.stdout and "trust" in audit.stdout, audit.stdout[-8000:]
    run(TEARDOWN, "teardown", irsa_bindings=shared)

    calls = sandbox.log()["calls"]
    denied = ["%s:%s on %s" % (call["service"], call["action"], call["resource"]) for call in calls
              if call["authorization"] and call["status"] == 403]
    assert not denied, "the sandbox denied the documented policy these calls:\n" + "\n".join(denied)
    # The OIDC discovery document is read when allowed (system:service-account-issuer-discovery), and a 403 is expected.
    kubernetes = [call for call in calls if call["service"] == "kubernetes" and call["action"] not in K8S_ALWAYS_ALLOWED]
    forbidden = [call["action"] + " in " + call["namespace"] for call in kubernetes if call["status"] in (401, 403)]
    assert not forbidden, "the apiserver refused the documented RBAC these requests:\n" + "\n".join(forbidden)
    authorizations = {tuple(pair) for call in calls if call["service"] != "kubernetes" for pair in call["authorization"]}
    missing, superfluous = iam_problems(policy, authorizations)
    assert not missing, "%s does not grant what the role needed:\n%s" % (POLICY_FILE, "\n".join(missing))
    assert not superfluous, "%s grants what no call needed:\n%s" % (POLICY_FILE, "\n".join(superfluous))

    requests = {(call["action"].split()[0], call["action"].split()[1], call["api_group"], call["namespace"]) for call in calls
                if call["service"] == "kubernetes" and call["action"] not in K8S_ALWAYS_ALLOWED}
    assert requests, "no Kubernetes request was logged"
    namespaces = {binding["namespace"] for binding in shared}
    missing, superfluous = rbac_problems(load_rbac(), requests, namespaces)
    assert not missing, "%s does not allow what the role needed:\n%s" % (RBAC_FILE, "\n".join(missing))
    assert not superfluous, "%s allows what no request needed:\n%s" % (RBAC_FILE, "\n".join(superfluous))


# --------------------------------------------------------------------------------------------
# each rule of the RBAC, by denial

# (kind, index of the rule, what the runner then cannot do, the role's step that then fails). The ServiceAccount and
# namespace reads are made before any write, and the apiserver's 403 says what is missing; what only the verification
# needs is asked of RBAC before any write too (a SelfSubjectAccessReview), whose denial the collection words. Without
# the ClusterRole's rule the run still passes (the pod check proves the binding), and the static check says it could
# not tell whether the webhook is there.
BEFORE_ANY_WRITE = "Stop before any write when a binding cannot be completed"
APISERVER_403 = "403 Forbidden for"
RBAC_REVIEW = "Kubernetes RBAC does not let"
RULE_DENIALS = [
    ("Role", 0, 'cannot get resource "serviceaccounts"', BEFORE_ANY_WRITE),
    ("Role", 1, "create serviceaccounts/token in namespace shop", BEFORE_ANY_WRITE),
    ("Role", 2, "list pods in namespace shop", BEFORE_ANY_WRITE),
    ("Role", 3, "get pods/log in namespace shop", BEFORE_ANY_WRITE),
    ("Role", 4, 'cannot list resource "events"', "Fail when a ServiceAccount does not assume the role its binding names"),
    ("Role", 5, 'cannot get resource "namespaces"', BEFORE_ANY_WRITE),
    ("ClusterRole", 0, 'cannot list resource "mutatingwebhookconfigurations"', None),
]


def failed_task(output):
    """``(name, message)`` of the task whose failure ended the run (the last ``TASK [...]`` before ``fatal:``)."""
    before, _unused, after = output.partition("\nfatal: ")
    names = re.findall(r"^TASK \[(.*?)\]", before, re.MULTILINE)
    assert names and after, output[-6000:]
    message = json.loads(after.split("\n", 1)[0].split(" => ", 1)[1])["msg"]
    return names[-1], " ".join(message) if isinstance(message, list) else message


def test_every_rule_of_the_documented_rbac_has_a_step_that_needs_it():
    """The table below names a failing step for every rule of the file, and no rule twice."""
    rbac = load_rbac()
    rules = [("Role", index) for index in range(len(rbac["Role"]["rules"]))]
    rules += [("ClusterRole", index) for index in range(len(rbac["ClusterRole"]["rules"]))]
    assert sorted(denial[:2] for denial in RULE_DENIALS) == sorted(rules)


@pytest.mark.parametrize("kind, index, refusal, step", RULE_DENIALS, ids=["%s-%d" % denial[:2] for denial in RULE_DENIALS])
def test_without_one_rule_of_the_rbac_the_step_that_needs_it_fails_with_the_403(fresh, tmp_path, kind, index, refusal, step):
    sandbox = fresh
    kubectl(sandbox, "create", "namespace", "shop")
    kubectl(sandbox, "label", "namespace", "shop", "pod-security.kubernetes.io/enforce=restricted")
    runner = make_runner(sandbox, policy_text(sandbox))
    binding = {"service_account": "app", "namespace": "shop", "role_name": "irsa-shop"}
    values = {"irsa_cluster_name": sandbox.vars["irsa_sandbox_cluster"], "irsa_verify_checks": ["static", "token", "pod"],
              "irsa_bindings": [binding]}
    playbook = SITE
    if (kind, index) == ("Role", 4):
        # Events are read when a verification pod fails: the binding is made with every rule, then its trust is narrowed by hand.
        grant_rbac(sandbox, ["shop"])
        made = run_playbook(sandbox, SITE, str(tmp_path), extra_vars=[write_vars(tmp_path, "made", **values)], env=runner)
        assert made.returncode == 0, made.stdout[-6000:]
        admin_iam = sandbox.client("iam")
        trust = admin_iam.get_role(RoleName="irsa-shop")["Role"]["AssumeRolePolicyDocument"]
        admin_iam.update_assume_role_policy(RoleName="irsa-shop", PolicyDocument=json.dumps(trust).replace(":app", ":other"))
        values["irsa_verify_checks"] = ["pod"]
        playbook = VERIFY
    dropped = grant_rbac(sandbox, ["shop"], without=(kind, index))
    result = run_playbook(sandbox, playbook, str(tmp_path), extra_vars=[write_vars(tmp_path, "denied", **values)], env=runner)
    output = result.stdout
    runner_arn = "arn:aws:iam::%s:user/irsa-runner" % sandbox.vars["aws_account_id"]
    if step is None:
        assert result.returncode == 0, output[-6000:]
        assert "Could not tell whether the pod identity webhook is installed" in output, output[-6000:]
        assert refusal in output and "403 Forbidden for" in output and runner_arn in output, output[-6000:]
        return
    assert result.returncode != 0, "the run passed without %s: %s" % (dropped, output[-6000:])
    task, message = failed_task(output)
    assert task == "eks.irsa.irsa : " + step, (task, message)
    said = APISERVER_403 if refusal.startswith("cannot ") else RBAC_REVIEW
    assert refusal in message and said in message and runner_arn in message, message
    if step == BEFORE_ANY_WRITE:
        assert not sandbox.client("iam").list_roles()["Roles"], "a role was written before the run stopped"
    if said == RBAC_REVIEW:
        # The message names the file to grant it from, and the variables that choose the checks.
        assert "irsa-runner-rbac.yml" in message and "irsa_verify_checks" in message, message
        # Check mode tells the same: the binding would not be verified, for that reason.
        checked = run_playbook(sandbox, playbook, str(tmp_path), extra_vars=[write_vars(tmp_path, "denied", **values)],
                               args=["--check"], env=runner)
        assert checked.returncode != 0, checked.stdout[-6000:]
        task, message = failed_task(checked.stdout)
        assert task == "eks.irsa.irsa : Fail with every binding that did not work", (task, message)
        assert refusal in message and RBAC_REVIEW in message, message
        assert not sandbox.client("iam").list_roles()["Roles"], "check mode wrote a role"
        # A run with nothing to write is not stopped: it verifies the binding made with every rule, and the call the
        # rule allowed gets the apiserver's own 403, in the collection's words.
        grant_rbac(sandbox, ["shop"])
        made = run_playbook(sandbox, SITE, str(tmp_path), extra_vars=[write_vars(tmp_path, "made", **values)], env=runner)
        assert made.returncode == 0, made.stdout[-6000:]
        grant_rbac(sandbox, ["shop"], without=(kind, index))
        values["irsa_verify_unchanged_checks"] = values["irsa_verify_checks"]
        again = run_playbook(sandbox, SITE, str(tmp_path), extra_vars=[write_vars(tmp_path, "again", **values)], env=runner)
        assert again.returncode != 0, again.stdout[-6000:]
        task, message = failed_task(again.stdout)
        assert task == "eks.irsa.irsa : Fail with every binding that did not work", (task, message)
        verb, resource = refusal.split()[:2]
        forbidden = "cannot %s resource \"%s\"" % (verb, resource)
        assert forbidden in message and APISERVER_403 in message and runner_arn in message, message
        assert "Grant the verb %r" % verb in message and "unchanged, NOT verified" in message, message
        assert recap_changed(again.stdout) == 0, again.stdout[-3000:]
