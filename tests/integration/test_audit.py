"""playbooks/audit.yml on a sandbox account with 3 clusters, 300 annotated ServiceAccounts and every kind of finding
planted three times: the audit finds every planted finding and nothing else, in a fixed number of API calls, and
writes a report people read.
"""

import json
import os
import subprocess
from html import escape

import pytest
import yaml
from playbook_runner import ROOT, run_playbook

from irsa_sandbox.testing import start_sandbox

AUDIT = os.path.join(ROOT, "playbooks", "audit.yml")
CLUSTERS = ("alpha", "beta", "gamma")
NAMESPACES = 5
PER_NAMESPACE = 20
PER_ROLE = 10
AUD = "sts.amazonaws.com"


def _irsa(provider_arn, subjects, operator="StringEquals", audience=True):
    provider = provider_arn.split(":oidc-provider/", 1)[1]
    condition = {operator: {provider + ":sub": subjects if len(subjects) > 1 else subjects[0]}}
    if audience:
        condition.setdefault("StringEquals", {})[provider + ":aud"] = AUD
    return {"Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition}


def _policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _kubectl(sandbox, context, *args, stdin=None):
    result = subprocess.run(["kubectl", "--context", context, *args], input=stdin, env=sandbox.subprocess_env(),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _service_account(namespace, name, role_arn=None):
    metadata = {"name": name, "namespace": namespace}
    if role_arn:
        metadata["annotations"] = {"eks.amazonaws.com/role-arn": role_arn}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}


def _plant(sandbox):
    """The account and clusters; returns the findings planted, as {(kind, first resource)}."""
    iam = sandbox.client("iam")
    region = sandbox.vars["aws_region"]
    account = sandbox.vars["aws_account_id"]
    role_arn = "arn:aws:iam::{0}:role/{1}".format(account, "{0}").format
    expected = set()
    clusters = {name: sandbox.ensure_oidc_provider(name) for name in CLUSTERS}
    for cluster, facts in clusters.items():
        documents = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-%d" % n}} for n in range(NAMESPACES)]
        for n in range(NAMESPACES):
            names = ["app-%02d" % i for i in range(PER_NAMESPACE)]
            for start in range(0, PER_NAMESPACE, PER_ROLE):
                role = "{0}-ns{1}-{2}".format(cluster, n, start // PER_ROLE)
                group = names[start:start + PER_ROLE]
                subjects = ["system:serviceaccount:ns-%d:%s" % (n, item) for item in group]
                sandbox.create_role(role, _policy(_irsa(facts["provider_arn"], subjects)))
                documents += [_service_account("ns-%d" % n, item, role_arn(role)) for item in group]
        # Plants on the cluster side: annotations naming missing roles, and ServiceAccounts whose role does not trust them.
        documents.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plants"}})
        documents.append(_service_account("plants", "lost", role_arn(cluster + "-no-such-role")))
        expected.add(("annotation-role-missing", "{0}/plants/lost".format(cluster)))
        documents.append(_service_account("plants", "untrusted", role_arn(cluster + "-ns0-0")))
        expected.add(("binding-broken", "{0}/plants/untrusted".format(cluster)))
        # A ServiceAccount annotated after its pod started: the pod was not given the role.
        documents.append(_service_account("plants", "late"))
        documents.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "late-pod", "namespace": "plants"},
                          "spec": {"serviceAccountName": "late", "containers": [
                              {"name": "app", "image": "public.ecr.aws/aws-cli/aws-cli:2.25.4", "command": ["sleep", "3600"]}]}})
        _kubectl(sandbox, facts["context"], "apply", "-f", "-", stdin=yaml.safe_dump_all(documents))
        late_role = cluster + "-late"
        sandbox.create_role(late_role, _policy(_irsa(facts["provider_arn"], ["system:serviceaccount:plants:late"])))
        _kubectl(sandbox, facts["context"], "annotate", "serviceaccount", "late", "-n", "plants",
                 "eks.amazonaws.com/role-arn=" + role_arn(late_role))
        expected.add(("pods-to-restart", "{0}/plants/late".format(cluster)))

    alpha = clusters["alpha"]["provider_arn"]
    for index in range(3):
        # A role trusting a provider that does not exist.
        gone = "arn:aws:iam::{0}:oidc-provider/oidc.eks.{1}.amazonaws.com/id/{2:032X}".format(account, region, 0xDEAD0 + index)
        sandbox.create_role("plant-provider-missing-%d" % index, _policy(_irsa(gone, ["system:serviceaccount:x:y"])))
        expected.add(("provider-missing", role_arn("plant-provider-missing-%d" % index)))
        # Providers of clusters that no longer exist: three trusted by a role, three by none.
        for kind, offset in (("trusted", 0xBEEF0), ("idle", 0xCAFE0)):
            url = "https://oidc.eks.{0}.amazonaws.com/id/{1:032X}".format(region, offset + index)
            arn = iam.create_open_id_connect_provider(Url=url, ClientIDList=[AUD], ThumbprintList=["a" * 40])[
                "OpenIDConnectProviderArn"]
            expected.add(("provider-unused", arn))
            if kind == "trusted":
                sandbox.create_role("plant-cluster-missing-%d" % index, _policy(_irsa(arn, ["system:serviceaccount:x:y"])))
                expected.add(("cluster-missing", role_arn("plant-cluster-missing-%d" % index)))
        # Trust statements of alpha's provider: no audience, '*' under StringEquals, namespace-wide, unknown subjects.
        name = "plant-no-audience-%d" % index
        sandbox.create_role(name, _policy(_irsa(alpha, ["system:serviceaccount:ns-%d:app-00" % index], audience=False)))
        expected.add(("trust-no-audience", role_arn(name) + " statement 0"))
        name = "plant-star-equals-%d" % index
        sandbox.create_role(name, _policy(_irsa(alpha, ["system:serviceaccount:ns-%d:*" % index])))
        expected.add(("trust-star-equals", role_arn(name) + " statement 0"))
        name = "plant-too-broad-%d" % index
        sandbox.create_role(name, _policy(_irsa(alpha, ["system:serviceaccount:ns-%d:*" % index], operator="StringLike")))
        expected.add(("trust-too-broad", role_arn(name) + " statement 0"))
        name = "plant-subject-unknown-%d" % index
        sandbox.create_role(name, _policy(_irsa(alpha, ["system:serviceaccount:gone:app-%d" % index])))
        expected.add(("subject-unknown", role_arn(name) + " statement 0"))
    return expected


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("audit")
    with start_sandbox(str(workdir / "sandbox"), clusters=CLUSTERS) as sandbox:
        expected = _plant(sandbox)
        run = run_playbook(sandbox, AUDIT, str(workdir), extra_vars=["irsa_audit_report_dir=" + str(workdir / "report")])
        sandbox.reset_log()
        failing = run_playbook(sandbox, AUDIT, str(workdir), extra_vars=[
            "irsa_audit_report_dir=" + str(workdir / "report2"), "irsa_audit_fail_on=medium",
            json.dumps({"irsa_clusters": ["beta"]})])
        log = sandbox.log()
        yield {"expected": expected, "run": run, "failing": failing, "log": log, "dir": workdir}


