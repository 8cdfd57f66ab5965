"""irsa_verify as a process: no token or credential in its most verbose output, and no pod left when it is
interrupted while its verification pod runs."""

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest

from playbook_runner import playbook_env, write_inventory

SETUP = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/eks.irsa.irsa:
      endpoint_url: "{{ aws_endpoint_url }}"
      region: "{{ aws_region }}"
      access_key: "{{ aws_access_key }}"
      secret_key: "{{ aws_secret_key }}"
  tasks:
    - eks.irsa.eks_oidc_provider:
        issuer_url: "{{ irsa_sandbox_clusters[0].issuer_url }}"
    - eks.irsa.irsa_role:
        name: "{{ name }}"
        cluster_name: "{{ irsa_sandbox_cluster }}"
        service_accounts: ["{{ name }}:app"]
      register: role
    - kubernetes.core.k8s:
        kubeconfig: "{{ kubeconfig }}"
        definition:
          - {apiVersion: v1, kind: Namespace, metadata: {name: "{{ name }}"}}
          - apiVersion: v1
            kind: ServiceAccount
            metadata:
              name: app
              namespace: "{{ name }}"
              annotations: {eks.amazonaws.com/role-arn: "{{ role.role.arn }}"}
"""

VERIFY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - eks.irsa.irsa_verify:
        endpoint_url: "{{ aws_endpoint_url }}"
        region: "{{ aws_region }}"
        access_key: "{{ aws_access_key }}"
        secret_key: "{{ aws_secret_key }}"
        cluster_name: "{{ irsa_sandbox_cluster }}"
        kubeconfig: "{{ kubeconfig }}"
        namespace: "{{ name }}"
        service_account: app
        checks: "{{ checks }}"
        pod_command: "{{ pod_command | default(omit) }}"
"""

# A ServiceAccount token (a JWT), STS temporary credentials.
SECRET_PATTERNS = [
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    re.compile(r"\bASIA[A-Z0-9]{16}\b"),
    re.compile(r"SecretAccessKey|SessionToken|WebIdentityToken"),
]


def _command(sandbox, workdir, playbook, name, extra=()):
    path = os.path.join(workdir, "playbook.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(playbook)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", write_inventory(workdir), path,
               "-e", "@" + os.path.join(sandbox.state_dir, "vars.yml"), "-e", "name=" + name]
    return command + list(extra)


def _run(sandbox, workdir, playbook, name, extra=()):
    result = subprocess.run(_command(sandbox, workdir, playbook, name, extra), cwd=workdir, env=playbook_env(sandbox),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    return result


def _verification_pods(sandbox, namespace):
    kubectl = ["kubectl", "--kubeconfig", sandbox.vars["kubeconfig"], "get", "pods", "-n", namespace,
               "-l", "app.kubernetes.io/managed-by=eks.irsa", "-o", "name"]
    return subprocess.run(kubectl, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True).stdout.split()


@pytest.fixture(scope="module")
def binding(sandbox, tmp_path_factory):
    name = "verify-" + uuid.uuid4().hex[:8]
    workdir = str(tmp_path_factory.mktemp("setup"))
    result = _run(sandbox, workdir, SETUP, name)
    assert result.returncode == 0, result.stdout[-6000:]
    return name


def test_no_secret_in_verbose_output(sandbox, binding, tmp_path):
    result = _run(sandbox, str(tmp_path), VERIFY, binding, ["-vvvv", "-e", '{"checks": ["static", "token", "pod"]}'],)
    assert result.returncode == 0, result.stdout[-6000:]
    assert '"verified": true' in result.stdout
    assert ":assumed-role/" + binding + "/" in result.stdout
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(result.stdout), pattern.pattern


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_leaves_no_pod(sandbox, binding, tmp_path, signum):
    # The sandbox's kubelet runs "sleep": the pod keeps running until the module is interrupted.
    command = _command(sandbox, str(tmp_path), VERIFY, binding,
                       ["-e", '{"checks": ["pod"], "pod_command": ["sleep", "600"]}'])
    process = subprocess.Popen(command, cwd=str(tmp_path), env=playbook_env(sandbox), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _verification_pods(sandbox, binding):
            assert process.poll() is None, process.stdout.read()[-6000:]
            assert time.monotonic() < deadline, "the verification pod never appeared"
            time.sleep(0.5)
        # Ctrl-C sends SIGINT to the whole process group; a CI runner that cancels a job, SIGTERM.
        os.killpg(process.pid, signum)
        output, _unused = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert _verification_pods(sandbox, binding) == [], output[-6000:]
