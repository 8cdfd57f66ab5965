# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What irsa_role makes of an IAM role: the request its options make, the role as IAM has it, and the plan.

``validate`` checks every option that needs no AWS call and returns the request; ``read_role`` reads the role;
``Resolver`` turns cluster, provider and policy names into ARNs; ``plan_present`` computes the role the task wants
and the changes that make it, one function per aspect (trust, managed policies, permissions boundary, inline
policies, attributes, tags), then checks ownership and that what the role will name exists. Every check that can
fail happens here, before any write; the views (``role_result``, the diff) are what the module returns.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import functools
import json
from collections import namedtuple

try:
    import botocore.session
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore.

from ansible_collections.amazon.aws.plugins.module_utils.iam import validate_iam_identifiers
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.eks.irsa.plugins.module_utils import aws as irsa_aws
from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import iam as irsa_iam
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.trust import eks_pod_identity
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_KEY
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import account_of_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_issuer
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_oidc_provider
from ansible_collections.eks.irsa.plugins.module_utils.naming import partition_for_region
from ansible_collections.eks.irsa.plugins.module_utils.naming import provider_arn
from ansible_collections.eks.irsa.plugins.module_utils.presets import catalogue as presets
from ansible_collections.eks.irsa.plugins.module_utils.presets.base import INLINE_POLICY_PREFIX
from ansible_collections.eks.irsa.plugins.module_utils.presets.base import Context as PresetContext

# IAM's limit for all inline policies of one role together, in characters without white space.
INLINE_POLICIES_SIZE_LIMIT = 10240
_NAME_RULE = "1 to 64 characters: letters, digits and + = , . @ _ -"
_POLICY_NAME_RULE = "1 to 128 characters: letters, digits and + = , . @ _ -"

# A provider the task manages: the option's value (``provider``), named in errors by ``option``.
TrustRequest = namedtuple("TrustRequest", "provider subjects audience state option")
# A managed policy given by ARN (``name`` None) or by name (``arn`` None).
PolicyReference = namedtuple("PolicyReference", "arn name")

# The result of planning: whether anything changes, the changes (what ``apply`` writes), the desired role (its
# result view) and the diff.
Plan = namedtuple("Plan", "changed changes desired diff")
TrustPlan = namedtuple("TrustPlan", "providers current desired changed pod_identity")
# The task's ``eks_pod_identity.Request`` and the statement it wants (None for state absent).
PodIdentityPlan = namedtuple("PodIdentityPlan", "request statement")
ManagedPlan = namedtuple("ManagedPlan", "desired attach detach")
BoundaryPlan = namedtuple("BoundaryPlan", "current desired")
# ``put`` maps names to documents; ``before``/``after`` are the documents the diff shows (None when not managed).
InlinePlan = namedtuple("InlinePlan", "desired put delete before after")
AttributesPlan = namedtuple("AttributesPlan", "description max_session_duration update")
TagsPlan = namedtuple("TagsPlan", "desired to_set to_unset")


# ---------------------------------------------------------------------------------------------
# the request (no I/O)


def _check_identifiers(name, path):
    if not name.isascii() or validate_iam_identifiers("role", name=name):
        raise InputError(
            "name {0!r} is not a valid IAM role name ({1} characters): use {2}".format(name, len(name), _NAME_RULE)
        )
    problem = validate_iam_identifiers("role", path=path)
    if problem or not path.isascii():
        raise InputError(
            "path {0!r} is not a valid IAM path: it must begin and end with '/' and contain only letters, digits "
            "and + = , . @ _ - between the slashes (e.g. / or /irsa/)".format(path)
        )


def _parse_policy_document(name, document):
    where = "inline policy {0!r}".format(name)
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as e:
            raise InputError(
                "{0} is not valid JSON ({1}): give the document as a dict or as a JSON string".format(where, e)
            ) from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise InputError(
            "{0} is not a policy document: it must be an object with a Statement (and usually Version "
            "\"2012-10-17\")".format(where)
        )
    return document


def _parse_inline_policies(inline_policies):
    if inline_policies is None:
        return None
    documents = {}
    for name, document in inline_policies.items():
        if not isinstance(name, str) or not name or len(name) > 128 or not name.isascii() or \
                validate_iam_identifiers("policy", name=name):
            raise InputError("inline policy name {0!r} is not valid: use {1}".format(name, _POLICY_NAME_RULE))
        documents[name] = _parse_policy_document(name, document)
    return documents


