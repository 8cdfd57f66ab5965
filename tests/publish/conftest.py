"""The collection as it is published: its tarball, built once per worker from the checkout."""

import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)


def galaxy_version():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["version"]


def keep_log(name, text):
    """Each tool's whole output, in PUBLISH_LOGS when make publish-check sets it."""
    directory = os.environ.get("PUBLISH_LOGS")
    if directory:
        with open(os.path.join(directory, name), "w", encoding="utf-8") as handle:
            handle.write(text)


@pytest.fixture(scope="session")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("tarball")
    result = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), ROOT],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / ("eks-irsa-%s.tar.gz" % galaxy_version())
