# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The verification logic of irsa_verify: facts in, check results (what, why, how to fix) out."""

import copy
import json
import random

import pytest

from ansible_collections.eks.irsa.plugins.module_utils import pod_identity
from ansible_collections.eks.irsa.plugins.module_utils.verify import pod as verify_pod
from ansible_collections.eks.irsa.plugins.module_utils.verify import results as verify_results
from ansible_collections.eks.irsa.plugins.module_utils.verify import static as verify_static
from ansible_collections.eks.irsa.plugins.module_utils.verify import token as verify_token

PROVIDER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
OTHER_PROVIDER = "oidc.eks.us-west-2.amazonaws.com/id/B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6"
ISSUER = "https://" + PROVIDER
ACCOUNT = "111122223333"
PROVIDER_ARN = "arn:aws:iam::{0}:oidc-provider/{1}".format(ACCOUNT, PROVIDER)
OTHER_PROVIDER_ARN = "arn:aws:iam::{0}:oidc-provider/{1}".format(ACCOUNT, OTHER_PROVIDER)
ROLE_ARN = "arn:aws:iam::{0}:role/my-app".format(ACCOUNT)
SUB = "system:serviceaccount:default:my-app"
AUD = "sts.amazonaws.com"
CLAIMS = {"iss": ISSUER, "sub": SUB, "aud": AUD}


