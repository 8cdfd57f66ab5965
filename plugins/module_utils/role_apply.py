# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How irsa_role brings an IAM role to its plan: the writes, one role's run, and the end of the module.

``ensure_present`` writes the changes of ``role_plan.plan_present`` (converging on a role another run created
meanwhile, and re-checking a merged trust policy against concurrent writers); ``ensure_absent`` removes
ServiceAccounts from a role's trust, or deletes the role. ``run_roles`` runs every item of a task (the single form
is a batch of one) and ``finish`` ends the module with their results.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import json
import random
import time

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list

from ansible_collections.eks.irsa.plugins.module_utils import aws as irsa_aws
from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils import iam as irsa_iam
from ansible_collections.eks.irsa.plugins.module_utils import role_plan
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.trust import eks_pod_identity
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_KEY
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError

# Merge mode re-reads the trust policy this long after writing it (see keep_merged_trust).
TRUST_RECHECK_DELAY = 1.0
TRUST_RECHECK_ROUNDS = 5


def apply_present(module, iam_client, name, changes, desired):
    """Write ``changes`` (a plan's) to role ``name``; ``desired`` is the role the plan wants."""
    params = module.params
    if changes["create"]:
        irsa_iam.create_role(
            iam_client, name, desired["path"], desired["trust_policy"],
            description=params["description"], max_session_duration=params["max_session_duration"],
            permissions_boundary=desired["permissions_boundary"], tags=desired["tags"],
        )
        if params["wait"]:
            irsa_iam.wait_for_role(iam_client, name, params["wait_timeout"])
    if changes["trust"]:
        irsa_iam.update_trust_policy(iam_client, name, desired["trust_policy"])
    if changes["update_role"]:
        irsa_iam.update_role(iam_client, name, **changes["update_role"])
    if changes["boundary"]:
        if desired["permissions_boundary"]:
            irsa_iam.put_permissions_boundary(iam_client, name, PermissionsBoundary=desired["permissions_boundary"])
        else:
            irsa_iam.delete_permissions_boundary(iam_client, name)
    if changes["tags_to_unset"]:
        irsa_iam.untag_role(iam_client, name, TagKeys=list(changes["tags_to_unset"]))
    if changes["tags_to_set"]:
        irsa_iam.tag_role(iam_client, name, Tags=ansible_dict_to_boto3_tag_list(changes["tags_to_set"]))
    for arn in changes["detach"]:
        irsa_iam.detach_policy(iam_client, name, PolicyArn=arn)
    for arn in changes["attach"]:
        irsa_iam.attach_policy(iam_client, name, PolicyArn=arn)
    for policy_name in changes["delete_inline"]:
        irsa_iam.delete_role_policy(iam_client, name, PolicyName=policy_name)
    for policy_name, document in sorted(changes["put_inline"].items()):
        irsa_iam.put_role_policy(iam_client, name, PolicyName=policy_name, PolicyDocument=json.dumps(document))


def keep_merged_trust(module, iam_client, request, providers, pod_identity):
    """Merge mode (purge_service_accounts=false) shares the trust policy with other writers, and IAM has no
    conditional write: a run that read the trust before our write and writes after it drops our subjects.
    Re-read after a pause longer than such a read-to-write window and merge again while ours are missing."""
    name = request["name"]
    for _round in range(TRUST_RECHECK_ROUNDS):
        time.sleep(TRUST_RECHECK_DELAY * (1 + random.random() / 2))
        current = role_plan.read_role(iam_client, name, managed=False, inline=False)
        if current is None:
            raise ConflictError(
                "role {0!r} was deleted by someone else while this task updated its trust policy: run the task again "
                "to create it".format(name)
            )
        merged = role_plan.merged_trust(current["trust_policy"], providers, pod_identity, False, module.params["purge_trust_statements"])
        if not compare_policies(current["trust_policy"], merged):
            return
        role_plan.check_trust_size(merged, module.params["trust_policy_size_limit"])
        irsa_iam.update_trust_policy(iam_client, name, merged)
    raise ConflictError(
        "the trust policy of role {0!r} lost this task's ServiceAccounts {1} times in a row: another writer keeps "
        "replacing it (a task with purge_service_accounts: true, or a tool that rewrites the trust); find it, then run "
        "again".format(name, TRUST_RECHECK_ROUNDS)
    )


