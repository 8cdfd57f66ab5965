"""AWS calls of module_utils/aws.py: retried on throttling and server errors, in every service's own words."""

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils import aws

CLUSTER = {"name": "my-cluster", "arn": "arn:aws:eks:us-west-2:123456789012:cluster/my-cluster", "status": "ACTIVE"}


@pytest.fixture
def sleeps(monkeypatch):
    waited = []
    monkeypatch.setattr(cloud.time, "sleep", waited.append)
    return waited


def stubbed(service):
    client = boto3.client(service, region_name="us-west-2", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="example")
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


@pytest.mark.parametrize("code, status", [
    ("ThrottlingException", 429),  # EKS's throttling, not IAM's "Throttling"
    ("ServerException", 500),
    ("ServiceUnavailableException", 503),
])
def test_eks_throttling_and_server_errors_are_retried(sleeps, code, status):
    client, stubber = stubbed("eks")
    for _unused in range(3):
        stubber.add_client_error("describe_cluster", service_error_code=code, http_status_code=status)
    stubber.add_response("describe_cluster", {"cluster": CLUSTER}, {"name": "my-cluster"})
    assert aws.describe_cluster(client, "my-cluster")["name"] == "my-cluster"
    stubber.assert_no_pending_responses()
    assert len(sleeps) == 3


def test_eks_list_clusters_is_retried(sleeps):
    client, stubber = stubbed("eks")
    stubber.add_client_error("list_clusters", service_error_code="ThrottlingException", http_status_code=429)
    stubber.add_response("list_clusters", {"clusters": ["my-cluster"]})
    assert aws.list_clusters(client) == ["my-cluster"]
    assert len(sleeps) == 1


def test_iam_and_sts_throttling_is_still_retried(sleeps):
    client, stubber = stubbed("sts")
    stubber.add_client_error("get_caller_identity", service_error_code="Throttling", http_status_code=400)
    stubber.add_response("get_caller_identity", {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ops", "UserId": "AIDA"})
    assert aws.caller_identity(client)["account_id"] == "123456789012"
    assert len(sleeps) == 1


def test_a_refusal_is_not_retried_and_names_the_permission(sleeps):
    client, stubber = stubbed("eks")
    stubber.add_client_error("describe_cluster", service_error_code="AccessDeniedException", http_status_code=403)
    with pytest.raises(IrsaAWSError) as denied:
        aws.describe_cluster(client, "my-cluster")
    assert "eks:DescribeCluster" in denied.value.message
    assert sleeps == []


def test_watch_writes_counts_successful_changes_only():
    client, stubber = stubbed("iam")
    wrote = aws.watch_writes(client)
    stubber.add_response("get_role", {"Role": {"Path": "/", "RoleName": "app", "RoleId": "AROAEXAMPLEEXAMPLE1",
                                               "Arn": "arn:aws:iam::123456789012:role/app", "CreateDate": "2026-01-01"}})
    stubber.add_client_error("attach_role_policy", service_error_code="NoSuchEntity", http_status_code=404)
    client.get_role(RoleName="app")
    with pytest.raises(Exception):
        client.attach_role_policy(RoleName="app", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert wrote() is False, "a read and a failed write changed nothing"
    stubber.add_response("tag_role", {})
    client.tag_role(RoleName="app", Tags=[{"Key": "team", "Value": "a"}])
    assert wrote() is True


def test_configured_sts_endpoint_follows_botocore_environment():
    configured_sts_endpoint = aws.configured_sts_endpoint

    assert configured_sts_endpoint({}) is None
    assert configured_sts_endpoint({"AWS_ENDPOINT_URL": "http://a"}) == "http://a"
    assert configured_sts_endpoint({"AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_STS": "http://sts"}) == "http://sts"
    assert configured_sts_endpoint({"AWS_ENDPOINT_URL": "http://a", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}) is None