def _parse_policy_reference(value, option):
    if not isinstance(value, str) or not value:
        raise InputError("{0}: {1!r} is neither a managed policy ARN nor a policy name".format(option, value))
    if value.startswith("arn:"):
        try:
            parse_arn(value, service="iam", resource_type="policy")
        except NamingError as e:
            raise InputError(
                "{0}: {1!r} is not a managed policy ARN (arn:<partition>:iam::<account or aws>:policy/<path><name>): "
                "{2}".format(option, value, e)
            ) from None
        return PolicyReference(value, None)
    if len(value) > 128 or not value.isascii() or validate_iam_identifiers("policy", name=value):
        raise InputError(
            "{0}: {1!r} is not a valid managed policy name ({2}); give the policy name or its ARN".format(
                option, value, _POLICY_NAME_RULE
            )
        )
    return PolicyReference(None, value)


def _provider_requests(params, audience, pod_identity):
    """The ``TrustRequest`` of each entry of ``oidc_providers``."""
    if params["service_accounts"] is not None:
        raise InputError(
            "service_accounts and oidc_providers are mutually exclusive: with oidc_providers, give "
            "service_accounts in each entry"
        )
    requests = []
    for index, entry in enumerate(params["oidc_providers"]):
        label = "oidc_providers[{0}]".format(index)
        state = entry.get("state") or "present"
        service_accounts = entry.get("service_accounts")
        if state == "present" and not service_accounts:
            raise InputError(
                "{0} ({1}) has no service_accounts: list the ServiceAccounts it trusts as namespace:name, "
                "or set state: absent to remove its statement".format(label, entry.get("provider"))
            )
        subjects = _subjects(service_accounts, label) if state == "present" else []
        requests.append(TrustRequest(entry["provider"], subjects, entry.get("audience") or audience, state, label))
    trusts_pods = pod_identity is not None and pod_identity.state == "present"
    if params["state"] == "present" and not trusts_pods and not any(request.state == "present" for request in requests):
        raise InputError(
            "oidc_providers has no provider with state present: a role needs one to be trusted, or pod_identity "
            "(state: present) for EKS Pod Identity"
        )
    return requests


def _trust_requests(params, pod_identity=None):
    """The providers the task manages, as ``TrustRequest``s; none when ``pod_identity`` (the task's
    ``eks_pod_identity.Request``) is what the role trusts and no ServiceAccount is given."""
    audience = params["audience"] or DEFAULT_AUDIENCE
    if params["oidc_providers"] is not None:
        return _provider_requests(params, audience, pod_identity)
    source = params["oidc_provider"] if params["oidc_provider"] is not None else params["cluster_name"]
    option = "oidc_provider" if params["oidc_provider"] is not None else "cluster_name"
    if pod_identity is not None and not params["service_accounts"] and params["oidc_provider"] is None:
        # A role for EKS Pod Identity only: cluster_name, if given, is the preset's cluster, not an IRSA trust.
        return []
    if source is None:
        raise InputError(
            "state is present but no trust is given: set oidc_provider (or cluster_name) with service_accounts, "
            "oidc_providers for a role trusted by several clusters, or pod_identity for EKS Pod Identity"
        )
    if not params["service_accounts"]:
        raise InputError(
            "service_accounts is empty: list the ServiceAccounts that may assume the role, as namespace:name "
            "(e.g. default:my-app); to delete the role use state: absent"
        )
    return [TrustRequest(source, _subjects(params["service_accounts"], "service_accounts"), audience, "present", option)]


def _subjects(service_accounts, option):
    try:
        return trust.subjects(service_accounts)
    except trust.TrustError as e:
        raise InputError("{0}: {1}".format(option, e)) from None


def _check_limits(params):
    duration = params["max_session_duration"]
    if duration is not None and not 3600 <= duration <= 43200:
        raise InputError(
            "max_session_duration {0} is out of range: IAM accepts 3600 to 43200 seconds (1 to 12 hours)".format(duration)
        )
    if params["trust_policy_size_limit"] < 1:
        raise InputError("trust_policy_size_limit must be a positive number of characters (IAM's default is 2048)")


def _preset_request(params, inline_policies):
    """``(preset name, options)`` of the task's preset, checked against its options and the inline policies given."""
    options = {key: value for key, value in (params["preset_options"] or {}).items() if value is not None}
    preset = presets.validate(params["preset"], options)
    if preset.inline_policy_name in (inline_policies or {}):
        raise InputError(
            "inline_policies: {0!r} is the name of the policy of preset {1}: give your own policy another "
            "name".format(preset.inline_policy_name, preset.name)
        )
    return preset.name, options


