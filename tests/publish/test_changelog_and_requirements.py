"""What a release says of the collection: its new objects, and the same requirements everywhere."""

import glob
import os
import shutil
import subprocess
import sys

import yaml
from ansible.parsing.plugin_docs import read_docstring
from conftest import ROOT, galaxy_version, keep_log
from packaging.requirements import Requirement

BIN = os.path.dirname(sys.executable)


def plugins_added_in(version):
    """{kind: {name}} of the plugins whose documentation says they are new in ``version``."""
    added = {}
    for kind, directory in (("module", "modules"), ("filter", "filter")):
        for path in sorted(glob.glob(os.path.join(ROOT, "plugins", directory, "[!_]*.py"))):
            if str(read_docstring(path)["doc"].get("version_added")) == version:
                added.setdefault(kind, set()).add(os.path.basename(path)[:-3])
    return added


def test_a_release_lists_the_role_and_every_plugin_as_new(tmp_path):
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout
    copy = tmp_path / "collection"
    for name in filter(None, files.split("\0")):
        if os.path.isfile(os.path.join(ROOT, name)):
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(os.path.join(ROOT, name), copy / name)
    version = galaxy_version()
    changelog = yaml.safe_load((copy / "changelogs" / "changelog.yaml").read_text(encoding="utf-8"))
    if version not in (changelog.get("releases") or {}):
        result = subprocess.run([os.path.join(BIN, "antsibull-changelog"), "release", "--version", version], cwd=copy,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
        keep_log("antsibull-changelog-release.log", result.stdout)
        assert result.returncode == 0, result.stdout[-4000:]
        changelog = yaml.safe_load((copy / "changelogs" / "changelog.yaml").read_text(encoding="utf-8"))
    new_plugins, new_roles = {}, set()
    for release in changelog["releases"].values():
        for kind, entries in (release.get("plugins") or {}).items():
            new_plugins.setdefault(kind, set()).update(entry["name"] for entry in entries)
        new_plugins.setdefault("module", set()).update(entry["name"] for entry in release.get("modules") or [])
        new_roles.update(entry["name"] for entry in (release.get("objects") or {}).get("role", []))
    assert "irsa" in new_roles, changelog["releases"]
    expected = plugins_added_in(version)
    assert expected.get("module"), "no module says version_added: {0}".format(version)
    for kind, names in expected.items():
        assert names <= new_plugins.get(kind, set()), (kind, new_plugins)


def _doc_fragment_requirements():
    namespace = {}
    with open(os.path.join(ROOT, "plugins", "doc_fragments", "requirements.py"), encoding="utf-8") as handle:
        exec(compile(handle.read(), "requirements.py", "exec"), namespace)  # pylint: disable=exec-used
    documented = yaml.safe_load(namespace["ModuleDocFragment"].DOCUMENTATION)["requirements"]
    return {Requirement(entry.replace(" ", "")).name.lower(): str(Requirement(entry.replace(" ", "")).specifier)
            for entry in documented if not entry.startswith("python ")}


def test_requirements_txt_and_the_module_docs_agree():
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as handle:
        listed = {Requirement(line).name.lower(): str(Requirement(line).specifier) for line in map(str.strip, handle) if line}
    documented = _doc_fragment_requirements()
    # PyYAML and kubernetes are documented by the Kubernetes connection's fragment (they read kubeconfig files), with
    # the same minimum as requirements.txt.
    connection_only = ("pyyaml", "kubernetes")
    assert {name: spec for name, spec in listed.items() if name not in connection_only} == documented
    with open(os.path.join(ROOT, "plugins", "doc_fragments", "k8s_auth.py"), encoding="utf-8") as handle:
        k8s_auth = handle.read()
    assert "  - PyYAML" in k8s_auth
    assert "  - kubernetes {0} (the Python library)".format(listed["kubernetes"].replace(">=", ">= ")) in k8s_auth


def test_the_execution_environment_asks_for_galaxy_yml_dependencies():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        dependencies = yaml.safe_load(handle)["dependencies"]
    with open(os.path.join(ROOT, "docs", "awx", "requirements.yml"), encoding="utf-8") as handle:
        collections = {entry["name"]: entry.get("version") for entry in yaml.safe_load(handle)["collections"]}
    assert {name: collections.get(name) for name in dependencies} == dependencies
