"""Side-by-side benchmark: the eks.irsa.irsa role (A) against the amazon.aws + kubernetes.core composition (B).

One sandbox, one run. For N bindings in (1, 10, 50), alternating A and B pair by pair, each on the
create path (fresh bindings) and the no-op path (the same run again), with at least three
repetitions. A is measured twice: with verification [static, token] and [static, token, pod]; B
always verifies with a pod, as users of the composition do (it has no other way).

Reported per N and path: median wall time, the A/B ratio taken pair by pair, API calls per binding
(reads and writes, AWS and Kubernetes, from the sandbox request log) and the peak memory of the
playbook's process tree, and which AWS actions and Kubernetes verb + resource those calls are.
After every create path of B, outside the timed section, eks.irsa.irsa_verify (static, token) must
verify each of B's bindings against the role it was meant to get, or the benchmark stops: the anchor
really does the same job.

The module-level view: the wall time of every task (and so of each module invocation) from the
callback in benchmarks/callback_plugins, and, for each of the collection's modules,
``python -X importtime`` of importing it with its heaviest imports.

Writes benchmarks/results/results.json, results.md and wall_time.png.

    make bench                      (or: .venv/bin/python benchmarks/run.py --sizes 1,10 --repetitions 3)
    make bench BENCH_ARGS='--sizes 1,10 --repetitions 1'
"""

import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "sandbox"))

from irsa_sandbox.testing import start_sandbox  # noqa: E402  pylint: disable=wrong-import-position

BIN = os.path.dirname(sys.executable)
RESULTS = os.path.join(ROOT, "benchmarks", "results")
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
TARGETS = {"create_ratio": 0.5, "noop_ratio": 0.4, "noop_calls_per_binding": 6}
VARIANTS = ("A", "A+pod", "B")
CALL_KEYS = ("aws_reads", "aws_writes", "k8s_reads", "k8s_writes")


