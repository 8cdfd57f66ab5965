"""eks_oidc_info and eks_oidc_provider logic against stubbed AWS clients (botocore Stubber)."""

import datetime
import json
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import Stubber

from ansible.module_utils import _internal
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.eks.irsa.plugins.module_utils import aws
from ansible_collections.eks.irsa.plugins.module_utils import oidc_provider
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_issuer
from ansible_collections.eks.irsa.plugins.modules import eks_oidc_info
from ansible_collections.eks.irsa.plugins.modules import eks_oidc_provider

SEED_ID = "EXAMPLED539D4633E53DE1B716D3041E"

PARTITIONS = [
    # region, partition, issuer host
    ("us-west-2", "aws", "oidc.eks.us-west-2.amazonaws.com"),
    ("cn-north-1", "aws-cn", "oidc.eks.cn-north-1.amazonaws.com.cn"),
    ("us-gov-west-1", "aws-us-gov", "oidc.eks.us-gov-west-1.amazonaws.com"),
]


class FakeModule:
    """The parts of AnsibleAWSModule the module logic uses, with stubbed clients."""

    def __init__(self, region, params=None, check_mode=False):
        self.region = region
        self.params = params or {}
        self.check_mode = check_mode
        self.warnings = []
        self.clients = {}
        self.stubbers = {}
        for service in ("eks", "sts", "iam"):
            client = boto3.client(
                service, region_name=region, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="example"
            )
            self.clients[service] = client
            stubber = Stubber(client)
            stubber.activate()
            self.stubbers[service] = stubber

    def client(self, service, **_kwargs):
        return self.clients[service]

    def warn(self, message):
        self.warnings.append(message)

    def verify(self):
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def cluster(region, partition, host, issuer=True, status="ACTIVE"):
    data = {
        "name": "my-cluster",
        "arn": "arn:%s:eks:%s:210987654321:cluster/my-cluster" % (partition, region),
        "endpoint": "https://%s.gr7.%s.eks.amazonaws.com" % (SEED_ID, region),
        "certificateAuthority": {"data": "Q0EK"},
        "version": "1.31",
        "status": status,
    }
    if issuer:
        data["identity"] = {"oidc": {"issuer": "https://%s/id/%s" % (host, SEED_ID)}}
    return data


def caller(partition, account="123456789012"):
    return {"Account": account, "Arn": "arn:%s:iam::%s:user/ops" % (partition, account), "UserId": "AIDAEXAMPLE"}


@pytest.mark.parametrize("region, partition, host", PARTITIONS)
def test_info_names_the_provider_in_every_partition(region, partition, host):
    module = FakeModule(region)
    arn = "arn:%s:iam::123456789012:oidc-provider/%s/id/%s" % (partition, host, SEED_ID)
    module.stubbers["eks"].add_response("describe_cluster", {"cluster": cluster(region, partition, host)}, {"name": "my-cluster"})
    module.stubbers["sts"].add_response("get_caller_identity", caller(partition))
    module.stubbers["iam"].add_response(
        "get_open_id_connect_provider",
        {"Url": "%s/id/%s" % (host, SEED_ID), "ClientIDList": ["sts.amazonaws.com"], "ThumbprintList": [],
         "CreateDate": datetime.datetime(2026, 1, 1), "Tags": []},
        {"OpenIDConnectProviderArn": arn},
    )
    facts = oidc_provider.oidc_facts(module, "my-cluster")
    module.verify()
    assert facts["provider"] == "%s/id/%s" % (host, SEED_ID)
    assert facts["provider_arn"] == arn
    assert facts["provider_exists"] is True
    assert facts["audience_ok"] is True
    assert facts["partition"] == partition
    assert facts["account_id"] == "123456789012"
    assert facts["cluster_account_id"] == "210987654321"


def test_info_without_provider_says_so():
    module = FakeModule("us-west-2")
    module.stubbers["eks"].add_response("describe_cluster", {"cluster": cluster("us-west-2", "aws", PARTITIONS[0][2])})
    module.stubbers["sts"].add_response("get_caller_identity", caller("aws"))
    module.stubbers["iam"].add_client_error("get_open_id_connect_provider", "NoSuchEntity", http_status_code=404)
    facts = oidc_provider.oidc_facts(module, "my-cluster")
    assert facts["provider_exists"] is False
    assert facts["audience_ok"] is False
    assert facts["provider_client_ids"] == []


def test_cluster_not_found_names_the_region_and_the_clusters_there():
    module = FakeModule("eu-west-1")
    module.stubbers["eks"].add_client_error("describe_cluster", "ResourceNotFoundException", http_status_code=404)
    module.stubbers["eks"].add_response("list_clusters", {"clusters": ["prod", "staging"]})
    with pytest.raises(IrsaAWSError) as raised:
        oidc_provider.oidc_facts(module, "my-cluster")
    message = str(raised.value)
    assert "'my-cluster' was not found in region eu-west-1" in message
    assert "clusters in that region: prod, staging" in message


