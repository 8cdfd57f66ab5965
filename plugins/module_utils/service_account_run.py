# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How irsa_service_account brings a ServiceAccount to its IRSA binding: the checks of its options, the plan (what
to annotate, what to remove, whose role annotation it is), the writes, and the run of every item of a task.

A ServiceAccount is created (with its namespace when allowed) or patched, the patch conditional on the object's
resourceVersion and retried on a conflict; another tool's role annotation is taken over only when adopted, and
``state=absent`` removes only what names the task's role or what eks.irsa wrote. ``run_service_accounts`` runs
every item (the single form is a batch of one) and ``finish`` ends the module with their results.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils import restart as rollout
from ansible_collections.eks.irsa.plugins.module_utils import service_account as sa
from ansible_collections.eks.irsa.plugins.module_utils.constants import BOUND_ROLE_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import MANAGED_BY_LABEL
from ansible_collections.eks.irsa.plugins.module_utils.constants import MANAGED_BY_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError
from ansible_collections.eks.irsa.plugins.module_utils.errors import KubernetesError
from ansible_collections.eks.irsa.plugins.module_utils.k8s.api import kubernetes_services
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import near_miss_role_keys
from ansible_collections.eks.irsa.plugins.module_utils.verify import permissions

CONFLICT_RETRIES = 5


def view(obj):
    """What the result shows of a ServiceAccount object: its name, namespace, annotations, labels and uid."""
    if not obj:
        return {}
    metadata = obj.get("metadata") or {}
    return {
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", ""),
        "annotations": dict(metadata.get("annotations") or {}),
        "labels": dict(metadata.get("labels") or {}),
        "uid": metadata.get("uid", ""),
    }


def validate(module):
    """Check the options before any call: names, role ARN, token expiration, annotations and labels (an
    ``InputError``); warn of annotations that look like the role annotation but are not it."""
    params = module.params
    sa.check_names(params["namespace"], params["name"])
    if params["state"] == "present" and not params["annotate_role"]:
        if params["role_arn"]:
            raise NamingError("role_arn is given with annotate_role: false, which leaves the role annotation alone: "
                              "remove role_arn, or set annotate_role: true")
    elif params["state"] == "present":
        if not params["role_arn"]:
            raise NamingError("role_arn is required with state=present: give the ARN of the IAM role the ServiceAccount assumes")
        sa.check_role_arn(params["role_arn"])
    if params["restart_pods"] and params["state"] != "present":
        raise InputError("restart_pods is for state=present: the pods of a ServiceAccount being removed are not restarted")
    sa.check_token_expiration(params["token_expiration"])
    sa.check_metadata(params["annotations"], params["labels"])
    if params["state"] == "present" and params["annotate_role"]:
        sa.check_owned_annotations(
            sa.desired_annotations(params["role_arn"], params["audience"], params["sts_regional_endpoints"],
                                   params["token_expiration"]),
            params["annotations"],
        )
    near = near_miss_role_keys(params["annotations"])
    if near:
        module.warn(
            "annotations {0} look like {1} but are not it: the pod identity webhook ignores them. Use role_arn to set "
            "{1}".format(", ".join(repr(key) for key in near), ROLE_ARN_ANNOTATION)
        )


def _adopt_hint(namespace, name):
    """The next step of a refusal to touch another tool's role annotation."""
    return "set adopt: true (the eks.irsa.irsa role: list {0}/{1} in irsa_adopt_service_accounts)".format(namespace, name)


def wanted(params):
    """``(annotations to set, annotations to remove, labels)`` of the options; nothing to set with ``state=absent``."""
    if params["state"] == "absent":
        return {}, [], {}
    labels = {key: str(value) for key, value in params["labels"].items()}
    if not params["annotate_role"]:
        return dict(params["annotations"]), [], labels
    annotations, remove = sa.desired_annotations(
        params["role_arn"], params["audience"], params["sts_regional_endpoints"], params["token_expiration"], params["annotations"]
    )
    # The record that this collection set the role annotation: what makes a later change or removal safe.
    annotations[BOUND_ROLE_ANNOTATION] = params["role_arn"]
    return annotations, remove, labels