def _report(audited, name="report"):
    with open(os.path.join(str(audited["dir"]), name, "report.json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_the_audit_finds_every_planted_finding_and_nothing_else(audited):
    assert audited["run"].returncode == 0, audited["run"].stdout[-6000:]
    report = _report(audited)
    found = {(item["kind"], item["resources"][0]) for item in report["findings"]}
    assert found - audited["expected"] == set(), "found what was not planted"
    assert audited["expected"] - found == set(), "missed a planted finding"
    kinds = {kind for kind, _resource in found}
    assert len(kinds) == 10 and all(sum(1 for kind, _r in found if kind == k) >= 3 for k in kinds)
    for item in report["findings"]:
        assert item["severity"] in ("high", "medium", "low") and item["why"] and item["fix"]


def test_every_service_account_has_its_verdict(audited):
    report = _report(audited)
    rows = {(cluster["name"], row["namespace"], row["name"]): row for cluster in report["clusters"]
            for row in cluster["service_accounts"]}
    assert report["summary"]["service_accounts"] == len(rows) >= 300
    baseline = [row for key, row in rows.items() if key[1].startswith("ns-")]
    assert len(baseline) == 300
    # The three ServiceAccounts of each cluster that a no-audience role also trusts stay verified: the warning is the role's.
    assert {row["verdict"] for row in baseline} == {"ok"}
    for cluster in CLUSTERS:
        assert rows[(cluster, "plants", "lost")]["verdict"] == "broken"
        assert rows[(cluster, "plants", "untrusted")]["verdict"] == "broken"
        assert "does not allow" in rows[(cluster, "plants", "untrusted")]["message"] or \
            "trust" in rows[(cluster, "plants", "untrusted")]["message"].lower()
        assert rows[(cluster, "plants", "late")]["pods_to_restart"] == ["late-pod"]


def test_the_calls_do_not_grow_with_the_service_accounts(audited):
    report = _report(audited)
    calls = report["api_calls"]
    # One ListClusters and three DescribeCluster; ListRoles (one page), ListOpenIDConnectProviders and one
    # GetOpenIDConnectProvider per cluster; two Kubernetes lists per cluster.
    assert calls == {"sts": 1, "eks": 4, "iam": 5, "kubernetes": 6}, calls
    provider_count = report["summary"]["oidc_providers"]
    assert provider_count == {"count": 9, "limit": 100, "unused": 6}


def test_the_report_reads_without_network(audited):
    report = _report(audited)
    with open(os.path.join(str(audited["dir"]), "report", "report.html"), encoding="utf-8") as handle:
        html = handle.read()
    for item in report["findings"]:
        assert escape(item["title"]) in html
    for cluster in CLUSTERS:
        assert "{0}".format(cluster) in html
    assert "<script src" not in html and "<link" not in html and "@import" not in html


def test_fail_on_severity_and_one_cluster(audited):
    failing = audited["failing"]
    assert failing.returncode != 0
    assert "of severity medium or above (irsa_audit_fail_on)" in failing.stdout
    report = _report(audited, "report2")
    assert [cluster["name"] for cluster in report["clusters"]] == ["beta"]
    # Nothing was written by either run.
    assert [call for call in audited["log"]["calls"] if call["write"]] == []
