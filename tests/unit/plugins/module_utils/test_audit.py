"""The audit's judgement of roles, providers and ServiceAccounts, from what the audit read (no I/O)."""

from ansible_collections.eks.irsa.plugins.module_utils import audit

ACCOUNT = "111122223333"
REGION = "us-west-2"
HOST = "oidc.eks.us-west-2.amazonaws.com/id/AAAA1111BBBB2222CCCC3333DDDD4444"
PROVIDER = "arn:aws:iam::{0}:oidc-provider/{1}".format(ACCOUNT, HOST)
OTHER_REGION = "arn:aws:iam::{0}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/{1}".format(ACCOUNT, "E" * 32)
GITHUB = "arn:aws:iam::{0}:oidc-provider/token.actions.githubusercontent.com".format(ACCOUNT)


def role(name, *statements):
    return {"RoleName": name, "Arn": "arn:aws:iam::{0}:role/{1}".format(ACCOUNT, name),
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}


def irsa(subjects, operator="StringEquals", provider=PROVIDER, audience=True):
    host = provider.split(":oidc-provider/", 1)[1]
    condition = {operator: {host + ":sub": subjects}}
    if audience:
        condition.setdefault("StringEquals", {})[host + ":aud"] = "sts.amazonaws.com"
    return {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition}


def service_account(namespace, name, role_arn=None):
    metadata = {"namespace": namespace, "name": name}
    if role_arn:
        metadata["annotations"] = {"eks.amazonaws.com/role-arn": role_arn}
    return {"metadata": metadata}


def cluster(service_accounts=(), pods=()):
    return {"name": "blue", "issuer": "https://" + HOST, "provider_arn": PROVIDER, "provider_exists": True,
            "client_ids": ["sts.amazonaws.com"], "audited": True, "service_accounts": list(service_accounts),
            "pods": list(pods)}


def kinds(report):
    return sorted((item["kind"], item["severity"]) for item in report["findings"])


def analyse(roles, providers=(PROVIDER,), clusters=None, breadth="service_account"):
    return audit.analyse(ACCOUNT, "aws", REGION, [cluster()] if clusters is None else clusters, roles, list(providers), breadth)


def test_a_sound_binding_has_no_finding_and_is_ok():
    app = role("app", irsa("system:serviceaccount:shop:app"))
    report = analyse([app], clusters=[cluster([service_account("shop", "app", app["Arn"])])])
    assert report["findings"] == []
    assert [(row["name"], row["verdict"]) for row in report["clusters"][0]["service_accounts"]] == [("app", "ok")]


def test_breadth_is_judged_against_what_the_user_allows():
    namespace_wide = role("ns", irsa("system:serviceaccount:shop:*", operator="StringLike"))
    cluster_wide = role("all", irsa("system:serviceaccount:*", operator="StringLike"))
    assert kinds(analyse([namespace_wide, cluster_wide])) == [("trust-too-broad", "high"), ("trust-too-broad", "medium")]
    assert kinds(analyse([namespace_wide, cluster_wide], breadth="namespace")) == [("trust-too-broad", "high")]
    assert kinds(analyse([namespace_wide, cluster_wide], breadth="cluster")) == []


def test_a_statement_without_subject_condition_admits_the_whole_cluster():
    statement = {"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
                 "Condition": {"StringEquals": {HOST + ":aud": "sts.amazonaws.com"}}}
    report = analyse([role("open", statement)], breadth="cluster")
    assert kinds(report) == [("trust-too-broad", "high")]
    assert "Every ServiceAccount of the cluster" in report["findings"][0]["why"]


def test_providers_of_other_regions_and_issuers_are_counted_not_judged():
    report = analyse([], providers=(PROVIDER, OTHER_REGION, GITHUB))
    assert report["findings"] == []
    assert report["summary"]["oidc_providers"] == {"count": 3, "limit": 100, "unused": 0}


def test_unused_providers_near_the_limit_are_medium():
    idle = ["arn:aws:iam::{0}:oidc-provider/oidc.eks.{1}.amazonaws.com/id/{2:032X}".format(ACCOUNT, REGION, n) for n in range(89)]
    report = analyse([], providers=[PROVIDER] + idle)
    assert {item["severity"] for item in report["findings"]} == {"medium"} and len(report["findings"]) == 89
    assert "90 OIDC providers of IAM's limit of 100" in report["findings"][0]["why"]


def test_a_role_of_another_cluster_is_not_blamed_for_subjects_of_this_one():
    # Subjects are judged only against clusters that were audited; a cluster not audited has no ServiceAccounts read.
    other = dict(cluster(), name="green", audited=False, service_accounts=None, pods=None,
                 provider_arn=PROVIDER.replace("AAAA", "FFFF"), issuer="https://" + HOST.replace("AAAA", "FFFF"))
    remote = role("remote", irsa("system:serviceaccount:shop:gone", provider=other["provider_arn"]))
    report = analyse([remote], providers=(PROVIDER, other["provider_arn"]), clusters=[cluster(), other])
    assert report["findings"] == []


def test_a_role_in_another_account_is_broken_not_missing():
    elsewhere = "arn:aws:iam::999988887777:role/app"
    report = analyse([], clusters=[cluster([service_account("shop", "app", elsewhere)])])
    assert kinds(report) == [("binding-broken", "high")]
    assert "account 999988887777" in report["findings"][0]["why"]
