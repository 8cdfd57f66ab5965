"""playbooks/site.yml as AWX / Automation Controller runs a job template, against the sandbox.

ansible-runner gets a private data directory laid out as AWX lays it out: ``project/`` (the checkout a project sync
makes), ``inventory/hosts`` (the executable script AWX writes, one host per cluster with its variables),
``env/extravars`` (the job template's extra variables and AWX's ``awx_*`` ones), ``env/envvars`` (what the *Amazon
Web Services* credential type injects: the access key pair as environment variables) and ``env/settings``. The
collection comes from its built tarball, installed where an execution environment has it. The job runs with an
empty home directory and no KUBECONFIG: the role reaches the cluster in EKS mode with the AWS credential alone.
"""

import glob
import json
import os
import subprocess
import sys

import yaml
from irsa_sandbox.testing import unique
from playbook_runner import ROOT
from test_secrets import find_leaks

BIN = os.path.dirname(sys.executable)

INVENTORY_SCRIPT = """#! /usr/bin/env python3
# -*- coding: utf-8 -*-
print('''%s''')
"""


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, **kwargs)
    assert result.returncode == 0, " ".join(command) + "\n" + result.stdout[-4000:] + result.stderr[-4000:]
    return result


def _execution_environment_collections(tmp_path):
    """The collection as an execution environment holds it: its tarball built and installed."""
    build, installed = tmp_path / "build", tmp_path / "ee-collections"
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(build), ROOT])
    tarball = next(build.glob("eks-irsa-*.tar.gz"))
    # amazon.aws comes with the ansible package, as in the execution environment.
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--no-deps", "--force", "-p", str(installed), str(tarball)])
    return installed


def _project(private):
    """What a project sync checks out: the repository's files."""
    files = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
    project = private / "project"
    for name in filter(None, files.split("\0")):
        source = os.path.join(ROOT, name)
        if os.path.isfile(source):
            target = project / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(open(source, "rb").read())


def _write(path, text, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _events(private):
    paths = glob.glob(str(private / "artifacts" / "*" / "job_events" / "*.json"))
    events = [json.load(open(path, encoding="utf-8")) for path in paths]
    return sorted(events, key=lambda event: event["counter"])


def _event_line(event):
    data = event.get("event_data") or {}
    where = " ".join(part for part in (data.get("host"), data.get("task") or data.get("play")) if part)
    flags = "".join(flag for flag, key in ((" changed", "changed"), (" failed", "failed")) if data.get("res", {}).get(key))
    return "%4d %-28s %s%s" % (event["counter"], event["event"], where, flags)


def test_site_playbook_as_an_awx_job(sandbox, tmp_path):
    cluster = sandbox.cluster()
    role_name = unique("awx-job")
    bindings = [{"service_account": "awx-job-app", "namespace": "default", "role_name": role_name}]
    private = tmp_path / "job"
    _project(private)

    # One host per cluster, with its variables (the shape of playbooks/inventory/example.yml), as AWX's script prints it.
    inventory = {
        "all": {"hosts": [cluster["name"]]},
        "_meta": {"hostvars": {cluster["name"]: {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "irsa_cluster_name": cluster["name"],
            "irsa_region": sandbox.env["AWS_REGION"],
            "irsa_bindings": bindings,
        }}},
    }
    _write(private / "inventory" / "hosts", INVENTORY_SCRIPT % json.dumps(inventory), mode=0o700)
    # The survey's answers and AWX's own variables. The AWS endpoint is the sandbox's (the role's irsa_aws_endpoint_url).
    _write(private / "env" / "extravars", yaml.safe_dump({
        "irsa_verify_checks": ["static", "token", "pod"],
        "irsa_aws_endpoint_url": sandbox.env["AWS_ENDPOINT_URL"],
        "awx_job_id": 42, "tower_job_id": 42, "awx_job_template_name": "eks.irsa site",
        "awx_user_name": "admin", "awx_execution_node": "localhost",
    }))
    secret_key = sandbox.env["AWS_SECRET_ACCESS_KEY"]
    _write(private / "env" / "envvars", yaml.safe_dump({
        # The Amazon Web Services credential type's injectors.
        "AWS_ACCESS_KEY_ID": sandbox.env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": secret_key,
        # What AWX sets for every job.
        "ANSIBLE_COLLECTIONS_PATH": str(_execution_environment_collections(tmp_path)),
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "JOB_ID": "42",
    }))
    _write(private / "env" / "settings", yaml.safe_dump({"job_timeout": 600, "idle_timeout": 600}))

    home = tmp_path / "home"
    home.mkdir()
    # Nothing of this machine's: no kubeconfig, no AWS profile, no K8S_AUTH_*; PATH for ansible-playbook and python3.
    env = {"PATH": BIN + os.pathsep + "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "true", "AWS_EC2_METADATA_DISABLED": "true"}
    job = subprocess.run([os.path.join(BIN, "ansible-runner"), "run", str(private), "-p", "playbooks/site.yml",
                          "--ident", "42"], env=env, capture_output=True, text=True, timeout=900, check=False)

    events = _events(private)
    print("\nThe job's events (%d):" % len(events))
    for event in events:
        print(_event_line(event))
    artifacts = private / "artifacts" / "42"
    stdout = (artifacts / "stdout").read_text(encoding="utf-8")
    assert job.returncode == 0, job.stdout[-6000:] + job.stderr[-3000:]
    assert (artifacts / "status").read_text(encoding="utf-8") == "successful"
    assert (artifacts / "rc").read_text(encoding="utf-8") == "0"

    kinds = [event["event"] for event in events]
    assert kinds[0] == "playbook_on_start" and kinds[-1] == "playbook_on_stats"
    stats = events[-1]["event_data"]
    assert stats["failures"] == {} and stats["dark"] == {} and stats["changed"].get(cluster["name"], 0) > 0, stats
    assert "runner_on_failed" not in kinds and "runner_on_unreachable" not in kinds
    tasks = {event["event_data"].get("task") for event in events if event["event"] == "runner_on_ok"}
    assert any("verif" in (task or "").lower() for task in tasks), sorted(filter(None, tasks))
    account = sandbox.vars["aws_account_id"]
    summary = "default/awx-job-app -> arn:aws:iam::%s:role/%s: changed, verified" % (account, role_name)
    assert summary in stdout, stdout[-6000:]

    # What AWX shows of the job (its output and events) names no credential.
    texts = {"the job's stdout": stdout, "the job's events": json.dumps(events)}
    assert secret_key not in texts["the job's stdout"] and secret_key not in texts["the job's events"]
    assert find_leaks(sandbox.secrets(), texts) == []

    # The job really did the work: the role exists and trusts the ServiceAccount.
    trust = sandbox.client("iam").get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert "system:serviceaccount:default:awx-job-app" in json.dumps(trust)
