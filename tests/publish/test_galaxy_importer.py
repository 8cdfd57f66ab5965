"""galaxy-importer, what Galaxy and Automation Hub run on an uploaded tarball, finds nothing to fix."""

import json
import os
import subprocess
import sys

from conftest import ROOT, keep_log

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "galaxy-importer.cfg")
PROBLEM_PREFIXES = ("WARNING", "ERROR", "CRITICAL")


def test_galaxy_importer_accepts_the_tarball_with_no_warning(tarball, tmp_path):
    env = dict(os.environ, GALAXY_IMPORTER_CONFIG=CONFIG,
               GALAXY_IMPORTER_TMP_ROOT_DIR=str(tmp_path), GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=str(tmp_path / "ansible-tmp"))
    result = subprocess.run([sys.executable, "-m", "galaxy_importer.main", str(tarball)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900, check=False)
    keep_log("galaxy-importer.log", result.stdout)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Importer processing completed successfully" in lines, result.stdout[-6000:]
    problems = [line for line in lines if line.startswith(PROBLEM_PREFIXES)]
    assert problems == [], "\n".join(problems)

    # It really ran its checks: ansible-doc, ansible-lint over the whole collection, flake8 on every plugin.
    assert "Getting doc strings via ansible-doc" in lines
    assert any(line.startswith("Linting collection via ansible-lint") for line in lines)
    assert "...ansible-lint run complete" in lines
    result_data = json.loads((tmp_path / "importer_result.json").read_text(encoding="utf-8"))
    contents = {(item["content_type"], item["name"]) for item in result_data["contents"]}
    plugins = {name for kind, name in contents if kind not in ("role", "playbook")}
    for name in sorted(plugins):
        assert any(line.startswith("Linting") and name in line and "via flake8" in line for line in lines), name
    assert ("role", "irsa") in contents
    shipped = {name[:-3] for directory in ("modules", "filter")
               for name in os.listdir(os.path.join(ROOT, "plugins", directory)) if name.endswith(".py") and not name.startswith("_")}
    assert shipped <= plugins, shipped - plugins
    # What Galaxy shows: the collection's README and the role's.
    docs = result_data["docs_blob"]
    assert "IAM Roles for Service Accounts" in docs["collection_readme"]["html"]
    role = next(item for item in docs["contents"] if item["content_type"] == "role")
    assert "Entry points" in role["readme_html"]