def test_cluster_not_found_when_listing_is_not_allowed():
    module = FakeModule("eu-west-1")
    module.stubbers["eks"].add_client_error("describe_cluster", "ResourceNotFoundException", http_status_code=404)
    module.stubbers["eks"].add_client_error("list_clusters", "AccessDeniedException", http_status_code=403)
    with pytest.raises(IrsaAWSError) as raised:
        oidc_provider.oidc_facts(module, "my-cluster")
    assert "was not found in region eu-west-1. Check cluster_name" in str(raised.value)


def test_cluster_still_creating_has_no_issuer():
    module = FakeModule("us-west-2")
    module.stubbers["eks"].add_response(
        "describe_cluster", {"cluster": cluster("us-west-2", "aws", "", issuer=False, status="CREATING")}
    )
    with pytest.raises(IrsaAWSError, match=r"no OIDC issuer yet \(status CREATING\).*wait until its status is ACTIVE"):
        oidc_provider.oidc_facts(module, "my-cluster")


@pytest.mark.parametrize(
    "service, operation, permission",
    [
        ("eks", "describe_cluster", "eks:DescribeCluster"),
        ("sts", "get_caller_identity", "sts:GetCallerIdentity"),
        ("iam", "get_open_id_connect_provider", "iam:GetOpenIDConnectProvider"),
    ],
)
def test_access_denied_names_the_missing_permission(service, operation, permission):
    module = FakeModule("us-west-2")
    order = ["eks", "sts", "iam"]
    responses = {
        "eks": ("describe_cluster", {"cluster": cluster("us-west-2", "aws", PARTITIONS[0][2])}),
        "sts": ("get_caller_identity", caller("aws")),
    }
    for name in order[: order.index(service)]:
        module.stubbers[name].add_response(*responses[name])
    code = "AccessDeniedException" if service == "eks" else "AccessDenied"
    module.stubbers[service].add_client_error(operation, code, http_status_code=403)
    with pytest.raises(IrsaAWSError) as raised:
        oidc_provider.oidc_facts(module, "my-cluster")
    assert "lacks the IAM permission %s" % permission in str(raised.value)


def test_partition_mismatch_is_explained():
    module = FakeModule("cn-north-1")
    module.stubbers["eks"].add_response("describe_cluster", {"cluster": cluster("cn-north-1", "aws-cn", PARTITIONS[1][2])})
    module.stubbers["sts"].add_response("get_caller_identity", caller("aws"))
    with pytest.raises(NamingError, match="partition aws-cn, but the AWS credentials in use are of partition aws"):
        oidc_provider.oidc_facts(module, "my-cluster")


PROVIDER_PARAMS = {
    "issuer_url": "https://oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID,
    "cluster_name": None,
    "client_ids": ["sts.amazonaws.com"],
    "purge_client_ids": False,
    "thumbprints": None,
    "tags": None,
    "purge_tags": True,
    "state": "present",
    "force": False,
    "adopt": False,
}
OWNED = (("eks.irsa/managed-by", "eks.irsa"),)
PROVIDER = "oidc.eks.us-west-2.amazonaws.com/id/" + SEED_ID
PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/" + PROVIDER


@pytest.mark.parametrize(
    "changes, phrase",
    [
        ({"client_ids": [""]}, "empty or has surrounding white space"),
        ({"client_ids": [" sts.amazonaws.com"]}, "surrounding white space"),
        ({"client_ids": ["x" * 256]}, "longer than IAM's limit of 255"),
        ({"thumbprints": ["abc"]}, "40 hexadecimal characters"),
        ({"thumbprints": ["%040d" % n for n in range(6)]}, "at most 5"),
    ],
)
def test_provider_bad_input(changes, phrase):
    params = dict(PROVIDER_PARAMS, **changes)
    with pytest.raises(NamingError) as raised:
        oidc_provider.validate_params(params)
    assert phrase in str(raised.value)


def existing(client_ids=("sts.amazonaws.com",), thumbprints=(), tags=()):
    return {
        "Url": PROVIDER,
        "ClientIDList": list(client_ids),
        "ThumbprintList": list(thumbprints),
        "CreateDate": datetime.datetime(2026, 1, 1),
        "Tags": [{"Key": k, "Value": v} for k, v in tags],
    }


def run_present(module):
    issuer = parse_issuer(module.params["issuer_url"])
    client_ids, thumbprints = oidc_provider.validate_params(module.params)
    iam = module.client("iam")
    arns = aws.list_oidc_providers(iam)
    return oidc_provider.ensure_present(module, iam, issuer, client_ids, thumbprints, arns)


