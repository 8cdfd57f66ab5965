"""What users install: the collection tarball, and an execution environment built around it."""

import json
import os
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


def test_execution_environment_context_is_created(tmp_path):
    """make ee, as on a clean checkout: it builds the tarball itself and names no version but galaxy.yml's."""
    ee = tmp_path / "ee"
    result = subprocess.run(["make", "--no-print-directory", "ee", "EE=%s" % ee], capture_output=True, text=True,
                            timeout=300, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    context = ee / "context"
    # ansible-builder names the file after the container runtime it finds (Containerfile for podman).
    build_files = [context / name for name in ("Containerfile", "Dockerfile") if (context / name).exists()]
    assert build_files, os.listdir(context)
    containerfile = build_files[0].read_text(encoding="utf-8")
    assert "ansible-galaxy collection install" in containerfile
    placed = context / "_build" / "collections" / "eks-irsa.tar.gz"
    with tarfile.open(placed) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["version"] == _version()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    names = [entry["name"] for entry in requirements["collections"]]
    # Only what galaxy.yml depends on: no plugin uses kubernetes.core (the Kubernetes connection is the collection's own).
    assert "amazon.aws" in names and "kubernetes.core" not in names
    assert "/build/collections/eks-irsa.tar.gz" in names
    # The Python needs that ansible-builder gathers from the collection's meta/execution-environment.yml in the build.
    installed = tmp_path / "installed"
    install = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--no-deps", "--force", "-p",
                              str(installed), str(placed)], capture_output=True, text=True, timeout=300, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    introspect = subprocess.run([os.path.join(BIN, "ansible-builder"), "introspect", str(installed)],
                                capture_output=True, text=True, timeout=300, check=False)
    assert introspect.returncode == 0, introspect.stdout + introspect.stderr
    python_needs = yaml.safe_load(introspect.stdout)["python"]
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as handle:
        # ansible-builder leaves PyYAML out: ansible-core, in every execution environment, brings it.
        wanted = [line.strip() for line in handle if line.strip() and not line.lower().startswith("pyyaml")]
    assert [entry.split("#")[0].strip() for entry in python_needs] == wanted, introspect.stdout