def validate(params):
    """Check every input that needs no AWS call; return the parsed request."""
    _check_identifiers(params["name"], params["path"])
    _check_limits(params)
    request = {"name": params["name"], "path": params["path"]}
    pod_identity = eks_pod_identity.parse_request(params["pod_identity"])
    if params["state"] == "absent":
        # With ServiceAccounts, state=absent removes them from the trust; the role goes only when nothing is left.
        if any(params[option] is not None for option in ("oidc_provider", "cluster_name", "oidc_providers")):
            request["unbind"] = _trust_requests(params, pod_identity)
        if pod_identity is not None:
            # With pod_identity, state=absent removes the collection's Pod Identity statement (whatever its state).
            request.setdefault("unbind", [])
            request["pod_identity"] = pod_identity._replace(state="absent")
        return request
    request["pod_identity"] = pod_identity
    request["trust"] = _trust_requests(params, pod_identity)
    for entry in request["trust"]:
        if entry.option == "cluster_name":
            continue
        try:
            parse_oidc_provider(entry.provider)
        except NamingError as e:
            raise InputError("{0}: {1}".format(entry.option, e)) from None
    if params["managed_policies"] is not None:
        request["managed_policies"] = [_parse_policy_reference(item, "managed_policies") for item in params["managed_policies"]]
    boundary = params["permissions_boundary"]
    if boundary:
        request["permissions_boundary"] = _parse_policy_reference(boundary, "permissions_boundary")
    request["inline_policies"] = _parse_inline_policies(params["inline_policies"])
    if params["preset"]:
        request["preset"] = _preset_request(params, request["inline_policies"])
    elif params["preset_options"]:
        raise InputError("preset_options is given without a preset: name the preset they scope (preset)")
    return request


# ---------------------------------------------------------------------------------------------
# reading and resolving


def read_role(client, name, managed=True, inline=True):
    """The role, or None: one read, plus one each for the attached (``managed``) and the inline (``inline``)
    policy names. What is not read is None."""
    role = irsa_iam.get_role(client, name)
    if role is None:
        return None
    attached = irsa_iam.list_attached_policies(client, name) if managed else None
    return {
        "role": role,
        "trust_policy": role["AssumeRolePolicyDocument"],
        "attached": None if attached is None else {item["PolicyArn"]: item["PolicyName"] for item in attached},
        "inline_names": sorted(irsa_iam.list_inline_policy_names(client, name)) if inline else None,
        "tags": boto3_tag_list_to_ansible_dict(role.get("Tags") or []),
        "permissions_boundary": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
    }


def is_owned(current):
    """Whether the collection created this role (``read_role``'s answer)."""
    return current is not None and irsa_iam.is_owned(current["role"])


class Resolver:
    """Turns names (clusters, providers, policies) into ARNs, each AWS read made at most once per module run
    (shared by the items of a batch through the module's ``cache``)."""

    def __init__(self, module, iam_client, current):
        self.module = module
        self.iam = iam_client
        self.current = current
        self.cache = getattr(module, "cache", None) or batch.OnceCache()
        self._account = None

    def account(self):
        """The ``Account`` of the role: of its ARN, a provider's or cluster's ARN, else of the caller."""
        if self._account is None:
            if self.current is not None:
                self._account = account_of_arn(self.current["role"]["Arn"])
            else:
                self._account = self.cache.get(
                    ("account",), lambda: account_of_arn(irsa_aws.caller_identity(self.module.client("sts"))["arn"]))
        return self._account

    def _cluster(self, cluster_name):
        cluster = irsa_aws.lookup_cluster(self.module.client("eks"), cluster_name, self.module.region)
        try:
            issuer = parse_issuer(irsa_aws.cluster_issuer_url(cluster))
        except NamingError as e:
            raise InputError("cluster_name: {0}".format(e)) from None
        return issuer, account_of_arn(cluster["arn"])

    def cluster_provider(self, cluster_name):
        issuer, account = self.cache.get(("cluster", cluster_name), lambda: self._cluster(cluster_name))
        if self._account is None:
            self._account = account
        return provider_arn(issuer.provider, self._account.account_id, issuer.partition)

    def provider(self, value, option):
        """The provider ARN of an option's value; ``option`` names the option in the error."""
        if option == "cluster_name":
            return self.cluster_provider(value)
        try:
            issuer, arn = parse_oidc_provider(value)
        except NamingError as e:
            raise InputError("{0}: {1}".format(option, e)) from None
        if arn is not None:
            if self._account is None:
                # A role trusts only OIDC providers of its own account: no GetCallerIdentity needed.
                self._account = account_of_arn(arn)
            return arn
        return provider_arn(issuer.provider, self.account().account_id, issuer.partition)

    def _all_policies(self):
        policies = {}
        for policy in irsa_iam.list_managed_policies(self.iam):
            policies.setdefault(policy["PolicyName"], []).append(policy["Arn"])
        return policies

    def _policies_named(self, name):
        return sorted(self.cache.get(("policies",), self._all_policies).get(name, []))

    def policy_arn(self, reference, option, known=()):
        """ARN of a ``PolicyReference``; ``known`` are ARNs the role already uses (no read needed)."""
        if reference.arn is not None:
            return reference.arn
        name = reference.name
        matches = sorted({item for item in known if item.rsplit("/", 1)[-1] == name})
        if len(matches) != 1:
            matches = self._policies_named(name)
        if not matches:
            raise InputError(
                "{0}: no managed policy named {1!r} exists in this account or among the AWS managed policies: "
                "check the spelling, create the policy first (amazon.aws.iam_managed_policy), or give its ARN".format(option, name)
            )
        if len(matches) > 1:
            raise InputError(
                "{0}: the policy name {1!r} is ambiguous ({2}): give the ARN of the one you mean".format(
                    option, name, ", ".join(matches)
                )
            )
        return matches[0]


