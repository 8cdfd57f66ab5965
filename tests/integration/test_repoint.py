"""playbooks/repoint.yml after a cluster rebuild, on a sandbox with two clusters: 20 roles of ours and 2 hand-made roles
trust blue; the playbook re-points ours to green (check mode first), leaves the hand-made ones exactly as they were
and names them, changes and writes nothing on a second run, and in mode add makes the roles trust both clusters."""

import json
import os
import re
import subprocess
import sys

import yaml
from playbook_runner import ROOT, playbook_env, run_playbook, write_inventory

REPOINT = os.path.join(ROOT, "playbooks", "repoint.yml")
ROLE_ARN = "arn:aws:iam::123456789012:role/"
OURS = ["app-%02d" % index for index in range(20)]
FOREIGN = ["hand-made-%d" % index for index in range(2)]


def recap(output):
    counters = re.search(r"^localhost\s+:\s+(ok=.*)$", output, re.MULTILINE).group(1)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counters)}


def writes(sandbox):
    return [(call["action"], call.get("resource")) for call in sandbox.log()["calls"] if call["write"]]


def providers(sandbox):
    return {cluster["name"]: cluster for cluster in sandbox.vars["irsa_sandbox_clusters"]}


def trust(sandbox, name):
    return sandbox.client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]


def trusted(sandbox, name):
    """{cluster name: subjects} of the role's statements, by the provider each names."""
    by_arn = {cluster["provider_arn"]: name for name, cluster in providers(sandbox).items()}
    found = {}
    for statement in trust(sandbox, name)["Statement"]:
        federated = statement.get("Principal", {}).get("Federated")
        if federated in by_arn:
            for block in statement["Condition"].values():
                found.setdefault(by_arn[federated], []).extend(
                    value for key, value in block.items() if key.endswith(":sub"))
    return found


def create_our_roles(sandbox, workdir):
    """The roles of ours, made as a user makes them: the OIDC providers registered, then one irsa_role task."""
    iam = sandbox.client("iam")
    for cluster in providers(sandbox).values():
        iam.create_open_id_connect_provider(Url=cluster["issuer_url"], ClientIDList=["sts.amazonaws.com"],
                                            ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    args = {"cluster_name": "blue",
            "roles": [{"name": name, "service_accounts": ["shop:%s" % name]} for name in OURS]}
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-i", write_inventory(workdir),
         "-m", "eks.irsa.irsa_role", "-a", json.dumps(args)],
        cwd=workdir, env=playbook_env(sandbox), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def create_foreign_roles(sandbox):
    """Two roles made by hand (no ownership tag) trusting blue, beside an EC2 statement; their documents as sent."""
    blue = providers(sandbox)["blue"]
    documents = {}
    for name in FOREIGN:
        document = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"Federated": blue["provider_arn"]}, "Action": "sts:AssumeRoleWithWebIdentity",
             "Condition": {"StringEquals": {blue["provider"] + ":sub": "system:serviceaccount:legacy:" + name,
                                            blue["provider"] + ":aud": "sts.amazonaws.com"}}}]}
        sandbox.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))
        documents[name] = document
    return documents


def run(sandbox, workdir, args=(), env=None, **variables):
    path = os.path.join(workdir, "vars-%d.yml" % len([name for name in os.listdir(workdir) if name.startswith("vars-")]))
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(variables, handle)
    result = run_playbook(sandbox, REPOINT, workdir, extra_vars=["@" + path], args=args, env=env)
    assert result.returncode == 0, result.stdout[-8000:]
    return result.stdout


def lines(output, suffix):
    """{role name: what its line says} for the lines ending with ``suffix``."""
    pattern = r'"role (\S+) \(%s\S+\): (.*%s)"' % (re.escape(ROLE_ARN), re.escape(suffix))
    return dict(re.findall(pattern, output))


def test_roles_of_ours_move_from_blue_to_green_and_foreign_ones_are_left_alone(fresh2, tmp_path):
    workdir = str(tmp_path)
    create_our_roles(fresh2, workdir)
    foreign = create_foreign_roles(fresh2)
    blue_to_green = dict(irsa_repoint_from_cluster="blue", irsa_repoint_to_cluster="green")
    moved = "from cluster blue to cluster green"
    left_alone = "to re-point it too, list it in irsa_adopt_roles"

    # 1. Check mode: every change predicted, nothing written.
    fresh2.reset_log()
    predicted = run(fresh2, workdir, args=["--check", "--diff"], **blue_to_green)
    assert writes(fresh2) == []
    assert recap(predicted)["changed"] == 1
    assert lines(predicted, moved) == {name: "would move " + moved for name in OURS}, predicted[-6000:]
    assert set(lines(predicted, left_alone)) == set(FOREIGN)
    # --diff shows each role's trust policy before and after.
    green_arn = re.escape(providers(fresh2)["green"]["provider_arn"])
    assert len(re.findall(r'^\+\s+"Federated": "%s"' % green_arn, predicted, re.MULTILINE)) == 20, predicted[-6000:]
    assert all(trusted(fresh2, name) == {"blue": ["system:serviceaccount:shop:" + name]} for name in OURS)

    # 2. For real: ours trust green only, the hand-made ones are untouched, named, and make the task warn.
    fresh2.reset_log()
    real = run(fresh2, workdir, env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"}, **blue_to_green)
    assert lines(real, moved) == {name: "moved " + moved for name in OURS}, real[-6000:]
    assert set(lines(real, left_alone)) == set(FOREIGN)
    for name in FOREIGN:
        assert re.search(r"\[WARNING\]: role '%s' .* was left as it is" % name, real), real[-6000:]
    for name in OURS:
        assert trusted(fresh2, name) == {"green": ["system:serviceaccount:shop:" + name]}
    for name, document in foreign.items():
        assert trust(fresh2, name) == document
    assert sorted(writes(fresh2)) == sorted(("UpdateAssumeRolePolicy", ROLE_ARN + name) for name in OURS)
    # AWX's job summary (set_stats): the counts.
    stats = json.loads(re.search(r"RUN: (\{.*\})", real[real.index("CUSTOM STATS"):]).group(1))["irsa_repoint"]
    assert stats == {"moved": 20, "added": 0, "unchanged": 0, "foreign": 2, "failed": 0, "check_mode": False}, stats

    # 3. A second run changes nothing and writes nothing.
    fresh2.reset_log()
    again = run(fresh2, workdir, **blue_to_green)
    assert recap(again)["changed"] == 0
    assert writes(fresh2) == []
    assert lines(again, "unchanged") == {name: "unchanged" for name in OURS}, again[-6000:]
    assert set(lines(again, left_alone)) == set(FOREIGN)

    # 4. Mode add (blue/green): each role keeps the cluster it trusts and trusts the other one too.
    fresh2.reset_log()
    added = run(fresh2, workdir, irsa_repoint_from_cluster="green", irsa_repoint_to_cluster="blue", irsa_repoint_mode="add")
    assert lines(added, "beside cluster green") == {name: "trusts cluster blue beside cluster green" for name in OURS}
    for name in OURS:
        subject = ["system:serviceaccount:shop:" + name]
        assert trusted(fresh2, name) == {"green": subject, "blue": subject}
    for name, document in foreign.items():
        assert trust(fresh2, name) == document
    assert len(writes(fresh2)) == len(OURS)
