# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Presets of the networking add-ons: load balancers, DNS, certificates, VPC Lattice and the VPC CNI.

Each policy reproduces the one its project publishes at the pinned version (same actions, same conditions),
with every ARN built for the context's partition. Where a scoping option is unset the policy keeps the
project's wildcard and the expansion warns about it.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import re

from ansible_collections.eks.irsa.plugins.module_utils.presets.base import (
    Option,
    Preset,
    PresetError,
    statement,
)

_LBC_VERSION = "v3.5.0"
_LBC_DOCS = "https://raw.githubusercontent.com/kubernetes-sigs/aws-load-balancer-controller/{0}/docs/".format(_LBC_VERSION)

# The controller publishes one policy file per partition (docs/deploy/installation.md picks it by region):
# iam_policy_cn.json and iam_policy_us-gov.json differ from iam_policy.json only in the partition and the place of
# one statement, iam_policy_eusc.json only in the partition. The iso files lack actions of iam_policy.json, so
# those partitions are refused rather than given a policy that is not theirs.
_LBC_PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-eusc")
_LBC_TAG_ON_CREATE_EARLY = ("aws-cn", "aws-us-gov")

_HOSTED_ZONE_ID = re.compile(r"^(?:/?hostedzone/)?([A-Z0-9]+)$")


def _iam_service_name(service):
    """The ``iam:AWSServiceName`` of a service-linked role.

    Not ``ctx.principal``: the projects' policies, the load balancer controller's aws-cn and aws-us-gov files
    included, name these services ``<service>.amazonaws.com`` in every partition.
    """
    return "{0}.amazonaws.com".format(service)


def _hosted_zone_arns(ctx, preset, zones):
    """Route 53 hosted zone ARNs from IDs (``Z0123…``, ``/hostedzone/Z0123…``) or ARNs of this partition."""
    prefix = ctx.arn("route53", "hostedzone/")
    arns = []
    for zone in zones:
        match = _HOSTED_ZONE_ID.match(zone)
        if match:
            arns.append(prefix + match.group(1))
        elif zone.startswith(prefix):
            arns.append(zone)
        else:
            raise PresetError(
                "preset {0}: preset_options.hosted_zone_ids has {1!r}, which is neither a hosted zone ID (such as "
                "Z0123456789ABCDEFGHIJ) nor a hosted zone ARN of partition {2} ({3}<id>)".format(preset, zone, ctx.partition, prefix)
            )
    return arns


def _target_group_arns(ctx, preset, arns):
    """Target group ARNs, checked to be of this partition."""
    prefix = "arn:{0}:elasticloadbalancing:".format(ctx.partition)
    for arn in arns:
        if arn != "*" and not (arn.startswith(prefix) and ":targetgroup/" in arn):
            raise PresetError(
                "preset {0}: preset_options.target_group_arns has {1!r}, which is not a target group ARN of partition "
                "{2} ({3}<region>:<account>:targetgroup/<name>/<id>)".format(preset, arn, ctx.partition, prefix)
            )
    return arns


def _hosted_zone_option(what, records):
    return Option(
        "hosted_zone_ids", "list",
        "The Route 53 hosted zones (IDs such as C(Z0123456789ABCDEFGHIJ), or their ARNs) whose records {0}; "
        "by default every hosted zone.".format(what),
        unset="changes to {0} in every hosted zone of the account".format(records),
        example=["Z0123456789ABCDEFGHIJ"],
    )


# AWS Load Balancer Controller ------------------------------------------------------------------------------

def _lbc_policy(ctx, options, scope):
    if ctx.partition not in _LBC_PARTITIONS:
        raise PresetError(
            "preset aws-load-balancer-controller has the controller's policy for partitions {0}, not for {1}: use the "
            "policy the project publishes for it ({2}install/) as a policy of the binding".format(
                ", ".join(_LBC_PARTITIONS), ctx.partition, _LBC_DOCS
            )
        )
    return _lbc_discovery() + _lbc_security_groups(ctx) + _lbc_load_balancers(ctx)


