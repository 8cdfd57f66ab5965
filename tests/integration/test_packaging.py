"""What users install: the collection tarball, and an execution environment built around it."""

import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)


def _version():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["version"]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    result = subprocess.run(
        [os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), ROOT],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    path = out / ("eks-irsa-%s.tar.gz" % _version())
    assert path.exists(), os.listdir(out)
    return path


def test_tarball_has_the_collection_and_nothing_else(tarball):
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    for wanted in ("MANIFEST.json", "FILES.json", "README.md", "COPYING", "requirements.txt", "meta/runtime.yml",
                   "meta/execution-environment.yml", "plugins/modules/eks_oidc_provider.py",
                   "plugins/module_utils/naming.py", "roles/irsa/tasks/main.yml", "playbooks/site.yml",
                   "docs/permissions/irsa-runner-iam-policy.json", "docs/permissions/irsa-runner-rbac.yml"):
        assert wanted in names, wanted
    unwanted_prefixes = (".venv", ".build", ".sandbox", ".git/", ".ci", "tests/output", "tests/sandbox", "benchmarks")
    leaked = [name for name in names if name.startswith(unwanted_prefixes) or "__pycache__" in name or name.endswith(".pyc")]
    assert leaked == []


def test_execution_environment_context_is_created(tarball, tmp_path):
    definition = tmp_path / "ee"
    shutil.copytree(os.path.join(ROOT, "docs", "awx"), definition)
    shutil.copy(tarball, definition)
    context = tmp_path / "context"
    result = subprocess.run(
        [os.path.join(BIN, "ansible-builder"), "create", "-f", str(definition / "execution-environment.yml"),
         "-c", str(context)],
        capture_output=True, text=True, timeout=300, check=False, cwd=definition,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # ansible-builder names the file after the container runtime it finds (Containerfile for podman).
    build_files = [context / name for name in ("Containerfile", "Dockerfile") if (context / name).exists()]
    assert build_files, os.listdir(context)
    containerfile = build_files[0].read_text(encoding="utf-8")
    assert "ansible-galaxy collection install" in containerfile
    assert (context / "_build" / "collections" / tarball.name).exists()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    names = [entry["name"] for entry in requirements["collections"]]
    assert "amazon.aws" in names and "kubernetes.core" in names
    assert any(name.endswith(tarball.name) for name in names)
