# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The operations presets: chart defaults, managed policies, the generated documents against the upstream ones, and
every scoping option (set: exactly those resources, no warning; unset: the fallback and one warning naming it).

The expected action sets are written here from the upstream files, independently of the generator.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.eks.irsa.plugins.module_utils.presets import base, catalogue, operations

ACCOUNT = "111122223333"
AWS = base.Context("aws", "amazonaws.com", "us-west-2", ACCOUNT, "prod")
CHINA = base.Context("aws-cn", "amazonaws.com.cn", "cn-north-1", ACCOUNT, "prod")

# cluster-autoscaler/cloudprovider/aws/README.md @ cluster-autoscaler-1.36.1, "Full Cluster Autoscaler Features Policy".
CLUSTER_AUTOSCALER_ACTIONS = {
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities", "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup", "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup",
}

# website/content/en/preview/getting-started/getting-started-with-karpenter/cloudformation.yaml @ v1.14.1.
KARPENTER_SIDS = [
    "AllowScopedEC2InstanceAccessActions", "AllowScopedEC2LaunchTemplateAccessActions",
    "AllowScopedEC2InstanceActionsWithTags", "AllowScopedResourceCreationTagging", "AllowScopedResourceTagging",
    "AllowScopedDeletion", "AllowPassingInstanceRole", "AllowScopedInstanceProfileCreationActions",
    "AllowScopedInstanceProfileTagActions", "AllowScopedInstanceProfileActions", "AllowAPIServerEndpointDiscovery",
    "AllowInterruptionQueueActions", "AllowZonalShiftStatusReadOnly", "AllowRegionalReadActions",
    "AllowSSMReadActions", "AllowPricingReadActions", "AllowUnscopedInstanceProfileListAction",
    "AllowInstanceProfileReadActions",
]
KARPENTER_ACTIONS = {
    "ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:CreateTags", "ec2:TerminateInstances",
    "ec2:DeleteLaunchTemplate", "iam:PassRole", "iam:CreateInstanceProfile", "iam:TagInstanceProfile",
    "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile",
    "eks:DescribeCluster", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage",
    "arc-zonal-shift:GetManagedResource", "ec2:DescribeCapacityReservations", "ec2:DescribeImages",
    "ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings",
    "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups",
    "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets", "ssm:GetParameter",
    "pricing:GetProducts", "iam:ListInstanceProfiles", "iam:GetInstanceProfile",
}

# README.md @ v1.25.6, "IAM Policy for aws-node-termination-handler Deployment".
NODE_TERMINATION_HANDLER_ACTIONS = {
    "autoscaling:CompleteLifecycleAction", "autoscaling:DescribeAutoScalingInstances", "autoscaling:DescribeTags",
    "ec2:DescribeInstances", "sqs:DeleteMessage", "sqs:ReceiveMessage",
}

# docs/provider/aws-secrets-manager.md and aws-parameter-store.md @ v2.9.0.
EXTERNAL_SECRETS_READ_ACTIONS = {
    "secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue", "secretsmanager:GetResourcePolicy",
    "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds",
    "ssm:GetParameter*",
}
EXTERNAL_SECRETS_PUSH_ACTIONS = {
    "secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:TagResource",
    "secretsmanager:DeleteSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:PutResourcePolicy",
    "secretsmanager:DeleteResourcePolicy", "secretsmanager:ReplicateSecretToRegions",
    "secretsmanager:RemoveRegionsFromReplication", "ssm:GetParameter*", "ssm:PutParameter*",
    "ssm:AddTagsToResource", "ssm:ListTagsForResource",
}

PRESET_NAMES = [preset.name for preset in operations.PRESETS]


def expand(name, options=None, context=AWS):
    return catalogue.expand(name, options or {}, context)


def _listed(value):
    return value if isinstance(value, list) else [value]


def statements(result):
    return {item["Sid"]: item for item in result["inline_policy"]["Statement"]} if result["inline_policy"] else {}


def actions(result):
    return {action for item in statements(result).values() for action in _listed(item["Action"])}


def resources(result, sid):
    return _listed(statements(result)[sid]["Resource"])


def warned(result, option):
    return [warning for warning in result["warnings"] if "preset_options.{0} ".format(option) in warning]


def examples(name):
    return {option.name: option.example for option in catalogue.get(name).options}


