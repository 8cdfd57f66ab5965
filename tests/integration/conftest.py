"""Sandboxes of a test's own for the integration tests (the shared ones are in tests/conftest.py)."""

import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "sandbox"))

from irsa_sandbox.testing import start_sandbox  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def fresh(tmp_path):
    """A sandbox of the test's own, for tests that count calls or need a fresh account."""
    with start_sandbox(str(tmp_path / "sandbox")) as running:
        yield running


@pytest.fixture
def fresh2(tmp_path):
    """A fresh sandbox with two clusters, blue and green."""
    with start_sandbox(str(tmp_path / "sandbox2"), clusters=("blue", "green")) as running:
        yield running


# pytest-xdist hands tests to the workers in collection order: a long test handed out last is a tail that the other
# worker cannot share, so the longest modules go first.
LONGEST_FIRST = ("test_targets.py", "test_interruption.py", "test_faults.py", "test_ownership.py", "test_least_privilege.py")
# Modules whose module-scoped fixture runs a whole playbook: their tests stay on one worker (make integration runs
# with --dist loadgroup), so that playbook runs once rather than once per worker.
ONE_WORKER = ("test_bad_input.py", "test_diagnosis_cases.py", "test_faults.py", "test_irsa_verify_process.py",
              "test_presets.py")


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(os.path.basename(str(item.path)), len(LONGEST_FIRST)))
    for item in items:
        name = os.path.basename(str(item.path))
        if name in ONE_WORKER:
            item.add_marker(pytest.mark.xdist_group(name=name))
