"""batch.finish: how a batched module run ends, for irsa_role and irsa_service_account alike."""

import pytest

from ansible_collections.eks.irsa.plugins.module_utils import batch


class Ended(Exception):
    pass


class FakeModule:
    def __init__(self):
        self.warnings = []
        self.ended = None

    def warn(self, message):
        self.warnings.append(message)

    def exit_json(self, **result):
        self.ended = ("exit", result)
        raise Ended()

    def fail_json(self, **result):
        self.ended = ("fail", result)
        raise Ended()


def test_items_are_labelled_and_any_change_is_the_task_change():
    module = FakeModule()
    items = [("item-a", "role 'a' (roles[0])"), ("item-b", "role 'b' (roles[1])")]
    results = [{"changed": False, "warnings": ["near the size limit"]}, {"changed": True}]
    with pytest.raises(Ended):
        batch.finish(module, items, results, "roles")
    assert module.ended == ("exit", {"changed": True, "results": results})
    assert module.warnings == ["role 'a' (roles[0]): near the size limit"]


def test_a_failed_item_fails_the_task_naming_it_and_keeps_the_others():
    module = FakeModule()
    items = [("item-a", "ServiceAccount ns/a (service_accounts[0])"), (None, "service_accounts[1]: unknown field 'nme'"),
             ("item-c", "ServiceAccount ns/c (service_accounts[2])")]
    results = [{"changed": True}, {"failed": True, "changed": False, "msg": "service_accounts[1]: unknown field 'nme'"},
               {"failed": True, "changed": False, "msg": "annotated by someone else"}]
    with pytest.raises(Ended):
        batch.finish(module, items, results, "ServiceAccounts")
    kind, outcome = module.ended
    assert kind == "fail" and outcome["changed"] is True
    # An item that could not even be read keeps its own message; the others get their label in front.
    assert outcome["msg"] == ("2 of 3 ServiceAccounts failed: service_accounts[1]: unknown field 'nme' | "
                              "ServiceAccount ns/c (service_accounts[2]): annotated by someone else")
    assert outcome["results"][0] == {"changed": True}
