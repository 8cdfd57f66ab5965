"""Run ansible-playbook against a running sandbox, as a user who sourced its env file would."""

import os
import subprocess
import sys
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
TARGETS = os.path.join(ROOT, "tests", "integration", "targets")


def playbook_env(sandbox, extra=None):
    env = dict(os.environ)
    env.update(sandbox.env)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_ROLES_PATH=TARGETS,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
    )
    env.update(extra or {})
    return env


def write_inventory(directory):
    path = os.path.join(directory, "inventory.ini")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    return path


def run_playbook(sandbox, playbook, workdir, extra_vars=(), args=(), env=None, timeout=900, inventory=None):
    """Run ``playbook`` with the sandbox's vars.yml; return the CompletedProcess (stdout+stderr merged).

    ``inventory`` defaults to localhost with the virtualenv's Python.
    """
    command = [
        os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
        "-i",
        inventory or write_inventory(workdir),
        playbook,
        "-e",
        "@" + os.path.join(sandbox.state_dir, "vars.yml"),
        "-e",
        "resource_prefix=irsa-%s" % uuid.uuid4().hex[:8],
    ]
    for item in extra_vars:
        command += ["-e", item]
    command += list(args)
    return subprocess.run(
        command,
        cwd=workdir,
        env=playbook_env(sandbox, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