def service_account(annotations=None, name="my-app", namespace="default"):
    return {"metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}}}


def statement(sub=SUB, aud=AUD, provider=PROVIDER, provider_arn=PROVIDER_ARN, operator="StringEquals", effect="Allow", sid=None):
    condition = {operator: {provider + ":sub": sub}}
    if aud is not None:
        condition.setdefault("StringEquals", {})[provider + ":aud"] = aud
    stmt = {"Effect": effect, "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}
    if sid:
        stmt["Sid"] = sid
    return stmt


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def by_name(checks):
    return {entry["name"]: entry for entry in checks}


# ---------------------------------------------------------------------------------------------
# ServiceAccount and annotation


@pytest.mark.parametrize(
    "sa, role_arn, namespace_exists, passed, expect_role, phrases",
    [
        (service_account({"eks.amazonaws.com/role-arn": ROLE_ARN}), None, True, True, ROLE_ARN, ["annotated with " + ROLE_ARN]),
        (service_account({"eks.amazonaws.com/role-arn": ROLE_ARN}), ROLE_ARN, True, True, ROLE_ARN, []),
        (None, None, True, False, None, ["ServiceAccount default/my-app does not exist"]),
        (None, None, False, False, None, ["namespace 'default' does not exist"]),
        (service_account(), None, True, False, None, ["has no eks.amazonaws.com/role-arn annotation", "node's role"]),
        (service_account(), ROLE_ARN, True, False, ROLE_ARN, ["has no eks.amazonaws.com/role-arn annotation"]),
        (service_account({"eks.amazon.com/role-arn": ROLE_ARN}), None, True, False, None,
         ["'eks.amazon.com/role-arn'", "webhook ignores", "must be exactly eks.amazonaws.com/role-arn"]),
        (service_account({"eks.amazonaws.com/role_arn": ROLE_ARN}), None, True, False, None, ["'eks.amazonaws.com/role_arn'"]),
        (service_account({"eks.amazonaws.com/rolearn": ROLE_ARN}), None, True, False, None, ["'eks.amazonaws.com/rolearn'"]),
        (service_account({"eks.amazonaws.com/role-arn ": ROLE_ARN}), None, True, False, None, ["'eks.amazonaws.com/role-arn '"]),
        (service_account({"EKS.amazonaws.com/Role-ARN": ROLE_ARN}), None, True, False, None, ["'EKS.amazonaws.com/Role-ARN'"]),
        (service_account({"eks.amazonaws.com/role-arn": "my-app"}), None, True, False, None, ["not an IAM role ARN"]),
        (service_account({"eks.amazonaws.com/role-arn": ROLE_ARN + " "}), None, True, False, None, ["white space"]),
        (service_account({"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:user/bob"}), None, True, False, None,
         ["not an IAM role ARN"]),
        (service_account({"eks.amazonaws.com/role-arn": ROLE_ARN}), ROLE_ARN + "-2", True, False, ROLE_ARN + "-2",
         ["annotated with " + ROLE_ARN + ", not with the expected role " + ROLE_ARN + "-2"]),
    ],
    ids=["annotated", "expected-matches", "no-sa", "no-namespace", "no-annotation", "no-annotation-role-given",
         "domain-misspelled", "underscore", "no-dash", "trailing-space-key", "upper-case-key", "not-an-arn", "value-space",
         "user-arn", "other-role"],
)
def test_service_account_checks(sa, role_arn, namespace_exists, passed, expect_role, phrases):
    checks, resolved, audience = verify_static.service_account_checks("default", "my-app", sa, role_arn, namespace_exists)
    assert len(checks) == 1
    assert checks[0]["passed"] is passed
    assert resolved == expect_role
    assert audience == AUD
    for phrase in phrases:
        assert phrase in checks[0]["message"]
    if not passed:
        assert checks[0]["remediation"]
        assert checks[0]["severity"] == "error"


def test_audience_annotation():
    sa = service_account({"eks.amazonaws.com/role-arn": ROLE_ARN, "eks.amazonaws.com/audience": "my-aud"})
    checks, _role, audience = verify_static.service_account_checks("default", "my-app", sa)
    assert audience == "my-aud"
    assert "audience 'my-aud'" in checks[0]["message"]


@pytest.mark.parametrize(
    "key, near",
    [
        ("eks.amazonaws.com/role-arn", False),
        ("eks.amazonaws.com/audience", False),
        ("eks.amazonaws.com/sts-regional-endpoints", False),
        ("eks.amazonaws.com/token-expiration", False),
        ("kubectl.kubernetes.io/last-applied-configuration", False),
        ("eks.amazonaws.com/role", True),
        ("eks.amazonaws.com/iam-role-arn", True),
        ("eks.amazonaws.io/role-arn", True),
        ("iam.amazonaws.com/role-arn", True),
    ],
)
def test_near_miss_role_keys(key, near):
    assert pod_identity.near_miss_role_keys({key: "x"}) == ([key] if near else [])


# ---------------------------------------------------------------------------------------------
# Role and OIDC provider


def test_role_missing():
    (check,) = verify_static.role_checks(ROLE_ARN, None)
    assert not check["passed"]
    assert "'my-app' does not exist in account 111122223333" in check["message"]
    assert "eks.irsa.irsa_role" in check["remediation"]


def test_role_in_other_account():
    (check,) = verify_static.role_checks(ROLE_ARN, None, caller_account="444455556666")
    assert "in account 111122223333, but the AWS credentials in use belong to account 444455556666" in check["message"]
    assert "credentials of account 111122223333" in check["remediation"]


def test_role_path_differs_is_an_error():
    # STS finds a role by its whole ARN, path included: the annotation without the path is refused.
    checks = by_name(verify_static.role_checks(ROLE_ARN, {"Arn": "arn:aws:iam::111122223333:role/team/my-app"}))
    assert checks["role"]["passed"]
    assert checks["role_arn_path"]["severity"] == "error" and checks["role_arn_path"]["passed"] is False
    assert "STS looks the role up by its whole ARN, path included" in checks["role_arn_path"]["message"]
    assert "arn:aws:iam::111122223333:role/team/my-app" in checks["role_arn_path"]["remediation"]


@pytest.mark.parametrize(
    "provider, audience, passed, phrases",
    [
        ({"client_ids": [AUD]}, AUD, True, ["exists and accepts the audience"]),
        (None, AUD, False, ["No IAM OIDC provider for the cluster's issuer " + ISSUER, "No OpenIDConnect provider found"]),
        ({"client_ids": []}, AUD, False, ["accepts the client IDs []", "'sts.amazonaws.com'", "Incorrect token audience"]),
        ({"client_ids": [AUD]}, "my-aud", False, ["carry the audience 'my-aud' (its eks.amazonaws.com/audience annotation)"]),
    ],
    ids=["ok", "missing", "no-sts-client-id", "audience-annotation"],
)
def test_provider_checks(provider, audience, passed, phrases):
    (check,) = verify_static.provider_checks(PROVIDER_ARN, ISSUER, provider, audience)
    assert check["passed"] is passed
    for phrase in phrases:
        assert phrase in check["message"]
    if not passed:
        assert "eks.irsa.eks_oidc_provider" in check["remediation"] or "eksctl" in check["remediation"]


# ---------------------------------------------------------------------------------------------
# Trust policy: the deciding statement, or why none matched

TRUST_CASES = [
    # id, policy, claims, passed, phrases in message, phrase in remediation
    ("allowed", policy(statement()), CLAIMS, True, ["allows sub 'system:serviceaccount:default:my-app'", "statement 0"], None),
    ("allowed-by-sid", policy(statement(sub="system:serviceaccount:x:y"), statement(sid="App")), CLAIMS, True, ["statement 1 (App)"], None),
    ("other-serviceaccount", policy(statement(sub="system:serviceaccount:default:other")), CLAIMS, False,
     ["Expected sub 'system:serviceaccount:default:my-app'", "the trust has 'system:serviceaccount:default:other'",
      "another ServiceAccount of namespace 'default' (other)"], "service_accounts including 'default:my-app'"),
    ("other-namespace", policy(statement(sub="system:serviceaccount:staging:my-app")), CLAIMS, False,
     ["the trust has 'system:serviceaccount:staging:my-app'", "ServiceAccount 'my-app' in another namespace (staging), not in 'default'"],
     "eks.irsa.irsa_role"),
    ("star-under-stringequals", policy(statement(sub="system:serviceaccount:default:*")), CLAIMS, False,
     ["under StringEquals, which takes '*' and '?' literally"], "StringLike"),
    ("star-under-stringlike", policy(statement(sub="system:serviceaccount:default:*", operator="StringLike")), CLAIMS, True, [], None),
    ("other-provider", policy(statement(provider=OTHER_PROVIDER, provider_arn=OTHER_PROVIDER_ARN)), CLAIMS, False,
     ["trusts the OIDC provider(s) " + OTHER_PROVIDER_ARN + " (another EKS cluster's issuer)", "not this cluster's provider " + PROVIDER_ARN],
     "oidc_providers"),
    ("other-account", policy(statement(provider_arn="arn:aws:iam::444455556666:oidc-provider/" + PROVIDER)), CLAIMS, False,
     ["the same issuer in account 444455556666"], None),
    ("other-audience", policy(statement(aud="my-aud")), CLAIMS, False,
     ["carry aud 'sts.amazonaws.com'; the trust expects 'my-aud'"], "eks.amazonaws.com/audience"),
    ("explicit-deny", policy(statement(), statement(sub="system:serviceaccount:default:*", operator="StringLike", effect="Deny", sid="NoDefault")),
     CLAIMS, False, ["statement 1 (NoDefault) denies explicitly"], "Narrow or remove statement 1 (NoDefault)"),
    ("no-statements", policy(), CLAIMS, False, ["has no statements"], None),
    ("ec2-only", policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}), CLAIMS, False,
     ["no statement names the OIDC provider"], None),
    ("wrong-action", policy(dict(statement(), Action="sts:AssumeRole")), CLAIMS, False,
     ["does not cover sts:AssumeRoleWithWebIdentity"], None),
]