@functools.lru_cache(maxsize=None)
def _dns_suffix(partition):
    """The partition's DNS suffix from botocore's endpoint data, read once per partition (not once per role)."""
    resolver = botocore.session.get_session()._get_internal_component("endpoint_resolver")
    return resolver.get_partition_dns_suffix(partition)


def expand_preset(module, resolver, request):
    """The policies of the role's preset, built for its partition, region, account and cluster; warns of wildcards."""
    name, options = request["preset"]
    account = resolver.account()
    context = PresetContext(account.partition, _dns_suffix(account.partition), module.region, account.account_id,
                            options.get("cluster_name") or module.params["cluster_name"])
    expansion = presets.expand(name, options, context)
    for warning in expansion["warnings"]:
        module.warn(warning)
    return expansion


# ---------------------------------------------------------------------------------------------
# planning, one aspect at a time


def check_trust_size(document, limit):
    """Refuse a trust policy over ``limit`` characters (without white space), saying how to shrink it."""
    size = trust.minified_size(document)
    if size > limit:
        raise InputError(
            "the trust policy would be {0} characters without white space, over the limit of {1}: IAM would reject it. "
            "Shrink it: merge ServiceAccounts under a wildcard (e.g. prod:* or prod:app-*, a StringLike match), "
            "drop statements that are no longer needed (purge_trust_statements), split the ServiceAccounts across a "
            "second role, or ask for a higher 'Role trust policy length' quota (up to 4096) and raise "
            "trust_policy_size_limit to match".format(size, limit)
        )


def _check_path(request, current):
    if current is not None and current["role"]["Path"] != request["path"]:
        raise ConflictError(
            "role {0!r} exists with path {1!r}, not {2!r}: IAM cannot change the path of a role; set path: {1} "
            "or delete the role (state: absent) and create it again".format(request["name"], current["role"]["Path"], request["path"])
        )


def plan_trust(params, resolver, request, current):
    """The trust policy with the task's providers merged in (or purged, as the options say), and its Pod Identity
    statement as ``pod_identity`` asks."""
    providers = {}
    for entry in request["trust"]:
        arn = resolver.provider(entry.provider, entry.option)
        if arn in providers:
            raise InputError(
                "{0}: provider {1} is listed twice: give each provider once, with all its service_accounts".format(entry.option, arn)
            )
        providers[arn] = {"subjects": entry.subjects, "audience": entry.audience, "state": entry.state}
    current_trust = current["trust_policy"] if current else None
    pod_identity = pod_identity_plan(resolver, request.get("pod_identity"))
    desired = merged_trust(current_trust, providers, pod_identity, params["purge_service_accounts"], params["purge_trust_statements"])
    if not trust.statements_of(desired):
        raise InputError(
            "role {0!r} would trust nobody: its trust policy would have no statement left. Give it something to trust "
            "(service_accounts, oidc_providers or pod_identity with state: present), or delete it with state: "
            "absent".format(request["name"])
        )
    check_trust_size(desired, params["trust_policy_size_limit"])
    return TrustPlan(providers, current_trust, desired, current is None or compare_policies(current_trust, desired), pod_identity)


