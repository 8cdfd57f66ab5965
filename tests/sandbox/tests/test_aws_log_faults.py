"""The request log counts every AWS call exactly; fault injection hits the configured fraction."""

import random

import pytest
from botocore.exceptions import ClientError
from irsa_sandbox.testing import unique

TRUST = {"Version": "2012-10-17", "Statement": []}


def test_request_log_counts_calls_exactly(sandbox):
    iam, eks, sts = sandbox.client("iam"), sandbox.client("eks"), sandbox.client("sts")
    sandbox.reset_log()
    name = unique("logged")
    sandbox.create_role(name, TRUST)
    for _unused in range(3):
        iam.get_role(RoleName=name)
    iam.tag_role(RoleName=name, Tags=[{"Key": "k", "Value": "v"}])
    iam.delete_role(RoleName=name)
    eks.describe_cluster(name="sandbox")
    eks.list_clusters()
    sts.get_caller_identity()
    sandbox.control("GET", "clusters")  # control calls are not logged
    log = sandbox.log()
    assert log["counts"] == {
        "iam:CreateRole": 1, "iam:GetRole": 3, "iam:TagRole": 1, "iam:DeleteRole": 1,
        "eks:DescribeCluster": 1, "eks:ListClusters": 1, "sts:GetCallerIdentity": 1,
    }
    assert (log["writes"], log["reads"]) == (3, 6)
    assert all(call["status"] == 200 and not call["fault"] for call in log["calls"])
    sandbox.reset_log()
    assert sandbox.log()["calls"] == []


def test_the_log_since_a_call_holds_only_the_calls_after_it(sandbox):
    iam = sandbox.client("iam")
    sandbox.reset_log()
    iam.list_roles(MaxItems=1)
    cursor = sandbox.log()["calls"][-1]["seq"]
    iam.list_open_id_connect_providers()
    sandbox.client("sts").get_caller_identity()
    later = sandbox.log(since=cursor)
    assert [call["action"] for call in later["calls"]] == ["ListOpenIDConnectProviders", "GetCallerIdentity"]
    assert later["counts"] == {"iam:ListOpenIDConnectProviders": 1, "sts:GetCallerIdentity": 1}
    assert sandbox.log(since=later["calls"][-1]["seq"])["calls"] == []
    assert [call["action"] for call in sandbox.log()["calls"]] == ["ListRoles", "ListOpenIDConnectProviders", "GetCallerIdentity"]


def test_throttling_hits_the_configured_fraction(sandbox):
    fraction, seed, calls = 0.3, 7, 40
    name = unique("throttled")
    sandbox.create_role(name, TRUST)
    iam = sandbox.client("iam")  # one attempt per call: botocore must not retry behind our back
    sandbox.reset_log()
    sandbox.set_faults([{"service": "iam", "action": "GetRole", "kind": "throttle", "fraction": fraction}], seed=seed)
    throttled = 0
    try:
        for _unused in range(calls):
            try:
                iam.get_role(RoleName=name)
            except ClientError as error:
                assert error.response["Error"]["Code"] == "Throttling"
                assert error.response["Error"]["Message"] == "Rate exceeded"
                assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
                throttled += 1
        iam.list_roles()  # not matched by the rule
    finally:
        sandbox.set_faults([])
    expected_rng = random.Random(seed)
    expected = sum(expected_rng.random() < fraction for _unused in range(calls))
    log = sandbox.log()
    faulted = [call for call in log["calls"] if call["fault"]]
    assert throttled == expected == len(faulted)
    assert 0 < expected < calls
    assert all(call["fault"] == "throttle" and call["action"] == "GetRole" for call in faulted)
    assert log["counts"]["iam:GetRole"] == calls and log["counts"]["iam:ListRoles"] == 1


@pytest.mark.parametrize("service, kind, status, code", [
    ("eks", "throttle", 429, "ThrottlingException"),
    ("eks", "error", 503, "ServiceUnavailableException"),
    ("eks", "error", 500, "ServerException"),
    ("iam", "error", 503, "ServiceUnavailable"),
    ("iam", "error", 500, "InternalFailure"),
    ("sts", "throttle", 400, "Throttling"),
])
def test_fault_shapes(sandbox, service, kind, status, code):
    calls = {
        "eks": lambda: sandbox.client("eks").describe_cluster(name="sandbox"),
        "iam": lambda: sandbox.client("iam").list_roles(),
        "sts": lambda: sandbox.client("sts").get_caller_identity(),
    }
    sandbox.set_faults([{"service": service, "kind": kind, "status": status, "fraction": 1.0}])
    try:
        with pytest.raises(ClientError) as caught:
            calls[service]()
    finally:
        sandbox.set_faults([])
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    calls[service]()  # faults off again


def test_botocore_retries_through_partial_throttling(sandbox):
    """With its default retries a client gets through; the log shows every attempt."""
    sandbox.reset_log()
    sandbox.set_faults([{"service": "eks", "action": "ListClusters", "kind": "throttle", "fraction": 0.5}], seed=3)
    try:
        sandbox.client("eks", attempts=10).list_clusters()
    finally:
        sandbox.set_faults([])
    attempts = [call for call in sandbox.log()["calls"] if call["action"] == "ListClusters"]
    assert attempts[-1]["status"] == 200 and not attempts[-1]["fault"]
    assert all(call["fault"] == "throttle" and call["status"] == 429 for call in attempts[:-1])
