# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Presets of the add-ons that operate a cluster: node scaling, node interruption, secrets and observability.

Each generated policy reproduces the one its project publishes at the pinned version (same actions, same
conditions), with every ARN built from the binding's partition, region and account. Options that accept ARNs also
accept the short form (queue name, role name, secret name, key or workspace ID), which is turned into an ARN of the
binding's region and account. This module only describes policies; it does not create or attach them.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

from ansible_collections.eks.irsa.plugins.module_utils.presets.base import (
    Option,
    Preset,
    cluster_name_option,
    statement,
)


def _arns(ctx, preset, values, service, resource, regional=True):
    """``values`` as ARNs: an ARN or ``*`` is kept, anything else is named by ``resource(value)`` in this account.

    ``regional`` False for global services (IAM), whose ARNs have no region.
    """
    result = []
    for value in values:
        if value == "*" or value.startswith("arn:"):
            result.append(value)
            continue
        region = ctx.require("region", preset) if regional else ""
        result.append(ctx.arn(service, resource(value), region, ctx.require("account_id", preset)))
    return result


def _cluster(ctx, scope, preset):
    return scope.get("cluster_name") or ctx.require("cluster_name", preset)


# cluster-autoscaler ----------------------------------------------------------------------------------------------

_CLUSTER_AUTOSCALER_DESCRIBE = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
]


def _cluster_autoscaler_policy(ctx, options, scope):
    """The README's "Full Cluster Autoscaler Features Policy"; its write block gets the tag condition the README
    recommends ("using tag based conditionals"), written as terraform-aws-iam writes it."""
    cluster = _cluster(ctx, scope, "cluster-autoscaler")
    return [
        statement("ClusterAutoscalerDescribe", _CLUSTER_AUTOSCALER_DESCRIBE),
        statement(
            "ClusterAutoscalerScale",
            ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            condition={"StringEquals": {"autoscaling:ResourceTag/kubernetes.io/cluster/" + cluster: "owned"}},
        ),
    ]


# karpenter -------------------------------------------------------------------------------------------------------

def _karpenter_policy(ctx, options, scope):
    """The six controller policies of the getting-started CloudFormation template, merged (their Sids are unique)."""
    name = "karpenter"
    cluster = _cluster(ctx, scope, name)
    region = ctx.require("region", name)
    account = ctx.require("account_id", name)
    node_roles = _arns(
        ctx, name, scope.get("node_role_arns", [ctx.arn("iam", "role/KarpenterNodeRole-" + cluster, "", account)]),
        "iam", lambda role: "role/" + role, regional=False,
    )
    queues = _arns(
        ctx, name, scope.get("queue_arns", [ctx.arn("sqs", cluster, region, account)]), "sqs", lambda queue: queue,
    )
    instance_profiles = ctx.arn("iam", "instance-profile/*", "", account)
    cluster_arn = ctx.arn("eks", "cluster/" + cluster, region, account)
    return [
        *_karpenter_node_lifecycle(ctx, cluster, region),
        *_karpenter_iam_integration(cluster, region, node_roles, instance_profiles),
        # EKSIntegrationPolicy
        statement("AllowAPIServerEndpointDiscovery", "eks:DescribeCluster", cluster_arn),
        # InterruptionPolicy
        statement("AllowInterruptionQueueActions", ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"], queues),
        # ZonalShiftPolicy
        statement(
            "AllowZonalShiftStatusReadOnly", ["arc-zonal-shift:GetManagedResource"], "*",
            {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}},
        ),
        *_karpenter_resource_discovery(ctx, region, instance_profiles),
    ]


