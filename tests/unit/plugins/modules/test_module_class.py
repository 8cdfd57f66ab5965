"""Every module of the collection is an IrsaAWSModule: its warnings reach ansible-core without amazon.aws's route through
exit_json(warnings=...), which ansible-core 2.19 deprecates, and its AWS failures name the credential AWS refused."""

import os
import re

import pytest

MODULES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "modules")


@pytest.mark.parametrize("name", sorted(name for name in os.listdir(MODULES) if name.endswith(".py")))
def test_module_is_built_as_irsa_aws_module(name):
    with open(os.path.join(MODULES, name), encoding="utf-8") as handle:
        source = handle.read()
    assert re.search(r"module = IrsaAWSModule\(", source), name
    assert "AnsibleAWSModule(" not in source, name
