"""OIDC naming: issuer URL <-> provider <-> provider ARN, in all three partitions."""

import pytest

from ansible_collections.eks.irsa.plugins.module_utils.naming import (
    NamingError,
    parse_arn,
    parse_issuer,
    parse_oidc_provider,
    partition_for_region,
    provider_arn,
    role_name_from_arn,
)

SEED_ID = "EXAMPLED539D4633E53DE1B716D3041E"

GOOD_ISSUERS = [
    # issuer URL, provider, region, partition
    (
        "https://oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID,
        "oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID,
        "us-west-2",
        "aws",
    ),
    (
        "https://oidc.eks.eu-central-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF",
        "oidc.eks.eu-central-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF",
        "eu-central-1",
        "aws",
    ),
    (
        "https://oidc.eks.cn-north-1.amazonaws.com.cn/id/" + SEED_ID,
        "oidc.eks.cn-north-1.amazonaws.com.cn/id/" + SEED_ID,
        "cn-north-1",
        "aws-cn",
    ),
    (
        "https://oidc.eks.cn-northwest-1.amazonaws.com.cn/id/" + SEED_ID,
        "oidc.eks.cn-northwest-1.amazonaws.com.cn/id/" + SEED_ID,
        "cn-northwest-1",
        "aws-cn",
    ),
    (
        "https://oidc.eks.us-gov-west-1.amazonaws.com/id/" + SEED_ID,
        "oidc.eks.us-gov-west-1.amazonaws.com/id/" + SEED_ID,
        "us-gov-west-1",
        "aws-us-gov",
    ),
    (
        "https://oidc.eks.ap-southeast-4.amazonaws.com/id/" + SEED_ID,
        "oidc.eks.ap-southeast-4.amazonaws.com/id/" + SEED_ID,
        "ap-southeast-4",
        "aws",
    ),
]


@pytest.mark.parametrize("url, provider, region, partition", GOOD_ISSUERS)
def test_parse_issuer(url, provider, region, partition):
    issuer = parse_issuer(url)
    assert issuer.url == url
    assert issuer.provider == provider
    assert issuer.region == region
    assert issuer.partition == partition
    assert issuer.oidc_id == provider.rsplit("/", 1)[-1]