def pod_identity_plan(resolver, request):
    """The ``PodIdentityPlan`` of the task's Pod Identity request: the statement it wants, the cluster names made ARNs
    in the module's region, the role's account and the region's partition; None when the task leaves Pod Identity
    alone."""
    if request is None:
        return None
    if request.state == "absent" and request.purge_clusters:
        return PodIdentityPlan(request, None)
    # With purge_clusters false, state absent names the clusters to take out of the statement.
    arns = list(request.clusters)
    if any(not cluster.startswith("arn:") for cluster in request.clusters):
        region = resolver.module.region
        try:
            partition = partition_for_region(region)
        except NamingError as e:
            raise InputError("pod_identity.clusters names clusters by name: {0}".format(e)) from None
        account_id = resolver.account().account_id
        arns = [eks_pod_identity.cluster_arn(cluster, partition, region, account_id) for cluster in request.clusters]
    return PodIdentityPlan(request, eks_pod_identity.statement(request.source_account, arns))


def merged_trust(current_trust, providers, pod_identity, purge_subjects, purge_statements):
    """The trust policy with the IRSA statements of ``providers`` merged in (``trust.merge_trust_policy``), then the
    collection's Pod Identity statement as ``pod_identity`` (a ``PodIdentityPlan`` or None) wants it."""
    desired = trust.merge_trust_policy(current_trust, providers, purge_subjects=purge_subjects, purge_statements=purge_statements)
    if pod_identity is None:
        return desired
    return eks_pod_identity.merge(desired, pod_identity.request, pod_identity.statement)


def plan_managed(params, resolver, request, current, preset):
    """The managed policies (read only when the task manages them); a preset's are attached, and detach nothing
    else."""
    attached = sorted(current["attached"] or []) if current else []
    preset_managed = set(preset["managed_policies"]) if preset else set()
    if "managed_policies" in request:
        given = {resolver.policy_arn(ref, "managed_policies", attached) for ref in request["managed_policies"]}
        wanted = sorted(given | preset_managed)
        desired = wanted if params["purge_managed_policies"] else sorted(set(wanted) | set(attached))
    else:
        desired = sorted(set(attached) | preset_managed)
    attach = [arn for arn in desired if arn not in attached]
    detach = [arn for arn in attached if arn not in desired]
    if current is not None and current["attached"] is None:
        desired = None  # not read: unknown
    return ManagedPlan(desired, attach, detach)


def plan_boundary(params, resolver, request, current):
    current_boundary = current["permissions_boundary"] if current else None
    desired = current_boundary
    if params["permissions_boundary"] == "":
        desired = None
    elif "permissions_boundary" in request:
        desired = resolver.policy_arn(
            request["permissions_boundary"], "permissions_boundary", [current_boundary] if current_boundary else []
        )
    return BoundaryPlan(current_boundary, desired)


def _inline_given(params, request, current, preset):
    """``(documents, replaced)``: the inline policies the task gives (its preset's among them, None when it manages
    none), and the names of the policies of another preset that go."""
    given = request["inline_policies"]
    if preset and preset["inline_policy"]:
        given = dict(given or {}, **{preset["inline_policy_name"]: preset["inline_policy"]})
        size = sum(trust.minified_size(document) for document in given.values())
        if size > INLINE_POLICIES_SIZE_LIMIT:
            raise InputError(
                "the inline policies of role {0!r} would be {1} characters (without white space), over IAM's limit of "
                "{2} for a role's inline policies: move inline_policies into a managed policy (managed_policies) or "
                "give the preset its own role".format(request["name"], size, INLINE_POLICIES_SIZE_LIMIT)
            )
    # The policy of another preset, on a role of ours, is what this collection put there for the preset the role had
    # before: it goes, so that changing the preset (say, to the target-group-only variant) narrows the role.
    replaced = []
    if preset and (is_owned(current) or params["adopt"]):
        replaced = [policy_name for policy_name in ((current["inline_names"] or []) if current else [])
                    if policy_name.startswith(INLINE_POLICY_PREFIX) and policy_name not in (given or {})]
    if replaced and given is None:
        given = {}
    return given, replaced


