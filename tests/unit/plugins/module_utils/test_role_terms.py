"""Module messages that name an option are shown to users of the role in the role's own terms."""

import ast
import glob
import os

import pytest

from ansible_collections.eks.irsa.plugins.module_utils.role_terms import ROLE_TERMS
from ansible_collections.eks.irsa.plugins.module_utils.role_terms import in_role_terms

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")


@pytest.mark.parametrize("message, expected", [
    ("No AWS region given: set the region option or AWS_REGION to the cluster's region",
     "No AWS region given: set irsa_region (or AWS_REGION) to the cluster's region"),
    ("Context 'blu' is not in ~/.kube/config (contexts: blue, green): set context to one of them",
     "Context 'blu' is not in ~/.kube/config (contexts: blue, green): set irsa_context to one of them"),
    ("namespace 'x' does not exist: create it, or set create_namespace: true",
     "namespace 'x' does not exist: create it, or set create_namespace: true on the binding"),
])
def test_messages_name_the_role_variables(message, expected):
    assert in_role_terms(message) == expected


def _strings():
    """Every string literal of the modules and module_utils (the messages users read)."""
    for path in glob.glob(os.path.join(ROOT, "plugins", "mod*", "*.py")):
        if path.endswith("role_terms.py"):
            continue
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield os.path.basename(path), node.value


def test_every_phrase_that_names_a_role_set_option_is_reworded():
    """The phrases modules use to send users to an option the role sets; each must have a role wording."""
    option_phrases = ("the region option", "set context to", "set create_namespace", "set create:", "create=false")
    phrases = {module_words for module_words, _role_words in ROLE_TERMS}
    for where, text in _strings():
        for phrase in option_phrases:
            if phrase in text:
                assert any(known in text or text in known for known in phrases), (where, text)
