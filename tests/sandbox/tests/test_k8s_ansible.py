"""kubernetes.core's k8s and k8s_info modules against the sandbox's Kubernetes."""

import os
import subprocess
import sys

from irsa_sandbox.testing import unique

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/kubernetes.core.k8s:
      kubeconfig: "{{ kubeconfig }}"
  vars:
    role_arn: arn:aws:iam::123456789012:role/ansible-test
    service_account:
      apiVersion: v1
      kind: ServiceAccount
      metadata:
        name: app
        namespace: "{{ ns }}"
        annotations:
          eks.amazonaws.com/role-arn: "{{ role_arn }}"
  tasks:
    - name: Namespace
      kubernetes.core.k8s:
        api_version: v1
        kind: Namespace
        name: "{{ ns }}"

    - name: Create in check mode
      kubernetes.core.k8s:
        definition: "{{ service_account }}"
      check_mode: true
      register: check_create

    - name: Nothing was created
      kubernetes.core.k8s_info:
        kind: ServiceAccount
        namespace: "{{ ns }}"
        name: app
      register: absent

    - name: Create
      kubernetes.core.k8s:
        definition: "{{ service_account }}"
      register: create

    - name: Create again
      kubernetes.core.k8s:
        definition: "{{ service_account }}"
      register: create_again

    - name: Patch the audience in
      kubernetes.core.k8s:
        definition:
          apiVersion: v1
          kind: ServiceAccount
          metadata:
            name: app
            namespace: "{{ ns }}"
            annotations:
              eks.amazonaws.com/audience: sts.amazonaws.com
      register: patch

    - name: Patch again
      kubernetes.core.k8s:
        definition:
          apiVersion: v1
          kind: ServiceAccount
          metadata:
            name: app
            namespace: "{{ ns }}"
            annotations:
              eks.amazonaws.com/audience: sts.amazonaws.com
      register: patch_again

    - name: Server-side apply
      kubernetes.core.k8s:
        definition: "{{ service_account | combine({'metadata': {'labels': {'team': 'a'}}}, recursive=true) }}"
        apply: true
        server_side_apply:
          field_manager: ansible-test
      register: ssa

    - name: Read back
      kubernetes.core.k8s_info:
        kind: ServiceAccount
        namespace: "{{ ns }}"
        label_selectors:
          - team=a
      register: info

    - name: Delete
      kubernetes.core.k8s:
        state: absent
        kind: ServiceAccount
        namespace: "{{ ns }}"
        name: app
      register: delete

    - name: Delete again
      kubernetes.core.k8s:
        state: absent
        kind: ServiceAccount
        namespace: "{{ ns }}"
        name: app
      register: delete_again

    - name: Remove the namespace
      kubernetes.core.k8s:
        state: absent
        api_version: v1
        kind: Namespace
        name: "{{ ns }}"

    - name: Results
      ansible.builtin.assert:
        that:
          - check_create is changed
          - absent.resources == []
          - create is changed
          - create.result.metadata.annotations['eks.amazonaws.com/role-arn'] == role_arn
          - create_again is not changed
          - patch is changed
          - patch.result.metadata.annotations | length == 2
          - patch_again is not changed
          - ssa is changed
          - info.resources | length == 1
          - info.resources[0].metadata.labels.team == 'a'
          - info.resources[0].metadata.annotations['eks.amazonaws.com/audience'] == 'sts.amazonaws.com'
          - delete is changed
          - delete_again is not changed
"""


def test_kubernetes_core_modules(sandbox, tmp_path):
    playbook = tmp_path / "k8s.yml"
    playbook.write_text(PLAYBOOK)
    env = sandbox.subprocess_env()
    env.update(ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR="1")
    sandbox.reset_log()
    playbook_bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    result = subprocess.run(
        [playbook_bin, "-i", "localhost,", "-c", "local", str(playbook),
         "-e", f"kubeconfig={sandbox.env['KUBECONFIG']}", "-e", f"ns={unique('ansible')}"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "failed=0" in result.stdout
    creates = [c for c in sandbox.log()["calls"] if c["action"] == "create serviceaccounts"]
    # check mode is a server-side dry run: sent, answered 201, recorded as no write
    assert [(c["status"], c["write"]) for c in creates] == [(201, False), (201, True)]
