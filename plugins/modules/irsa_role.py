#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: irsa_role
short_description: Manage an IAM role that Kubernetes ServiceAccounts of EKS clusters assume (IRSA)
version_added: 0.1.0
description:
  - Creates, updates or deletes one IAM role whose trust policy lets the listed ServiceAccounts of
    one or more EKS clusters assume it with C(sts:AssumeRoleWithWebIdentity) (IAM Roles for Service
    Accounts, IRSA), together with its managed and inline policies, permissions boundary and tags.
  - The trust policy gets one statement per OIDC provider (cluster) in the form AWS recommends,
    C(StringEquals) on C(<provider>:sub) and C(<provider>:aud). A ServiceAccount given with a
    wildcard (V(*) or V(?)) moves the subjects of that statement under C(StringLike); C(:aud) stays
    under C(StringEquals).
  - Statements of the existing trust policy that are not IRSA statements of a provider this task
    manages (an EC2 service principal, a cross-account principal, other identity providers, explicit
    C(Deny) statements) are kept as they are, unless O(purge_trust_statements=true).
  - Policies are compared by meaning, not as text; a second identical run reports no change and
    makes no write call. It reads the role (C(iam:GetRole)), plus the attached policies only when
    O(managed_policies) is given and the inline policies only when O(inline_policies) is given (or
    O(preset) is).
  - O(preset) gives the role the policy of a well-known add-on (docs/presets.md lists them), the AWS managed policy
    where AWS publishes one, attached by ARN, else the policy the add-on's project publishes, generated with
    O(preset_options) applied and put as the inline policy C(eks-irsa-preset-<preset>).
  - Everything that can be checked before a write is checked first (names, policy JSON, managed
    policy names, the OIDC providers, the trust policy size), so a bad input does not leave a role
    half changed.
author:
  - eks.irsa contributors (!UNKNOWN)