@pytest.mark.parametrize("case_id, document, claims, passed, phrases, fix", TRUST_CASES, ids=[case[0] for case in TRUST_CASES])
def test_trust_checks(case_id, document, claims, passed, phrases, fix):
    checks = by_name(verify_static.trust_checks(document, PROVIDER_ARN, claims, role_name="my-app"))
    check = checks["trust_policy"]
    assert check["passed"] is passed, check["message"]
    assert check["message"].startswith("The trust policy of role 'my-app'")
    for phrase in phrases:
        assert phrase in check["message"], check["message"]
    if fix:
        assert fix in check["remediation"], check["remediation"]
    if not passed:
        assert check["remediation"]


def test_trust_without_aud_condition_warns():
    checks = by_name(verify_static.trust_checks(policy(statement(aud=None)), PROVIDER_ARN, CLAIMS))
    assert checks["trust_policy"]["passed"]
    warning = checks["trust_policy_audience"]
    assert warning["severity"] == "warning" and warning["passed"] is False
    assert PROVIDER + ":aud" in warning["message"]
    assert verify_results.is_verified(list(checks.values()))


def test_trust_size_warning():
    subjects = ["system:serviceaccount:ns-{0:03d}:app".format(i) for i in range(44)] + [SUB]
    document = policy(statement(sub=subjects))
    checks = by_name(verify_static.trust_checks(document, PROVIDER_ARN, CLAIMS))
    size = len(json.dumps(document, separators=(",", ":")))
    assert size >= 2048 * 0.9, size
    assert checks["trust_policy_size"]["severity"] == "warning"
    assert "of IAM's limit of 2048" in checks["trust_policy_size"]["message"]
    small = by_name(verify_static.trust_checks(policy(statement()), PROVIDER_ARN, CLAIMS))
    assert "trust_policy_size" not in small


# ---------------------------------------------------------------------------------------------
# Webhook and stale pods


def webhook(name="pod-identity-webhook", hook="iam-for-pods.amazonaws.com"):
    return {"metadata": {"name": name}, "webhooks": [{"name": hook}]}


