# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The checks of an EKS Pod Identity binding, and the trust evaluation for the service principal
pods.eks.amazonaws.com: facts in, findings (what, why, how to fix) out."""

from ansible_collections.eks.irsa.plugins.module_utils.trust import evaluate as trust_evaluate
from ansible_collections.eks.irsa.plugins.module_utils.verify import pod_identity_checks as checks

ACCOUNT = "111122223333"
CLUSTER = "blue"
CLUSTER_ARN = "arn:aws:eks:us-west-2:{0}:cluster/{1}".format(ACCOUNT, CLUSTER)
ROLE_ARN = "arn:aws:iam::{0}:role/shop-cart".format(ACCOUNT)
OTHER_ROLE_ARN = "arn:aws:iam::{0}:role/shop-other".format(ACCOUNT)
TARGET_ARN = "arn:aws:iam::444455556666:role/cart-data"
SERVICE = "pods.eks.amazonaws.com"


def association(role_arn=ROLE_ARN, namespace="shop", name="cart", **extra):
    found = {"associationId": "a-abcdefghijklmnopq", "clusterName": CLUSTER, "namespace": namespace, "serviceAccount": name,
             "roleArn": role_arn, "disableSessionTags": False}
    found.update(extra)
    return found


def summary(namespace, name):
    return {"namespace": namespace, "serviceAccount": name, "associationId": "a-" + name}


def trust(actions=("sts:AssumeRole", "sts:TagSession"), condition=None, principal=None):
    stmt = {"Effect": "Allow", "Principal": principal or {"Service": SERVICE}, "Action": list(actions)}
    if condition:
        stmt["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [stmt]}


def irsa_trust():
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::{0}:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/X".format(ACCOUNT)},
        "Action": "sts:AssumeRoleWithWebIdentity"}]}


def by_name(found):
    return {check["name"]: check for check in found if check is not None}


def pod(name, env=(), phase="Running"):
    return {"metadata": {"name": name}, "status": {"phase": phase},
            "spec": {"serviceAccountName": "cart", "containers": [{"name": "app", "env": [{"name": k, "value": v} for k, v in env]}]}}


POD_IDENTITY_ENV = (("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials"),
                    ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"))
IRSA_ENV = (("AWS_ROLE_ARN", OTHER_ROLE_ARN), ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"))


# --- the service principal in the trust evaluator -----------------------------------------------


def test_service_evaluation_allows_assume_role_and_tag_session_of_the_statement_aws_recommends():
    request = checks.request_context(CLUSTER_ARN, "shop", "cart")
    for action in ("sts:AssumeRole", "sts:TagSession"):
        decision = trust_evaluate.evaluate_service(trust(), SERVICE, action, request)
        assert decision.allowed and decision.statement_index == 0


def test_service_evaluation_honours_source_account_and_arn_like():
    condition = {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnLike": {"aws:SourceArn": "arn:aws:eks:us-west-2:{0}:cluster/b*".format(ACCOUNT)}}
    request = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": CLUSTER_ARN}
    assert trust_evaluate.evaluate_service(trust(condition=condition), SERVICE, "sts:AssumeRole", request).allowed
    decision = trust_evaluate.evaluate_service(trust(condition=condition), SERVICE, "sts:AssumeRole", {
        "aws:SourceAccount": ACCOUNT, "aws:SourceArn": CLUSTER_ARN.replace("/blue", "/green")})
    assert not decision.allowed
    assert "ArnLike on 'aws:SourceArn'" in decision.reason and "the request has" in decision.reason and "cluster/green" in decision.reason


def test_service_evaluation_deny_wins_and_federated_statements_do_not_name_the_service():
    policy = trust()
    policy["Statement"].append({"Effect": "Deny", "Principal": {"Service": SERVICE}, "Action": "sts:TagSession"})
    decision = trust_evaluate.evaluate_service(policy, SERVICE, "sts:TagSession", {})
    assert not decision.allowed and decision.effect == "Deny" and decision.statement_index == 1
    decision = trust_evaluate.evaluate_service(irsa_trust(), SERVICE, "sts:AssumeRole", {})
    assert not decision.allowed and "does not name the service pods.eks.amazonaws.com" in decision.reason


def test_web_identity_evaluation_is_unchanged_by_the_arn_operators():
    provider = "oidc.eks.us-west-2.amazonaws.com/id/X"
    arn = "arn:aws:iam::{0}:oidc-provider/{1}".format(ACCOUNT, provider)
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
                             "Condition": {"ArnLike": {provider + ":sub": "*"}}}]}
    decision = trust_evaluate.evaluate(policy, {"iss": "https://" + provider, "sub": "system:serviceaccount:a:b", "aud": "x"}, arn)
    assert not decision.allowed and "unknown condition operator 'ArnLike'" in decision.reason


# --- association ----------------------------------------------------------------------------------


def test_association_found_for_the_role_passes():
    check = checks.association_check(CLUSTER, "shop", "cart", association(), [], ROLE_ARN)
    assert check["passed"] and "a-abcdefghijklmnopq" in check["message"] and ROLE_ARN in check["message"]


def test_missing_association_names_the_near_misses():
    others = [summary("shop-dev", "cart"), summary("shop", "payments"), summary("other", "x")]
    check = checks.association_check(CLUSTER, "shop", "cart", None, others, ROLE_ARN)
    assert check["passed"] is False and check["severity"] == "error"
    assert "no Pod Identity association for shop/cart" in check["message"]
    assert "for the ServiceAccount 'cart' in another namespace: shop-dev/cart" in check["message"]
    assert "other ServiceAccounts: shop/payments" in check["message"]
    assert "other/x" not in check["message"]
    assert "eks.irsa.eks_pod_identity_association" in check["remediation"] and ROLE_ARN in check["remediation"]


def test_association_to_another_role_names_both():
    check = checks.association_check(CLUSTER, "shop", "cart", association(OTHER_ROLE_ARN), [], ROLE_ARN)
    assert check["passed"] is False
    assert "names the role {0}, not the expected {1}".format(OTHER_ROLE_ARN, ROLE_ARN) in check["message"]
    assert "role_arn to {0}".format(ROLE_ARN) in check["remediation"]


def test_association_without_the_expected_target_role():
    check = checks.association_check(CLUSTER, "shop", "cart", association(), [], ROLE_ARN, TARGET_ARN)
    assert check["passed"] is False and "has no target role, not the expected target role " + TARGET_ARN in check["message"]
    assert checks.association_check(CLUSTER, "shop", "cart", association(targetRoleArn=TARGET_ARN), [], ROLE_ARN, TARGET_ARN)["passed"]
    assert checks.expected_role(association(targetRoleArn=TARGET_ARN)) == TARGET_ARN


def test_missing_role():
    check = checks.role_check(ROLE_ARN, None)
    assert check["passed"] is False and "'shop-cart' the association names does not exist in account " + ACCOUNT in check["message"]


# --- trust ----------------------------------------------------------------------------------------


def test_trust_of_an_irsa_only_role_lacks_the_service_principal():
    found = by_name(checks.trust_checks(irsa_trust(), "shop-cart", CLUSTER_ARN, "shop", "cart"))
    assert found["trust_policy"]["passed"] is False
    assert "does not name the service principal pods.eks.amazonaws.com" in found["trust_policy"]["message"]
    assert "a role made for IRSA only trusts its OIDC providers" in found["trust_policy"]["message"]
    assert '"Service": "pods.eks.amazonaws.com"' in found["trust_policy"]["remediation"]
    assert "trust_policy_tag_session" not in found  # one finding for one cause


def test_trust_without_tag_session_fails_unless_session_tags_are_disabled():
    found = by_name(checks.trust_checks(trust(actions=["sts:AssumeRole"]), "shop-cart", CLUSTER_ARN, "shop", "cart"))
    assert found["trust_policy"]["passed"]
    tag = found["trust_policy_tag_session"]
    assert tag["passed"] is False and tag["severity"] == "error"
    assert "allows sts:AssumeRole but not sts:TagSession" in tag["message"] and "AccessDeniedException" in tag["message"]
    assert "disable_session_tags: true" in tag["remediation"]
    found = by_name(checks.trust_checks(trust(actions=["sts:AssumeRole"]), "shop-cart", CLUSTER_ARN, "shop", "cart", session_tags=False))
    assert found["trust_policy"]["passed"] and "trust_policy_tag_session" not in found


def test_trust_whose_conditions_exclude_the_cluster():
    condition = {"ArnEquals": {"aws:SourceArn": CLUSTER_ARN.replace("/blue", "/green")}}
    found = by_name(checks.trust_checks(trust(condition=condition), "shop-cart", CLUSTER_ARN, "shop", "cart"))
    assert found["trust_policy"]["passed"] is False
    assert "its conditions exclude this cluster ({0})".format(CLUSTER_ARN) in found["trust_policy"]["message"]
    assert "cluster/green" in found["trust_policy"]["message"]
    condition = {"StringEquals": {"aws:SourceAccount": "999999999999"}}
    found = by_name(checks.trust_checks(trust(condition=condition), "shop-cart", CLUSTER_ARN, "shop", "cart"))
    assert "its conditions exclude this cluster" in found["trust_policy"]["message"] and "'111122223333'" in found["trust_policy"]["message"]


def test_trust_naming_the_service_without_assume_role():
    found = by_name(checks.trust_checks(trust(actions=["sts:TagSession"]), "shop-cart", CLUSTER_ARN, "shop", "cart"))
    assert found["trust_policy"]["passed"] is False
    assert "names pods.eks.amazonaws.com but allows it no sts:AssumeRole" in found["trust_policy"]["message"]


def test_trust_with_a_session_tag_condition_is_judged_with_the_tags_eks_sends():
    condition = {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "shop"}}
    assert by_name(checks.trust_checks(trust(condition=condition), "r", CLUSTER_ARN, "shop", "cart"))["trust_policy"]["passed"]
    assert not by_name(checks.trust_checks(trust(condition=condition), "r", CLUSTER_ARN, "other", "cart"))["trust_policy"]["passed"]


# --- agent and Fargate ------------------------------------------------------------------------------


def test_agent_missing_says_how_to_add_it():
    check = checks.agent_check(CLUSTER, None)
    assert check["passed"] is False and check["severity"] == "error"
    assert "has no eks-pod-identity-agent add-on" in check["message"]
    assert "aws eks create-addon --cluster-name blue --addon-name eks-pod-identity-agent" in check["remediation"]
    assert "eks_pod_identity_association" in check["remediation"]


def test_agent_not_active_and_active():
    check = checks.agent_check(CLUSTER, {"status": "DEGRADED", "health": {"issues": [{"code": "InsufficientNumberOfReplicas", "message": "0/2"}]}})
    assert check["passed"] is False and "is DEGRADED, not ACTIVE: InsufficientNumberOfReplicas: 0/2" in check["message"]
    assert checks.agent_check(CLUSTER, {"status": "ACTIVE", "addonVersion": "v1.3.4-eksbuild.1"})["passed"]


def test_fargate_profile_selecting_the_namespace():
    profiles = [{"fargateProfileName": "fp-shop", "selectors": [{"namespace": "shop"}]}, {"fargateProfileName": "fp-x", "selectors": [{"namespace": "x"}]}]
    check = checks.fargate_check(CLUSTER, "shop", profiles)
    assert check["passed"] is False and check["severity"] == "error"
    assert "'fp-shop'" in check["message"] and "'fp-x'" not in check["message"]
    assert "Pod Identity does not run on Fargate: use IRSA" in check["remediation"]
    assert checks.fargate_check(CLUSTER, "other", profiles)["passed"]


def test_fargate_profiles_that_cannot_be_read_are_a_warning():
    check = checks.fargate_check(CLUSTER, "shop", None, error="Not allowed to list the EKS Fargate profiles")
    assert check["severity"] == "warning" and "eks:ListFargateProfiles" in check["remediation"]


def test_fargate_profile_with_labels_is_decided_by_the_pod_labels():
    profiles = [{"fargateProfileName": "fp-batch", "selectors": [{"namespace": "shop", "labels": {"compute": "fargate"}}]}]
    maybe = checks.fargate_check(CLUSTER, "shop", profiles)
    assert maybe["passed"] is False and maybe["severity"] == "warning" and "pod_labels" in maybe["remediation"]
    assert checks.fargate_check(CLUSTER, "shop", profiles, {"app": "cart"})["passed"]
    check = checks.fargate_check(CLUSTER, "shop", profiles, {"app": "cart", "compute": "fargate"})
    assert check["passed"] is False and check["severity"] == "error" and '{"compute": "fargate"}' in check["message"]


# --- pods -------------------------------------------------------------------------------------------


def test_pods_that_predate_the_association_are_a_warning():
    pods = [pod("old"), pod("new", POD_IDENTITY_ENV), pod("done", phase="Succeeded")]
    check = checks.stale_pods_check("shop", "cart", pods)
    assert check["severity"] == "warning" and check["passed"] is False
    assert "1 running pod(s)" in check["message"] and "old" in check["message"] and "new" not in check["message"].split(":")[-1]
    assert "rollout restart" in check["remediation"]
    assert checks.stale_pods_check("shop", "cart", [pod("new", POD_IDENTITY_ENV)]) is None


def test_irsa_web_identity_wins_over_pod_identity_in_a_pod_that_has_both():
    both = pod("both", IRSA_ENV + POD_IDENTITY_ENV)
    check = checks.irsa_precedence_check("shop", "cart", {"metadata": {}}, [both, pod("p", POD_IDENTITY_ENV)], ROLE_ARN)
    assert check["severity"] == "warning" and check["passed"] is False
    assert check["message"].startswith("1 running pod(s) of the ServiceAccount shop/cart have IRSA's AWS_ROLE_ARN and "
                                       "AWS_WEB_IDENTITY_TOKEN_FILE besides Pod Identity's AWS_CONTAINER_CREDENTIALS_FULL_URI")
    assert "so they run as {0}, not as the Pod Identity role {1}: both.".format(OTHER_ROLE_ARN, ROLE_ARN) in check["message"]
    assert "written in the pods' template" in check["remediation"]
    check = checks.irsa_precedence_check("shop", "cart", {"metadata": {}}, [both], None)
    assert "so they run as {0}, not through Pod Identity: both.".format(OTHER_ROLE_ARN) in check["message"]


def test_an_irsa_annotation_beside_the_association_is_no_precedence_problem():
    # AWS's webhook injects only the container credentials for a ServiceAccount that is annotated and associated.
    sa = {"metadata": {"annotations": {"eks.amazonaws.com/role-arn": OTHER_ROLE_ARN}}}
    assert checks.irsa_precedence_check("shop", "cart", sa, [pod("p", POD_IDENTITY_ENV)], ROLE_ARN) is None
    assert checks.irsa_precedence_check("shop", "cart", sa, [], ROLE_ARN) is None
    # A pod with IRSA's variables only predates the association: the stale-pods warning speaks of it.
    assert checks.irsa_precedence_check("shop", "cart", sa, [pod("old", IRSA_ENV)], ROLE_ARN) is None


def test_credential_problems_of_a_pod():
    assert checks.credential_problems(pod("p", POD_IDENTITY_ENV)) == []
    assert checks.credential_problems(pod("p")) == ["container 'app' has no AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                                    "container 'app' has no AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]


# --- EKS Auth ---------------------------------------------------------------------------------------


def test_eks_auth_diagnoses():
    message, fix = checks.eks_auth_diagnosis("AccessDeniedException", "not authorized", CLUSTER, timeout=60)
    assert "EKS Auth answered AccessDeniedException: not authorized" in message and "propagation_timeout (60 s)" in message
    static = [{"name": "trust_policy", "message": "The trust policy of role 'r' does not name ...", "remediation": "Add it."}]
    message, fix = checks.eks_auth_diagnosis("AccessDeniedException", "not authorized", CLUSTER, static)
    assert "does not name" in message and fix == "Add it."
    message, fix = checks.eks_auth_diagnosis("InvalidTokenException", "bad", CLUSTER)
    assert "another cluster than 'blue'" in message and "cluster_name" in fix
    message, fix = checks.eks_auth_diagnosis("ResourceNotFoundException", "none", CLUSTER)
    assert "no Pod Identity association" in message


def test_exchange_check_compares_the_role_name_and_account():
    ok = checks.exchange_check(ROLE_ARN, identity={"arn": "arn:aws:sts::{0}:assumed-role/shop-cart/eks-blue-cart-1".format(ACCOUNT)}, attempts=1)
    assert ok["passed"] and "audience pods.eks.amazonaws.com" in ok["message"]
    bad = checks.exchange_check(ROLE_ARN, identity={"arn": "arn:aws:sts::{0}:assumed-role/shop-other/x".format(ACCOUNT)}, attempts=1)
    assert bad["passed"] is False and "not a session of role 'shop-cart'" in bad["message"]
