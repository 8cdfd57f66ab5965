"""The role's filters for bindings with mechanism: pod_identity and for the migration between IRSA and EKS Pod Identity."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.eks.irsa.plugins.filter.irsa_associations import irsa_associations
from ansible_collections.eks.irsa.plugins.filter.irsa_outcome import irsa_outcome
from ansible_collections.eks.irsa.plugins.filter.irsa_pending import irsa_pending
from ansible_collections.eks.irsa.plugins.filter.irsa_retire import irsa_retire
from ansible_collections.eks.irsa.plugins.filter.irsa_roles import irsa_roles
from ansible_collections.eks.irsa.plugins.filter.irsa_service_accounts import irsa_service_accounts

ARN = "arn:aws:iam::123456789012:role/"
IRSA = {"service_account": "api", "namespace": "shop", "role_name": "shared"}
POD = {"service_account": "cart", "namespace": "shop", "role_name": "shared", "mechanism": "pod_identity"}
ALONE = {"service_account": "jobs", "namespace": "batch", "role_name": "jobs", "mechanism": "pod_identity",
         "target_role_arn": "arn:aws:iam::210987654321:role/data", "pod_labels": {"app": "jobs"}}
ROLES = {"results": [{"name": "shared", "changed": False, "role": {"arn": ARN + "shared"}},
                     {"name": "jobs", "changed": True, "role": {"arn": ARN + "jobs"}}]}


def test_a_pod_identity_binding_gives_its_role_this_cluster_and_keeps_the_irsa_subjects():
    shared, jobs = irsa_roles([IRSA, POD, ALONE], cluster_name="prod")
    # The IRSA binding's subject; the moving one stays in the IRSA trust (no purge) until remove_previous.
    assert shared["service_accounts"] == ["shop:api"] and shared["purge_service_accounts"] is False
    assert shared["pod_identity"] == {"state": "present", "clusters": ["prod"], "purge_clusters": False}
    # A role of Pod Identity bindings only manages no IRSA trust: no provider is inherited from the task.
    assert jobs["service_accounts"] is None and jobs["cluster_name"] == "prod"
    assert irsa_roles([IRSA], cluster_name="prod")[0]["pod_identity"] is None


def test_a_teardown_takes_every_binding_out_of_the_irsa_trust():
    shared, jobs = irsa_roles([IRSA, POD, ALONE], cluster_name="prod", state="absent")
    assert shared["service_accounts"] == ["shop:api", "shop:cart"] and jobs["service_accounts"] == ["batch:jobs"]
    assert jobs["pod_identity"]["clusters"] == ["prod"] and jobs["cluster_name"] is None


@pytest.mark.parametrize("binding, message", [
    (dict(POD, mechanism="oidc"), "mechanism 'oidc' is not one of irsa, pod_identity"),
    (dict(POD, audience="sts.amazonaws.com"), "audience is for mechanism irsa, and this binding's mechanism is pod_identity"),
    (dict(IRSA, target_role_arn=ARN + "x"), "target_role_arn is for mechanism pod_identity, and this binding's mechanism is irsa"),
])
def test_fields_of_the_other_mechanism_are_refused(binding, message):
    with pytest.raises(AnsibleFilterError, match=message):
        irsa_roles([binding])


def test_the_service_account_of_a_pod_identity_binding_is_only_made_to_exist():
    items = irsa_service_accounts([IRSA, POD], roles=[ROLES])
    assert items[1] == {"name": "cart", "namespace": "shop", "annotate_role": False, "create": True, "create_namespace": False,
                        "list_pods": False}
    assert items[0]["role_arn"] == ARN + "shared"


def test_association_items_make_the_pod_identity_ones_and_delete_those_going_back():
    back = dict(IRSA, remove_previous=True)
    items = irsa_associations([back, POD, ALONE, dict(POD, service_account="norole", role_name="missing")], roles=[ROLES])
    assert items == [
        {"namespace": "shop", "service_account": "api", "state": "absent", "role_arn": ARN + "shared"},
        {"namespace": "shop", "service_account": "cart", "role_arn": ARN + "shared"},
        {"namespace": "batch", "service_account": "jobs", "role_arn": ARN + "jobs", "target_role_arn": "arn:aws:iam::210987654321:role/data"},
    ]
    plan = {"results": [{"namespace": "shop", "service_account": "cart", "changed": False, "association": {"id": "a-1"}}]}
    assert [item["service_account"] for item in irsa_pending(items, plan)] == ["api", "jobs"]
    assert irsa_associations([IRSA, POD], state="absent", partition="aws", account_id="123456789012") == [
        {"namespace": "shop", "service_account": "cart", "state": "absent", "role_arn": ARN + "shared"}]


def _verify(*entries):
    return {"results": [dict({"namespace": "shop", "verified": True, "pods_to_restart": [],
                              "checks": [{"name": "association", "check": "static", "passed": True}]}, **entry) for entry in entries]}


def test_remove_previous_waits_for_the_verification_and_the_restarted_pods():
    moved = dict(POD, remove_previous=True)
    back = dict(IRSA, service_account="back", role_name="old", remove_previous=True)
    verify = _verify({"service_account": "cart", "role_arn": ARN + "shared"}, {"service_account": "back", "role_arn": ARN + "old"})
    assert irsa_retire([moved, back], verify=verify, kind="service_accounts") == [
        {"name": "cart", "namespace": "shop", "state": "absent", "role_arn": ARN + "shared", "list_pods": False}]
    assert irsa_retire([moved, back], verify=verify, kind="roles", cluster_name="prod") == [
        {"name": "shared", "state": "absent", "service_accounts": ["shop:cart"]},
        {"name": "old", "state": "absent", "cluster_name": "prod", "pod_identity": {"clusters": ["prod"], "purge_clusters": False}}]
    # A pod still on the previous mechanism, a binding not verified, or no static check: nothing goes.
    for entry in ({"pods_to_restart": ["cart-0"]}, {"verified": False}, {"checks": [{"name": "token", "check": "token"}]}):
        verify = _verify(dict({"service_account": "cart", "role_arn": ARN + "shared"}, **entry))
        assert irsa_retire([moved], verify=verify, kind="roles") == []
    assert irsa_retire([moved], verify=_verify({"service_account": "cart"}), kind="roles", check_mode=True) == []
    # The Pod Identity statement stays while a binding of the run uses it with that role.
    verify = _verify({"service_account": "api", "role_arn": ARN + "shared"})
    assert irsa_retire([dict(IRSA, remove_previous=True), POD], verify=verify, kind="roles", cluster_name="prod") == []


def test_a_binding_the_cluster_cannot_serve_is_named_with_the_finding_and_its_fix():
    targets = irsa_outcome([IRSA, POD, ALONE], roles=[], service_accounts=[], stage="pod_identity_targets")
    assert targets == [{"namespace": "shop", "name": "cart", "mechanism": "pod_identity", "checks": ["static"]},
                       {"namespace": "batch", "name": "jobs", "mechanism": "pod_identity", "checks": ["static"],
                        "pod_labels": {"app": "jobs"}}]
    verify = {"results": [
        {"namespace": "shop", "service_account": "cart", "checks": [
            {"name": "association", "passed": False, "severity": "error", "message": "No association."},
            {"name": "pod_identity_agent", "passed": False, "severity": "error", "message": "No agent.",
             "remediation": "aws eks create-addon ..."}]},
        {"namespace": "batch", "service_account": "jobs", "checks": [
            {"name": "fargate", "passed": False, "severity": "warning", "message": "Maybe Fargate."}]}]}
    assert irsa_outcome([IRSA, POD, ALONE], roles=[], service_accounts=[], verify=verify, stage="pod_identity_ready") == [
        {"binding": "shop/cart", "error": "mechanism pod_identity: No agent. Fix: aws eks create-addon ...",
         "summary": "shop/cart -> shared: mechanism pod_identity: No agent. Fix: aws eks create-addon ..."}]


def test_the_summary_of_a_pod_identity_binding_names_its_association():
    accounts = {"results": [{"namespace": "shop", "name": "cart", "changed": False, "service_account": {}}]}
    failed = {"results": [{"namespace": "shop", "service_account": "cart", "failed": True,
                           "msg": "association a-1 of shop/cart was not created by eks.irsa; set adopt: true"}]}
    entry, = irsa_outcome([POD], roles=[ROLES], service_accounts=accounts, associations=[failed])
    assert entry["mechanism"] == "pod_identity" and entry["summary"].startswith(
        "shop/cart -> %sshared (EKS Pod Identity): unchanged, not verified. EKS Pod Identity association of shop/cart: " % ARN)
    made = {"results": [{"namespace": "shop", "service_account": "cart", "changed": True, "association": {"id": "a-1"}}]}
    verify = {"results": [{"namespace": "shop", "service_account": "cart", "verified": True, "checks": [],
                           "caller_identity": {"arn": "arn:aws:sts::123456789012:assumed-role/shared/eks-prod-cart-0"}}]}
    entry, = irsa_outcome([POD], roles=[ROLES], service_accounts=accounts, associations=[made], verify=verify)
    assert entry["error"] == "" and entry["changed"] is True
    assert entry["summary"] == ("shop/cart -> %sshared (EKS Pod Identity): changed, verified as "
                                "arn:aws:sts::123456789012:assumed-role/shared/eks-prod-cart-0" % ARN)
    targets = irsa_outcome([POD], roles=[ROLES], service_accounts=accounts, associations=[made], stage="verify")
    assert targets == [{"namespace": "shop", "name": "cart", "role_arn": ARN + "shared", "mechanism": "pod_identity"}]
    # Without its association, the binding is not verified.
    assert irsa_outcome([POD], roles=[ROLES], service_accounts=accounts, associations=[failed], stage="verify") == []


def test_the_pods_to_restart_become_restart_items_and_the_summary_says_what_was_restarted():
    accounts = {"results": [{"namespace": "shop", "name": "api", "changed": False, "service_account": {},
                             "pods_to_restart": [{"namespace": "shop", "name": "api-1"}]}]}
    verify = {"results": [{"namespace": "shop", "service_account": "api", "verified": True, "checks": [],
                           "pods_to_restart": ["api-2", "debug"]}]}
    items = irsa_outcome([IRSA], roles=[ROLES], service_accounts=accounts, verify=verify, stage="restart")
    assert items == [{"name": "api", "namespace": "shop", "annotate_role": False, "create": False, "list_pods": False,
                      "restart_pods": ["api-1", "api-2", "debug"]}]
    restarted = {"results": [{"namespace": "shop", "name": "api", "changed": True, "restarted": ["Deployment/api"],
                              "not_restarted": [{"pod": "debug", "reason": "a bare pod"}]}]}
    entry, = irsa_outcome([IRSA], roles=[ROLES], service_accounts=accounts, verify=verify, restarted=restarted)
    assert entry["changed"] is True and entry["pods_to_restart"] == ["shop/debug"]
    assert entry["summary"].endswith("verified (static checks only); restart shop/debug; restarted Deployment/api")
    failed = {"results": [{"namespace": "shop", "name": "api", "failed": True, "msg": "cannot patch deployments.apps"}]}
    entry, = irsa_outcome([IRSA], roles=[ROLES], service_accounts=accounts, verify=verify, restarted=failed)
    assert entry["error"] == "restarting its pods: cannot patch deployments.apps"