@pytest.mark.parametrize(
    "configurations, error, passed, severity, phrase",
    [
        ([webhook()], None, True, "error", "installed (pod-identity-webhook)"),
        ([webhook(name="amazon-eks-pod-identity-webhook")], None, True, "error", "amazon-eks-pod-identity-webhook"),
        ([webhook(name="other", hook="other.example.com")], None, False, "error", "has no pod identity webhook"),
        ([], None, False, "error", "keep the node's role"),
        (None, "Forbidden", False, "warning", "Could not tell"),
    ],
)
def test_webhook_check(configurations, error, passed, severity, phrase):
    check = verify_static.webhook_check(configurations, error)
    assert check["passed"] is passed
    assert check["severity"] == severity
    assert phrase in check["message"]


def mutated_pod(name="p", role_arn=ROLE_ARN, phase="Running"):
    return {
        "metadata": {"name": name},
        "spec": {
            "volumes": [{"name": "aws-iam-token"}],
            "containers": [{"name": "c", "env": [
                {"name": "AWS_ROLE_ARN", "value": role_arn},
                {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
            ]}],
        },
        "status": {"phase": phase},
    }


def plain_pod(name="old", phase="Running"):
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": phase}}


@pytest.mark.parametrize(
    "pod, problems",
    [
        (mutated_pod(), []),
        (plain_pod(), ["no aws-iam-token volume", "container 'c' has no AWS_ROLE_ARN", "container 'c' has no AWS_WEB_IDENTITY_TOKEN_FILE"]),
        (mutated_pod(role_arn=ROLE_ARN + "-old"), ["container 'c' has AWS_ROLE_ARN=" + ROLE_ARN + "-old, not " + ROLE_ARN]),
    ],
)
def test_mutation_problems(pod, problems):
    assert pod_identity.mutation_problems(pod, ROLE_ARN) == problems


def test_stale_pods_warning():
    pods = [mutated_pod("new"), plain_pod("old"), plain_pod("done", phase="Succeeded"), mutated_pod("moved", role_arn="x")]
    check = verify_static.stale_pods_check("default", "my-app", pods, ROLE_ARN)
    assert check["severity"] == "warning"
    assert "2 running pod(s)" in check["message"] and "moved, old" in check["message"]
    assert "rollout restart" in check["remediation"]
    assert verify_static.stale_pods_check("default", "my-app", [mutated_pod()], ROLE_ARN) is None


# ---------------------------------------------------------------------------------------------
# Token exchange


def test_retry_policy_backs_off_within_the_timeout():
    policy_ = verify_token.RetryPolicy(timeout=20)
    elapsed, attempt, delays = 0.0, 1, []
    while True:
        delay = policy_.next_delay(attempt, elapsed)
        if delay is None:
            break
        delays.append(delay)
        elapsed += delay
        attempt += 1
    # The last attempt is made when the 20 s are up: a change that reaches STS at second 19 still passes.
    assert delays == [1, 2, 4, 8, 5]
    assert sum(delays) == 20
    assert verify_token.RetryPolicy(timeout=0).next_delay(1, 0) is None
    assert verify_token.RetryPolicy(timeout=3).next_delay(2, 3.0) is None
    assert verify_token.RetryPolicy(timeout=60).next_delay(10, 55.0) == 5.0
    assert policy_.retryable("AccessDenied") and policy_.retryable("InvalidIdentityToken")
    assert not policy_.retryable("ExpiredTokenException")


@pytest.mark.parametrize(
    "code, message, static, phrases, fix",
    [
        ("InvalidIdentityToken", "No OpenIDConnect provider found in your account for " + ISSUER, [],
         ["STS answered InvalidIdentityToken: No OpenIDConnect provider found", "IAM has no OIDC provider " + PROVIDER_ARN], "eks_oidc_provider"),
        ("InvalidIdentityToken", "Incorrect token audience", [], ["audience 'sts.amazonaws.com' is not a client ID"], "client_ids"),
        ("InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider", [], ["JWKS"], "thumbprint"),
        ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", [],
         ["does not exist, or its trust policy does not allow sub 'system:serviceaccount:default:my-app'"], "trust policy"),
        ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity",
         [{"message": "The trust policy of role 'my-app' does not let it."}], ["The trust policy of role 'my-app' does not let it."], None),
        ("ExpiredTokenException", "Token expired", [], ["clock"], "NTP"),
        ("RegionDisabledException", "STS is not activated", [], ["not activated"], "Activate"),
    ],
)
def test_sts_error_diagnosis(code, message, static, phrases, fix):
    text, remediation = verify_token.sts_error_diagnosis(code, message, ROLE_ARN, PROVIDER_ARN, AUD, SUB, static)
    for phrase in phrases:
        assert phrase in text
    if fix:
        assert fix in remediation