def take_over(module, current):
    """``(previous role ARN, adopted)`` for a ServiceAccount about to carry role_arn; refuses someone else's role."""
    params = module.params
    existing, ours = sa.role_annotation(current.get("metadata"))
    if existing is None or (existing == params["role_arn"] and ours):
        return None, False
    if existing == params["role_arn"]:
        return None, True  # exactly what this task would write: recorded as ours from now on
    if not ours and not params["adopt"]:
        raise ConflictError(
            "ServiceAccount {0}/{1} is annotated with role {2}, which eks.irsa did not set (its {3} annotation does not "
            "record it), so it is not replaced with {4}. If this binding should take it over, {5}; the previous role is "
            "then reported in previous_role_arn".format(
                params["namespace"], params["name"], existing, BOUND_ROLE_ANNOTATION, params["role_arn"],
                _adopt_hint(params["namespace"], params["name"])),
            foreign_role_arn=existing,
        )
    return existing, not ours


def removal_plan(module, current):
    """The annotations ``state=absent`` removes: only a role annotation that names role_arn, or that is ours."""
    params = module.params
    metadata = current.get("metadata") or {}
    existing, ours = sa.role_annotation(metadata)
    extra = [key for key in params["annotations"] if key in (metadata.get("annotations") or {})]
    if existing is None:
        return extra, None
    if params["role_arn"]:
        if not sa.same_role(existing, params["role_arn"]):
            # Another role's binding: not this task's to remove.
            return extra, existing
    elif not ours and not params["adopt"]:
        raise ConflictError(
            "ServiceAccount {0}/{1} is annotated with role {2}, which eks.irsa did not set, so the annotation is not "
            "removed. Give role_arn to remove it only when it names that role, or {3}".format(
                params["namespace"], params["name"], existing, _adopt_hint(params["namespace"], params["name"])),
            foreign_role_arn=existing,
        )
    return sa.irsa_removal(metadata) + extra, None


def create(module, kube, annotations, labels):
    """Create the ServiceAccount (and its namespace when allowed); return the created object, or None when another
    writer created it meanwhile."""
    params = module.params
    namespace, name = params["namespace"], params["name"]
    if not params["create"]:
        raise ConflictError(
            "ServiceAccount {0}/{1} does not exist and create=false: create it first, or set create: true".format(namespace, name)
        )
    namespace_missing = not module.reads.namespace_exists(namespace)
    if namespace_missing and not params["create_namespace"]:
        raise ConflictError(
            "namespace {0!r} does not exist: create it, or set create_namespace: true".format(namespace)
        )
    body = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": annotations,
            "labels": dict(labels, **{MANAGED_BY_LABEL: MANAGED_BY_VALUE}),
        },
    }
    if module.check_mode:
        # What the real run will write, asked of RBAC now (the role's check before its first write).
        if namespace_missing:
            kube.check_allowed("create", "namespaces", namespace)
        kube.check_allowed("create", "serviceaccounts", namespace)
        return body
    if namespace_missing:
        try:
            kube.create_namespace(namespace, labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE})
            module.written = "namespace {0}".format(namespace)
        except KubernetesError as e:
            if e.status != 409:
                raise
    try:
        return kube.create_service_account(namespace, body)
    except KubernetesError as e:
        if e.status != 409:
            raise
        return None  # created meanwhile by someone else: converge on it with a patch


def patch_until_applied(module, kube, current, annotations, remove, labels):
    """Patch the owned keys; on a 409 (the object changed since it was read) re-read and patch again."""
    params = module.params
    for _attempt in range(CONFLICT_RETRIES):
        patch = sa.metadata_patch(current.get("metadata"), annotations, remove, labels)
        if not patch:
            return current, False
        if module.check_mode:
            predicted = dict(current)
            predicted["metadata"] = dict(current.get("metadata") or {}, **sa.apply_patch(current.get("metadata") or {}, patch))
            return predicted, True
        # The resourceVersion makes the patch conditional: a concurrent writer yields a 409, not a lost update.
        patch["metadata"]["resourceVersion"] = (current.get("metadata") or {}).get("resourceVersion")
        try:
            return kube.patch_service_account(params["namespace"], params["name"], patch), True
        except KubernetesError as e:
            if e.status != 409:
                raise
        current = kube.get_service_account(params["namespace"], params["name"])
        if current is None:
            raise ConflictError("ServiceAccount {0}/{1} was deleted while it was being annotated".format(params["namespace"], params["name"]))
    raise ConflictError(
        "ServiceAccount {0}/{1} kept changing under concurrent writers ({2} conflicts): run again".format(
            params["namespace"], params["name"], CONFLICT_RETRIES)
    )


