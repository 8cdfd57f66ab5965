# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fields of a binding of the eks.irsa.irsa role (``irsa_bindings``), and the check of a list of bindings.

The role's argument specification leaves the fields of a binding to this check: the specification's own check
names neither the binding nor the field a user most likely meant, and prints the whole specification when it fails.
This one says ``irsa_bindings[2] (shop/api): unknown field 'role'; did you mean 'role_name'?``.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import difflib

from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.presets import catalogue
from ansible_collections.eks.irsa.plugins.module_utils.presets.base import PresetError

REQUIRED = object()

# name: (type, default or REQUIRED or None when left alone, description)
BINDING_FIELDS = {
    "service_account": ("str", REQUIRED, "Name of the ServiceAccount; with a preset, the add-on chart's default."),
    "namespace": ("str", "default", "Namespace of the ServiceAccount; with a preset, the add-on chart's default."),
    "role_name": ("str", REQUIRED, "Name of the IAM role. Bindings with the same role name share the role. With a preset, "
                                   "<cluster>-<preset> by default."),
    "preset": ("str", None, "A well-known add-on (docs/presets.md): gives the ServiceAccount, the namespace, the role name "
                            "and the policy (the AWS managed one, else the add-on's published policy)."),
    "preset_options": ("dict", None, "Scoping of the preset's policy (hosted zones, buckets, keys, ...; docs/presets.md). "
                                     "Unset options leave the add-on's wildcard, with a warning."),
    "managed_policies": ("list", None, "Managed policies (ARNs or names) to attach. A role shared by several bindings gets the "
                                       "union of their lists, and the role's attachments become exactly that union. Left "
                                       "alone when no binding of the role gives any."),
    "inline_policies": ("dict", None, "Inline policies, name to policy document (dict or JSON string). Left alone when not given."),
    "permissions_boundary": ("str", None, "ARN or name of the managed policy to use as permissions boundary."),
    "path": ("str", None, "Path of the role."),
    "tags": ("dict", None, "Tags of the role (besides eks.irsa/managed-by, which marks the roles eks.irsa created)."),
    "audience": ("str", None, "Audience of the ServiceAccount's tokens (eks.amazonaws.com/audience); sts.amazonaws.com "
                              "when not given."),
    "sts_regional_endpoints": ("bool", None, "Make pods use the regional STS endpoint (eks.amazonaws.com/sts-regional-endpoints)."),
    "token_expiration": ("int", None, "Lifetime of the projected token in seconds, 600 to 86400 (eks.amazonaws.com/token-expiration)."),
    "create_service_account": ("bool", True, "Create the ServiceAccount when it does not exist. When false, a missing "
                                             "ServiceAccount stops the run before anything is written."),
    "mechanism": ("str", "irsa", "How the ServiceAccount's pods get the role: irsa (the role-arn annotation and the "
                                 "role's trust in the cluster's OIDC provider) or pod_identity (an EKS Pod Identity "
                                 "association; the cluster needs the eks-pod-identity-agent add-on, and pods on Fargate "
                                 "cannot use it). docs/choose_and_migrate.md compares them."),
    "target_role_arn": ("str", None, "With mechanism pod_identity: a role EKS assumes with the binding's role before it "
                                     "hands credentials to the pods (role chaining, for another account)."),
    "disable_session_tags": ("bool", None, "With mechanism pod_identity: turn off the session tags EKS Pod Identity adds."),
    "pod_labels": ("dict", None, "With mechanism pod_identity: the labels of the ServiceAccount's pods, to tell whether a "
                                 "Fargate profile that selects by labels would run them (Pod Identity does not run on Fargate)."),
    "remove_previous": ("bool", False, "Finish a migration between IRSA and EKS Pod Identity: remove what the other "
                                       "mechanism gave this ServiceAccount (docs/role.md, Migration)."),
    "create_namespace": ("bool", False, "Create the namespace when it does not exist (labelled "
                                        "app.kubernetes.io/managed-by=eks.irsa). When false, a missing namespace stops the "
                                        "run before anything is written."),
}

_TYPES = {"str": (str,), "bool": (bool,), "int": (int,), "list": (list,), "dict": (dict,)}


class BindingError(InputError):
    """A binding the role cannot use; the message names it and says how to fix it."""


def label(binding):
    """``namespace/service_account`` of a binding, for messages."""
    return "{0}/{1}".format(binding.get("namespace") or "default", binding.get("service_account"))