def _lbc_cluster_tag_conditions():
    """The conditions on the ``elbv2.k8s.aws/cluster`` tag: the resource has it, the request sets it, and the
    resource has it while the request does not set it."""
    tagged = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    requested = {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}
    retag = {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "true", "aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    return tagged, requested, retag


def _lbc_discovery():
    """Create the load balancers' service-linked role, describe EC2 and ELB resources, and use the listener
    integrations (Cognito, ACM, IAM server certificates, WAF, Shield)."""
    return [
        statement("CreateElbServiceLinkedRole", ["iam:CreateServiceLinkedRole"], "*",
                  {"StringEquals": {"iam:AWSServiceName": _iam_service_name("elasticloadbalancing")}}),
        statement("Describe", [
            "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
            "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections", "ec2:DescribeSubnets",
            "ec2:DescribeSecurityGroups", "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags",
            "ec2:GetCoipPoolUsage", "ec2:DescribeCoipPools", "ec2:GetSecurityGroupsForVpc", "ec2:DescribeIpamPools",
            "ec2:DescribeRouteTables",
            "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerCertificates",
            "elasticloadbalancing:DescribeSSLPolicies", "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:DescribeTrustStores", "elasticloadbalancing:DescribeListenerAttributes",
            "elasticloadbalancing:DescribeCapacityReservation",
        ]),
        statement("ListenerIntegrations", [
            "cognito-idp:DescribeUserPoolClient", "acm:ListCertificates", "acm:DescribeCertificate",
            "iam:ListServerCertificates", "iam:GetServerCertificate",
            "waf-regional:GetWebACL", "waf-regional:GetWebACLForResource", "waf-regional:AssociateWebACL",
            "waf-regional:DisassociateWebACL",
            "wafv2:GetWebACL", "wafv2:GetWebACLForResource", "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
            "shield:GetSubscriptionState", "shield:DescribeProtection", "shield:CreateProtection", "shield:DeleteProtection",
        ]),
    ]


def _lbc_security_groups(ctx):
    """Change ingress rules, create security groups tagged for the cluster, and tag and delete the cluster's."""
    tagged, requested, retag = _lbc_cluster_tag_conditions()
    security_groups = ctx.arn("ec2", "security-group/*", "*", "*")
    return [
        statement("ManageSecurityGroupIngress", ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]),
        statement("CreateSecurityGroup", ["ec2:CreateSecurityGroup"]),
        statement("TagSecurityGroupOnCreate", ["ec2:CreateTags"], security_groups,
                  dict(requested, StringEquals={"ec2:CreateAction": "CreateSecurityGroup"})),
        statement("TagClusterSecurityGroups", ["ec2:CreateTags", "ec2:DeleteTags"], security_groups, retag),
        statement("ManageClusterSecurityGroups", [
            "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup",
        ], "*", tagged),
    ]


