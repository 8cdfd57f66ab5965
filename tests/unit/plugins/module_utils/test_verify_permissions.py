"""verify/permissions: the Kubernetes calls of each check, asked of RBAC before a run writes anything."""
from ansible_collections.eks.irsa.plugins.module_utils.role_terms import in_role_terms
from ansible_collections.eks.irsa.plugins.module_utils.verify import permissions

DENIAL = "Kubernetes RBAC does not let user alice create serviceaccounts/token in namespace shop"


def test_each_check_makes_its_own_calls_once():
    assert permissions.calls_of("irsa", ["static"]) == [("list", "pods")]
    assert permissions.calls_of("irsa", ["token"]) == [("create", "serviceaccounts/token")]
    assert permissions.calls_of("irsa", ["static", "token", "pod"]) == [
        ("list", "pods"), ("create", "serviceaccounts/token"), ("create", "pods"), ("get", "pods"), ("get", "pods/log"),
        ("delete", "pods")]
    # With EKS Pod Identity the token is bound to a running pod of the ServiceAccount: the pods are listed first.
    assert permissions.calls_of("pod_identity", ["token"]) == [("list", "pods"), ("create", "serviceaccounts/token")]


def test_calls_are_asked_once_per_namespace_whatever_the_bindings_sharing_it():
    bindings = [{"namespace": "shop", "name": "a"}, {"namespace": "shop", "name": "b", "checks": ["static"]},
                {"namespace": "web", "name": "c", "checks": ["pod"]}]
    needs = permissions.needs(bindings, ["static", "token"])
    assert needs["shop"] == [("list", "pods", ["static"]), ("create", "serviceaccounts/token", ["token"])]
    assert [call[:2] for call in needs["web"]] == [("list", "pods"), ("create", "pods"), ("get", "pods"), ("get", "pods/log"),
                                                   ("delete", "pods")]


def test_a_denied_call_fails_each_binding_whose_checks_need_it_and_no_other():
    bindings = [{"namespace": "shop", "name": "a", "role_arn": "arn:aws:iam::123456789012:role/a"},
                {"namespace": "shop", "name": "b", "checks": ["static"]}]
    a, b = permissions.entries(bindings, ["static", "token"], {("shop", "create", "serviceaccounts/token"): DENIAL})
    assert a["verified"] is False and a["service_account"] == "a" and a["role_arn"].endswith(":role/a")
    [finding] = a["checks"]
    assert finding["name"] == "rbac" and finding["passed"] is False and finding["severity"] == "error"
    assert finding["message"] == "The token check cannot run: " + DENIAL + "."
    assert finding["remediation"] == ("Grant the verb 'create' on serviceaccounts/token in namespace shop to that identity with a "
                                      "Role and RoleBinding (as in docs/permissions/irsa-runner-rbac.yml), or leave the token "
                                      "check out of the checks option.")
    # The role names its own variables.
    assert "out of irsa_verify_checks and irsa_verify_unchanged_checks" in in_role_terms(finding["remediation"])
    assert b["verified"] is True and b["checks"][0]["passed"] is True
    assert b["checks"][0]["message"] == "RBAC lets this identity make the 1 call of the checks in namespace shop."


def test_a_call_two_checks_make_names_both():
    [entry] = permissions.entries([{"namespace": "shop", "name": "a", "mechanism": "pod_identity"}], ["static", "token", "pod"],
                                  {("shop", "list", "pods"): "Kubernetes RBAC does not let bob list pods in namespace shop"})
    assert entry["mechanism"] == "pod_identity"
    assert entry["checks"][0]["message"].startswith("The static and token and pod checks cannot run: ")
