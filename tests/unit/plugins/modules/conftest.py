# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A module's main() run end to end against moto's in-memory AWS: the fixtures the module tests share."""

from unittest import mock

import pytest
from moto import mock_aws

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule

REGION = "us-west-2"


class Exit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def run_main(main, record, check_mode=False, diff=True, **args):
    """Run a module's ``main()``; return its result dict (with 'failed' when it failed) and its warnings.

    Every AWS call of the module's clients goes to ``record(model, params, ...)`` first (botocore's before-call
    event: an answer it returns is taken as AWS's).
    """
    args.setdefault("region", REGION)
    args.setdefault("access_key", "AKIDEXAMPLE")
    args.setdefault("secret_key", "example")
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    original_client = AnsibleAWSModule.client

    def client(module, service, retry_decorator=None, **extra):
        made = original_client(module, service, retry_decorator=retry_decorator, **extra)
        made.meta.events.register("before-call.*.*", record)
        return made

    warnings = []

    def warn(_module, warning, *_args, **_kwargs):
        warnings.append(warning)

    def exit_json(_module, **kwargs):
        kwargs["warnings"] = warnings
        raise Exit(kwargs)

    def fail_json(_module, **kwargs):
        kwargs["failed"] = True
        kwargs["warnings"] = warnings
        raise Exit(kwargs)

    with patch_module_args(args), mock.patch.object(AnsibleAWSModule, "client", client), \
            mock.patch.object(IrsaAWSModule, "warn", warn), \
            mock.patch.object(basic.AnsibleModule, "exit_json", exit_json), \
            mock.patch.object(basic.AnsibleModule, "fail_json", fail_json):
        with pytest.raises(Exit) as caught:
            main()
    return caught.value.result


@pytest.fixture
def module_runner():
    """``run_main``: a module's main() run with its AWS calls recorded."""
    return run_main


@pytest.fixture
def moto(monkeypatch):
    """``moto(**config)``: moto's ``mock_aws`` (with ``config``), with credentials and no profile nor endpoint in the
    environment."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    return lambda **config: mock_aws(config=config) if config else mock_aws()
