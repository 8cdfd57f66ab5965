"""Side-by-side benchmark: the eks.irsa.irsa role (A) against the amazon.aws + kubernetes.core composition (B).

One sandbox, one run. A runs at N = 1, 10, 50 and 200 bindings, B (the anchor) at N = 1, 10 and 50
only: it takes seconds per binding, so N = 200 would take far too long. At each N, alternating the
variants measured there, each on the create path (fresh bindings) and the no-op path (the same run
again), with at least three repetitions. A is measured twice: with verification [static, token] and
[static, token, pod] (A+pod, at the anchor's sizes unless --pod-sizes says otherwise: its pods run the
AWS CLI on the machine that runs Ansible); B always verifies with a pod, as users of the composition do
(it has no other way). Ratios to B are given only where B was measured.

Reported per N and path: median wall time, the A/B ratio taken pair by pair, how many times the
collection's modules were started per playbook run (one role run), API calls per binding (reads and
writes, AWS and Kubernetes, from the sandbox request log), the peak memory of the playbook's process
tree, and which AWS actions and Kubernetes verb + resource those calls are; then the targets (see
TARGETS), each met or not with its figure. After every create path of B, outside the timed section,
eks.irsa.irsa_verify (static, token) must verify each of B's bindings against the role it was meant
to get, or the benchmark stops: the anchor really does the same job.

The module-level view: the wall time of every task (and so of each module invocation) from the
callback in benchmarks/callback_plugins, and, for each of the collection's modules,
``python -X importtime`` of importing it with its heaviest imports.

Writes benchmarks/results/results.json, results.md and growth.png (wall time, API calls per binding
and module starts against N).

    make bench
    make bench BENCH_ARGS='--sizes 1,10 --anchor-sizes 1,10 --repetitions 1'    (a quick look)
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
VARIANTS = ("A", "A+pod", "B")
PATHS = ("create", "noop")
CALL_KEYS = ("aws_reads", "aws_writes", "k8s_reads", "k8s_writes")
# The targets of one module start per step of the role, judged on the medians of one run.
TARGETS = {
    "module_starts_per_role_run": 6,
    # N at which the ratios to B and the no-op call budget are judged, and the ratio limits per variant and path.
    "ratio_size": 50,
    "ratio": {("A", "noop"): 0.10, ("A", "create"): 0.12, ("A+pod", "noop"): 0.25, ("A+pod", "create"): 0.25},
    "noop_calls_per_binding": 2.0,
    # N at which A's growth and memory are judged, against its no-op time at ratio_size.
    "large_size": 200,
    "large_noop_growth": 1.5,
    "large_peak_rss_mib": 300,
}
# The collection's modules (each task of these actions starts one); set_fact, debug, fail, include_* are not modules.
COLLECTION_MODULES = frozenset(
    "eks.irsa." + os.path.splitext(os.path.basename(path))[0]
    for path in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")) if not path.endswith("__init__.py"))
# Actions that run on the controller without starting a module, for counting the modules any playbook (B too) starts.
CONTROLLER_ACTIONS = frozenset("ansible.builtin." + name for name in (
    "set_fact", "debug", "fail", "assert", "include_tasks", "import_tasks", "include_role", "import_role",
    "include_vars", "meta", "add_host", "group_by", "set_stats", "pause", "validate_argument_spec"))


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


def module_starts(tasks):
    """Module starts of one playbook run, from the callback's invocations per task (loop items and retries included).

    ``module_starts``: the collection's modules (what the target counts); ``module_starts_any``: any module,
    the collection's or another's (for B); ``module_starts_by_module``: the collection's, per module.
    """
    ours, every, by_module = 0, 0, {}
    for task in tasks:
        action = task.get("resolved_action") or task["action"]
        if action in CONTROLLER_ACTIONS:
            continue
        every += task["invocations"]
        if action in COLLECTION_MODULES:
            ours += task["invocations"]
            by_module[action] = by_module.get(action, 0) + task["invocations"]
    return {"module_starts": ours, "module_starts_any": every, "module_starts_by_module": by_module}


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
                   # A pod for every binding on every run, unchanged or not, as B runs one.
                   "irsa_verify_checks": ["static", "token", "pod"], "irsa_verify_unchanged_checks": ["static", "token", "pod"],
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


def measure(sandbox, plan, repetitions, workdir):
    """Run every variant of ``plan`` ({N: variants measured at N}) on both paths; return the rows and B's proofs."""
    cluster = sandbox.vars["irsa_sandbox_cluster"]
    rows, anchor_checks = [], []
    for size, measured in plan.items():
        for repetition in range(repetitions):
            tag = "%d%s" % (size, uuid.uuid4().hex[:4])
            plays = variants(cluster, size, tag)
            # Alternate the order so neither side always runs on a warmer machine.
            order = [name for name in (["A", "B", "A+pod"] if repetition % 2 == 0 else ["B", "A+pod", "A"]) if name in measured]
            for path in PATHS:
                for name in order:
                    playbook, extra = plays[name]
                    run = run_playbook(sandbox, playbook, extra, workdir)
                    row = {"variant": name, "size": size, "repetition": repetition, "path": path,
                           "seconds": round(run["seconds"], 3), "peak_rss_mib": round(run["peak_kib"] / 1024.0, 1)}
                    row.update(calls(run["log"]))
                    row.update(module_starts(run["tasks"]))
                    row["counts"] = run["log"]["counts"]
                    row["write_actions"] = sorted({"%s:%s" % (c["service"], c["action"]) for c in run["log"]["calls"] if c["write"]})
                    row["tasks"] = run["tasks"]
                    row["unattributed_calls"] = run["unattributed_calls"]
                    rows.append(row)
                    print("N=%-3d %-6s %-5s %7.2f s  aws r/w %d/%d  k8s r/w %d/%d  module starts %d (eks.irsa) %d (any)" % (
                        size, path, name, run["seconds"], row["aws_reads"], row["aws_writes"], row["k8s_reads"], row["k8s_writes"],
                        row["module_starts"], row["module_starts_any"]), flush=True)
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


