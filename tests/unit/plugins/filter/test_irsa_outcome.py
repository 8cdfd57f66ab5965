"""irsa_outcome: the role's registered results joined per binding, and what to verify."""
import pytest

from ansible_collections.eks.irsa.plugins.filter.irsa_outcome import irsa_outcome

ARN = "arn:aws:iam::123456789012:role/"
BINDINGS = [
    {"service_account": "app", "namespace": "shop", "role_name": "shared"},
    {"service_account": "worker", "namespace": "shop", "role_name": "shared"},
    {"service_account": "broken", "role_name": "bad"},
]
ROLES = {"results": [
    {"name": "shared", "changed": True, "role": {"arn": ARN + "shared"}},
    {"name": "bad", "changed": False, "failed": False,
     "msg": "managed_policies: the managed policy nope does not exist"},
]}
SERVICE_ACCOUNTS = {"results": [
    {"namespace": "shop", "name": "app", "changed": False, "service_account": {}, "pods_to_restart": [{"namespace": "shop", "name": "old"}]},
    {"namespace": "shop", "name": "worker", "changed": False, "service_account": {}, "pods_to_restart": []},
]}
VERIFY = {"results": [
    {"namespace": "shop", "service_account": "app", "verified": True, "caller_identity": {"arn": "arn:aws:sts::123456789012:assumed-role/shared/s"}},
    {"namespace": "shop", "service_account": "worker", "verified": False,
     "checks": [{"passed": False, "severity": "error", "message": "The trust does not name shop:worker.", "remediation": "Add it."},
                {"passed": False, "severity": "warning", "message": "A warning only."}]},
]}


def test_outcome_per_binding():
    outcome = irsa_outcome(BINDINGS, ROLES, SERVICE_ACCOUNTS, VERIFY)
    assert [entry["binding"] for entry in outcome] == ["shop/app", "shop/worker", "default/broken"]
    app, worker, broken = outcome
    assert app["verified"] is True and app["changed"] is True and app["error"] == ""
    assert app["pods_to_restart"] == ["shop/old"]
    assert app["summary"] == ("shop/app -> %sshared: changed, verified as arn:aws:sts::123456789012:assumed-role/shared/s; "
                              "restart shop/old" % ARN)
    assert worker["verified"] is False
    assert worker["error"] == "verification: The trust does not name shop:worker. Fix: Add it."
    assert broken["verified"] is None and broken["role_arn"] == ""
    assert broken["error"] == "role bad: managed_policies: the managed policy nope does not exist"
    assert "NOT" not in broken["summary"] and "not verified" in broken["summary"]


def test_what_to_verify():
    assert irsa_outcome(BINDINGS, ROLES, SERVICE_ACCOUNTS, stage="verify") == [
        {"namespace": "shop", "name": "app", "role_arn": ARN + "shared"},
        {"namespace": "shop", "name": "worker", "role_arn": ARN + "shared"},
    ]


def test_unchanged_bindings_get_the_unchanged_checks():
    roles = {"results": [{"name": "shared", "changed": False, "role": {"arn": ARN + "shared"}},
                         {"name": "solo", "changed": True, "role": {"arn": ARN + "solo"}}]}
    bindings = BINDINGS[:2] + [{"service_account": "new", "namespace": "shop", "role_name": "solo"}]
    service_accounts = {"results": SERVICE_ACCOUNTS["results"] + [
        {"namespace": "shop", "name": "new", "changed": True, "service_account": {}}]}
    assert irsa_outcome(bindings, roles, service_accounts, stage="verify", unchanged_checks=["static"]) == [
        {"namespace": "shop", "name": "app", "role_arn": ARN + "shared", "checks": ["static"]},
        {"namespace": "shop", "name": "worker", "role_arn": ARN + "shared", "checks": ["static"]},
        # Changed: the task's own checks.
        {"namespace": "shop", "name": "new", "role_arn": ARN + "solo"},
    ]
    # An empty list leaves the unchanged bindings out; without the option every binding gets the task's checks.
    assert irsa_outcome(bindings, roles, service_accounts, stage="verify", unchanged_checks=[]) == [
        {"namespace": "shop", "name": "new", "role_arn": ARN + "solo"}]
    assert all("checks" not in target for target in irsa_outcome(bindings, roles, service_accounts, stage="verify"))