@pytest.mark.parametrize("name, namespace, service_account, managed", [
    ("cluster-autoscaler", "kube-system", "cluster-autoscaler-aws-cluster-autoscaler", []),
    ("karpenter", "kube-system", "karpenter", []),
    ("aws-node-termination-handler", "kube-system", "aws-node-termination-handler", []),
    ("external-secrets", "external-secrets", "external-secrets", []),
    ("amazon-managed-prometheus", "prometheus", "amp-iamproxy-ingest-service-account",
     ["arn:aws:iam::aws:policy/AmazonPrometheusRemoteWriteAccess"]),
    ("amazon-cloudwatch-observability", "amazon-cloudwatch", "cloudwatch-agent",
     ["arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess", "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"]),
])
def test_chart_defaults_and_managed_policies(name, namespace, service_account, managed):
    result = expand(name)
    assert (result["namespace"], result["service_account"]) == (namespace, service_account)
    assert result["managed_policies"] == managed
    assert set(result["source"]) == {"project", "version", "url"}
    assert result["source"]["url"].startswith("https://")


@pytest.mark.parametrize("name, options, expected", [
    ("cluster-autoscaler", {}, CLUSTER_AUTOSCALER_ACTIONS),
    ("karpenter", {}, KARPENTER_ACTIONS),
    ("aws-node-termination-handler", {}, NODE_TERMINATION_HANDLER_ACTIONS),
    ("external-secrets", {}, EXTERNAL_SECRETS_READ_ACTIONS),
    ("external-secrets", {"create_secrets": True}, EXTERNAL_SECRETS_READ_ACTIONS | EXTERNAL_SECRETS_PUSH_ACTIONS),
    ("external-secrets", {"kms_key_arns": ["k"]}, EXTERNAL_SECRETS_READ_ACTIONS | {"kms:Decrypt"}),
    ("amazon-managed-prometheus", {"workspace_arns": ["ws-1"]}, {"aps:RemoteWrite"}),
])
def test_generated_actions_are_the_upstream_ones(name, options, expected):
    assert actions(expand(name, options)) == expected


@pytest.mark.parametrize("name", ["amazon-managed-prometheus", "amazon-cloudwatch-observability"])
def test_managed_only_presets_generate_nothing_by_default(name):
    result = expand(name)
    assert (result["inline_policy"], result["inline_policy_name"]) == (None, None)


