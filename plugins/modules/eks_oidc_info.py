#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: eks_oidc_info
short_description: Find an EKS cluster's OIDC issuer and whether IAM trusts it
version_added: 0.1.0
description:
  - Reads the OIDC issuer of an Amazon EKS cluster, the C(<OIDC_PROVIDER>) of the IRSA procedure
    (the issuer without C(https://)), and the IAM OIDC identity provider for it in the account of the
    credentials in use.
  - Tells whether that provider exists and accepts the C(sts.amazonaws.com) audience, the silent
    prerequisite whose absence makes pods fail with "No OpenIDConnect provider found in your account".
  - Makes at most three API calls (C(eks:DescribeCluster), C(sts:GetCallerIdentity),
    C(iam:GetOpenIDConnectProvider)); a fourth, C(eks:ListClusters), only to name the clusters
    that exist when O(cluster_name) is not one of them.
author:
  - eks.irsa contributors (!UNKNOWN)
options:
  cluster_name:
    description:
      - Name of the EKS cluster, in the region of the AWS connection.
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - eks.irsa.requirements
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
notes:
  - The provider ARN is built in the account and partition of the caller, where roles and their trust
    live; the cluster's own account is returned separately as RV(cluster_account_id).
seealso:
  - module: eks.irsa.eks_oidc_provider
  - name: IAM roles for service accounts
    description: The AWS documentation of IRSA.
    link: https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html
"""

EXAMPLES = r"""
- name: Find the cluster's OIDC provider (step 1 of the IRSA procedure)
  eks.irsa.eks_oidc_info:
    cluster_name: my-cluster
    region: us-west-2
  register: oidc

- name: Say what is missing
  ansible.builtin.debug:
    msg: "Create the IAM OIDC provider for {{ oidc.provider }} first (eks.irsa.eks_oidc_provider)"
  when: not oidc.provider_exists or not oidc.audience_ok
"""

RETURN = r"""
issuer_url:
  description: The cluster's OIDC issuer.
  returned: always
  type: str
  sample: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
provider:
  description: The issuer without C(https://), the C(<OIDC_PROVIDER>) in condition keys such as C(<OIDC_PROVIDER>:sub).
  returned: always
  type: str
  sample: oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
provider_arn:
  description: ARN of the IAM OIDC provider for the issuer in the caller's account, whether it exists or not.
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
provider_exists:
  description: Whether IAM has that OIDC provider.
  returned: always
  type: bool
  sample: true
provider_client_ids:
  description: The audiences (client IDs) the provider accepts; empty when it does not exist.
  returned: always
  type: list
  elements: str
  sample: [sts.amazonaws.com]
provider_thumbprints:
  description: The provider's server certificate thumbprints; empty when it does not exist or has none.
  returned: always
  type: list
  elements: str
  sample: [9e99a48a9960b14926bb7f3b02e22da2b0ab7280]
audience_ok:
  description: Whether C(sts.amazonaws.com), the audience the pod identity webhook projects by default, is a client ID of the provider.
  returned: always
  type: bool
  sample: true
account_id:
  description: The caller's account, where the provider and the roles live.
  returned: always
  type: str
  sample: "123456789012"
partition:
  description: The caller's partition (C(aws), C(aws-cn) or C(aws-us-gov)).
  returned: always
  type: str
  sample: aws
region:
  description: The region searched for the cluster.
  returned: always
  type: str
  sample: us-west-2
cluster_account_id:
  description: The account that owns the cluster.
  returned: always
  type: str
  sample: "123456789012"
cluster_arn:
  description: The cluster's ARN.
  returned: always
  type: str
  sample: arn:aws:eks:us-west-2:123456789012:cluster/my-cluster
cluster_endpoint:
  description: The cluster's Kubernetes API endpoint.
  returned: always
  type: str
  sample: https://EXAMPLED539D4633E53DE1B716D3041E.gr7.us-west-2.eks.amazonaws.com
cluster_certificate_authority:
  description: The cluster's certificate authority, base64-encoded PEM as EKS returns it.
  returned: always
  type: str
  sample: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvakNDQWVhZ0F3SUJBZ0lCQURBTkJna3Foa2lHOXcwQkFRc0ZBREF2...
cluster_version:
  description: The cluster's Kubernetes version.
  returned: always
  type: str
  sample: "1.31"
cluster_status:
  description: The cluster's status.
  returned: always
  type: str
  sample: ACTIVE
"""

from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import fail
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.oidc_provider import oidc_facts


def main():
    module = IrsaAWSModule(
        argument_spec=dict(cluster_name=dict(type="str", required=True)),
        supports_check_mode=True,
    )
    try:
        facts = oidc_facts(module, module.params["cluster_name"])
    except (NamingError, IrsaAWSError) as e:
        fail(module, e)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