def check_cluster(module, kube):
    """Refuse to touch a cluster other than the one whose issuer the role trusts (a kubeconfig pointing elsewhere)."""
    expected = module.params["cluster_issuer"]
    served = module.cache.get(("issuer",), kube.service_account_issuer)
    if served is None:
        module.warn("could not check that the Kubernetes API at {0} is the cluster of {1}: it does not let this identity "
                    "read its OIDC discovery document (403)".format(kube.connection.host, expected))
    elif served.rstrip("/") != expected.rstrip("/"):
        raise ConflictError(
            "the Kubernetes API at {0} is not the cluster whose OIDC issuer is {1}: it issues ServiceAccount tokens for "
            "{2}, which a trust policy for {1} does not accept. Check which cluster the kubeconfig and context point "
            "at".format(kube.connection.host, expected, served),
            wrong_cluster_issuer=served,
        )


def run(module, kube):
    """``(changed, before, after, pods to restart, details)``; details: previous_role_arn, adopted, kept, deleted."""
    params = module.params
    if params["cluster_issuer"]:
        check_cluster(module, kube)
    annotations, remove, labels = wanted(params)
    current = module.reads.service_account(params["namespace"], params["name"])
    before = view(current)
    if params["state"] == "absent":
        return run_absent(module, kube, current, before)
    return run_present(module, kube, current, before, annotations, remove, labels)


