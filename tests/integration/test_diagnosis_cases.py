"""Every broken set-up of tests/fixtures/diagnosis_cases.yml of level sandbox (one cluster) or sandbox2 (blue and
green), made for real in the sandbox and verified with eks.irsa.irsa_verify: the message names the cause and the
remediation the fix that the table asserts.

Per sandbox, the test makes every case's role and ServiceAccount, then one playbook verifies the cases (those without
options of their own in one call) and writes what each verification returned to a file, which the tests read.
"""

import json
import os
import uuid

import jinja2
import pytest
import yaml

from kube_api import KubeApi
from playbook_runner import ROOT, run_playbook

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "diagnosis_cases.yml")
with open(FIXTURE, encoding="utf-8") as _handle:
    CASES = yaml.safe_load(_handle)["cases"]

# Trust policies the cases refer to (templates of the table's variables).
TRUST_TEMPLATES = {
    "web_identity_trust": (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "{{ cluster.provider_arn }}"}, '
        '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"{{ cluster.provider }}:sub": "{{ sub }}", '
        '"{{ cluster.provider }}:aud": "sts.amazonaws.com"}}}]}'
    ),
    "web_identity_trust_with_deny": (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "{{ cluster.provider_arn }}"}, '
        '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"{{ cluster.provider }}:sub": "{{ sub }}", '
        '"{{ cluster.provider }}:aud": "sts.amazonaws.com"}}}, {"Effect": "Deny", "Principal": {"Federated": '
        '"{{ cluster.provider_arn }}"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringLike": '
        '{"{{ cluster.provider }}:sub": "system:serviceaccount:{{ ns }}:*"}}}]}'
    ),
    "web_identity_trust_without_aud": (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "{{ cluster.provider_arn }}"}, '
        '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"{{ cluster.provider }}:sub": "{{ sub }}"}}}]}'
    ),
    "web_identity_trust_other_audience": (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "{{ cluster.provider_arn }}"}, '
        '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"{{ cluster.provider }}:sub": "{{ sub }}", '
        '"{{ cluster.provider }}:aud": "other-audience"}}}]}'
    ),
    "ec2_trust": (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, '
        '"Action": "sts:AssumeRole"}]}'
    ),
    "web_identity_trust_other_account": (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": '
        '"arn:aws:iam::210987654321:oidc-provider/{{ cluster.provider }}"}, "Action": "sts:AssumeRoleWithWebIdentity", '
        '"Condition": {"StringEquals": {"{{ cluster.provider }}:sub": "{{ sub }}", "{{ cluster.provider }}:aud": "sts.amazonaws.com"}}}]}'
    ),
    "web_identity_trust_wrong_action": (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "{{ cluster.provider_arn }}"}, '
        '"Action": "sts:AssumeRole", "Condition": {"StringEquals": {"{{ cluster.provider }}:sub": "{{ sub }}", '
        '"{{ cluster.provider }}:aud": "sts.amazonaws.com"}}}]}'
    ),
    "web_identity_trust_pattern": (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "{{ cluster.provider_arn }}"}, '
        '"Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringLike": {"{{ cluster.provider }}:sub": '
        '"system:serviceaccount:{{ ns }}:batch-*"}, "StringEquals": {"{{ cluster.provider }}:aud": "sts.amazonaws.com"}}}]}'
    ),
}


def _cases(*levels):
    return [case for case in CASES if case["level"] in levels]


def _render(value, context):
    """``value`` with its Jinja templates rendered in ``context`` (the table's variables)."""
    if isinstance(value, str):
        rendered = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(value).render(context)
        return _render(rendered, context) if "{{" in rendered else rendered
    if isinstance(value, dict):
        return {_render(key, context): _render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, context) for item in value]
    return value


def _context(sandbox, ns, prefix, case):
    clusters = sandbox.vars["irsa_sandbox_clusters"]
    role_name = "{0}-{1}".format(prefix, case["case"])[:64]
    context = dict(ns=ns, cluster=clusters[0], other=clusters[-1], account=sandbox.vars["aws_account_id"], role_name=role_name,
                   role_arn="arn:aws:iam::{0}:role/{1}".format(sandbox.vars["aws_account_id"], role_name),
                   sub="system:serviceaccount:{0}:{1}".format(ns, case["case"]))
    context.update(TRUST_TEMPLATES)
    return context


def _verify_args(sandbox, case, context):
    cluster = context["cluster"]
    args = {"cluster_name": cluster["name"], "kubeconfig": sandbox.vars["kubeconfig"], "context": cluster["context"],
            "namespace": context["ns"], "service_account": case["case"], "checks": ["static", "token"],
            "fail_on_error": False, "propagation_timeout": 5}
    args.update(_render(case.get("verify") or {}, context))
    return {key: value for key, value in args.items() if value is not None}


