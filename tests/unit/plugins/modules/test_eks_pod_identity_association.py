# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""eks_pod_identity_association run end to end (main()): EKS's Pod Identity calls answered by an in-memory EKS
(moto has none; its clusters answer DescribeCluster), every call recorded."""

import copy
import itertools
import json
from unittest import mock
from urllib.parse import unquote

import pytest

from ansible_collections.eks.irsa.plugins.modules import eks_pod_identity_association as module

ACCOUNT = "123456789012"
REGION = "us-west-2"
CLUSTER = "my-cluster"
ROLE = "arn:aws:iam::%s:role/shop-cart" % ACCOUNT
OTHER_ROLE = "arn:aws:iam::%s:role/shop-other" % ACCOUNT
TARGET = "arn:aws:iam::210987654321:role/billing-reader"
OWNER = {"eks.irsa/managed-by": "eks.irsa"}
READS = ("ListPodIdentityAssociations", "DescribePodIdentityAssociation", "DescribeCluster", "ListClusters")


def error(code, message, status=400):
    return mock.Mock(status_code=status), {"Error": {"Code": code, "Message": message},
                                           "ResponseMetadata": {"HTTPStatusCode": status}}


def ok(document):
    return mock.Mock(status_code=200), dict(document, ResponseMetadata={"HTTPStatusCode": 200})


def api_params(request):
    """The API parameters of a serialized EKS request (what before-call sees): its path, query and JSON body."""
    params = json.loads(request["body"]) if request.get("body") else {}
    params.pop("clientRequestToken", None)  # botocore fills it in
    for key, value in (request.get("query_string") or {}).items():
        params[key] = value if key != "tagKeys" or isinstance(value, list) else [value]
    parts = [unquote(part) for part in request["url_path"].strip("/").split("/")]
    if parts[0] == "tags":
        params["resourceArn"] = "/".join(parts[1:])
    elif parts[0] == "clusters" and len(parts) > 1:
        params["clusterName"] = parts[1]
        if len(parts) > 3:
            params["associationId"] = parts[3]
    return params


class EKS:
    """Pod Identity associations as EKS keeps them, for the clusters in ``clusters``; ``failures`` answers an
    operation with an error instead."""

    def __init__(self, run_main):
        self.run_main = run_main
        self.clusters = {CLUSTER}
        self.associations = {}
        self.calls = []
        self.requests = []
        self.failures = {}
        self._ids = ("a-%017d" % number for number in itertools.count(1))

    def add(self, namespace="shop", service_account="cart", role=ROLE, tags=None, **extra):
        """An association made by someone (``tags`` OWNER to make it ours)."""
        association_id = next(self._ids)
        self.associations[association_id] = dict({
            "clusterName": CLUSTER, "namespace": namespace, "serviceAccount": service_account, "roleArn": role,
            "associationId": association_id, "disableSessionTags": False, "tags": dict(tags or {}),
            "associationArn": "arn:aws:eks:%s:%s:podidentityassociation/%s/%s" % (REGION, ACCOUNT, CLUSTER, association_id),
        }, **extra)
        return association_id

    def record(self, model, params=None, **_kwargs):
        params = api_params(params)
        self.calls.append(model.name)
        self.requests.append((model.name, copy.deepcopy(params)))
        if model.name in self.failures:
            return error(*self.failures[model.name])
        handler = getattr(self, "_" + model.name, None)
        return handler(params) if handler else None

    def _cluster(self, params):
        return params["clusterName"] in self.clusters

    def _ListPodIdentityAssociations(self, params):
        if not self._cluster(params):
            return error("ResourceNotFoundException", "No cluster found for name: %s." % params["clusterName"], 404)
        wanted = (params["clusterName"], params.get("namespace"), params.get("serviceAccount"))
        found = [{key: item[key] for key in ("clusterName", "namespace", "serviceAccount", "associationId", "associationArn")}
                 for item in self.associations.values()
                 if all(value in (None, item[key]) for value, key in zip(wanted, ("clusterName", "namespace", "serviceAccount")))]
        return ok({"associations": found})

    def _DescribePodIdentityAssociation(self, params):
        return ok({"association": copy.deepcopy(self.associations[params["associationId"]])})

    def _CreatePodIdentityAssociation(self, params):
        for item in self.associations.values():
            if (item["namespace"], item["serviceAccount"]) == (params["namespace"], params["serviceAccount"]):
                return error("ResourceInUseException", "Association already exists: " + item["associationId"], 409)
        extra = {"targetRoleArn": params["targetRoleArn"], "externalId": "external-1"} if params.get("targetRoleArn") else {}
        association_id = self.add(params["namespace"], params["serviceAccount"], params["roleArn"], params.get("tags"),
                                  disableSessionTags=params.get("disableSessionTags", False), **extra)
        return ok({"association": copy.deepcopy(self.associations[association_id])})

    def _UpdatePodIdentityAssociation(self, params):
        association = self.associations[params["associationId"]]
        for key in ("roleArn", "disableSessionTags"):
            if key in params:
                association[key] = params[key]
        if params.get("targetRoleArn"):
            association.update(targetRoleArn=params["targetRoleArn"], externalId="external-2")
        elif "targetRoleArn" in params:
            association.pop("targetRoleArn", None)
            association.pop("externalId", None)
        return ok({"association": copy.deepcopy(association)})

    def _by_arn(self, arn):
        return next(item for item in self.associations.values() if item["associationArn"] == arn)

    def _TagResource(self, params):
        self._by_arn(params["resourceArn"])["tags"].update(params["tags"])
        return ok({})

    def _UntagResource(self, params):
        tags = self._by_arn(params["resourceArn"])["tags"]
        for key in params["tagKeys"]:
            tags.pop(key, None)
        return ok({})

    def _DeletePodIdentityAssociation(self, params):
        return ok({"association": self.associations.pop(params["associationId"])})

    def writes(self):
        return [name for name in self.calls if name not in READS]

    def only(self):
        """The one association there is."""
        assert len(self.associations) == 1, self.associations
        return next(iter(self.associations.values()))

    def run(self, check_mode=False, diff=True, **args):
        self.calls, self.requests = [], []
        return self.run_main(module.main, self.record, check_mode, diff, **args)


@pytest.fixture
def eks(moto, module_runner):
    with moto():
        yield EKS(module_runner)


def cart(**extra):
    return dict({"cluster_name": CLUSTER, "namespace": "shop", "service_account": "cart", "role_arn": ROLE}, **extra)


# --------------------------------------------------------------------------------------------
# create, again, check mode, update, delete


def test_create_tags_the_association_as_ours_and_a_second_run_writes_nothing(eks):
    created = eks.run(**cart(tags={"team": "shop"}))
    assert created["changed"] is True and "failed" not in created
    assert eks.writes() == ["CreatePodIdentityAssociation"]
    request = dict(eks.requests)["CreatePodIdentityAssociation"]
    assert request["tags"] == dict(OWNER, team="shop") and "disableSessionTags" not in request
    association = created["association"]
    assert association["association_id"] == eks.only()["associationId"] and association["owned"] is True
    assert association["role_arn"] == ROLE and association["target_role_arn"] is None
    assert created["diff"]["before"] == {} and created["diff"]["after"]["role_arn"] == ROLE

    again = eks.run(**cart(tags={"team": "shop"}))
    assert again["changed"] is False and eks.writes() == []
    assert eks.calls == ["ListPodIdentityAssociations", "DescribePodIdentityAssociation"]
    assert again["association"] == association


def test_check_mode_predicts_the_creation_and_writes_nothing(eks):
    predicted = eks.run(check_mode=True, **cart(target_role_arn=TARGET))
    assert predicted["changed"] is True and eks.writes() == [] and eks.associations == {}
    assert predicted["association"]["association_id"] == "" and predicted["association"]["target_role_arn"] == TARGET
    assert predicted["association"]["tags"] == OWNER and predicted["association"]["external_id"] == ""
    real = eks.run(**cart(target_role_arn=TARGET))
    assert {key: value for key, value in real["association"].items() if key not in ("association_id", "association_arn", "external_id")} == \
        {key: value for key, value in predicted["association"].items() if key not in ("association_id", "association_arn", "external_id")}


def test_update_changes_only_what_differs_in_check_mode_and_for_real(eks):
    eks.add(tags=OWNER)
    predicted = eks.run(check_mode=True, **cart(role_arn=OTHER_ROLE, disable_session_tags=True))
    assert predicted["changed"] is True and eks.writes() == [] and eks.only()["roleArn"] == ROLE
    assert predicted["diff"]["before"]["role_arn"] == ROLE and predicted["diff"]["after"]["role_arn"] == OTHER_ROLE
    updated = eks.run(**cart(role_arn=OTHER_ROLE, disable_session_tags=True))
    assert eks.writes() == ["UpdatePodIdentityAssociation"]
    request = dict(eks.requests)["UpdatePodIdentityAssociation"]
    assert request == {"clusterName": CLUSTER, "associationId": eks.only()["associationId"], "roleArn": OTHER_ROLE,
                       "disableSessionTags": True}
    assert updated["association"] == predicted["association"]
    assert eks.run(**cart(role_arn=OTHER_ROLE, disable_session_tags=True))["changed"] is False


def test_target_role_is_set_and_removed_with_an_empty_string(eks):
    eks.add(tags=OWNER)
    with_target = eks.run(**cart(target_role_arn=TARGET))
    assert with_target["changed"] is True and eks.only()["targetRoleArn"] == TARGET
    assert with_target["association"]["external_id"] == "external-2"
    assert eks.run(**cart())["changed"] is False  # not given: left alone
    removed = eks.run(**cart(target_role_arn=""))
    assert removed["changed"] is True and dict(eks.requests)["UpdatePodIdentityAssociation"]["targetRoleArn"] == ""
    assert "targetRoleArn" not in eks.only() and removed["association"]["target_role_arn"] is None
    assert eks.run(**cart(target_role_arn=""))["changed"] is False


@pytest.mark.parametrize("tags, purge, expected_set, expected_unset", [
    ({"team": "shop"}, True, {"team": "shop"}, ["old"]),
    ({"team": "shop"}, False, {"team": "shop"}, []),
    ({}, True, {}, ["old"]),
])
def test_tags_keep_the_ownership_tag(eks, tags, purge, expected_set, expected_unset):
    eks.add(tags=dict(OWNER, old="x"))
    result = eks.run(**cart(tags=tags, purge_tags=purge))
    requests = dict(eks.requests)
    assert requests.get("TagResource", {}).get("tags", {}) == expected_set
    assert requests.get("UntagResource", {}).get("tagKeys", []) == expected_unset
    assert result["association"]["tags"]["eks.irsa/managed-by"] == "eks.irsa" and eks.only()["tags"] == result["association"]["tags"]


def test_delete_removes_only_ours(eks):
    eks.add(tags=OWNER)
    predicted = eks.run(check_mode=True, **cart(state="absent"))
    assert predicted["changed"] is True and predicted["deleted"] is True and eks.writes() == [] and eks.associations
    deleted = eks.run(**cart(state="absent"))
    assert deleted["changed"] is True and eks.writes() == ["DeletePodIdentityAssociation"] and eks.associations == {}
    assert deleted["diff"]["after"] == {} and deleted["diff"]["before"]["role_arn"] == ROLE
    again = eks.run(**cart(state="absent"))
    assert again["changed"] is False and again["deleted"] is False and eks.writes() == []


def test_delete_with_role_arn_leaves_another_roles_association(eks):
    eks.add(tags=OWNER, role=OTHER_ROLE)
    kept = eks.run(**cart(state="absent"))  # role_arn ROLE
    assert kept["changed"] is False and kept["kept_role_arn"] == OTHER_ROLE and eks.writes() == []
    assert "names role %s, not %s" % (OTHER_ROLE, ROLE) in kept["warnings"][0]


# --------------------------------------------------------------------------------------------
# ownership


def test_a_foreign_association_is_not_changed_nor_deleted(eks):
    association_id = eks.add(tags={"owner": "terraform"})
    refused = eks.run(**cart(role_arn=OTHER_ROLE))
    assert refused["failed"] and refused["changed"] is False and eks.writes() == []
    assert refused["foreign_association"] == association_id
    assert "was not created by eks.irsa (it has no eks.irsa/managed-by=eks.irsa tag), so it is not changed " \
        "(role_arn -> %r)" % OTHER_ROLE in refused["msg"]
    assert "set adopt: true" in refused["msg"]
    refused = eks.run(**cart(state="absent"))
    assert refused["failed"] and "so it is not deleted" in refused["msg"] and eks.writes() == []
    assert eks.only()["roleArn"] == ROLE


def test_a_foreign_association_already_as_wanted_is_left_as_it_is(eks):
    eks.add(tags={"owner": "terraform"})
    result = eks.run(**cart())
    assert result["changed"] is False and eks.writes() == [] and result["association"]["owned"] is False


def test_adopt_takes_a_foreign_association_over_and_tags_it(eks):
    eks.add(tags={"owner": "terraform"})
    adopted = eks.run(**cart(role_arn=OTHER_ROLE, adopt=True))
    assert adopted["changed"] is True and adopted["adopted"] is True
    assert eks.writes() == ["UpdatePodIdentityAssociation", "TagResource"]
    assert eks.only()["tags"] == dict(OWNER, owner="terraform") and adopted["association"]["owned"] is True
    again = eks.run(**cart(role_arn=OTHER_ROLE))
    assert again["changed"] is False and again["adopted"] is False
    assert eks.run(**cart(role_arn=OTHER_ROLE, state="absent"))["deleted"] is True


def test_adopt_deletes_a_foreign_association(eks):
    eks.add(tags={})
    deleted = eks.run(**cart(state="absent", adopt=True))
    assert deleted["changed"] is True and eks.associations == {}


def test_an_add_on_association_is_never_changed(eks):
    addon = "arn:aws:eks:%s:%s:addon/%s/aws-ebs-csi-driver/abc" % (REGION, ACCOUNT, CLUSTER)
    eks.add(service_account="ebs-csi-controller-sa", ownerArn=addon)
    refused = eks.run(**cart(service_account="ebs-csi-controller-sa", role_arn=OTHER_ROLE, adopt=True))
    assert refused["failed"] and "belongs to the EKS add-on %s" % addon in refused["msg"] and eks.writes() == []
    assert eks.run(**cart(service_account="ebs-csi-controller-sa", adopt=True))["changed"] is False


# --------------------------------------------------------------------------------------------
# inputs and failures


@pytest.mark.parametrize("args, message", [
    (cart(namespace="Shop"), "namespace 'Shop' is not a Kubernetes namespace name"),
    (cart(service_account="cart_1"), "service_account 'cart_1' is not a Kubernetes ServiceAccount name"),
    (cart(role_arn=None), "role_arn is required with state=present"),
    (cart(role_arn="arn:aws:iam:123456789012:role/x"), "role_arn: 'arn:aws:iam:123456789012:role/x' is not an IAM role ARN: a ':' is missing"),
    (cart(role_arn="arn:aws:iam::123456789012:user/x"), "role_arn: 'arn:aws:iam::123456789012:user/x' is not an IAM role ARN: it names a 'user'"),
    (cart(role_arn="arn:aws-cn:iam::123456789012:role/x"), "role_arn: arn:aws-cn:iam::123456789012:role/x is a role of partition aws-cn, "
                                                           "but the cluster's region is in partition aws"),
    (cart(target_role_arn="role/x"), "target_role_arn: 'role/x' is not an IAM role ARN"),
    (cart(tags={"aws:x": "y"}), "tags: the key 'aws:x' starts with 'aws:'"),
    (cart(tags={"eks.irsa/managed-by": "me"}), "tags: eks.irsa/managed-by is the tag by which eks.irsa knows its own associations"),
    (dict(cart(), cluster_name=None), "cluster_name is required"),
])
def test_bad_input_fails_before_any_call(eks, args, message):
    result = eks.run(**{key: value for key, value in args.items() if value is not None})
    assert result["failed"] and message in result["msg"], result["msg"]
    assert eks.calls == [] and "Traceback" not in result["msg"]


def test_unknown_cluster_says_which_clusters_exist(eks):
    result = eks.run(**cart(cluster_name="nope"))
    assert result["failed"] and "EKS cluster 'nope' was not found in region us-west-2" in result["msg"]
    assert eks.writes() == []


def test_access_denied_names_the_permission(eks):
    eks.failures["CreatePodIdentityAssociation"] = ("AccessDeniedException", "not authorized", )
    result = eks.run(**cart())
    assert result["failed"] and result["changed"] is False
    assert "lacks the IAM permission eks:CreatePodIdentityAssociation" in result["msg"]


def test_a_failure_after_a_write_still_reports_changed(eks):
    eks.add(tags=OWNER)
    eks.failures["TagResource"] = ("AccessDeniedException", "not authorized")
    result = eks.run(**cart(role_arn=OTHER_ROLE, tags={"team": "shop"}))
    assert result["failed"] and result["changed"] is True and "eks:TagResource" in result["msg"]
    assert eks.only()["roleArn"] == OTHER_ROLE


def test_created_meanwhile_by_another_run_is_converged_on(eks):
    original = eks._CreatePodIdentityAssociation

    def create_after_someone_else(params):
        eks.add(tags=OWNER, role=OTHER_ROLE)  # the other run's association, between our read and our create
        return original(params)

    eks._CreatePodIdentityAssociation = create_after_someone_else
    result = eks.run(**cart())
    assert result["changed"] is True and eks.only()["roleArn"] == ROLE
    assert eks.writes() == ["CreatePodIdentityAssociation", "UpdatePodIdentityAssociation"]


# --------------------------------------------------------------------------------------------
# the list form


def test_many_associations_in_one_task(eks):
    eks.add(service_account="legacy", tags={})
    result = eks.run(cluster_name=CLUSTER, namespace="shop", role_arn=ROLE, tags={"team": "shop"}, associations=[
        {"service_account": "checkout"},
        {"service_account": "reports", "disable_session_tags": True, "target_role_arn": TARGET},
        {"service_account": "legacy", "role_arn": OTHER_ROLE},
        {"service_account": "checkout", "namespace": "shop"},
        {"service_account": "x", "colour": "red"},
    ])
    assert result["failed"] and result["changed"] is True
    first, second, legacy, repeated, unknown = result["results"]
    assert first["changed"] and first["service_account"] == "checkout" and first["association"]["tags"] == dict(OWNER, team="shop")
    assert second["association"]["disable_session_tags"] is True and second["association"]["target_role_arn"] == TARGET
    assert legacy["failed"] and "was not created by eks.irsa" in legacy["msg"] and legacy["foreign_association"]
    assert repeated["failed"] and "associations[3] names the association of shop/checkout in cluster my-cluster that " \
        "associations[0] names already" in repeated["msg"]
    assert unknown["failed"] and "unknown keys colour" in unknown["msg"]
    assert result["msg"].startswith("3 of 5 associations failed: ")
    assert eks.calls.count("ListPodIdentityAssociations") == 1  # one cluster, several items: listed once
    assert sorted(eks.writes()) == ["CreatePodIdentityAssociation", "CreatePodIdentityAssociation"]

    again = eks.run(cluster_name=CLUSTER, namespace="shop", role_arn=ROLE, tags={"team": "shop"}, associations=[
        {"service_account": "checkout"},
        {"service_account": "reports", "disable_session_tags": True, "target_role_arn": TARGET},
    ])
    assert again["changed"] is False and eks.writes() == [] and [r["changed"] for r in again["results"]] == [False, False]


def test_created_meanwhile_is_found_past_the_clusters_shared_list(eks):
    original = eks._CreatePodIdentityAssociation

    def create_after_someone_else(params):
        if params["serviceAccount"] == "cart" and not any(a["serviceAccount"] == "cart" for a in eks.associations.values()):
            eks.add(tags=OWNER, role=OTHER_ROLE)
        return original(params)

    eks._CreatePodIdentityAssociation = create_after_someone_else
    result = eks.run(cluster_name=CLUSTER, namespace="shop", role_arn=ROLE, max_concurrency=1,
                     associations=[{"service_account": "cart"}, {"service_account": "checkout"}])
    assert not result.get("failed") and [item["changed"] for item in result["results"]] == [True, True]
    assert {a["serviceAccount"]: a["roleArn"] for a in eks.associations.values()} == {"cart": ROLE, "checkout": ROLE}
    assert eks.calls.count("ListPodIdentityAssociations") == 2  # the shared list, then the re-read after the conflict


def test_check_mode_of_a_new_target_role_predicts_an_external_id_to_come(eks):
    eks.add(tags=OWNER)
    predicted = eks.run(check_mode=True, **cart(target_role_arn=TARGET))
    assert predicted["association"]["target_role_arn"] == TARGET and predicted["association"]["external_id"] == ""
    assert eks.writes() == []