def test_provider_unchanged_makes_two_reads_and_no_write():
    module = FakeModule("us-west-2", dict(PROVIDER_PARAMS))
    module.stubbers["iam"].add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": PROVIDER_ARN}]})
    module.stubbers["iam"].add_response("get_open_id_connect_provider", existing())
    changed, arn, before, after, count = run_present(module)
    module.verify()  # any unexpected write call would have failed the stubber
    assert (changed, arn, count) == (False, PROVIDER_ARN, 1)
    assert before == after


def test_provider_created_in_check_mode_predicts_the_arn_without_writing():
    module = FakeModule("us-west-2", dict(PROVIDER_PARAMS), check_mode=True)
    module.stubbers["iam"].add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": []})
    module.stubbers["sts"].add_response("get_caller_identity", caller("aws"))
    changed, arn, before, after, count = run_present(module)
    module.verify()
    assert changed is True and arn == PROVIDER_ARN and before == {} and count == 1
    assert after["client_ids"] == ["sts.amazonaws.com"]


def test_provider_adds_client_ids_and_keeps_others_without_purge():
    module = FakeModule("us-west-2", dict(PROVIDER_PARAMS, client_ids=["sts.amazonaws.com", "api://x"]))
    module.stubbers["iam"].add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": PROVIDER_ARN}]})
    module.stubbers["iam"].add_response("get_open_id_connect_provider", existing(client_ids=["other"]))
    module.stubbers["iam"].add_response(
        "add_client_id_to_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": PROVIDER_ARN, "ClientID": "sts.amazonaws.com"}
    )
    module.stubbers["iam"].add_response(
        "add_client_id_to_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": PROVIDER_ARN, "ClientID": "api://x"}
    )
    changed, _arn, before, after, _count = run_present(module)
    module.verify()
    assert changed is True
    assert before["client_ids"] == ["other"]
    assert after["client_ids"] == ["other", "sts.amazonaws.com", "api://x"]


def test_provider_purges_client_ids_when_asked():
    module = FakeModule("us-west-2", dict(PROVIDER_PARAMS, purge_client_ids=True))
    module.stubbers["iam"].add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": PROVIDER_ARN}]})
    module.stubbers["iam"].add_response("get_open_id_connect_provider", existing(client_ids=["sts.amazonaws.com", "other"]))
    module.stubbers["iam"].add_response(
        "remove_client_id_from_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": PROVIDER_ARN, "ClientID": "other"}
    )
    changed, _arn, _before, after, _count = run_present(module)
    module.verify()
    assert changed is True and after["client_ids"] == ["sts.amazonaws.com"]


def test_provider_limit_exceeded_is_explained():
    module = FakeModule("us-west-2", dict(PROVIDER_PARAMS))
    module.stubbers["iam"].add_response(
        "list_open_id_connect_providers",
        {"OpenIDConnectProviderList": [{"Arn": PROVIDER_ARN.replace(SEED_ID, "X%031d" % n)} for n in range(100)]},
    )
    module.stubbers["iam"].add_client_error("create_open_id_connect_provider", "LimitExceeded", http_status_code=409)
    with pytest.raises(IrsaAWSError, match="reached its quota of OIDC providers"):
        run_present(module)
    assert any("already has 100 IAM OIDC providers" in warning for warning in module.warnings)


def test_absent_refuses_while_roles_trust_the_provider():
    module = FakeModule("us-west-2", dict(PROVIDER_PARAMS, state="absent"))
    module.stubbers["iam"].add_response("get_open_id_connect_provider", existing(tags=OWNED))
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN}, "Action": "sts:AssumeRoleWithWebIdentity"}],
    }
    module.stubbers["iam"].add_response(
        "list_roles",
        {"Roles": [
            {"RoleName": "AWSIRSATestRole", "Path": "/", "RoleId": "AROAEXAMPLEEXAMPLE01", "Arn": "arn:aws:iam::123456789012:role/AWSIRSATestRole",
             "CreateDate": datetime.datetime(2026, 1, 1), "AssumeRolePolicyDocument": quote(json.dumps(trust))},
            {"RoleName": "ec2", "Path": "/", "RoleId": "AROAEXAMPLEEXAMPLE02", "Arn": "arn:aws:iam::123456789012:role/ec2",
             "CreateDate": datetime.datetime(2026, 1, 1),
             "AssumeRolePolicyDocument": quote(json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}]}))},
        ]},
    )
    issuer = parse_issuer(module.params["issuer_url"])
    with pytest.raises(ConflictError) as raised:
        oidc_provider.ensure_absent(module, module.client("iam"), issuer, [PROVIDER_ARN])
    message = str(raised.value)
    assert "1 IAM role(s) still trust" in message and "AWSIRSATestRole" in message and "force: true" in message
    assert "AWSIRSATestRole." in message  # the EC2 role does not trust the provider and is not named


