# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""irsa_prune's plans against moto's in-memory IAM and a ServiceAccount list: only ours, only what no binding names."""

import json

import boto3
import pytest
from moto import mock_aws

from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils import prune

ACCOUNT = "123456789012"
BLUE = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
GREEN = "oidc.eks.us-west-2.amazonaws.com/id/B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6"
BLUE_ARN = "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, BLUE)
GREEN_ARN = "arn:aws:iam::%s:oidc-provider/%s" % (ACCOUNT, GREEN)
OURS = [{"Key": "eks.irsa/managed-by", "Value": "eks.irsa"}]
ROLE = "arn:aws:iam::%s:role/" % ACCOUNT


def statement(provider, provider_arn, *subjects):
    sub = ["system:serviceaccount:" + item for item in subjects]
    return {"Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {provider + ":aud": "sts.amazonaws.com",
                                           provider + ":sub": sub[0] if len(sub) == 1 else sub}}}


@pytest.fixture
def iam(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("iam", region_name="us-west-2")

        def role(name, statements, tags=None):
            client.create_role(RoleName=name, Tags=OURS if tags is None else tags,
                               AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        client.make_role = role
        yield client


def test_only_our_roles_lose_only_the_unbound_subjects_of_this_cluster(iam):
    iam.make_role("shared", [statement(BLUE, BLUE_ARN, "shop:api", "shop:old"), statement(GREEN, GREEN_ARN, "shop:old")])
    iam.make_role("gone", [statement(BLUE, BLUE_ARN, "shop:gone")])
    iam.make_role("kept", [statement(BLUE, BLUE_ARN, "shop:kept")])
    iam.make_role("foreign", [statement(BLUE, BLUE_ARN, "shop:zz")], tags=[])
    bound = {"shared": {"system:serviceaccount:shop:api"}, "kept": {"system:serviceaccount:shop:kept"}}
    plans = {name: (after, removed) for name, _before, after, removed in prune.plan_roles(iam, BLUE_ARN, bound)}
    assert sorted(plans) == ["gone", "shared"]
    after, removed = plans["shared"]
    assert removed == ["system:serviceaccount:shop:old"]
    # green's statement is another cluster's: untouched
    assert after["Statement"] == [statement(BLUE, BLUE_ARN, "shop:api"), statement(GREEN, GREEN_ARN, "shop:old")]
    assert plans["gone"] == ({"Version": "2012-10-17", "Statement": []}, ["system:serviceaccount:shop:gone"])


class ServiceAccounts:
    def __init__(self, items):
        self.items = items

    def list_all_service_accounts(self):
        return self.items


def account(namespace, name, annotations, labels=None):
    return {"metadata": {"namespace": namespace, "name": name, "annotations": annotations, "labels": labels or {}}}


def test_only_our_annotations_on_unbound_service_accounts_go():
    ours_unbound = account("shop", "old", {"eks.amazonaws.com/role-arn": ROLE + "r", "eks.irsa/bound-role-arn": ROLE + "r"},
                           {"app.kubernetes.io/managed-by": "eks.irsa"})
    ours_kept_object = account("shop", "helm", {"eks.amazonaws.com/role-arn": ROLE + "r", "eks.irsa/bound-role-arn": ROLE + "r",
                                                "meta.helm.sh/release-name": "x"})
    bound = account("shop", "api", {"eks.amazonaws.com/role-arn": ROLE + "r", "eks.irsa/bound-role-arn": ROLE + "r"})
    by_hand = account("shop", "hand", {"eks.amazonaws.com/role-arn": ROLE + "other"})
    edited = account("shop", "edited", {"eks.amazonaws.com/role-arn": ROLE + "other", "eks.irsa/bound-role-arn": ROLE + "r"})
    plans = prune.plan_service_accounts(ServiceAccounts([ours_unbound, ours_kept_object, bound, by_hand, edited]),
                                        {("shop", "api")})
    assert [(item["metadata"]["name"], removal, delete) for item, removal, delete in plans] == [
        ("old", ["eks.amazonaws.com/role-arn", "eks.irsa/bound-role-arn"], True),
        ("helm", ["eks.amazonaws.com/role-arn", "eks.irsa/bound-role-arn"], False),
    ]


@pytest.mark.parametrize("bindings, phrase", [
    ([{"service_account": "a"}], "bindings[0] needs service_account and role_name"),
    ([{"service_account": "A", "role_name": "r"}], "not a valid ServiceAccount name"),
])
def test_bad_bindings_are_refused(bindings, phrase):
    with pytest.raises(NamingError) as raised:
        prune.bound(bindings)
    assert phrase in str(raised.value)
