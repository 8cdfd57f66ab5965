"""A misspelt irsa_* variable stops the role; unrelated ones pass."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.eks.irsa.plugins.filter.irsa_variables import irsa_variables

KNOWN = ["irsa_bindings", "irsa_cluster_name", "irsa_context", "irsa_kubeconfig", "irsa_remove_oidc_provider", "irsa_prune"]


@pytest.mark.parametrize("name, meant", [
    ("irsa_binding", "irsa_bindings"),
    ("irsa_clustername", "irsa_cluster_name"),
    ("irsa_kube_config", "irsa_kubeconfig"),
    ("irsa_k8s_context", "irsa_context"),
    ("irsa_remove_provider", "irsa_remove_oidc_provider"),
])
def test_a_misspelt_variable_is_refused_with_the_one_meant(name, meant):
    with pytest.raises(AnsibleFilterError) as raised:
        irsa_variables(["irsa_cluster_name", name], KNOWN)
    assert "{0}; did you mean {1!r}?".format(name, meant) in str(raised.value)
    assert "ansible-doc -t role eks.irsa.irsa" in str(raised.value)


def test_known_and_unrelated_variables_pass():
    names = ["irsa_bindings", "irsa_cluster_name", "irsa_sandbox_url", "irsa_sandbox_clusters"]
    assert irsa_variables(names, KNOWN) == names