def _preset_result(expansion):
    """The ``preset`` return value: what the preset gave the role, and where its policy comes from."""
    if expansion is None:
        return {}
    return {"preset": {key: expansion[key] for key in (
        "preset", "managed_policies", "inline_policy_name", "source", "namespace", "service_account")}}


def ensure_present(module, iam_client, request):
    """Create or update the role ``request`` wants; the module's result for it."""
    name = request["name"]
    # The attached and inline policies are read only when this task manages them.
    reads = {"managed": "managed_policies" in request or "preset" in request,
             "inline": request["inline_policies"] is not None or "preset" in request}
    current = role_plan.read_role(iam_client, name, **reads)
    plan = role_plan.plan_present(module, iam_client, request, current)
    extra = _preset_result(plan.changes["preset"])
    if not plan.changed:
        return dict(extra, changed=False, role=role_plan.role_result(current), adopted=False, diff=plan.diff)
    adopted = plan.changes["adopted"]
    if module.check_mode:
        return dict(extra, changed=True, role=role_plan.known(plan.desired), adopted=adopted, diff=plan.diff)
    try:
        apply_present(module, iam_client, name, plan.changes, plan.desired)
    except IrsaAWSError as e:
        if not (plan.changes["create"] and irsa_aws.error_code(e.exception) == "EntityAlreadyExists"):
            raise
        # Another run created the role between our read and our create: converge on what it made.
        current = role_plan.read_role(iam_client, name, **reads)
        plan = role_plan.plan_present(module, iam_client, request, current)
        if not plan.changed:
            return dict(extra, changed=False, role=role_plan.role_result(current), adopted=False, diff=plan.diff)
        apply_present(module, iam_client, name, plan.changes, plan.desired)
    if plan.changes["trust"] and not module.params["purge_service_accounts"]:
        keep_merged_trust(module, iam_client, request, plan.changes["providers"], plan.changes["pod_identity"])
    updated = role_plan.read_role(iam_client, name, **reads)
    if updated is None:
        return dict(extra, changed=True, role=role_plan.known(plan.desired), adopted=adopted, diff=plan.diff)
    if plan.changes["create"]:
        # A role this task created has exactly the policies it attached and put.
        if updated["attached"] is None:
            updated["attached"] = dict.fromkeys(plan.desired["managed_policies"] or [])
        if updated["inline_names"] is None:
            updated["inline_names"] = plan.desired["inline_policies"] or []
    return dict(extra, changed=True, role=role_plan.role_result(updated), adopted=adopted, diff=plan.diff)


def _not_ours_message(name, action):
    return (
        "role {0!r} was not created by eks.irsa (it has no {1}={2} tag), so it is not {3}. If eks.irsa should manage "
        "it, set adopt: true (the eks.irsa.irsa role: list it in irsa_adopt_roles)".format(name, OWNER_TAG_KEY, OWNER_TAG_VALUE, action)
    )


