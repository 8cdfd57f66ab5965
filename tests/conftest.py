"""The sandboxes that the sandbox's own tests and the integration tests share.

``sandbox`` (cluster ``sandbox``) and ``sandbox2`` (clusters ``blue``, ``green``) are started once per pytest worker,
on first use, and shared by every test of that worker under tests/sandbox/tests and tests/integration: each start
costs a kube-apiserver's boot, and each cluster left running costs CPU for the whole run. So tests leave them as they
found them: unique names, faults, delays and switches reset in ``finally``.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox"))


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    from irsa_sandbox.testing import start_sandbox  # pylint: disable=import-outside-toplevel

    with start_sandbox(str(tmp_path_factory.mktemp("sandbox")), clusters=("sandbox",)) as running:
        yield running


@pytest.fixture(scope="session")
def sandbox2(tmp_path_factory):
    from irsa_sandbox.testing import start_sandbox  # pylint: disable=import-outside-toplevel

    with start_sandbox(str(tmp_path_factory.mktemp("sandbox2")), clusters=("blue", "green")) as running:
        yield running