def passed(*names):
    return [verify_results.result(name, "static", True, "fine") for name in names]


@pytest.mark.parametrize(
    "code, message, found",
    [
        ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity",
         "found the role {0} with a trust policy that allows sub {1!r}".format(ROLE_ARN, SUB)),
        ("InvalidIdentityToken", "No OpenIDConnect provider found in your account for " + ISSUER,
         "found the OIDC provider {0} with the client ID {1!r}".format(PROVIDER_ARN, AUD)),
    ],
)
def test_a_refusal_the_static_check_contradicts_is_reported_as_not_propagated(code, message, found):
    checks = passed("role_arn_annotation", "role", "oidc_provider", "trust_policy", "webhook")
    text, remediation = verify_token.sts_error_diagnosis(code, message, ROLE_ARN, PROVIDER_ARN, AUD, SUB, [], propagation=(30, checks))
    assert text.startswith("STS answered {0}: ".format(code))
    assert found in text
    assert "STS has not caught up with IAM" in text and "propagation_timeout (30 s) ran out" in text
    assert "run again later, or raise propagation_timeout (now 30 s)" in remediation
    assert "Fix the trust policy" not in remediation and "Create it with" not in remediation


def test_without_the_static_check_a_timed_out_refusal_names_both_causes():
    text, remediation = verify_token.sts_error_diagnosis(
        "AccessDenied", "Not authorized", ROLE_ARN, PROVIDER_ARN, AUD, SUB, [], propagation=(20, []))
    assert "does not exist, or its trust policy does not allow" in text
    assert "has not reached STS within propagation_timeout (20 s)" in text
    assert "Fix the trust policy" in remediation and "raise propagation_timeout" in remediation


@pytest.mark.parametrize(
    "static_failures, propagation",
    [
        ([], None),  # not retried for propagation
        ([], (0, passed("trust_policy"))),  # propagation_timeout 0
        ([{"message": "The trust policy of role 'my-app' does not let it."}], (0, passed("oidc_provider"))),  # explained
    ],
)
def test_a_refusal_not_waited_for_is_not_blamed_on_propagation(static_failures, propagation):
    text, remediation = verify_token.sts_error_diagnosis(
        "AccessDenied", "Not authorized", ROLE_ARN, PROVIDER_ARN, AUD, SUB, static_failures, propagation=propagation)
    assert "propagat" not in text + remediation
    assert "Fix the trust policy" in remediation


@pytest.mark.parametrize(
    "arn, passed, phrase",
    [
        ("arn:aws:sts::111122223333:assumed-role/my-app/eks-irsa-verify", True, "got arn:aws:sts::111122223333:assumed-role/my-app/"),
        ("arn:aws:sts::111122223333:assumed-role/eksctl-nodegroup-NodeInstanceRole/i-0123", False, "the node's identity"),
        ("arn:aws:sts::111122223333:assumed-role/other/x", False, "a session of role 'other'"),
        ("arn:aws:sts::444455556666:assumed-role/my-app/x", False, "in account 444455556666"),
        ("arn:aws:iam::111122223333:user/bob", False, "another identity"),
    ],
)
def test_identity_check(arn, passed, phrase):
    check = verify_token.identity_check("token", ROLE_ARN, {"arn": arn, "account": "x", "user_id": "y"}, "Exchanged")
    assert check["passed"] is passed
    assert phrase in check["message"]


def test_identity_check_ignores_role_path():
    check = verify_token.identity_check("pod", "arn:aws:iam::111122223333:role/team/my-app",
                                        {"arn": "arn:aws:sts::111122223333:assumed-role/my-app/s"}, "Ran")
    assert check["passed"]


def test_token_check_reports_attempts():
    check = verify_token.token_check(ROLE_ARN, error=("STS answered AccessDenied: no.", "fix it"), attempts=5, elapsed=14.6)
    assert check["message"] == "STS answered AccessDenied: no (5 attempts over 15 s)."
    assert check["remediation"] == "fix it"
    ok = verify_token.token_check(ROLE_ARN, identity={"arn": "arn:aws:sts::111122223333:assumed-role/my-app/s"}, attempts=1, elapsed=0.2)
    assert ok["passed"] and "(1 attempt over 0 s)" in ok["message"]


# ---------------------------------------------------------------------------------------------
# The verification pod

RESTRICTED_POD_FIELDS = ("hostNetwork", "hostPID", "hostIPC")


