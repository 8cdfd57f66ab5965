# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""docs/architecture.md stays true: its table of layers names every file of plugins/module_utils once, and
a file imports only from the layers below its own, never from a module or a filter."""

import ast
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
ARCHITECTURE = os.path.join(ROOT, "docs", "architecture.md")
PACKAGE = "ansible_collections.eks.irsa.plugins."
_ROW = re.compile(r"^\|\s*(?P<layer>\d+)\s*\|(?P<files>[^|]*)\|")


def layers():
    """File (relative to plugins/module_utils) -> layer number, from the table of docs/architecture.md."""
    found = {}
    with open(ARCHITECTURE, encoding="utf-8") as handle:
        for line in handle:
            match = _ROW.match(line)
            if not match:
                continue
            for name in re.findall(r"`([^`]+\.py)`", match.group("files")):
                assert name not in found, "docs/architecture.md names {0} twice".format(name)
                found[name] = int(match.group("layer"))
    return found


def module_utils_files():
    files = []
    for directory, _dirs, names in os.walk(MODULE_UTILS):
        for name in names:
            if name.endswith(".py") and name != "__init__.py":
                files.append(os.path.relpath(os.path.join(directory, name), MODULE_UTILS).replace(os.sep, "/"))
    return sorted(files)


def imports_of(path):
    """The eks.irsa plugins a file imports, at the top or inside a function, as paths below plugins/."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            base = node.module[len(PACKAGE):].replace(".", "/")
            for alias in node.names:
                # "from ...module_utils import aws" imports the file aws.py; "from ...module_utils.aws import x" too.
                candidate = base + "/" + alias.name
                found.add(candidate if _exists(candidate) else base)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE):
                    found.add(alias.name[len(PACKAGE):].replace(".", "/"))
    return found


def _exists(path):
    full = os.path.join(ROOT, "plugins", path)
    return os.path.isfile(full + ".py") or os.path.isdir(full)


def test_the_table_names_every_file_once():
    table = layers()
    assert table, "docs/architecture.md has no table of layers"
    files = module_utils_files()
    assert sorted(set(files) - set(table)) == [], "files of plugins/module_utils missing from docs/architecture.md"
    assert sorted(set(table) - set(files)) == [], "docs/architecture.md names files that do not exist"


@pytest.mark.parametrize("name", module_utils_files())
def test_a_file_imports_only_from_below(name):
    table = layers()
    below = []
    for target in sorted(imports_of(os.path.join(MODULE_UTILS, name))):
        assert target.startswith("module_utils/"), "{0} imports {1}: module_utils never imports a module or a filter".format(
            name, target)
        target = target[len("module_utils/"):]
        target = target + ".py" if os.path.isfile(os.path.join(MODULE_UTILS, target + ".py")) else target
        if target.endswith(".py"):
            assert target in table, "{0} imports {1}, which docs/architecture.md does not place".format(name, target)
            if table[target] >= table[name]:
                below.append("{0} (layer {1})".format(target, table[target]))
    assert below == [], "{0} (layer {1}) imports from its own layer or above: {2}".format(name, table.get(name), ", ".join(below))


def test_the_checks_see_an_import_from_above(tmp_path):
    """The import reader finds imports at the top and inside functions (a test of the test)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from ansible_collections.eks.irsa.plugins.module_utils import aws\n"
        "def f():\n"
        "    from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError\n"
        "    from ansible_collections.eks.irsa.plugins.modules import irsa_role\n",
        encoding="utf-8",
    )
    assert imports_of(str(sample)) == {"module_utils/aws", "module_utils/errors", "modules/irsa_role"}
