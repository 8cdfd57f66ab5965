#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: irsa_service_account
short_description: Annotate a Kubernetes ServiceAccount with the IAM role it assumes (IRSA)
version_added: 0.1.0
description:
  - Sets the C(eks.amazonaws.com/role-arn) annotation (and, when asked, C(eks.amazonaws.com/audience),
    C(eks.amazonaws.com/sts-regional-endpoints) and C(eks.amazonaws.com/token-expiration)) on one ServiceAccount,
    creating the ServiceAccount when it does not exist.
  - Changes only the keys it owns, with a merge patch; annotations and labels of others (Helm's, operators') stay.
    A concurrent change between the read and the write (HTTP 409) is re-read and retried.
  - Reports the running pods of the ServiceAccount that predate the change (RV(pods_to_restart)), since the pod
    identity webhook mutates pods only when they are created; they keep their old identity until recreated.
  - Reaches the cluster with a kubeconfig, or in EKS mode with AWS credentials only (O(eks_cluster)).
  - Unchanged, it makes two Kubernetes calls (read the ServiceAccount, list its pods; one with
    O(list_pods=false)) and no write, plus C(eks:DescribeCluster) in EKS mode. With O(service_accounts),
    a namespace of several items costs those two calls once, not once per item.
author:
  - eks.irsa contributors (!UNKNOWN)
