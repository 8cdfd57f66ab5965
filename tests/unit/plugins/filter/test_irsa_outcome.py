"""irsa_outcome: the role's registered results joined per binding, and what to verify."""

from ansible_collections.eks.irsa.plugins.filter.irsa_outcome import irsa_outcome

ARN = "arn:aws:iam::123456789012:role/"
BINDINGS = [
    {"service_account": "app", "namespace": "shop", "role_name": "shared"},
    {"service_account": "worker", "namespace": "shop", "role_name": "shared"},
    {"service_account": "broken", "role_name": "bad"},
]
ROLES = {"results": [
    {"ansible_loop_var": "r", "r": {"role_name": "shared"}, "changed": True, "role": {"arn": ARN + "shared"}},
    {"ansible_loop_var": "r", "r": {"role_name": "bad"}, "changed": False, "failed": False,
     "msg": "managed_policies: the managed policy nope does not exist"},
]}
SERVICE_ACCOUNTS = {"results": [
    {"ansible_loop_var": "b", "b": BINDINGS[0], "changed": False, "service_account": {}, "pods_to_restart": [{"namespace": "shop", "name": "old"}]},
    {"ansible_loop_var": "b", "b": BINDINGS[1], "changed": False, "service_account": {}, "pods_to_restart": []},
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