def mechanism(binding):
    """How a binding's pods get its role: ``irsa`` (the default) or ``pod_identity``."""
    return binding.get("mechanism") or "irsa"


def did_you_mean(name, known, cutoff=0.6):
    """``; did you mean 'x'?`` for the known name closest to ``name``, or an empty string when none is close."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=cutoff)
    return "; did you mean {0!r}?".format(close[0]) if close else ""


def _type_problem(field, value):
    expected = BINDING_FIELDS[field][0]
    if value is None or (isinstance(value, _TYPES[expected]) and not (expected == "int" and isinstance(value, bool))):
        return None
    if expected == "str" and isinstance(value, (bool, int, float)):
        return ("is {0} {1!r}, not a name: YAML read an unquoted value as a {0} (yes/no/on/off are booleans, digits are "
                "numbers); put it in quotes".format("a boolean" if isinstance(value, bool) else "a number", value))
    if expected == "bool" and isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        return None
    if expected == "int" and isinstance(value, str) and value.isdigit():
        return None
    return "is {0!r}, but must be a {1}".format(value, {"str": "string", "bool": "boolean", "int": "whole number",
                                                        "list": "list", "dict": "mapping"}[expected])


def check_bindings(bindings, variable="irsa_bindings"):
    """Raise BindingError for the first binding that is not a mapping of known, well-typed fields with the required ones."""
    if not isinstance(bindings, list):
        raise BindingError("{0}: the role expects the list of bindings (mappings with service_account and role_name), "
                           "got {1}".format(variable, type(bindings).__name__))
    for index, binding in enumerate(bindings):
        where = "{0}[{1}]".format(variable, index)
        if not isinstance(binding, dict):
            raise BindingError("{0} is {1!r}, not a binding: give a mapping with service_account and role_name".format(where, binding))
        where += " ({0})".format(label(binding))
        for field in binding:
            if field not in BINDING_FIELDS:
                raise BindingError("{0}: unknown field {1!r}{2} The fields of a binding are {3}".format(
                    where, field, did_you_mean(str(field), BINDING_FIELDS) or ".", ", ".join(BINDING_FIELDS)))
        for field, (_type, default, _description) in BINDING_FIELDS.items():
            if default is REQUIRED and not binding.get(field) and not binding.get("preset"):
                raise BindingError("{0}: {1} is missing: every binding needs service_account and role_name (its "
                                   "ServiceAccount and its IAM role), or a preset".format(where, field))
            problem = _type_problem(field, binding.get(field))
            if problem:
                raise BindingError("{0}: {1} {2}".format(where, field, problem))


def apply_presets(bindings, cluster_name, variable="irsa_bindings"):
    """The bindings with what their preset gives filled in where the binding says nothing.

    ``namespace`` and ``service_account`` are the add-on chart's defaults, ``role_name`` is ``<cluster>-<preset>``, and
    the preset's ``cluster_name`` option, when it has one, is the binding's cluster.
    """
    check_bindings(bindings, variable)
    result = []
    for index, binding in enumerate(bindings):
        if not binding.get("preset"):
            result.append(binding)
            continue
        where = "{0}[{1}] ({2})".format(variable, index, binding["preset"])
        try:
            preset = catalogue.validate(binding["preset"], _given(binding.get("preset_options")), where + ": preset",
                                        where + ": preset_options")
        except PresetError as e:
            raise BindingError(str(e)) from None
        filled = dict(binding)
        filled.setdefault("namespace", preset.namespace)
        filled["namespace"] = filled["namespace"] or preset.namespace
        filled["service_account"] = binding.get("service_account") or preset.service_account
        if not binding.get("role_name"):
            name = "{0}-{1}".format(cluster_name, preset.name)
            if len(name) > 64:
                raise BindingError(
                    "{0}: the default role name {1!r} is {2} characters, over IAM's 64: set role_name".format(where, name, len(name))
                )
            filled["role_name"] = name
        options = _given(binding.get("preset_options")) or {}
        if any(option.name == "cluster_name" for option in preset.options) and not options.get("cluster_name"):
            options["cluster_name"] = cluster_name
        filled["preset_options"] = options
        result.append(filled)
    return result


def _given(options):
    """The options a user set: None values are the same as absent ones."""
    if not isinstance(options, dict):
        return options
    return {key: value for key, value in options.items() if value is not None}
