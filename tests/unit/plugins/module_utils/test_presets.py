"""Every preset, whatever its add-on: the policy passes the IAM linter in every partition, the managed policies are
AWS's own, the defaults are names Kubernetes and IAM accept, and the role's bindings get the preset's defaults."""

import json
import re
import warnings

import pytest

from ansible_collections.eks.irsa.plugins.module_utils import bindings
from ansible_collections.eks.irsa.plugins.module_utils.presets import base, catalogue

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # parliament imports pkg_resources
    from parliament import analyze_policy_string, enhance_finding

from moto.iam.aws_managed_policies import aws_managed_policies_data

PARTITIONS = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}
REGIONS = {"aws": "us-west-2", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
# Findings of the linter that are errors: anything of medium severity or above, and an action or service it does not
# know (a misspelt action is silently useless in IAM).
ERRORS = ("MEDIUM", "HIGH", "CRITICAL")
UNKNOWN = ("UNKNOWN_ACTION", "UNKNOWN_PREFIX")
# The linter's findings on the projects' own published policies that are not mistakes, each with the reason. A finding
# is allowed only for its preset and only while it still occurs (test_every_allowed_finding_still_occurs).
ALLOWED = {
    ("aws-load-balancer-controller", "UNKNOWN_ACTION", "elasticloadbalancing:ModifyIpPools"):
        "an ELB action newer than parliament 1.6.4's list of actions; in the project's policy since v2.14",
    ("aws-load-balancer-controller", "UNKNOWN_CONDITION_FOR_ACTION",
     "elasticloadbalancing:CreateAction for action elasticloadbalancing:AddTags"):
        "ELB supports elasticloadbalancing:CreateAction on AddTags (tagging on create); parliament's table predates it",
    ("cert-manager", "UNKNOWN_CONDITION_FOR_ACTION",
     "route53:ChangeResourceRecordSetsRecordTypes for action route53:ListResourceRecordSets"):
        "the project's TXT-only condition is ForAllValues, which holds for an action without the key, so "
        "ListResourceRecordSets stays allowed as the project intends",
    ("aws-gateway-api-controller", "RESOURCE_POLICY_PRIVILEGE_ESCALATION", "s3:"):
        "the controller writes the bucket policy of VPC Lattice access-log buckets (s3:PutBucketPolicy), as its "
        "recommended policy says",
    ("karpenter", "RESOURCE_MISMATCH", "ec2:CreateFleet"):
        "Karpenter splits CreateFleet/RunInstances over statements by resource type, for its tag conditions; the "
        "linter judges each statement alone",
    ("karpenter", "RESOURCE_MISMATCH", "ec2:RunInstances"):
        "as for CreateFleet",
    ("karpenter", "RESOURCE_MISMATCH", "ssm:GetParameter"):
        "AWS's public parameters (arn:<partition>:ssm:<region>::parameter/aws/service/...) have no account; the "
        "linter's pattern wants one",
}
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def context(partition, cluster="prod"):
    return base.Context(partition, PARTITIONS[partition], REGIONS[partition], "111122223333", cluster)


def examples(preset):
    return {option.name: option.example for option in preset.options if option.example is not None}


def cases():
    for name in catalogue.names():
        preset = catalogue.PRESETS[name]
        for partition in PARTITIONS:
            yield pytest.param(name, partition, {}, id="{0}-{1}-unset".format(name, partition))
        yield pytest.param(name, "aws", examples(preset), id="{0}-aws-scoped".format(name))


def lint_findings(document):
    """Every finding of the linter: ``(issue, severity, detail as text)``."""
    findings = [enhance_finding(finding) for finding in analyze_policy_string(json.dumps(document)).findings]
    return [(finding.issue, finding.severity, str(finding.detail)) for finding in findings]


def allowed(name, issue, detail):
    return any(preset == name and kind == issue and text in detail for preset, kind, text in ALLOWED)


def lint_errors(name, document):
    return [(issue, detail) for issue, severity, detail in lint_findings(document)
            if (severity in ERRORS or issue in UNKNOWN) and not allowed(name, issue, detail)]


def test_the_catalogue_has_at_least_the_eighteen_add_ons():
    assert {
        "aws-ebs-csi-driver", "aws-efs-csi-driver", "aws-fsx-csi-driver", "aws-fsx-openzfs-csi-driver",
        "aws-mountpoint-s3-csi-driver", "aws-load-balancer-controller", "aws-load-balancer-controller-tgb-only",
        "external-dns", "cert-manager", "cluster-autoscaler", "external-secrets", "aws-vpc-cni",
        "aws-node-termination-handler", "velero", "amazon-managed-prometheus", "amazon-cloudwatch-observability",
        "aws-gateway-api-controller", "karpenter",
    } <= set(catalogue.names())


@pytest.mark.parametrize("name,partition,options", list(cases()))
def test_policy_passes_the_linter_and_fits_iam(name, partition, options):
    expansion = catalogue.expand(name, options, context(partition))
    assert expansion["managed_policies"] or expansion["inline_policy"], "a preset gives its role a policy"
    for arn in expansion["managed_policies"]:
        assert arn.startswith("arn:{0}:iam::aws:policy/".format(partition))
    document = expansion["inline_policy"]
    if document is None:
        return
    assert lint_errors(name, document) == []
    text = json.dumps(document, separators=(",", ":"))
    assert len(re.sub(r"\s", "", text)) <= 10240, "over IAM's limit for a role's inline policies"
    if partition != "aws":
        assert "arn:aws:" not in text, "an ARN of another partition"
    if not options:
        # Without options, every scoping option that widens says so.
        assert len(expansion["warnings"]) == sum(1 for option in catalogue.PRESETS[name].options if option.unset) \
            or not document, expansion["warnings"]


def test_the_linter_reports_errors():
    """The check above can fail: a misspelt action and a malformed ARN are errors."""
    document = base.document([base.statement("Bad", ["s3:GetObjekt"], "arn:aws:s3:::bucket/*"),
                              base.statement("Worse", ["s3:GetObject"], "arn:aws:s3")])
    assert [issue for issue, _detail in lint_errors("velero", document)] == ["UNKNOWN_ACTION", "INVALID_ARN"]


def test_every_allowed_finding_still_occurs():
    seen = set()
    for name, (preset, issue, text) in ((key[0], key) for key in ALLOWED):
        for partition in PARTITIONS:
            document = catalogue.expand(name, {}, context(partition))["inline_policy"]
            if any(kind == issue and text in detail for kind, _severity, detail in lint_findings(document)):
                seen.add((preset, issue, text))
    assert set(ALLOWED) - seen == set(), "an allowed finding no longer occurs: remove it from ALLOWED"


@pytest.mark.parametrize("name", catalogue.names())
def test_every_example_scopes_without_warning(name):
    preset = catalogue.PRESETS[name]
    expansion = catalogue.expand(name, examples(preset), context("aws"))
    assert expansion["warnings"] == []


@pytest.mark.parametrize("name", catalogue.names())
def test_managed_policies_are_aws_own_with_their_path(name):
    data = json.loads(aws_managed_policies_data)
    for arn in catalogue.expand(name, {}, context("aws"))["managed_policies"]:
        path_and_name = arn.split(":policy", 1)[1]
        policy_name = path_and_name.rsplit("/", 1)[1]
        assert policy_name in data, arn
        assert data[policy_name]["Path"] + policy_name == path_and_name, arn


@pytest.mark.parametrize("name", catalogue.names())
def test_preset_records_its_source_and_chart_defaults(name):
    preset = catalogue.PRESETS[name]
    assert set(preset.source) == {"project", "version", "url"}
    # A project on GitHub (owner/repository), or for AWS's own conventions the AWS guide that states them.
    assert re.match(r"^[\w.-]+/[\w.-]+$", preset.source["project"]) or \
        preset.source["url"].startswith("https://docs.aws.amazon.com/"), preset.source
    assert preset.source["url"].startswith("https://") and preset.source["version"]
    assert DNS_1123.match(preset.namespace) and DNS_1123.match(preset.service_account)
    assert preset.summary and not preset.summary.endswith(" ")
    for option in preset.options:
        assert option.type in ("list", "str", "bool") and option.description
        assert option.example is not None, "{0}: every option has an example for the docs and tests".format(option.name)


def test_an_option_means_the_same_in_every_preset():
    for name, (kind, presets, _description) in catalogue.options().items():
        assert kind in ("list", "str", "bool") and presets, name


def test_unknown_preset_names_the_closest():
    with pytest.raises(base.PresetError, match=r"no preset 'aws-load-balancer-controler'; did you mean 'aws-load-balancer-controller'"):
        catalogue.validate("aws-load-balancer-controler", {})


def test_unknown_option_lists_the_preset_options():
    with pytest.raises(base.PresetError, match=r"preset_options.bucket is not an option of preset velero: its options are"):
        catalogue.validate("velero", {"bucket": "x"})


def test_option_of_the_wrong_type_is_refused():
    name, option = next((preset.name, option) for preset in catalogue.PRESETS.values() for option in preset.options
                        if option.type == "list")
    with pytest.raises(base.PresetError, match=r"must be a list of non-empty strings, not 'one'"):
        catalogue.validate(name, {option.name: "one"})


def test_bindings_get_the_chart_defaults_and_a_role_name():
    filled = bindings.apply_presets([{"preset": "external-dns"}, {"service_account": "a", "role_name": "r"}], "prod")
    preset = catalogue.PRESETS["external-dns"]
    assert filled[0]["namespace"] == preset.namespace and filled[0]["service_account"] == preset.service_account
    assert filled[0]["role_name"] == "prod-external-dns"
    assert filled[1] == {"service_account": "a", "role_name": "r"}


def test_a_binding_overrides_the_preset_defaults():
    filled = bindings.apply_presets(
        [{"preset": "external-dns", "namespace": "dns", "service_account": "edns", "role_name": "edns-role"}], "prod")
    assert (filled[0]["namespace"], filled[0]["service_account"], filled[0]["role_name"]) == ("dns", "edns", "edns-role")


def test_presets_that_name_the_cluster_get_the_binding_cluster():
    names = [name for name in catalogue.names()
             if any(option.name == "cluster_name" for option in catalogue.PRESETS[name].options)]
    assert names, "some preset scopes its policy to the cluster"
    filled = bindings.apply_presets([{"preset": names[0]}], "prod")
    assert filled[0]["preset_options"]["cluster_name"] == "prod"
    filled = bindings.apply_presets([{"preset": names[0], "preset_options": {"cluster_name": "other"}}], "prod")
    assert filled[0]["preset_options"]["cluster_name"] == "other"


def test_a_default_role_name_over_64_characters_asks_for_role_name():
    expected = r"irsa_bindings\[0\] \(aws-load-balancer-controller\): the default role name .* over IAM's 64: set role_name"
    with pytest.raises(bindings.BindingError, match=expected):
        bindings.apply_presets([{"preset": "aws-load-balancer-controller"}], "c" * 40)


def test_a_binding_with_an_unknown_preset_is_named():
    expected = r"irsa_bindings\[1\] \(velro\): preset: there is no preset 'velro'; did you mean 'velero'\?"
    with pytest.raises(bindings.BindingError, match=expected):
        bindings.apply_presets([{"service_account": "a", "role_name": "r"}, {"preset": "velro"}], "prod")


def test_a_binding_without_preset_still_needs_its_names():
    with pytest.raises(bindings.BindingError, match=r"role_name is missing: .* or a preset"):
        bindings.apply_presets([{"service_account": "a"}], "prod")
