"""The role's batched steps: which items a check-mode run leaves to write, and the ServiceAccount items of the bindings."""
from ansible_collections.eks.irsa.plugins.filter.irsa_pending import irsa_pending
from ansible_collections.eks.irsa.plugins.filter.irsa_roles import irsa_roles
from ansible_collections.eks.irsa.plugins.filter.irsa_service_accounts import irsa_service_accounts
from ansible_collections.eks.irsa.plugins.module_utils.role_results import role_results

ARN = "arn:aws:iam::123456789012:role/"
BINDINGS = [
    {"service_account": "app", "namespace": "shop", "role_name": "shop"},
    {"service_account": "api", "role_name": "api", "audience": "", "token_expiration": 3600, "create_service_account": False},
    {"service_account": "late", "namespace": "shop", "role_name": "broken"},
]


def test_only_changed_failed_or_unchecked_items_are_written():
    items = [{"role_name": "same"}, {"role_name": "new"}, {"role_name": "bad"}, {"role_name": "unchecked"}]
    plan = {"results": [{"name": "same", "changed": False}, {"name": "new", "changed": True},
                        {"name": "bad", "changed": False, "failed": True, "msg": "no"}]}
    assert irsa_pending(items, plan) == items[1:]
    accounts = [{"namespace": "shop", "name": "app"}, {"namespace": "default", "name": "api"}]
    plan = {"results": [{"namespace": "shop", "name": "app", "changed": False}, {"namespace": "default", "name": "api", "changed": True}]}
    assert irsa_pending(accounts, plan) == accounts[1:]


def test_service_account_items_take_the_arn_of_the_latest_role_result():
    checked = {"results": [{"name": "shop", "changed": True, "role": {"arn": ARN + "shop"}},
                           {"name": "api", "changed": False, "role": {"arn": ARN + "api"}},
                           {"name": "broken", "failed": True, "msg": "no"}]}
    written = {"results": [{"name": "shop", "changed": True, "role": {"arn": ARN + "shop-written"}}]}
    items = irsa_service_accounts(BINDINGS, roles=[checked, written], adopt=["shop/app"], list_pods=False)
    # The binding whose role failed is not annotated.
    assert [(i["namespace"], i["name"], i["role_arn"]) for i in items] == [
        ("shop", "app", ARN + "shop-written"), ("default", "api", ARN + "api")]
    app, api = items
    assert app["adopt"] is True and api["adopt"] is False
    assert api["audience"] is None and api["token_expiration"] == 3600 and api["create"] is False
    assert app["list_pods"] is False and app["create"] is True and app["create_namespace"] is False


def test_teardown_items_name_each_role_by_arn_without_path():
    items = irsa_service_accounts(BINDINGS[:1], state="absent", partition="aws-cn", account_id="210987654321")
    assert items == [{"name": "app", "namespace": "shop", "state": "absent", "delete_when_unused": True, "list_pods": False,
                      "role_arn": "arn:aws-cn:iam::210987654321:role/shop"}]


def test_a_task_that_failed_as_a_whole_stands_for_every_item():
    found, fallback = role_results([{"failed": True, "msg": "No Kubernetes connection"}, {"skipped": True}])
    assert found == {} and fallback["msg"] == "No Kubernetes connection"
    # Registered with failed_when: false, it says failed: false and keeps its message.
    found, fallback = role_results({"failed": False, "failed_when_result": False, "msg": "Context 'blu' is not in"})
    assert found == {} and fallback["msg"].startswith("Context 'blu'")
    found, fallback = role_results({"results": [{"namespace": "a", "name": "b", "changed": False}]})
    assert list(found) == ["a/b"] and fallback is None


def test_role_specs_are_irsa_role_items_with_adopt():
    specs = irsa_roles(BINDINGS[:2] + [{"service_account": "w", "namespace": "shop", "role_name": "shop", "path": ""}],
                       adopt=["api"])
    assert [(s["role_name"], s["adopt"], s["path"], s["audience"]) for s in specs] == [("shop", False, None, None), ("api", True, None, None)]
    assert "adopt" not in irsa_roles(BINDINGS[:1])[0]


def test_service_account_items_ask_rbac_for_the_verification_when_a_write_precedes_it():
    checked = {"results": [{"name": "shop", "changed": True, "role": {"arn": ARN + "shop"}},
                           {"name": "api", "changed": False, "role": {"arn": ARN + "api"}}]}
    pod_identity = {"service_account": "cart", "namespace": "shop", "role_name": "api", "mechanism": "pod_identity"}
    app, api, cart = irsa_service_accounts(BINDINGS[:2] + [pod_identity], roles=[checked], verify_checks=["static", "pod"])
    # The role of shop/app will be written: asked whatever the ServiceAccount's own change.
    assert (app["verify_checks"], app["verify_mechanism"], app["verify_when"]) == (["static", "pod"], "irsa", "always")
    # Nothing else of default/api is written: asked only if the ServiceAccount changes.
    assert api["verify_when"] == "changed"
    # An association is planned after this check: always asked.
    assert (cart["verify_mechanism"], cart["verify_when"]) == ("pod_identity", "always")
    # Without verify_checks nothing is asked.
    assert not any(key.startswith("verify") for item in irsa_service_accounts(BINDINGS[:1], roles=[checked]) for key in item)