def run_absent(module, kube, current, before):
    """``state=absent``: delete the ServiceAccount (``delete``; ``delete_when_unused`` once the removal leaves it
    unused), or remove the IRSA annotations this task may remove."""
    params = module.params
    namespace, name = params["namespace"], params["name"]
    if current is None:
        return False, before, {}, [], {"deleted": False}
    if params["delete"]:
        owner = (current["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL)
        if owner != MANAGED_BY_VALUE:
            raise ConflictError(
                "ServiceAccount {0}/{1} was not created by eks.irsa (its {2} label is {3!r}), so delete: true leaves it "
                "in place: remove delete: true to only drop the IRSA annotations, or delete it yourself".format(
                    namespace, name, MANAGED_BY_LABEL, owner)
            )
        if not module.check_mode:
            kube.delete_service_account(namespace, name)
        return True, before, {}, [], {"deleted": True}
    removal, kept = removal_plan(module, current)
    if params["delete_when_unused"] and not kept and sa.unused_after(current["metadata"], removal):
        if not module.check_mode:
            kube.delete_service_account(namespace, name)
        return True, before, {}, pods_to_restart(module, None), {"deleted": True}
    after_object, changed = patch_until_applied(module, kube, current, {}, removal, {})
    details = {"deleted": False}
    if kept:
        details["kept_role_arn"] = kept
    return changed, before, view(after_object), pods_to_restart(module, None) if removal else [], details


def run_present(module, kube, current, before, annotations, remove, labels):
    """``state=present``: create the ServiceAccount, or take it over and patch the keys this task owns."""
    params = module.params
    namespace, name = params["namespace"], params["name"]
    changed = False
    details = {"previous_role_arn": None, "adopted": False}
    if current is None:
        created = create(module, kube, annotations, labels)
        if created is not None:
            current, changed = created, True
        else:
            current = kube.get_service_account(namespace, name)
    if not changed:
        if params["annotate_role"]:
            details["previous_role_arn"], details["adopted"] = take_over(module, current)
        current, changed = patch_until_applied(module, kube, current, annotations, remove, labels)
        if changed and module.check_mode:
            kube.check_allowed("patch", "serviceaccounts", namespace)
    restart = pods_to_restart(module, params["role_arn"]) if params["annotate_role"] else []
    return changed, before, view(current), restart, details


def pods_to_restart(module, role_arn):
    """The ServiceAccount's pods that keep an old identity: not mutated for ``role_arn`` (for None, after a removal,
    still holding the removed role); none without ``list_pods``."""
    if not module.params["list_pods"]:
        return []
    pods = module.reads.pods(module.params["namespace"], module.params["name"])
    return sa.pods_to_restart(pods, role_arn)


def run_item(module, kube):
    """The result of one ServiceAccount (an item of ``service_accounts``, or the single form), failure included."""
    try:
        validate(module)
        changed, before, after, restart, details = run(module, kube)
    except (InputError, ConflictError, KubernetesError) as e:
        # Every write of an item is its last step, but for a namespace created before its ServiceAccount.
        written = getattr(module, "written", None)
        message = str(e) + (" (namespace {0} was created)".format(module.params["namespace"]) if written else "")
        result = dict(failed=True, msg=message, changed=bool(written), **getattr(e, "details", {}))
        result["warnings"] = module.warnings
        return result
    if module.params["restart_pods"]:
        try:
            details["restarted"], details["not_restarted"] = restart_workloads(module, kube)
        except KubernetesError as e:
            # The ServiceAccount's own change is done: say so with the failure.
            return dict(failed=True, msg="{0} (the ServiceAccount itself is {1})".format(e, "changed" if changed else "unchanged"),
                        changed=changed, warnings=module.warnings)
        changed = changed or bool(details["restarted"])
    params = module.params
    if params["verify_checks"] and params["state"] == "present" and (changed or params["verify_when"] == "always"):
        try:
            details["verify_denied"] = verification_denials(module, kube)
        except KubernetesError as e:
            return dict(failed=True, msg="{0} (the ServiceAccount itself is {1})".format(e, "changed" if changed else "unchanged"),
                        changed=changed, warnings=module.warnings)
    warn_outcome(module, restart, details)
    result = dict(changed=changed, service_account=after, pods_to_restart=restart, **details)
    if module._diff:
        result["diff"] = {"before": _metadata_diff(before), "after": _metadata_diff(after)}
    result["warnings"] = module.warnings
    return result


def verification_denials(module, kube):
    """The Kubernetes calls of the irsa_verify checks ``verify_checks`` that RBAC denies this identity in the item's
    namespace (a SelfSubjectAccessReview each, asked once per namespace whatever the items sharing it)."""
    params = module.params
    namespace = params["namespace"]

    def denial_of(verb, resource):
        return module.cache.get(("rbac", namespace, verb, resource), lambda: kube.denial(verb, resource, namespace))

    return permissions.denied_calls(namespace, params["verify_mechanism"], params["verify_checks"], denial_of)


def restart_workloads(module, kube):
    """Rollout-restart the workloads that own the pods ``restart_pods`` names: ``(restarted, not restarted)``."""
    params = module.params
    pods = module.reads.pods(params["namespace"], params["name"])
    return rollout.restart(module, kube, params["namespace"], pods, params["restart_pods"])


def warn_outcome(module, restart, details):
    """The warnings of a run that went through: pods to restart, a role replaced, another binding's role kept."""
    params = module.params
    if restart:
        module.warn(
            "{0} pod(s) of ServiceAccount {1}/{2} predate this change and keep their old identity until recreated: {3}. "
            "Restart them (e.g. kubectl rollout restart of their owners)".format(
                len(restart), params["namespace"], params["name"],
                ", ".join("{0}{1}".format(p["name"], " ({0} {1})".format(p["owner_kind"], p["owner_name"]) if p["owner_kind"] else "")
                          for p in restart[:10]))
        )
    if details.get("previous_role_arn"):
        module.warn("ServiceAccount {0}/{1} was annotated with role {2}; it now names {3}".format(
            params["namespace"], params["name"], details["previous_role_arn"], params["role_arn"]))
    if details.get("kept_role_arn"):
        module.warn("ServiceAccount {0}/{1} is annotated with role {2}, not {3}: that annotation is another binding's "
                    "and was left as it is".format(params["namespace"], params["name"], details["kept_role_arn"],
                                                   params["role_arn"]))


def _metadata_diff(view_of):
    """One side of the diff: the annotations and labels of a ``view``, or ``{}`` for no ServiceAccount."""
    return {"annotations": view_of.get("annotations", {}), "labels": view_of.get("labels", {})} if view_of else {}


def run_service_accounts(module, items, cache):
    """The result of every item (``batch.items_of``), ``max_concurrency`` at a time, over one Kubernetes connection;
    the first reads of a namespace named by several items are shared (``batch.NamespaceReads`` over ``cache``)."""
    kube = None
    try:
        if any(item for item, _label in items):
            kube = kubernetes_services(module)
    except KubernetesError as e:
        errors.fail(module, e)
    try:
        per_namespace = {}
        for item, _label in items:
            if item is not None:
                per_namespace[item.params["namespace"]] = per_namespace.get(item.params["namespace"], 0) + 1
        reads = batch.NamespaceReads(kube, cache, per_namespace)

        def work(entry):
            item, label = entry
            if item is None:
                return {"failed": True, "changed": False, "msg": label}
            item.reads = reads
            result = run_item(item, kube)
            result.update(namespace=item.params["namespace"], name=item.params["name"])
            return result

        return batch.run_items(work, items, module.params["max_concurrency"])
    finally:
        if kube is not None:
            kube.close()


def finish(module, items, results):
    """End the module: the single form with its one result (a failure through ``errors.fail``), a batch with
    ``batch.finish``."""
    if module.params["service_accounts"] is None:
        result = results[0]
        for warning in result.pop("warnings", []):
            module.warn(warning)
        for key in ("namespace", "name"):
            result.pop(key)
        if result.pop("failed", False):
            errors.fail(module, IrsaError(result.pop("msg")), **result)
        module.exit_json(**result)
    batch.finish(module, items, results, "ServiceAccounts")
