# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-task wall time for benchmarks/run.py (the module-level view); not part of the collection's plugins."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_task_times
type: aggregate
short_description: Wall time and module invocations of every task, for benchmarks/run.py
description:
  - Writes, when the playbook ends, one JSON list to the file named by the environment variable E(BENCH_TASK_TIMES)
    with, for every task, its name, action (as written and as resolved to a fully qualified name), wall time, how
    many times it ran its action (loop items and C(until) retries included), the completion time of each loop item,
    and its start and end on the wall clock (to attribute the sandbox's logged API calls to tasks).
  - Nothing else is printed; the stdout callback is unchanged.
requirements:
  - enabled in callbacks_enabled, with benchmarks/callback_plugins in callback_plugins
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tasks = []
        self._current = None

    def _start(self, task):
        now = time.monotonic()
        if self._current is not None and self._current["end"] is None:
            self._current["end"] = now
            self._current["wall_end"] = time.time()
        self._current = {"name": task.get_name(), "action": task.action,
                         # What the action resolved to (FQCN), so that a short or redirected name is still counted as its module's.
                         "resolved_action": getattr(task, "resolved_action", None) or task.action,
                         "start": now, "end": None, "wall_start": time.time(), "wall_end": None, "status": "",
                         "items": [], "items_skipped": 0, "retries": 0}
        self._tasks.append(self._current)

    def _finish(self, status):
        if self._current is not None:
            self._current["end"] = time.monotonic()
            self._current["wall_end"] = time.time()
            self._current["status"] = status

    def _item(self):
        if self._current is not None:
            self._current["items"].append(time.monotonic())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task)

    def v2_runner_on_ok(self, result):
        self._finish("ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._finish("failed")

    def v2_runner_on_skipped(self, result):
        self._finish("skipped")

    def v2_runner_on_unreachable(self, result):
        self._finish("unreachable")

    def v2_runner_item_on_ok(self, result):
        self._item()

    def v2_runner_item_on_failed(self, result):
        self._item()

    def v2_runner_retry(self, result):
        # An until/retries attempt that did not satisfy the condition: the action ran once more.
        if self._current is not None:
            self._current["retries"] += 1

    def v2_runner_item_on_skipped(self, result):
        if self._current is not None:
            self._current["items_skipped"] += 1

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_TASK_TIMES")
        if not path:
            return
        tasks = []
        for entry in self._tasks:
            end = entry["end"] if entry["end"] is not None else time.monotonic()
            items, previous, durations = entry["items"], entry["start"], []
            for stamp in items:
                durations.append(round(stamp - previous, 4))
                previous = stamp
            if items:
                invocations = len(items)
            else:
                invocations = 0 if entry["status"] in ("skipped", "") else 1
            invocations += entry["retries"]
            tasks.append({"name": entry["name"], "action": entry["action"], "resolved_action": entry["resolved_action"],
                          "status": entry["status"], "seconds": round(end - entry["start"], 4),
                          "invocations": invocations, "retries": entry["retries"],
                          "wall_start": entry["wall_start"], "wall_end": entry["wall_end"] or time.time(),
                          "items_skipped": entry["items_skipped"], "item_seconds": durations})
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(tasks, handle)