def _lbc_load_balancers(ctx):
    """Create, tag, modify and delete the cluster's load balancers and target groups, manage listeners and rules,
    and register targets."""
    tagged, requested, retag = _lbc_cluster_tag_conditions()
    target_groups = ctx.arn("elasticloadbalancing", "targetgroup/*/*", "*", "*")
    load_balancers = [
        target_groups,
        ctx.arn("elasticloadbalancing", "loadbalancer/net/*/*", "*", "*"),
        ctx.arn("elasticloadbalancing", "loadbalancer/app/*/*", "*", "*"),
    ]
    listeners = [
        ctx.arn("elasticloadbalancing", resource, "*", "*")
        for resource in ("listener/net/*/*/*", "listener/app/*/*/*", "listener-rule/net/*/*/*", "listener-rule/app/*/*/*")
    ]
    create = [
        statement("CreateClusterLoadBalancers", [
            "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup",
        ], "*", requested),
        statement("ManageListenersAndRules", [
            "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule",
        ]),
        statement("TagClusterLoadBalancers", [
            "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
        ], load_balancers, retag),
        statement("TagListenersAndRules", [
            "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
        ], listeners),
    ]
    modify = statement("ModifyClusterLoadBalancers", [
        "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
        "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
        "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:ModifyCapacityReservation",
        "elasticloadbalancing:ModifyIpPools",
    ], "*", tagged)
    tag_on_create = statement(
        "TagLoadBalancersOnCreate", ["elasticloadbalancing:AddTags"], load_balancers,
        dict(requested, StringEquals={"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]}),
    )
    targets_and_listeners = [
        statement("RegisterTargets", [
            "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets",
        ], target_groups),
        statement("ModifyListenersAndRules", [
            "elasticloadbalancing:SetWebAcl", "elasticloadbalancing:ModifyListener",
            "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates",
            "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities",
        ]),
    ]
    # Same permissions either way; the aws-cn and aws-us-gov files tag on create before they modify.
    middle = [tag_on_create, modify] if ctx.partition in _LBC_TAG_ON_CREATE_EARLY else [modify, tag_on_create]
    return create + middle + targets_and_listeners


def _lbc_tgb_policy(ctx, options, scope):
    target_groups = _target_group_arns(ctx, "aws-load-balancer-controller-tgb-only", scope.get("target_group_arns", "*"))
    return [
        statement("DescribeTargetGroups", [
            "ec2:DescribeVpcs", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
            "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
        ]),
        statement("ManageTargets", [
            "elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
            "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets",
        ], target_groups),
    ]


# external-dns, cert-manager ---------------------------------------------------------------------------------

def _external_dns_policy(ctx, options, scope):
    zones = _hosted_zone_arns(ctx, "external-dns", scope.get("hosted_zone_ids", [ctx.arn("route53", "hostedzone/*")]))
    return [
        statement("ChangeRecordSets", [
            "route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResources",
        ], zones),
        statement("ListHostedZones", ["route53:ListHostedZones"]),
    ]


def _cert_manager_policy(ctx, options, scope):
    zones = _hosted_zone_arns(ctx, "cert-manager", scope.get("hosted_zone_ids", [ctx.arn("route53", "hostedzone/*")]))
    return [
        statement("GetChange", "route53:GetChange", ctx.arn("route53", "change/*")),
        statement("ChangeTxtRecordSets", ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"], zones,
                  {"ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]}}),
        statement("ListHostedZonesByName", "route53:ListHostedZonesByName"),
    ]


# AWS Gateway API controller ---------------------------------------------------------------------------------

def _service_linked_role(ctx, sid, service, role):
    return statement(
        sid, "iam:CreateServiceLinkedRole",
        ctx.arn("iam", "role/aws-service-role/{0}/{1}".format(_iam_service_name(service), role), "", "*"),
        {"StringLike": {"iam:AWSServiceName": _iam_service_name(service)}},
    )


def _gateway_api_policy(ctx, options, scope):
    return [
        statement("VpcLatticeController", [
            "vpc-lattice:*",
            "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeTags", "ec2:DescribeSecurityGroups",
            "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:DescribeLogGroups", "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries",
            "tag:GetResources", "firehose:TagDeliveryStream", "s3:GetBucketPolicy", "s3:PutBucketPolicy",
            "tag:TagResources", "tag:UntagResources", "acm:ListCertificates",
        ]),
        _service_linked_role(ctx, "CreateVpcLatticeServiceLinkedRole", "vpc-lattice", "AWSServiceRoleForVpcLattice"),
        _service_linked_role(ctx, "CreateLogDeliveryServiceLinkedRole", "delivery.logs", "AWSServiceRoleForLogDelivery"),
    ]


# Amazon VPC CNI ---------------------------------------------------------------------------------------------

_NETWORK_POLICY_AGENT_README = "https://github.com/aws/aws-network-policy-agent/blob/v1.4.1/README.md#enable-cloudwatch-logs"


def _vpc_cni_managed(options):
    return [] if options.get("ipv6") else ["AmazonEKS_CNI_Policy"]


def _vpc_cni_policy(ctx, options, scope):
    statements = []
    if scope.get("ipv6"):
        statements += [
            statement("IPv6", [
                "ec2:AssignIpv6Addresses", "ec2:DescribeInstances", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
                "ec2:DescribeTags", "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes",
            ]),
            statement("IPv6TagNetworkInterfaces", ["ec2:CreateTags"], [ctx.arn("ec2", "network-interface/*", "*", "*")]),
        ]
    if scope.get("cloudwatch_logs"):
        statements.append(statement("NetworkPolicyAgentLogs", [
            "logs:DescribeLogGroups", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
        ]))
    return statements


PRESETS = [
    Preset(
        name="aws-load-balancer-controller",
        summary="AWS Load Balancer Controller v3.5.0 with the project's iam_policy.json of the partition (no scoping "
                "options: the policy limits writes by the elbv2.k8s.aws/cluster tag); ServiceAccount assumes release name = chart name.",
        namespace="kube-system",
        service_account="aws-load-balancer-controller",
        source={
            "project": "kubernetes-sigs/aws-load-balancer-controller",
            "version": _LBC_VERSION,
            "url": _LBC_DOCS + "install/iam_policy.json",
        },
        policy=_lbc_policy,
    ),
    Preset(
        name="aws-load-balancer-controller-tgb-only",
        summary="AWS Load Balancer Controller v3.5.0 that only adds and removes targets of existing target groups "
                "(TargetGroupBinding, no security group rules); ServiceAccount assumes release name = chart name.",
        namespace="kube-system",
        service_account="aws-load-balancer-controller",
        source={
            "project": "kubernetes-sigs/aws-load-balancer-controller",
            "version": _LBC_VERSION,
            "url": "https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/{0}/docs/deploy/installation.md"
                   "#you-only-want-the-lbc-to-add-and-remove-ips-to-already-existing-target-groups".format(_LBC_VERSION),
        },
        policy=_lbc_tgb_policy,
        options=[
            Option(
                "target_group_arns", "list",
                "The ARNs of the target groups whose targets the controller registers and deregisters and whose "
                "attributes it modifies; by default every target group.",
                unset="registering targets in and modifying every target group of the account",
                example=["arn:aws:elasticloadbalancing:us-west-2:111122223333:targetgroup/my-targets/73e2d6bc24d8a067"],
            ),
        ],
    ),
    Preset(
        name="external-dns",
        summary="ExternalDNS with the Route 53 policy of its AWS tutorial (v0.22.0); namespace external-dns, ServiceAccount "
                "assumes release name = chart name.",
        namespace="external-dns",
        service_account="external-dns",
        source={
            "project": "kubernetes-sigs/external-dns",
            "version": "v0.22.0",
            "url": "https://github.com/kubernetes-sigs/external-dns/blob/v0.22.0/docs/tutorials/aws.md#iam-policy",
        },
        policy=_external_dns_policy,
        options=[_hosted_zone_option("ExternalDNS lists and changes", "records")],
    ),
    Preset(
        name="cert-manager",
        summary="cert-manager solving ACME DNS01 challenges in Route 53 (policy of cert-manager's Route53 docs); "
                "ServiceAccount assumes release name = chart name.",
        namespace="cert-manager",
        service_account="cert-manager",
        source={
            "project": "cert-manager/website",
            "version": "abdbb72fee1fba8fecd20645d829c53553a61b58",
            "url": "https://github.com/cert-manager/website/blob/abdbb72fee1fba8fecd20645d829c53553a61b58/"
                   "content/docs/configuration/acme/dns01/route53.md#set-up-an-iam-policy",
        },
        policy=_cert_manager_policy,
        options=[_hosted_zone_option("cert-manager lists and changes (TXT records only)", "TXT records")],
    ),
    Preset(
        name="aws-gateway-api-controller",
        summary="AWS Gateway API controller for Amazon VPC Lattice v2.1.3 with the project's recommended inline policy.",
        namespace="aws-application-networking-system",
        service_account="gateway-api-controller",
        source={
            "project": "aws/aws-application-networking-k8s",
            "version": "v2.1.3",
            "url": "https://raw.githubusercontent.com/aws/aws-application-networking-k8s/v2.1.3/"
                   "files/controller-installation/recommended-inline-policy.json",
        },
        policy=_gateway_api_policy,
    ),
    Preset(
        name="aws-vpc-cni",
        summary="Amazon VPC CNI v1.23.0 (aws-node): the AWS managed AmazonEKS_CNI_Policy for IPv4, the project's IPv6 "
                "policy with ipv6, and the network policy agent's CloudWatch Logs permissions with cloudwatch_logs.",
        namespace="kube-system",
        service_account="aws-node",
        source={
            "project": "aws/amazon-vpc-cni-k8s",
            "version": "v1.23.0",
            "url": "https://github.com/aws/amazon-vpc-cni-k8s/blob/v1.23.0/docs/iam-policy.md",
        },
        managed=_vpc_cni_managed,
        policy=_vpc_cni_policy,
        options=[
            Option(
                "ipv6", "bool",
                "The cluster uses the IPv6 family: the role gets the project's IPv6 policy (docs/iam-policy.md, IPv6 mode) "
                "instead of the AWS managed AmazonEKS_CNI_Policy, which is for IPv4.",
                default=False, example=True,
            ),
            Option(
                "cloudwatch_logs", "bool",
                "The network policy agent streams policy decision logs to CloudWatch Logs (the chart's "
                "C(nodeAgent.enableCloudWatchLogs)): adds the permissions of its README at v1.4.1, the agent version of "
                "VPC CNI v1.23.0 ({0}), on every log group as published.".format(_NETWORK_POLICY_AGENT_README),
                default=False, example=True,
            ),
        ],
    ),
]
