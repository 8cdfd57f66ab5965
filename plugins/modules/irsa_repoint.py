#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: irsa_repoint
short_description: Re-point the IRSA trust of IAM roles from an old EKS cluster's OIDC provider to a new cluster's
version_added: 0.1.0
description:
  - After an EKS cluster is rebuilt (a new cluster, so a new OIDC issuer), the IAM roles of its ServiceAccounts still
    trust the old cluster's OIDC provider. This module finds every such role of the account and moves its IRSA trust
    statements to the new cluster's provider (O(mode=move)), or adds the new provider's statement beside the old one
    so that both clusters may assume the role, for a blue/green migration (O(mode=add)).
  - The old provider is given by O(from_cluster) (the cluster still exists) or O(from_provider) (for a cluster that was
    deleted); the new one by O(to_cluster) or O(to_provider).
  - An IRSA statement of the old provider (C(Allow), C(Principal.Federated) the old provider alone,
    C(sts:AssumeRoleWithWebIdentity), C(StringEquals)/C(StringLike) conditions on C(<provider>:sub) and
    C(<provider>:aud) only) is re-pointed as it is, keeping its subjects, audience and condition operators, with every
    C(<old provider>:) condition key renamed to C(<new provider>:) and C(Principal.Federated) set to the new
    provider's ARN. With O(mode=add) the added statement has no C(Sid) (a C(Sid) is unique in a policy).
  - Every other statement (other principals, C(Deny) statements, other providers, and statements of the old provider
    with further conditions) is kept exactly as it is; one that still names the old provider is reported as a warning.
  - When the new provider's statements already grant the subjects of an old statement, nothing is added for it, so a
    second run changes nothing and writes nothing.
  - Only roles this collection created (tagged C(eks.irsa/managed-by=eks.irsa)) and the roles named in O(adopt) are
    changed. Any other role that a real run would change is left as it is, listed in RV(foreign_roles), and the task
    warns; it does not fail.
  - Everything is planned and checked before the first write (the roles named in O(roles) exist, the new provider
    exists in IAM, each new trust policy fits O(trust_policy_size_limit)), so a run that cannot finish writes nothing.
  - It reads every role of the account with C(iam:ListRoles) (the trust policies come with it, unless O(roles) is
    given, then each named role is read with C(iam:GetRole)), and each role it would change once more with
    C(iam:GetRole) for its tags.
author:
  - eks.irsa contributors (!UNKNOWN)
