"""module_utils.iam: waiting for a new role goes on through IAM's transient failures, not through its refusals."""
from unittest import mock

import botocore.exceptions
import pytest

from ansible_collections.eks.irsa.plugins.module_utils import iam
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError


def _waiter_error(status, code):
    return botocore.exceptions.WaiterError(
        name="RoleExists", reason="An error occurred (%s): no" % code,
        last_response={"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}})


def _client(*outcomes):
    waiter = mock.Mock()
    waiter.wait.side_effect = list(outcomes)
    client = mock.Mock()
    client.get_waiter.return_value = waiter
    return client, waiter


def test_a_server_error_while_waiting_is_waited_through(monkeypatch):
    monkeypatch.setattr(iam.time, "sleep", lambda _seconds: None)
    client, waiter = _client(_waiter_error(500, "InternalFailure"), _waiter_error(503, "ServiceUnavailable"), None)
    iam.wait_for_role(client, "r", 120)
    assert waiter.wait.call_count == 3


def test_a_refusal_while_waiting_is_not_retried(monkeypatch):
    monkeypatch.setattr(iam.time, "sleep", lambda _seconds: None)
    client, waiter = _client(_waiter_error(403, "AccessDenied"), None)
    with pytest.raises(IrsaAWSError):
        iam.wait_for_role(client, "r", 120)
    assert waiter.wait.call_count == 1


def test_server_errors_until_the_timeout_fail(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(iam.time, "monotonic", lambda: now[0])

    def sleep(seconds):
        now[0] += seconds

    monkeypatch.setattr(iam.time, "sleep", sleep)
    client, waiter = _client(*[_waiter_error(500, "InternalFailure")] * 50)
    with pytest.raises(IrsaAWSError):
        iam.wait_for_role(client, "r", 10)
    assert 1 < waiter.wait.call_count <= 3


def test_a_refusal_while_waiting_names_the_permission(monkeypatch):
    monkeypatch.setattr(iam.time, "sleep", lambda _seconds: None)
    client, _waiter = _client(_waiter_error(403, "AccessDenied"))
    with pytest.raises(IrsaAWSError) as raised:
        iam.wait_for_role(client, "r", 120)
    assert raised.value.message.startswith("Not allowed to wait for the new role to be visible")
    assert "iam:GetRole" in raised.value.message


def test_a_wait_that_runs_out_says_so(monkeypatch):
    monkeypatch.setattr(iam.time, "sleep", lambda _seconds: None)
    client, _waiter = _client(_waiter_error(200, "RoleNotFound"))
    with pytest.raises(IrsaAWSError) as raised:
        iam.wait_for_role(client, "r", 120)
    assert raised.value.message == "Timeout trying to wait for the new role to be visible"


def _answering(code):
    error = botocore.exceptions.ClientError({"Error": {"Code": code, "Message": "no"}}, "Call")
    return mock.Mock(**{name: mock.Mock(side_effect=error) for name in (
        "get_role", "delete_role", "tag_role", "create_role", "get_role_policy")})


def test_what_is_not_there_is_none_to_read_and_nothing_to_delete():
    client = _answering("NoSuchEntity")
    assert iam.get_role(client, "r") is None
    assert iam.get_role_policy(client, "r", "p") is None
    assert iam.delete_role(client, "r") is False
    with pytest.raises(IrsaAWSError) as raised:
        iam.tag_role(client, "r", Tags=[{"Key": "a", "Value": "b"}])
    assert raised.value.message == "Failed to tag role"


def test_an_access_denied_names_the_missing_permission():
    client = _answering("AccessDenied")
    with pytest.raises(IrsaAWSError) as raised:
        iam.delete_role(client, "r")
    assert raised.value.message.startswith("Not allowed to delete role: ") and "iam:DeleteRole" in raised.value.message
    with pytest.raises(IrsaAWSError) as raised:
        iam.create_role(client, "r", "/", {}, tags={"a": "b"})
    assert "iam:CreateRole and iam:TagRole" in raised.value.message
