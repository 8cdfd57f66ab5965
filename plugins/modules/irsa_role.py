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
  - O(pod_identity) gives the role the trust statement of EKS Pod Identity (C(pods.eks.amazonaws.com)), alone or
    beside the IRSA statements; docs/choose_and_migrate.md says when to use which, and how to move a workload
    from one to the other.
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
      - Required, and not empty, with O(oidc_provider) or O(cluster_name) when O(state=present), unless
        O(pod_identity) is given (then O(cluster_name) without O(service_accounts) is only the cluster of
        O(preset)).
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
  pod_identity:
    description:
      - Lets EKS Pod Identity assume the role, in the trust statement AWS documents for it (C(Effect) C(Allow),
        the service principal C(pods.eks.amazonaws.com), the actions C(sts:AssumeRole) and C(sts:TagSession)),
        with the C(Sid) C(EksIrsaPodIdentity), by which the collection knows the statement as its own.
      - Alone (a role for EKS Pod Identity only - then no OIDC provider and no cluster lookup is needed, and
        O(service_accounts) is left out) or beside the IRSA statements of O(oidc_provider), O(cluster_name) or
        O(oidc_providers), as a workload migrating between the two needs (dual trust). IRSA statements are
        removed only as without this option (O(oidc_providers[].state=absent), O(purge_trust_statements)).
      - Another statement that lets C(pods.eks.amazonaws.com) assume the role (written by hand, by AWS's guide
        with its own C(Sid), or by another tool) is never changed. When it already allows exactly what this
        option asks, the task adds no statement of its own; otherwise it fails before any write and says how to
        opt in (O(pod_identity.adopt_statements)).
      - Left out, the role's Pod Identity statements are left as they are.
      - With O(state=absent), the collection's statement is removed (whatever O(pod_identity.state) says); the
        role itself is deleted only when it is ours and no statement at all is left in its trust policy.
    type: dict
    suboptions:
      state:
        description:
          - V(present) gives the role the statement, V(absent) removes the one the collection wrote (when
            migrating a workload back to IRSA).
        type: str
        choices: [present, absent]
        default: present
      source_account:
        description:
          - Adds the condition C(aws:SourceAccount) (C(StringEquals)), the 12-digit account whose EKS clusters
            may assume the role (quote it in YAML).
        type: str
      clusters:
        description:
          - Adds the condition C(aws:SourceArn) for these EKS clusters, given by name (the cluster of that name in
            the module's region and the role's account, its ARN in the region's partition - C(aws),
            C(aws-cn) or C(aws-us-gov)) or by cluster ARN. C(ArnEquals), or C(ArnLike) when a name has a
            wildcard (V(*) or V(?)).
          - The clusters are not looked up; a cluster created later under a listed name is trusted.
        type: list
        elements: str
      purge_clusters:
        description:
          - When V(true), the clusters of the statement are exactly O(pod_identity.clusters) (none given - any cluster).
          - When V(false), O(pod_identity.clusters) are added to the clusters the collection's statement already lists,
            or, with O(pod_identity.state=absent) (or O(state=absent)), only they are taken out of it, and the statement
            goes when no cluster is left; so that each cluster's run manages its own cluster of a role that several
            clusters share, as the role P(eks.irsa.irsa#role) does. A statement without a cluster condition allows
            every cluster already and is left as it is.
        type: bool
        default: true
      adopt_statements:
        description:
          - Lets the task replace (with O(pod_identity.state=present)) or remove (with V(absent)) Pod Identity
            statements it did not write, when C(pods.eks.amazonaws.com) is their only principal. A statement that
            also names other principals is never changed.
        type: bool
        default: false
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
    C(sts:GetCallerIdentity) (to build a provider ARN, or with O(pod_identity.clusters) a cluster ARN, for a new role)."
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

# EKS Pod Identity (docs/choose_and_migrate.md).
- name: A role for EKS Pod Identity only, for the clusters prod and staging of this account
  eks.irsa.irsa_role:
    name: shop-cart-pod-identity
    pod_identity:
      source_account: "111122223333"
      clusters: [prod, staging]
    managed_policies: [AmazonDynamoDBReadOnlyAccess]

- name: Dual trust while a workload moves from IRSA to EKS Pod Identity
  eks.irsa.irsa_role:
    name: AWSIRSATestRole
    cluster_name: my-cluster
    service_accounts: [default:irsa-test]
    pod_identity:
      clusters: [my-cluster]

- name: Back to IRSA only - remove the Pod Identity statement the collection wrote
  eks.irsa.irsa_role:
    name: AWSIRSATestRole
    cluster_name: my-cluster
    service_accounts: [default:irsa-test]
    pod_identity:
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
      (RV(role), RV(trusts), RV(adopted) or RV(deleted) and RV(owned), C(diff) in diff mode, RV(foreign_role)) plus
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
trusts:
  description:
    - Which mechanisms the role's trust policy (after the task; in check mode, as it would be) lets assume the
      role. Not returned when the role is deleted or the task failed before reading it.
  returned: when the role exists after the task
  type: dict
  contains:
    irsa:
      description:
        - One entry per OIDC provider and audience, with the ServiceAccount subjects its IRSA statements (in the
          form this module writes) trust.
      type: list
      elements: dict
      sample:
        - provider_arn: arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
          audience: sts.amazonaws.com
          subjects: ["system:serviceaccount:default:irsa-test"]
    pod_identity:
      description:
        - V(null) when no statement lets C(pods.eks.amazonaws.com) assume the role. Otherwise C(managed) (whether
          the collection's statement, Sid C(EksIrsaPodIdentity), is there), its C(source_account) and
          C(cluster_arns) conditions, and C(foreign_statements), the indexes of the other statements that let
          EKS Pod Identity assume the role.
      type: dict
      sample:
        managed: true
        source_account: "111122223333"
        cluster_arns: ["arn:aws:eks:us-west-2:111122223333:cluster/my-cluster"]
        foreign_statements: []
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

from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import role_apply
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import TRUST_POLICY_SIZE_LIMIT
from ansible_collections.eks.irsa.plugins.module_utils.presets import catalogue as presets

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
        pod_identity=dict(type="dict", options=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            source_account=dict(type="str"),
            clusters=dict(type="list", elements="str"),
            adopt_statements=dict(type="bool", default=False),
            purge_clusters=dict(type="bool", default=True),
        )),
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


def _label(params, where):
    return "role {0!r} ({1})".format(params["name"], where)


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
    items = batch.items_of(module, "roles", item_options, _label, batch.OnceCache(), MUTUALLY_EXCLUSIVE)
    role_apply.finish(module, items, role_apply.run_roles(module, items))


if __name__ == "__main__":
    main()