options:
  from_cluster:
    description:
      - The old EKS cluster, by name, whose OIDC provider the roles trust now; its issuer is read with
        C(eks:DescribeCluster).
      - For a cluster that no longer exists, use O(from_provider).
      - Exactly one of O(from_cluster) and O(from_provider) is required.
    type: str
  from_provider:
    description:
      - The old cluster's OIDC provider, as the IAM OIDC provider ARN, the issuer URL
        (C(https://oidc.eks.<region>.amazonaws.com/id/<ID>)) or the provider (the issuer without C(https://)), as the
        trust policies of the roles name it.
      - Use it when the old cluster was deleted; its IAM OIDC provider need not exist any more.
    type: str
  to_cluster:
    description:
      - The new EKS cluster, by name, whose OIDC provider the roles are to trust; its issuer is read with
        C(eks:DescribeCluster).
      - Exactly one of O(to_cluster) and O(to_provider) is required.
    type: str
  to_provider:
    description:
      - The new cluster's OIDC provider, as IAM OIDC provider ARN, issuer URL or provider (see O(from_provider)).
    type: str
  mode:
    description:
      - V(move) replaces each IRSA statement of the old provider by the same statement for the new provider; the
        roles then trust the new cluster only.
      - V(add) keeps the old statement and adds the new provider's beside it; the roles then trust both clusters
        (blue/green). Run again with V(move) (or remove the old cluster's statements) once the old cluster is gone.
    type: str
    choices: [move, add]
    default: move
  roles:
    description:
      - The names of the roles to re-point, to limit the task to them. Each must exist; a named role that trusts
        neither provider fails the task before any write.
      - When not given, every role of the account whose trust policy names the old provider.
    type: list
    elements: str
  adopt:
    description:
      - Names of roles this collection did not create (no C(eks.irsa/managed-by=eks.irsa) tag) whose trust may be
        re-pointed anyway. Only their trust policy is changed; they are not tagged.
    type: list
    elements: str
    default: []
  check_oidc_provider:
    description:
      - Check, before any write, that the new cluster's IAM OIDC provider exists (C(iam:GetOpenIDConnectProvider));
        a missing one fails the task, in check mode too, since IAM would refuse every trust policy that names it.
      - Set V(false) only when the provider is created between a check-mode run and the real one.
    type: bool
    default: true
  trust_policy_size_limit:
    description:
      - The largest trust policy, in characters of the document without white space, that the task will write.
        IAM's default limit is 2048; raise this only after raising the IAM quota (C(Role trust policy length)).
      - Every role is checked before any write; one over the limit fails the task and nothing is written.
    type: int
    default: 2048
  max_concurrency:
    description:
      - How many roles are read and written at the same time. Throttled calls are retried with backoff.
    type: int
    default: 8
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - eks.irsa.requirements
attributes:
  check_mode:
    support: full
    description: Predicts exactly which roles a real run changes, and how, and writes nothing.
  diff_mode:
    support: full
    description: Shows the trust policy of each role it changes, before and after.
notes:
  - IAM is eventually consistent; a trust change can take a few seconds before C(AssumeRoleWithWebIdentity) accepts
    the new cluster's tokens.
  - The ServiceAccounts of the new cluster still need their C(eks.amazonaws.com/role-arn) annotations (the role ARNs
    do not change); see M(eks.irsa.irsa_service_account) or the C(eks.irsa.irsa) role.
  - "Permissions used: C(iam:ListRoles), C(iam:GetRole), C(iam:UpdateAssumeRolePolicy),
    C(iam:GetOpenIDConnectProvider), C(eks:DescribeCluster) (O(from_cluster), O(to_cluster)), C(sts:GetCallerIdentity)
    (when no option gives the account: providers given as issuer or provider host)."
seealso:
  - module: eks.irsa.irsa_role
  - module: eks.irsa.eks_oidc_provider
  - module: eks.irsa.irsa_prune
"""

EXAMPLES = r"""
- name: Show which roles would move from the old cluster to the new one (nothing is written)
  eks.irsa.irsa_repoint:
    from_cluster: blue
    to_cluster: green
  check_mode: true
  diff: true

- name: Blue/green - let both clusters assume the roles
  eks.irsa.irsa_repoint:
    from_cluster: blue
    to_cluster: green
    mode: add

- name: The old cluster was deleted - move its roles, and one hand-made role too
  eks.irsa.irsa_repoint:
    from_provider: oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
    to_cluster: green
    adopt: [legacy-reports]
  register: repointed

- name: Say which roles were left alone
  ansible.builtin.debug:
    msg: "{{ repointed.foreign_roles | map(attribute='name') | list }}"
"""

RETURN = r"""
from_provider_arn:
  description: The ARN of the old cluster's OIDC provider.
  returned: when the providers could be resolved
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
to_provider_arn:
  description: The ARN of the new cluster's OIDC provider.
  returned: when the providers could be resolved
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6
results:
  description:
    - One entry per role re-pointed or found already right (sorted by name); the roles left alone because they are
      not ours are in RV(foreign_roles) instead.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The role's name.
      type: str
      sample: shop-api
    arn:
      description: The role's ARN.
      type: str
      sample: arn:aws:iam::123456789012:role/shop-api
    changed:
      description: Whether its trust policy was changed (in check mode, would be).
      type: bool
      sample: true
    action:
      description:
        - V(moved) (the old provider's statements now name the new provider), V(added) (the new provider's statements
          were added beside the old ones) or V(unchanged).
      type: str
      sample: moved
    diff:
      description: The role's trust policy before and after (equal when unchanged).
      type: dict
      sample: {"before_header": "role shop-api trust policy", "before": {}, "after_header": "role shop-api trust policy",
               "after": {}}
    failed:
      description: Present and V(true) when writing this role's trust policy failed; RV(results[].msg) says why.
      type: bool
      sample: true
    msg:
      description: Why writing this role failed.
      type: str
      sample: "Failed to update the trust policy of role: ..."
foreign_roles:
  description: Roles that a run would change but that were left as they are, not being created by eks.irsa.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The role's name.
      type: str
      sample: legacy-reports
    arn:
      description: The role's ARN.
      type: str
      sample: arn:aws:iam::123456789012:role/legacy-reports
    reason:
      description: Why it was left alone.
      type: str
      sample: "it has no eks.irsa/managed-by=eks.irsa tag: eks.irsa did not create it"
    opt_in:
      description: How to have it re-pointed too.
      type: str
      sample: "to re-point it too, list it in adopt"
unchanged_roles:
  description: The names of the roles in RV(results) that needed no change.
  returned: always
  type: list
  elements: str
  sample: [shop-api]
written:
  description: The roles whose trust policy was written, when the task failed after a write.
  returned: on failure
  type: list
  elements: str
  sample: [shop-api]
"""

from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils import repoint
from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils.constants import TRUST_POLICY_SIZE_LIMIT
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError


def argument_spec():
    return dict(
        from_cluster=dict(type="str"),
        from_provider=dict(type="str"),
        to_cluster=dict(type="str"),
        to_provider=dict(type="str"),
        mode=dict(type="str", choices=["move", "add"], default="move"),
        roles=dict(type="list", elements="str"),
        adopt=dict(type="list", elements="str", default=[]),
        check_oidc_provider=dict(type="bool", default=True),
        trust_policy_size_limit=dict(type="int", default=TRUST_POLICY_SIZE_LIMIT),
        max_concurrency=dict(type="int", default=batch.DEFAULT_CONCURRENCY),
    )


def main():
    module = IrsaAWSModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("from_cluster", "from_provider"), ("to_cluster", "to_provider")],
        required_one_of=[("from_cluster", "from_provider"), ("to_cluster", "to_provider")],
        supports_check_mode=True,
    )
    iam_client = module.client("iam")
    try:
        old_arn, new_arn, plans, foreign = repoint.plan_repoint(module, iam_client)
    except IrsaAWSError as e:
        errors.fail(module, e, changed=False)
    except IrsaError as e:
        errors.fail(module, e, changed=False, results=[], foreign_roles=[], unchanged_roles=[])
    results = repoint.apply(module, iam_client, plans)
    outcome = repoint.outcome(module, results, foreign, old_arn, new_arn)
    failure = repoint.write_failure(results)
    if failure is not None:
        errors.fail(module, failure, **outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
