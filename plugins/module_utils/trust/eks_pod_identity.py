# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The EKS Pod Identity statement of a role's trust policy: build it, merge it, and say what a trust policy trusts.

EKS Pod Identity assumes a role as the service principal ``pods.eks.amazonaws.com`` with ``sts:AssumeRole`` and
``sts:TagSession`` (the session tags name the cluster, namespace, ServiceAccount and pod)::

    {"Sid": "EksIrsaPodIdentity", "Effect": "Allow",
     "Principal": {"Service": "pods.eks.amazonaws.com"},
     "Action": ["sts:AssumeRole", "sts:TagSession"],
     "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"},
                   "ArnEquals": {"aws:SourceArn": "arn:aws:eks:us-west-2:111122223333:cluster/prod"}}}

A service principal statement cannot be told apart by its shape from one written by hand or by another tool (AWS's
guide writes the same one, with its own Sid), so the collection's statement is the one with the Sid
``EksIrsaPodIdentity``; every other statement that lets ``pods.eks.amazonaws.com`` assume the role is foreign and is
never changed, unless the task adopts it by name (``adopt_statements``). These are not the statements of
``pod_identity.py``, which is about the webhook that injects IRSA's web identity token.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import copy
import re
from collections import namedtuple

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies

from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust

SERVICE_PRINCIPAL = "pods.eks.amazonaws.com"
ACTIONS = ["sts:AssumeRole", "sts:TagSession"]
# The Sid that marks the statement as the collection's (AWS's guide uses AllowEksAuthToAssumeRoleForPodIdentity).
STATEMENT_SID = "EksIrsaPodIdentity"
SOURCE_ACCOUNT_KEY = "aws:SourceAccount"
SOURCE_ARN_KEY = "aws:SourceArn"

_ACCOUNT_ID = re.compile(r"^\d{12}$")
# An EKS cluster name (1 to 100 characters, starting with a letter or digit), with the wildcards of ArnLike.
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z*?][A-Za-z0-9_*?-]{0,99}$")

# What a task asks of the Pod Identity statement: ``state`` present or absent, the conditions (``clusters`` as the
# user wrote them) and whether foreign Pod Identity statements may be replaced or removed.
# ``purge_clusters`` false: the clusters are added to (state present) or taken out of (absent) those of the
# collection's statement, instead of being all of them.
Request = namedtuple("Request", "state source_account clusters adopt_statements purge_clusters")


def parse_request(value):
    """The ``Request`` of the ``pod_identity`` option (a dict, or None when the task leaves Pod Identity alone)."""
    if value is None:
        return None
    state = value.get("state") or "present"
    source_account = value.get("source_account")
    if source_account is not None:
        source_account = str(source_account)
        if not _ACCOUNT_ID.match(source_account):
            raise InputError(
                "pod_identity.source_account {0!r} is not an AWS account ID: give the 12 digits of the account whose "
                "clusters may assume the role (e.g. '111122223333', quoted so that YAML keeps it a string)".format(source_account)
            )
    clusters = list(value.get("clusters") or [])
    for cluster in clusters:
        _check_cluster(cluster)
    purge_clusters = value.get("purge_clusters")
    if purge_clusters is False and not clusters:
        raise InputError(
            "pod_identity.purge_clusters is false but pod_identity.clusters is empty: list the clusters to add to (or, "
            "with state: absent, take out of) the role's Pod Identity statement"
        )
    return Request(state, source_account, clusters, bool(value.get("adopt_statements")), purge_clusters is not False)


def _check_cluster(value):
    if isinstance(value, str) and value.startswith("arn:"):
        try:
            parse_arn(value, service="eks", resource_type="cluster")
        except NamingError as e:
            raise InputError("pod_identity.clusters: {0}".format(e)) from None
        return
    if not isinstance(value, str) or not _CLUSTER_NAME.match(value):
        raise InputError(
            "pod_identity.clusters: {0!r} is neither an EKS cluster name (1 to 100 letters, digits, '-' and '_', "
            "starting with a letter or digit; '*' and '?' as wildcards) nor an EKS cluster ARN "
            "(arn:<partition>:eks:<region>:<account>:cluster/<name>)".format(value)
        )


