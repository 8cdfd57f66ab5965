# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The plan of an EKS Pod Identity association, without AWS: what to update, which tags, whose it is, what is valid."""

import pytest

from ansible_collections.eks.irsa.plugins.module_utils import pod_identity_association as pia
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError

OWNER = {"eks.irsa/managed-by": "eks.irsa"}
ROLE = "arn:aws:iam::123456789012:role/app"
TARGET = "arn:aws:iam::210987654321:role/target"


def current(**extra):
    return dict({"associationId": "a-1", "namespace": "shop", "serviceAccount": "cart", "roleArn": ROLE,
                 "disableSessionTags": False, "tags": dict(OWNER)}, **extra)


@pytest.mark.parametrize("params, have, fields", [
    ({"role_arn": ROLE}, current(), {}),
    ({"role_arn": "arn:aws:iam::123456789012:role/other"}, current(), {"roleArn": "arn:aws:iam::123456789012:role/other"}),
    ({"role_arn": ROLE, "target_role_arn": TARGET}, current(), {"targetRoleArn": TARGET}),
    ({"role_arn": ROLE, "target_role_arn": TARGET}, current(targetRoleArn=TARGET), {}),
    ({"role_arn": ROLE, "target_role_arn": ""}, current(targetRoleArn=TARGET), {"targetRoleArn": ""}),
    ({"role_arn": ROLE, "target_role_arn": ""}, current(), {}),
    ({"role_arn": ROLE, "target_role_arn": None}, current(targetRoleArn=TARGET), {}),
    ({"role_arn": ROLE, "disable_session_tags": True}, current(), {"disableSessionTags": True}),
    ({"role_arn": ROLE, "disable_session_tags": False}, current(disableSessionTags=None), {}),
    ({"role_arn": ROLE, "disable_session_tags": None}, current(disableSessionTags=True), {}),
])
def test_plan_fields_updates_only_what_is_given_and_differs(params, have, fields):
    assert pia.plan_fields(params, have) == fields


@pytest.mark.parametrize("params, have, adopting, to_set, to_unset", [
    ({"tags": None}, dict(OWNER, a="1"), False, {}, []),
    ({"tags": {"a": "1"}}, dict(OWNER, a="1"), False, {}, []),
    ({"tags": {"a": 2}}, dict(OWNER, a="1"), False, {"a": "2"}, []),
    ({"tags": {}}, dict(OWNER, a="1"), False, {}, ["a"]),
    ({"tags": {}, "purge_tags": False}, dict(OWNER, a="1"), False, {}, []),
    ({"tags": {"b": "2"}, "purge_tags": False}, dict(OWNER, a="1"), False, {"b": "2"}, []),
    # tags never add the ownership tag to an association that is not ours, nor remove it from one that is
    ({"tags": dict(OWNER)}, {"a": "1"}, False, {}, ["a"]),
    ({"tags": {}}, dict(OWNER), False, {}, []),
    ({"tags": None}, {"a": "1"}, True, dict(OWNER), []),
    ({"tags": {"a": "1"}}, {"eks.irsa/managed-by": "someone"}, True, dict(OWNER, a="1"), []),
])
def test_plan_tags(params, have, adopting, to_set, to_unset):
    assert pia.plan_tags(params, {"tags": have}, adopting) == (to_set, to_unset)


def test_view_of_an_association():
    shown = pia.view(current(associationArn="arn:x", clusterName="c", targetRoleArn=TARGET, externalId="e", createdAt="t"))
    assert shown == {"association_id": "a-1", "association_arn": "arn:x", "cluster_name": "c", "namespace": "shop",
                     "service_account": "cart", "role_arn": ROLE, "target_role_arn": TARGET, "external_id": "e",
                     "disable_session_tags": False, "tags": OWNER, "owner_arn": None, "owned": True}
    assert pia.view(None) == {} and pia.view(current(tags={}))["owned"] is False


@pytest.mark.parametrize("other, same", [
    (ROLE, True),
    ("arn:aws:iam::123456789012:role/team/app", True),  # the path is not part of the role's identity for STS
    ("arn:aws:iam::123456789013:role/app", False),
    ("arn:aws:iam::123456789012:role/app2", False),
    ("not an arn", False),
])
def test_same_role(other, same):
    assert pia.same_role(ROLE, other) is same


def params(**extra):
    return dict({"cluster_name": "c", "namespace": "shop", "service_account": "cart", "role_arn": ROLE, "state": "present",
                 "target_role_arn": None, "tags": None}, **extra)


@pytest.mark.parametrize("region, given", [
    ("cn-north-1", params(role_arn="arn:aws-cn:iam::123456789012:role/app")),
    ("us-gov-west-1", params(role_arn="arn:aws-us-gov:iam::123456789012:role/app",
                             target_role_arn="arn:aws-us-gov:iam::210987654321:role/t")),
    ("us-east-1", params(service_account="my.service-account", target_role_arn="")),
    ("us-east-1", params(state="absent", role_arn=None)),
])
def test_valid_input_in_every_partition(region, given):
    pia.validate(given, region)


@pytest.mark.parametrize("region, given, message", [
    ("cn-north-1", params(), "role_arn: arn:aws:iam::123456789012:role/app is a role of partition aws, but the cluster's region "
                             "is in partition aws-cn"),
    ("us-east-1", params(target_role_arn="arn:aws-cn:iam::210987654321:role/t"),
     "target_role_arn: arn:aws-cn:iam::210987654321:role/t is a role of partition aws-cn"),
    ("us-east-1", params(state="absent", role_arn="app"), "role_arn: 'app' is not an IAM role ARN"),
    (None, params(), "no AWS region given"),
    ("us-east-1", params(namespace="a" * 64), "is not a Kubernetes namespace name"),
])
def test_invalid_input(region, given, message):
    with pytest.raises(InputError) as refused:
        pia.validate(given, region)
    assert message in refused.value.message


def test_ownership_refusals_name_the_opt_in():
    with pytest.raises(ConflictError) as refused:
        pia.check_ownership({"cluster_name": "c"}, current(tags={}), "deleted")
    assert refused.value.message.startswith("EKS Pod Identity association a-1 of shop/cart in cluster c was not created by eks.irsa")
    assert "set adopt: true" in refused.value.message and refused.value.details == {"foreign_association": "a-1"}
    pia.check_ownership({"cluster_name": "c"}, current(), "deleted")
    pia.check_ownership({"cluster_name": "c", "adopt": True}, current(tags={}), "deleted")
    with pytest.raises(ConflictError) as refused:
        pia.check_ownership({"cluster_name": "c", "adopt": True}, current(ownerArn="arn:addon"), "deleted")
    assert "belongs to the EKS add-on arn:addon, so it is not deleted" in refused.value.message
