"""Test-only callback: every task result, as Ansible hands it to callbacks (and to ``register``), one
JSON document per line in the file named by ``IRSA_RESULTS_FILE``.

Enabled by the tests with ``ANSIBLE_CALLBACK_PLUGINS`` pointing here and
``ANSIBLE_CALLBACKS_ENABLED=irsa_results``.
"""

import json
import os

from ansible.module_utils.common.json import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "irsa_results"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, event, result):
        path = os.environ.get("IRSA_RESULTS_FILE")
        if not path:
            return
        data = result.result if hasattr(result, "result") else result._result
        line = json.dumps({"event": event, "task": result.task_name, "result": data}, cls=AnsibleJSONEncoder)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def v2_runner_on_ok(self, result):
        self._write("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write("failed", result)

    def v2_runner_on_skipped(self, result):
        self._write("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._write("unreachable", result)

    def v2_runner_item_on_ok(self, result):
        self._write("item_ok", result)

    def v2_runner_item_on_failed(self, result):
        self._write("item_failed", result)

    def v2_runner_item_on_skipped(self, result):
        self._write("item_skipped", result)