def _set_up(sandbox, cases, ns, prefix):
    """Each case's role (in IAM) and ServiceAccount (in its cluster); the namespace in every cluster."""
    iam = sandbox.client("iam")
    for cluster in sandbox.vars["irsa_sandbox_clusters"]:
        sandbox.ensure_oidc_provider(cluster["name"])
        KubeApi(sandbox, cluster["context"]).create_namespace(ns)
    for case in cases:
        setup = case.get("setup") or {}
        context = _context(sandbox, ns, prefix, case)
        if setup.get("role"):
            role = setup["role"]
            iam.create_role(RoleName=context["role_name"], Path=role.get("path", "/"),
                            AssumeRolePolicyDocument=_render(role["trust"], context))
        if setup.get("service_account"):
            account = setup["service_account"]
            annotations = _render(account.get("annotations", {"eks.amazonaws.com/role-arn": "{{ role_arn }}"}), context)
            KubeApi(sandbox, account.get("context") or context["cluster"]["context"]).create_service_account(
                ns, case["case"], annotations)


def _tear_down(sandbox, cases, ns, prefix):
    iam = sandbox.client("iam")
    for case in cases:
        if (case.get("setup") or {}).get("role"):
            iam.delete_role(RoleName=_context(sandbox, ns, prefix, case)["role_name"])
    for cluster in sandbox.vars["irsa_sandbox_clusters"]:
        KubeApi(sandbox, cluster["context"]).delete_namespace(ns)


def _playbook(sandbox, cases, ns, prefix, output):
    """The playbook that verifies ``cases`` and writes what each verification returned to ``output``.

    Cases with options of their own are verified one task each; the others together, in one call.
    """
    tasks, names = [], []
    together = [case for case in cases if not case.get("verify")]
    if together:
        args = _verify_args(sandbox, together[0], _context(sandbox, ns, prefix, together[0]))
        del args["service_account"], args["namespace"]
        args["service_accounts"] = [{"namespace": ns, "name": case["case"]} for case in together]
        tasks.append({"name": "Verify the cases without options of their own", "eks.irsa.irsa_verify": args, "register": "together"})
    for index, case in enumerate(case for case in cases if case.get("verify")):
        tasks.append({"name": "Verify case " + case["case"], "eks.irsa.irsa_verify": _verify_args(sandbox, case, _context(
            sandbox, ns, prefix, case)), "register": "case_{0}".format(index), "ignore_errors": True})
        names.append("{0!r}: case_{1}".format(case["case"], index))
    content = "{{ {" + ", ".join(names) + "} | combine(dict(together.results | default([]) | map(attribute='service_account') "
    content += "| zip(together.results | default([])))) | to_json }}"
    tasks.append({"name": "Write what every case returned", "ansible.builtin.copy": {"dest": output, "content": content, "mode": "0600"}})
    aws = {"endpoint_url": "{{ aws_endpoint_url }}", "region": "{{ aws_region }}", "access_key": "{{ aws_access_key }}",
           "secret_key": "{{ aws_secret_key }}"}
    return [{"hosts": "localhost", "gather_facts": False, "module_defaults": {"group/eks.irsa.irsa": aws}, "tasks": tasks}]


def _run(sandbox, cases, workdir):
    ns = "diag-" + uuid.uuid4().hex[:8]
    prefix = "irsa-" + ns
    output = os.path.join(workdir, "results.json")
    playbook = os.path.join(workdir, "cases.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        yaml.safe_dump(_playbook(sandbox, cases, ns, prefix, output), handle, sort_keys=False, width=1000)
    _set_up(sandbox, cases, ns, prefix)
    try:
        result = run_playbook(sandbox, playbook, workdir)
    finally:
        _tear_down(sandbox, cases, ns, prefix)
    assert result.returncode == 0, result.stdout[-12000:]
    # Warnings reach ansible-core without amazon.aws's deprecated route through exit_json.
    assert "Passing `warnings`" not in result.stdout
    with open(output, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def one_cluster(sandbox, tmp_path_factory):
    return _run(sandbox, _cases("sandbox"), str(tmp_path_factory.mktemp("cases")))


@pytest.fixture(scope="module")
def two_clusters(sandbox2, tmp_path_factory):
    return _run(sandbox2, _cases("sandbox2"), str(tmp_path_factory.mktemp("cases2")))


def diagnosis(returned, case):
    """``(message, remediation)`` of the case: the failed task's message, or the failed check's."""
    assert "module_stderr" not in returned and "Traceback" not in json.dumps(returned), returned
    if case["check"] == "task":
        assert returned.get("failed"), returned
        return returned["msg"], returned["msg"]
    if case["check"] == "error":
        # The verification of the binding stopped at an access problem, which its message names with the fix.
        (stopped,) = [check for check in returned["checks"] if check["name"] == "error"]
        return stopped["message"], stopped["message"]
    assert not returned.get("failed"), returned.get("msg")
    found = [check for check in returned["checks"] if check["name"] == case["check"] and check["passed"] is False]
    assert found, json.dumps(returned["checks"], indent=1)
    assert not returned["verified"] or found[0]["severity"] == "warning"
    return found[0]["message"], found[0]["remediation"]


@pytest.mark.parametrize("case", _cases("sandbox", "sandbox2"), ids=[case["case"] for case in _cases("sandbox", "sandbox2")])
def test_case(case, request):
    results = request.getfixturevalue("two_clusters" if case["level"] == "sandbox2" else "one_cluster")
    message, remediation = diagnosis(results[case["case"]], case)
    assert case["cause"] in message, message
    assert case["fix"] in remediation, remediation
