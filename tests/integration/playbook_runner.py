"""Run ansible-playbook against a running sandbox, as a user who sourced its env file would."""

import json
import os
import signal
import subprocess
import sys
import uuid

import yaml

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


def playbook_command(sandbox, playbook, workdir, extra_vars=(), args=(), inventory=None):
    """The ansible-playbook command line for ``playbook`` with the sandbox's vars.yml."""
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
    return command + list(args)


def run_playbook(sandbox, playbook, workdir, extra_vars=(), args=(), env=None, timeout=900, inventory=None):
    """Run ``playbook`` with the sandbox's vars.yml; return the CompletedProcess (stdout+stderr merged).

    ``inventory`` defaults to localhost with the virtualenv's Python.
    """
    return subprocess.run(
        playbook_command(sandbox, playbook, workdir, extra_vars, args, inventory),
        cwd=workdir,
        env=playbook_env(sandbox, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_playbook(sandbox, playbook, workdir, extra_vars=(), args=(), env=None, inventory=None):
    """Start ``playbook`` like run_playbook, without waiting; stdout+stderr go to ``workdir``/<random>.out.

    The playbook runs in a session of its own, so that ``kill_process_tree`` can stop it without touching the test.
    """
    output = os.path.join(workdir, "playbook-%s.out" % uuid.uuid4().hex[:8])
    with open(output, "wb") as handle:
        process = subprocess.Popen(
            playbook_command(sandbox, playbook, workdir, extra_vars, args, inventory),
            cwd=workdir,
            env=playbook_env(sandbox, env),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.output_path = output
    return process


def read_output(process):
    with open(process.output_path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _children():
    """{parent pid: [child pids]} of every process, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after its last ")".
        fields = stat[stat.rfind(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def kill_process_tree(root):
    """SIGKILL ``root`` and every process below it, as a power cut or ``kill -9`` of a CI runner would.

    ansible-playbook's workers start sessions of their own (and modules run below them), so a process group is not
    enough: the tree is frozen with SIGSTOP from the top until no new process appears, then killed.
    """
    stopped = []
    while True:
        tree, pending = [], [root]
        children = _children()
        while pending:
            pid = pending.pop()
            tree.append(pid)
            pending.extend(children.get(pid, []))
        new = [pid for pid in tree if pid not in stopped]
        if not new:
            break
        for pid in new:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            stopped.append(pid)
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_module(sandbox, tmp_path, module, args, service, check=False):
    """Run ``module`` once with ``args`` (plus the sandbox's region) in check mode or not, with diff; return its
    result (``failed`` and ``msg`` when it failed) and the ``(action, write)`` calls it made to AWS ``service``."""
    result_file = tmp_path / ("result-%d.json" % len(list(tmp_path.glob("result-*.json"))))
    playbook = [{
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {"name": "the module", module: dict(args, region="{{ aws_region }}"), "register": "outcome",
             "ignore_errors": True, "check_mode": check, "diff": True},
            {"ansible.builtin.copy": {"content": "{{ outcome | to_json }}", "dest": str(result_file)}},
        ],
    }]
    path = tmp_path / "playbook.yml"
    path.write_text(yaml.safe_dump(playbook), encoding="utf-8")
    sandbox.reset_log()
    completed = run_playbook(sandbox, str(path), str(tmp_path))
    assert completed.returncode == 0, completed.stdout[-6000:]
    calls = [(call["action"], call["write"]) for call in sandbox.log()["calls"] if call["service"] == service]
    return json.loads(result_file.read_text(encoding="utf-8")), calls