def test_a_binding_the_check_found_to_change_is_not_unchanged_when_another_writer_completed_it():
    # The check said the role would be created; the write found it created by a concurrent run, exactly right.
    plan = {"results": [{"name": "shared", "changed": True, "role": {"arn": ARN + "shared"}}]}
    written = {"results": [{"name": "shared", "changed": False, "role": {"arn": ARN + "shared"}}]}
    targets = irsa_outcome(BINDINGS[:2], [plan, written], SERVICE_ACCOUNTS, stage="verify", unchanged_checks=["static"])
    assert targets == [{"namespace": "shop", "name": "app", "role_arn": ARN + "shared"},
                       {"namespace": "shop", "name": "worker", "role_arn": ARN + "shared"}]


def test_a_binding_verified_statically_says_so():
    verify = {"results": [{"namespace": "shop", "service_account": "app", "verified": True, "caller_identity": {},
                           "checks": [{"name": "trust_policy", "check": "static", "passed": True}]}]}
    outcome = irsa_outcome(BINDINGS[:1], ROLES, SERVICE_ACCOUNTS, verify)
    assert outcome[0]["summary"].startswith("shop/app -> %sshared: changed, verified (static checks only)" % ARN)


def test_check_mode_verifies_only_what_would_not_change():
    # The shared role would be changed: its bindings do not exist yet for real, so nothing is verified.
    assert irsa_outcome(BINDINGS, ROLES, SERVICE_ACCOUNTS, stage="verify", check_mode=True) == []


def test_pods_to_restart_found_by_the_verification_are_reported_once():
    verify = {"results": [
        {"namespace": "shop", "service_account": "app", "verified": True, "pods_to_restart": ["old", "older"]},
        {"namespace": "shop", "service_account": "worker", "verified": True, "pods_to_restart": ["w-1"]},
    ]}
    outcome = irsa_outcome(BINDINGS, ROLES, SERVICE_ACCOUNTS, verify)
    assert outcome[0]["pods_to_restart"] == ["shop/old", "shop/older"]
    assert outcome[1]["pods_to_restart"] == ["shop/w-1"]
    assert outcome[1]["summary"].endswith("; restart shop/w-1")


def _looped(loop_var, items):
    """The registered result of a batched task: each item's result names its role or ServiceAccount."""
    def key(item):
        if loop_var == "__irsa_role":
            return {"name": item["role_name"]}
        return {"namespace": item.get("namespace") or "default", "name": item["service_account"]}
    return {"results": [dict(result, **key(item)) for item, result in items]}


@pytest.mark.parametrize("role_result, sa_result, summary, error", [
    ({"changed": True, "deleted": True, "owned": True, "role": {}}, {"changed": True, "deleted": True},
     "default/a -> r: ServiceAccount deleted (created by eks.irsa, nothing else on it), role r deleted (nothing left in its trust)", ""),
    ({"changed": True, "deleted": False, "owned": True, "role": {"arn": "x"}}, {"changed": True, "deleted": False},
     "default/a -> r: annotation removed, left the trust of role r, which stays (it still trusts others)", ""),
    ({"changed": False, "deleted": False, "owned": False, "role": {"arn": "x"}},
     {"changed": False, "deleted": False, "kept_role_arn": "arn:aws:iam::123456789012:role/other"},
     "default/a -> r: annotation left: it names arn:aws:iam::123456789012:role/other, another binding's role, "
     "role r is not eks.irsa's and does not trust it: left as it is", ""),
    # failed_when: false leaves failed false: a result without the module's keys is the failure
    ({"changed": False, "failed": False, "msg": "role 'r' was not created by eks.irsa", "foreign_role": "r"},
     {"changed": False, "deleted": False}, None, "add r to irsa_adopt_roles"),
    ({"changed": False, "deleted": False, "role": {}}, {"changed": False, "deleted": False},
     "default/a -> r: role r does not exist", ""),
])
def test_teardown_says_what_became_of_each_binding(role_result, sa_result, summary, error):
    binding = {"service_account": "a", "role_name": "r"}
    roles = _looped("__irsa_role", [({"role_name": "r"}, role_result)])
    accounts = _looped("__irsa_binding", [(binding, sa_result)])
    [entry] = irsa_outcome([binding], roles=roles, service_accounts=accounts, stage="teardown")
    if summary is not None:
        assert entry["summary"] == summary
    assert error in entry["error"] and bool(error) == bool(entry["error"])
    assert "adopt: true" not in entry["summary"]


def test_audit_names_the_role_of_each_binding():
    bindings = [{"service_account": "a", "role_name": "r"}, {"service_account": "b", "namespace": "x", "role_name": "s", "path": "/p/"}]
    assert irsa_outcome(bindings, roles={}, service_accounts={}, stage="audit", partition="aws-cn", account_id="123456789012") == [
        {"namespace": "default", "name": "a", "role_arn": "arn:aws-cn:iam::123456789012:role/r"},
        {"namespace": "x", "name": "b", "role_arn": "arn:aws-cn:iam::123456789012:role/p/s"},
    ]


