"""IAM actions real AWS has and moto 5 lacks, added to moto for the sandbox.

``AddClientIDToOpenIDConnectProvider`` and ``RemoveClientIDFromOpenIDConnectProvider`` are how a
client ID (audience) is added to or removed from an existing IAM OIDC provider. Semantics as AWS
documents them: adding a client ID that is already there and removing one that is not are no-ops;
an unknown provider ARN is ``NoSuchEntity`` (raised by moto's own lookup).

Call ``install()`` once before the moto app serves requests.
"""

from moto.core.responses import EmptyResult
from moto.iam.models import IAMBackend
from moto.iam.responses import IamResponse


def _add_client_id(backend, arn, client_id):
    provider = backend.get_open_id_connect_provider(arn)
    if client_id not in provider.client_id_list:
        provider.client_id_list.append(client_id)


def _remove_client_id(backend, arn, client_id):
    provider = backend.get_open_id_connect_provider(arn)
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
