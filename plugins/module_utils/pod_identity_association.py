# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""EKS Pod Identity associations (the EKS API's link from a ServiceAccount to an IAM role, without OIDC): their EKS
calls, the checks of eks_pod_identity_association's options, the plan (what to create, update, tag or delete, and
whose association it is), the writes, and the run of every item of a task.

An association this collection creates carries the ownership tag (``constants.OWNER_TAG_KEY``). One without it is
someone else's (eksctl's, Terraform's, a person's): it is never changed or deleted unless the task adopts it
(``adopt``), and one that an EKS add-on owns (``ownerArn``) is never changed at all. An association already as the
task wants is left as it is, ours or not. ``run_associations`` runs every item (the single form is a batch of one)
and ``finish`` ends the module with their results.

This is not ``pod_identity.py``, which is about what IRSA's pod identity webhook injects into pods.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.eks.irsa.plugins.module_utils import aws
from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils import naming
from ansible_collections.eks.irsa.plugins.module_utils.aws import EKS_RETRY_CODES
from ansible_collections.eks.irsa.plugins.module_utils.aws import aws_call
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_KEY
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError

# The fields of an association UpdatePodIdentityAssociation changes, by option name.
UPDATABLE = (("role_arn", "roleArn"), ("target_role_arn", "targetRoleArn"), ("disable_session_tags", "disableSessionTags"))
ADOPT_HINT = "set adopt: true"


# --- EKS calls ---------------------------------------------------------------------------------------


@aws_call("list the EKS Pod Identity associations", "eks:ListPodIdentityAssociations", EKS_RETRY_CODES)
def list_associations(client, cluster, namespace=None, service_account=None):
    """The summaries (ID, namespace, ServiceAccount) of the cluster's associations, of one ServiceAccount when given."""
    filters = {"clusterName": cluster}
    if namespace is not None:
        filters.update(namespace=namespace, serviceAccount=service_account)
    paginator = client.get_paginator("list_pod_identity_associations")
    return paginator.paginate(**filters).build_full_result().get("associations", [])


