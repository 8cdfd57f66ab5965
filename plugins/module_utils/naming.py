# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""OIDC naming for IRSA: issuer URL <-> provider host path <-> provider ARN, partition aware.

An EKS cluster's issuer is ``https://oidc.eks.<region>.amazonaws.com/id/<ID>`` (``.com.cn`` in
China). IAM names the identity provider for it by the issuer without ``https://`` (the "provider",
``<OIDC_PROVIDER>`` in the AWS docs) and gives it the ARN
``arn:<partition>:iam::<account>:oidc-provider/<provider>``. STS compares a token's ``iss`` claim
with the provider exactly, so these helpers refuse near-misses (``http://``, a trailing slash,
upper case, spaces) instead of guessing.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import re
from collections import namedtuple

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")

_ISSUER_HOST = re.compile(r"^oidc\.eks\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?P<cn>\.cn)?$")
_OIDC_ID = re.compile(r"^[A-Z0-9]+$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

OidcIssuer = namedtuple("OidcIssuer", ["url", "provider", "region", "partition", "oidc_id"])
Account = namedtuple("Account", ["account_id", "partition"])


def is_dns1123_label(value):
    """Kubernetes' rule for a namespace: at most 63 lower-case letters, digits and '-', starting and ending with a
    letter or digit."""
    return isinstance(value, str) and len(value) <= 63 and bool(_DNS1123_LABEL.match(value))


def is_dns1123_subdomain(value):
    """Kubernetes' rule for most object names (a ServiceAccount's): at most 253 characters, DNS-1123 labels joined by
    '.'."""
    return isinstance(value, str) and len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.match(value))


class NamingError(InputError):
    """A name the user gave cannot be what they meant; the message says what, why and how to fix it."""


def partition_for_region(region):
    """The AWS partition a region belongs to: ``aws-cn`` for ``cn-*``, ``aws-us-gov`` for ``us-gov-*``."""
    if not region or not isinstance(region, str):
        raise NamingError("no AWS region given: set the region option or AWS_REGION so the partition can be told")
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _arn_kind(service, resource_type):
    """How messages name the ARN expected: 'an IAM role ARN', 'an ARN'."""
    words = " ".join(part for part in ((service or "").upper(), resource_type or "", "ARN") if part)
    return ("an " if words[0] in "AEIOU" else "a ") + words


def _arn_layout_problem(arn, service):
    """Why ``arn`` (which starts with ``arn:``) does not have the six fields of an ARN, with the likely fix."""
    fields = arn.split(":", 5)
    layout = "arn:<partition>:<service>:<region>:<account>:<resource>"
    if service == "iam":
        layout += " (IAM has no region: arn:aws:iam::<account>:role/<name>)"
    if len(fields) < 6:
        # arn:aws:iam:123456789012:role/x -- the empty region lost one of its two colons.
        if len(fields) == 5 and fields[2] and re.match(r"^\d{12}$", fields[3]):
            return "a ':' is missing: it has 5 fields, an ARN has 6, {0}; did you mean {1!r}?".format(
                layout, ":".join(fields[:3] + [""] + fields[3:]))
        return "it has {0} ':'-separated fields where an ARN has 6, {1}: a ':' is missing".format(len(fields), layout)
    if fields[1] not in PARTITIONS:
        return "the partition must be one of {0}, not {1!r}".format(", ".join(PARTITIONS), fields[1])
    if not fields[2]:
        return "its service field is empty, {0}".format(layout)
    return "it does not have the layout {0}".format(layout)


def parse_arn(arn, service=None, resource_type=None):
    """Split an ARN into its parts (amazon.aws ``parse_aws_arn``), checking it is one from start to end.

    ``service``/``resource_type`` name what the ARN must be (e.g. ``iam``/``role``). A malformed ARN is
    refused with the field that is wrong: a missing ``:`` is not blamed on the partition.
    """
    what = _arn_kind(service, resource_type)
    if not isinstance(arn, str) or not arn.startswith("arn:") or " " in arn:
        raise NamingError(
            "{0!r} is not {1}: an ARN looks like arn:<partition>:<service>:<region>:<account>:<resource>".format(arn, what)
        )
    details = parse_aws_arn(arn)
    if not details or details["partition"] not in PARTITIONS:
        raise NamingError("{0!r} is not {1}: {2}".format(arn, what, _arn_layout_problem(arn, service)))
    if details["service"] == "iam" and not (_ACCOUNT_ID.match(details["account_id"]) or details["account_id"] == "aws"):
        raise NamingError(
            "{0!r} is not {1}: the account {2!r} must be 12 digits (or 'aws' for AWS managed policies)".format(
                arn, what, details["account_id"]
            )
        )
    if service and details["service"] != service:
        raise NamingError("{0!r} is not {1}: its service is {2!r}, not {3!r}".format(arn, what, details["service"], service))
    if resource_type and details["resource_type"] != resource_type:
        raise NamingError(
            "{0!r} is not {1}: it names a {2!r}, not a {3!r}".format(arn, what, details["resource_type"], resource_type)
        )
    return details


