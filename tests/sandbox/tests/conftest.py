"""Fixtures for the sandbox's own tests: ``sandbox`` and ``sandbox2`` come from tests/conftest.py, shared with the
integration tests, so tests leave them as they found them: unique names (``irsa_sandbox.testing.unique``), faults and
delays reset in ``finally``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
