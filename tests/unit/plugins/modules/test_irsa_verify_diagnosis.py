# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""irsa_verify names the real cause: a connection to another cluster than cluster_name, a role ARN with
another account, a role that does not exist; never propagation or a trust policy for those."""

import base64
import json
import types

from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_issuer
from test_irsa_verify import ACCOUNT
from test_irsa_verify import ISSUER
from test_irsa_verify import PROVIDER
from test_irsa_verify import ROLE_ARN
from test_irsa_verify import TOKEN
from test_irsa_verify import ClockEvent
from test_irsa_verify import FakeAWS as BaseAWS
from test_irsa_verify import FakeKube
from test_irsa_verify import FakeModule
from test_irsa_verify import annotated
from test_irsa_verify import binding
from test_irsa_verify import make_verifier
from test_irsa_verify import names

OTHER_PROVIDER = "oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
OTHER_ISSUER = "https://" + OTHER_PROVIDER
DENIED = ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
NO_PROVIDER = ("InvalidIdentityToken", "No OpenIDConnect provider found in your account for " + OTHER_ISSUER)


def jwt(iss, sub="system:serviceaccount:default:my-app", aud=("sts.amazonaws.com",)):
    def part(document):
        return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")

    return "{0}.{1}.c2lnbmF0dXJl".format(part({"alg": "RS256"}), part({"iss": iss, "sub": sub, "aud": list(aud), "exp": 2000000000}))


class FakeAWS(BaseAWS):
    """FakeAWS for tokens that are real JWTs (of ClusterKube)."""

    def assume(self, client, role_arn, token, session_name, duration=900):
        assert token.count(".") == 2
        return super().assume(client, role_arn, TOKEN, session_name, duration)


class ClusterKube(FakeKube):
    """A Kubernetes API whose TokenRequest answers a JWT of ``issuer``."""

    def __init__(self, service_accounts, issuer, **kwargs):
        super().__init__(service_accounts, **kwargs)
        self.issuer = issuer
        self.connection = types.SimpleNamespace(host="https://green.example:6443")

    def create_token(self, namespace, name, audience, expiration_seconds):
        self.record("create_token", namespace, name, audience, expiration_seconds)
        return jwt(self.issuer, "system:serviceaccount:{0}:{1}".format(namespace, name), (audience,))


def token_check(entry):
    (check,) = [c for c in entry["checks"] if c["name"] == "token"]
    return check


def test_a_token_of_another_cluster_is_named_not_blamed_on_propagation(monkeypatch):
    # cluster_name is blue, the connection reaches green: the static check (blue's issuer) passes, green's token is refused.
    aws = FakeAWS(monkeypatch, sts_answers=[DENIED] * 50)
    module = FakeModule(oidc_provider=None, cluster_name="blue", propagation_timeout=60)
    verifier = make_verifier(module, ClusterKube(annotated(), OTHER_ISSUER))
    verifier.stop = ClockEvent(monkeypatch)
    monkeypatch.setattr(verifier, "issuer", lambda: parse_issuer(ISSUER))  # what DescribeCluster of blue answers
    entry = verifier.verify(binding())
    assert not entry["verified"]
    assert names(entry) == ["token"]
    check = token_check(entry)
    assert "issued the ServiceAccount token under the issuer " + OTHER_ISSUER in check["message"]
    assert "but cluster_name 'blue' has the issuer " + ISSUER in check["message"]
    assert "the Kubernetes connection reaches another cluster than cluster_name 'blue'" in check["message"]
    assert "names " + PROVIDER + "; the token's issuer is not among them" in check["message"]
    assert "caught up" not in check["message"] and "propagation" not in check["remediation"]
    assert "Point the Kubernetes connection (kubeconfig, context or host) at the cluster of cluster_name 'blue'" in check["remediation"]
    assert "set cluster_name to the cluster the connection reaches" in check["remediation"]
    # Nothing was exchanged and nothing waited for.
    assert aws.count("assume") == 0 and verifier.stop.now == 0


def test_with_oidc_provider_the_option_is_named(monkeypatch):
    FakeAWS(monkeypatch, provider_client_ids=("sts.amazonaws.com",))
    verifier = make_verifier(FakeModule(), ClusterKube(annotated(), OTHER_ISSUER))
    check = token_check(verifier.verify(binding()))
    assert "but oidc_provider has the issuer " + ISSUER in check["message"]
    assert "IAM has an OIDC provider for the token's issuer (arn:aws:iam::{0}:oidc-provider/{1})".format(ACCOUNT, OTHER_PROVIDER) in check["message"]
    assert "set oidc_provider to the cluster the connection reaches (its issuer is {0})".format(OTHER_ISSUER) in check["remediation"]


def test_without_a_cluster_the_token_claims_are_judged_before_propagation(monkeypatch):
    # checks: [token] without cluster_name/oidc_provider: the trust is compared with the token's own issuer.
    aws = FakeAWS(monkeypatch, sts_answers=[DENIED] * 50)
    verifier = make_verifier(FakeModule(oidc_provider=None, checks=["token"]), ClusterKube(annotated(), OTHER_ISSUER))
    verifier.stop = ClockEvent(monkeypatch)
    entry = verifier.verify(binding())
    check = token_check(entry)
    assert "trusts the OIDC provider(s) arn:aws:iam::{0}:oidc-provider/{1}".format(ACCOUNT, PROVIDER) in check["message"]
    assert "not this cluster's provider arn:aws:iam::{0}:oidc-provider/{1}".format(ACCOUNT, OTHER_PROVIDER) in check["message"]
    assert "caught up" not in check["message"] and "propagation_timeout" not in check["message"]
    assert "(1 attempt over 0 s)" in check["message"] and aws.count("assume") == 1


def test_a_token_of_the_named_cluster_with_a_right_trust_is_still_waited_for(monkeypatch):
    FakeAWS(monkeypatch, sts_answers=[DENIED] * 50)
    verifier = make_verifier(FakeModule(propagation_timeout=20), ClusterKube(annotated(), ISSUER))
    verifier.stop = ClockEvent(monkeypatch)
    check = token_check(verifier.verify(binding()))
    assert "STS has not caught up with IAM" in check["message"] and "(6 attempts over 20 s)" in check["message"]


def test_an_account_typo_is_not_called_a_path_difference(monkeypatch):
    # The annotation names account 999999999999; the credentials are of ACCOUNT, which has a role 'my-app'.
    wrong = "arn:aws:iam::999999999999:role/my-app"
    aws = FakeAWS(monkeypatch, sts_answers=[DENIED])
    entry = make_verifier(FakeModule(), FakeKube(annotated(role_arn=wrong))).verify(binding())
    checks = {c["name"]: c for c in entry["checks"]}
    assert "role_arn_path" not in checks
    assert not checks["role"]["passed"]
    assert "names the role {0} in account 999999999999, but the AWS credentials in use are of account {1}".format(
        wrong, ACCOUNT) in checks["role"]["message"]
    assert "set eks.amazonaws.com/role-arn to {0}".format(ROLE_ARN) in checks["role"]["remediation"]
    assert "credentials of account 999999999999" in checks["role"]["remediation"]
    # No advice to create an OIDC provider in the other account, and no provider read there.
    assert checks["oidc_provider"].get("skipped") and "Create" not in json.dumps(entry["checks"])
    assert aws.count("get_oidc_provider") == 0
    assert token_check(entry)["remediation"] == checks["role"]["remediation"]


def test_a_missing_role_is_not_fixed_in_a_trust_policy(monkeypatch):
    FakeAWS(monkeypatch, roles={}, sts_answers=[DENIED])
    entry = make_verifier(FakeModule(), FakeKube(annotated())).verify(binding())
    assert names(entry) == ["role", "token"]
    check = token_check(entry)
    assert "does not exist in account " + ACCOUNT in check["message"]
    assert "trust policy" not in check["remediation"]
    assert "Create the role (eks.irsa.irsa_role name: my-app)" in check["remediation"]