def parse_issuer(url):
    """Check an EKS issuer URL and return its parts as an ``OidcIssuer``.

    >>> parse_issuer("https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E").provider
    'oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E'
    """
    example = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
    if not isinstance(url, str) or not url.strip():
        raise NamingError(
            "the OIDC issuer URL is empty: give the cluster's issuer, as "
            "'aws eks describe-cluster --query cluster.identity.oidc.issuer' prints it (e.g. {0})".format(example)
        )
    if url != url.strip() or re.search(r"\s", url):
        raise NamingError("the OIDC issuer URL {0!r} contains white space: remove it".format(url))
    if not url.startswith("https://"):
        if url.lower().startswith("https://"):
            raise NamingError(
                "the OIDC issuer URL {0!r} must start with lower-case 'https://': "
                "STS compares it exactly with the token's iss claim".format(url)
            )
        if url.lower().startswith("http://"):
            raise NamingError(
                "the OIDC issuer URL {0!r} uses http://: EKS issuers and IAM OIDC providers are https:// only".format(url)
            )
        raise NamingError("the OIDC issuer URL {0!r} must start with https:// (e.g. {1})".format(url, example))
    provider = url[len("https://"):]
    return _parse_provider(provider, original=url, example=example)


def _parse_provider(provider, original, example):
    if provider.endswith("/"):
        raise NamingError(
            "the OIDC issuer {0!r} ends with '/': remove it; tokens carry the issuer without one "
            "and STS compares them exactly".format(original)
        )
    host, _sep, path = provider.partition("/")
    if host != host.lower():
        raise NamingError(
            "the OIDC issuer {0!r} has upper case in its host name: use {1!r}; "
            "STS compares the issuer exactly with the token's iss claim".format(original, host.lower())
        )
    match = _ISSUER_HOST.match(host)
    if not match:
        raise NamingError(
            "{0!r} is not an EKS OIDC issuer: the host must be oidc.eks.<region>.amazonaws.com "
            "(oidc.eks.<region>.amazonaws.com.cn in China), e.g. {1}".format(original, example)
        )
    parts = path.split("/")
    if len(parts) != 2 or parts[0] != "id" or not parts[1]:
        raise NamingError(
            "{0!r} is not an EKS OIDC issuer: the path must be /id/<ID> (e.g. {1})".format(original, example)
        )
    oidc_id = parts[1]
    if not _OIDC_ID.match(oidc_id):
        raise NamingError(
            "{0!r} is not an EKS OIDC issuer: the ID {1!r} must be upper-case letters and digits, "
            "exactly as DescribeCluster returns it".format(original, oidc_id)
        )
    region = match.group("region")
    partition = partition_for_region(region)
    if bool(match.group("cn")) != (partition == "aws-cn"):
        raise NamingError(
            "{0!r} is not an EKS OIDC issuer: region {1} issuers end in {2}".format(
                original, region, "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
            )
        )
    return OidcIssuer("https://" + provider, provider, region, partition, oidc_id)


def provider_arn(provider, account_id, partition):
    """``arn:<partition>:iam::<account>:oidc-provider/<provider>`` for a provider host path."""
    if partition not in PARTITIONS:
        raise NamingError("unknown AWS partition {0!r}: expected one of {1}".format(partition, ", ".join(PARTITIONS)))
    if not isinstance(account_id, str) or not _ACCOUNT_ID.match(account_id):
        raise NamingError("{0!r} is not an AWS account ID: it must be 12 digits".format(account_id))
    return "arn:{0}:iam::{1}:oidc-provider/{2}".format(partition, account_id, provider)


def parse_oidc_provider(value):
    """Accept an issuer URL, a provider host path or a provider ARN; return ``(OidcIssuer, arn or None)``.

    The ARN is returned only when ``value`` was one (it fixes account and partition); otherwise the
    caller builds it with ``provider_arn`` from the account it works in.
    """
    example = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
    if isinstance(value, str) and value.startswith("arn:"):
        details = parse_arn(value, service="iam", resource_type="oidc-provider")
        issuer = _parse_provider(details["resource_id"], original=value, example=example)
        if issuer.partition != details["partition"]:
            raise NamingError(
                "{0!r} names an issuer of partition {1} in partition {2}: an IAM OIDC provider lives in "
                "the partition of its cluster".format(value, issuer.partition, details["partition"])
            )
        return issuer, value
    if isinstance(value, str) and "://" in value:
        return parse_issuer(value), None
    if not isinstance(value, str) or not value.strip():
        raise NamingError("the OIDC provider is empty: give an issuer URL, a provider (e.g. {0}) or its ARN".format(example))
    if re.search(r"\s", value):
        raise NamingError("the OIDC provider {0!r} contains white space: remove it".format(value))
    return _parse_provider(value, original=value, example=example), None


def role_name_from_arn(arn):
    """The role name of an IAM role ARN (its path dropped) — what an assumed-role ARN carries."""
    details = parse_arn(arn, service="iam", resource_type="role")
    return details["resource_id"].rsplit("/", 1)[-1]


def account_of_arn(arn):
    """The ``Account`` (ID and partition) an ARN belongs to."""
    details = parse_arn(arn)
    return Account(details["account_id"], details["partition"])
