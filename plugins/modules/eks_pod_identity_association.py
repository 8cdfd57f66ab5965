#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: eks_pod_identity_association
short_description: Link a Kubernetes ServiceAccount to an IAM role with EKS Pod Identity
version_added: 0.1.0
description:
  - Creates, updates or deletes the EKS Pod Identity association of one ServiceAccount of an EKS cluster, the EKS
    API's link from a ServiceAccount to the IAM role its pods get (no OIDC provider, no annotation; the role trusts
    the service principal C(pods.eks.amazonaws.com) with C(sts:AssumeRole) and C(sts:TagSession)).
  - EKS keeps at most one association per namespace and ServiceAccount of a cluster; the task finds it by these two,
    and changes its role, target role and session tags in place. Its namespace and ServiceAccount never change.
  - Associations this collection creates carry the tag C(eks.irsa/managed-by=eks.irsa). One without it (made by
    eksctl, Terraform, the console) is not changed or deleted unless O(adopt=true); one that an EKS add-on owns is
    never changed. An association already as the task wants it is left as it is, whoever made it.
  - Unchanged, it makes two EKS calls (list the ServiceAccount's association, describe it) and no write. With
    O(associations), a cluster named by several items is listed once.
  - Pods read their credentials when they start; the EKS Pod Identity agent (the C(eks-pod-identity-agent) add-on)
    must run in the cluster, and pods on Fargate do not get Pod Identity credentials.
author:
  - eks.irsa contributors (!UNKNOWN)
options:
  cluster_name:
    description:
      - Name of the EKS cluster the association is in, in the region of the AWS connection.
      - Required, in the task or in each item of O(associations).
    type: str
  namespace:
    description: Namespace of the ServiceAccount.
    type: str
    default: default
  service_account:
    description:
      - Name of the ServiceAccount whose pods get the role.
      - Required unless O(associations) is given; mutually exclusive with it.
    type: str
  associations:
    description:
      - Many associations in one task, each a dict with the options of one association (V(cluster_name),
        V(namespace), V(service_account), V(role_arn), V(target_role_arn), V(disable_session_tags), V(tags),
        V(purge_tags), V(state), V(adopt)). V(service_account) is required in each.
      - An option an item leaves out (or sets to V(null)) takes the value the task gives it.
      - Each item has its own result, C(changed), diff and warnings in RV(results); an item that fails does not
        stop the others, and the task fails at the end, naming every one that failed. Two items naming the same
        namespace and ServiceAccount of a cluster are refused.
    type: list
    elements: raw
  max_concurrency:
    description:
      - With O(associations), how many associations are worked on at the same time.
    type: int
    default: 8
  role_arn:
    description:
      - ARN of the IAM role the pods get, in the cluster's account and partition.
      - Required with O(state=present). With O(state=absent), the association is deleted only when it names this
        role (same account and name); one naming another role is left and reported in RV(kept_role_arn).
    type: str
  target_role_arn:
    description:
      - ARN of a role, in this or another account, that EKS assumes with the credentials of O(role_arn) before it
        hands credentials to the pods (role chaining, for cross-account access). Its trust policy must let
        O(role_arn) assume it with the external ID EKS returns in RV(association.external_id).
      - V("") removes the target role; left alone when not given.
    type: str
  disable_session_tags:
    description:
      - Turn off the session tags EKS Pod Identity adds (cluster, namespace, ServiceAccount, pod) when it assumes
        the role. Left alone when not given; a new association gets V(false), as EKS's default.
    type: bool
  tags:
    description:
      - Tags of the association. When not given, existing tags are left alone.
      - The tag C(eks.irsa/managed-by) is the collection's; it is neither added nor removed through O(tags).
    type: dict
    aliases: ['resource_tags']
  purge_tags:
    description:
      - Remove tags that are not in O(tags). Applies only when O(tags) is given.
    type: bool
    default: true
  state:
    description:
      - C(present) creates or updates the association; C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  adopt:
    description:
      - Take over an association this collection did not create (one without the C(eks.irsa/managed-by=eks.irsa)
        tag), changing it to what the task says and tagging it (O(state=present); RV(adopted) is V(true)), or
        deleting it (O(state=absent)). Without it, such an association is refused, before any write, whenever the
        task would change or delete it.
      - An association an EKS add-on owns (RV(association.owner_arn)) is never changed, adopted or not.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - eks.irsa.requirements
attributes:
  check_mode:
    support: full
    description: Predicts exactly what a real run changes and changes nothing; IDs a creation would get are empty.
  diff_mode:
    support: full
    description: Shows the association before and after.
notes:
  - "IAM permissions: C(eks:ListPodIdentityAssociations) and C(eks:DescribePodIdentityAssociation) always;
    C(eks:CreatePodIdentityAssociation) and C(eks:TagResource) to create, C(eks:UpdatePodIdentityAssociation),
    C(eks:TagResource) and C(eks:UntagResource) to change, C(eks:DeletePodIdentityAssociation) to delete;
    C(iam:PassRole) on O(role_arn) (and O(target_role_arn)) where AWS asks for it; C(eks:DescribeCluster) to
    explain a cluster that is not found."
  - Associations are eventually consistent; a pod that starts in the seconds after a change may still get the
    previous role. Pods that run already keep the credentials they got until they are restarted.
seealso:
  - module: eks.irsa.irsa_role
  - name: EKS Pod Identity
    description: How EKS Pod Identity works, and how it differs from IRSA.
    link: https://docs.aws.amazon.com/eks/latest/userguide/pod-identities.html
"""

EXAMPLES = r"""
- name: Give the pods of shop/cart the role shop-cart
  eks.irsa.eks_pod_identity_association:
    cluster_name: my-cluster
    namespace: shop
    service_account: cart
    role_arn: arn:aws:iam::123456789012:role/shop-cart
    region: us-west-2
  register: cart

- name: Cross-account access, through a role of account 210987654321 that trusts shop-cart
  eks.irsa.eks_pod_identity_association:
    cluster_name: my-cluster
    namespace: shop
    service_account: billing
    role_arn: arn:aws:iam::123456789012:role/shop-cart
    target_role_arn: arn:aws:iam::210987654321:role/billing-reader
    region: us-west-2
  register: billing

- name: Say which external ID the target role's trust must require
  ansible.builtin.debug:
    msg: "sts:ExternalId {{ billing.association.external_id }}"

- name: Many associations in one task (the task's options are the defaults of every item)
  eks.irsa.eks_pod_identity_association:
    cluster_name: my-cluster
    namespace: shop
    role_arn: arn:aws:iam::123456789012:role/shop-cart
    tags:
      team: shop
    associations:
      - service_account: checkout
      - {service_account: reports, disable_session_tags: true}
    region: us-west-2
  register: shop

- name: Remove the association of shop/cart
  eks.irsa.eks_pod_identity_association:
    cluster_name: my-cluster
    namespace: shop
    service_account: cart
    state: absent
    region: us-west-2
"""

RETURN = r"""
results:
  description:
    - With O(associations), one entry per item, in the order given, with the keys the single form returns
      (RV(association), RV(adopted) or RV(deleted), RV(kept_role_arn), C(diff) in diff mode,
      RV(foreign_association)) plus C(namespace), C(service_account), C(changed), C(warnings), and C(failed),
      C(msg) (and C(error_code) for an AWS error) for an item that failed.
  returned: when O(associations) is given
  type: list
  elements: dict
  sample:
    - namespace: shop
      service_account: checkout
      changed: true
      adopted: false
      association: {association_id: a-9njjin9gfghecgocd, role_arn: "arn:aws:iam::123456789012:role/shop-cart"}
      warnings: []
adopted:
  description: Whether this task tagged as ours an association it did not create (O(adopt)).
  returned: when state is present
  type: bool
  sample: false
deleted:
  description: Whether the association was deleted (in check mode, would be).
  returned: when state is absent
  type: bool
  sample: true
kept_role_arn:
  description: With O(state=absent) and O(role_arn), the other role the association names, left in place.
  returned: when the association names another role
  type: str
  sample: arn:aws:iam::123456789012:role/other-role
foreign_association:
  description: On failure, the ID of the association that the task refused to change or delete because it is not ours.
  returned: when the task failed for that reason
  type: str
  sample: a-9njjin9gfghecgocd
association:
  description: The association after the run (predicted in check mode); empty when there is none.
  returned: unless O(associations) is given
  type: dict
  contains:
    association_id:
      description: Its ID (empty in check mode before creation).
      returned: when the association exists (or, in check mode, would be created)
      type: str
      sample: a-9njjin9gfghecgocd
    association_arn:
      description: Its ARN (empty in check mode before creation).
      returned: when the association exists (or, in check mode, would be created)
      type: str
      sample: arn:aws:eks:us-west-2:123456789012:podidentityassociation/my-cluster/a-9njjin9gfghecgocd
    cluster_name:
      description: The cluster it is in.
      returned: when the association exists (or, in check mode, would be created)
      type: str
      sample: my-cluster
    namespace:
      description: The namespace of its ServiceAccount.
      returned: when the association exists (or, in check mode, would be created)
      type: str
      sample: shop
    service_account:
      description: Its ServiceAccount.
      returned: when the association exists (or, in check mode, would be created)
      type: str
      sample: cart
    role_arn:
      description: The role the pods get.
      returned: when the association exists (or, in check mode, would be created)
      type: str
      sample: arn:aws:iam::123456789012:role/shop-cart
    target_role_arn:
      description: The target role EKS assumes with O(role_arn), or V(null).
      returned: when the association exists (or, in check mode, would be created)
      type: str
      sample: arn:aws:iam::210987654321:role/billing-reader
    external_id:
      description:
        - The external ID EKS uses to assume the target role, for the C(sts:ExternalId) condition of its trust
          policy; V(null) without a target role (empty in check mode before EKS made one).
      returned: when the association exists (or, in check mode, would be created)
      type: str
      sample: 4c0f3f3c-8e7c-4d6e-9c53-1f0a8c2b6e11
    disable_session_tags:
      description: Whether EKS Pod Identity's session tags are turned off.
      returned: when the association exists (or, in check mode, would be created)
      type: bool
      sample: false
    tags:
      description: Its tags, the ownership tag included.
      returned: when the association exists (or, in check mode, would be created)
      type: dict
      sample: {"eks.irsa/managed-by": "eks.irsa", "team": "shop"}
    owner_arn:
      description: The EKS add-on that owns the association, or V(null).
      returned: when the association exists (or, in check mode, would be created)
      type: str
      sample: null
    owned:
      description: Whether the association carries the ownership tag of eks.irsa (created or adopted by it).
      returned: when the association exists (or, in check mode, would be created)
      type: bool
      sample: true
"""

from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import pod_identity_association
from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule


def argument_spec():
    return dict(
        cluster_name=dict(type="str"),
        namespace=dict(type="str", default="default"),
        service_account=dict(type="str"),
        associations=dict(type="list", elements="raw"),
        max_concurrency=dict(type="int", default=batch.DEFAULT_CONCURRENCY),
        role_arn=dict(type="str"),
        target_role_arn=dict(type="str"),
        disable_session_tags=dict(type="bool"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        adopt=dict(type="bool", default=False),
    )


def _describe(params, where):
    return "association {0}/{1} in cluster {2} ({3})".format(
        params["namespace"], params["service_account"], params.get("cluster_name"), where)


def main():
    spec = argument_spec()
    module = IrsaAWSModule(argument_spec=spec, mutually_exclusive=[("service_account", "associations")],
                           required_one_of=[("service_account", "associations")], supports_check_mode=True)
    item_options = batch.item_spec(spec, ("associations", "max_concurrency"))
    item_options["service_account"]["required"] = True
    cache = batch.OnceCache()
    items = batch.items_of(module, "associations", item_options, _describe, cache)
    pod_identity_association.finish(module, items, pod_identity_association.run_associations(module, items, cache))


if __name__ == "__main__":
    main()
