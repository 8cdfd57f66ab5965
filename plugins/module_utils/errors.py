# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The errors of eks.irsa, and the one way a module reports them.

Every error a user can cause is an ``IrsaError`` whose message says what failed, why, and the next step:

- ``InputError``: an option or a binding cannot be what the user meant (a name, an ARN, a trust input, a preset);
- ``ConflictError``: what the task would change belongs to someone else, or is not in the state the task needs;
  the message says how to opt in;
- ``IrsaAWSError``: an AWS call failed (amazon.aws's ``AnsibleAWSError``, so ``fail_json_aws`` can report it);
- ``KubernetesError``: a Kubernetes API call failed; ``status`` is the HTTP status (0 when the server was not reached).

``details`` (keyword arguments) go into the module's result beside ``msg``. ``fail`` is the one failure path of the
modules.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError


class IrsaError(Exception):
    """A failure a user can act on; ``details`` are returned beside the message."""

    def __init__(self, message="", **details):
        super().__init__(message)
        self.message = message
        self.details = details


class InputError(IrsaError, ValueError):
    """An option or a binding that cannot be what the user meant."""


class ConflictError(IrsaError):
    """A change refused: its object belongs to someone else, or is not in the state the task needs."""


class IrsaAWSError(IrsaError, AnsibleAWSError):
    """An AWS failure with a message that says what failed, why, and how to fix it; ``exception`` is botocore's."""

    def __init__(self, message=None, exception=None, **kwargs):
        AnsibleAWSError.__init__(self, message=message, exception=exception, **kwargs)
        self.details = {}


class KubernetesError(IrsaError):
    """A Kubernetes API failure; ``status`` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, message, status=0, reason=""):
        super().__init__(message)
        self.status = status
        self.reason = reason


def fail(module, error, **result):
    """End ``module`` with ``error``: its message, its details, and ``result`` (``changed`` and what was written)."""
    result = dict(result, **getattr(error, "details", {}))
    if isinstance(error, IrsaAWSError):
        if error.exception is not None:
            module.fail_json_aws(error.exception, msg=error.message, **result)
        module.fail_json(msg=error.message, **result)
    module.fail_json(msg=str(error), **result)
