"""amazon.aws's iam_role module, unchanged, against the sandbox (only the env file's variables)."""

import json
import os
import subprocess
import sys

from irsa_sandbox.testing import unique

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: create
      amazon.aws.iam_role:
        name: "{{ role_name }}"
        assume_role_policy_document: "{{ trust | to_json }}"
        create_instance_profile: false
        state: present
      register: created
    - name: create again
      amazon.aws.iam_role:
        name: "{{ role_name }}"
        assume_role_policy_document: "{{ trust | to_json }}"
        create_instance_profile: false
        state: present
      register: again
    - name: report
      ansible.builtin.copy:
        dest: "{{ report }}"
        content: "{{ {'created': created.changed, 'again': again.changed, 'arn': created.iam_role.arn} | to_json }}"
    - name: check
      ansible.builtin.assert:
        that: [created is changed, again is not changed]
    - name: delete
      amazon.aws.iam_role:
        name: "{{ role_name }}"
        state: absent
        delete_instance_profile: false
      register: deleted
    - ansible.builtin.assert:
        that: [deleted is changed]
"""


def test_iam_role_module_creates_and_deletes(sandbox, tmp_path):
    name = unique("ansible")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "extra.json").write_text(json.dumps({"role_name": name, "trust": trust,
                                                     "report": str(tmp_path / "report.json")}))
    env = sandbox.subprocess_env()
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)  # amazon.aws comes with the ansible package
    env.update({"ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_LOCALHOST_WARNING": "false",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false", "ANSIBLE_NOCOLOR": "1"})
    sandbox.reset_log()
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    result = subprocess.run([playbook, "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml"),
                             "-e", f"@{tmp_path / 'extra.json'}"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == {"created": True, "again": False, "arn": f"arn:aws:iam::123456789012:role/{name}"}
    counts = sandbox.log()["counts"]
    assert counts.get("iam:CreateRole") == 1 and counts.get("iam:DeleteRole") == 1
    roles = [role["RoleName"] for role in sandbox.client("iam").list_roles()["Roles"]]
    assert name not in roles
