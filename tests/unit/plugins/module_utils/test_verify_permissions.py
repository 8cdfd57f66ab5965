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


def test_each_denied_call_names_the_checks_that_need_it_and_how_to_grant_it():
    asked = []

    def denial_of(verb, resource):
        asked.append((verb, resource))
        return DENIAL if resource == "serviceaccounts/token" else None

    [denied] = permissions.denied_calls("shop", "irsa", ["static", "token"], denial_of)
    assert asked == [("list", "pods"), ("create", "serviceaccounts/token")]
    assert denied["verb"] == "create" and denied["resource"] == "serviceaccounts/token" and denied["checks"] == ["token"]
    assert denied["message"] == (
        "The eks.irsa.irsa_verify token check of this ServiceAccount cannot run: " + DENIAL + ". Grant the verb 'create' on "
        "serviceaccounts/token in namespace shop to that identity with a Role and RoleBinding (as in "
        "docs/permissions/irsa-runner-rbac.yml), or leave the token check out (irsa_verify's checks option)")
    # The role names its own variables.
    assert in_role_terms(denied["message"]).endswith("or leave the token check out (irsa_verify_checks, irsa_verify_unchanged_checks)")


def test_a_call_several_checks_make_names_them_all():
    [denied] = permissions.denied_calls("shop", "pod_identity", ["static", "token", "pod"],
                                        lambda verb, resource: "no" if (verb, resource) == ("list", "pods") else None)
    assert denied["checks"] == ["static", "token", "pod"]
    assert denied["message"].startswith("The eks.irsa.irsa_verify static and token and pod checks of this ServiceAccount cannot run: no.")


def test_only_the_checks_a_binding_is_verified_with_block_it():
    denied = permissions.denied_calls("shop", "irsa", ["static", "pod"],
                                      lambda verb, resource: "no" if resource == "pods/log" else None)
    assert permissions.blocking(denied, ["static"]) == []
    assert permissions.blocking(denied, ["static", "pod"]) == [denied[0]["message"]]
    assert permissions.blocking(None, ["pod"]) == []
