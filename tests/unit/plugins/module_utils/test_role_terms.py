"""Module messages that name an option are shown to users of the role in the role's own terms."""

import ast
import glob
import os
import re

import pytest

from ansible_collections.eks.irsa.plugins.module_utils.role_terms import ROLE_TERMS
from ansible_collections.eks.irsa.plugins.module_utils.role_terms import ROLE_VARIABLES
from ansible_collections.eks.irsa.plugins.module_utils.role_terms import in_role_terms

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")


@pytest.mark.parametrize("message, expected", [
    ("No AWS region given: set the region option or AWS_REGION to the cluster's region",
     "No AWS region given: set irsa_region (or AWS_REGION) to the cluster's region"),
    ("Context 'blu' is not in ~/.kube/config (contexts: blue, green): set context to one of them",
     "Context 'blu' is not in ~/.kube/config (contexts: blue, green): set irsa_context to one of them"),
    ("namespace 'x' does not exist: create it, or set create_namespace: true",
     "namespace 'x' does not exist: create it, or set create_namespace: true on the binding"),
    ("Set secret_key (or AWS_SECRET_ACCESS_KEY) to the secret issued with the access key AKIA...MPLE",
     "Set irsa_aws_secret_key (or AWS_SECRET_ACCESS_KEY) to the secret issued with the access key AKIA...MPLE"),
    ("Point the Kubernetes connection (kubeconfig, context or host) at the cluster of cluster_name 'blue'",
     "Point the Kubernetes connection (irsa_k8s_auth, irsa_kubeconfig or irsa_context) at the cluster of "
     "irsa_cluster_name 'blue'"),
    ("EKS cluster 'x' was not found in region us-east-1. Check cluster_name and the region (the region option, or "
     "AWS_REGION)",
     "EKS cluster 'x' was not found in region us-east-1. Check irsa_cluster_name and the region (irsa_region, or "
     "AWS_REGION)"),
    # names that only contain an option name stay as they are
    ("irsa_aws_secret_key, aws_secret_key, AWS_SESSION_TOKEN, eks.amazonaws.com/role-arn, x.cluster_name",
     "irsa_aws_secret_key, aws_secret_key, AWS_SESSION_TOKEN, eks.amazonaws.com/role-arn, x.cluster_name"),
])
def test_messages_name_the_role_variables(message, expected):
    assert in_role_terms(message) == expected


def test_every_phrase_that_names_a_role_set_option_is_reworded():
    """The phrases modules use to send users to an option the role sets; each must have a role wording."""
    option_phrases = ("the region option", "set context to", "set create_namespace", "set create:", "create=false")
    phrases = {module_words for module_words, _role_words in ROLE_TERMS}
    for where, text in _messages():
        for phrase in option_phrases:
            if phrase in text:
                assert any(known in text or text in known for known in phrases), (where, text)


def module_options_named(message):
    """The module options, among those the role sets from its own variables, that ``message`` sends a reader to."""
    named = set()
    for option in ROLE_VARIABLES:
        if "_" in option:
            patterns = [r"(?<![\w./:-]){0}(?![\w-])"]
        else:  # an ordinary word too (region, context): only where it stands as an option
            patterns = [r"\b[Ss]et {0}\b", r"\b{0} option", r"\({0}[,)]", r", {0} or\b", r"\bor {0}\)",
                        r"\bgive {0}\b", r"^{0} is\b"]
        if any(re.search(pattern.format(option), message) for pattern in patterns):
            named.add(option)
    return named


def _messages():
    """Every string literal of the modules and module_utils that can be a message (docs and docstrings aside)."""
    for path in glob.glob(os.path.join(ROOT, "plugins", "mod*", "*.py")):
        if path.endswith("role_terms.py"):
            continue
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        skipped = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("DOCUMENTATION", "RETURN", "EXAMPLES"):
                skipped.add(id(node.value))
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node, clean=False):
                skipped.add(id(node.body[0].value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and " " in node.value and id(node) not in skipped:
                yield "{0}:{1}".format(os.path.basename(path), node.lineno), node.value


def test_no_message_shown_by_the_role_names_an_option_the_role_sets():
    """A user of the role wrote irsa_aws_secret_key, irsa_context, ...: the role never sends them to secret_key."""
    messages = list(_messages())
    assert len(messages) > 200
    # the check itself finds what it looks for
    assert module_options_named("Set secret_key (or AWS_SECRET_ACCESS_KEY)") == {"secret_key"}
    assert module_options_named("set the region option or AWS_REGION") == {"region"}
    assert module_options_named("checks is empty: choose among static, token and pod") == {"checks"}
    left = [(where, text) for where, text in messages if module_options_named(in_role_terms(text))]
    assert left == []
