"""Presets of the networking add-ons: chart defaults, policies equal to the upstream ones, scoping, partitions."""

import json

import pytest

from ansible_collections.eks.irsa.plugins.module_utils.presets import base, catalogue

AWS = base.Context("aws", "amazonaws.com", "us-west-2", "111122223333", "prod")
CN = base.Context("aws-cn", "amazonaws.com.cn", "cn-north-1", "111122223333", "prod")
GOV = base.Context("aws-us-gov", "amazonaws.com", "us-gov-west-1", "111122223333", "prod")

NAMES = [
    "aws-load-balancer-controller",
    "aws-load-balancer-controller-tgb-only",
    "external-dns",
    "cert-manager",
    "aws-gateway-api-controller",
    "aws-vpc-cni",
]

# https://raw.githubusercontent.com/kubernetes-sigs/aws-load-balancer-controller/v3.5.0/docs/install/iam_policy.json
LBC_UPSTREAM = r"""
{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:CreateServiceLinkedRole"
            ],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "ec2:GetCoipPoolUsage",
                "ec2:DescribeCoipPools",
                "ec2:GetSecurityGroupsForVpc",
                "ec2:DescribeIpamPools",
                "ec2:DescribeRouteTables",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeSSLPolicies",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTrustStores",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeCapacityReservation"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "cognito-idp:DescribeUserPoolClient",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
                "iam:ListServerCertificates",
                "iam:GetServerCertificate",
                "waf-regional:GetWebACL",
                "waf-regional:GetWebACLForResource",
                "waf-regional:AssociateWebACL",
                "waf-regional:DisassociateWebACL",
                "wafv2:GetWebACL",
                "wafv2:GetWebACLForResource",
                "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL",
                "shield:GetSubscriptionState",
                "shield:DescribeProtection",
                "shield:CreateProtection",
                "shield:DeleteProtection"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:CreateSecurityGroup"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:CreateTags"
            ],
            "Resource": "arn:aws:ec2:*:*:security-group/*",
            "Condition": {
                "StringEquals": {
                    "ec2:CreateAction": "CreateSecurityGroup"
                },
                "Null": {
                    "aws:RequestTag/elbv2.k8s.aws/cluster": "false"
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:CreateTags",
                "ec2:DeleteTags"
            ],
            "Resource": "arn:aws:ec2:*:*:security-group/*",
            "Condition": {
                "Null": {
                    "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
                    "aws:ResourceTag/elbv2.k8s.aws/cluster": "false"
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup"
            ],
            "Resource": "*",
            "Condition": {
                "Null": {
                    "aws:ResourceTag/elbv2.k8s.aws/cluster": "false"
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateTargetGroup"
            ],
            "Resource": "*",
            "Condition": {
                "Null": {
                    "aws:RequestTag/elbv2.k8s.aws/cluster": "false"
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags"
            ],
            "Resource": [
                "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*"
            ],
            "Condition": {
                "Null": {
                    "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
                    "aws:ResourceTag/elbv2.k8s.aws/cluster": "false"
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags"
            ],
            "Resource": [
                "arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*",
                "arn:aws:elasticloadbalancing:*:*:listener/app/*/*/*",
                "arn:aws:elasticloadbalancing:*:*:listener-rule/net/*/*/*",
                "arn:aws:elasticloadbalancing:*:*:listener-rule/app/*/*/*"
            ]
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:ModifyCapacityReservation",
                "elasticloadbalancing:ModifyIpPools"
            ],
            "Resource": "*",
            "Condition": {
                "Null": {
                    "aws:ResourceTag/elbv2.k8s.aws/cluster": "false"
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:AddTags"
            ],
            "Resource": [
                "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
                "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*"
            ],
            "Condition": {
                "StringEquals": {
                    "elasticloadbalancing:CreateAction": [
                        "CreateTargetGroup",
                        "CreateLoadBalancer"
                    ]
                },
                "Null": {
                    "aws:RequestTag/elbv2.k8s.aws/cluster": "false"
                }
            }
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:RegisterTargets",
                "elasticloadbalancing:DeregisterTargets"
            ],
            "Resource": "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:SetWebAcl",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:SetRulePriorities"
            ],
            "Resource": "*"
        }
    ]
}
"""

TARGET_GROUP = "arn:{0}:elasticloadbalancing:us-west-2:111122223333:targetgroup/my-targets/73e2d6bc24d8a067"
ZONE = "Z0123456789ABCDEFGHIJ"


def expand(name, options=None, ctx=AWS):
    return catalogue.expand(name, options or {}, ctx)


def as_list(value):
    return [value] if isinstance(value, str) else list(value)


def actions(document):
    return {action for item in document["Statement"] for action in as_list(item["Action"])}


