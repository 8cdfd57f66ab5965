"""Sandboxes for the integration tests: one per pytest worker and shape, started on first use."""

import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "sandbox"))

from irsa_sandbox.testing import start_sandbox  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    with start_sandbox(str(tmp_path_factory.mktemp("sandbox")), clusters=("sandbox",)) as running:
        yield running


@pytest.fixture(scope="session")
def sandbox2(tmp_path_factory):
    with start_sandbox(str(tmp_path_factory.mktemp("sandbox2")), clusters=("blue", "green")) as running:
        yield running


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