def _tree_rss_kib(pid):
    """Resident memory of ``pid`` and all its descendants, in KiB (from /proc)."""
    total = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            with open("/proc/%d/status" % current, encoding="utf-8") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for task in os.listdir("/proc/%d/task" % current):
                with open("/proc/%d/task/%s/children" % (current, task), encoding="utf-8") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_playbook(sandbox, playbook, extra_vars, workdir):
    """Run one playbook; return its wall time, peak KiB, request-log summary and per-task times."""
    token = uuid.uuid4().hex[:8]
    vars_file = os.path.join(workdir, "vars-%s.yml" % token)
    task_times = os.path.join(workdir, "tasks-%s.json" % token)
    with open(vars_file, "w", encoding="utf-8") as handle:
        yaml.safe_dump(extra_vars, handle)
    env = dict(os.environ)
    env.update(sandbox.env)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        # Every variant carries the same (small) callback, so the module-level view costs each side alike.
        ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, "benchmarks", "callback_plugins"),
        ANSIBLE_CALLBACKS_ENABLED="bench_task_times",
        BENCH_TASK_TIMES=task_times,
        PATH=BIN + os.pathsep + env.get("PATH", ""),
    )
    command = [os.path.join(BIN, "ansible-playbook"), playbook, "-e", "@" + os.path.join(sandbox.state_dir, "vars.yml"),
               "-e", "@" + vars_file]
    sandbox.reset_log()
    peak = [0]
    started = time.monotonic()
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        def sample():
            while process.poll() is None:
                peak[0] = max(peak[0], _tree_rss_kib(process.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        output = process.communicate()[0]
        sampler.join()
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (os.path.basename(playbook), output[-6000:]))
    log = sandbox.log()
    with open(task_times, encoding="utf-8") as handle:
        tasks = json.load(handle)
    return {"seconds": seconds, "peak_kib": peak[0], "log": log, "tasks": tasks, "unattributed_calls": attribute_calls(log, tasks)}


def attribute_calls(log, tasks):
    """Give each task the calls the sandbox logged while it ran (same machine, same clock); return those outside every task."""
    outside = {}
    for task in tasks:
        task["calls"] = {}
    for call in log["calls"]:
        key = "%s:%s" % (call["service"], call["action"])
        owner = next((t for t in tasks if t["wall_start"] <= call["time"] <= t["wall_end"]), None)
        counts = owner["calls"] if owner else outside
        counts[key] = counts.get(key, 0) + 1
    return outside


def calls(log):
    """Reads and writes per service family from a request-log summary."""
    counted = dict.fromkeys(CALL_KEYS, 0)
    for call in log["calls"]:
        family = "k8s" if call["service"] == "kubernetes" else "aws"
        counted["%s_%s" % (family, "writes" if call["write"] else "reads")] += 1
    return counted


def bindings(prefix, size):
    return [{"service_account": "%s-%d" % (prefix, index), "namespace": "default", "role_name": "%s-%d" % (prefix, index)}
            for index in range(size)]


def variants(cluster, size, tag):
    """The playbooks compared, each with its own fresh bindings."""
    return {
        "A": (os.path.join(ROOT, "playbooks", "site.yml"),
              {"irsa_cluster_name": cluster, "irsa_bindings": bindings("a%s" % tag, size), "irsa_verify_checks": ["static", "token"],
               "irsa_k8s_auth": "kubeconfig", "irsa_kubeconfig": "{{ kubeconfig }}"}),
        "A+pod": (os.path.join(ROOT, "playbooks", "site.yml"),
                  {"irsa_cluster_name": cluster, "irsa_bindings": bindings("p%s" % tag, size),
                   "irsa_verify_checks": ["static", "token", "pod"],
                   "irsa_k8s_auth": "kubeconfig", "irsa_kubeconfig": "{{ kubeconfig }}"}),
        "B": (os.path.join(ROOT, "benchmarks", "anchor.yml"),
              {"bench_cluster_name": cluster, "bench_bindings": bindings("b%s" % tag, size), "bench_verify_pod": True}),
    }


def verify_anchor(sandbox, cluster, anchor_bindings, workdir):
    """eks.irsa.irsa_verify on the bindings B made (untimed); raise unless every one is verified."""
    account = sandbox.vars["aws_account_id"]
    out = os.path.join(workdir, "verify-%s.json" % uuid.uuid4().hex[:8])
    targets_ = [{"namespace": b["namespace"], "name": b["service_account"], "role_arn": "arn:aws:iam::%s:role/%s" % (account, b["role_name"])}
                for b in anchor_bindings]
    try:
        run_playbook(sandbox, os.path.join(ROOT, "benchmarks", "verify_anchor.yml"),
                     {"bench_cluster_name": cluster, "bench_verify_targets": targets_, "bench_verify_out": out}, workdir)
    except RuntimeError as error:
        raise SystemExit("B's bindings do not pass eks.irsa.irsa_verify: the anchor does not do the same job.\n%s" % error) from error
    with open(out, encoding="utf-8") as handle:
        answer = json.load(handle)
    verified = [r for r in answer["results"] if r["verified"]]
    if len(verified) != len(anchor_bindings) or not answer["verified"]:
        raise SystemExit("B's bindings: %d of %d verified by eks.irsa.irsa_verify:\n%s" % (
            len(verified), len(anchor_bindings), json.dumps([r for r in answer["results"] if not r["verified"]], indent=2)))
    return {"bindings": len(anchor_bindings), "verified": len(verified), "checks": ["static", "token"]}


def measure(sandbox, sizes, repetitions, workdir):
    cluster = sandbox.vars["irsa_sandbox_cluster"]
    rows, anchor_checks = [], []
    for size in sizes:
        for repetition in range(repetitions):
            tag = "%d%s" % (size, uuid.uuid4().hex[:4])
            plays = variants(cluster, size, tag)
            # Alternate the order so neither side always runs on a warmer machine.
            order = ["A", "B", "A+pod"] if repetition % 2 == 0 else ["B", "A+pod", "A"]
            for path in ("create", "noop"):
                for name in order:
                    playbook, extra = plays[name]
                    run = run_playbook(sandbox, playbook, extra, workdir)
                    row = {"variant": name, "size": size, "repetition": repetition, "path": path,
                           "seconds": round(run["seconds"], 3), "peak_rss_mib": round(run["peak_kib"] / 1024.0, 1)}
                    row.update(calls(run["log"]))
                    row["counts"] = run["log"]["counts"]
                    row["write_actions"] = sorted({"%s:%s" % (c["service"], c["action"]) for c in run["log"]["calls"] if c["write"]})
                    row["tasks"] = run["tasks"]
                    row["unattributed_calls"] = run["unattributed_calls"]
                    rows.append(row)
                    print("N=%-3d %-6s %-5s %7.2f s  aws r/w %d/%d  k8s r/w %d/%d" % (
                        size, path, name, run["seconds"], row["aws_reads"], row["aws_writes"], row["k8s_reads"], row["k8s_writes"]), flush=True)
                    if name == "B" and path == "create":
                        checked = verify_anchor(sandbox, cluster, extra["bench_bindings"], workdir)
                        checked.update(size=size, repetition=repetition)
                        anchor_checks.append(checked)
                        print("N=%-3d B's bindings pass eks.irsa.irsa_verify: %d/%d (untimed)" % (
                            size, checked["verified"], checked["bindings"]), flush=True)
    return rows, anchor_checks


def _median(values, digits=2):
    values = list(values)
    return round(statistics.median(values), digits) if values else None


def summarise(rows, sizes):
    table = []
    for size in sizes:
        for path in ("create", "noop"):
            picked = [r for r in rows if r["size"] == size and r["path"] == path]
            entry = {"size": size, "path": path}
            for name in VARIANTS:
                mine = [r for r in picked if r["variant"] == name]
                actions = sorted({key for r in mine for key in r["counts"]})
                entry[name] = {
                    "median_seconds": _median(r["seconds"] for r in mine),
                    "calls_per_binding": {key: round(statistics.median(r[key] for r in mine) / size, 2) for key in CALL_KEYS},
                    # Where the calls go: "<service>:<action>" (AWS) or "kubernetes:<verb> <resource>".
                    "calls_per_binding_by_action": {key: round(statistics.median(r["counts"].get(key, 0) for r in mine) / size, 2)
                                                    for key in actions},
                    "peak_rss_mib": max(r["peak_rss_mib"] for r in mine),
                }
            for name in ("A", "A+pod"):
                ratios = []
                for repetition in sorted({r["repetition"] for r in picked}):
                    a = [r["seconds"] for r in picked if r["variant"] == name and r["repetition"] == repetition]
                    b = [r["seconds"] for r in picked if r["variant"] == "B" and r["repetition"] == repetition]
                    if a and b:
                        ratios.append(a[0] / b[0])
                entry[name]["ratio_to_B"] = round(statistics.median(ratios), 2)
            table.append(entry)
    return table


def module_view(rows, sizes):
    """Per task (so per module) of every variant, N and path: median total seconds, invocations, seconds per invocation."""
    view = []
    for name in VARIANTS:
        for size in sizes:
            for path in ("create", "noop"):
                mine = [r for r in rows if r["variant"] == name and r["size"] == size and r["path"] == path]
                order = []
                for row in mine:
                    order.extend(t["name"] for t in row["tasks"] if t["name"] not in order)
                tasks = []
                for task_name in order:
                    runs = [t for row in mine for t in row["tasks"] if t["name"] == task_name]
                    invoked = [t for t in runs if t["invocations"]]
                    tasks.append({
                        "task": task_name,
                        "action": runs[0]["action"],
                        "invocations": _median((t["invocations"] for t in runs), 1),
                        "total_seconds": _median((t["seconds"] for t in runs), 3),
                        "seconds_per_invocation": _median((t["seconds"] / t["invocations"] for t in invoked), 3),
                        # Loop items after the first, which carry no one-time cost (module payload, connection).
                        "median_item_seconds": _median((d for t in invoked for d in t["item_seconds"][1:]), 3),
                        "calls_per_binding_by_action": {
                            key: round(statistics.median(t["calls"].get(key, 0) for t in runs) / size, 2)
                            for key in sorted({key for t in runs for key in t["calls"]})},
                    })
                outside = _median((row["seconds"] - sum(t["seconds"] for t in row["tasks"]) for row in mine), 3)
                view.append({"variant": name, "size": size, "path": path, "tasks": tasks,
                             "outside_tasks_seconds": outside,
                             "wall_seconds": _median((row["seconds"] for row in mine), 3)})
    return view


IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)\s*$")
MARK = "--bench-import-starts--"