def plan_inline(params, iam_client, request, current, preset):
    """The inline policies; documents are read only for the names given (and those to delete, for the diff)."""
    name = request["name"]
    purge = params["purge_inline_policies"] and request["inline_policies"] is not None
    given, replaced = _inline_given(params, request, current, preset)
    current_inline = (current["inline_names"] or []) if current else []
    before = after = None
    put, delete = [], []
    if given is not None:
        before = {}
        for policy_name in given:
            if policy_name in current_inline:
                document = irsa_iam.get_role_policy(iam_client, name, policy_name)
                if document is not None:
                    before[policy_name] = document
        put = sorted(
            policy_name for policy_name, document in given.items()
            if policy_name not in before or compare_policies(before[policy_name], document)
        )
        if purge:
            delete = sorted(policy_name for policy_name in current_inline if policy_name not in given)
        delete = sorted(set(delete) | set(replaced))
        after = dict(given)
        for policy_name in delete:
            before[policy_name] = irsa_iam.get_role_policy(iam_client, name, policy_name)
    desired = sorted((set(current_inline) - set(delete)) | set(given or {}))
    if current is not None and current["inline_names"] is None and given is None:
        desired = None  # not read: unknown
    return InlinePlan(desired, {policy_name: given[policy_name] for policy_name in put}, delete, before, after)


def plan_attributes(params, current):
    """Description and maximum session duration: what the role will have, and the UpdateRole arguments."""
    role = current["role"] if current else {}
    update = {}
    description = params["description"]
    current_description = role.get("Description") if current else None
    if current is not None and description is not None and description != (current_description or ""):
        update["Description"] = description
    duration = params["max_session_duration"]
    current_duration = role.get("MaxSessionDuration") if current else None
    if current is not None and duration is not None and duration != current_duration:
        update["MaxSessionDuration"] = duration
    return AttributesPlan(
        description if description is not None else current_description,
        duration if duration is not None else (current_duration if current else 3600),
        update,
    )


def plan_tags(params, current):
    current_tags = current["tags"] if current else {}
    to_set, to_unset = {}, []
    if params["tags"] is not None:
        # The ownership tag is never purged: it is what lets a later teardown delete the role.
        wanted = dict(params["tags"], **{OWNER_TAG_KEY: OWNER_TAG_VALUE})
        to_set, to_unset = compare_aws_tags(current_tags, wanted, purge_tags=params["purge_tags"])
    elif current_tags.get(OWNER_TAG_KEY) != OWNER_TAG_VALUE:
        to_set = {OWNER_TAG_KEY: OWNER_TAG_VALUE}
    desired = {key: value for key, value in current_tags.items() if key not in to_unset}
    desired.update({key: str(value) for key, value in to_set.items()})
    return TagsPlan(desired, to_set, to_unset)


# ---------------------------------------------------------------------------------------------
# checks before any write


def _foreign_role_message(name, differences):
    return (
        "role {0!r} exists and was not created by eks.irsa (it has no {1}={2} tag), and this task would change it "
        "({3}): it is left as it is. If this role should be managed here, set adopt: true (the eks.irsa.irsa role: "
        "list it in irsa_adopt_roles); adopting keeps its trust statements that are not IRSA statements of this task's "
        "providers, tags it as managed by eks.irsa, and lets a later teardown delete it once nothing else is left in "
        "its trust. Otherwise choose another role name".format(name, OWNER_TAG_KEY, OWNER_TAG_VALUE, "; ".join(differences))
    )


def _differences(changes, trust_plan):
    """What the changes would do to a role, in words."""
    differences = []
    if trust_plan.changed:
        differences.append("its trust policy would become {0}".format(trust.minified(trust_plan.desired)))
    if changes["attach"] or changes["detach"]:
        differences.append("managed policies: attach {0}, detach {1}".format(changes["attach"] or "none", changes["detach"] or "none"))
    if changes["put_inline"] or changes["delete_inline"]:
        differences.append("inline policies: put {0}, delete {1}".format(sorted(changes["put_inline"]) or "none",
                                                                         changes["delete_inline"] or "none"))
    if changes["update_role"] or changes["boundary"]:
        differences.append("role attributes: {0}".format(", ".join(sorted(changes["update_role"]) + (["permissions boundary"] if changes["boundary"] else []))))
    other_tags = sorted(key for key in list(changes["tags_to_set"]) + list(changes["tags_to_unset"]) if key != OWNER_TAG_KEY)
    if other_tags:
        differences.append("tags {0}".format(", ".join(other_tags)))
    return differences


def check_ownership(module, current, changes, trust_plan):
    """Whether this run adopts an existing role that carries no ownership tag; fails when it may not.

    A role the collection did not create is changed only when the user adopts it by name, or when it is exactly
    what the task would have written (a role made before roles were tagged): then only the tag is added.
    """
    if current is None or is_owned(current):
        return False
    differences = _differences(changes, trust_plan)
    if differences and not module.params["adopt"]:
        raise ConflictError(_foreign_role_message(current["role"]["RoleName"], differences), foreign_role=current["role"]["RoleName"])
    return True