@aws_call("describe the EKS Pod Identity association", "eks:DescribePodIdentityAssociation", EKS_RETRY_CODES)
def describe_association(client, cluster, association_id):
    """The association, or None when it was deleted since it was listed."""
    try:
        return client.describe_pod_identity_association(clusterName=cluster, associationId=association_id)["association"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


@aws_call("create the EKS Pod Identity association", "eks:CreatePodIdentityAssociation", EKS_RETRY_CODES)
def create_association(client, **request):
    return client.create_pod_identity_association(**request)["association"]


@aws_call("update the EKS Pod Identity association", "eks:UpdatePodIdentityAssociation", EKS_RETRY_CODES)
def update_association(client, cluster, association_id, **fields):
    return client.update_pod_identity_association(clusterName=cluster, associationId=association_id, **fields)["association"]


@aws_call("tag the EKS Pod Identity association", "eks:TagResource", EKS_RETRY_CODES)
def tag_association(client, arn, tags):
    client.tag_resource(resourceArn=arn, tags=tags)


@aws_call("untag the EKS Pod Identity association", "eks:UntagResource", EKS_RETRY_CODES)
def untag_association(client, arn, keys):
    client.untag_resource(resourceArn=arn, tagKeys=keys)


@aws_call("delete the EKS Pod Identity association", "eks:DeletePodIdentityAssociation", EKS_RETRY_CODES)
def delete_association(client, cluster, association_id):
    try:
        client.delete_pod_identity_association(clusterName=cluster, associationId=association_id)
    except is_boto3_error_code("ResourceNotFoundException"):
        return False
    return True


# --- checks before any call --------------------------------------------------------------------------


def _check_role_arn(option, arn, partition):
    """``option`` names an IAM role of the region's partition."""
    try:
        details = naming.parse_arn(arn, service="iam", resource_type="role")
    except naming.NamingError as e:
        raise InputError("{0}: {1}".format(option, e.message)) from None
    if details["partition"] != partition:
        raise InputError(
            "{0}: {1} is a role of partition {2}, but the cluster's region is in partition {3}: Pod Identity "
            "associations name roles of their cluster's partition".format(option, arn, details["partition"], partition))


def validate(params, region):
    """Check the options of one association before any call (an ``InputError`` naming the option)."""
    if not params.get("cluster_name"):
        raise InputError("cluster_name is required: give the name of the EKS cluster the association is in")
    if not naming.is_dns1123_label(params["namespace"]):
        raise InputError(
            "namespace {0!r} is not a Kubernetes namespace name: at most 63 lower-case letters, digits and '-', "
            "starting and ending with a letter or digit".format(params["namespace"]))
    if not naming.is_dns1123_subdomain(params["service_account"]):
        raise InputError(
            "service_account {0!r} is not a Kubernetes ServiceAccount name: lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit, at most 253 characters".format(params["service_account"]))
    try:
        partition = naming.partition_for_region(region)
    except naming.NamingError as e:
        raise InputError(e.message) from None
    if params["state"] == "present":
        if not params.get("role_arn"):
            raise InputError("role_arn is required with state=present: give the ARN of the IAM role the pods of "
                             "{0}/{1} get".format(params["namespace"], params["service_account"]))
        _check_role_arn("role_arn", params["role_arn"], partition)
        if params.get("target_role_arn"):
            _check_role_arn("target_role_arn", params["target_role_arn"], partition)
    elif params.get("role_arn"):
        _check_role_arn("role_arn", params["role_arn"], partition)
    _check_tags(params.get("tags"))


def _check_tags(tags):
    for key, value in (tags or {}).items():
        if str(key).lower().startswith("aws:"):
            raise InputError("tags: the key {0!r} starts with 'aws:', which AWS reserves for itself".format(key))
        if key == OWNER_TAG_KEY and str(value) != OWNER_TAG_VALUE:
            raise InputError(
                "tags: {0} is the tag by which eks.irsa knows its own associations; it can only be {1!r}".format(key, OWNER_TAG_VALUE))


# --- plan ----------------------------------------------------------------------------------------------


def is_owned(association):
    return (association.get("tags") or {}).get(OWNER_TAG_KEY) == OWNER_TAG_VALUE


def view(association):
    """What the result shows of an association (``{}`` for none)."""
    if not association:
        return {}
    tags = dict(association.get("tags") or {})
    return {
        "association_id": association.get("associationId", ""),
        "association_arn": association.get("associationArn", ""),
        "cluster_name": association.get("clusterName", ""),
        "namespace": association.get("namespace", ""),
        "service_account": association.get("serviceAccount", ""),
        "role_arn": association.get("roleArn", ""),
        "target_role_arn": association.get("targetRoleArn"),
        "external_id": association.get("externalId"),
        "disable_session_tags": bool(association.get("disableSessionTags", False)),
        "tags": tags,
        "owner_arn": association.get("ownerArn"),
        "owned": tags.get(OWNER_TAG_KEY) == OWNER_TAG_VALUE,
    }


def plan_fields(params, current):
    """The UpdatePodIdentityAssociation fields that differ from ``current``; an option not given is left alone, and
    ``target_role_arn: ""`` removes the target role."""
    fields = {}
    for option, field in UPDATABLE:
        wanted = params.get(option)
        if wanted is None:
            continue
        have = current.get(field)
        if field == "targetRoleArn":
            have = have or ""
        elif field == "disableSessionTags":
            have = bool(have)
        if wanted != have:
            fields[field] = wanted
    return fields


def plan_tags(params, current, adopting):
    """``(tags to set, keys to unset)``: ``tags`` (with ``purge_tags``; left alone when not given) and the ownership
    tag, which ``tags`` neither adds nor removes: it stays where it is, and is added to an association being adopted."""
    have = current.get("tags") or {}
    if params.get("tags") is None:
        wanted = dict(have)
    else:
        given = {str(key): str(value) for key, value in params["tags"].items()}
        wanted = given if params.get("purge_tags", True) else dict(have, **given)
    wanted.pop(OWNER_TAG_KEY, None)
    if OWNER_TAG_KEY in have:
        wanted[OWNER_TAG_KEY] = have[OWNER_TAG_KEY]
    if adopting:
        wanted[OWNER_TAG_KEY] = OWNER_TAG_VALUE
    to_set = {key: value for key, value in wanted.items() if have.get(key) != value}
    to_unset = sorted(key for key in have if key not in wanted)
    return to_set, to_unset


def _differences(fields, to_set, to_unset):
    """What a change would do, in words, for a refusal's message."""
    words = {"roleArn": "role_arn", "targetRoleArn": "target_role_arn", "disableSessionTags": "disable_session_tags"}
    said = ["{0} -> {1!r}".format(words[field], value) for field, value in sorted(fields.items())]
    if to_set or to_unset:
        said.append("tags: set {0}, remove {1}".format(sorted(to_set) or "none", to_unset or "none"))
    return "; ".join(said)


def check_ownership(params, current, action):
    """Refuse ``action`` (words: "changed (...)", "deleted") on an association that is not ours, unless adopted; an
    add-on's association is refused whatever the options."""
    where = "EKS Pod Identity association {0} of {1}/{2} in cluster {3}".format(
        current.get("associationId"), current.get("namespace"), current.get("serviceAccount"), params["cluster_name"])
    if current.get("ownerArn"):
        raise ConflictError(
            "{0} belongs to the EKS add-on {1}, so it is not {2}: change it through the add-on's "
            "podIdentityAssociations (aws eks update-addon)".format(where, current["ownerArn"], action),
            foreign_association=current.get("associationId"))
    if is_owned(current) or params.get("adopt"):
        return
    raise ConflictError(
        "{0} was not created by eks.irsa (it has no {1}={2} tag), so it is not {3}: another tool (eksctl, Terraform) "
        "or a person may rely on it. If eks.irsa should manage it, {4}; adopting tags it as managed by eks.irsa".format(
            where, OWNER_TAG_KEY, OWNER_TAG_VALUE, action, ADOPT_HINT),
        foreign_association=current.get("associationId"))


# --- runs ------------------------------------------------------------------------------------------------


class Reads:
    """The first read of each item's association: a cluster that several items name is listed once, a cluster of
    one item with the list's namespace and ServiceAccount filters; the association found is then described."""

    def __init__(self, client, cache, items_per_cluster):
        self.client = client
        self.cache = cache
        self.listed = {cluster for cluster, count in items_per_cluster.items() if count > 1}

    def find(self, params, again=False):
        """The association of the item's ServiceAccount, or None; ``again`` reads past the cluster's shared list
        (after another writer created it)."""
        cluster, namespace, name = params["cluster_name"], params["namespace"], params["service_account"]
        try:
            if cluster in self.listed and not again:
                summaries = self.cache.get(("associations", cluster), lambda: list_associations(self.client, cluster))
            else:
                summaries = list_associations(self.client, cluster, namespace, name)
        except IrsaAWSError as e:
            if aws.error_code(e.exception) != "ResourceNotFoundException":
                raise
            aws.lookup_cluster(self.client, cluster, self.client.meta.region_name)
            raise
        for summary in summaries:
            if (summary.get("namespace"), summary.get("serviceAccount")) == (namespace, name):
                return describe_association(self.client, cluster, summary["associationId"])
        return None


def create_request(params):
    request = {
        "clusterName": params["cluster_name"],
        "namespace": params["namespace"],
        "serviceAccount": params["service_account"],
        "roleArn": params["role_arn"],
        "tags": dict({str(key): str(value) for key, value in (params.get("tags") or {}).items()},
                     **{OWNER_TAG_KEY: OWNER_TAG_VALUE}),
    }
    if params.get("target_role_arn"):
        request["targetRoleArn"] = params["target_role_arn"]
    if params.get("disable_session_tags") is not None:
        request["disableSessionTags"] = params["disable_session_tags"]
    return request


def ensure_created(module, client, reads):
    """Create the association; the result. Another writer creating it first (ResourceInUseException) is converged on."""
    request = create_request(module.params)
    predicted = dict(request, associationId="", associationArn="", disableSessionTags=request.get("disableSessionTags", False))
    if request.get("targetRoleArn"):
        predicted["externalId"] = ""
    if module.check_mode:
        return dict(changed=True, association=view(predicted), adopted=False, diff={"before": {}, "after": view(predicted)})
    try:
        created = create_association(client, **request)
    except IrsaAWSError as e:
        current = reads.find(module.params, again=True) if aws.error_code(e.exception) == "ResourceInUseException" else None
        if current is None:
            raise
        return ensure_present(module, client, reads, current)
    return dict(changed=True, association=view(created), adopted=False, diff={"before": {}, "after": view(created)})


def ensure_present(module, client, reads, current=None):
    """Create or update the association the options describe; the item's result."""
    params = module.params
    if current is None:
        current = reads.find(params)
    if current is None:
        return ensure_created(module, client, reads)
    before = view(current)
    fields = plan_fields(params, current)
    # adopt: true takes over an association that is not ours, tagging it, even when it is otherwise as wanted.
    adopting = bool(params.get("adopt")) and not is_owned(current) and not current.get("ownerArn")
    to_set, to_unset = plan_tags(params, current, adopting)
    if not fields and not to_set and not to_unset:
        return dict(changed=False, association=before, adopted=False, diff={"before": before, "after": before})
    check_ownership(params, current, "changed ({0})".format(_differences(fields, to_set, to_unset)))
    after = dict(current, **fields)
    after["tags"] = dict({key: value for key, value in (current.get("tags") or {}).items() if key not in to_unset}, **to_set)
    if fields.get("targetRoleArn") == "":
        after.pop("targetRoleArn")
        after.pop("externalId", None)
    elif fields.get("targetRoleArn"):
        after.setdefault("externalId", "")  # EKS makes one; unknown until it has
    if not module.check_mode:
        if fields:
            after = dict(update_association(client, params["cluster_name"], current["associationId"], **fields), tags=after["tags"])
        if to_unset:
            untag_association(client, current["associationArn"], to_unset)
        if to_set:
            tag_association(client, current["associationArn"], to_set)
    return dict(changed=True, association=view(after), adopted=adopting, diff={"before": before, "after": view(after)})


def same_role(arn, other):
    """Whether two role ARNs name one role (account and name; the path is not part of what STS compares)."""
    try:
        return naming.account_of_arn(arn) == naming.account_of_arn(other) and \
            naming.role_name_from_arn(arn) == naming.role_name_from_arn(other)
    except naming.NamingError:
        return False


def ensure_absent(module, client, reads):
    """Delete the association (only ours, or adopted; with role_arn, only when it names that role)."""
    params = module.params
    current = reads.find(params)
    if current is None:
        return dict(changed=False, association={}, deleted=False, diff={"before": {}, "after": {}})
    before = view(current)
    if params.get("role_arn") and not same_role(current.get("roleArn", ""), params["role_arn"]):
        module.warn("the EKS Pod Identity association of {0}/{1} names role {2}, not {3}: it is another binding's and "
                    "was left in place".format(params["namespace"], params["service_account"], current.get("roleArn"), params["role_arn"]))
        return dict(changed=False, association=before, deleted=False, kept_role_arn=current.get("roleArn"),
                    diff={"before": before, "after": before})
    check_ownership(params, current, "deleted")
    if not module.check_mode:
        delete_association(client, params["cluster_name"], current["associationId"])
    return dict(changed=True, association={}, deleted=True, diff={"before": before, "after": {}})


def run_item(module, client, reads, watch):
    """The result of one association (an item, or the single form), its failure included."""
    wrote = watch.start()
    try:
        validate(module.params, module.region)
        if module.params["state"] == "absent":
            result = ensure_absent(module, client, reads)
        else:
            result = ensure_present(module, client, reads)
    except IrsaAWSError as e:
        result = dict(failed=True, msg=aws.aws_failure_message(e, module.params), changed=wrote(), error=e)
    except IrsaError as e:
        result = dict(failed=True, msg=str(e), changed=wrote(), error=e, **e.details)
    if not module._diff:
        result.pop("diff", None)
    result["warnings"] = module.warnings
    return result


def duplicates(items):
    """``{index: message}`` for items naming an association an earlier item names already."""
    seen, found = {}, {}
    for index, (item, _label) in enumerate(items):
        if item is None:
            continue
        key = tuple(item.params.get(name) for name in ("cluster_name", "namespace", "service_account"))
        if key in seen:
            found[index] = "associations[{0}] names the association of {1}/{2} in cluster {3} that associations[{4}] " \
                           "names already: give each ServiceAccount once".format(index, key[1], key[2], key[0], seen[key])
        else:
            seen[key] = index
    return found


def run_associations(module, items, cache):
    """The result of every item (``batch.items_of``), ``max_concurrency`` at a time, over one EKS client."""
    client = module.client("eks") if any(item for item, _label in items) else None
    watch = aws.WriteWatch(client) if client is not None else None
    per_cluster = {}
    for item, _label in items:
        if item is not None:
            per_cluster[item.params.get("cluster_name")] = per_cluster.get(item.params.get("cluster_name"), 0) + 1
    reads = Reads(client, cache, per_cluster)
    repeated = duplicates(items)

    def work(entry):
        index, (item, label) = entry
        if item is None:
            return {"failed": True, "changed": False, "msg": label}
        if index in repeated:
            return {"failed": True, "changed": False, "msg": repeated[index], "warnings": []}
        result = run_item(item, client, reads, watch)
        result.update(namespace=item.params["namespace"], service_account=item.params["service_account"])
        return result

    return batch.run_items(work, list(enumerate(items)), module.params["max_concurrency"])


def finish(module, items, results):
    """End the module: the single form with its one result (a failure through ``errors.fail``), a batch with
    ``batch.finish`` (an AWS failure of an item with its ``error_code``)."""
    if module.params["associations"] is None:
        result = results[0]
        for warning in result.pop("warnings", []):
            module.warn(warning)
        for key in ("namespace", "service_account"):
            result.pop(key, None)
        error = result.pop("error", None)
        if error is not None:
            errors.fail(module, error, changed=result["changed"], **{key: value for key, value in result.items()
                                                                     if key not in ("changed", "failed", "msg")})
        module.exit_json(**result)
    for result in results:
        error = result.pop("error", None)
        if isinstance(error, IrsaAWSError) and error.exception is not None:
            result["error_code"] = aws.error_code(error.exception)
    batch.finish(module, items, results, "associations")