def _importtime_once(module):
    code = "import sys; sys.path.insert(0, %r); sys.stderr.write(%r); import %s" % (COLLECTIONS, MARK + "\n", module)
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError("importing %s failed:\n%s" % (module, done.stderr[-4000:]))
    entries = []
    for line in done.stderr.split(MARK + "\n", 1)[1].splitlines():
        match = IMPORTTIME.match(line)
        if match:
            entries.append({"name": match.group(4), "self_us": int(match.group(1)), "cumulative_us": int(match.group(2)),
                            "depth": (len(match.group(3)) - 1) // 2})
    return entries


def import_times(repetitions, top=8):
    """``python -X importtime`` of each module of plugins/modules, as the module's own Python process imports it.

    One warm-up (bytecode caches), then ``repetitions`` runs; medians per import. Only what the
    import statement itself loads is counted (not the interpreter's start-up).
    """
    report = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        if name == "__init__":
            continue
        module = "ansible_collections.eks.irsa.plugins.modules.%s" % name
        _importtime_once(module)
        runs = [_importtime_once(module) for dummy in range(max(repetitions, 3))]
        totals = [sum(e["cumulative_us"] for e in run if e["depth"] == 0) for run in runs]
        by_name = {}
        for run in runs:
            for entry in run:
                by_name.setdefault(entry["name"], []).append(entry)
        parents = {module.rsplit(".", count)[0] for count in range(module.count(".") + 1)}
        imports = []
        for import_name, entries in by_name.items():
            if import_name in parents:
                continue
            imports.append({"import": import_name, "depth": entries[0]["depth"],
                            "cumulative_ms": round(statistics.median(e["cumulative_us"] for e in entries) / 1000.0, 1),
                            "self_ms": round(statistics.median(e["self_us"] for e in entries) / 1000.0, 1)})
        heaviest = sorted(imports, key=lambda item: -item["cumulative_ms"])
        report[name] = {"module": module, "total_ms": round(statistics.median(totals) / 1000.0, 1),
                        "modules_imported": len(runs[0]), "heaviest": heaviest[:top],
                        # Cumulative times nest (a chain of parents); self time shows which modules themselves cost.
                        "heaviest_self": sorted(imports, key=lambda item: -item["self_ms"])[:top]}
        print("import %-22s %7.1f ms  (%d modules; heaviest: %s)" % (
            name, report[name]["total_ms"], report[name]["modules_imported"],
            ", ".join("%s %.0f" % (h["import"], h["cumulative_ms"]) for h in heaviest[:3])), flush=True)
    return report


def targets(table, anchor_checks):
    verdicts = []
    for entry in table:
        calls_a = entry["A"]["calls_per_binding"]
        if entry["path"] == "noop":
            total = sum(calls_a.values())
            writes = calls_a["aws_writes"] + calls_a["k8s_writes"]
            verdicts.append(("N=%d no-op: zero writes" % entry["size"], writes == 0))
            verdicts.append(("N=%d no-op: <= %d API calls per binding (%.1f)" % (entry["size"], TARGETS["noop_calls_per_binding"], total),
                             total <= TARGETS["noop_calls_per_binding"]))
        if entry["size"] >= 10:
            limit = TARGETS["create_ratio"] if entry["path"] == "create" else TARGETS["noop_ratio"]
            for variant in ("A", "A+pod"):
                ratio = entry[variant]["ratio_to_B"]
                verdicts.append(("N=%d %s: %s/B <= %.1f (%.2f)" % (entry["size"], entry["path"], variant, limit, ratio), ratio <= limit))
    checked = sum(c["bindings"] for c in anchor_checks)
    verified = sum(c["verified"] for c in anchor_checks)
    verdicts.append(("B's bindings pass eks.irsa.irsa_verify [static, token] (%d/%d, after %d create runs)" % (verified, checked, len(anchor_checks)),
                     bool(anchor_checks) and verified == checked))
    return verdicts


def _calls_by_action_table(table, variant, path, writes):
    entries = [e for e in table if e["path"] == path]
    actions = sorted({key for e in entries for key in e[variant]["calls_per_binding_by_action"]})
    lines = ["| call | %s |" % " | ".join("N=%d" % e["size"] for e in entries), "|---|%s" % ("---|" * len(entries))]
    for action in actions:
        lines.append("| %s%s | %s |" % (action, " (write)" if action in writes else "",
                                        " | ".join("%g" % e[variant]["calls_per_binding_by_action"].get(action, 0) for e in entries)))
    lines.append("| **total** | %s |" % " | ".join("%g" % round(sum(e[variant]["calls_per_binding"].values()), 2) for e in entries))
    return lines


def markdown(table, verdicts, anchor_checks, view, imports, writes, focus):
    lines = ["| N | path | A s | A+pod s | B s | A/B | A+pod/B | A calls/binding (AWS r/w, k8s r/w) | B calls/binding | peak MiB A / B |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for e in table:
        ca, cb = e["A"]["calls_per_binding"], e["B"]["calls_per_binding"]
        lines.append("| %d | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %s/%s, %s/%s | %s/%s, %s/%s | %s / %s |" % (
            e["size"], e["path"], e["A"]["median_seconds"], e["A+pod"]["median_seconds"], e["B"]["median_seconds"],
            e["A"]["ratio_to_B"], e["A+pod"]["ratio_to_B"],
            ca["aws_reads"], ca["aws_writes"], ca["k8s_reads"], ca["k8s_writes"],
            cb["aws_reads"], cb["aws_writes"], cb["k8s_reads"], cb["k8s_writes"],
            e["A"]["peak_rss_mib"], e["B"]["peak_rss_mib"]))
    lines.append("")
    lines.extend("- %s: %s" % (text, "met" if ok else "NOT met") for text, ok in verdicts)

    lines += ["", "## B does the same job", "",
              "After each create path of B, untimed: eks.irsa.irsa_verify (checks static, token) against the role each binding was meant to get.",
              "", "| N | repetition | B's bindings | verified |", "|---|---|---|---|"]
    lines.extend("| %d | %d | %d | %d |" % (c["size"], c["repetition"], c["bindings"], c["verified"]) for c in anchor_checks)

    lines += ["", "## Where A's calls go, per binding", "",
              "Median calls per binding from the sandbox request log: AWS `service:Action`, Kubernetes `kubernetes:verb resource`.", "",
              "### A, no-op path (second run)", ""]
    lines += _calls_by_action_table(table, "A", "noop", writes)
    lines += ["", "### A, create path", ""]
    lines += _calls_by_action_table(table, "A", "create", writes)
    for path in ("noop", "create"):
        lines += ["", "### A, %s path, N=%d, by task" % ("no-op" if path == "noop" else path, focus), "",
                  "Calls attributed to the task during which the sandbox logged them.", "", "| task | module | call | per binding |", "|---|---|---|---|"]
        for entry in view:
            if entry["variant"] == "A" and entry["size"] == focus and entry["path"] == path:
                for task in entry["tasks"]:
                    for action, count in task["calls_per_binding_by_action"].items():
                        lines.append("| %s | %s | %s%s | %g |" % (
                            _task_name(task["task"]), task["action"], action, " (write)" if action in writes else "", count))

    lines += ["", "## Module-level view (N=%d)" % focus, "",
              "Median wall time per task from benchmarks/callback_plugins/bench_task_times.py. A task with a loop invokes its module once per",
              "item; *per call* is the task's time divided by its invocations, *item* the median of a loop's items after the first.",
              "*Outside tasks* is ansible-playbook's start-up, parsing and exit. Tasks skipped on both paths are left out."]
    for name in VARIANTS:
        by_path = {v["path"]: v for v in view if v["variant"] == name and v["size"] == focus}
        if not by_path:
            continue
        lines += ["", "### %s" % name, "",
                  "| task | module | calls | create s | create s/call | create s/item | no-op s | no-op s/call | no-op s/item |",
                  "|---|---|---|---|---|---|---|---|---|"]
        noop_tasks = {t["task"]: t for t in by_path["noop"]["tasks"]}
        for task in by_path["create"]["tasks"]:
            other = noop_tasks.get(task["task"], {})
            if not task["invocations"] and not other.get("invocations"):
                continue  # skipped on both paths (the role's state=absent tasks); still in results.json
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                _task_name(task["task"]), task["action"], _fmt(task["invocations"]), _fmt(task["total_seconds"]), _fmt(task["seconds_per_invocation"]),
                _fmt(task["median_item_seconds"]), _fmt(other.get("total_seconds")), _fmt(other.get("seconds_per_invocation")),
                _fmt(other.get("median_item_seconds"))))
        lines.append("| *outside tasks* | | | %s | | | %s | | |" % (
            _fmt(by_path["create"]["outside_tasks_seconds"]), _fmt(by_path["noop"]["outside_tasks_seconds"])))
        lines.append("| **wall** | | | %s | | | %s | | |" % (_fmt(by_path["create"]["wall_seconds"]), _fmt(by_path["noop"]["wall_seconds"])))

    lines += ["", "## Import time of each module", "",
              "`python -X importtime -c 'import ansible_collections.eks.irsa.plugins.modules.<name>'` (median of runs after a warm-up;",
              "only what the import loads, not the interpreter's start-up). Ansible pays this in every module invocation.", "",
              "| module | import ms | modules loaded | heaviest imports, cumulative ms (depth) | heaviest by self ms |", "|---|---|---|---|---|"]
    for name, entry in imports.items():
        lines.append("| %s | %.1f | %d | %s | %s |" % (
            name, entry["total_ms"], entry["modules_imported"],
            "<br>".join("%s %.1f (%d)" % (h["import"], h["cumulative_ms"], h["depth"]) for h in entry["heaviest"]),
            "<br>".join("%s %.1f" % (h["import"], h["self_ms"]) for h in entry["heaviest_self"])))
    return "\n".join(lines) + "\n"


def _task_name(name, limit=70):
    name = name.split(" : ", 1)[-1]
    return name if len(name) <= limit else name[:limit - 3] + "..."


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return "%d" % value
    return "%g" % value


def plot(table, path):
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, run_path in zip(axes, ("create", "noop")):
        entries = [e for e in table if e["path"] == run_path]
        sizes = [e["size"] for e in entries]
        for name in VARIANTS:
            axis.plot(sizes, [e[name]["median_seconds"] for e in entries], marker="o", label=name)
        axis.set_title("%s path" % run_path)
        axis.set_xlabel("bindings")
        axis.set_ylabel("median wall time (s)")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    os.makedirs(RESULTS, exist_ok=True)
    # Before the sandbox: a module that cannot be imported stops the run early, and the machine is quieter.
    imports = import_times(args.repetitions)
    with tempfile.TemporaryDirectory() as workdir:
        with start_sandbox(os.path.join(workdir, "sandbox"), extra_args=("--create-oidc-provider",)) as sandbox:
            rows, anchor_checks = measure(sandbox, sizes, args.repetitions, workdir)
    table = summarise(rows, sizes)
    view = module_view(rows, sizes)
    verdicts = targets(table, anchor_checks)
    writes = sorted({action for row in rows for action in row["write_actions"]})
    focus = 10 if 10 in sizes else max(sizes)
    with open(os.path.join(RESULTS, "results.json"), "w", encoding="utf-8") as handle:
        json.dump({"rows": rows, "table": table, "targets": [{"target": t, "met": ok} for t, ok in verdicts],
                   "anchor_verified": anchor_checks, "write_actions": writes, "module_view": view, "import_times": imports},
                  handle, indent=2)
    report = markdown(table, verdicts, anchor_checks, view, imports, writes, focus)
    with open(os.path.join(RESULTS, "results.md"), "w", encoding="utf-8") as handle:
        handle.write(report)
    plot(table, os.path.join(RESULTS, "wall_time.png"))
    print(report)


if __name__ == "__main__":
    main()