def _oidc_provider_exists(module, iam_client, arn):
    def read():
        try:
            return irsa_aws.get_oidc_provider(iam_client, arn) is not None
        except IrsaAWSError as e:
            if irsa_aws.error_code(e.exception) not in irsa_aws.ACCESS_DENIED_CODES:
                raise
        return None

    exists = (getattr(module, "cache", None) or batch.OnceCache()).get(("provider", arn), read)
    if exists is None:
        module.warn(
            "could not check that the IAM OIDC provider {0} exists (iam:GetOpenIDConnectProvider is not allowed); "
            "IAM will refuse the trust policy if it does not".format(arn)
        )
        return True
    return exists


def check_existence(module, iam_client, request, trust_plan, managed, boundary):
    """That the providers and policies the role will name exist; checked only when something depending on them will
    be written."""
    if trust_plan.changed and module.params["check_oidc_provider"]:
        for arn, spec in trust_plan.providers.items():
            if spec["state"] == "present" and not _oidc_provider_exists(module, iam_client, arn):
                message = (
                    "the IAM OIDC provider {0} does not exist, so IAM would refuse a trust policy naming it: create it "
                    "first (eks.irsa.eks_oidc_provider with the cluster's issuer) or check the account".format(arn)
                )
                if not module.check_mode:
                    raise ConflictError(message)
                # In check mode an earlier task (eks_oidc_provider) may only have predicted the provider.
                module.warn("Unless it is created before this task runs for real, " + message)
    # A policy found by name exists; one given by ARN (or by a preset) is read.
    by_name = set()
    if "managed_policies" in request:
        by_name = {arn for arn in managed.attach if PolicyReference(arn, None) not in request["managed_policies"]}
    for arn in managed.attach:
        if arn not in by_name and irsa_iam.get_managed_policy(iam_client, arn) is None:
            raise InputError(
                "managed_policies: the managed policy {0} does not exist: check the ARN (account, path, name) or "
                "create the policy first".format(arn)
            )
    boundary_by_arn = "permissions_boundary" in request and request["permissions_boundary"].arn is not None
    if boundary.desired and boundary.desired != boundary.current and boundary_by_arn:
        if irsa_iam.get_managed_policy(iam_client, boundary.desired) is None:
            raise InputError(
                "permissions_boundary: the managed policy {0} does not exist: check the ARN or create the policy "
                "first".format(boundary.desired)
            )


def warn_about_trust(module, trust_plan):
    """Warn of trust statements that do not do what they seem to: a wildcard under StringEquals, and statements of
    the task's providers that are kept as they are."""
    managed_arns = {arn: spec for arn, spec in trust_plan.providers.items() if spec["state"] == "present"}
    for index, key, value in trust.stringequals_wildcards(trust_plan.current):
        module.warn(
            "the trust policy's statement {0} compares {1!r} with {2!r} under StringEquals, which takes '*' and '?' "
            "literally, so it never matches a token: use StringLike for patterns".format(index, key, value)
        )
    for index, stmt in enumerate(trust.statements_of(trust_plan.desired)):
        if stmt.get("Effect") != "Allow" or any(
            trust.irsa_statement_parts(stmt, arn, spec.get("audience")) is not None for arn, spec in managed_arns.items()
        ):
            continue
        principal = stmt.get("Principal")
        federated = principal.get("Federated") if isinstance(principal, dict) else None
        named = [arn for arn in managed_arns if arn in (federated if isinstance(federated, list) else [federated])]
        if named:
            module.warn(
                "the trust policy's statement {0} also allows provider {1} but is not in the form this task manages, "
                "so it was kept as it is and may trust more than service_accounts; set purge_trust_statements: true "
                "to remove it".format(index, named[0])
            )


# ---------------------------------------------------------------------------------------------
# the whole plan


def _changes(current, trust_plan, managed, boundary, inline, attributes, tags):
    """What ``apply`` writes to make the role."""
    exists = current is not None
    return {
        "providers": trust_plan.providers,
        "pod_identity": trust_plan.pod_identity,
        "create": not exists,
        "trust": trust_plan.changed and exists,
        "update_role": attributes.update,
        "boundary": boundary.desired != boundary.current and exists,
        "tags_to_set": tags.to_set if exists else {},
        "tags_to_unset": tags.to_unset if exists else [],
        "attach": managed.attach,
        "detach": managed.detach,
        "put_inline": inline.put,
        "delete_inline": inline.delete,
    }