def cluster_arn(value, partition, region, account_id):
    """The ARN of a cluster given by name (in ``region`` of ``account_id``, partition ``partition``) or by ARN."""
    if value.startswith("arn:"):
        return value
    return "arn:{0}:eks:{1}:{2}:cluster/{3}".format(partition, region, account_id, value)


def statement(source_account=None, cluster_arns=()):
    """The collection's Pod Identity statement, with ``aws:SourceAccount`` and ``aws:SourceArn`` conditions when
    given. Several cluster ARNs go in one list; any wildcard makes the match ``ArnLike`` (an ARN without one matches
    only itself there too)."""
    stmt = {"Sid": STATEMENT_SID, "Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL}, "Action": list(ACTIONS)}
    condition = {}
    if source_account:
        condition["StringEquals"] = {SOURCE_ACCOUNT_KEY: source_account}
    arns = sorted(set(cluster_arns))
    if arns:
        operator = "ArnLike" if any(trust.has_wildcard(arn) for arn in arns) else "ArnEquals"
        condition[operator] = {SOURCE_ARN_KEY: arns[0] if len(arns) == 1 else arns}
    if condition:
        stmt["Condition"] = condition
    return stmt


# ---------------------------------------------------------------------------------------------
# Reading documents


def is_ours(stmt):
    return isinstance(stmt, dict) and stmt.get("Sid") == STATEMENT_SID


def trusts_pods(stmt):
    """Whether ``stmt`` allows the Pod Identity service principal (alone or among others)."""
    principal = stmt.get("Principal")
    if stmt.get("Effect") != "Allow" or not isinstance(principal, dict):
        return False
    return SERVICE_PRINCIPAL in trust.as_list(principal.get("Service"))


def _only_pods(stmt):
    """Whether the Pod Identity service is the statement's only principal (so replacing it drops nobody else)."""
    principal = stmt.get("Principal")
    return set(principal) == {"Service"} and trust.as_list(principal["Service"]) == [SERVICE_PRINCIPAL]


def same_meaning(stmt, other):
    """Whether two statements allow the same, their Sids aside."""
    def bare(item):
        return {"Version": trust.POLICY_VERSION, "Statement": [{key: value for key, value in item.items() if key != "Sid"}]}
    return not compare_policies(bare(stmt), bare(other))


def _ours_view(stmt):
    """The conditions of the collection's statement, as the ``trusts`` return value shows them."""
    accounts = sorted({value for _operator, value in trust.condition_values(stmt, SOURCE_ACCOUNT_KEY)})
    arns = sorted({value for _operator, value in trust.condition_values(stmt, SOURCE_ARN_KEY)})
    return {"source_account": accounts[0] if accounts else None, "cluster_arns": arns}


def trusts(policy):
    """Which mechanisms ``policy`` lets assume the role: the ``trusts`` return value of irsa_role.

    ``irsa``: per OIDC provider and audience, the ServiceAccount subjects of its IRSA statements (in the form the
    collection writes). ``pod_identity``: None when no statement allows ``pods.eks.amazonaws.com``; else whether the
    collection's statement is there (``managed``) with its conditions, and the indexes of the other statements that
    allow it (``foreign_statements``).
    """
    statements = trust.statements_of(policy)
    irsa = []
    for arn in trust.federated_providers(policy):
        for audience in trust.irsa_audiences(statements, arn):
            subjects = trust.provider_subjects(policy, arn, audience)
            if subjects:
                irsa.append({"provider_arn": arn, "audience": audience, "subjects": subjects})
    ours = [stmt for stmt in statements if is_ours(stmt)]
    foreign = [index for index, stmt in enumerate(statements) if trusts_pods(stmt) and not is_ours(stmt)]
    pod_identity = None
    if ours or foreign:
        pod_identity = dict({"managed": bool(ours), "source_account": None, "cluster_arns": []}, foreign_statements=foreign)
        if ours:
            pod_identity.update(_ours_view(ours[0]))
    return {"irsa": irsa, "pod_identity": pod_identity}


# ---------------------------------------------------------------------------------------------
# Merging


def _refusal(index, stmt, request, desired):
    label = trust.statement_label(index, stmt.get("Sid"))
    if request.state == "absent":
        need = "the role would still let EKS Pod Identity assume it after pod_identity.state: absent"
    else:
        need = "it differs from the statement pod_identity asks for ({0})".format(trust.minified(desired))
    if _only_pods(stmt):
        how = ("set pod_identity.adopt_statements: true to {0} it, or drop pod_identity from the task to leave the "
               "role's Pod Identity trust as it is".format("remove" if request.state == "absent" else "replace"))
    else:
        how = ("it also names other principals, so it is not replaced even with pod_identity.adopt_statements: edit it "
               "by hand (or set purge_trust_statements: true to keep only this task's statements), or drop pod_identity "
               "from the task")
    return ConflictError(
        "the trust policy's {0} lets {1} assume the role but was not written by eks.irsa (it has no Sid {2}), so it is "
        "left as it is, and {3}: {4}".format(label, SERVICE_PRINCIPAL, STATEMENT_SID, need, how)
    )


def _cluster_change(policy, request, desired):
    """``(request, desired)`` for ``purge_clusters: false``: the clusters of the collection's statement with the
    requested ones added (state present) or taken out (absent; the statement goes when no cluster is left). A statement
    of ours without an ``aws:SourceArn`` condition allows every cluster already: it is kept as it is."""
    ours = next((stmt for stmt in trust.statements_of(policy) if is_ours(stmt)), None)
    if ours is None:
        return request, desired
    had = _ours_view(ours)
    if not had["cluster_arns"]:
        return request._replace(state="present"), ours
    asked = {value for _operator, value in trust.condition_values(desired, SOURCE_ARN_KEY)}
    source_account = request.source_account or had["source_account"]
    if request.state == "present":
        return request, statement(source_account, set(had["cluster_arns"]) | asked)
    left = [arn for arn in had["cluster_arns"] if arn not in asked]
    if not left:
        return request, None
    return request._replace(state="present"), statement(had["source_account"], left)


def merge(policy, request, desired):
    """``policy`` with the collection's Pod Identity statement as ``request`` wants it (``desired`` when present).

    The collection's statement (by its Sid) is replaced in place, or appended, or removed for ``state: absent``. A
    foreign statement allowing ``pods.eks.amazonaws.com`` is never changed: when it already allows exactly what
    ``desired`` does the collection adds none of its own; otherwise the task is refused (``ConflictError``), unless
    ``adopt_statements`` lets it replace (or remove) foreign statements whose only principal is the Pod Identity
    service. ``policy`` is not modified.
    """
    if not request.purge_clusters:
        request, desired = _cluster_change(policy, request, desired)
    result = copy.deepcopy(policy) if policy else {"Version": trust.POLICY_VERSION}
    statements, placed, satisfied = [], False, False
    for index, stmt in enumerate(trust.statements_of(policy)):
        if is_ours(stmt):
            if request.state == "present" and not placed:
                statements.append(desired)
                placed = True
            continue
        if not trusts_pods(stmt):
            statements.append(stmt)
            continue
        if request.adopt_statements and _only_pods(stmt):
            if request.state == "present" and not placed:
                statements.append(desired)
                placed = True
            continue
        if request.state == "present" and same_meaning(stmt, desired):
            satisfied = True
            statements.append(stmt)
            continue
        raise _refusal(index, stmt, request, desired)
    if request.state == "present" and not placed and not satisfied:
        statements.append(desired)
    result["Statement"] = statements
    return result