def summarise(rows, plan):
    table = []
    for size, measured in plan.items():
        for path in PATHS:
            picked = [r for r in rows if r["size"] == size and r["path"] == path]
            entry = {"size": size, "path": path}
            for name in measured:
                mine = [r for r in picked if r["variant"] == name]
                actions = sorted({key for r in mine for key in r["counts"]})
                modules = sorted({module for r in mine for module in r["module_starts_by_module"]})
                entry[name] = {
                    "runs": len(mine),
                    "median_seconds": _median(r["seconds"] for r in mine),
                    "calls_per_binding": {key: round(statistics.median(r[key] for r in mine) / size, 2) for key in CALL_KEYS},
                    "calls_per_binding_total": round(statistics.median(sum(r[key] for key in CALL_KEYS) for r in mine) / size, 2),
                    # The most write calls of any repetition: one write in one repetition is not a no-op.
                    "most_writes": max(r["aws_writes"] + r["k8s_writes"] for r in mine),
                    # Where the calls go: "<service>:<action>" (AWS) or "kubernetes:<verb> <resource>".
                    "calls_per_binding_by_action": {key: round(statistics.median(r["counts"].get(key, 0) for r in mine) / size, 2)
                                                    for key in actions},
                    "module_starts": _median((r["module_starts"] for r in mine), 1),
                    "module_starts_any": _median((r["module_starts_any"] for r in mine), 1),
                    "module_starts_by_module": {module: _median((r["module_starts_by_module"].get(module, 0) for r in mine), 1)
                                                for module in modules},
                    "peak_rss_mib": max(r["peak_rss_mib"] for r in mine),
                }
            for name in ("A", "A+pod"):
                if name not in measured or "B" not in measured:
                    continue
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
            for path in PATHS:
                mine = [r for r in rows if r["variant"] == name and r["size"] == size and r["path"] == path]
                if not mine:
                    continue
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


MET, NOT_MET, NOT_MEASURED = "met", "NOT met", "not measured"


def _path_label(path):
    return "no-op" if path == "noop" else path


def _judge(ok):
    return MET if ok else NOT_MET


def _measured(table, size, path, variant):
    """The summary of ``variant`` at N = ``size`` on ``path``, or None when it was not measured."""
    return next((e[variant] for e in table if e["size"] == size and e["path"] == path and variant in e), None)