options:
  name:
    description:
      - The name of the role, 1 to 64 letters, digits and C(+=,.@_-).
      - This is the name the assumed-role ARN carries
        (C(arn:aws:sts::<account>:assumed-role/<name>/<session>)).
      - Required unless O(roles) is given; mutually exclusive with it.
    type: str
    aliases: [role_name]
  roles:
    description:
      - Many roles in one task, each a dict with the options of one role (V(name), V(path),
        V(oidc_provider), V(cluster_name), V(oidc_providers), V(service_accounts), V(audience),
        V(managed_policies), V(inline_policies), V(permissions_boundary), V(tags), V(state), V(adopt),
        ...; every option of this module but O(roles) and O(max_concurrency) and the AWS connection).
        V(name) is required in each.
      - An option an item leaves out (or sets to V(null)) takes the value the task gives it, so options
        the roles share are given once, beside O(roles).
      - Each role is planned, checked and written as the single form would do it, with its own result,
        C(changed), diff and warnings in RV(results); a role that fails does not stop the others, and the
        task fails at the end, naming every role that failed.
      - Reads that several roles need (the account, a cluster's issuer, the managed policy names, an
        OIDC provider) are made once; the roles are worked on O(max_concurrency) at a time.
    type: list
    elements: raw
  max_concurrency:
    description:
      - With O(roles), how many roles are read and written at the same time. Throttled calls are
        retried with backoff as in the single form.
    type: int
    default: 8
  path:
    description:
      - The path of the role; it begins and ends with V(/).
      - IAM cannot change the path of an existing role; a different path on an existing role is an error.
    type: str
    default: /
  description:
    description:
      - A description of the role. Left alone when not given.
    type: str
  max_session_duration:
    description:
      - The maximum session duration, in seconds, from 3600 to 43200. Left alone when not given
        (IAM uses 3600 for a new role).
    type: int
  permissions_boundary:
    description:
      - The ARN or the name of a managed policy to use as permissions boundary.
      - V("") removes the boundary; left alone when not given.
    type: str
  oidc_provider:
    description:
      - The cluster's OIDC provider, as M(eks.irsa.eks_oidc_info) returns it, in any of three forms
        - the issuer URL (C(https://oidc.eks.<region>.amazonaws.com/id/<ID>)), the provider
        (the issuer without C(https://)) or the IAM OIDC provider ARN.
      - Mutually exclusive with O(cluster_name) and O(oidc_providers).
    type: str
  cluster_name:
    description:
      - The name of the EKS cluster whose OIDC provider to trust; its issuer is read with one
        C(DescribeCluster) call in the module's region.
      - Mutually exclusive with O(oidc_provider) and O(oidc_providers).
    type: str
  service_accounts:
    description:
      - The ServiceAccounts of the provider given by O(oidc_provider) or O(cluster_name) that may
        assume the role, each as C(namespace:name) or as a dict with C(namespace) and C(name).
      - Namespaces and names are checked against the Kubernetes rules (DNS-1123). V(*) and V(?)
        are wildcards (for example C(prod:*) or C(team-?:reader)); they make the statement a
        C(StringLike) match. A pattern that matches every ServiceAccount of the cluster (C(*:*)) is
        refused, since any pod could then assume the role.
      - Required, and not empty, with O(oidc_provider) or O(cluster_name) when O(state=present).
    type: list
    elements: raw
  audience:
    description:
      - The audience of the tokens (C(:aud) condition). The pod identity webhook uses
        V(sts.amazonaws.com), in every partition, unless the ServiceAccount sets the
        C(eks.amazonaws.com/audience) annotation.
      - A statement of the same provider for another audience is not replaced but kept (it is not
        this task's statement); O(purge_trust_statements=true) removes it.
    type: str
    default: sts.amazonaws.com
  oidc_providers:
    description:
      - For a role shared by several clusters, one entry per OIDC provider instead of
        O(oidc_provider)/O(cluster_name) and O(service_accounts).
      - Each provider gets its own statement; adding or removing a provider leaves the statements of
        the others untouched.
      - A provider that is no longer listed keeps its statement (and access) unless
        O(purge_trust_statements=true); list it with O(oidc_providers[].state=absent) to remove
        only its statement.
    type: list
    elements: dict
    suboptions:
      provider:
        description:
          - The OIDC provider, as issuer URL, provider or IAM OIDC provider ARN (see O(oidc_provider)).
        type: str
        required: true
      service_accounts:
        description:
          - The ServiceAccounts of this provider, as in O(service_accounts).
          - Required, and not empty, when O(oidc_providers[].state=present).
        type: list
        elements: raw
      audience:
        description:
          - The audience for this provider; defaults to O(audience).
        type: str
      state:
        description:
          - V(absent) removes this provider's IRSA statement.
        type: str
        choices: [present, absent]
        default: present
  purge_service_accounts:
    description:
      - When V(true), the subjects trusted for each provider this task manages are exactly the ones
        given. When V(false), the given ones are added to those already trusted.
      - With V(false) several tasks (or pipelines) may add their ServiceAccounts to one shared role. IAM has
        no conditional write, so after changing the trust policy the task re-reads it about a second later and
        merges again if a concurrent writer dropped its ServiceAccounts.
    type: bool
    default: true
  purge_trust_statements:
    description:
      - When V(true), the role's trust policy holds only the IRSA statements of the providers this
        task manages; every other statement is removed.
      - When V(false), statements that are not IRSA statements of a provider this task manages are kept.
    type: bool
    default: false
  managed_policies:
    description:
      - Managed policies to attach, as ARNs or names. A name is looked up among the policies attached
        to the role, then among all managed policies of the account; a name that matches none, or more
        than one, is an error.
      - Left alone when not given; V([]) with O(purge_managed_policies=true) detaches all.
    type: list
    elements: str
  purge_managed_policies:
    description:
      - When V(true) and O(managed_policies) is given, managed policies not listed are detached.
    type: bool
    default: true
  inline_policies:
    description:
      - Inline policies, as a dict of policy name to policy document (a dict or a JSON string).
      - Left alone when not given.
    type: dict
  purge_inline_policies:
    description:
      - When V(true) and O(inline_policies) is given, inline policies not listed are deleted.
    type: bool
    default: true
  preset:
    description:
      - A well-known add-on whose role this is (docs/presets.md). The role gets the add-on's AWS managed policy
        where AWS publishes one, attached by ARN, else the policy the add-on's project publishes, generated with
        O(preset_options) applied, as the inline policy C(eks-irsa-preset-<preset>).
      - The preset attaches and puts its own policies only; other policies are detached or deleted only when
        O(managed_policies) or O(inline_policies) is given, as without a preset. On a role of ours, the
        inline policy of another preset (the role's preset before) is deleted; the AWS managed policies another
        preset attached stay until O(managed_policies) says otherwise.
    type: str
    choices:
      - amazon-cloudwatch-observability
      - amazon-managed-prometheus
      - aws-ebs-csi-driver
      - aws-efs-csi-driver
      - aws-fsx-csi-driver
      - aws-fsx-openzfs-csi-driver
      - aws-gateway-api-controller
      - aws-load-balancer-controller
      - aws-load-balancer-controller-tgb-only
      - aws-mountpoint-s3-csi-driver
      - aws-node-termination-handler
      - aws-vpc-cni
      - cert-manager
      - cluster-autoscaler
      - external-dns
      - external-secrets
      - karpenter
      - velero
  preset_options:
    description:
      - The scoping of the preset's policy. An option the preset does not take is refused. An unset option
        leaves the project's wildcard in the policy, and the task warns, naming the option.
    type: dict
    suboptions:
      bucket_names:
        description:
          - "V(aws-mountpoint-s3-csi-driver): The S3 buckets that Mountpoint mounts, as names (C(my-bucket)) or
            ARNs; the policy allows listing each bucket and the object actions on C(<bucket>/*)."
          - "V(velero): The S3 buckets that hold the backups, as names (C(my-bucket)) or ARNs; the policy allows
            listing each bucket and the object actions on C(<bucket>/*)."
        type: list
        elements: str
      cloudwatch_logs:
        description:
          - "V(aws-vpc-cni): The network policy agent streams policy decision logs to CloudWatch Logs (the
            chart's C(nodeAgent.enableCloudWatchLogs)) - adds the permissions of its README at v1.4.1, the agent
            version of VPC CNI v1.23.0
            (https://github.com/aws/aws-network-policy-agent/blob/v1.4.1/README.md#enable-cloudwatch-logs), on
            every log group as published."
        type: bool
      cluster_name:
        description:
          - "V(cluster-autoscaler): The EKS cluster whose Auto Scaling groups (tagged
            C(kubernetes.io/cluster/<cluster_name>=owned), as EKS managed node groups and eksctl tag them) the
            add-on manages; by default the cluster of the binding (the role's C(irsa_cluster_name), the module's
            O(cluster_name))."
          - "V(karpenter): The EKS cluster whose nodes, launch templates, instance profiles and API endpoint the
            add-on manages; by default the cluster of the binding (the role's C(irsa_cluster_name), the module's
            O(cluster_name))."
        type: str
      create_secrets:
        description:
          - "V(external-secrets): Allow PushSecret - create, update, tag and replicate secrets and parameters
            within secret_arns and parameter_arns, and delete secrets tagged C(managed-by=external-secrets)."
        type: bool
      hosted_zone_ids:
        description:
          - "V(cert-manager): The Route 53 hosted zones (IDs such as C(Z0123456789ABCDEFGHIJ), or their ARNs)
            whose records cert-manager lists and changes (TXT records only); by default every hosted zone."
          - "V(external-dns): The Route 53 hosted zones (IDs such as C(Z0123456789ABCDEFGHIJ), or their ARNs)
            whose records ExternalDNS lists and changes; by default every hosted zone."
        type: list
        elements: str
      ipv6:
        description:
          - "V(aws-vpc-cni): The cluster uses the IPv6 family - the role gets the project's IPv6 policy
            (docs/iam-policy.md, IPv6 mode) instead of the AWS managed AmazonEKS_CNI_Policy, which is for IPv4."
        type: bool
      kms_key_arns:
        description:
          - "V(aws-ebs-csi-driver): The KMS keys of encrypted EBS volumes; adds the driver's KMS statement
            (C(kms:Decrypt), C(kms:GenerateDataKeyWithoutPlaintext), C(kms:CreateGrant)) on these keys. Unset -
            no KMS statement, which unencrypted volumes and volumes encrypted with the AWS managed key
            C(aws/ebs) do not need."
          - "V(aws-mountpoint-s3-csi-driver): The KMS keys of SSE-KMS encrypted objects; adds C(kms:Decrypt) and
            C(kms:GenerateDataKey) on these keys, which Mountpoint needs to read and write them. Unset - no KMS
            access, which SSE-S3 buckets do not need."
          - "V(external-secrets): Customer managed KMS keys that encrypt the secrets or SecureString parameters
            (kms:Decrypt) - key ARNs, or key IDs in the binding's region and account. Unset, no KMS permission
            is granted - the AWS managed keys need none."
        type: list
        elements: str
      node_role_arns:
        description:
          - "V(karpenter): The node IAM roles Karpenter may pass to EC2 (iam:PassRole) - role ARNs, or role
            names in the binding's account."
        type: list
        elements: str
      parameter_arns:
        description:
          - "V(external-secrets): The SSM parameters ESO reads (and writes with create_secrets) - parameter
            ARNs, or parameter names or paths (C(/prod/payments/*)) in the binding's region and account."
        type: list
        elements: str
      queue_arns:
        description:
          - "V(aws-node-termination-handler): The SQS queues NTH reads (the chart's queueURL) - queue ARNs, or
            queue names in the binding's region and account."
          - "V(karpenter): The SQS interruption queue (settings.interruptionQueue) - queue ARNs, or queue names
            in the binding's region and account."
        type: list
        elements: str
      s3_files:
        description:
          - "V(aws-efs-csi-driver): The driver also mounts Amazon S3 Files file systems - attach the AWS managed
            AmazonS3FilesCSIDriverPolicy and AmazonS3FilesClientFullAccess the project gives the controller for
            them."
        type: bool
      secret_arns:
        description:
          - "V(external-secrets): The Secrets Manager secrets ESO reads (and writes with create_secrets) -
            secret ARNs (wildcards allowed), or secret names in the binding's region and account (a name matches
            that secret only; end it with C(*) for a prefix)."
        type: list
        elements: str
      service_role_arns:
        description:
          - "V(aws-fsx-csi-driver): The service-linked roles FSx for Lustre uses for S3 data repositories (path
            C(aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/)) that the driver may create and attach
            policies to."
          - "V(aws-fsx-openzfs-csi-driver): The FSx service-linked roles (path
            C(aws-service-role/fsx.amazonaws.com/)) that the driver may create and attach policies to."
        type: list
        elements: str
      target_group_arns:
        description:
          - "V(aws-load-balancer-controller-tgb-only): The ARNs of the target groups whose targets the
            controller registers and deregisters and whose attributes it modifies; by default every target
            group."
        type: list
        elements: str
      workspace_arns:
        description:
          - "V(amazon-managed-prometheus): The AMP workspaces to write to - workspace ARNs, or workspace IDs in
            the binding's region and account. Given, a generated aps:RemoteWrite policy on them replaces the AWS
            managed policy."
        type: list
        elements: str
  trust_policy_size_limit:
    description:
      - The largest trust policy, in characters of the document without white space, that the task
        will write. IAM's default limit is 2048; raise this only after raising the IAM quota
        (C(Role trust policy length)).
      - The size is checked before any write; over it, the task fails and says how to shrink the document.
    type: int
    default: 2048
  state:
    description:
      - V(absent) with O(service_accounts) (and O(oidc_provider) or O(cluster_name)), or with
        O(oidc_providers), removes only those ServiceAccounts (or the statements of the providers with
        O(oidc_providers[].state=absent)) from the trust policy. The role itself is deleted only when it is
        ours (see O(adopt)) and no statement at all, ours or anybody's, is left in its trust policy.
      - V(absent) without them deletes the role when it is ours; it detaches the managed policies, deletes
        the inline policies, removes the role from its instance profiles and deletes the role.
    type: str
    choices: [present, absent]
    default: present
  check_oidc_provider:
    description:
      - Check that each IAM OIDC provider the trust policy names exists before writing it
        (C(iam:GetOpenIDConnectProvider)); a missing one fails the task (in check mode, a warning).
      - Set V(false) when an earlier task of the same run creates the provider, as the C(eks.irsa.irsa) role does, so
        that check mode does not warn about a provider that run would create.
    type: bool
    default: true
  adopt:
    description:
      - Roles this collection creates carry the tag C(eks.irsa/managed-by=eks.irsa). A role without it was
        made by someone else and is not changed or deleted, and the task fails before any write and says so,
        unless O(adopt=true).
      - One exception. An untagged role that is already exactly what the task would write (a role made before
        roles were tagged) is adopted without asking; then only the tag is added and RV(adopted) is V(true).
      - With O(adopt=true) the role gets the tag; its trust statements that are not IRSA statements of the
        providers of this task are kept (unless O(purge_trust_statements=true)).
      - With O(state=absent) and ServiceAccounts given, an untagged role that does not trust them is left alone
        without an error.
    type: bool
    default: false
  wait:
    description:
      - After creating the role, wait until IAM returns it.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait when O(wait=true).
    type: int
    default: 120
notes:
  - IAM is eventually consistent; a new role or a trust change can take a few seconds before
    C(AssumeRoleWithWebIdentity) accepts it.
  - The IAM OIDC provider must exist (see M(eks.irsa.eks_oidc_provider)); the task checks it before
    writing a trust policy that names it.
  - "Permissions used: C(iam:GetRole), C(iam:ListAttachedRolePolicies), C(iam:ListRolePolicies),
    C(iam:GetRolePolicy), C(iam:CreateRole), C(iam:UpdateAssumeRolePolicy), C(iam:UpdateRole),
    C(iam:TagRole), C(iam:UntagRole), C(iam:AttachRolePolicy), C(iam:DetachRolePolicy),
    C(iam:PutRolePolicy), C(iam:DeleteRolePolicy), C(iam:PutRolePermissionsBoundary),
    C(iam:DeleteRolePermissionsBoundary), C(iam:GetPolicy), C(iam:ListPolicies) (policy names),
    C(iam:GetOpenIDConnectProvider), C(iam:ListInstanceProfilesForRole),
    C(iam:RemoveRoleFromInstanceProfile), C(iam:DeleteRole), C(eks:DescribeCluster) (O(cluster_name)),
    C(sts:GetCallerIdentity) (to build a provider ARN for a new role)."
seealso:
  - module: eks.irsa.eks_oidc_info
  - module: eks.irsa.eks_oidc_provider
  - module: eks.irsa.irsa_service_account
  - module: amazon.aws.iam_role
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The diff shows the trust policy, the managed policy ARNs, the inline policies given, the
        permissions boundary, description, session duration and tags, before and after.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - eks.irsa.requirements
"""

EXAMPLES = r"""
# The role of the AWS guide "Associate IAM Roles With Service Accounts": AWSIRSATestRole, assumed by
# the ServiceAccount irsa-test of namespace default.
- name: Find the cluster's OIDC provider
  eks.irsa.eks_oidc_info:
    cluster_name: my-cluster
  register: oidc

- name: Create AWSIRSATestRole for default:irsa-test
  eks.irsa.irsa_role:
    name: AWSIRSATestRole
    oidc_provider: "{{ oidc.provider_arn }}"
    service_accounts:
      - default:irsa-test
    managed_policies:
      - arn:aws:iam::aws:policy/ReadOnlyAccess
  register: irsa

- name: Annotate the ServiceAccount with the role
  eks.irsa.irsa_service_account:
    name: irsa-test
    namespace: default
    role_arn: "{{ irsa.role.arn }}"

# The same, naming the cluster instead of the provider (one DescribeCluster call).
- name: Trust two ServiceAccounts and every ServiceAccount of namespace batch
  eks.irsa.irsa_role:
    name: app-reader
    cluster_name: my-cluster
    service_accounts:
      - prod:api
      - namespace: prod
        name: worker
      - batch:*
    inline_policies:
      read-bucket:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: s3:GetObject
            Resource: arn:aws:s3:::my-bucket/*
    tags:
      team: platform

- name: Add a ServiceAccount, keeping those already trusted
  eks.irsa.irsa_role:
    name: app-reader
    cluster_name: my-cluster
    service_accounts:
      - prod:reports
    purge_service_accounts: false

# One role for a blue/green pair of clusters.
- name: Trust the same ServiceAccount on two clusters
  eks.irsa.irsa_role:
    name: payments
    oidc_providers:
      - provider: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
        service_accounts: [payments:api]
      - provider: oidc.eks.us-west-2.amazonaws.com/id/B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6
        service_accounts: [payments:api]

- name: Retire the green cluster, keeping blue's statement as it is
  eks.irsa.irsa_role:
    name: payments
    oidc_providers:
      - provider: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
        service_accounts: [payments:api]
      - provider: oidc.eks.us-west-2.amazonaws.com/id/B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6
        state: absent

- name: Delete the role, its policies and instance profile memberships
  eks.irsa.irsa_role:
    name: AWSIRSATestRole
    state: absent

- name: Many roles in one task; the task's options (here the cluster and the tags) are the defaults of every item
  eks.irsa.irsa_role:
    cluster_name: my-cluster
    tags: {team: shop}
    roles:
      - {name: shop-cart, service_accounts: ["shop:cart"], managed_policies: [AmazonDynamoDBReadOnlyAccess]}
      - {name: shop-billing, service_accounts: ["shop:billing"], tags: {team: billing}}
  register: shop_roles

- name: The role of a well-known add-on, its policy scoped to two hosted zones
  eks.irsa.irsa_role:
    name: my-cluster-external-dns
    cluster_name: my-cluster
    service_accounts: ["external-dns:external-dns"]
    preset: external-dns
    preset_options:
      hosted_zone_ids: [Z0123456789ABCDEFGHIJ, Z9876543210ZYXWVUTSRQ]

- name: Say which roles failed, if any (the others were still created)
  ansible.builtin.debug:
    msg: "{{ shop_roles.results | selectattr('failed', 'defined') | map(attribute='msg') | list }}"
"""

RETURN = r"""
results:
  description:
    - With O(roles), one entry per item, in the order given, with the keys the single form returns
      (RV(role), RV(adopted) or RV(deleted) and RV(owned), C(diff) in diff mode, RV(foreign_role)) plus
      C(name), C(changed), and C(failed) and C(msg) for a role that failed (C(changed) is then whether
      something was written before it failed), and C(warnings), the role's own warnings.
  returned: when O(roles) is given
  type: list
  elements: dict
  sample:
    - name: app-reader
      changed: false
      adopted: false
      role: {arn: "arn:aws:iam::111122223333:role/app-reader", name: app-reader}
    - name: hand-made
      changed: false
      failed: true
      foreign_role: hand-made
      msg: "role 'hand-made' (roles[1]): role 'hand-made' exists and was not created by eks.irsa ..."
adopted:
  description: Whether this task tagged as ours a role that existed without the ownership tag (see O(adopt)).
  returned: when state is present
  type: bool
  sample: false
deleted:
  description: Whether the role was deleted (with O(state=absent)), or would be in check mode.
  returned: when state is absent
  type: bool
  sample: false
owned:
  description: Whether the role is ours (tagged, or adopted by this task); with O(state=absent).
  returned: when state is absent and the role exists
  type: bool
  sample: true
preset:
  description: What O(preset) gave the role, and where its policy comes from.
  returned: when O(preset) is given and state is present
  type: dict
  contains:
    preset:
      description: The preset's name.
      type: str
      sample: external-dns
    managed_policies:
      description: The AWS managed policies the preset attaches (ARNs).
      type: list
      elements: str
      sample: []
    inline_policy_name:
      description: The name of the inline policy generated from the add-on's published policy, V(null) when none.
      type: str
      sample: eks-irsa-preset-external-dns
    source:
      description: The project, version and URL of the policy (and of the chart defaults).
      type: dict
      sample: {project: kubernetes-sigs/external-dns, version: v0.15.0, url: "https://github.com/kubernetes-sigs/external-dns/..."}
    namespace:
      description: The namespace of the add-on's ServiceAccount in its chart.
      type: str
      sample: external-dns
    service_account:
      description: The add-on's ServiceAccount in its chart.
      type: str
      sample: external-dns
foreign_role:
  description: On failure, the name of a role the task refused to change because it is not ours.
  returned: when the task failed for that reason
  type: str
  sample: hand-made-role
role:
  description:
    - The role after the task (in check mode, as it would be). Empty when O(state=absent).
  returned: unless O(roles) is given
  type: dict
  contains:
    arn:
      description: The role ARN, to put in the ServiceAccount's C(eks.amazonaws.com/role-arn) annotation.
      type: str
      returned: when state is present
      sample: arn:aws:iam::111122223333:role/AWSIRSATestRole
    name:
      description: The role name.
      type: str
      returned: when state is present
      sample: AWSIRSATestRole
    path:
      description: The role path.
      type: str
      returned: when state is present
      sample: /
    role_id:
      description: The stable ID of the role; V(null) in check mode when the role would be created.
      type: str
      returned: when state is present
      sample: AROAEXAMPLEID1234567
    create_date:
      description: When the role was created (ISO 8601); V(null) in check mode when the role would be created.
      type: str
      returned: when state is present
      sample: "2025-01-01T12:00:00+00:00"
    description:
      description: The role description.
      type: str
      returned: when state is present
      sample: Read access for default/irsa-test
    trust_policy:
      description: The trust policy document.
      type: dict
      returned: when state is present
      sample:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Federated: arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
            Action: sts:AssumeRoleWithWebIdentity
            Condition:
              StringEquals:
                oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E:aud: sts.amazonaws.com
                oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E:sub: system:serviceaccount:default:irsa-test
    managed_policies:
      description: The ARNs of the attached managed policies, sorted.
      type: list
      elements: str
      returned: when state is present and O(managed_policies) is given, or the role is created
      sample: [arn:aws:iam::aws:policy/ReadOnlyAccess]
    inline_policies:
      description: The names of the inline policies, sorted.
      type: list
      elements: str
      returned: when state is present and O(inline_policies) is given, or the role is created
      sample: [read-bucket]
    tags:
      description: The role tags.
      type: dict
      returned: when state is present
      sample: {team: platform}
    max_session_duration:
      description: The maximum session duration in seconds.
      type: int
      returned: when state is present
      sample: 3600
    permissions_boundary:
      description: The ARN of the permissions boundary, V(null) when none.
      type: str
      returned: when state is present
      sample: arn:aws:iam::111122223333:policy/boundary
"""

import functools
import json
import random
import time
from urllib.parse import unquote

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_iam_role
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_managed_policies
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_attached_policies
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_policies
from ansible_collections.amazon.aws.plugins.module_utils.iam import validate_iam_identifiers
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils import aws as irsa_aws
from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import iam as irsa_iam
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_KEY
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.constants import TRUST_POLICY_SIZE_LIMIT
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_issuer
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_oidc_provider
from ansible_collections.eks.irsa.plugins.module_utils.naming import provider_arn
from ansible_collections.eks.irsa.plugins.module_utils.presets import catalogue as presets
from ansible_collections.eks.irsa.plugins.module_utils.presets.base import INLINE_POLICY_PREFIX
from ansible_collections.eks.irsa.plugins.module_utils.presets.base import Context as PresetContext
from ansible_collections.eks.irsa.plugins.module_utils.presets.base import PresetError

try:
    import botocore.session
except ImportError:
    pass  # amazon.aws's module reports a missing botocore

# IAM's limit for all inline policies of one role together, in characters without white space.
INLINE_POLICIES_SIZE_LIMIT = 10240
# Merge mode re-reads the trust policy this long after writing it (see keep_merged_trust).
TRUST_RECHECK_DELAY = 1.0
TRUST_RECHECK_ROUNDS = 5
_NAME_RULE = "1 to 64 characters: letters, digits and + = , . @ _ -"
_POLICY_NAME_RULE = "1 to 128 characters: letters, digits and + = , . @ _ -"


class IrsaRoleError(Exception):
    """A problem the user can fix; the message says what, why and how. ``details`` go into the result."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


# ---------------------------------------------------------------------------------------------
# validation (no I/O)


def _check_identifiers(name, path):
    if not name.isascii() or validate_iam_identifiers("role", name=name):
        raise IrsaRoleError(
            "name {0!r} is not a valid IAM role name ({1} characters): use {2}".format(name, len(name), _NAME_RULE)
        )
    problem = validate_iam_identifiers("role", path=path)
    if problem or not path.isascii():
        raise IrsaRoleError(
            "path {0!r} is not a valid IAM path: it must begin and end with '/' and contain only letters, digits "
            "and + = , . @ _ - between the slashes (e.g. / or /irsa/)".format(path)
        )


def _parse_policy_document(name, document):
    where = "inline policy {0!r}".format(name)
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as e:
            raise IrsaRoleError(
                "{0} is not valid JSON ({1}): give the document as a dict or as a JSON string".format(where, e)
            ) from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise IrsaRoleError(
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
            raise IrsaRoleError("inline policy name {0!r} is not valid: use {1}".format(name, _POLICY_NAME_RULE))
        documents[name] = _parse_policy_document(name, document)
    return documents


def _parse_policy_reference(value, option):
    """``(arn, None)`` for an ARN, ``(None, name)`` for a policy name."""
    if not isinstance(value, str) or not value:
        raise IrsaRoleError("{0}: {1!r} is neither a managed policy ARN nor a policy name".format(option, value))
    if value.startswith("arn:"):
        try:
            parse_arn(value, service="iam", resource_type="policy")
        except NamingError as e:
            raise IrsaRoleError(
                "{0}: {1!r} is not a managed policy ARN (arn:<partition>:iam::<account or aws>:policy/<path><name>): "
                "{2}".format(option, value, e)
            ) from None
        return value, None
    if len(value) > 128 or not value.isascii() or validate_iam_identifiers("policy", name=value):
        raise IrsaRoleError(
            "{0}: {1!r} is not a valid managed policy name ({2}); give the policy name or its ARN".format(
                option, value, _POLICY_NAME_RULE
            )
        )
    return None, value


def _trust_requests(params):
    """The providers the task manages, as ``[(provider value, subjects, audience, state, label)]``."""
    audience = params["audience"] or DEFAULT_AUDIENCE
    if params["oidc_providers"] is not None:
        if params["service_accounts"] is not None:
            raise IrsaRoleError(
                "service_accounts and oidc_providers are mutually exclusive: with oidc_providers, give "
                "service_accounts in each entry"
            )
        requests = []
        for index, entry in enumerate(params["oidc_providers"]):
            label = "oidc_providers[{0}]".format(index)
            state = entry.get("state") or "present"
            service_accounts = entry.get("service_accounts")
            if state == "present" and not service_accounts:
                raise IrsaRoleError(
                    "{0} ({1}) has no service_accounts: list the ServiceAccounts it trusts as namespace:name, "
                    "or set state: absent to remove its statement".format(label, entry.get("provider"))
                )
            subjects = _subjects(service_accounts, label) if state == "present" else []
            requests.append((entry["provider"], subjects, entry.get("audience") or audience, state, label))
        if params["state"] == "present" and not any(request[3] == "present" for request in requests):
            raise IrsaRoleError("oidc_providers has no provider with state present: a role needs one to be trusted")
        return requests
    source = params["oidc_provider"] if params["oidc_provider"] is not None else params["cluster_name"]
    option = "oidc_provider" if params["oidc_provider"] is not None else "cluster_name"
    if source is None:
        raise IrsaRoleError(
            "state is present but no trust is given: set oidc_provider (or cluster_name) with service_accounts, "
            "or oidc_providers for a role trusted by several clusters"
        )
    if not params["service_accounts"]:
        raise IrsaRoleError(
            "service_accounts is empty: list the ServiceAccounts that may assume the role, as namespace:name "
            "(e.g. default:my-app); to delete the role use state: absent"
        )
    return [(source, _subjects(params["service_accounts"], "service_accounts"), audience, "present", option)]


def _subjects(service_accounts, option):
    try:
        return trust.subjects(service_accounts)
    except trust.TrustError as e:
        raise IrsaRoleError("{0}: {1}".format(option, e)) from None


def validate(params):
    """Check every input that needs no AWS call; return the parsed request."""
    _check_identifiers(params["name"], params["path"])
    duration = params["max_session_duration"]
    if duration is not None and not 3600 <= duration <= 43200:
        raise IrsaRoleError(
            "max_session_duration {0} is out of range: IAM accepts 3600 to 43200 seconds (1 to 12 hours)".format(duration)
        )
    if params["trust_policy_size_limit"] < 1:
        raise IrsaRoleError("trust_policy_size_limit must be a positive number of characters (IAM's default is 2048)")
    request = {"name": params["name"], "path": params["path"]}
    if params["state"] == "absent":
        # With ServiceAccounts, state=absent removes them from the trust; the role goes only when nothing is left.
        if any(params[option] is not None for option in ("oidc_provider", "cluster_name", "oidc_providers")):
            request["unbind"] = _trust_requests(params)
        return request
    request["trust"] = _trust_requests(params)
    for value, _subjects_, _audience, _state, label in request["trust"]:
        if label == "cluster_name":
            continue
        try:
            parse_oidc_provider(value)
        except NamingError as e:
            raise IrsaRoleError("{0}: {1}".format(label, e)) from None
    if params["managed_policies"] is not None:
        request["managed_policies"] = [_parse_policy_reference(item, "managed_policies") for item in params["managed_policies"]]
    boundary = params["permissions_boundary"]
    if boundary:
        request["permissions_boundary"] = _parse_policy_reference(boundary, "permissions_boundary")
    request["inline_policies"] = _parse_inline_policies(params["inline_policies"])
    if params["preset"]:
        options = {key: value for key, value in (params["preset_options"] or {}).items() if value is not None}
        try:
            preset = presets.validate(params["preset"], options)
        except PresetError as e:
            raise IrsaRoleError(str(e)) from None
        if preset.inline_policy_name in (request["inline_policies"] or {}):
            raise IrsaRoleError(
                "inline_policies: {0!r} is the name of the policy of preset {1}: give your own policy another "
                "name".format(preset.inline_policy_name, preset.name)
            )
        request["preset"] = (preset.name, options)
    elif params["preset_options"]:
        raise IrsaRoleError("preset_options is given without a preset: name the preset they scope (preset)")
    return request


# ---------------------------------------------------------------------------------------------
# reading


def _trust_document(role):
    document = role.get("AssumeRolePolicyDocument")
    if isinstance(document, str):
        document = json.loads(unquote(document))
    return document or {}


def read_role(client, name, managed=True, inline=True):
    """The role, or None: one read, plus one each for the attached (``managed``) and the inline (``inline``)
    policy names. What is not read is None."""
    role = get_iam_role(client, name)
    if role is None:
        return None
    attached = list_iam_role_attached_policies(client, name) if managed else None
    return {
        "role": role,
        "trust_policy": _trust_document(role),
        "attached": None if attached is None else {item["PolicyArn"]: item["PolicyName"] for item in attached},
        "inline_names": sorted(list_iam_role_policies(client, name)) if inline else None,
        "tags": boto3_tag_list_to_ansible_dict(role.get("Tags") or []),
        "permissions_boundary": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
    }


def _account_of_arn(arn):
    details = parse_arn(arn)
    return details["account_id"], details["partition"]


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
        if self._account is None:
            if self.current is not None:
                self._account = _account_of_arn(self.current["role"]["Arn"])
            else:
                self._account = self.cache.get(
                    ("account",), lambda: _account_of_arn(irsa_aws.caller_identity(self.module.client("sts"))["arn"]))
        return self._account

    def _cluster(self, cluster_name):
        cluster = irsa_aws.lookup_cluster(self.module.client("eks"), cluster_name, self.module.region)
        try:
            issuer = parse_issuer(irsa_aws.cluster_issuer_url(cluster))
        except NamingError as e:
            raise IrsaRoleError("cluster_name: {0}".format(e)) from None
        return issuer, _account_of_arn(cluster["arn"])

    def cluster_provider(self, cluster_name):
        issuer, account = self.cache.get(("cluster", cluster_name), lambda: self._cluster(cluster_name))
        if self._account is None:
            self._account = account
        return provider_arn(issuer.provider, self._account[0], issuer.partition)

    def provider(self, value, label):
        """The provider ARN of an option's value; ``label`` names the option in the error."""
        if label == "cluster_name":
            return self.cluster_provider(value)
        try:
            issuer, arn = parse_oidc_provider(value)
        except NamingError as e:
            raise IrsaRoleError("{0}: {1}".format(label, e)) from None
        if arn is not None:
            if self._account is None:
                # A role trusts only OIDC providers of its own account: no GetCallerIdentity needed.
                self._account = _account_of_arn(arn)
            return arn
        return provider_arn(issuer.provider, self.account()[0], issuer.partition)

    def _all_policies(self):
        policies = {}
        for policy in list_iam_managed_policies(self.iam):
            policies.setdefault(policy["PolicyName"], []).append(policy["Arn"])
        return policies

    def _policies_named(self, name):
        return sorted(self.cache.get(("policies",), self._all_policies).get(name, []))

    def policy_arn(self, reference, option, known=()):
        """ARN of a policy reference; ``known`` are ARNs the role already uses (no read needed)."""
        arn, name = reference
        if arn is not None:
            return arn
        matches = sorted({item for item in known if item.rsplit("/", 1)[-1] == name})
        if len(matches) != 1:
            matches = self._policies_named(name)
        if not matches:
            raise IrsaRoleError(
                "{0}: no managed policy named {1!r} exists in this account or among the AWS managed policies: "
                "check the spelling, create the policy first (amazon.aws.iam_managed_policy), or give its ARN".format(option, name)
            )
        if len(matches) > 1:
            raise IrsaRoleError(
                "{0}: the policy name {1!r} is ambiguous ({2}): give the ARN of the one you mean".format(
                    option, name, ", ".join(matches)
                )
            )
        return matches[0]


# ---------------------------------------------------------------------------------------------
# planning


def _snapshot(current, inline_documents=None):
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


def _warn_about_trust(module, current_trust, desired_trust, managed_arns):
    for index, key, value in trust.stringequals_wildcards(current_trust):
        module.warn(
            "the trust policy's statement {0} compares {1!r} with {2!r} under StringEquals, which takes '*' and '?' "
            "literally, so it never matches a token: use StringLike for patterns".format(index, key, value)
        )
    for index, stmt in enumerate(trust.statements_of(desired_trust)):
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


def _size_advice(size, limit):
    return (
        "the trust policy would be {0} characters without white space, over the limit of {1}: IAM would reject it. "
        "Shrink it: merge ServiceAccounts under a wildcard (e.g. prod:* or prod:app-*, a StringLike match), "
        "drop statements that are no longer needed (purge_trust_statements), split the ServiceAccounts across a "
        "second role, or ask for a higher 'Role trust policy length' quota (up to 4096) and raise "
        "trust_policy_size_limit to match".format(size, limit)
    )


def is_owned(current):
    """Whether the collection created this role (or was told by name to adopt it)."""
    return current is not None and current["tags"].get(OWNER_TAG_KEY) == OWNER_TAG_VALUE


def _foreign_role_message(name, differences):
    return (
        "role {0!r} exists and was not created by eks.irsa (it has no {1}={2} tag), and this task would change it "
        "({3}): it is left as it is. If this role should be managed here, set adopt: true (the eks.irsa.irsa role: "
        "list it in irsa_adopt_roles); adopting keeps its trust statements that are not IRSA statements of this task's "
        "providers, tags it as managed by eks.irsa, and lets a later teardown delete it once nothing else is left in "
        "its trust. Otherwise choose another role name".format(name, OWNER_TAG_KEY, OWNER_TAG_VALUE, "; ".join(differences))
    )


def _check_ownership(module, current, changes, trust_changed, desired_trust):
    """Whether this run adopts an existing role that carries no ownership tag; fails when it may not.

    A role the collection did not create is changed only when the user adopts it by name, or when it is exactly
    what the task would have written (a role made before roles were tagged): then only the tag is added.
    """
    if current is None or is_owned(current):
        return False
    differences = []
    if trust_changed:
        differences.append("its trust policy would become {0}".format(trust.minified(desired_trust)))
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
    if differences and not module.params["adopt"]:
        raise IrsaRoleError(_foreign_role_message(current["role"]["RoleName"], differences), foreign_role=current["role"]["RoleName"])
    return True


@functools.lru_cache(maxsize=None)
def _dns_suffix(partition):
    """The partition's DNS suffix from botocore's endpoint data, read once per partition (not once per role)."""
    resolver = botocore.session.get_session()._get_internal_component("endpoint_resolver")
    return resolver.get_partition_dns_suffix(partition)


def expand_preset(module, resolver, request):
    """The policies of the role's preset, built for its partition, region, account and cluster; warns of wildcards."""
    name, options = request["preset"]
    account_id, partition = resolver.account()
    context = PresetContext(partition, _dns_suffix(partition), module.region, account_id,
                            options.get("cluster_name") or module.params["cluster_name"])
    try:
        expansion = presets.expand(name, options, context)
    except PresetError as e:
        raise IrsaRoleError(str(e)) from None
    for warning in expansion["warnings"]:
        module.warn(warning)
    return expansion


def plan_present(module, iam_client, request, current):
    """Compute the desired role and the changes; every check that can fail happens here, before any write."""
    params = module.params
    resolver = Resolver(module, iam_client, current)
    name = request["name"]

    if current is not None and current["role"]["Path"] != request["path"]:
        raise IrsaRoleError(
            "role {0!r} exists with path {1!r}, not {2!r}: IAM cannot change the path of a role; set path: {1} "
            "or delete the role (state: absent) and create it again".format(name, current["role"]["Path"], request["path"])
        )

    # trust
    providers = {}
    for value, subjects, audience, state, label in request["trust"]:
        arn = resolver.provider(value, label)
        if arn in providers:
            raise IrsaRoleError(
                "{0}: provider {1} is listed twice: give each provider once, with all its service_accounts".format(label, arn)
            )
        providers[arn] = {"subjects": subjects, "audience": audience, "state": state}
    current_trust = current["trust_policy"] if current else None
    desired_trust = trust.merge_trust_policy(
        current_trust, providers, purge_subjects=params["purge_service_accounts"],
        purge_statements=params["purge_trust_statements"],
    )
    size = trust.minified_size(desired_trust)
    if size > params["trust_policy_size_limit"]:
        raise IrsaRoleError(_size_advice(size, params["trust_policy_size_limit"]))
    trust_changed = current is None or compare_policies(current_trust, desired_trust)

    preset = expand_preset(module, resolver, request) if "preset" in request else None

    # managed policies (read only when the task manages them); a preset's are attached, and detach nothing else
    attached = sorted(current["attached"] or []) if current else []
    preset_managed = set(preset["managed_policies"]) if preset else set()
    if "managed_policies" in request:
        given = {resolver.policy_arn(ref, "managed_policies", attached) for ref in request["managed_policies"]}
        wanted = sorted(given | preset_managed)
        desired_managed = wanted if params["purge_managed_policies"] else sorted(set(wanted) | set(attached))
    else:
        desired_managed = sorted(set(attached) | preset_managed)
    to_attach = [arn for arn in desired_managed if arn not in attached]
    to_detach = [arn for arn in attached if arn not in desired_managed]

    # permissions boundary
    current_boundary = current["permissions_boundary"] if current else None
    desired_boundary = current_boundary
    if params["permissions_boundary"] == "":
        desired_boundary = None
    elif "permissions_boundary" in request:
        desired_boundary = resolver.policy_arn(
            request["permissions_boundary"], "permissions_boundary", [current_boundary] if current_boundary else []
        )

    # inline policies (documents are read only for the names given); a preset's is one of them
    inline_given = request["inline_policies"]
    purge_inline = params["purge_inline_policies"] and inline_given is not None
    if preset and preset["inline_policy"]:
        inline_given = dict(inline_given or {}, **{preset["inline_policy_name"]: preset["inline_policy"]})
        size = sum(trust.minified_size(document) for document in inline_given.values())
        if size > INLINE_POLICIES_SIZE_LIMIT:
            raise IrsaRoleError(
                "the inline policies of role {0!r} would be {1} characters (without white space), over IAM's limit of "
                "{2} for a role's inline policies: move inline_policies into a managed policy (managed_policies) or "
                "give the preset its own role".format(name, size, INLINE_POLICIES_SIZE_LIMIT)
            )
    current_inline = (current["inline_names"] or []) if current else []
    # The policy of another preset, on a role of ours, is what this collection put there for the preset the role had
    # before: it goes, so that changing the preset (say, to the target-group-only variant) narrows the role.
    replaced = []
    if preset and (is_owned(current) or params["adopt"]):
        replaced = [policy_name for policy_name in current_inline
                    if policy_name.startswith(INLINE_POLICY_PREFIX) and policy_name not in (inline_given or {})]
    if replaced and inline_given is None:
        inline_given = {}
    inline_before = inline_after = None
    to_put, to_delete = [], []
    if inline_given is not None:
        inline_before = {}
        for policy_name in inline_given:
            if policy_name in current_inline:
                document = irsa_iam.get_role_policy(iam_client, name, policy_name)
                if document is not None:
                    inline_before[policy_name] = document
        to_put = sorted(
            policy_name for policy_name, document in inline_given.items()
            if policy_name not in inline_before or compare_policies(inline_before[policy_name], document)
        )
        if purge_inline:
            to_delete = sorted(policy_name for policy_name in current_inline if policy_name not in inline_given)
        to_delete = sorted(set(to_delete) | set(replaced))
        inline_after = dict(inline_given)
        for policy_name in to_delete:
            inline_before[policy_name] = irsa_iam.get_role_policy(iam_client, name, policy_name)
    desired_inline = sorted((set(current_inline) - set(to_delete)) | set(inline_given or {}))
    # Policies the task does not manage are not read (two calls saved per run): they are then unknown.
    if current is not None and current["attached"] is None:
        desired_managed = None
    if current is not None and current["inline_names"] is None and inline_given is None:
        desired_inline = None

    # plain attributes
    role = current["role"] if current else {}
    description = params["description"]
    current_description = role.get("Description") if current else None
    desired_description = description if description is not None else current_description
    description_changed = current is not None and description is not None and description != (current_description or "")
    duration = params["max_session_duration"]
    current_duration = role.get("MaxSessionDuration") if current else None
    desired_duration = duration if duration is not None else (current_duration if current else 3600)
    duration_changed = current is not None and duration is not None and duration != current_duration

    current_tags = current["tags"] if current else {}
    tags_to_set, tags_to_unset = {}, []
    if params["tags"] is not None:
        # The ownership tag is never purged: it is what lets a later teardown delete the role.
        wanted_tags = dict(params["tags"], **{OWNER_TAG_KEY: OWNER_TAG_VALUE})
        tags_to_set, tags_to_unset = compare_aws_tags(current_tags, wanted_tags, purge_tags=params["purge_tags"])
    elif current_tags.get(OWNER_TAG_KEY) != OWNER_TAG_VALUE:
        tags_to_set = {OWNER_TAG_KEY: OWNER_TAG_VALUE}
    desired_tags = {key: value for key, value in current_tags.items() if key not in tags_to_unset}
    desired_tags.update({key: str(value) for key, value in tags_to_set.items()})

    changes = {
        "providers": providers,
        "create": current is None,
        "trust": trust_changed and current is not None,
        "update_role": {},
        "boundary": desired_boundary != current_boundary and current is not None,
        "tags_to_set": tags_to_set if current is not None else {},
        "tags_to_unset": tags_to_unset if current is not None else [],
        "attach": to_attach,
        "detach": to_detach,
        "put_inline": {policy_name: inline_given[policy_name] for policy_name in to_put},
        "delete_inline": to_delete,
    }
    changes["preset"] = preset
    if description_changed:
        changes["update_role"]["Description"] = description
    if duration_changed:
        changes["update_role"]["MaxSessionDuration"] = duration
    changed = any((
        changes["create"], changes["trust"], changes["update_role"], changes["boundary"],
        changes["tags_to_set"], changes["tags_to_unset"], to_attach, to_detach, to_put, to_delete,
    ))
    changes["adopted"] = _check_ownership(module, current, changes, trust_changed, desired_trust)

    # existence checks, only when something will be written that depends on them
    if trust_changed and params["check_oidc_provider"]:
        for arn, spec in providers.items():
            if spec["state"] == "present" and not _oidc_provider_exists(module, iam_client, arn):
                message = (
                    "the IAM OIDC provider {0} does not exist, so IAM would refuse a trust policy naming it: create it "
                    "first (eks.irsa.eks_oidc_provider with the cluster's issuer) or check the account".format(arn)
                )
                if not module.check_mode:
                    raise IrsaRoleError(message)
                # In check mode an earlier task (eks_oidc_provider) may only have predicted the provider.
                module.warn("Unless it is created before this task runs for real, " + message)
    resolved_by_name = set()
    if "managed_policies" in request:
        resolved_by_name = {arn for arn in to_attach if (arn, None) not in request["managed_policies"]}
    for arn in to_attach:
        if arn not in resolved_by_name and irsa_iam.get_managed_policy(iam_client, arn) is None:
            raise IrsaRoleError(
                "managed_policies: the managed policy {0} does not exist: check the ARN (account, path, name) or "
                "create the policy first".format(arn)
            )
    boundary_by_arn = "permissions_boundary" in request and request["permissions_boundary"][0] is not None
    if desired_boundary and desired_boundary != current_boundary and boundary_by_arn:
        if irsa_iam.get_managed_policy(iam_client, desired_boundary) is None:
            raise IrsaRoleError(
                "permissions_boundary: the managed policy {0} does not exist: check the ARN or create the policy "
                "first".format(desired_boundary)
            )

    _warn_about_trust(module, current_trust, desired_trust, {a: s for a, s in providers.items() if s["state"] == "present"})

    partition_account = resolver.account() if current is None else _account_of_arn(role["Arn"])
    desired = {
        "arn": role.get("Arn") or "arn:{0}:iam::{1}:role{2}{3}".format(
            partition_account[1], partition_account[0], request["path"], name
        ),
        "name": name,
        "path": request["path"],
        "role_id": role.get("RoleId"),
        "create_date": _iso(role.get("CreateDate")),
        "description": desired_description,
        "trust_policy": desired_trust,
        "managed_policies": desired_managed,
        "inline_policies": desired_inline,
        "tags": desired_tags,
        "max_session_duration": desired_duration,
        "permissions_boundary": desired_boundary,
    }
    before = _snapshot(current, inline_before)
    after = {key: desired[key] for key in (
        "name", "path", "description", "max_session_duration", "permissions_boundary", "tags", "trust_policy")}
    if desired_managed is not None:
        after["managed_policies"] = desired_managed
    if inline_after is not None:
        after["inline_policies"] = inline_after
    return changed, changes, desired, {"before": before, "after": after}


def _iso(value):
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# ---------------------------------------------------------------------------------------------
# applying


def apply_present(module, iam_client, name, changes, desired):
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
            irsa_iam.put_permissions_boundary(iam_client, name, desired["permissions_boundary"])
        else:
            irsa_iam.delete_permissions_boundary(iam_client, name)
    if changes["tags_to_unset"]:
        irsa_iam.untag_role(iam_client, name, changes["tags_to_unset"])
    if changes["tags_to_set"]:
        irsa_iam.tag_role(iam_client, name, changes["tags_to_set"])
    for arn in changes["detach"]:
        irsa_iam.detach_policy(iam_client, name, arn)
    for arn in changes["attach"]:
        irsa_iam.attach_policy(iam_client, name, arn)
    for policy_name in changes["delete_inline"]:
        irsa_iam.delete_role_policy(iam_client, name, policy_name)
    for policy_name, document in sorted(changes["put_inline"].items()):
        irsa_iam.put_role_policy(iam_client, name, policy_name, document)


def _known(view):
    """``view`` without the policy lists that were not read."""
    return {key: value for key, value in view.items() if not (key in ("managed_policies", "inline_policies") and value is None)}


def role_result(current):
    role = current["role"]
    return _known({
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


def _error_code(error):
    response = getattr(getattr(error, "exception", None), "response", None) or {}
    return response.get("Error", {}).get("Code", "")


def keep_merged_trust(module, iam_client, request, providers):
    """Merge mode (purge_service_accounts=false) shares the trust policy with other writers, and IAM has no
    conditional write: a run that read the trust before our write and writes after it drops our subjects.
    Re-read after a pause longer than such a read-to-write window and merge again while ours are missing."""
    name = request["name"]
    for _round in range(TRUST_RECHECK_ROUNDS):
        time.sleep(TRUST_RECHECK_DELAY * (1 + random.random() / 2))
        current = read_role(iam_client, name, managed=False, inline=False)
        if current is None:
            raise IrsaRoleError(
                "role {0!r} was deleted by someone else while this task updated its trust policy: run the task again "
                "to create it".format(name)
            )
        merged = trust.merge_trust_policy(
            current["trust_policy"], providers, purge_subjects=False, purge_statements=module.params["purge_trust_statements"],
        )
        if not compare_policies(current["trust_policy"], merged):
            return
        size = trust.minified_size(merged)
        if size > module.params["trust_policy_size_limit"]:
            raise IrsaRoleError(_size_advice(size, module.params["trust_policy_size_limit"]))
        irsa_iam.update_trust_policy(iam_client, name, merged)
    raise IrsaRoleError(
        "the trust policy of role {0!r} lost this task's ServiceAccounts {1} times in a row: another writer keeps "
        "replacing it (a task with purge_service_accounts: true, or a tool that rewrites the trust); find it, then run "
        "again".format(name, TRUST_RECHECK_ROUNDS)
    )


def ensure_present(module, iam_client, request):
    name = request["name"]
    # The attached and inline policies are read only when this task manages them.
    reads = {"managed": "managed_policies" in request or "preset" in request,
             "inline": request["inline_policies"] is not None or "preset" in request}
    current = read_role(iam_client, name, **reads)
    changed, changes, desired, diff = plan_present(module, iam_client, request, current)
    extra = _preset_result(changes["preset"])
    if not changed:
        return dict(extra, changed=False, role=role_result(current), adopted=False, diff=diff)
    adopted = changes["adopted"]
    if module.check_mode:
        return dict(extra, changed=True, role=_known(desired), adopted=adopted, diff=diff)
    try:
        apply_present(module, iam_client, name, changes, desired)
    except AnsibleAWSError as e:
        if not (changes["create"] and _error_code(e) == "EntityAlreadyExists"):
            raise
        # Another run created the role between our read and our create: converge on what it made.
        current = read_role(iam_client, name, **reads)
        changed, changes, desired, diff = plan_present(module, iam_client, request, current)
        if not changed:
            return dict(extra, changed=False, role=role_result(current), adopted=False, diff=diff)
        apply_present(module, iam_client, name, changes, desired)
    if changes["trust"] and not module.params["purge_service_accounts"]:
        keep_merged_trust(module, iam_client, request, changes["providers"])
    updated = read_role(iam_client, name, **reads)
    if updated is None:
        return dict(extra, changed=True, role=_known(desired), adopted=adopted, diff=diff)
    if changes["create"]:
        # A role this task created has exactly the policies it attached and put.
        if updated["attached"] is None:
            updated["attached"] = dict.fromkeys(desired["managed_policies"] or [])
        if updated["inline_names"] is None:
            updated["inline_names"] = desired["inline_policies"] or []
    return dict(extra, changed=True, role=role_result(updated), adopted=adopted, diff=diff)


def _preset_result(expansion):
    """The ``preset`` return value: what the preset gave the role, and where its policy comes from."""
    if expansion is None:
        return {}
    return {"preset": {key: expansion[key] for key in (
        "preset", "managed_policies", "inline_policy_name", "source", "namespace", "service_account")}}


def plan_unbind(module, iam_client, request, current):
    """The trust policy without the ServiceAccounts (or provider statements) that ``request["unbind"]`` names."""
    resolver = Resolver(module, iam_client, current)
    trust_before = current["trust_policy"]
    providers = {}
    for value, subjects, audience, state, label in request["unbind"]:
        arn = resolver.provider(value, label)
        remaining = [] if state == "absent" else [
            item for item in trust.provider_subjects(trust_before, arn, audience) if item not in subjects]
        providers[arn] = {"subjects": remaining, "audience": audience, "state": "present" if remaining else "absent"}
    return trust.merge_trust_policy(trust_before, providers, purge_subjects=True, purge_statements=False)


def _not_ours_message(name, action):
    return (
        "role {0!r} was not created by eks.irsa (it has no {1}={2} tag), so it is not {3}. If eks.irsa should manage "
        "it, set adopt: true (the eks.irsa.irsa role: list it in irsa_adopt_roles)".format(name, OWNER_TAG_KEY, OWNER_TAG_VALUE, action)
    )


def ensure_absent(module, iam_client, request):
    """Delete the role, or with ServiceAccounts given remove only them from its trust.

    Only a role the collection created (or is told by name to adopt) is changed; it is deleted only when its trust
    policy has no statement left, whoever wrote the statements.
    """
    name = request["name"]
    current = read_role(iam_client, name)
    if current is None:
        return {"changed": False, "role": {}, "deleted": False, "diff": {"before": {}, "after": {}}}
    owned = is_owned(current) or module.params["adopt"]
    before = _snapshot(current)
    if "unbind" in request:
        desired_trust = plan_unbind(module, iam_client, request, current)
        trust_changed = bool(compare_policies(current["trust_policy"], desired_trust))
        if not trust_changed and not owned:
            # Nothing of these ServiceAccounts in a role that is not ours: nothing to do, and nothing to delete.
            return {"changed": False, "role": role_result(current), "deleted": False, "owned": False,
                    "diff": {"before": before, "after": before}}
        if not owned:
            raise IrsaRoleError(_not_ours_message(name, "changed (its trust still names these ServiceAccounts)"),
                                foreign_role=name)
        delete = not trust.statements_of(desired_trust)
        if not delete:
            if not trust_changed:
                return {"changed": False, "role": role_result(current), "deleted": False, "owned": True,
                        "diff": {"before": before, "after": before}}
            after = dict(before, trust_policy=desired_trust)
            if not module.check_mode:
                irsa_iam.update_trust_policy(iam_client, name, desired_trust)
            updated = dict(current, trust_policy=desired_trust)
            return {"changed": True, "role": role_result(updated), "deleted": False, "owned": True,
                    "diff": {"before": before, "after": after}}
    elif not owned:
        raise IrsaRoleError(_not_ours_message(name, "deleted"), foreign_role=name)
    diff = {"before": before, "after": {}}
    if not module.check_mode:
        irsa_iam.delete_role_with_attachments(iam_client, name, current["attached"], current["inline_names"])
    return {"changed": True, "role": {}, "deleted": True, "owned": True, "diff": diff}


# The options of one role; ``roles`` items take these keys (the task's values are their defaults).
MUTUALLY_EXCLUSIVE = [("oidc_provider", "cluster_name", "oidc_providers")]


def argument_spec():
    provider_options = dict(
        provider=dict(type="str", required=True),
        service_accounts=dict(type="list", elements="raw"),
        audience=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    return dict(
        name=dict(type="str", aliases=["role_name"]),
        roles=dict(type="list", elements="raw"),
        max_concurrency=dict(type="int", default=batch.DEFAULT_CONCURRENCY),
        path=dict(type="str", default="/"),
        description=dict(type="str"),
        max_session_duration=dict(type="int"),
        permissions_boundary=dict(type="str"),
        oidc_provider=dict(type="str"),
        cluster_name=dict(type="str"),
        service_accounts=dict(type="list", elements="raw"),
        audience=dict(type="str", default=DEFAULT_AUDIENCE),
        oidc_providers=dict(type="list", elements="dict", options=provider_options),
        purge_service_accounts=dict(type="bool", default=True),
        purge_trust_statements=dict(type="bool", default=False),
        managed_policies=dict(type="list", elements="str"),
        purge_managed_policies=dict(type="bool", default=True),
        inline_policies=dict(type="dict"),
        purge_inline_policies=dict(type="bool", default=True),
        preset=dict(type="str", choices=presets.names()),
        preset_options=dict(type="dict", options=presets.option_spec()),
        trust_policy_size_limit=dict(type="int", default=TRUST_POLICY_SIZE_LIMIT),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=120),
        adopt=dict(type="bool", default=False),
        check_oidc_provider=dict(type="bool", default=True),
    )


def run_role(module, iam_client, watch):
    """The result of one role (one item of ``roles``, or the single form): its failure is part of the result."""
    wrote = watch.start()
    try:
        request = validate(module.params)
        if module.params["state"] == "absent":
            result = ensure_absent(module, iam_client, request)
        else:
            result = ensure_present(module, iam_client, request)
    except IrsaRoleError as e:
        result = dict(failed=True, msg=str(e), changed=wrote(), **e.details)
    except AnsibleAWSError as e:
        # A failure after a write (say, attaching a policy after the role was created) still changed the role.
        result = dict(failed=True, msg=irsa_aws.aws_failure_message(e, module.params), changed=wrote(), aws_error=e)
    result["warnings"] = module.warnings
    return result


def items_of(module, spec):
    """``[(ItemModule or None, error)]``: every item of ``roles``, or the single form as a batch of one."""
    cache = batch.OnceCache()
    if module.params["roles"] is None:
        return [(batch.ItemModule(module, module.params, "", cache), None)]
    items = []
    for index, item in enumerate(module.params["roles"]):
        where = "roles[{0}]".format(index)
        params, error = batch.item_params(module, item, spec, where, MUTUALLY_EXCLUSIVE)
        label = "role {0!r} ({1})".format(params["name"], where) if params else where
        items.append((batch.ItemModule(module, params, label, cache) if params else None, error or label))
    return items


def main():
    spec = argument_spec()
    module = IrsaAWSModule(
        argument_spec=spec,
        mutually_exclusive=[("name", "roles")] + MUTUALLY_EXCLUSIVE,
        required_one_of=[("name", "roles")],
        supports_check_mode=True,
    )
    item_options = batch.item_spec(spec, ("roles", "max_concurrency"))
    item_options["name"]["required"] = True
    items = items_of(module, item_options)
    iam_client = module.client("iam") if any(item for item, _label in items) else None
    watch = irsa_aws.WriteWatch(iam_client) if iam_client is not None else None

    def work(entry):
        item, label = entry
        if item is None:
            return {"failed": True, "changed": False, "msg": label}
        result = run_role(item, iam_client, watch)
        result["name"] = item.params["name"]
        return result

    results = batch.run_items(work, items, module.params["max_concurrency"])
    if module.params["roles"] is None:
        result = results[0]
        for warning in result.pop("warnings", []):
            module.warn(warning)
        result.pop("name")
        error = result.pop("aws_error", None)
        if error is not None and error.exception is not None:
            module.fail_json_aws(error.exception, msg=error.message, changed=result["changed"])
        if result.pop("failed", False):
            module.fail_json(**result)
        module.exit_json(**result)
    for result in results:
        error = result.pop("aws_error", None)
        if error is not None and error.exception is not None:
            result["error_code"] = irsa_aws.error_code(error.exception)
    batch.finish(module, items, results, "roles")


if __name__ == "__main__":
    main()