BAD_ISSUERS = [
    # value, a phrase the message must contain (it says what to fix)
    ("", "is empty"),
    ("   ", "is empty"),
    (None, "is empty"),
    ("http://oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID, "uses http://"),
    ("HTTPS://oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID, "lower-case 'https://'"),
    ("oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID + "x://", "must start with https://"),
    ("https://oidc.eks.us-west-2.amazonaws.com/" + SEED_ID, "the path must be /id/<ID>"),
    ("https://oidc.eks.us-west-2.amazonaws.com", "the path must be /id/<ID>"),
    ("https://oidc.eks.us-west-2.amazonaws.com/id/", "ends with '/'"),
    ("https://oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID + "/", "ends with '/'"),
    ("https://OIDC.EKS.us-west-2.amazonaws.com/id/" + SEED_ID, "upper case in its host name"),
    ("https://oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID.lower(), "must be upper-case letters and digits"),
    (" https://oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID, "white space"),
    ("https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE D539", "white space"),
    ("https://token.actions.githubusercontent.com", "not an EKS OIDC issuer"),
    ("https://oidc.eks.cn-north-1.amazonaws.com/id/" + SEED_ID, "issuers end in amazonaws.com.cn"),
    ("https://oidc.eks.us-west-2.amazonaws.com.cn/id/" + SEED_ID, "issuers end in amazonaws.com"),
    ("https://oidc.eks.us-west-2.amazonaws.com/id/A/B", "the path must be /id/<ID>"),
]


@pytest.mark.parametrize("value, phrase", BAD_ISSUERS)
def test_parse_issuer_rejects_with_advice(value, phrase):
    with pytest.raises(NamingError) as raised:
        parse_issuer(value)
    assert phrase in str(raised.value)


@pytest.mark.parametrize(
    "region, partition",
    [
        ("us-east-1", "aws"),
        ("eu-west-3", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-gov-east-1", "aws-us-gov"),
    ],
)
def test_partition_for_region(region, partition):
    assert partition_for_region(region) == partition


@pytest.mark.parametrize("region", ["", None])
def test_partition_for_region_needs_a_region(region):
    with pytest.raises(NamingError, match="no AWS region"):
        partition_for_region(region)


@pytest.mark.parametrize(
    "provider, account, partition, arn",
    [
        (
            "oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID,
            "123456789012",
            "aws",
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID,
        ),
        (
            "oidc.eks.cn-north-1.amazonaws.com.cn/id/" + SEED_ID,
            "210987654321",
            "aws-cn",
            "arn:aws-cn:iam::210987654321:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/" + SEED_ID,
        ),
        (
            "oidc.eks.us-gov-west-1.amazonaws.com/id/" + SEED_ID,
            "123456789012",
            "aws-us-gov",
            "arn:aws-us-gov:iam::123456789012:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/" + SEED_ID,
        ),
    ],
)
def test_provider_arn_round_trip(provider, account, partition, arn):
    assert provider_arn(provider, account, partition) == arn
    issuer, given_arn = parse_oidc_provider(arn)
    assert issuer.provider == provider
    assert issuer.partition == partition
    assert given_arn == arn
    # The three spellings of one provider name the same thing.
    assert parse_oidc_provider("https://" + provider)[0] == issuer
    assert parse_oidc_provider(provider)[0] == issuer


@pytest.mark.parametrize(
    "account, partition, phrase",
    [
        ("12345", "aws", "12 digits"),
        (123456789012, "aws", "12 digits"),
        ("123456789012", "aws-iso", "unknown AWS partition"),
    ],
)
def test_provider_arn_rejects(account, partition, phrase):
    with pytest.raises(NamingError, match=phrase):
        provider_arn("oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID, account, partition)


@pytest.mark.parametrize(
    "value, phrase",
    [
        ("", "is empty"),
        ("oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID + " ", "white space"),
        ("arn:aws:iam::123456789012:role/oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID, "not a 'oidc-provider'"),
        ("arn:aws-cn:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID, "partition"),
        ("arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/" + SEED_ID, "/id/<ID>"),
        ("example.com/id/" + SEED_ID, "not an EKS OIDC issuer"),
    ],
)
def test_parse_oidc_provider_rejects(value, phrase):
    with pytest.raises(NamingError) as raised:
        parse_oidc_provider(value)
    assert phrase in str(raised.value)


@pytest.mark.parametrize(
    "arn, name",
    [
        ("arn:aws:iam::123456789012:role/AWSIRSATestRole", "AWSIRSATestRole"),
        ("arn:aws:iam::123456789012:role/team/app/AWSIRSATestRole", "AWSIRSATestRole"),
        ("arn:aws-cn:iam::123456789012:role/cn-role", "cn-role"),
    ],
)
def test_role_name_from_arn(arn, name):
    assert role_name_from_arn(arn) == name


@pytest.mark.parametrize(
    "arn, phrase",
    [
        ("arn:aws:iam::123456789012:user/x", "not a 'role'"),
        ("arn:aws:sts::123456789012:assumed-role/x/y", "service is 'sts'"),
        ("AWSIRSATestRole", "an ARN looks like"),
        ("arn:aws-iso:iam::123456789012:role/x", "partition must be one of"),
        ("arn:aws:iam::123:role/x", "must be 12 digits"),
        ("arn:aws:iam:::role/x", "must be 12 digits"),
        # A colon missing is named as such, with the ARN meant, and not blamed on the partition.
        ("arn:aws:iam:123456789012:role/x", "a ':' is missing: it has 5 fields, an ARN has 6"),
        ("arn:aws:iam:123456789012:role/x", "did you mean 'arn:aws:iam::123456789012:role/x'?"),
        ("arn:aws:iam::123456789012role/x", "it has 5 ':'-separated fields where an ARN has 6"),
        ("arn:aws::iam::123456789012:role/x", "its service field is empty"),
        ("arn:aws-iso:iam::123456789012:role/x", "must be one of aws, aws-cn, aws-us-gov, not 'aws-iso'"),
        ("arn:aws:iam::123456789012:user/x", "is not an IAM role ARN"),
    ],
)
def test_role_name_from_arn_rejects(arn, phrase):
    with pytest.raises(NamingError) as raised:
        role_name_from_arn(arn)
    assert phrase in str(raised.value)
    if "':' is missing" in phrase or "service field" in phrase:
        assert "partition must" not in str(raised.value)


def test_aws_managed_policy_arn_is_an_iam_arn():
    assert parse_arn("arn:aws:iam::aws:policy/ReadOnlyAccess", service="iam", resource_type="policy")["account_id"] == "aws"


def test_parse_arn_parts():
    details = parse_arn("arn:aws-us-gov:iam::123456789012:role/path/name", service="iam", resource_type="role")
    assert details["partition"] == "aws-us-gov"
    assert details["account_id"] == "123456789012"
    assert details["resource_id"] == "path/name"
