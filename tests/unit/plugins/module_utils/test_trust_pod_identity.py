# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The EKS Pod Identity statement of a role's trust: built, merged beside IRSA and foreign statements, and read."""

import os

import pytest

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.trust import eks_pod_identity as pod

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
PROVIDER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
PROVIDER_ARN = "arn:aws:iam::111122223333:oidc-provider/" + PROVIDER
SUBJECT = "system:serviceaccount:shop:cart"
IRSA = trust.statement(PROVIDER_ARN, [SUBJECT])
EC2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
# The statement of AWS's guide, as a user or another tool writes it: foreign to the collection.
AWS_GUIDE = {"Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow",
             "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
MIXED = {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "pods.eks.amazonaws.com"]},
         "Action": ["sts:AssumeRole", "sts:TagSession"]}
PROD_ARN = "arn:aws:eks:us-west-2:111122223333:cluster/prod"


def request(state="present", source_account=None, clusters=(), adopt=False, purge_clusters=True):
    return pod.Request(state, source_account, list(clusters), adopt, purge_clusters)


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def same(left, right):
    return not compare_policies(left, right)


# --------------------------------------------------------------------------------------------
# building


@pytest.mark.parametrize("source_account, arns, condition", [
    (None, [], None),
    ("111122223333", [], {"StringEquals": {"aws:SourceAccount": "111122223333"}}),
    (None, [PROD_ARN], {"ArnEquals": {"aws:SourceArn": PROD_ARN}}),
    ("111122223333", [PROD_ARN.replace("prod", "staging"), PROD_ARN, PROD_ARN],
     {"StringEquals": {"aws:SourceAccount": "111122223333"},
      "ArnEquals": {"aws:SourceArn": [PROD_ARN, PROD_ARN.replace("prod", "staging")]}}),
    (None, [PROD_ARN, PROD_ARN.replace("prod", "team-*")],
     {"ArnLike": {"aws:SourceArn": [PROD_ARN, PROD_ARN.replace("prod", "team-*")]}}),
])
def test_the_statement_and_its_conditions(source_account, arns, condition):
    stmt = pod.statement(source_account, arns)
    assert stmt["Sid"] == "EksIrsaPodIdentity" and stmt["Effect"] == "Allow"
    assert stmt["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert stmt["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert stmt.get("Condition") == condition


@pytest.mark.parametrize("partition, region, arn", [
    ("aws", "us-west-2", "arn:aws:eks:us-west-2:111122223333:cluster/prod"),
    ("aws-cn", "cn-north-1", "arn:aws-cn:eks:cn-north-1:111122223333:cluster/prod"),
    ("aws-us-gov", "us-gov-west-1", "arn:aws-us-gov:eks:us-gov-west-1:111122223333:cluster/prod"),
])
def test_cluster_names_become_arns_of_the_partition(partition, region, arn):
    assert pod.cluster_arn("prod", partition, region, "111122223333") == arn
    # An ARN given as it is stays as it is (a cluster of another region).
    other = "arn:aws:eks:eu-west-1:111122223333:cluster/prod"
    assert pod.cluster_arn(other, partition, region, "111122223333") == other


@pytest.mark.parametrize("value, message", [
    ({"source_account": "1111-2222-3333"}, "pod_identity.source_account '1111-2222-3333' is not an AWS account ID"),
    ({"source_account": "11112222333"}, "give the 12 digits of the account"),
    ({"clusters": ["-prod"]}, "pod_identity.clusters: '-prod' is neither an EKS cluster name"),
    ({"clusters": ["prod/x"]}, "nor an EKS cluster ARN"),
    ({"clusters": ["arn:aws:iam::111122223333:role/prod"]}, "pod_identity.clusters: 'arn:aws:iam::111122223333:role/prod' is not an EKS"),
    ({"clusters": ["arn:aws:eks:us-west-2:111122223333:nodegroup/prod"]}, "it names a 'nodegroup', not a 'cluster'"),
])
def test_bad_input_is_refused_in_the_options_words(value, message):
    with pytest.raises(InputError) as refused:
        pod.parse_request(value)
    assert message in str(refused.value)


def test_a_request_defaults_to_present_without_conditions():
    assert pod.parse_request(None) is None
    assert pod.parse_request({}) == request()
    assert pod.parse_request({"state": "absent", "adopt_statements": True, "clusters": ["prod", PROD_ARN]}) == \
        request("absent", clusters=["prod", PROD_ARN], adopt=True)


# --------------------------------------------------------------------------------------------
# merging


def test_added_beside_irsa_and_foreign_statements_which_stay_as_they_are():
    desired = pod.statement("111122223333", [PROD_ARN])
    merged = pod.merge(policy(IRSA, EC2), request(), desired)
    assert merged == policy(IRSA, EC2, desired)
    # A role for Pod Identity only: a document with nothing else.
    assert pod.merge(None, request(), desired) == policy(desired)


def test_ours_is_replaced_in_place_and_a_second_merge_changes_nothing():
    old = pod.statement(None, [PROD_ARN])
    new = pod.statement("111122223333", [PROD_ARN, PROD_ARN.replace("prod", "staging")])
    merged = pod.merge(policy(old, IRSA, EC2), request(), new)
    assert merged == policy(new, IRSA, EC2)
    assert pod.merge(merged, request(), new) == merged
    # Order-insensitive: the same statement with its lists in another order is no change.
    shuffled = dict(new, Action=list(reversed(new["Action"])),
                    Condition={"ArnEquals": {"aws:SourceArn": list(reversed(new["Condition"]["ArnEquals"]["aws:SourceArn"]))},
                               "StringEquals": new["Condition"]["StringEquals"]})
    assert same(pod.merge(policy(IRSA, shuffled), request(), new), policy(IRSA, shuffled))


def test_absent_removes_only_ours():
    ours = pod.statement()
    assert pod.merge(policy(IRSA, ours, EC2), request("absent"), None) == policy(IRSA, EC2)
    assert pod.merge(policy(IRSA, EC2), request("absent"), None) == policy(IRSA, EC2)


def test_a_foreign_statement_that_allows_the_same_is_kept_and_none_of_ours_added():
    merged = pod.merge(policy(IRSA, AWS_GUIDE), request(), pod.statement())
    assert merged == policy(IRSA, AWS_GUIDE)


@pytest.mark.parametrize("req, desired, words", [
    (request(source_account="111122223333"), pod.statement("111122223333"),
     "it differs from the statement pod_identity asks for"),
    (request("absent"), None, "the role would still let EKS Pod Identity assume it after pod_identity.state: absent"),
])
def test_a_foreign_statement_that_would_have_to_change_is_refused(req, desired, words):
    with pytest.raises(ConflictError) as refused:
        pod.merge(policy(IRSA, AWS_GUIDE), req, desired)
    message = str(refused.value)
    assert message.startswith("the trust policy's statement 1 (AllowEksAuthToAssumeRoleForPodIdentity) lets "
                              "pods.eks.amazonaws.com assume the role but was not written by eks.irsa")
    assert words in message and "set pod_identity.adopt_statements: true to" in message


def test_adopt_statements_replaces_or_removes_foreign_pod_identity_statements():
    desired = pod.statement("111122223333")
    adopted = pod.merge(policy(AWS_GUIDE, IRSA, dict(AWS_GUIDE, Sid="Another")), request(source_account="111122223333", adopt=True), desired)
    assert adopted == policy(desired, IRSA)
    assert pod.merge(policy(AWS_GUIDE, IRSA), request("absent", adopt=True), None) == policy(IRSA)


def test_a_statement_with_other_principals_is_never_changed():
    for req, desired in ((request(adopt=True), pod.statement()), (request("absent", adopt=True), None)):
        with pytest.raises(ConflictError) as refused:
            pod.merge(policy(IRSA, MIXED), req, desired)
        assert "it also names other principals, so it is not replaced even with pod_identity.adopt_statements" in str(refused.value)
    # A Deny for the service does not let it assume the role: it is neither refused nor touched.
    deny = dict(AWS_GUIDE, Effect="Deny", Sid="NoPods")
    assert pod.merge(policy(deny), request(), pod.statement()) == policy(deny, pod.statement())


def test_the_input_is_not_modified():
    current = policy(IRSA, pod.statement())
    before = repr(current)
    pod.merge(current, request("absent"), None)
    pod.merge(current, request(source_account="111122223333"), pod.statement("111122223333"))
    assert repr(current) == before


# --------------------------------------------------------------------------------------------
# what a trust policy trusts


def test_trusts_names_irsa_subjects_and_the_pod_identity_statements():
    ours = pod.statement("111122223333", [PROD_ARN])
    assert pod.trusts(policy(IRSA, EC2, ours, AWS_GUIDE)) == {
        "irsa": [{"provider_arn": PROVIDER_ARN, "audience": "sts.amazonaws.com", "subjects": [SUBJECT]}],
        "pod_identity": {"managed": True, "source_account": "111122223333", "cluster_arns": [PROD_ARN],
                         "foreign_statements": [3]},
    }
    assert pod.trusts(policy(IRSA, EC2)) == {"irsa": [{"provider_arn": PROVIDER_ARN, "audience": "sts.amazonaws.com",
                                                       "subjects": [SUBJECT]}], "pod_identity": None}
    assert pod.trusts(policy(MIXED)) == {"irsa": [], "pod_identity": {
        "managed": False, "source_account": None, "cluster_arns": [], "foreign_statements": [0]}}


# --------------------------------------------------------------------------------------------
# docs/choose_and_migrate.md


def _fit(limit, document_of):
    """The largest n whose document (``document_of(n)``) fits in ``limit`` characters."""
    count = 0
    while trust.minified_size(document_of(count + 1)) <= limit:
        count += 1
    return count


def test_the_trust_sizes_the_choosing_page_gives_are_what_the_statements_measure():
    with open(os.path.join(ROOT, "docs", "choose_and_migrate.md"), encoding="utf-8") as handle:
        page = handle.read()

    def subjects(count):
        return policy(trust.statement(PROVIDER_ARN, ["system:serviceaccount:shop:app-%02d" % index for index in range(count)]))

    def clusters(count):
        return policy(*[trust.statement(PROVIDER_ARN.replace("EXAMPLE", "X%02d" % index)[:len(PROVIDER_ARN)],
                                        [SUBJECT]) for index in range(count)])

    def pod_clusters(count):
        return policy(pod.statement("111122223333", [PROD_ARN.replace("prod", "prod-%03d" % index) for index in range(count)]))

    rows = [
        "| IRSA, one cluster, n ServiceAccounts in one statement | {0} ServiceAccounts | {1} ServiceAccounts |",
        "| IRSA, n clusters, one ServiceAccount each | {0} clusters | {1} clusters |",
        "| Pod Identity, `source_account` and n clusters in `aws:SourceArn` | {0} clusters | {1} clusters |",
    ]
    for row, document_of in zip(rows, (subjects, clusters, pod_clusters)):
        assert row.format(_fit(2048, document_of), _fit(4096, document_of)) in page
    bare = trust.minified_size(policy(pod.statement())) - trust.minified_size(policy())
    assert "| Pod Identity without conditions | any number of clusters ({0} characters) |".format(bare) in page
    assert "one statement for every cluster, {0} characters without conditions".format(bare) in page


DEV_ARN = "arn:aws:eks:us-west-2:111122223333:cluster/dev"


def test_without_purging_clusters_a_cluster_is_added_to_those_the_statement_lists():
    before = policy(pod.statement(None, [PROD_ARN]))
    merged = pod.merge(before, request(clusters=[DEV_ARN], purge_clusters=False), pod.statement(None, [DEV_ARN]))
    assert merged["Statement"] == [pod.statement(None, [DEV_ARN, PROD_ARN])]
    # Listed already: the same statement, so the second run writes nothing.
    again = pod.merge(merged, request(clusters=[DEV_ARN], purge_clusters=False), pod.statement(None, [DEV_ARN]))
    assert same(again, merged)


def test_without_purging_clusters_absent_takes_out_only_its_cluster_and_the_statement_goes_with_the_last():
    both = policy(EC2, pod.statement(None, [DEV_ARN, PROD_ARN]))
    one = pod.merge(both, request("absent", clusters=[DEV_ARN], purge_clusters=False), pod.statement(None, [DEV_ARN]))
    assert one["Statement"] == [EC2, pod.statement(None, [PROD_ARN])]
    none = pod.merge(one, request("absent", clusters=[PROD_ARN], purge_clusters=False), pod.statement(None, [PROD_ARN]))
    assert none["Statement"] == [EC2]


def test_without_purging_clusters_a_statement_for_every_cluster_is_left_as_it_is():
    anywhere = policy(pod.statement("111122223333"))
    for state in ("present", "absent"):
        merged = pod.merge(anywhere, request(state, clusters=[DEV_ARN], purge_clusters=False), pod.statement(None, [DEV_ARN]))
        assert merged["Statement"] == [pod.statement("111122223333")]


def test_purge_clusters_false_needs_clusters():
    with pytest.raises(InputError, match="purge_clusters is false but pod_identity.clusters is empty"):
        pod.parse_request({"purge_clusters": False})