def by_sid(document, sid):
    return next(item for item in document["Statement"] if item["Sid"] == sid)


def normalized(document):
    """Statements without Sid, actions and resources as sorted lists: what IAM evaluates, in document order."""
    return [
        (item["Effect"], sorted(as_list(item["Action"])), sorted(as_list(item["Resource"])), item.get("Condition"))
        for item in document["Statement"]
    ]


def lbc_upstream(partition):
    """The project's file for the partition.

    iam_policy_cn.json and iam_policy_us-gov.json at v3.5.0 are iam_policy.json with the partition of every ARN
    replaced and the AddTags-on-create statement (the 14th) moved before the one that modifies load balancers (the
    13th); iam_policy_eusc.json differs from iam_policy.json in the partition only (compared with diff).
    """
    document = json.loads(LBC_UPSTREAM.replace('"arn:aws:', '"arn:{0}:'.format(partition)))
    if partition in ("aws-cn", "aws-us-gov"):
        statements = document["Statement"]
        statements.insert(12, statements.pop(13))
    return document


def only_warning_for(result, option):
    assert len(result["warnings"]) == 1, result["warnings"]
    assert "preset_options.{0} ".format(option) in result["warnings"][0]


@pytest.mark.parametrize("name, namespace, service_account", [
    ("aws-load-balancer-controller", "kube-system", "aws-load-balancer-controller"),
    ("aws-load-balancer-controller-tgb-only", "kube-system", "aws-load-balancer-controller"),
    ("external-dns", "external-dns", "external-dns"),
    ("cert-manager", "cert-manager", "cert-manager"),
    ("aws-gateway-api-controller", "aws-application-networking-system", "gateway-api-controller"),
    ("aws-vpc-cni", "kube-system", "aws-node"),
])
def test_namespace_and_service_account_are_the_chart_defaults(name, namespace, service_account):
    result = expand(name)
    assert (result["namespace"], result["service_account"]) == (namespace, service_account)


@pytest.mark.parametrize("name, version", [
    ("aws-load-balancer-controller", "v3.5.0"),
    ("aws-load-balancer-controller-tgb-only", "v3.5.0"),
    ("external-dns", "v0.22.0"),
    ("cert-manager", "abdbb72fee1fba8fecd20645d829c53553a61b58"),
    ("aws-gateway-api-controller", "v2.1.3"),
    ("aws-vpc-cni", "v1.23.0"),
])
def test_source_pins_the_file_at_its_version(name, version):
    source = expand(name)["source"]
    assert set(source) == {"project", "version", "url"}
    assert source["version"] == version
    assert source["url"].startswith("https://") and "/{0}/".format(version) in source["url"]


@pytest.mark.parametrize("name", NAMES[:-1])
def test_no_managed_policy_where_aws_publishes_none(name):
    assert expand(name)["managed_policies"] == []


# AWS Load Balancer Controller ------------------------------------------------------------------------------

@pytest.mark.parametrize("ctx", [AWS, CN, GOV, base.Context("aws-eusc", "amazonaws.eu", "eusc-de-east-1", "111122223333")])
def test_lbc_policy_is_the_file_of_the_partition(ctx):
    result = expand("aws-load-balancer-controller", ctx=ctx)
    assert normalized(result["inline_policy"]) == normalized(lbc_upstream(ctx.partition))
    assert result["warnings"] == []


def test_lbc_actions_are_the_upstream_ones():
    assert actions(expand("aws-load-balancer-controller")["inline_policy"]) == actions(json.loads(LBC_UPSTREAM))
    assert len(actions(json.loads(LBC_UPSTREAM))) == 80


@pytest.mark.parametrize("ctx", [AWS, CN, GOV])
def test_lbc_policy_fits_an_inline_policy(ctx):
    # IAM counts a role's inline policies without whitespace, up to 10,240 characters.
    minified = json.dumps(expand("aws-load-balancer-controller", ctx=ctx)["inline_policy"], separators=(",", ":"))
    assert len(minified) < 10240


def test_lbc_service_linked_role_name_is_the_one_of_the_partition_file():
    statement = by_sid(expand("aws-load-balancer-controller", ctx=CN)["inline_policy"], "CreateElbServiceLinkedRole")
    # iam_policy_cn.json names the service elasticloadbalancing.amazonaws.com, not .amazonaws.com.cn.
    assert statement["Condition"] == {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}


def test_lbc_has_no_options():
    with pytest.raises(base.PresetError, match="none"):
        expand("aws-load-balancer-controller", {"cluster_name": "prod"})


def test_lbc_refuses_a_partition_without_a_file():
    iso = base.Context("aws-iso", "c2s.ic.gov", "us-iso-east-1", "111122223333")
    with pytest.raises(base.PresetError, match="iam_policy|install/"):
        expand("aws-load-balancer-controller", ctx=iso)