@pytest.mark.parametrize("check_mode", [True, False])
def test_absent_refuses_a_provider_eks_irsa_did_not_create(check_mode):
    module = FakeModule("us-west-2", dict(PROVIDER_PARAMS, state="absent"))
    module.check_mode = check_mode
    module.stubbers["iam"].add_response("get_open_id_connect_provider", existing(tags=(("owner", "eksctl"),)))
    issuer = parse_issuer(module.params["issuer_url"])
    with pytest.raises(ConflictError) as raised:
        oidc_provider.ensure_absent(module, module.client("iam"), issuer, [PROVIDER_ARN])
    message = str(raised.value)
    assert "was not created by eks.irsa" in message and "adopt: true" in message and PROVIDER_ARN in message
    # Nothing was asked of IAM beyond reading the provider: no role listing, no delete.
    module.stubbers["iam"].assert_no_pending_responses()


# --------------------------------------------------------------------------------------------
# The modules' main: the result, and failures through errors.fail


def run_main(monkeypatch, capsys, main, args, fake=None):
    """Run a module's ``main`` in-process with ``args``; its clients are ``fake``'s stubbed ones. The module's JSON result."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "EC2_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setattr(_internal, "is_controller", False)
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": dict(
        args, _ansible_remote_tmp="/tmp", _ansible_keep_remote_files=False)})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    monkeypatch.setattr(basic, "_PARSED_MODULE_ARGS", None, raising=False)
    if fake is not None:
        monkeypatch.setattr(aws.IrsaAWSModule, "client", lambda _self, service, **_kwargs: fake.clients[service])
    with pytest.raises(SystemExit):
        main()
    return json.loads(capsys.readouterr().out)


def test_info_main_without_region_fails(monkeypatch, capsys):
    result = run_main(monkeypatch, capsys, eks_oidc_info.main, {"cluster_name": "my-cluster"})
    assert result["failed"] is True
    assert result["msg"] == "No AWS region given: set the region option or AWS_REGION to the cluster's region"


def test_provider_main_unchanged_returns_the_provider(monkeypatch, capsys):
    fake = FakeModule("us-west-2")
    fake.stubbers["iam"].add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": PROVIDER_ARN}]})
    fake.stubbers["iam"].add_response("get_open_id_connect_provider", existing(tags=OWNED))
    result = run_main(monkeypatch, capsys, eks_oidc_provider.main,
                      {"issuer_url": PROVIDER_PARAMS["issuer_url"], "region": "us-west-2"}, fake)
    fake.verify()
    assert result["changed"] is False and result["exists"] is True
    assert result["provider_arn"] == PROVIDER_ARN and result["provider"] == PROVIDER
    assert result["client_ids"] == ["sts.amazonaws.com"] and result["providers_in_account"] == 1
    assert "roles_trusting" not in result and "diff" not in result


def test_provider_main_failure_after_a_write_is_changed(monkeypatch, capsys):
    fake = FakeModule("us-west-2")
    fake.stubbers["iam"].add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": PROVIDER_ARN}]})
    fake.stubbers["iam"].add_response("get_open_id_connect_provider", existing(client_ids=["other"]))
    fake.stubbers["iam"].add_response(
        "add_client_id_to_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": PROVIDER_ARN, "ClientID": "sts.amazonaws.com"}
    )
    fake.stubbers["iam"].add_client_error("update_open_id_connect_provider_thumbprint", "AccessDenied", http_status_code=403)
    result = run_main(monkeypatch, capsys, eks_oidc_provider.main, {
        "issuer_url": PROVIDER_PARAMS["issuer_url"], "region": "us-west-2", "thumbprints": ["a" * 40]}, fake)
    assert result["failed"] is True and result["changed"] is True
    assert "lacks the IAM permission iam:UpdateOpenIDConnectProviderThumbprint" in result["msg"]


def test_provider_main_refusal_is_not_a_change(monkeypatch, capsys):
    fake = FakeModule("us-west-2")
    fake.stubbers["iam"].add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": PROVIDER_ARN}]})
    fake.stubbers["iam"].add_response("get_open_id_connect_provider", existing(tags=(("owner", "eksctl"),)))
    result = run_main(monkeypatch, capsys, eks_oidc_provider.main, {
        "issuer_url": PROVIDER_PARAMS["issuer_url"], "region": "us-west-2", "state": "absent"}, fake)
    assert result["failed"] is True and "was not created by eks.irsa" in result["msg"]
    assert "changed" not in result