def test_preflight_errors_are_in_the_role_terms():
    binding = {"service_account": "a", "role_name": "r"}
    roles = _looped("__irsa_role", [({"role_name": "r"}, {"changed": True, "role": {"arn": "arn:aws:iam::123456789012:role/r"}})])
    accounts = _looped("__irsa_binding", [(binding, {"changed": False, "failed": False,
                                                     "msg": "namespace 'default' does not exist: create it, or set create_namespace: true"})])
    [entry] = irsa_outcome([binding], roles=roles, service_accounts=accounts, check_mode=True)
    assert entry["error"].endswith("set create_namespace: true on the binding")
    accounts = _looped("__irsa_binding", [(binding, {"failed": False, "msg": "x", "wrong_cluster_issuer": "https://oidc/green"})])
    [entry] = irsa_outcome([binding], roles=roles, service_accounts=accounts, check_mode=True, cluster_name="blue")
    assert "is not cluster blue: it issues tokens for https://oidc/green" in entry["error"]
    assert "Set irsa_context to the context of cluster blue" in entry["error"]


MESSAGE = ("The eks.irsa.irsa_verify pod check of this ServiceAccount cannot run: RBAC says no. Grant it, or leave the pod "
           "check out (irsa_verify's checks option)")
IN_ROLE_TERMS = MESSAGE.replace("(irsa_verify's checks option)", "(irsa_verify_checks, irsa_verify_unchanged_checks)")


def _planned(app_changed=True, worker_changed=False):
    """Check-mode results: shop/app's verification (pod check) is denied, shop/worker's too."""
    roles = {"results": [{"name": "shared", "changed": False, "role": {"arn": ARN + "shared"}}]}
    denied = [{"verb": "get", "resource": "pods/log", "checks": ["pod"], "message": MESSAGE}]
    accounts = {"results": [
        {"namespace": "shop", "name": "app", "changed": app_changed, "service_account": {}, "verify_denied": denied},
        {"namespace": "shop", "name": "worker", "changed": worker_changed, "service_account": {}, "verify_denied": denied},
    ]}
    return roles, accounts


def test_a_verification_rbac_denies_stops_the_run_before_any_write_in_the_role_terms():
    roles, accounts = _planned()
    stopped = irsa_outcome(BINDINGS[:2], roles, accounts, stage="verify_allowed", verify_checks=["static", "token", "pod"],
                           unchanged_checks=["static"])
    # shop/worker is unchanged: its verification (static only) needs no pod log.
    assert stopped == [{"binding": "shop/app", "error": "verification: " + IN_ROLE_TERMS + ".",
                        "summary": "shop/app -> shared: verification: " + IN_ROLE_TERMS + "."}]
    # The same unchanged binding is stopped when it is verified with the pod check too.
    assert [entry["binding"] for entry in irsa_outcome(BINDINGS[:2], roles, accounts, stage="verify_allowed",
                                                       verify_checks=["pod"], unchanged_checks=["pod"])] == ["shop/app", "shop/worker"]
    # Not when the checks do not need the call.
    assert irsa_outcome(BINDINGS[:2], roles, accounts, stage="verify_allowed", verify_checks=["static", "token"],
                        unchanged_checks=["static"]) == []


def test_a_run_that_writes_nothing_is_not_stopped_for_its_verification():
    roles, accounts = _planned(app_changed=False)
    assert irsa_outcome(BINDINGS[:2], roles, accounts, stage="verify_allowed", verify_checks=["pod"], unchanged_checks=["pod"]) == []


def test_check_mode_says_what_rbac_would_deny_and_a_real_run_says_what_its_verification_found():
    roles, accounts = _planned()
    app, worker = irsa_outcome(BINDINGS[:2], roles, accounts, check_mode=True, verify_checks=["pod"], unchanged_checks=["static"])
    assert app["error"] == "verification: " + IN_ROLE_TERMS + "." and app["verified"] is None
    assert app["summary"].startswith("shop/app -> %sshared: changed, not verified. verification: " % ARN)
    assert worker["error"] == ""
    [real_app, _worker] = irsa_outcome(BINDINGS[:2], roles, accounts, VERIFY, verify_checks=["pod"], unchanged_checks=["static"])
    assert real_app["error"] == "" and real_app["verified"] is True
