# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The IRSA annotations of a ServiceAccount: what they should be, the patch that gets there, the pods left behind.

The module owns only the keys it manages (the ``eks.amazonaws.com/*`` IRSA annotations and the extra
annotations and labels it is given); every other key (Helm's, operators') is left as it is, so the patch
names only owned keys.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import re

from ansible_collections.eks.irsa.plugins.module_utils.constants import AUDIENCE_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import BOUND_ROLE_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import IRSA_ANNOTATIONS
from ansible_collections.eks.irsa.plugins.module_utils.constants import MANAGED_BY_LABEL
from ansible_collections.eks.irsa.plugins.module_utils.constants import MANAGED_BY_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import STS_REGIONAL_ENDPOINTS_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import TOKEN_EXPIRATION_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import TOKEN_EXPIRATION_MAX
from ansible_collections.eks.irsa.plugins.module_utils.constants import TOKEN_EXPIRATION_MIN
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import is_dns1123_label
from ansible_collections.eks.irsa.plugins.module_utils.naming import is_dns1123_subdomain
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import pods_with_old_identity


def check_names(namespace, name):
    """Kubernetes' rules: a namespace is a DNS-1123 label, a ServiceAccount name a DNS-1123 subdomain."""
    if not is_dns1123_label(namespace):
        raise NamingError(
            "namespace {0!r} is not a valid Kubernetes namespace: at most 63 lower-case letters, digits and '-', "
            "starting and ending with a letter or digit".format(namespace)
        )
    if not is_dns1123_subdomain(name):
        raise NamingError(
            "name {0!r} is not a valid ServiceAccount name: at most 253 lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit".format(name)
        )


_KEY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_KEY_RULE = ("an optional DNS subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_' and '.' "
             "that starts and ends with a letter or digit (e.g. example.com/team)")


def _key_problem(key):
    prefix, _slash, name = key.rpartition("/")
    if _slash and not is_dns1123_subdomain(prefix):
        return True
    return len(name) > 63 or not _KEY_NAME.match(name)


def check_metadata(annotations, labels):
    """Annotation and label keys, and label values, as the API server validates them (it answers 422 otherwise)."""
    for field, mapping in (("annotations", annotations or {}), ("labels", labels or {})):
        for key in mapping:
            if not isinstance(key, str) or _key_problem(key):
                raise NamingError("{0} key {1!r} is not a valid Kubernetes key: it must be {2}".format(field, key, _KEY_RULE))
    for key, value in (labels or {}).items():
        text = str(value)
        if len(text) > 63 or not _LABEL_VALUE.match(text):
            raise NamingError(
                "label {0}={1!r} has a value Kubernetes refuses: at most 63 letters, digits, '-', '_' and '.', starting "
                "and ending with a letter or digit (or empty)".format(key, text)
            )


def check_owned_annotations(wanted, extra):
    """``extra`` (the annotations option) must not contradict what the options set (``wanted``, ``remove``)."""
    wanted, remove = wanted
    for key in IRSA_ANNOTATIONS:
        if key not in (extra or {}):
            continue
        if (key in wanted and str(extra[key]) != wanted[key]) or key in remove:
            option = {ROLE_ARN_ANNOTATION: "role_arn", AUDIENCE_ANNOTATION: "audience",
                      STS_REGIONAL_ENDPOINTS_ANNOTATION: "sts_regional_endpoints",
                      TOKEN_EXPIRATION_ANNOTATION: "token_expiration"}[key]
            says = "{0!r}".format(wanted[key]) if key in wanted else "{0!r}, the default, which removes it".format(DEFAULT_AUDIENCE)
            raise NamingError(
                "annotations sets {0} to {1!r}, but {2} says {3}: {2} owns that annotation, so remove {0} from "
                "annotations".format(key, str(extra[key]), option, says)
            )


def check_role_arn(role_arn):
    try:
        parse_arn(role_arn, service="iam", resource_type="role")
    except NamingError as e:
        raise NamingError(
            "role_arn {0!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>): {1}".format(role_arn, e)
        ) from None


def check_token_expiration(seconds):
    if seconds is not None and not TOKEN_EXPIRATION_MIN <= seconds <= TOKEN_EXPIRATION_MAX:
        raise NamingError(
            "token_expiration {0} is out of range: the pod identity webhook accepts {1} to {2} seconds".format(
                seconds, TOKEN_EXPIRATION_MIN, TOKEN_EXPIRATION_MAX
            )
        )


def desired_annotations(role_arn, audience=None, sts_regional_endpoints=None, token_expiration=None, extra=None):
    """``(set, remove)``: the annotations to have, and the owned ones to remove.

    ``None`` options are left alone; the default audience is expressed by the annotation's absence.
    """
    wanted = dict(extra or {})
    remove = []
    wanted[ROLE_ARN_ANNOTATION] = role_arn
    if audience is not None:
        if audience == DEFAULT_AUDIENCE:
            remove.append(AUDIENCE_ANNOTATION)
        else:
            wanted[AUDIENCE_ANNOTATION] = audience
    if sts_regional_endpoints is not None:
        wanted[STS_REGIONAL_ENDPOINTS_ANNOTATION] = "true" if sts_regional_endpoints else "false"
    if token_expiration is not None:
        wanted[TOKEN_EXPIRATION_ANNOTATION] = str(token_expiration)
    return {key: str(value) for key, value in wanted.items()}, remove


def metadata_patch(current, annotations=None, remove_annotations=(), labels=None):
    """The merge patch that brings ``current`` metadata to the wanted keys, or ``{}`` when nothing changes.

    Only the keys named are touched: ``None`` in a merge patch removes a key, absence leaves it.
    """
    current = current or {}
    patch = {}
    for field, wanted, remove in (("annotations", annotations or {}, remove_annotations), ("labels", labels or {}, ())):
        existing = current.get(field) or {}
        changes = {key: value for key, value in wanted.items() if existing.get(key) != value}
        changes.update({key: None for key in remove if key in existing})
        if changes:
            patch[field] = changes
    return {"metadata": patch} if patch else {}


def apply_patch(metadata, patch):
    """What ``metadata`` becomes under a merge ``patch`` (for check mode and diff)."""
    result = {"annotations": dict(metadata.get("annotations") or {}), "labels": dict(metadata.get("labels") or {})}
    for field, changes in (patch.get("metadata") or {}).items():
        for key, value in changes.items():
            if value is None:
                result[field].pop(key, None)
            else:
                result[field][key] = value
    return result


def irsa_removal(metadata):
    """The IRSA annotations present on ``metadata``, and our record of the role (removed by ``state=absent``)."""
    annotations = (metadata or {}).get("annotations") or {}
    return [key for key in IRSA_ANNOTATIONS + (BOUND_ROLE_ANNOTATION,) if key in annotations]


def role_annotation(metadata):
    """``(role ARN, ours)``: the ServiceAccount's role annotation, and whether this collection set it (the ARN
    it recorded in BOUND_ROLE_ANNOTATION is the one there now; a hand edit since then makes it someone else's)."""
    annotations = (metadata or {}).get("annotations") or {}
    role_arn = annotations.get(ROLE_ARN_ANNOTATION)
    return role_arn, role_arn is not None and annotations.get(BOUND_ROLE_ANNOTATION) == role_arn


def same_role(arn, other):
    """Whether two role ARNs name the same role: partition, account and name (a path does not make another role)."""
    try:
        first, second = parse_arn(arn, service="iam"), parse_arn(other, service="iam")
    except NamingError:
        return arn == other
    return all(first[key] == second[key] for key in ("partition", "account_id")) and (
        first["resource"].rsplit("/", 1)[-1] == second["resource"].rsplit("/", 1)[-1])


def unused_after(metadata, removal):
    """Whether a ServiceAccount this collection created has nothing but its own marks left once ``removal`` goes."""
    labels = dict((metadata or {}).get("labels") or {})
    if labels.pop(MANAGED_BY_LABEL, None) != MANAGED_BY_VALUE or labels:
        return False
    annotations = (metadata or {}).get("annotations") or {}
    return not [key for key in annotations if key not in removal]


def pods_to_restart(pods, role_arn):
    """Running (or pending) pods that keep an old identity: not mutated for ``role_arn`` (or for none, when removing)."""
    found = []
    for pod, problems in pods_with_old_identity(pods, role_arn):
        metadata = pod.get("metadata") or {}
        owner = (metadata.get("ownerReferences") or [{}])[0]
        found.append(
            {
                "name": metadata.get("name"),
                "namespace": metadata.get("namespace"),
                "owner_kind": owner.get("kind", ""),
                "owner_name": owner.get("name", ""),
                "reason": "; ".join(problems),
            }
        )
    return found
