# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a preset is: the role of a well-known add-on, its ServiceAccount and its policy, with scoping options.

A preset names the namespace and ServiceAccount of the add-on's chart, the AWS managed policies to attach
(by ARN, never copied) and, where AWS publishes none, a policy generated from the one the add-on's project
publishes, with the user's scoping applied. Where a scoping option is unset the generated policy keeps the
project's wildcard, and the expansion says so in a warning that names the option.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError

POLICY_VERSION = "2012-10-17"
INLINE_POLICY_PREFIX = "eks-irsa-preset-"

_TYPES = {"list": list, "str": str, "bool": bool}


class PresetError(InputError):
    """A preset or a preset option the collection cannot use; the message says which and how to fix it."""


class Context(object):
    """Where the policy is used: partition, its DNS suffix, region, account and the cluster's name."""

    def __init__(self, partition, dns_suffix, region, account_id, cluster_name=None):
        self.partition = partition
        self.dns_suffix = dns_suffix
        self.region = region
        self.account_id = account_id
        self.cluster_name = cluster_name

    def require(self, field, preset, option=None):
        """The context's ``field`` (``region``, ``account_id``, ``cluster_name``), or a PresetError saying how to give it."""
        value = getattr(self, field)
        if value:
            return value
        hint = {
            "region": "set the region (the module's region option or AWS_REGION)",
            "account_id": "give the OIDC provider as an ARN or set cluster_name",
            "cluster_name": "set preset_options.cluster_name (or the module's cluster_name)",
        }[field]
        raise PresetError("preset {0} needs the {1} for its policy: {2}".format(preset, field.replace("_", " "), hint))

    def arn(self, service, resource, region="", account=""):
        """``arn:<partition>:<service>:<region>:<account>:<resource>``."""
        return "arn:{0}:{1}:{2}:{3}:{4}".format(self.partition, service, region, account, resource)

    def principal(self, service):
        """A service principal in this partition, e.g. ``elasticloadbalancing.amazonaws.com``."""
        return "{0}.{1}".format(service, self.dns_suffix)


@dataclass(eq=False)
class Option:
    """A scoping option of a preset.

    ``type`` is ``list`` (of strings), ``str`` or ``bool``. ``unset`` says, for the warning, what the policy allows
    when the option is not given (e.g. ``"every hosted zone"``); None for options whose absence is not a widening.
    """

    name: str
    type: str
    description: str
    unset: str | None = None
    default: object = None
    example: object = None


def cluster_name_option(what):
    """The ``cluster_name`` option of presets whose policy names the cluster (``what`` says where)."""
    return Option(
        "cluster_name", "str",
        "The EKS cluster whose {0} the add-on manages; by default the cluster of the binding (the role's "
        "C(irsa_cluster_name), the module's O(cluster_name)).".format(what),
        example="prod-eu",
    )


@dataclass(eq=False)
class Preset:
    """A well-known add-on.

    ``managed``: AWS managed policies as ``path/name`` below ``arn:<partition>:iam::aws:policy/`` (e.g.
    ``service-role/AmazonEBSCSIDriverPolicy``), or a callable ``(options) -> list`` of them.
    ``policy``: None, or a callable ``(context, options, scope) -> list of statements`` building the generated
    policy; ``scope`` is a :class:`Scope` that returns an option's value or records the wildcard it falls back to.
    ``source``: where the policy and the ServiceAccount come from: ``project``, ``version``, ``url``.
    """

    name: str
    summary: str
    namespace: str
    service_account: str
    source: dict
    managed: object = ()
    policy: object = None
    options: list = ()

    def __post_init__(self):
        self.options = list(self.options)

    @property
    def inline_policy_name(self):
        return INLINE_POLICY_PREFIX + self.name


class Scope(object):
    """The options given to one expansion, and the warnings for the ones that fell back to a wildcard."""

    def __init__(self, preset, options):
        self.preset = preset
        self.options = options
        self.warnings = []
        self._specs = {option.name: option for option in preset.options}
        self._warned = set()

    def get(self, name, fallback=None):
        """The option's value; when unset, ``fallback`` (a wildcard), with a warning when the option declares one."""
        spec = self._specs[name]
        value = self.options.get(name)
        if value is None or value == []:
            if spec.unset and fallback is not None and name not in self._warned:
                self._warned.add(name)
                self.warnings.append(
                    "preset {0}: preset_options.{1} is not set, so the policy allows {2} ({3}); set {1} to "
                    "scope it".format(self.preset.name, name, spec.unset, _show(fallback))
                )
            return spec.default if fallback is None else fallback
        return value


def _show(value):
    return ", ".join(value) if isinstance(value, list) else str(value)


def statement(sid, actions, resources="*", condition=None, effect="Allow"):
    """One policy statement; a single action or resource is written as a string."""
    actions = sorted(set(actions)) if isinstance(actions, (list, tuple, set)) else actions
    result = {"Sid": sid, "Effect": effect, "Action": actions[0] if isinstance(actions, list) and len(actions) == 1 else actions}
    if isinstance(resources, (list, tuple)):
        resources = list(dict.fromkeys(resources))
        resources = resources[0] if len(resources) == 1 else resources
    result["Resource"] = resources
    if condition:
        result["Condition"] = condition
    return result


def document(statements):
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


_SID = re.compile(r"^[A-Za-z0-9]*$")


def check_statements(preset, statements):
    """Programming errors in a preset's generator, caught by the unit tests rather than by IAM."""
    sids = [item.get("Sid", "") for item in statements]
    if any(not _SID.match(sid) for sid in sids) or len(set(sids)) != len(sids):
        raise AssertionError("preset {0}: Sids must be unique and alphanumeric: {1}".format(preset.name, sids))


def check_option_types(preset, options, where):
    """Refuse unknown options and wrong types, naming ``where`` (e.g. ``preset_options``)."""
    specs = {option.name: option for option in preset.options}
    for name, value in options.items():
        if name not in specs:
            known = ", ".join(sorted(specs)) or "none"
            raise PresetError(
                "{0}.{1} is not an option of preset {2}: its options are {3}".format(where, name, preset.name, known)
            )
        if value is None:
            continue
        spec = specs[name]
        if not isinstance(value, _TYPES[spec.type]) or (spec.type == "list" and not all(isinstance(item, str) and item for item in value)):
            raise PresetError(
                "{0}.{1} of preset {2} must be {3}, not {4!r}".format(
                    where, name, preset.name,
                    {"list": "a list of non-empty strings", "str": "a string", "bool": "true or false"}[spec.type], value,
                )
            )
