"""Fixtures for the sandbox's own tests.

``sandbox`` (cluster ``sandbox``) and ``sandbox2`` (clusters ``blue``, ``green``) are started once
per pytest worker and shared by every test of that worker, so tests leave them as they found them:
unique names (``irsa_sandbox.testing.unique``), faults and delays reset in ``finally``.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from irsa_sandbox.testing import start_sandbox  # noqa: E402


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    with start_sandbox(str(tmp_path_factory.mktemp("sandbox")), clusters=("sandbox",)) as running:
        yield running


@pytest.fixture(scope="session")
def sandbox2(tmp_path_factory):
    with start_sandbox(str(tmp_path_factory.mktemp("sandbox2")), clusters=("blue", "green")) as running:
        yield running