def test_lbc_tgb_only_actions_are_the_upstream_ones():
    assert actions(expand("aws-load-balancer-controller-tgb-only")["inline_policy"]) == {
        "ec2:DescribeVpcs", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
        "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets",
    }


def test_lbc_tgb_only_target_group_arns_scope_the_target_changes():
    arns = [TARGET_GROUP.format("aws"), TARGET_GROUP.format("aws").replace("my-targets", "other")]
    result = expand("aws-load-balancer-controller-tgb-only", {"target_group_arns": arns})
    assert by_sid(result["inline_policy"], "ManageTargets")["Resource"] == arns
    assert by_sid(result["inline_policy"], "DescribeTargetGroups")["Resource"] == "*"
    assert result["warnings"] == []


def test_lbc_tgb_only_without_target_group_arns_is_upstream_and_warns():
    result = expand("aws-load-balancer-controller-tgb-only")
    assert by_sid(result["inline_policy"], "ManageTargets")["Resource"] == "*"
    only_warning_for(result, "target_group_arns")


@pytest.mark.parametrize("arn", [TARGET_GROUP.format("aws-cn"), "my-targets", "arn:aws:elasticloadbalancing:us-west-2:1:loadbalancer/app/x/y"])
def test_lbc_tgb_only_refuses_what_is_no_target_group_arn_of_the_partition(arn):
    with pytest.raises(base.PresetError, match="target_group_arns"):
        expand("aws-load-balancer-controller-tgb-only", {"target_group_arns": [arn]})


# external-dns, cert-manager ---------------------------------------------------------------------------------

def test_external_dns_actions_are_the_upstream_ones():
    assert actions(expand("external-dns")["inline_policy"]) == {
        "route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResources",
        "route53:ListHostedZones",
    }


def test_cert_manager_actions_and_condition_are_the_upstream_ones():
    document = expand("cert-manager")["inline_policy"]
    assert actions(document) == {
        "route53:GetChange", "route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets",
        "route53:ListHostedZonesByName",
    }
    assert by_sid(document, "GetChange")["Resource"] == "arn:aws:route53:::change/*"
    assert by_sid(document, "ChangeTxtRecordSets")["Condition"] == {
        "ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]}
    }
    assert by_sid(document, "ListHostedZonesByName")["Resource"] == "*"


ZONE_STATEMENTS = [("external-dns", "ChangeRecordSets"), ("cert-manager", "ChangeTxtRecordSets")]


@pytest.mark.parametrize("name, sid", ZONE_STATEMENTS)
@pytest.mark.parametrize("ctx", [AWS, CN, GOV])
def test_hosted_zone_ids_accept_ids_and_arns(name, sid, ctx):
    zones = [ZONE, "/hostedzone/Z0987654321ZYXWVUTSRQ", "arn:{0}:route53:::hostedzone/ZOTHER0123456789".format(ctx.partition)]
    result = expand(name, {"hosted_zone_ids": zones}, ctx)
    assert by_sid(result["inline_policy"], sid)["Resource"] == [
        "arn:{0}:route53:::hostedzone/{1}".format(ctx.partition, zone)
        for zone in (ZONE, "Z0987654321ZYXWVUTSRQ", "ZOTHER0123456789")
    ]
    assert result["warnings"] == []


@pytest.mark.parametrize("name, sid", ZONE_STATEMENTS)
def test_without_hosted_zone_ids_every_zone_and_a_warning(name, sid):
    result = expand(name)
    assert by_sid(result["inline_policy"], sid)["Resource"] == "arn:aws:route53:::hostedzone/*"
    only_warning_for(result, "hosted_zone_ids")


@pytest.mark.parametrize("name", ["external-dns", "cert-manager"])
@pytest.mark.parametrize("zone", ["example.com", "arn:aws:route53:::hostedzone/" + ZONE, "z0123"])
def test_hosted_zone_ids_refuse_what_is_no_zone_of_the_partition(name, zone):
    with pytest.raises(base.PresetError, match="hosted_zone_ids"):
        expand(name, {"hosted_zone_ids": [zone]}, CN)


# AWS Gateway API controller ---------------------------------------------------------------------------------