def plan_present(module, iam_client, request, current):
    """The ``Plan`` of the role ``request`` wants; every check that can fail happens here, before any write."""
    params = module.params
    _check_path(request, current)
    resolver = Resolver(module, iam_client, current)
    trust_plan = plan_trust(params, resolver, request, current)
    preset = expand_preset(module, resolver, request) if "preset" in request else None
    managed = plan_managed(params, resolver, request, current, preset)
    boundary = plan_boundary(params, resolver, request, current)
    inline = plan_inline(params, iam_client, request, current, preset)
    attributes = plan_attributes(params, current)
    tags = plan_tags(params, current)
    changes = _changes(current, trust_plan, managed, boundary, inline, attributes, tags)
    changes["preset"] = preset
    changed = any(changes[key] for key in (
        "create", "trust", "update_role", "boundary", "tags_to_set", "tags_to_unset", "attach", "detach", "put_inline",
        "delete_inline"))
    changes["adopted"] = check_ownership(module, current, changes, trust_plan)
    check_existence(module, iam_client, request, trust_plan, managed, boundary)
    warn_about_trust(module, trust_plan)
    if current is None:
        account = resolver.account()
        arn = "arn:{0}:iam::{1}:role{2}{3}".format(account.partition, account.account_id, request["path"], request["name"])
    else:
        arn = current["role"]["Arn"]
    role = current["role"] if current else {}
    desired = {
        "arn": arn, "name": request["name"], "path": request["path"], "role_id": role.get("RoleId"),
        "create_date": _iso(role.get("CreateDate")), "description": attributes.description,
        "trust_policy": trust_plan.desired, "managed_policies": managed.desired, "inline_policies": inline.desired,
        "tags": tags.desired, "max_session_duration": attributes.max_session_duration,
        "permissions_boundary": boundary.desired,
    }
    return Plan(changed, changes, desired, _diff(current, inline, desired))


def _diff(current, inline, desired):
    after = {key: desired[key] for key in (
        "name", "path", "description", "max_session_duration", "permissions_boundary", "tags", "trust_policy")}
    if desired["managed_policies"] is not None:
        after["managed_policies"] = desired["managed_policies"]
    if inline.after is not None:
        after["inline_policies"] = inline.after
    return {"before": snapshot(current, inline.before), "after": after}


def plan_unbind(module, iam_client, request, current):
    """The trust policy without the ServiceAccounts (or provider statements) that ``request["unbind"]`` names, and
    without the collection's Pod Identity statement when the task gives ``pod_identity``."""
    resolver = Resolver(module, iam_client, current)
    trust_before = current["trust_policy"]
    providers = {}
    for entry in request["unbind"]:
        arn = resolver.provider(entry.provider, entry.option)
        remaining = [] if entry.state == "absent" else [
            item for item in trust.provider_subjects(trust_before, arn, entry.audience) if item not in entry.subjects]
        providers[arn] = {"subjects": remaining, "audience": entry.audience, "state": "present" if remaining else "absent"}
    pod_identity = pod_identity_plan(resolver, request.get("pod_identity"))
    return merged_trust(trust_before, providers, pod_identity, True, False)


# ---------------------------------------------------------------------------------------------
# views


def _iso(value):
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def snapshot(current, inline_documents=None):
    """What the diff shows of a role."""
    if current is None:
        return {}
    role = current["role"]
    view = {
        "name": role["RoleName"],
        "path": role["Path"],
        "description": role.get("Description"),
        "max_session_duration": role.get("MaxSessionDuration"),
        "permissions_boundary": current["permissions_boundary"],
        "tags": current["tags"],
        "trust_policy": current["trust_policy"],
    }
    if current["attached"] is not None:
        view["managed_policies"] = sorted(current["attached"])
    if inline_documents is not None:
        view["inline_policies"] = inline_documents
    return view


def known(view):
    """``view`` without the policy lists that were not read."""
    return {key: value for key, value in view.items() if not (key in ("managed_policies", "inline_policies") and value is None)}


def role_result(current):
    """The ``role`` return value of a role as ``read_role`` read it."""
    role = current["role"]
    return known({
        "arn": role["Arn"],
        "name": role["RoleName"],
        "path": role["Path"],
        "role_id": role.get("RoleId"),
        "create_date": _iso(role.get("CreateDate")),
        "description": role.get("Description"),
        "trust_policy": current["trust_policy"],
        "managed_policies": None if current["attached"] is None else sorted(current["attached"]),
        "inline_policies": current["inline_names"],
        "tags": current["tags"],
        "max_session_duration": role.get("MaxSessionDuration"),
        "permissions_boundary": current["permissions_boundary"],
    })
