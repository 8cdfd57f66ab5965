"""IAM where the sandbox goes beyond moto's: the trust the STS gate sees, role lookups, IAM users'
keys and policies, and the IAM actions moto lacks.

``TrustView`` keeps IAM's eventual consistency of role trust policies; ``forward_trust_write`` keeps
it current around the writes of trust (``TRUST_WRITES``). ``find_role`` and ``role_from_arn`` look
roles up; ``identity_policies`` gathers what ``iam_authz.decide`` evaluates for an IAM user's key;
``seed_user`` creates an IAM user owning a given access key. They read moto's state: callers hold
moto's lock.

``install()`` adds the IAM actions real AWS has and moto 5 lacks, before the moto app serves
requests: ``AddClientIDToOpenIDConnectProvider`` and ``RemoveClientIDFromOpenIDConnectProvider``
are how a client ID (audience) is added to or removed from an existing IAM OIDC provider. Semantics
as AWS documents them: adding a client ID that is already there and removing one that is not are
no-ops; an unknown provider ARN is ``NoSuchEntity`` (raised by moto's own lookup).
"""

import re
import time

from moto.core.responses import EmptyResult
from moto.iam.models import AccessKey, IAMBackend, iam_backends
from moto.iam.responses import IamResponse

PARTITION = "aws"

# The IAM calls that change what the STS gate sees of a role's trust.
TRUST_WRITES = ("CreateRole", "UpdateAssumeRolePolicy", "DeleteRole")


def backend(account_id):
    return iam_backends[account_id][PARTITION]


class TrustView:
    """What the STS gate sees of role trust policies, with IAM's eventual consistency.

    For ``delay`` seconds after ``CreateRole`` or ``UpdateAssumeRolePolicy`` the gate still sees the
    trust that was visible before the write (for a new role: no role at all), as AWS warns that
    IAM changes take time to reach STS.
    """

    def __init__(self):
        self.delay = 0.0
        self._pending = {}  # role name -> (visible until, previous policy text or None)

    def visible(self, role):
        pending = self._pending.get(role.name)
        if pending and time.time() < pending[0]:
            return pending[1]
        return role.assume_role_policy_document

    def written(self, role_name, previous):
        if self.delay > 0:
            self._pending[role_name] = (time.time() + self.delay, previous)
        else:
            self._pending.pop(role_name, None)

    def forget(self, role_name):
        self._pending.pop(role_name, None)


def forward_trust_write(trust, iam, action, role_name, forward):
    """Forward one of ``TRUST_WRITES`` with ``forward()``; keep ``trust``, the gate's delayed view of
    trust, current around it."""
    previous = None
    if action == "UpdateAssumeRolePolicy":
        role = find_role(iam, role_name)
        previous = trust.visible(role) if role else None
    status, headers, payload = forward()
    if status == 200:
        if action == "DeleteRole":
            trust.forget(role_name)
        else:
            trust.written(role_name, previous)
    return status, headers, payload


def find_role(iam, role_name):
    for role in iam.get_roles():
        if role.name == role_name:
            return role
    return None


def role_from_arn(iam, account_id, role_arn):
    match = re.fullmatch(r"arn:aws:iam::(\d{12}):role/(?:[^/]+/)*([^/]+)", role_arn)
    if not match or match.group(1) != account_id:
        return None
    role = find_role(iam, match.group(2))
    return role if role is not None and role.arn == role_arn else None


def identity_policies(iam, key_id):
    """``(user, documents)``: the IAM user owning access key ``key_id`` and the identity-based policy
    documents IAM holds the key to (inline, and the default version of each attached managed policy);
    ``(None, [])`` when no IAM user owns the key."""
    key = iam.access_keys.get(key_id)
    user = iam.users.get(key.user_name) if key is not None and key.user_name else None
    if user is None:
        return None, []
    documents = list(user.policies.values()) + [
        version.document for policy in user.managed_policies.values()
        for version in policy.versions if version.is_default]
    return user, documents


def seed_user(iam, region, account_id, user_name, access_key, secret_key):
    """An IAM user ``user_name`` owning the access key ``access_key`` with secret ``secret_key``."""
    iam.create_user(region_name=region, user_name=user_name, path="/", tags=[])
    user = iam.get_user(user_name)
    key = AccessKey(user_name=user_name, prefix="AKIA", account_id=account_id)
    key.access_key_id = access_key
    key.secret_access_key = secret_key
    user.access_keys.append(key)
    iam.access_keys[key.access_key_id] = key


def _add_client_id(iam, arn, client_id):
    provider = iam.get_open_id_connect_provider(arn)
    if client_id not in provider.client_id_list:
        provider.client_id_list.append(client_id)


def _remove_client_id(iam, arn, client_id):
    provider = iam.get_open_id_connect_provider(arn)
    if client_id in provider.client_id_list:
        provider.client_id_list.remove(client_id)


def _add_response(self):
    self.backend.add_client_id_to_open_id_connect_provider(
        self._get_param("OpenIDConnectProviderArn"), self._get_param("ClientID")
    )
    return EmptyResult()


def _remove_response(self):
    self.backend.remove_client_id_from_open_id_connect_provider(
        self._get_param("OpenIDConnectProviderArn"), self._get_param("ClientID")
    )
    return EmptyResult()


def install():
    if not hasattr(IAMBackend, "add_client_id_to_open_id_connect_provider"):
        IAMBackend.add_client_id_to_open_id_connect_provider = _add_client_id
        IAMBackend.remove_client_id_from_open_id_connect_provider = _remove_client_id
    if not hasattr(IamResponse, "add_client_id_to_open_id_connect_provider"):
        IamResponse.add_client_id_to_open_id_connect_provider = _add_response
        IamResponse.remove_client_id_from_open_id_connect_provider = _remove_response