# cluster-autoscaler -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, cluster", [({}, "prod"), ({"cluster_name": "prod-eu"}, "prod-eu")])
def test_cluster_autoscaler_scales_only_the_clusters_groups(options, cluster):
    result = expand("cluster-autoscaler", options)
    scale = statements(result)["ClusterAutoscalerScale"]
    assert scale["Condition"] == {"StringEquals": {"autoscaling:ResourceTag/kubernetes.io/cluster/" + cluster: "owned"}}
    assert set(scale["Action"]) == {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
    assert result["warnings"] == []


def test_cluster_autoscaler_needs_a_cluster_name():
    with pytest.raises(base.PresetError, match="cluster name"):
        expand("cluster-autoscaler", {}, base.Context("aws", "amazonaws.com", "us-west-2", ACCOUNT))


# karpenter --------------------------------------------------------------------------------------------------------

def test_karpenter_merges_every_controller_policy_with_unique_sids():
    result = expand("karpenter", examples("karpenter"))
    assert [item["Sid"] for item in result["inline_policy"]["Statement"]] == KARPENTER_SIDS


def test_karpenter_document_fits_the_inline_policy_size_limit():
    for options in ({}, examples("karpenter")):
        for context in (AWS, CHINA):
            document = expand("karpenter", options, context)["inline_policy"]
            assert len(json.dumps(document, separators=(",", ":"))) < 10240


def test_karpenter_reproduces_the_templates_conditions():
    result = expand("karpenter", {"cluster_name": "prod-eu"})
    by_sid = statements(result)
    assert by_sid["AllowScopedEC2InstanceActionsWithTags"]["Condition"] == {
        "StringEquals": {"aws:RequestTag/kubernetes.io/cluster/prod-eu": "owned",
                         "aws:RequestTag/eks:eks-cluster-name": "prod-eu"},
        "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
    }
    assert by_sid["AllowScopedResourceTagging"]["Condition"]["ForAllValues:StringEquals"] == {
        "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]}
    assert by_sid["AllowPassingInstanceRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}
    assert by_sid["AllowScopedInstanceProfileCreationActions"]["Condition"]["StringEquals"][
        "aws:RequestTag/topology.kubernetes.io/region"] == "us-west-2"
    cluster_arn = "arn:aws:eks:us-west-2:{0}:cluster/prod-eu".format(ACCOUNT)
    assert resources(result, "AllowAPIServerEndpointDiscovery") == [cluster_arn]
    assert by_sid["AllowZonalShiftStatusReadOnly"]["Condition"] == {
        "StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}}
    assert by_sid["AllowRegionalReadActions"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-west-2"}}
    assert resources(result, "AllowSSMReadActions") == ["arn:aws:ssm:us-west-2::parameter/aws/service/*"]
    assert resources(result, "AllowScopedEC2InstanceAccessActions") == [
        "arn:aws:ec2:us-west-2::image/*", "arn:aws:ec2:us-west-2::snapshot/*",
        "arn:aws:ec2:us-west-2:*:security-group/*", "arn:aws:ec2:us-west-2:*:subnet/*",
        "arn:aws:ec2:us-west-2:*:capacity-reservation/*", "arn:aws:ec2:us-west-2:*:placement-group/*",
    ]


@pytest.mark.parametrize("option, sid, given, expected", [
    ("node_role_arns", "AllowPassingInstanceRole", ["KarpenterNodeRole-prod-eu", "arn:aws:iam::444455556666:role/n"],
     ["arn:aws:iam::{0}:role/KarpenterNodeRole-prod-eu".format(ACCOUNT), "arn:aws:iam::444455556666:role/n"]),
    ("queue_arns", "AllowInterruptionQueueActions", ["Karpenter-prod-eu"],
     ["arn:aws:sqs:us-west-2:{0}:Karpenter-prod-eu".format(ACCOUNT)]),
])
def test_karpenter_scoping_options(option, sid, given, expected):
    scoped = expand("karpenter", {option: given})
    assert resources(scoped, sid) == expected
    assert warned(scoped, option) == []
    # Unset, the getting-started guide's names (not a wildcard), said in one warning.
    fallback = {
        "node_role_arns": ["arn:aws:iam::{0}:role/KarpenterNodeRole-prod".format(ACCOUNT)],
        "queue_arns": ["arn:aws:sqs:us-west-2:{0}:prod".format(ACCOUNT)],
    }[option]
    unset = expand("karpenter")
    assert resources(unset, sid) == fallback
    assert len(warned(unset, option)) == 1 and fallback[0] in warned(unset, option)[0]


def test_karpenter_cluster_name_option_names_the_cluster_everywhere():
    text = json.dumps(expand("karpenter", {"cluster_name": "prod-eu"})["inline_policy"])
    assert "kubernetes.io/cluster/prod-eu" in text and "cluster/prod-eu" in text
    assert "kubernetes.io/cluster/prod\"" not in text and ":prod\"" not in text


def test_karpenter_needs_region_and_account():
    with pytest.raises(base.PresetError, match="region"):
        expand("karpenter", {}, base.Context("aws", "amazonaws.com", None, ACCOUNT, "prod"))
    with pytest.raises(base.PresetError, match="account id"):
        expand("karpenter", {}, base.Context("aws", "amazonaws.com", "us-west-2", None, "prod"))


# aws-node-termination-handler -------------------------------------------------------------------------------------

def test_node_termination_handler_queue_arns():
    scoped = expand("aws-node-termination-handler", {"queue_arns": ["MyK8sTermQueue", "arn:aws:sqs:eu-west-1:1:q"]})
    assert resources(scoped, "NodeTerminationHandlerQueue") == [
        "arn:aws:sqs:us-west-2:{0}:MyK8sTermQueue".format(ACCOUNT), "arn:aws:sqs:eu-west-1:1:q"]
    assert scoped["warnings"] == []
    unset = expand("aws-node-termination-handler")
    assert resources(unset, "NodeTerminationHandlerQueue") == ["*"]
    assert len(warned(unset, "queue_arns")) == 1 and len(unset["warnings"]) == 1


# external-secrets -------------------------------------------------------------------------------------------------

SECRET_SIDS = ["SecretsManagerRead", "SecretsManagerPush", "SecretsManagerDeleteManaged"]
PARAMETER_SIDS = ["ParameterStoreRead", "ParameterStorePush"]


@pytest.mark.parametrize("option, sids, given, expected, fallback", [
    ("secret_arns", SECRET_SIDS, ["prod/payments/db", "dev-*"],
     ["arn:aws:secretsmanager:us-west-2:{0}:secret:prod/payments/db-??????".format(ACCOUNT),
      "arn:aws:secretsmanager:us-west-2:{0}:secret:dev-*".format(ACCOUNT)],
     ["arn:aws:secretsmanager:*:*:secret:*"]),
    ("parameter_arns", PARAMETER_SIDS, ["/prod/payments/*", "arn:aws:ssm:us-east-2:1:parameter/dev-*"],
     ["arn:aws:ssm:us-west-2:{0}:parameter/prod/payments/*".format(ACCOUNT), "arn:aws:ssm:us-east-2:1:parameter/dev-*"],
     ["arn:aws:ssm:*:*:parameter/*"]),
])
def test_external_secrets_scoping_options(option, sids, given, expected, fallback):
    scoped = expand("external-secrets", {option: given, "create_secrets": True})
    for sid in sids:
        assert resources(scoped, sid) == expected
    assert warned(scoped, option) == []
    unset = expand("external-secrets", {"create_secrets": True})
    for sid in sids:
        assert resources(unset, sid) == fallback
    assert len(warned(unset, option)) == 1


def test_external_secrets_kms_key_arns():
    scoped = expand("external-secrets", {"kms_key_arns": ["1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:1:key/k"]})
    assert resources(scoped, "KMSDecrypt") == [
        "arn:aws:kms:us-west-2:{0}:key/1234abcd-12ab-34cd-56ef-1234567890ab".format(ACCOUNT), "arn:aws:kms:eu-west-1:1:key/k"]
    assert warned(scoped, "kms_key_arns") == []
    # Unset is a narrowing, not a widening: no KMS permission at all (AWS managed keys need none), no warning.
    unset = expand("external-secrets")
    assert "KMSDecrypt" not in statements(unset) and warned(unset, "kms_key_arns") == []


def test_external_secrets_push_is_opt_in_and_deletes_only_its_own_secrets():
    assert set(statements(expand("external-secrets"))) == {"SecretsManagerList", "SecretsManagerRead", "ParameterStoreRead"}
    delete = statements(expand("external-secrets", {"create_secrets": True}))["SecretsManagerDeleteManaged"]
    assert delete["Action"] == "secretsmanager:DeleteSecret"
    assert delete["Condition"] == {"StringEquals": {"secretsmanager:ResourceTag/managed-by": "external-secrets"}}


def test_external_secrets_examples_leave_no_wildcard_resource_but_the_lists():
    result = expand("external-secrets", examples("external-secrets"))
    assert result["warnings"] == []
    for sid, item in statements(result).items():
        assert (_listed(item["Resource"]) == ["*"]) == (sid == "SecretsManagerList")


# amazon-managed-prometheus ----------------------------------------------------------------------------------------

def test_amp_workspace_arns_replace_the_managed_policy():
    scoped = expand("amazon-managed-prometheus", {"workspace_arns": ["ws-0123", "arn:aws:aps:eu-west-1:1:workspace/ws-9"]})
    assert scoped["managed_policies"] == []
    assert resources(scoped, "AmazonPrometheusRemoteWrite") == [
        "arn:aws:aps:us-west-2:{0}:workspace/ws-0123".format(ACCOUNT), "arn:aws:aps:eu-west-1:1:workspace/ws-9"]
    assert scoped["warnings"] == []
    unset = expand("amazon-managed-prometheus")
    assert unset["managed_policies"] == ["arn:aws:iam::aws:policy/AmazonPrometheusRemoteWriteAccess"]
    assert len(warned(unset, "workspace_arns")) == 1 and "every workspace" in unset["warnings"][0]


# every partition --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PRESET_NAMES)
@pytest.mark.parametrize("with_examples", [False, True])
def test_china_partition(name, with_examples):
    result = expand(name, examples(name) if with_examples else {}, CHINA)
    assert all(arn.startswith("arn:aws-cn:iam::aws:policy/") for arn in result["managed_policies"])
    if result["inline_policy"]:
        assert "arn:aws:" not in json.dumps(result["inline_policy"])


def test_examples_are_valid_and_scope_every_option():
    for name in PRESET_NAMES:
        result = expand(name, examples(name))
        assert result["warnings"] == [], name