def targets(table, anchor_checks):
    """TARGETS as (what, figure, verdict); the verdict is computed from the figures, never assumed."""
    verdicts = []
    limit = TARGETS["module_starts_per_role_run"]
    for variant in ("A", "A+pod"):
        for path in PATHS:
            starts = [(e["size"], e[variant]["module_starts"]) for e in table if e["path"] == path and variant in e]
            for size, count in starts:
                verdicts.append(("N=%d %s: %s starts the collection's modules <= %d times per role run" % (size, _path_label(path), variant, limit),
                                 _fmt(count), _judge(count <= limit)))
            figure = ", ".join("N=%d: %s" % (size, _fmt(count)) for size, count in starts) or "-"
            if len(starts) < 2:
                verdicts.append(("%s %s: module starts the same at every N" % (variant, _path_label(path)), figure + " (needs two sizes)",
                                 NOT_MEASURED))
            else:
                verdicts.append(("%s %s: module starts the same at every N" % (variant, _path_label(path)), figure,
                                 _judge(len({count for dummy, count in starts}) == 1)))

    size = TARGETS["ratio_size"]
    for (variant, path), limit in TARGETS["ratio"].items():
        text = "N=%d %s: %s/B <= %.2f" % (size, _path_label(path), variant, limit)
        mine = _measured(table, size, path, variant)
        if mine is None or "ratio_to_B" not in mine:
            verdicts.append((text, "-", NOT_MEASURED))
        else:
            verdicts.append((text, "%.2f" % mine["ratio_to_B"], _judge(mine["ratio_to_B"] <= limit)))

    noop = _measured(table, size, "noop", "A")
    text = "N=%d no-op: A's API calls per binding (AWS and Kubernetes) <= %.1f" % (size, TARGETS["noop_calls_per_binding"])
    verdicts.append((text, "-", NOT_MEASURED) if noop is None else
                    (text, "%g" % noop["calls_per_binding_total"], _judge(noop["calls_per_binding_total"] <= TARGETS["noop_calls_per_binding"])))
    text = "N=%d no-op: A makes 0 writes (most in any repetition)" % size
    verdicts.append((text, "-", NOT_MEASURED) if noop is None else (text, "%d" % noop["most_writes"], _judge(noop["most_writes"] == 0)))

    large = TARGETS["large_size"]
    large_noop = _measured(table, large, "noop", "A")
    text = "N=%d no-op: A's wall time <= %g x its N=%d no-op time" % (large, TARGETS["large_noop_growth"], size)
    if large_noop is None or noop is None:
        verdicts.append((text, "-", NOT_MEASURED))
    else:
        growth = large_noop["median_seconds"] / noop["median_seconds"]
        verdicts.append((text, "%.2f s / %.2f s = %.2f x" % (large_noop["median_seconds"], noop["median_seconds"], growth),
                         _judge(growth <= TARGETS["large_noop_growth"])))
    for path in ("noop", "create"):
        mine = _measured(table, large, path, "A")
        text = "N=%d %s: A's peak RSS <= %d MiB (highest of its runs)" % (large, _path_label(path), TARGETS["large_peak_rss_mib"])
        verdicts.append((text, "-", NOT_MEASURED) if mine is None else
                        (text, "%g MiB" % mine["peak_rss_mib"], _judge(mine["peak_rss_mib"] <= TARGETS["large_peak_rss_mib"])))

    checked = sum(c["bindings"] for c in anchor_checks)
    verified = sum(c["verified"] for c in anchor_checks)
    verdicts.append(("B's bindings pass eks.irsa.irsa_verify [static, token]", "%d/%d, after %d create runs" % (verified, checked, len(anchor_checks)),
                     _judge(verified == checked) if anchor_checks else NOT_MEASURED))
    return verdicts


def _calls_by_action_table(table, variant, path, writes):
    entries = [e for e in table if e["path"] == path and variant in e]
    actions = sorted({key for e in entries for key in e[variant]["calls_per_binding_by_action"]})
    lines = ["| call | %s |" % " | ".join("N=%d" % e["size"] for e in entries), "|---|%s" % ("---|" * len(entries))]
    for action in actions:
        lines.append("| %s%s | %s |" % (action, " (write)" if action in writes else "",
                                        " | ".join("%g" % e[variant]["calls_per_binding_by_action"].get(action, 0) for e in entries)))
    lines.append("| **total** | %s |" % " | ".join("%g" % e[variant]["calls_per_binding_total"] for e in entries))
    return lines