options:
  name:
    description:
      - Name of the ServiceAccount.
      - Required unless O(service_accounts) is given; mutually exclusive with it.
    type: str
  service_accounts:
    description:
      - Many ServiceAccounts in one task, each a dict with the options of one ServiceAccount (V(name),
        V(namespace), V(role_arn), V(audience), V(sts_regional_endpoints), V(token_expiration),
        V(annotations), V(labels), V(create), V(create_namespace), V(list_pods), V(state), V(delete),
        V(delete_when_unused), V(adopt), V(cluster_issuer)). V(name) is required in each.
      - An option an item leaves out (or sets to V(null)) takes the value the task gives it.
      - One Kubernetes connection serves every item; a namespace that several items name is read with one
        list of its ServiceAccounts (and one of its pods) instead of a read per ServiceAccount, and the
        cluster's issuer (O(cluster_issuer)) is read once. Each item has its own result, C(changed), diff and
        warnings in RV(results); an item that fails does not stop the others, and the task fails at the end,
        naming every one that failed.
    type: list
    elements: raw
  max_concurrency:
    description:
      - With O(service_accounts), how many ServiceAccounts are worked on at the same time.
    type: int
    default: 8
  namespace:
    description: Namespace of the ServiceAccount.
    type: str
    default: default
  role_arn:
    description:
      - ARN of the IAM role pods of this ServiceAccount assume, the value of C(eks.amazonaws.com/role-arn).
      - Required with O(state=present). The collection records the ARN it sets in the
        C(eks.irsa/bound-role-arn) annotation; a role annotation it did not set (someone else's, or one
        edited by hand since) is not replaced unless O(adopt=true).
      - With O(state=absent), the IRSA annotations are removed only when the role annotation names this role
        (same partition, account and name); an annotation naming another role is left and reported in
        RV(kept_role_arn). Without it, only an annotation this collection set is removed.
    type: str
  audience:
    description:
      - Audience of the projected token (C(eks.amazonaws.com/audience)). V(sts.amazonaws.com), the webhook's default,
        removes the annotation; any other value sets it. Left alone when not given.
    type: str
  sts_regional_endpoints:
    description:
      - Make pods use the regional STS endpoint (C(eks.amazonaws.com/sts-regional-endpoints)). Left alone when not given.
    type: bool
  token_expiration:
    description:
      - Lifetime in seconds of the projected token, 600 to 86400 (C(eks.amazonaws.com/token-expiration)). Left alone
        when not given.
    type: int
  annotations:
    description:
      - Further annotations to set (merged with the existing ones). With O(state=absent) these keys are removed too.
      - Keys that look like C(eks.amazonaws.com/role-arn) but are not it (such as C(eks.amazon.com/role-arn)) are
        warned about, since the webhook ignores them.
      - An IRSA annotation here that contradicts O(role_arn), O(audience), O(sts_regional_endpoints) or
        O(token_expiration) is an error; so is a key Kubernetes would refuse.
    type: dict
    default: {}
  labels:
    description:
      - Labels to set (merged with the existing ones). Keys and values Kubernetes would refuse are an error.
    type: dict
    default: {}
  create:
    description:
      - Create the ServiceAccount when it does not exist (labelled C(app.kubernetes.io/managed-by=eks.irsa)).
        When false, a missing ServiceAccount is an error.
    type: bool
    default: true
  create_namespace:
    description:
      - Create the namespace when it does not exist. When false, a missing namespace is an error.
    type: bool
    default: false
  list_pods:
    description:
      - List the ServiceAccount's pods to report RV(pods_to_restart) (one Kubernetes call).
      - V(false) skips the call and RV(pods_to_restart) is empty; for callers that find such pods otherwise,
        as the role P(eks.irsa.irsa#role) does with the C(static) check of M(eks.irsa.irsa_verify).
    type: bool
    default: true
  state:
    description:
      - C(present) sets the annotations; C(absent) removes the IRSA annotations (and O(annotations) keys),
        as O(role_arn) says.
    type: str
    choices: [present, absent]
    default: present
  adopt:
    description:
      - Take over a role annotation that this collection did not set, replacing it (O(state=present), the previous
        ARN is returned in RV(previous_role_arn)) or removing it (O(state=absent) without O(role_arn)).
    type: bool
    default: false
  cluster_issuer:
    description:
      - The OIDC issuer URL of the EKS cluster this ServiceAccount should be in (RV(eks.irsa.eks_oidc_info#module:issuer_url)).
        When given, the task first checks that the Kubernetes API it reaches issues ServiceAccount tokens for that
        issuer (its C(/.well-known/openid-configuration)), and fails before any write when it is another cluster, such
        as a kubeconfig context pointing elsewhere. One more Kubernetes call.
    type: str
  delete_when_unused:
    description:
      - With O(state=absent), delete the ServiceAccount when this collection created it (labelled
        C(app.kubernetes.io/managed-by=eks.irsa)) and, the IRSA annotations removed, it has no other annotation or
        label; otherwise only the annotations are removed.
    type: bool
    default: false
  delete:
    description:
      - With O(state=absent), also delete the ServiceAccount, but only one this collection created (labelled
        C(app.kubernetes.io/managed-by=eks.irsa)); any other is refused.
    type: bool
    default: false
extends_documentation_fragment:
  - eks.irsa.k8s_auth
  - eks.irsa.k8s_auth.eks_cluster
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - eks.irsa.requirements
attributes:
  check_mode:
    support: full
    description: Predicts exactly what a real run changes and changes nothing.
  diff_mode:
    support: full
    description: Shows the ServiceAccount's annotations and labels before and after.
notes:
  - The AWS options are used in EKS mode only.
  - "Kubernetes RBAC needed: get, create and patch on serviceaccounts; list on pods; get (and create, with
    O(create_namespace)) on namespaces; delete on serviceaccounts with O(delete) or O(delete_when_unused)."
seealso:
  - module: eks.irsa.irsa_role
  - module: eks.irsa.irsa_verify
"""

EXAMPLES = r"""
# Step 2 of the IRSA procedure: annotate the ServiceAccount with the role
#   eks.amazonaws.com/role-arn: "arn:aws:iam::<AWS_ACCOUNT_ID>:role/<IAM_ROLE_NAME>"
- name: Annotate irsa-test with AWSIRSATestRole (kubeconfig)
  eks.irsa.irsa_service_account:
    name: irsa-test
    namespace: default
    role_arn: arn:aws:iam::123456789012:role/AWSIRSATestRole
    kubeconfig: ~/.kube/config
  register: annotated

- name: Say which pods keep their old identity
  ansible.builtin.debug:
    msg: "Restart {{ annotated.pods_to_restart | map(attribute='name') | join(', ') }}"
  when: annotated.pods_to_restart | length > 0

- name: The same with AWS credentials only (EKS mode, no kubeconfig), regional STS and a 1 hour token
  eks.irsa.irsa_service_account:
    name: irsa-test
    namespace: default
    role_arn: arn:aws:iam::123456789012:role/AWSIRSATestRole
    sts_regional_endpoints: true
    token_expiration: 3600
    eks_cluster: my-cluster
    region: us-west-2

- name: Remove the IRSA annotations
  eks.irsa.irsa_service_account:
    name: irsa-test
    namespace: default
    state: absent
    eks_cluster: my-cluster
    region: us-west-2

- name: Many ServiceAccounts in one task (the task's options are the defaults of every item)
  eks.irsa.irsa_service_account:
    namespace: shop
    role_arn: arn:aws:iam::123456789012:role/shop-reader
    service_accounts:
      - name: cart
      - name: checkout
      - {name: billing, role_arn: "arn:aws:iam::123456789012:role/shop-billing"}
    eks_cluster: my-cluster
    region: us-west-2
  register: annotated_all

- name: Say which ServiceAccounts changed
  ansible.builtin.debug:
    msg: "{{ annotated_all.results | selectattr('changed') | map(attribute='name') | list }}"
"""

RETURN = r"""
results:
  description:
    - With O(service_accounts), one entry per item, in the order given, with the keys the single form
      returns (RV(service_account), RV(pods_to_restart), RV(previous_role_arn), RV(adopted) or RV(deleted),
      C(diff) in diff mode, RV(foreign_role_arn), RV(wrong_cluster_issuer)) plus C(namespace), C(name),
      C(changed), C(warnings), and C(failed) and C(msg) for an item that failed.
  returned: when O(service_accounts) is given
  type: list
  elements: dict
  sample:
    - namespace: default
      name: irsa-test
      changed: false
      service_account: {name: irsa-test, namespace: default}
      pods_to_restart: []
      warnings: []
previous_role_arn:
  description: The role the ServiceAccount named before this run replaced it, or V(null).
  returned: when state is present
  type: str
  sample: arn:aws:iam::123456789012:role/old-role
adopted:
  description: Whether this run recorded as ours a role annotation it did not set (O(adopt), or one already exactly as wanted).
  returned: when state is present
  type: bool
  sample: false
deleted:
  description: Whether the ServiceAccount was deleted (O(delete), O(delete_when_unused)).
  returned: when state is absent
  type: bool
  sample: false
kept_role_arn:
  description: With O(state=absent) and O(role_arn), the other role the annotation names, left in place.
  returned: when the annotation names another role
  type: str
  sample: arn:aws:iam::123456789012:role/other-role
wrong_cluster_issuer:
  description: On failure, the issuer of the cluster the connection reached, when it is not O(cluster_issuer).
  returned: when the task failed for that reason
  type: str
  sample: https://oidc.eks.us-west-2.amazonaws.com/id/B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6
foreign_role_arn:
  description: On failure, the role annotation that the task refused to replace or remove because it is not ours.
  returned: when the task failed for that reason
  type: str
  sample: arn:aws:iam::123456789012:role/someone-elses
service_account:
  description: The ServiceAccount after the run (predicted in check mode); empty when it does not exist.
  returned: unless O(service_accounts) is given
  type: dict
  contains:
    name:
      description: Its name.
      returned: when the ServiceAccount exists (or, in check mode, would be created)
      type: str
      sample: irsa-test
    namespace:
      description: Its namespace.
      returned: when the ServiceAccount exists (or, in check mode, would be created)
      type: str
      sample: default
    annotations:
      description: All its annotations.
      returned: when the ServiceAccount exists (or, in check mode, would be created)
      type: dict
      sample: {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/AWSIRSATestRole"}
    labels:
      description: All its labels.
      returned: when the ServiceAccount exists (or, in check mode, would be created)
      type: dict
      sample: {"app.kubernetes.io/managed-by": "eks.irsa"}
    uid:
      description: Its UID (empty in check mode before creation).
      returned: when the ServiceAccount exists (or, in check mode, would be created)
      type: str
      sample: 1b9e9c41-5c1e-4c6c-9e57-2f3c2b8d3a10
pods_to_restart:
  description:
    - Running or pending pods of the ServiceAccount that keep their old identity until recreated (not mutated for
      O(role_arn); with O(state=absent), still carrying a role).
  returned: unless O(service_accounts) is given
  type: list
  elements: dict
  contains:
    name:
      description: Pod name.
      returned: always
      type: str
      sample: app-7d9c6b5f4-x2x9z
    namespace:
      description: Pod namespace.
      returned: always
      type: str
      sample: default
    owner_kind:
      description: Kind of the pod's first owner (e.g. ReplicaSet), empty for a bare pod.
      returned: always
      type: str
      sample: ReplicaSet
    owner_name:
      description: Name of that owner.
      returned: always
      type: str
      sample: app-7d9c6b5f4
    reason:
      description: What the pod lacks.
      returned: always
      type: str
      sample: container 'app' has no AWS_ROLE_ARN
  sample: []
"""


from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils import service_account as sa
from ansible_collections.eks.irsa.plugins.module_utils.constants import BOUND_ROLE_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import MANAGED_BY_LABEL
from ansible_collections.eks.irsa.plugins.module_utils.constants import MANAGED_BY_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError
from ansible_collections.eks.irsa.plugins.module_utils.errors import KubernetesError
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import hide_kubeconfig_secrets
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import k8s_argument_spec
from ansible_collections.eks.irsa.plugins.module_utils.k8s.api import kubernetes_services
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import near_miss_role_keys

CONFLICT_RETRIES = 5


def view(obj):
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
    params = module.params
    hide_kubeconfig_secrets(module)
    sa.check_names(params["namespace"], params["name"])
    if params["state"] == "present":
        if not params["role_arn"]:
            raise NamingError("role_arn is required with state=present: give the ARN of the IAM role the ServiceAccount assumes")
        sa.check_role_arn(params["role_arn"])
    sa.check_token_expiration(params["token_expiration"])
    sa.check_metadata(params["annotations"], params["labels"])
    if params["state"] == "present":
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
    return "set adopt: true (the eks.irsa.irsa role: list {0}/{1} in irsa_adopt_service_accounts)".format(namespace, name)


def wanted(params):
    if params["state"] == "absent":
        return {}, [], {}
    annotations, remove = sa.desired_annotations(
        params["role_arn"], params["audience"], params["sts_regional_endpoints"], params["token_expiration"], params["annotations"]
    )
    # The record that this collection set the role annotation: what makes a later change or removal safe.
    annotations[BOUND_ROLE_ANNOTATION] = params["role_arn"]
    return annotations, remove, {key: str(value) for key, value in params["labels"].items()}


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
    """Create the ServiceAccount (and its namespace when allowed); return (created object, namespace created)."""
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
        return body, namespace_missing
    if namespace_missing:
        try:
            kube.create_namespace(namespace, labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE})
            module.written = "namespace {0}".format(namespace)
        except KubernetesError as e:
            if e.status != 409:
                raise
    try:
        return kube.create_service_account(namespace, body), namespace_missing
    except KubernetesError as e:
        if e.status != 409:
            raise
        return None, namespace_missing  # created meanwhile by someone else: converge on it with a patch


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
    namespace, name = params["namespace"], params["name"]
    if params["cluster_issuer"]:
        check_cluster(module, kube)
    annotations, remove, labels = wanted(params)
    current = module.reads.service_account(namespace, name)
    before = view(current)

    if params["state"] == "absent":
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
        if removal and params["delete_when_unused"] and sa.unused_after(current["metadata"], removal):
            if not module.check_mode:
                kube.delete_service_account(namespace, name)
            return True, before, {}, pods_to_restart(module, kube, None), {"deleted": True}
        after_object, changed = patch_until_applied(module, kube, current, {}, removal, {})
        details = {"deleted": False}
        if kept:
            details["kept_role_arn"] = kept
        return changed, before, view(after_object), pods_to_restart(module, kube, None) if removal else [], details

    changed = False
    details = {"previous_role_arn": None, "adopted": False}
    if current is None:
        created, _namespace_created = create(module, kube, annotations, labels)
        if created is not None:
            current, changed = created, True
        else:
            current = kube.get_service_account(namespace, name)
    if not changed:
        details["previous_role_arn"], details["adopted"] = take_over(module, current)
        current, changed = patch_until_applied(module, kube, current, annotations, remove, labels)
        if changed and module.check_mode:
            kube.check_allowed("patch", "serviceaccounts", namespace)
    return changed, before, view(current), pods_to_restart(module, kube, params["role_arn"]), details


def pods_to_restart(module, kube, role_arn):
    if not module.params["list_pods"]:
        return []
    pods = module.reads.pods(module.params["namespace"], module.params["name"])
    return sa.pods_to_restart(pods, role_arn)


def argument_spec():
    return dict(
        name=dict(type="str"),
        namespace=dict(type="str", default="default"),
        service_accounts=dict(type="list", elements="raw"),
        max_concurrency=dict(type="int", default=batch.DEFAULT_CONCURRENCY),
        role_arn=dict(type="str"),
        audience=dict(type="str"),
        sts_regional_endpoints=dict(type="bool"),
        token_expiration=dict(type="int", no_log=False),
        annotations=dict(type="dict", default={}),
        labels=dict(type="dict", default={}),
        create=dict(type="bool", default=True),
        create_namespace=dict(type="bool", default=False),
        list_pods=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        delete=dict(type="bool", default=False),
        delete_when_unused=dict(type="bool", default=False),
        adopt=dict(type="bool", default=False),
        cluster_issuer=dict(type="str"),
    )


def run_item(module, kube):
    """The result of one ServiceAccount (an item of ``service_accounts``, or the single form), failure included."""
    params = module.params
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
    result = dict(changed=changed, service_account=after, pods_to_restart=restart, **details)
    if module._diff:
        result["diff"] = {
            "before": {"annotations": before.get("annotations", {}), "labels": before.get("labels", {})} if before else {},
            "after": {"annotations": after.get("annotations", {}), "labels": after.get("labels", {})} if after else {},
        }
    result["warnings"] = module.warnings
    return result


def _describe(params, where):
    return "ServiceAccount {0}/{1} ({2})".format(params["namespace"], params["name"], where)


def main():
    spec = argument_spec()
    spec.update(k8s_argument_spec())
    module = IrsaAWSModule(argument_spec=spec, mutually_exclusive=[("name", "service_accounts")],
                           required_one_of=[("name", "service_accounts")], supports_check_mode=True)
    hide_kubeconfig_secrets(module)
    item_options = batch.item_spec(argument_spec(), ("service_accounts", "max_concurrency"))
    item_options["name"]["required"] = True
    cache = batch.OnceCache()
    items = batch.items_of(module, "service_accounts", item_options, _describe, cache)
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

        results = batch.run_items(work, items, module.params["max_concurrency"])
    finally:
        if kube is not None:
            kube.close()
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


if __name__ == "__main__":
    main()