def test_gateway_api_controller_policy_is_the_upstream_one():
    document = expand("aws-gateway-api-controller")["inline_policy"]
    assert actions(document) == {
        "vpc-lattice:*", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeTags", "ec2:DescribeSecurityGroups",
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:DescribeLogGroups", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries",
        "tag:GetResources", "firehose:TagDeliveryStream", "s3:GetBucketPolicy", "s3:PutBucketPolicy",
        "tag:TagResources", "tag:UntagResources", "acm:ListCertificates", "iam:CreateServiceLinkedRole",
    }
    lattice = by_sid(document, "CreateVpcLatticeServiceLinkedRole")
    assert lattice["Resource"] == "arn:aws:iam::*:role/aws-service-role/vpc-lattice.amazonaws.com/AWSServiceRoleForVpcLattice"
    assert lattice["Condition"] == {"StringLike": {"iam:AWSServiceName": "vpc-lattice.amazonaws.com"}}
    logs = by_sid(document, "CreateLogDeliveryServiceLinkedRole")
    assert logs["Resource"] == "arn:aws:iam::*:role/aws-service-role/delivery.logs.amazonaws.com/AWSServiceRoleForLogDelivery"
    assert logs["Condition"] == {"StringLike": {"iam:AWSServiceName": "delivery.logs.amazonaws.com"}}


# Amazon VPC CNI ---------------------------------------------------------------------------------------------

IPV6_ACTIONS = {
    "ec2:AssignIpv6Addresses", "ec2:DescribeInstances", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
    "ec2:DescribeTags", "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes", "ec2:CreateTags",
}
LOGS_ACTIONS = {"logs:DescribeLogGroups", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


@pytest.mark.parametrize("options, managed, generated", [
    ({}, ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"], set()),
    ({"ipv6": False, "cloudwatch_logs": False}, ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"], set()),
    ({"ipv6": True}, [], IPV6_ACTIONS),
    ({"cloudwatch_logs": True}, ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"], LOGS_ACTIONS),
    ({"ipv6": True, "cloudwatch_logs": True}, [], IPV6_ACTIONS | LOGS_ACTIONS),
])
def test_vpc_cni_policies_follow_the_ip_family_and_logs(options, managed, generated):
    result = expand("aws-vpc-cni", options)
    assert result["managed_policies"] == managed
    assert (actions(result["inline_policy"]) if result["inline_policy"] else set()) == generated
    assert result["warnings"] == []


def test_vpc_cni_ipv6_tags_only_network_interfaces():
    document = expand("aws-vpc-cni", {"ipv6": True}, CN)["inline_policy"]
    assert by_sid(document, "IPv6TagNetworkInterfaces")["Resource"] == "arn:aws-cn:ec2:*:*:network-interface/*"
    assert by_sid(document, "IPv6")["Resource"] == "*"


def test_vpc_cni_managed_policy_in_other_partitions():
    assert expand("aws-vpc-cni", ctx=CN)["managed_policies"] == ["arn:aws-cn:iam::aws:policy/AmazonEKS_CNI_Policy"]


# Every preset, every partition ------------------------------------------------------------------------------

def examples(name, partition):
    options = {option.name: option.example for option in catalogue.get(name).options}
    if "target_group_arns" in options:
        options["target_group_arns"] = [TARGET_GROUP.format(partition)]
    return options


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ctx", [CN, GOV])
@pytest.mark.parametrize("with_examples", [False, True])
def test_no_arn_of_another_partition(name, ctx, with_examples):
    result = expand(name, examples(name, ctx.partition) if with_examples else {}, ctx)
    text = json.dumps(result)
    assert "arn:aws:" not in text


# The findings parliament 1.6.4 makes on the upstream policies themselves; any other fails.
UPSTREAM_FINDINGS = {
    # Resource "*" where the project publishes it.
    ("*", "RESOURCE_STAR"),
    # An action newer than parliament's database (added to the controller's policy for IPAM pools).
    ("aws-load-balancer-controller", "UNKNOWN_ACTION"),
    # elasticloadbalancing:CreateAction on AddTags; parliament's database lacks the key for the action.
    ("aws-load-balancer-controller", "UNKNOWN_CONDITION_FOR_ACTION"),
    # cert-manager's TXT-only condition also sits on ListResourceRecordSets, where the key is absent.
    ("cert-manager", "UNKNOWN_CONDITION_FOR_ACTION"),
    # s3:PutBucketPolicy on "*", for VPC Lattice access logs to S3.
    ("aws-gateway-api-controller", "RESOURCE_POLICY_PRIVILEGE_ESCALATION"),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ctx", [AWS, CN, GOV])
@pytest.mark.parametrize("with_examples", [False, True])
def test_parliament_finds_only_what_upstream_has(name, ctx, with_examples):
    parliament = pytest.importorskip("parliament")
    document = expand(name, examples(name, ctx.partition) if with_examples else {}, ctx)["inline_policy"]
    if document is None:
        return
    findings = parliament.analyze_policy_string(json.dumps(document)).findings
    unexpected = [
        (finding.issue, finding.detail) for finding in findings
        if ("*", finding.issue) not in UPSTREAM_FINDINGS and (name, finding.issue) not in UPSTREAM_FINDINGS
    ]
    assert unexpected == []
