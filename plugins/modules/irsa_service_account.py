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
        V(namespace), V(role_arn), V(annotate_role), V(restart_pods), V(verify_checks), V(verify_mechanism), V(verify_when),
        V(audience), V(sts_regional_endpoints), V(token_expiration),
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
  annotate_role:
    description:
      - V(false) leaves the IRSA annotations as they are and only makes sure the ServiceAccount exists (created when
        missing, as O(create) says) with O(annotations) and O(labels); O(role_arn) is then not given. For a
        ServiceAccount whose pods get their role from an EKS Pod Identity association
        (M(eks.irsa.eks_pod_identity_association)), as the role P(eks.irsa.irsa#role) makes for C(mechanism=pod_identity).
    type: bool
    default: true
  restart_pods:
    description:
      - Names of pods of this ServiceAccount, in its namespace, to restart after the change (those RV(pods_to_restart) or
        M(eks.irsa.irsa_verify)'s RV(eks.irsa.irsa_verify#module:results[].pods_to_restart) listed), with O(state=present).
      - Each is replaced by a rollout restart of the Deployment, StatefulSet or DaemonSet that owns it (the pod
        template's C(kubectl.kubernetes.io/restartedAt) annotation, as C(kubectl rollout restart) writes it), so the
        workload's own rollout rules apply; each workload is restarted once (RV(restarted)). A pod no such workload owns
        (a bare pod, a Job's) is not deleted but listed in RV(not_restarted). A pod that is gone is skipped.
      - Needs C(get) on C(replicasets) and C(patch) on C(deployments), C(statefulsets) and C(daemonsets) (API group
        C(apps)); check mode asks RBAC for the patch and changes nothing.
    type: list
    elements: str
  verify_checks:
    description:
      - The M(eks.irsa.irsa_verify) checks (V(static), V(token), V(pod)) that will verify this ServiceAccount after the
        task. With O(state=present), the task asks the Kubernetes API (a SelfSubjectAccessReview per call, which writes
        nothing, once per namespace whatever the items sharing it) whether RBAC lets this identity make the calls those
        checks make in its namespace, and returns each call it denies in RV(verify_denied).
      - The calls are those a passing verification makes. V(static) lists pods; V(token) creates
        C(serviceaccounts/token) (and lists pods with O(verify_mechanism=pod_identity)); V(pod) lists, creates, gets and
        deletes pods and gets C(pods/log).
      - Run in check mode before anything is written, so a play can stop before its first write when the verification
        could not run; the role P(eks.irsa.irsa#role) does.
    type: list
    elements: str
    choices: [static, token, pod]
    default: []
  verify_mechanism:
    description: How the pods of this ServiceAccount get their role, for O(verify_checks).
    type: str
    choices: [irsa, pod_identity]
    default: irsa
  verify_when:
    description:
      - When O(verify_checks) are asked of RBAC. V(always), whenever the task runs. V(changed), only when the
        ServiceAccount changes (would change, in check mode), for a play that writes nothing else of the binding, so
        that a run that writes nothing asks nothing.
    type: str
    choices: [always, changed]
    default: always
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
restarted:
  description: With O(restart_pods), the workloads restarted (would be, in check mode), as C(Kind/name).
  returned: with O(restart_pods)
  type: list
  elements: str
  sample: [Deployment/cart]
not_restarted:
  description: With O(restart_pods), the pods no Deployment, StatefulSet or DaemonSet owns, each with why it was not restarted.
  returned: with O(restart_pods)
  type: list
  elements: dict
  sample: [{"pod": "debug", "reason": "a bare pod: no workload recreates it, so it is not deleted; recreate it yourself"}]
verify_denied:
  description:
    - With O(verify_checks), each Kubernetes call of those checks that RBAC denies this identity in the ServiceAccount's
      namespace, with the checks that need it and a message naming the identity and how to grant it; empty when RBAC
      allows them all.
  returned: with O(verify_checks) and O(state=present), when asked (O(verify_when))
  type: list
  elements: dict
  sample: [{"verb": "get", "resource": "pods/log", "checks": ["pod"], "message": "The eks.irsa.irsa_verify pod check of this ServiceAccount cannot run ..."}]
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
from ansible_collections.eks.irsa.plugins.module_utils import service_account_run
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import hide_kubeconfig_secrets
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import k8s_argument_spec


def argument_spec():
    return dict(
        name=dict(type="str"),
        namespace=dict(type="str", default="default"),
        service_accounts=dict(type="list", elements="raw"),
        max_concurrency=dict(type="int", default=batch.DEFAULT_CONCURRENCY),
        role_arn=dict(type="str"),
        annotate_role=dict(type="bool", default=True),
        restart_pods=dict(type="list", elements="str"),
        verify_checks=dict(type="list", elements="str", choices=["static", "token", "pod"], default=[]),
        verify_mechanism=dict(type="str", choices=["irsa", "pod_identity"], default="irsa"),
        verify_when=dict(type="str", choices=["always", "changed"], default="always"),
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
    service_account_run.finish(module, items, service_account_run.run_service_accounts(module, items, cache))


if __name__ == "__main__":
    main()
