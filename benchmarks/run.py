"""Side-by-side benchmark: the eks.irsa.irsa role (A) against the amazon.aws + kubernetes.core composition (B).

One sandbox, one run. For N bindings in (1, 10, 50), alternating A and B pair by pair, each on the
create path (fresh bindings) and the no-op path (the same run again), with at least three
repetitions. A is measured twice: with verification [static, token] and [static, token, pod]; B
always verifies with a pod, as users of the composition do (it has no other way).

Reported per N and path: median wall time, the A/B ratio taken pair by pair, API calls per binding
(reads and writes, AWS and Kubernetes, from the sandbox request log) and the peak memory of the
playbook's process tree. Writes benchmarks/results/results.json, results.md and wall_time.png.

    make bench                      (or: .venv/bin/python benchmarks/run.py --sizes 1,10 --repetitions 3)
"""

import argparse
import json
import os
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
TARGETS = {"create_ratio": 0.5, "noop_ratio": 0.4, "noop_calls_per_binding": 6}


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
    """Run one playbook; return (seconds, peak KiB, request-log summary)."""
    vars_file = os.path.join(workdir, "vars-%s.yml" % uuid.uuid4().hex[:8])
    with open(vars_file, "w", encoding="utf-8") as handle:
        yaml.safe_dump(extra_vars, handle)
    env = dict(os.environ)
    env.update(sandbox.env)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
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
    return seconds, peak[0], sandbox.log()


def calls(log):
    """Reads and writes per service family from a request-log summary."""
    counted = {"aws_reads": 0, "aws_writes": 0, "k8s_reads": 0, "k8s_writes": 0}
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


def measure(sandbox, sizes, repetitions, workdir):
    cluster = sandbox.vars["irsa_sandbox_cluster"]
    rows = []
    for size in sizes:
        for repetition in range(repetitions):
            tag = "%d%s" % (size, uuid.uuid4().hex[:4])
            plays = variants(cluster, size, tag)
            # Alternate the order so neither side always runs on a warmer machine.
            order = ["A", "B", "A+pod"] if repetition % 2 == 0 else ["B", "A+pod", "A"]
            for path in ("create", "noop"):
                for name in order:
                    playbook, extra = plays[name]
                    seconds, peak, log = run_playbook(sandbox, playbook, extra, workdir)
                    row = {"variant": name, "size": size, "repetition": repetition, "path": path,
                           "seconds": round(seconds, 3), "peak_rss_mib": round(peak / 1024.0, 1)}
                    row.update(calls(log))
                    rows.append(row)
                    print("N=%-3d %-6s %-5s %7.2f s  aws r/w %d/%d  k8s r/w %d/%d" % (
                        size, path, name, seconds, row["aws_reads"], row["aws_writes"], row["k8s_reads"], row["k8s_writes"]), flush=True)
    return rows


def summarise(rows, sizes):
    table = []
    for size in sizes:
        for path in ("create", "noop"):
            picked = [r for r in rows if r["size"] == size and r["path"] == path]
            entry = {"size": size, "path": path}
            for name in ("A", "A+pod", "B"):
                mine = [r for r in picked if r["variant"] == name]
                entry[name] = {
                    "median_seconds": round(statistics.median(r["seconds"] for r in mine), 2),
                    "calls_per_binding": {key: round(statistics.median(r[key] for r in mine) / size, 2)
                                          for key in ("aws_reads", "aws_writes", "k8s_reads", "k8s_writes")},
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


def targets(table):
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
            verdicts.append(("N=%d %s: A/B <= %.1f (%.2f)" % (entry["size"], entry["path"], limit, entry["A"]["ratio_to_B"]),
                             entry["A"]["ratio_to_B"] <= limit))
    return verdicts


def markdown(table, verdicts):
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
    return "\n".join(lines) + "\n"


def plot(table, path):
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, run_path in zip(axes, ("create", "noop")):
        entries = [e for e in table if e["path"] == run_path]
        sizes = [e["size"] for e in entries]
        for name in ("A", "A+pod", "B"):
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
    with tempfile.TemporaryDirectory() as workdir:
        with start_sandbox(os.path.join(workdir, "sandbox"), extra_args=("--create-oidc-provider",)) as sandbox:
            rows = measure(sandbox, sizes, args.repetitions, workdir)
    table = summarise(rows, sizes)
    verdicts = targets(table)
    with open(os.path.join(RESULTS, "results.json"), "w", encoding="utf-8") as handle:
        json.dump({"rows": rows, "table": table, "targets": [{"target": t, "met": ok} for t, ok in verdicts]}, handle, indent=2)
    report = markdown(table, verdicts)
    with open(os.path.join(RESULTS, "results.md"), "w", encoding="utf-8") as handle:
        handle.write(report)
    plot(table, os.path.join(RESULTS, "wall_time.png"))
    print(report)


if __name__ == "__main__":
    main()
