"""The role's documentation, defaults and argument specification say the same thing."""

import os
import re

import yaml

from ansible_collections.eks.irsa.plugins.module_utils.bindings import BINDING_FIELDS
from ansible_collections.eks.irsa.plugins.module_utils.bindings import REQUIRED

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _spec():
    with open(os.path.join(ROOT, "roles", "irsa", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]


def _rows(text, header):
    """{name: (type, default)} from the markdown table that starts with ``header``."""
    table = text[text.index(header):].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def _type(option):
    return option.get("type", "str") + (" of %s" % option["elements"] if option.get("elements") else "")


def _default(option, missing):
    if option.get("required"):
        return "required"
    if "default" not in option:
        return missing
    return "`%s`" % yaml.safe_dump(option["default"], default_flow_style=True).replace("...", "").strip()


def test_docs_list_every_variable_with_its_type_and_default():
    with open(os.path.join(ROOT, "docs", "role.md"), encoding="utf-8") as handle:
        text = handle.read()
    options = _spec()["main"]["options"]
    assert _rows(text, "| variable |") == {name: (_type(o), _default(o, "")) for name, o in options.items()}
    # The fields of a binding are checked by the role itself (module_utils/bindings.py), not by the specification.
    expected = {}
    for name, (kind, default, _description) in BINDING_FIELDS.items():
        option = {"type": kind}
        if kind == "list":
            option["elements"] = "str"
        if default is REQUIRED:
            option["required"] = True
        elif default is not None:
            option["default"] = default
        expected[name] = (_type(option), _default(option, "(left alone)"))
    assert _rows(text, "| field |") == expected
    for entry_point in ("main", "verify"):
        description = " ".join(_spec()[entry_point]["options"]["irsa_bindings"]["description"])
        assert [name for name in BINDING_FIELDS if "C(%s)" % name not in description] == []


def test_defaults_file_matches_the_specification():
    with open(os.path.join(ROOT, "roles", "irsa", "defaults", "main.yml"), encoding="utf-8") as handle:
        defaults = yaml.safe_load(handle)
    options = _spec()["main"]["options"]
    for name, option in options.items():
        if option.get("required"):
            assert name not in defaults, name
        else:
            assert defaults.get(name) == option.get("default"), name
    assert set(defaults) <= set(options)


def test_the_verify_entry_point_documents_what_it_reads():
    spec = _spec()
    used = set()
    for steps in ("verify.yml", "run.yml", "audit.yml"):
        with open(os.path.join(ROOT, "roles", "irsa", "tasks", steps), encoding="utf-8") as handle:
            used |= set(re.findall(r"(?<![.\w])irsa_[a-z0-9_]+", handle.read()))
    used -= {"irsa_audit", "irsa_summary"}
    assert used <= set(spec["verify"]["options"]), used - set(spec["verify"]["options"])
