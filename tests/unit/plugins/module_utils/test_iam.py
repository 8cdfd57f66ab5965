"""module_utils.iam: waiting for a new role goes on through IAM's transient failures, not through its refusals."""
from unittest import mock

import botocore.exceptions
import pytest

from ansible_collections.amazon.aws.plugins.module_utils.iam import AnsibleIAMError
from ansible_collections.eks.irsa.plugins.module_utils import iam


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
    with pytest.raises(AnsibleIAMError):
        iam.wait_for_role(client, "r", 120)
    assert waiter.wait.call_count == 1


def test_server_errors_until_the_timeout_fail(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(iam.time, "monotonic", lambda: now[0])

    def sleep(seconds):
        now[0] += seconds

    monkeypatch.setattr(iam.time, "sleep", sleep)
    client, waiter = _client(*[_waiter_error(500, "InternalFailure")] * 50)
    with pytest.raises(AnsibleIAMError):
        iam.wait_for_role(client, "r", 10)
    assert 1 < waiter.wait.call_count <= 3