def test_pod_manifest_passes_restricted_profile():
    manifest = verify_pod.pod_manifest("irsa-verify-abcde", "default", "my-app", image_pull_secrets=["regcred"], deadline=180)
    spec = manifest["spec"]
    assert manifest["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "eks.irsa"
    assert spec["serviceAccountName"] == "my-app"
    assert spec["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == 180
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert not any(field in spec for field in RESTRICTED_POD_FIELDS)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert all(volume.get("emptyDir") is not None for volume in spec["volumes"])
    (container,) = spec["containers"]
    assert container["image"] == "public.ecr.aws/aws-cli/aws-cli:2.25.4"
    assert container["command"] == ["aws", "sts", "get-caller-identity", "--output", "json"]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["runAsUser"] != 0
    assert set(container["resources"]) == {"requests", "limits"}


def test_pod_name_is_random_and_valid():
    names = {verify_pod.pod_name(random.Random(seed)) for seed in range(20)}
    assert len(names) == 20
    for name in names:
        assert name.startswith("irsa-verify-") and len(name) == len("irsa-verify-") + 5
        assert name == name.lower()


SEED_LOG = json.dumps({
    "UserId": "AROAEXAMPLE:botocore-session-1700000000",
    "Account": ACCOUNT,
    "Arn": "arn:aws:sts::111122223333:assumed-role/my-app/botocore-session-1700000000",
}, indent=4) + "\n"


@pytest.mark.parametrize(
    "log, arn",
    [
        (SEED_LOG, "arn:aws:sts::111122223333:assumed-role/my-app/botocore-session-1700000000"),
        ("some warning\n" + SEED_LOG, "arn:aws:sts::111122223333:assumed-role/my-app/botocore-session-1700000000"),
        ("{not json}\n" + SEED_LOG, "arn:aws:sts::111122223333:assumed-role/my-app/botocore-session-1700000000"),
        ("", None),
        ("{\"a\": 1}", None),
    ],
)
def test_parse_caller_identity_log(log, arn):
    found = verify_pod.parse_caller_identity_log(log)
    assert (found or {}).get("Arn") == arn


def pod_status(phase, state, conditions=None, reason=None):
    status = {"phase": phase, "containerStatuses": [{"name": "irsa-verify", "state": state}]}
    if conditions:
        status["conditions"] = conditions
    if reason:
        status["reason"] = reason
    return {"metadata": {"name": "irsa-verify-abcde"}, "status": status}


EVENTS = [
    {"type": "Normal", "reason": "Scheduled", "message": "Successfully assigned", "lastTimestamp": "2024-01-01T00:00:01Z"},
    {"type": "Warning", "reason": "Failed", "message": "Failed to pull image", "lastTimestamp": "2024-01-01T00:00:03Z"},
]


@pytest.mark.parametrize(
    "pod, log, timed_out, passed, phrases, fix",
    [
        (pod_status("Succeeded", {"terminated": {"exitCode": 0, "reason": "Completed"}}), SEED_LOG, False, True,
         ["ran aws sts get-caller-identity", "assumed-role/my-app/"], None),
        (pod_status("Failed", {"terminated": {"exitCode": 127, "reason": "Error"}}),
         "eks-sandbox: cannot run 'nope': this sandbox's kubelet runs only ...\n", False, False,
         ["did not print a caller identity", "phase Failed", "container terminated Error (exit code 127)", "log tail: eks-sandbox: cannot run 'nope'"],
         "pod_command"),
        (pod_status("Failed", {"terminated": {"exitCode": 254, "reason": "Error"}}),
         "\nAn error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform "
         "sts:AssumeRoleWithWebIdentity\n", False, False,
         ["could not assume the role: STS answered AccessDenied", "exit code 254"], "trust policy"),
        (pod_status("Pending", {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}), "", False, False,
         ["container waiting ImagePullBackOff (Back-off pulling image)", "events: Normal Scheduled", "Warning Failed: Failed to pull image"],
         "image_pull_secrets"),
        (pod_status("Pending", {"waiting": {"reason": "ContainerCreating"}},
                    conditions=[{"type": "PodScheduled", "status": "False", "message": "0/3 nodes are available"}]), "", True, False,
         ["did not finish within 180 s", "not scheduled: 0/3 nodes are available"], "pod_timeout"),
        (pod_status("Succeeded", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
         SEED_LOG.replace("assumed-role/my-app/", "assumed-role/eksctl-ng-NodeInstanceRole-1/"), False, False,
         ["the node's identity"], None),
        # Kubernetes stopped the pod at its activeDeadlineSeconds (pod_timeout) before the wait ran out.
        (dict(pod_status("Failed", {"terminated": {"exitCode": 137, "reason": "Error"}}),
              status={"phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active on the node longer than the specified deadline",
                      "containerStatuses": [{"name": "irsa-verify", "state": {"terminated": {"exitCode": 137, "reason": "Error"}}}]}),
         "", False, False, ["did not finish within 180 s", "DeadlineExceeded"], "raise pod_timeout"),
    ],
    ids=["success", "unknown-command", "access-denied", "image-pull", "unschedulable-timeout", "node-role", "deadline-exceeded"],
)
def test_pod_outcome_check(pod, log, timed_out, passed, phrases, fix):
    check = verify_pod.pod_outcome_check("irsa-verify-abcde", ROLE_ARN, pod, EVENTS, log, timed_out, 180,
                                         context={"provider_arn": PROVIDER_ARN, "audience": AUD, "subject": SUB})
    assert check["passed"] is passed, check["message"]
    for phrase in phrases:
        assert phrase in check["message"], check["message"]
    if fix:
        assert fix in check["remediation"], check["remediation"]


@pytest.mark.parametrize(
    "pod, finished",
    [
        (pod_status("Pending", {"waiting": {"reason": "ContainerCreating"}}), False),
        (pod_status("Running", {"running": {}}), False),
        (pod_status("Pending", {"waiting": {"reason": "ErrImagePull"}}), True),
        (pod_status("Pending", {"waiting": {"reason": "CreateContainerConfigError"}}), True),
        (pod_status("Running", {"terminated": {"exitCode": 1}}), True),
        (pod_status("Succeeded", {"terminated": {"exitCode": 0}}), True),
        (pod_status("Failed", {}), True),
    ],
)
def test_pod_finished(pod, finished):
    assert verify_pod.pod_finished(pod) is finished


def test_log_tail_and_events_are_bounded():
    log = "".join("line {0}\n".format(i) for i in range(50))
    assert verify_pod.log_tail(log).splitlines() == ["line {0}".format(i) for i in range(40, 50)]
    events = [{"type": "Normal", "reason": "R{0}".format(i), "message": "m", "lastTimestamp": "2024-01-01T00:00:{0:02d}Z".format(i)}
              for i in range(9)]
    described = verify_pod.describe_events(list(reversed(events)))
    assert [line.split()[1] for line in described] == ["R4:", "R5:", "R6:", "R7:", "R8:"]


# Seconds since the epoch of 2024-05-01T10:00:00Z, the "now" of the leftover tests.
NOW = 1714557600


def verification_pod(name, phase, created="2024-05-01T09:59:00Z", finished=None, service_account="my-app", deadline=180, **metadata):
    """A verification pod as pod_manifest makes it and the API server lists it."""
    pod = verify_pod.pod_manifest(name, "default", service_account, deadline=deadline)
    pod["metadata"].update(creationTimestamp=created, **metadata)
    pod["status"] = {"phase": phase}
    if finished:
        pod["status"]["containerStatuses"] = [{"name": "irsa-verify", "state": {"terminated": {"exitCode": 0, "finishedAt": finished}}}]
    return pod


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("2024-05-01T10:00:00Z", NOW),
        ("2024-05-01T10:00:00.123456Z", NOW),
        ("2024-05-01T12:00:00+02:00", NOW),
        ("2024-05-01T08:30:00-01:30", NOW),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_rfc3339_seconds(value, seconds):
    assert verify_pod.rfc3339_seconds(value) == seconds


@pytest.mark.parametrize(
    "pod, leftover",
    [
        # Ended long enough ago: the run that made it is gone.
        (verification_pod("irsa-verify-aaaaa", "Succeeded", finished="2024-05-01T09:59:30Z"), True),
        (verification_pod("irsa-verify-aaaaa", "Failed", finished="2024-05-01T09:59:30Z"), True),
        # Ended within the grace: its run may be reading its log right now.
        (verification_pod("irsa-verify-aaaaa", "Succeeded", finished="2024-05-01T09:59:57Z"), False),
        # Ended, no container status: the last condition change, else the creation, tells when.
        (dict(verification_pod("irsa-verify-aaaaa", "Failed"), status={"phase": "Failed", "conditions": [
            {"type": "Ready", "lastTransitionTime": "2024-05-01T09:59:58Z"}]}), False),
        (verification_pod("irsa-verify-aaaaa", "Failed"), True),
        (verification_pod("irsa-verify-aaaaa", "Failed", created=None), True),
        # Running or pending within its deadline: possibly a concurrent run's.
        (verification_pod("irsa-verify-aaaaa", "Running"), False),
        (verification_pod("irsa-verify-aaaaa", "Pending", created="2024-05-01T09:57:00Z"), False),
        # Past its activeDeadlineSeconds (and the grace): its run gave up on it, or was killed.
        (verification_pod("irsa-verify-aaaaa", "Running", created="2024-05-01T09:56:54Z"), True),
        (verification_pod("irsa-verify-aaaaa", "Pending", created="2024-05-01T09:59:00Z", deadline=30), True),
        (verification_pod("irsa-verify-aaaaa", "Running", created=None), False),
        # Not this ServiceAccount's, not a verification pod, or already going.
        (verification_pod("irsa-verify-aaaaa", "Succeeded", finished="2024-05-01T09:59:30Z", service_account="other"), False),
        (verification_pod("irsa-verify-aaaaa", "Succeeded", finished="2024-05-01T09:59:30Z", labels={"app": "my-app"}), False),
        (verification_pod("irsa-verify-aaaaa", "Succeeded", finished="2024-05-01T09:59:30Z",
                          labels={"app.kubernetes.io/managed-by": "eks.irsa"}), False),
        (verification_pod("irsa-verify-aaaaa", "Succeeded", finished="2024-05-01T09:59:30Z",
                          deletionTimestamp="2024-05-01T09:59:59Z"), False),
    ],
)
def test_leftover_verification_pods(pod, leftover):
    assert verify_pod.leftover_verification_pods([pod], "my-app", NOW) == (["irsa-verify-aaaaa"] if leftover else [])


def test_leftover_verification_pods_picks_among_many():
    pods = [
        verification_pod("irsa-verify-ccccc", "Failed", finished="2024-05-01T09:50:00Z"),
        verification_pod("irsa-verify-bbbbb", "Running"),
        verification_pod("irsa-verify-aaaaa", "Succeeded", finished="2024-05-01T09:59:00Z"),
        {"metadata": {"name": "my-app-7d9f8"}, "spec": {"serviceAccountName": "my-app"}, "status": {"phase": "Succeeded"}},
    ]
    assert verify_pod.leftover_verification_pods(pods, "my-app", NOW) == ["irsa-verify-aaaaa", "irsa-verify-ccccc"]
    assert verify_pod.leftover_verification_pods(pods, "my-app", NOW, grace=120) == ["irsa-verify-ccccc"]
    assert verify_pod.leftover_verification_pods(None, "my-app", NOW) == []


def test_not_mutated_check():
    check = verify_pod.not_mutated_check("irsa-verify-abcde", "default", "my-app", ROLE_ARN, ["no aws-iam-token volume"], webhook_known_missing=True)
    assert not check["passed"]
    assert "admitted without web identity credentials (no aws-iam-token volume): the cluster has no pod identity webhook" in check["message"]
    assert "kubectl get mutatingwebhookconfiguration pod-identity-webhook" in check["remediation"]


# ---------------------------------------------------------------------------------------------
# Outcome


def test_verified_and_report():
    ok = verify_results.result("a", "static", True, "fine")
    warn = verify_results.result("b", "static", False, "hm", "do", severity="warning")
    bad = verify_results.result("c", "token", False, "broken.", "fix it.")
    skip = verify_results.skipped("pod", "pod", "check mode")
    assert verify_results.is_verified([ok, warn, skip])
    assert not verify_results.is_verified([ok, bad])
    assert not verify_results.is_verified([skip])
    results = [
        {"namespace": "default", "service_account": "a", "verified": True, "checks": [ok]},
        {"namespace": "prod", "service_account": "b", "verified": False, "checks": [ok, warn, bad]},
    ]
    assert verify_results.summary(results) == {"total": 2, "verified": 1, "failed": 1}
    assert verify_results.failure_report(results) == ["prod/b: [c] broken. Fix: fix it."]


def test_a_failed_warning_is_reported_once_with_every_binding_it_concerns():
    warn = verify_results.result("webhook", "static", False, "Could not tell.", "Allow list.", severity="warning")
    size = verify_results.result("trust_size", "static", False, "Near the limit.", severity="warning")
    passed = verify_results.result("webhook", "static", True, "Installed.", severity="warning")
    results = [
        {"namespace": "a", "service_account": "x", "verified": True, "checks": [warn, size]},
        {"namespace": "b", "service_account": "y", "verified": True, "checks": [warn, passed]},
        {"namespace": "c", "service_account": "z", "verified": True, "checks": [passed]},
    ]
    assert verify_results.warning_report(results) == [
        "[webhook] Could not tell. Fix: Allow list. (a/x, b/y)",
        "[trust_size] Near the limit. (a/x)",
    ]
    assert verify_results.warning_report(results[2:]) == []


def test_results_do_not_share_state():
    first = verify_results.result("a", "static", False, "m", "r")
    second = copy.deepcopy(first)
    second["message"] = "x"
    assert first["message"] == "m"
