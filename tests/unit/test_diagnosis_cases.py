"""The cases of tests/fixtures/diagnosis_cases.yml that the sandbox cannot produce (level unit): AWS refusing the
credentials, met by a module (IrsaAWSModule.fail_json_aws) or as a Kubernetes 401 in EKS mode, in AWS's own error
shapes. And the table and docs/troubleshooting.md list the same cases."""

import json
import os

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils import aws
from ansible_collections.eks.irsa.plugins.module_utils import iam
from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils.k8s import api as k8s_api
from ansible_collections.eks.irsa.plugins.module_utils.k8s import connection as k8s_connection

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
with open(os.path.join(ROOT, "tests", "fixtures", "diagnosis_cases.yml"), encoding="utf-8") as _handle:
    CASES = yaml.safe_load(_handle)["cases"]
UNIT = [case for case in CASES if case["level"] == "unit"]
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CALLS = {
    ("sts", "get_caller_identity"): aws.caller_identity,
    ("eks", "describe_cluster"): lambda client: aws.describe_cluster(client, "my-cluster"),
    ("iam", "get_role"): lambda client: iam.get_role(client, "my-app"),
}


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    monkeypatch.setattr(cloud.time, "sleep", lambda seconds: None)
    for name in ("AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def stubbed(case):
    """A client of the case's service whose call answers the case's AWS error (or the caller identity)."""
    error = case.get("aws_error") or {"service": "sts", "operation": "get_caller_identity"}
    client = boto3.client(error["service"], region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")
    stubber = Stubber(client)
    if "code" in error:
        stubber.add_client_error(error["operation"], service_error_code=error["code"], service_message=error["message"],
                                 http_status_code=403)
    else:
        stubber.add_response("get_caller_identity", {"Account": case["caller"].split(":")[4], "Arn": case["caller"],
                                                     "UserId": "AROAEXAMPLE:session"})
    stubber.activate()
    return client, error


def credentials(case):
    given = dict(case.get("credentials") or {})
    if given.get("access_key"):
        given.setdefault("secret_key", SECRET_KEY)
    return given


def module_failure(monkeypatch, capsys, case):
    """What a module of the collection says when the case's AWS call fails: IrsaAWSModule.fail_json_aws_error."""
    args = {"ANSIBLE_MODULE_ARGS": dict(credentials(case), region="us-east-1", _ansible_remote_tmp="/tmp",
                                        _ansible_keep_remote_files=False)}
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps(args)))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    monkeypatch.setattr(basic, "_PARSED_MODULE_ARGS", None, raising=False)
    module = aws.IrsaAWSModule(argument_spec={}, supports_check_mode=True)
    client, error = stubbed(case)
    with pytest.raises(IrsaAWSError) as raised:
        CALLS[(error["service"], error["operation"])](client)
    with pytest.raises(SystemExit):
        module.fail_json_aws_error(raised.value)
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] and "exception" not in result
    return result["msg"]


class Module:
    def __init__(self, sts, given):
        self.params = dict({key: None for key in k8s_connection.k8s_argument_spec()}, eks_cluster="my-cluster", **given)
        self.region = "us-east-1"
        self.sts = sts

    def client(self, service, **_extra):
        return self.sts


class Unauthorized:
    status = 401
    reason = "Unauthorized"
    headers = {"Content-Type": "application/json"}
    data = b'{"kind": "Status", "code": 401, "message": "Unauthorized", "reason": "Unauthorized"}'


class Pool:
    def request(self, *_args, **_kwargs):
        return Unauthorized()

    def clear(self):
        pass


def kubernetes_401(monkeypatch, case):
    """What a module says when the cluster answers 401 to its EKS token, with the case's credentials."""
    connection = k8s_connection.Connection("https://eks.example", token="k8s-aws-v1.x", mode="eks",
                                           identity="the AWS identity of this task (EKS mode, cluster my-cluster)")
    monkeypatch.setattr(k8s_api, "resolve_connection", lambda module: connection)
    client, _error = stubbed(case)
    api = k8s_api.kubernetes_services(Module(client, credentials(case)))
    api._pool = Pool()
    with pytest.raises(errors.KubernetesError) as raised:
        api.get_service_account("default", "app")
    return str(raised.value)


@pytest.mark.parametrize("case", UNIT, ids=[case["case"] for case in UNIT])
def test_case(monkeypatch, capsys, case):
    for name, value in (case.get("environ") or {}).items():
        monkeypatch.setenv(name, value)
    message = kubernetes_401(monkeypatch, case) if case.get("kubernetes_401") else module_failure(monkeypatch, capsys, case)
    assert case["cause"] in message, message
    assert case["fix"] in message, message
    for secret in [SECRET_KEY] + list((case.get("credentials") or {}).values()) + list((case.get("environ") or {}).values()):
        assert secret not in message


def test_the_table():
    names = [case["case"] for case in CASES]
    assert len(names) == len(set(names)), "case names are unique"
    for case in CASES:
        assert case["level"] in ("unit", "sandbox", "sandbox2"), case["case"]
        assert case["link"] in ("credentials", "connection", "input", "annotation", "iam", "trust", "provider", "pod"), case["case"]
        assert case["broken"] and case["cause"] and case["fix"] and isinstance(case["reader"], list), case["case"]
    further = [case for case in CASES if not case.get("issue")]
    assert len(further) >= 25, "at least 25 broken set-ups beyond the issue's own points"


def test_the_docs_list_every_case():
    with open(os.path.join(ROOT, "docs", "troubleshooting.md"), encoding="utf-8") as handle:
        docs = handle.read()
    rows = {line.split("|")[1].strip().strip("`"): line for line in docs.splitlines() if line.startswith("| `")}
    for case in CASES:
        assert case["case"] in rows, "docs/troubleshooting.md has no row for " + case["case"]
        row = rows[case["case"]]
        for option in case["reader"]:
            assert "`{0}`".format(option) in row, "{0}: the row does not name {1}".format(case["case"], option)