def _karpenter_node_lifecycle(ctx, cluster, region):
    """NodeLifecyclePolicy: launch nodes from the cluster's launch templates, tag what a launch creates, and tag and
    terminate the cluster's nodes."""

    def ec2(resource, owner="*"):
        return ctx.arn("ec2", resource, region, owner)

    owned = "kubernetes.io/cluster/" + cluster
    tagged_resources = [ec2(kind + "/*") for kind in (
        "fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")]
    nodepool_request = {"aws:RequestTag/karpenter.sh/nodepool": "*"}
    nodepool_resource = {"aws:ResourceTag/karpenter.sh/nodepool": "*"}
    return [
        statement(
            "AllowScopedEC2InstanceAccessActions", ["ec2:RunInstances", "ec2:CreateFleet"],
            [ec2("image/*", ""), ec2("snapshot/*", ""), ec2("security-group/*"), ec2("subnet/*"),
             ec2("capacity-reservation/*"), ec2("placement-group/*")],
        ),
        statement(
            "AllowScopedEC2LaunchTemplateAccessActions", ["ec2:RunInstances", "ec2:CreateFleet"],
            ec2("launch-template/*"),
            {"StringEquals": {"aws:ResourceTag/" + owned: "owned"}, "StringLike": nodepool_resource},
        ),
        statement(
            "AllowScopedEC2InstanceActionsWithTags", ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            tagged_resources,
            {
                "StringEquals": {"aws:RequestTag/" + owned: "owned", "aws:RequestTag/eks:eks-cluster-name": cluster},
                "StringLike": nodepool_request,
            },
        ),
        statement(
            "AllowScopedResourceCreationTagging", "ec2:CreateTags", tagged_resources,
            {
                "StringEquals": {
                    "aws:RequestTag/" + owned: "owned",
                    "aws:RequestTag/eks:eks-cluster-name": cluster,
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                },
                "StringLike": nodepool_request,
            },
        ),
        statement(
            "AllowScopedResourceTagging", "ec2:CreateTags", ec2("instance/*"),
            {
                "StringEquals": {"aws:ResourceTag/" + owned: "owned"},
                "StringLike": nodepool_resource,
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]},
            },
        ),
        statement(
            "AllowScopedDeletion", ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            [ec2("instance/*"), ec2("launch-template/*")],
            {"StringEquals": {"aws:ResourceTag/" + owned: "owned"}, "StringLike": nodepool_resource},
        ),
    ]


