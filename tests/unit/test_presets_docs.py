"""docs/presets.md and the irsa_role module's documentation list exactly the presets and options the collection has.

Run this file with ``--write`` to regenerate the tables of docs/presets.md.
"""

import json
import os
import re
import sys
import textwrap

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(ROOT, "docs", "presets.md")

if __name__ == "__main__":
    sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))

from ansible_collections.eks.irsa.plugins.module_utils.presets import base, catalogue  # noqa: E402
from ansible_collections.eks.irsa.plugins.modules import irsa_role  # noqa: E402


def _policy(preset):
    """What the role gets with the options unset, and what only some option adds or replaces."""
    context = base.Context("aws", "amazonaws.com", "us-west-2", "111122223333", "prod")
    unset = catalogue.expand(preset.name, {}, context)
    scoped = catalogue.expand(preset.name, {o.name: o.example for o in preset.options}, context)

    def short(arn):
        return "`{0}`".format(arn.split(":policy/", 1)[1])

    parts = ["AWS managed " + ", ".join(short(arn) for arn in unset["managed_policies"])] if unset["managed_policies"] else []
    if unset["inline_policy"]:
        parts.append("generated from the project's policy")
    extra = [short(arn) for arn in scoped["managed_policies"] if arn not in unset["managed_policies"]]
    if scoped["inline_policy"] and not unset["inline_policy"]:
        extra.append("a generated policy")
    if extra:
        parts.append("with options: " + ", ".join(extra))
    return "; ".join(parts)


def presets_table():
    lines = ["| preset | namespace / ServiceAccount | policy | source | scoping options |", "|---|---|---|---|---|"]
    for name in catalogue.names():
        preset = catalogue.PRESETS[name]
        options = ", ".join("`{0}`".format(option.name) for option in preset.options) or "none"
        lines.append("| `{0}` | `{1}` / `{2}` | {3} | [{4} {5}]({6}) | {7} |".format(
            name, preset.namespace, preset.service_account, _policy(preset), preset.source["project"],
            preset.source["version"], preset.source["url"], options))
    lines.append("")
    for name in catalogue.names():
        lines.append("- `{0}`: {1}".format(name, catalogue.PRESETS[name].summary))
    return "\n".join(lines)


def _markdown(text):
    """Ansible's C()/V()/O() markup as Markdown code, and no table-breaking bars."""
    return re.sub(r"\b[CVO]\(([^()]*)\)", r"`\1`", text).replace("|", "\\|")


def options_table():
    lines = ["| option | type | presets | what it scopes | example |", "|---|---|---|---|---|"]
    for name, (kind, presets, _description) in sorted(catalogue.options().items()):
        for preset_name in presets:
            option = next(o for o in catalogue.PRESETS[preset_name].options if o.name == name)
            unset = "; unset: {0}".format(option.unset) if option.unset else ""
            lines.append("| `{0}` | {1} | `{2}` | {3}{4} | `{5}` |".format(
                name, "list of str" if kind == "list" else kind, preset_name, _markdown(option.description).rstrip("."),
                unset, json.dumps(option.example)))
    return "\n".join(lines)


def _sections(text):
    return {
        "presets": re.search(r"<!-- BEGIN presets table[^>]*-->\n(.*?)<!-- END presets table -->", text, re.S),
        "options": re.search(r"<!-- BEGIN options table -->\n(.*?)<!-- END options table -->", text, re.S),
    }


def _expected():
    return {"presets": presets_table() + "\n", "options": options_table() + "\n"}


def write():
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    for key, match in sorted(_sections(text).items(), key=lambda item: -item[1].start(1)):
        text = text[:match.start(1)] + _expected()[key] + text[match.end(1):]
    with open(DOC, "w", encoding="utf-8") as handle:
        handle.write(text)


def test_docs_tables_are_up_to_date():
    with open(DOC, encoding="utf-8") as handle:
        sections = _sections(handle.read())
    expected = _expected()
    for key, match in sections.items():
        assert match, "docs/presets.md lost its {0} table markers".format(key)
        assert match.group(1) == expected[key], (
            "docs/presets.md is out of date: run .venv/bin/python tests/unit/test_presets_docs.py --write")


def test_module_documentation_lists_every_preset_and_option():
    documentation = yaml.safe_load(irsa_role.DOCUMENTATION)["options"]
    assert documentation["preset"]["choices"] == catalogue.names()
    suboptions = documentation["preset_options"]["suboptions"]
    options = catalogue.options()
    assert sorted(suboptions) == sorted(options)
    for name, (kind, presets, _description) in options.items():
        assert suboptions[name]["type"] == kind
        text = " ".join(suboptions[name]["description"])
        assert [preset for preset in presets if "V({0})".format(preset) not in text] == [], name


def module_doc():
    """The ``preset`` and ``preset_options`` entries of irsa_role's DOCUMENTATION."""
    lines = [
        "  preset:",
        "    description:",
        "      - A well-known add-on whose role this is (docs/presets.md). The role gets the add-on's AWS managed policy",
        "        where AWS publishes one, attached by ARN, else the policy the add-on's project publishes, generated with",
        "        O(preset_options) applied, as the inline policy C(eks-irsa-preset-<preset>).",
        "      - The preset attaches and puts its own policies only; other policies are detached or deleted only when",
        "        O(managed_policies) or O(inline_policies) is given, as without a preset. On a role of ours, the",
        "        inline policy of another preset (the role's preset before) is deleted; the AWS managed policies another",
        "        preset attached stay until O(managed_policies) says otherwise.",
        "    type: str",
        "    choices:",
    ] + ["      - {0}".format(name) for name in catalogue.names()] + [
        "  preset_options:",
        "    description:",
        "      - The scoping of the preset's policy. An option the preset does not take is refused. An unset option",
        "        leaves the project's wildcard in the policy, and the task warns, naming the option.",
        "    type: dict",
        "    suboptions:",
    ]
    for name, (kind, presets, _description) in sorted(catalogue.options().items()):
        lines += ["      {0}:".format(name), "        description:"]
        for preset_name in presets:
            option = next(o for o in catalogue.PRESETS[preset_name].options if o.name == name)
            text = "V({0}): {1}".format(preset_name, option.description.replace(": ", " - "))
            quoted = yaml.safe_dump(text, width=1000, default_style='"').strip()
            wrapped = textwrap.wrap(quoted, width=100, break_long_words=False, break_on_hyphens=False)
            lines.append("          - " + wrapped[0])
            lines += ["            " + line for line in wrapped[1:]]
        lines.append("        type: {0}".format(kind))
        if kind == "list":
            lines.append("        elements: str")
    return "\n".join(lines)


if __name__ == "__main__" and "--write" in sys.argv:
    write()
if __name__ == "__main__" and "--module-doc" in sys.argv:
    print(module_doc())
