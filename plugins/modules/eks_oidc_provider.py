#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: eks_oidc_provider
short_description: Make IAM trust an EKS cluster's OIDC issuer (the IAM OIDC identity provider)
version_added: 0.1.0
description:
  - Creates, updates or deletes the IAM OIDC identity provider for an EKS cluster's issuer, the
    prerequisite of IAM Roles for Service Accounts. Without it every pod fails with
    "No OpenIDConnect provider found in your account".
  - Like C(eksctl utils associate-iam-oidc-provider), but idempotent, with check mode and diff.
  - Present and unchanged, it makes at most three API calls and no write.
  - Reports how many OIDC providers the account has and warns from 90 of the default quota of 100.
author:
  - eks.irsa contributors (!UNKNOWN)
options:
  issuer_url:
    description:
      - The cluster's OIDC issuer, as C(aws eks describe-cluster --query cluster.identity.oidc.issuer) prints it.
      - Exactly one of O(issuer_url) and O(cluster_name) is required.
    type: str
  cluster_name:
    description:
      - Name of the EKS cluster whose issuer to use (one C(eks:DescribeCluster) call), in the region of the AWS connection.
      - Exactly one of O(issuer_url) and O(cluster_name) is required.
    type: str
  client_ids:
    description:
      - Audiences (client IDs) the provider accepts. C(sts.amazonaws.com) is what the pod identity webhook
        projects unless a ServiceAccount sets C(eks.amazonaws.com/audience).
      - With O(purge_client_ids=false) these are added to the provider's client IDs; with O(purge_client_ids=true)
        the provider's client IDs become exactly these.
    type: list
    elements: str
    default: [sts.amazonaws.com]
  purge_client_ids:
    description:
      - Remove client IDs of an existing provider that are not in O(client_ids).
    type: bool
    default: false
  thumbprints:
    description:
      - SHA-1 thumbprints (40 hexadecimal characters each, at most 5) of the issuer's certificate chain.
      - IAM no longer needs them for EKS issuers, so by default the provider's thumbprints are left as they
        are (none on creation). When given, the provider's thumbprints become exactly these.
    type: list
    elements: str
  tags:
    description:
      - Tags of the provider. When not given, existing tags are left alone.
    type: dict
    aliases: ['resource_tags']
  purge_tags:
    description:
      - Remove tags that are not in O(tags). Applies only when O(tags) is given.
    type: bool
    default: true
  state:
    description:
      - C(present) creates or updates the provider; C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  adopt:
    description:
      - Providers this collection creates carry the tag C(eks.irsa/managed-by=eks.irsa). With O(state=absent), a
        provider without it is not deleted (the task fails and says so) unless O(adopt=true).
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), delete the provider even though IAM roles still trust it. Their pods then fail
        with C(InvalidIdentityToken) until the provider exists again.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - eks.irsa.requirements
attributes:
  check_mode:
    support: full
    description: Predicts exactly what a real run changes and changes nothing.
  diff_mode:
    support: full
    description: Shows the provider's URL, client IDs, thumbprints and tags before and after.
notes:
  - With O(state=absent) and O(force=false), the module lists the account's roles (C(iam:ListRoles)) and refuses
    to delete a provider that any of them trusts.
seealso:
  - module: eks.irsa.eks_oidc_info
  - name: Create an IAM OIDC provider for your cluster
    description: The AWS documentation of this step.
    link: https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html
"""

EXAMPLES = r"""
- name: Make IAM trust the cluster's issuer
  eks.irsa.eks_oidc_provider:
    cluster_name: my-cluster
    region: us-west-2
  register: provider

- name: The same from the issuer URL, with tags
  eks.irsa.eks_oidc_provider:
    issuer_url: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
    tags:
      cluster: my-cluster

- name: Remove the provider once no role trusts it any more
  eks.irsa.eks_oidc_provider:
    cluster_name: my-cluster
    region: us-west-2
    state: absent
"""

RETURN = r"""
provider_arn:
  description: ARN of the IAM OIDC provider (also in check mode, and after deletion).
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
issuer_url:
  description: The issuer the provider is for.
  returned: always
  type: str
  sample: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
provider:
  description: The issuer without C(https://), the prefix of the C(:sub) and C(:aud) condition keys.
  returned: always
  type: str
  sample: oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
exists:
  description: Whether the provider exists after the run (in check mode, would exist).
  returned: always
  type: bool
  sample: true
client_ids:
  description: The provider's client IDs after the run; empty when it does not exist.
  returned: always
  type: list
  elements: str
  sample: [sts.amazonaws.com]
thumbprints:
  description: The provider's thumbprints after the run.
  returned: always
  type: list
  elements: str
  sample: []
tags:
  description: The provider's tags after the run.
  returned: always
  type: dict
  sample: {cluster: my-cluster}
providers_in_account:
  description: How many IAM OIDC providers the account has after the run (the default quota is 100).
  returned: always
  type: int
  sample: 3
roles_trusting:
  description: Roles that trust the provider, found when O(state=absent) and O(force=false) (at most the first 10 names).
  returned: when O(state=absent)
  type: list
  elements: str
  sample: []
"""

from ansible_collections.eks.irsa.plugins.module_utils import aws
from ansible_collections.eks.irsa.plugins.module_utils import oidc_provider
from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import fail
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError


def main():
    module = IrsaAWSModule(
        argument_spec=dict(
            issuer_url=dict(type="str"),
            cluster_name=dict(type="str"),
            client_ids=dict(type="list", elements="str", default=[DEFAULT_AUDIENCE]),
            purge_client_ids=dict(type="bool", default=False),
            thumbprints=dict(type="list", elements="str"),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            force=dict(type="bool", default=False),
            adopt=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("issuer_url", "cluster_name")],
        required_one_of=[("issuer_url", "cluster_name")],
        supports_check_mode=True,
    )
    wrote = bool
    try:
        client_ids, thumbprints = oidc_provider.validate_params(module.params)
        issuer = oidc_provider.resolve_issuer(module)
        iam = module.client("iam")
        wrote = aws.watch_writes(iam)
        result = oidc_provider.apply(module, iam, issuer, client_ids, thumbprints)
    except (InputError, ConflictError) as e:
        fail(module, e)
    except IrsaAWSError as e:
        # A failure after a write (say, a thumbprint update after a client ID was added) still changed the provider.
        fail(module, e, changed=wrote())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