def _cell(entry, variant, key, pattern="%.2f"):
    value = entry.get(variant, {}).get(key)
    return "-" if value is None else pattern % value


def _calls_cell(entry, variant):
    if variant not in entry:
        return "-"
    counted = entry[variant]["calls_per_binding"]
    return "%s/%s, %s/%s" % (counted["aws_reads"], counted["aws_writes"], counted["k8s_reads"], counted["k8s_writes"])


def markdown(table, verdicts, anchor_checks, view, imports, writes, focus):
    lines = ["Medians of the repetitions; `-` where a variant was not measured at that N (B and A+pod only at their sizes).",
             "*Starts*: how many times the playbook run started the collection's modules (for B: any module), loop items",
             "and `until` retries included.", "",
             "| N | path | A s | A+pod s | B s | A/B | A+pod/B | starts A / A+pod | starts B | A calls/binding (AWS r/w, k8s r/w) | "
             "B calls/binding | peak MiB A / B |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in table:
        lines.append("| %d | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s / %s |" % (
            e["size"], _path_label(e["path"]), _cell(e, "A", "median_seconds"), _cell(e, "A+pod", "median_seconds"), _cell(e, "B", "median_seconds"),
            _cell(e, "A", "ratio_to_B"), _cell(e, "A+pod", "ratio_to_B"),
            _cell(e, "A", "module_starts", "%g"), _cell(e, "A+pod", "module_starts", "%g"), _cell(e, "B", "module_starts_any", "%g"),
            _calls_cell(e, "A"), _calls_cell(e, "B"), _cell(e, "A", "peak_rss_mib", "%g"), _cell(e, "B", "peak_rss_mib", "%g")))

    lines += ["", "## Targets", "", "| target | figure | verdict |", "|---|---|---|"]
    lines.extend("| %s | %s | %s |" % (text, figure, "**%s**" % verdict if verdict == NOT_MET else verdict)
                 for text, figure, verdict in verdicts)

    lines += ["", "## Module starts per run, by module", "",
              "Median starts of each of the collection's modules per playbook run (A, then A+pod where measured).", ""]
    modules = sorted({m for e in table for name in ("A", "A+pod") if name in e for m in e[name]["module_starts_by_module"]})
    lines += ["| variant | N | path | %s | **total** |" % " | ".join(m.split(".")[-1] for m in modules),
              "|---|---|---|%s---|" % ("---|" * len(modules))]
    for name in ("A", "A+pod"):
        for e in table:
            if name in e:
                lines.append("| %s | %d | %s | %s | %s |" % (
                    name, e["size"], _path_label(e["path"]), " | ".join(_fmt(e[name]["module_starts_by_module"].get(m, 0)) for m in modules),
                    _fmt(e[name]["module_starts"])))

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
              "Median wall time per task from benchmarks/callback_plugins/bench_task_times.py. A task with a loop invokes its module",
              "once per item (and once more per `until` retry); *per call* is the task's time divided by its invocations, *item* the",
              "median of a loop's items after the first.",
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
    """growth.png: wall time, API calls per binding and module starts per run against N, per variant, both paths."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    from matplotlib import ticker  # pylint: disable=import-outside-toplevel

    # A and A+pod often start as many modules: a dashed line keeps one from hiding the other.
    styles = {"A": ("o", "-"), "A+pod": ("s", "--"), "B": ("^", "-")}
    # Log scales where A and B lie orders of magnitude apart.
    rows = (("median_seconds", "median wall time (s)", "log"),
            ("calls_per_binding_total", "API calls per binding\n(AWS + Kubernetes)", "linear"),
            ("module_starts", "module starts per run\n(eks.irsa; B: any module)", "log"))
    sizes = sorted({e["size"] for e in table})
    figure, axes = plt.subplots(len(rows), len(PATHS), figsize=(11, 10), sharex=True, sharey="row", squeeze=False)
    for column, run_path in enumerate(PATHS):
        for row, (key, label, scale) in enumerate(rows):
            axis = axes[row][column]
            for name in VARIANTS:
                entries = [e for e in table if e["path"] == run_path and name in e]
                if not entries:
                    continue
                # B's module starts are those of amazon.aws, kubernetes.core and ansible.builtin modules.
                field = "module_starts_any" if key == "module_starts" and name == "B" else key
                marker, line = styles[name]
                axis.plot([e["size"] for e in entries], [e[name][field] for e in entries], marker=marker, linestyle=line, label=name)
            axis.set_xscale("log")
            axis.set_yscale(scale)
            if scale == "log":
                axis.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
                axis.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
            axis.set_xticks(sizes)
            axis.set_xticklabels([str(size) for size in sizes])
            axis.minorticks_off()
            axis.grid(True, alpha=0.3)
            if row == 0:
                axis.set_title("%s path" % _path_label(run_path))
            if row == len(rows) - 1:
                axis.set_xlabel("bindings (N)")
            if column == 0:
                axis.set_ylabel(label)
    axes[0][0].legend()
    figure.tight_layout()
    figure.savefig(path)


def _sizes(parser, option, text):
    try:
        sizes = sorted({int(size) for size in text.split(",") if size.strip()})
    except ValueError:
        parser.error("%s: a comma-separated list of numbers of bindings, not %r" % (option, text))
    if any(size < 1 for size in sizes):
        parser.error("%s: numbers of bindings are 1 or more" % option)
    return sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50,200", help="numbers of bindings A (the role) runs at (default: %(default)s)")
    parser.add_argument("--anchor-sizes", default=None,
                        help="numbers of bindings B (the anchor) runs at, among --sizes; ratios only there (default: 1,10,50 of --sizes)")
    parser.add_argument("--pod-sizes", default=None,
                        help="numbers of bindings A+pod runs at, among --sizes (default: the anchor's sizes)")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    sizes = _sizes(parser, "--sizes", args.sizes)
    if args.anchor_sizes is None:
        anchor_sizes = [size for size in (1, 10, 50) if size in sizes]
    else:
        anchor_sizes = _sizes(parser, "--anchor-sizes", args.anchor_sizes)
    pod_sizes = anchor_sizes if args.pod_sizes is None else _sizes(parser, "--pod-sizes", args.pod_sizes)
    for option, chosen in (("--anchor-sizes", anchor_sizes), ("--pod-sizes", pod_sizes)):
        if set(chosen) - set(sizes):
            parser.error("%s %s: not in --sizes %s (every variant is compared with A at the same N)" % (
                option, ",".join(map(str, chosen)), ",".join(map(str, sizes))))
    plan = {size: [name for name, at in (("A", sizes), ("A+pod", pod_sizes), ("B", anchor_sizes)) if size in at] for size in sizes}
    print("sizes: A %s, A+pod %s, B %s; %d repetitions" % (sizes, pod_sizes, anchor_sizes, args.repetitions), flush=True)
    os.makedirs(RESULTS, exist_ok=True)
    # Before the sandbox: a module that cannot be imported stops the run early, and the machine is quieter.
    imports = import_times(args.repetitions)
    with tempfile.TemporaryDirectory() as workdir:
        with start_sandbox(os.path.join(workdir, "sandbox"), extra_args=("--create-oidc-provider",)) as sandbox:
            rows, anchor_checks = measure(sandbox, plan, args.repetitions, workdir)
    table = summarise(rows, plan)
    view = module_view(rows, sizes)
    verdicts = targets(table, anchor_checks)
    writes = sorted({action for row in rows for action in row["write_actions"]})
    focus = 10 if 10 in sizes else max(sizes)
    with open(os.path.join(RESULTS, "results.json"), "w", encoding="utf-8") as handle:
        json.dump({"sizes": {"A": sizes, "A+pod": pod_sizes, "B": anchor_sizes}, "repetitions": args.repetitions,
                   "rows": rows, "table": table,
                   "targets": [{"target": text, "figure": figure, "verdict": verdict,
                                "met": None if verdict == NOT_MEASURED else verdict == MET} for text, figure, verdict in verdicts],
                   "anchor_verified": anchor_checks, "write_actions": writes, "module_view": view, "import_times": imports},
                  handle, indent=2)
    report = markdown(table, verdicts, anchor_checks, view, imports, writes, focus)
    with open(os.path.join(RESULTS, "results.md"), "w", encoding="utf-8") as handle:
        handle.write(report)
    plot(table, os.path.join(RESULTS, "growth.png"))
    print(report)


if __name__ == "__main__":
    main()