def _unbind(module, iam_client, request, current, owned):
    """The result of removing ServiceAccounts from the trust of role ``current``, or None when nothing is left in it
    (then the role goes)."""
    name = request["name"]
    before = role_plan.snapshot(current)
    desired_trust = role_plan.plan_unbind(module, iam_client, request, current)
    trust_changed = bool(compare_policies(current["trust_policy"], desired_trust))
    if not trust_changed and not owned:
        # Nothing of these ServiceAccounts in a role that is not ours: nothing to do, and nothing to delete.
        return {"changed": False, "role": role_plan.role_result(current), "deleted": False, "owned": False,
                "diff": {"before": before, "after": before}}
    if not owned:
        raise ConflictError(_not_ours_message(name, "changed (its trust still names these ServiceAccounts)"),
                            foreign_role=name)
    if not trust.statements_of(desired_trust):
        return None
    if not trust_changed:
        return {"changed": False, "role": role_plan.role_result(current), "deleted": False, "owned": True,
                "diff": {"before": before, "after": before}}
    if not module.check_mode:
        irsa_iam.update_trust_policy(iam_client, name, desired_trust)
    updated = dict(current, trust_policy=desired_trust)
    return {"changed": True, "role": role_plan.role_result(updated), "deleted": False, "owned": True,
            "diff": {"before": before, "after": dict(before, trust_policy=desired_trust)}}


def ensure_absent(module, iam_client, request):
    """Delete the role, or with ServiceAccounts given remove only them from its trust.

    Only a role the collection created (or is told by name to adopt) is changed; it is deleted only when its trust
    policy has no statement left, whoever wrote the statements.
    """
    name = request["name"]
    current = role_plan.read_role(iam_client, name)
    if current is None:
        return {"changed": False, "role": {}, "deleted": False, "diff": {"before": {}, "after": {}}}
    owned = role_plan.is_owned(current) or module.params["adopt"]
    if "unbind" in request:
        result = _unbind(module, iam_client, request, current, owned)
        if result is not None:
            return result
    elif not owned:
        raise ConflictError(_not_ours_message(name, "deleted"), foreign_role=name)
    if not module.check_mode:
        irsa_iam.delete_role_with_attachments(iam_client, name, current["attached"], current["inline_names"])
    return {"changed": True, "role": {}, "deleted": True, "owned": True,
            "diff": {"before": role_plan.snapshot(current), "after": {}}}


def run_role(module, iam_client, watch):
    """The result of one role (one item of ``roles``, or the single form): its failure is part of the result, the
    error itself under ``error`` (for ``finish``)."""
    wrote = watch.start()
    try:
        request = role_plan.validate(module.params)
        if module.params["state"] == "absent":
            result = ensure_absent(module, iam_client, request)
        else:
            result = ensure_present(module, iam_client, request)
    except AnsibleAWSError as e:
        # A failure after a write (say, attaching a policy after the role was created) still changed the role.
        result = dict(failed=True, msg=irsa_aws.aws_failure_message(e, module.params), changed=wrote(), error=e)
    except IrsaError as e:
        result = dict(failed=True, msg=str(e), changed=wrote(), error=e, **e.details)
    trust_policy = (result.get("role") or {}).get("trust_policy")
    if trust_policy is not None:
        result["trusts"] = eks_pod_identity.trusts(trust_policy)
    result["warnings"] = module.warnings
    return result


def run_roles(module, items):
    """The result of every item (``batch.items_of``), ``max_concurrency`` at a time."""
    iam_client = module.client("iam") if any(item for item, _label in items) else None
    watch = irsa_aws.WriteWatch(iam_client) if iam_client is not None else None

    def work(entry):
        item, label = entry
        if item is None:
            return {"failed": True, "changed": False, "msg": label}
        result = run_role(item, iam_client, watch)
        result["name"] = item.params["name"]
        return result

    return batch.run_items(work, items, module.params["max_concurrency"])


def finish(module, items, results):
    """End the module: the single form with its one result (a failure through ``errors.fail``), a batch with
    ``batch.finish`` (an AWS failure of an item with its ``error_code``)."""
    if module.params["roles"] is None:
        result = results[0]
        for warning in result.pop("warnings", []):
            module.warn(warning)
        result.pop("name")
        error = result.pop("error", None)
        if error is not None:
            errors.fail(module, error, changed=result["changed"])
        module.exit_json(**result)
    for result in results:
        error = result.pop("error", None)
        if isinstance(error, AnsibleAWSError) and error.exception is not None:
            result["error_code"] = irsa_aws.error_code(error.exception)
    batch.finish(module, items, results, "roles")