def _karpenter_iam_integration(cluster, region, node_roles, instance_profiles):
    """IAMIntegrationPolicy: pass the node roles to EC2, and create, tag and manage the cluster's instance profiles."""
    owned = "kubernetes.io/cluster/" + cluster
    return [
        # The template lists both ec2 principals whatever the partition.
        statement(
            "AllowPassingInstanceRole", "iam:PassRole", node_roles,
            {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}},
        ),
        statement(
            "AllowScopedInstanceProfileCreationActions", ["iam:CreateInstanceProfile"], instance_profiles,
            {
                "StringEquals": {
                    "aws:RequestTag/" + owned: "owned",
                    "aws:RequestTag/eks:eks-cluster-name": cluster,
                    "aws:RequestTag/topology.kubernetes.io/region": region,
                },
                "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        ),
        statement(
            "AllowScopedInstanceProfileTagActions", ["iam:TagInstanceProfile"], instance_profiles,
            {
                "StringEquals": {
                    "aws:ResourceTag/" + owned: "owned",
                    "aws:ResourceTag/topology.kubernetes.io/region": region,
                    "aws:RequestTag/" + owned: "owned",
                    "aws:RequestTag/eks:eks-cluster-name": cluster,
                    "aws:RequestTag/topology.kubernetes.io/region": region,
                },
                "StringLike": {
                    "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                },
            },
        ),
        statement(
            "AllowScopedInstanceProfileActions",
            ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
            instance_profiles,
            {
                "StringEquals": {
                    "aws:ResourceTag/" + owned: "owned",
                    "aws:ResourceTag/topology.kubernetes.io/region": region,
                },
                "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        ),
    ]


def _karpenter_resource_discovery(ctx, region, instance_profiles):
    """ResourceDiscoveryPolicy: read the region's EC2 resources, the SSM public parameters, prices and instance
    profiles."""
    return [
        statement(
            "AllowRegionalReadActions",
            [
                "ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
                "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets",
            ],
            "*",
            {"StringEquals": {"aws:RequestedRegion": region}},
        ),
        statement("AllowSSMReadActions", "ssm:GetParameter", ctx.arn("ssm", "parameter/aws/service/*", region)),
        statement("AllowPricingReadActions", "pricing:GetProducts"),
        statement("AllowUnscopedInstanceProfileListAction", "iam:ListInstanceProfiles"),
        statement("AllowInstanceProfileReadActions", "iam:GetInstanceProfile", instance_profiles),
    ]


# aws-node-termination-handler ------------------------------------------------------------------------------------

def _node_termination_handler_policy(ctx, options, scope):
    """The README's queue-processor policy, its one statement split so that the SQS actions can be scoped."""
    name = "aws-node-termination-handler"
    queues = _arns(ctx, name, scope.get("queue_arns", ["*"]), "sqs", lambda queue: queue)
    return [
        statement(
            "NodeTerminationHandler",
            [
                "autoscaling:CompleteLifecycleAction",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeTags",
                "ec2:DescribeInstances",
            ],
        ),
        statement("NodeTerminationHandlerQueue", ["sqs:DeleteMessage", "sqs:ReceiveMessage"], queues),
    ]


# external-secrets ------------------------------------------------------------------------------------------------

def _secret_resource(name):
    """Secrets Manager appends ``-`` and six random characters to a secret's name in its ARN."""
    return "secret:" + (name if name.endswith("*") else name + "-??????")


def _external_secrets_policy(ctx, options, scope):
    """The Secrets Manager and Parameter Store policies of the provider docs; PushSecret's when create_secrets."""
    name = "external-secrets"
    secrets = _arns(
        ctx, name, scope.get("secret_arns", [ctx.arn("secretsmanager", "secret:*", "*", "*")]),
        "secretsmanager", _secret_resource,
    )
    parameters = _arns(
        ctx, name, scope.get("parameter_arns", [ctx.arn("ssm", "parameter/*", "*", "*")]),
        "ssm", lambda parameter: "parameter/" + parameter.lstrip("/"),
    )
    keys = _arns(ctx, name, scope.get("kms_key_arns") or [], "kms", lambda key: "key/" + key)
    statements = [
        statement("SecretsManagerList", ["secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue"]),
        statement(
            "SecretsManagerRead",
            [
                "secretsmanager:GetResourcePolicy",
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:ListSecretVersionIds",
            ],
            secrets,
        ),
        statement("ParameterStoreRead", ["ssm:GetParameter*"], parameters),
    ]
    if keys:
        # Not in the provider docs: a secret encrypted with a customer managed key needs kms:Decrypt on it
        # (terraform-aws-iam external_secrets_kms_key_arns); the AWS managed keys need nothing here.
        statements.append(statement("KMSDecrypt", ["kms:Decrypt"], keys))
    if scope.get("create_secrets"):
        statements.extend([
            statement(
                "SecretsManagerPush",
                [
                    "secretsmanager:CreateSecret",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:TagResource",
                    "secretsmanager:GetResourcePolicy",
                    "secretsmanager:PutResourcePolicy",
                    "secretsmanager:DeleteResourcePolicy",
                    "secretsmanager:ReplicateSecretToRegions",
                    "secretsmanager:RemoveRegionsFromReplication",
                ],
                secrets,
            ),
            statement(
                "SecretsManagerDeleteManaged", ["secretsmanager:DeleteSecret"], secrets,
                {"StringEquals": {"secretsmanager:ResourceTag/managed-by": "external-secrets"}},
            ),
            statement(
                "ParameterStorePush",
                ["ssm:GetParameter*", "ssm:PutParameter*", "ssm:AddTagsToResource", "ssm:ListTagsForResource"],
                parameters,
            ),
        ])
    return statements


# amazon-managed-prometheus ---------------------------------------------------------------------------------------

_AMP_MANAGED = "AmazonPrometheusRemoteWriteAccess"


def _amp_managed(options):
    return [] if options.get("workspace_arns") else [_AMP_MANAGED]


def _amp_policy(ctx, options, scope):
    """Without workspaces the AWS managed policy is attached (no generated one); with them, its only action,
    aps:RemoteWrite, on those workspaces."""
    managed = ctx.arn("iam", "policy/" + _AMP_MANAGED, "", "aws")
    workspaces = scope.get("workspace_arns", [managed])
    if workspaces == [managed]:
        return []
    name = "amazon-managed-prometheus"
    return [statement(
        "AmazonPrometheusRemoteWrite", ["aps:RemoteWrite"],
        _arns(ctx, name, workspaces, "aps", lambda workspace: "workspace/" + workspace),
    )]


PRESETS = [
    Preset(
        name="cluster-autoscaler",
        summary="Cluster Autoscaler on AWS (chart cluster-autoscaler 9.59.0: ServiceAccount "
                "<release>-aws-cluster-autoscaler, assuming release name = chart name), scaling only the ASGs "
                "tagged kubernetes.io/cluster/<cluster>=owned.",
        namespace="kube-system",
        service_account="cluster-autoscaler-aws-cluster-autoscaler",
        source={
            "project": "kubernetes/autoscaler",
            "version": "cluster-autoscaler-1.36.1",
            "url": "https://github.com/kubernetes/autoscaler/blob/cluster-autoscaler-1.36.1/"
                   "cluster-autoscaler/cloudprovider/aws/README.md",
        },
        policy=_cluster_autoscaler_policy,
        options=[cluster_name_option(
            "Auto Scaling groups (tagged C(kubernetes.io/cluster/<cluster_name>=owned), as EKS managed node groups "
            "and eksctl tag them)"
        )],
    ),
    Preset(
        name="karpenter",
        summary="Karpenter v1 controller (chart karpenter: ServiceAccount karpenter, assuming release name = chart "
                "name), the controller policies of the getting-started CloudFormation template merged into one.",
        namespace="kube-system",
        service_account="karpenter",
        source={
            "project": "aws/karpenter-provider-aws",
            "version": "v1.14.1",
            "url": "https://raw.githubusercontent.com/aws/karpenter-provider-aws/v1.14.1/website/content/en/preview/"
                   "getting-started/getting-started-with-karpenter/cloudformation.yaml",
        },
        policy=_karpenter_policy,
        options=[
            cluster_name_option("nodes, launch templates, instance profiles and API endpoint"),
            Option(
                "node_role_arns", "list",
                "The node IAM roles Karpenter may pass to EC2 (iam:PassRole): role ARNs, or role names in the binding's "
                "account.",
                unset="iam:PassRole only on the getting-started guide's node role name KarpenterNodeRole-<cluster> "
                      "(an assumed name, not a wildcard)",
                example=["KarpenterNodeRole-prod-eu"],
            ),
            Option(
                "queue_arns", "list",
                "The SQS interruption queue (settings.interruptionQueue): queue ARNs, or queue names in the binding's "
                "region and account.",
                unset="reading only the getting-started guide's interruption queue, named after the cluster "
                      "(an assumed name, not a wildcard)",
                example=["Karpenter-prod-eu"],
            ),
        ],
    ),
    Preset(
        name="aws-node-termination-handler",
        summary="AWS Node Termination Handler in queue-processor mode (ServiceAccount aws-node-termination-handler, "
                "assuming release name = chart name); IMDS mode needs no role.",
        namespace="kube-system",
        service_account="aws-node-termination-handler",
        source={
            "project": "aws/aws-node-termination-handler",
            "version": "v1.25.6",
            "url": "https://github.com/aws/aws-node-termination-handler/blob/v1.25.6/README.md",
        },
        policy=_node_termination_handler_policy,
        options=[Option(
            "queue_arns", "list",
            "The SQS queues NTH reads (the chart's queueURL): queue ARNs, or queue names in the binding's region and "
            "account.",
            unset="receiving and deleting messages of every SQS queue",
            example=["MyK8sTermQueue"],
        )],
    ),
    Preset(
        name="external-secrets",
        summary="External Secrets Operator with the AWS Secrets Manager and Parameter Store providers (ServiceAccount "
                "external-secrets, assuming release name = chart name; policies of docs/provider/aws-secrets-manager.md "
                "and aws-parameter-store.md).",
        namespace="external-secrets",
        service_account="external-secrets",
        source={
            "project": "external-secrets/external-secrets",
            "version": "v2.9.0",
            "url": "https://github.com/external-secrets/external-secrets/blob/v2.9.0/docs/provider/aws-secrets-manager.md",
        },
        policy=_external_secrets_policy,
        options=[
            Option(
                "secret_arns", "list",
                "The Secrets Manager secrets ESO reads (and writes with create_secrets): secret ARNs (wildcards allowed), "
                "or secret names in the binding's region and account (a name matches that secret only; end it with "
                "C(*) for a prefix).",
                unset="every Secrets Manager secret (read; written too with create_secrets)",
                example=["prod/payments/db"],
            ),
            Option(
                "parameter_arns", "list",
                "The SSM parameters ESO reads (and writes with create_secrets): parameter ARNs, or parameter names or "
                "paths (C(/prod/payments/*)) in the binding's region and account.",
                unset="every SSM parameter (read; written too with create_secrets)",
                example=["/prod/payments/*"],
            ),
            Option(
                "kms_key_arns", "list",
                "Customer managed KMS keys that encrypt the secrets or SecureString parameters (kms:Decrypt): key ARNs, "
                "or key IDs in the binding's region and account. Unset, no KMS permission is granted: the AWS managed "
                "keys need none.",
                example=["1234abcd-12ab-34cd-56ef-1234567890ab"],
            ),
            Option(
                "create_secrets", "bool",
                "Allow PushSecret: create, update, tag and replicate secrets and parameters within secret_arns and "
                "parameter_arns, and delete secrets tagged C(managed-by=external-secrets).",
                default=False,
                example=True,
            ),
        ],
    ),
    Preset(
        name="amazon-managed-prometheus",
        summary="Prometheus remote write to Amazon Managed Service for Prometheus (ServiceAccount of AWS's IRSA guide, "
                "namespace prometheus assumed); AWS managed AmazonPrometheusRemoteWriteAccess unless workspaces are given.",
        namespace="prometheus",
        service_account="amp-iamproxy-ingest-service-account",
        source={
            "project": "AWS documentation: Amazon Managed Service for Prometheus User Guide",
            "version": "latest",
            "url": "https://docs.aws.amazon.com/prometheus/latest/userguide/set-up-irsa.html",
        },
        managed=_amp_managed,
        policy=_amp_policy,
        options=[Option(
            "workspace_arns", "list",
            "The AMP workspaces to write to: workspace ARNs, or workspace IDs in the binding's region and account. "
            "Given, a generated aps:RemoteWrite policy on them replaces the AWS managed policy.",
            unset="aps:RemoteWrite to every workspace of the account through the AWS managed policy "
                  "AmazonPrometheusRemoteWriteAccess",
            example=["ws-0123abcd-4567-89ef-0123-456789abcdef"],
        )],
    ),
    Preset(
        name="amazon-cloudwatch-observability",
        summary="CloudWatch agent and Fluent Bit of the amazon-cloudwatch-observability chart/add-on (ServiceAccount "
                "cloudwatch-agent), with AWS managed CloudWatchAgentServerPolicy and AWSXrayWriteOnlyAccess.",
        namespace="amazon-cloudwatch",
        service_account="cloudwatch-agent",
        source={
            "project": "aws-observability/helm-charts",
            "version": "amazon-cloudwatch-observability 6.4.0 (commit 71a298ffdebe9d4e13ac709d24398062a2afe8ca)",
            "url": "https://github.com/aws-observability/helm-charts/blob/71a298ffdebe9d4e13ac709d24398062a2afe8ca/"
                   "charts/amazon-cloudwatch-observability/templates/_helpers.tpl",
        },
        managed=["CloudWatchAgentServerPolicy", "AWSXrayWriteOnlyAccess"],
    ),
]
