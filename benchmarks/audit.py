"""The audit on a sandbox account with 3 clusters, 300 annotated ServiceAccounts and every kind of finding planted
three times (the set-up of tests/integration/test_audit.py): wall time of playbooks/audit.yml and of its audit task,
and the API calls it made. Target: the audit in 30 s or less.

Writes benchmarks/results/audit.md and prints it.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from run import RESULTS, run_playbook, start_sandbox  # noqa: E402  pylint: disable=wrong-import-position
from test_audit import CLUSTERS, _plant  # noqa: E402  pylint: disable=wrong-import-position

TARGET_SECONDS = 30.0
AUDIT = os.path.join(ROOT, "playbooks", "audit.yml")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as workdir:
        with start_sandbox(os.path.join(workdir, "sandbox"), clusters=CLUSTERS) as sandbox:
            print("audit: planting 3 clusters, 300 ServiceAccounts and the findings", flush=True)
            planted = _plant(sandbox)
            for repetition in range(args.repetitions):
                run = run_playbook(sandbox, AUDIT, {"irsa_audit_report_dir": os.path.join(workdir, "report")}, workdir)
                task = next(item for item in run["tasks"] if item["name"].startswith("Audit"))
                with open(os.path.join(workdir, "report", "report.json"), encoding="utf-8") as handle:
                    report = json.load(handle)
                runs.append({"playbook": run["seconds"], "task": task["seconds"], "calls": report["api_calls"],
                             "findings": len(report["findings"]), "service_accounts": report["summary"]["service_accounts"]})
                print("audit: run %d: playbook %.1f s, audit task %.1f s" % (repetition + 1, run["seconds"], task["seconds"]),
                      flush=True)
    task = statistics.median(item["task"] for item in runs)
    lines = [
        "# Audit: 3 clusters, %d annotated ServiceAccounts, %d planted findings" % (runs[0]["service_accounts"], len(planted)),
        "",
        "| measure | median of %d |" % len(runs),
        "|---|---|",
        "| playbooks/audit.yml, wall | %.1f s |" % statistics.median(item["playbook"] for item in runs),
        "| the audit task (eks.irsa.irsa_audit) | %.1f s |" % task,
        "| findings | %d |" % runs[0]["findings"],
        "| API calls | %s |" % ", ".join("%s %d" % (key, value) for key, value in sorted(runs[0]["calls"].items())),
        "",
        "Target: the audit in %.0f s or less: %s." % (TARGET_SECONDS, "met" if task <= TARGET_SECONDS else "NOT MET"),
    ]
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "audit.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
