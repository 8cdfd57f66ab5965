"""Every integration target under tests/integration/targets, run as a role against the sandbox.

The targets keep ansible-test's layout (tasks/main.yml, aliases). A target whose aliases contain
``sandbox/clusters2`` runs on a sandbox with two clusters, ``blue`` and ``green``.
"""

import os

import pytest

from playbook_runner import TARGETS, run_playbook


def _targets():
    if not os.path.isdir(TARGETS):
        return []
    names = []
    for name in sorted(os.listdir(TARGETS)):
        if os.path.isfile(os.path.join(TARGETS, name, "tasks", "main.yml")):
            names.append(name)
    return names


def _aliases(name):
    path = os.path.join(TARGETS, name, "aliases")
    if not os.path.exists(path):
        return set()
    with open(path, encoding="utf-8") as handle:
        return {line.split("#", 1)[0].strip() for line in handle if line.split("#", 1)[0].strip()}


@pytest.mark.parametrize("target", _targets())
def test_target(target, request, tmp_path):
    fixture = "sandbox2" if "sandbox/clusters2" in _aliases(target) else "sandbox"
    sandbox = request.getfixturevalue(fixture)
    playbook = tmp_path / "target.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n    - role: %s\n" % target, encoding="utf-8"
    )
    result = run_playbook(sandbox, str(playbook), str(tmp_path))
    assert result.returncode == 0, "target %s failed:\n%s" % (target, result.stdout[-12000:])
