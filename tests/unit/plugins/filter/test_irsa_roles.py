"""irsa_roles: bindings grouped into the roles they need, contradictions refused."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.eks.irsa.plugins.filter.irsa_roles import irsa_roles


def test_two_bindings_sharing_a_role_end_up_in_one_trust():
    roles = irsa_roles(
        [
            {"service_account": "app", "namespace": "shop", "role_name": "reader", "managed_policies": ["a"]},
            {"service_account": "worker", "namespace": "shop", "role_name": "reader", "managed_policies": ["b", "a"]},
            {"service_account": "irsa-test", "role_name": "AWSIRSATestRole"},
        ]
    )
    assert [role["role_name"] for role in roles] == ["reader", "AWSIRSATestRole"]
    assert roles[0]["service_accounts"] == ["shop:app", "shop:worker"]
    assert roles[0]["managed_policies"] == ["a", "b"]
    assert roles[1]["service_accounts"] == ["default:irsa-test"]
    # Options no binding sets stay None: the module then leaves them alone.
    assert roles[1]["managed_policies"] is None and roles[1]["inline_policies"] is None


def test_inline_policies_and_tags_merge():
    roles = irsa_roles(
        [
            {"service_account": "a", "role_name": "r", "inline_policies": {"p1": {"x": 1}}, "tags": {"team": "t"}},
            {"service_account": "b", "role_name": "r", "inline_policies": {"p2": {"y": 2}}, "tags": {"team": "t", "env": "e"}},
        ]
    )
    assert roles[0]["inline_policies"] == {"p1": {"x": 1}, "p2": {"y": 2}}
    assert roles[0]["tags"] == {"team": "t", "env": "e"}


@pytest.mark.parametrize(
    "bindings, phrase",
    [
        (
            [{"service_account": "a", "role_name": "r", "path": "/x/"}, {"service_account": "b", "role_name": "r", "path": "/y/"}],
            "bindings default/a and default/b share role r but set different path",
        ),
        (
            [{"service_account": "a", "role_name": "r", "audience": "x"}, {"service_account": "b", "role_name": "r", "audience": "y"}],
            "different audience",
        ),
        (
            [
                {"service_account": "a", "role_name": "r", "inline_policies": {"p": {"x": 1}}},
                {"service_account": "b", "role_name": "r", "inline_policies": {"p": {"x": 2}}},
            ],
            "give inline policy 'p' different values",
        ),
        (
            [{"service_account": "a", "role_name": "r", "tags": {"t": "1"}}, {"service_account": "b", "role_name": "r", "tags": {"t": "2"}}],
            "give tag 't' different values",
        ),
        (
            [{"service_account": "a", "role_name": "r1"}, {"service_account": "a", "namespace": "default", "role_name": "r2"}],
            "ServiceAccount default/a is bound twice (to roles r1 and r2)",
        ),
        ([{"service_account": "a"}], "every binding needs service_account and role_name"),
        ([{"service_account": "a", "role_name": "r"}, {"service_account": "api", "namespace": "shop", "role": "r"}],
         "irsa_bindings[1] (shop/api): unknown field 'role'; did you mean 'role_name'?"),
        ([{"service_account": "a", "role_name": "r", "create_namspace": True}],
         "irsa_bindings[0] (default/a): unknown field 'create_namspace'; did you mean 'create_namespace'?"),
        ([{"service_account": "a", "role_name": "r", "colour": "blue"}],
         "irsa_bindings[0] (default/a): unknown field 'colour'. The fields of a binding are service_account, namespace"),
        ([{"service_account": "a", "role_name": "r", "managed_policies": "ReadOnlyAccess"}],
         "irsa_bindings[0] (default/a): managed_policies is 'ReadOnlyAccess', but must be a list"),
        ([{"service_account": "a", "role_name": "r", "create_namespace": "maybe"}],
         "irsa_bindings[0] (default/a): create_namespace is 'maybe', but must be a boolean"),
        (["app"], "irsa_bindings[0] is 'app', not a binding"),
        ([{"service_account": "a", "role_name": True}], "role_name is a boolean True, not a name"),
        ([{"service_account": "a", "namespace": 123, "role_name": "r"}], "namespace is a number 123, not a name"),
        ("not a list", "expects the list of bindings"),
        ([{"service_account": "app-*", "role_name": "r"}], "binding default/app-*: service_account 'app-*' holds a wildcard"),
        ([{"service_account": "app", "namespace": "*", "role_name": "r"}], "namespace '*' holds a wildcard"),
        ([{"service_account": "App", "role_name": "r"}], "'App' is not a valid ServiceAccount name"),
        ([{"service_account": "app", "namespace": "team_a", "role_name": "r"}], "'team_a' is not a valid Kubernetes namespace"),
        ([{"service_account": "app", "role_name": "r" * 65}], "is not a valid IAM role name (65 characters)"),
        ([{"service_account": "app", "role_name": "rôle"}], "'rôle' is not a valid IAM role name"),
        ([{"service_account": "app", "role_name": "r", "token_expiration": 599}], "token_expiration 599 is out of range"),
    ],
)
def test_contradictions_are_refused_with_both_bindings_named(bindings, phrase):
    with pytest.raises(AnsibleFilterError) as raised:
        irsa_roles(bindings)
    assert phrase in str(raised.value)
