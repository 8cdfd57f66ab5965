# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Every preset the collection knows, and the expansion of one into the policies its role gets.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import difflib

from ansible_collections.eks.irsa.plugins.module_utils.presets import networking, operations, storage
from ansible_collections.eks.irsa.plugins.module_utils.presets.base import (
    PresetError,
    Scope,
    check_option_types,
    check_statements,
    document,
)

PRESETS = {preset.name: preset for module in (storage, networking, operations) for preset in module.PRESETS}


def names():
    return sorted(PRESETS)


def get(name, where="preset"):
    """The preset called ``name``; an unknown name is refused with the closest known one."""
    if name in PRESETS:
        return PRESETS[name]
    close = difflib.get_close_matches(str(name), names(), n=1, cutoff=0.5)
    raise PresetError(
        "{0}: there is no preset {1!r}{2} The presets are {3}".format(
            where, name, "; did you mean {0!r}?".format(close[0]) if close else ".", ", ".join(names())
        )
    )


def validate(name, options, where="preset", options_where="preset_options"):
    """Check a preset name and its options without any context; return the preset."""
    preset = get(name, where)
    if options is not None and not isinstance(options, dict):
        raise PresetError("{0} must be a mapping of the preset's options, not {1!r}".format(options_where, options))
    check_option_types(preset, options or {}, options_where)
    return preset


def managed_arns(preset, options, partition):
    managed = preset.managed(options) if callable(preset.managed) else preset.managed
    return sorted("arn:{0}:iam::aws:policy/{1}".format(partition, path) for path in managed)


def expand(name, options, context, where="preset", options_where="preset_options"):
    """What a role with this preset gets.

    Returns a dict: ``preset`` (the name), ``namespace`` and ``service_account`` (the chart's defaults),
    ``managed_policies`` (ARNs), ``inline_policy_name`` and ``inline_policy`` (the generated document, or None when
    AWS publishes a managed policy), ``source`` and ``warnings`` (the wildcards left because an option is unset).
    """
    options = dict(options or {})
    preset = validate(name, options, where, options_where)
    scope = Scope(preset, options)
    statements = preset.policy(context, options, scope) if preset.policy else []
    check_statements(preset, statements)
    return {
        "preset": preset.name,
        "namespace": preset.namespace,
        "service_account": preset.service_account,
        "managed_policies": managed_arns(preset, options, context.partition),
        "inline_policy_name": preset.inline_policy_name if statements else None,
        "inline_policy": document(statements) if statements else None,
        "source": dict(preset.source),
        "warnings": scope.warnings,
    }


def options():
    """Every scoping option of any preset: name to ``(type, [presets that take it], description)``."""
    result = {}
    for preset in (PRESETS[name] for name in names()):
        for option in preset.options:
            known = result.setdefault(option.name, (option.type, [], option.description))
            if known[0] != option.type:
                raise AssertionError("option {0} is a {1} in one preset and a {2} in {3}".format(
                    option.name, known[0], option.type, preset.name))
            known[1].append(preset.name)
    return result


def option_spec():
    """The argument spec of ``preset_options``: the union of every preset's options."""
    spec = {}
    for name, (kind, _presets, _description) in options().items():
        # ARNs and names, never secrets (a key's or a secret's ARN is not the key or the secret).
        spec[name] = dict(type=kind, elements="str", no_log=False) if kind == "list" else dict(type=kind, no_log=False)
    return spec
