# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS reads and writes IRSA needs outside of roles: the EKS cluster, the caller, IAM OIDC providers, the read of
one role and the web-identity exchange of the token check.

Every call goes through amazon.aws's ``AWSRetry.jittered_backoff`` (throttling and transient errors
are retried) and turns a botocore error into ``IrsaAWSError``, whose message says what failed, why,
and how to fix it: an AccessDenied names the IAM permission that is missing; credentials AWS refuses
(a wrong secret key, an unknown access key, a bogus or expired session token, a clock that is off) are
told apart by ``credentials_problem``, which ``IrsaAWSModule`` applies to every failure it reports.

``IrsaAWSModule`` is amazon.aws's ``AnsibleAWSModule`` with two differences: its warnings go straight to
ansible-core (AnsibleAWSModule hands them to ``exit_json`` as ``warnings=``, which ansible-core 2.19
deprecates on every run that warns), and its AWS failures say which credential AWS refused and why.

The web-identity exchange (``assume_role_with_web_identity``) is different from the other calls: there AccessDenied
and InvalidIdentityToken are the answers being diagnosed, not missing permissions of the caller, so it returns STS's
error code and message instead of raising, and the caller decides whether to retry (IAM is eventually consistent).
The ServiceAccount token is passed in memory only, and the temporary credentials STS issues are dropped as soon as
they are received; neither enters an exception, a message or a return value.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from urllib.parse import unquote

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore.

from ansible.module_utils.common.warnings import warn

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError

ACCESS_DENIED_CODES = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException")
# EKS's REST API names throttling and server errors differently from IAM and STS, and AWSRetry knows only the latter.
EKS_RETRY_CODES = ("ThrottlingException", "ServerException", "ServiceUnavailableException")


# What AWS answers when it refuses the credentials themselves, before any permission is looked at
# (STS and IAM, then the JSON services such as EKS).
SIGNATURE_CODES = ("SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature")
UNKNOWN_KEY_CODES = ("InvalidClientTokenId", "UnrecognizedClientException")
EXPIRED_CODES = ("ExpiredToken", "ExpiredTokenException", "RequestExpired")
CREDENTIAL_ERROR_CODES = SIGNATURE_CODES + UNKNOWN_KEY_CODES + EXPIRED_CODES
# Access key IDs of temporary credentials (STS) start with ASIA; they are valid only with their session token.
TEMPORARY_KEY_PREFIX = "ASIA"


def error_code(exception):
    if isinstance(exception, botocore.exceptions.ClientError):
        return exception.response.get("Error", {}).get("Code", "")
    return ""


def _masked(access_key):
    """An access key ID as it may be shown: its kind (AKIA/ASIA) and last four characters."""
    return "{0}...{1}".format(access_key[:4], access_key[-4:]) if access_key and len(access_key) > 8 else "(unknown)"


def _aws_words(aws_message, params):
    """AWS's own message, fit to be shown: without the canonical request and string to sign that JSON services quote
    after a signature mismatch (they carry the session token), and without any credential value."""
    words = (aws_message or "").split("The Canonical String", 1)[0].strip() or "no message"
    for secret in (params.get("secret_key"), params.get("session_token")):
        if secret:
            words = words.replace(secret, "(hidden)")
    return words


def credentials_problem(code, aws_message, params, environ=None):
    """``(cause, fix)`` when AWS refused the credentials in use (``code`` among CREDENTIAL_ERROR_CODES), else None.

    ``params`` are the module's amazon.aws options (``access_key``, ``secret_key``, ``session_token``, ``profile``,
    after their environment fallbacks); ``environ`` the environment. Secrets are never quoted; the access key ID
    only as its kind and last four characters.
    """
    if code not in CREDENTIAL_ERROR_CODES:
        return None
    environ = os.environ if environ is None else environ
    access_key = params.get("access_key") or ""
    has_token = bool(params.get("session_token"))
    profile = params.get("profile")
    said = "AWS refused the credentials in use ({0}: {1})".format(code, _aws_words(aws_message, params))
    key = "the access key {0}".format(_masked(access_key)) if access_key else (
        "the credentials of profile {0!r}".format(profile) if profile else "the credentials botocore found (environment, "
        "shared config files, instance or container role)")
    lowered = (aws_message or "").lower()
    if code in SIGNATURE_CODES and ("expired" in lowered or "not yet current" in lowered) or code == "RequestExpired":
        return ("{0}: the request's time is too far from AWS's, so the clock of this host is off by more than "
                "5 minutes.".format(said),
                "Set the clock of the host that runs the task right (NTP), and run again.")
    if code in SIGNATURE_CODES:
        return ("{0}: AWS knows {1}, but the signature made with the secret access key does not match it, so the "
                "secret key is not the one issued with that access key ID.".format(said, key),
                "Set secret_key (or AWS_SECRET_ACCESS_KEY) to the secret issued with {0}, or use another access "
                "key.".format(key) if access_key else "Fix the secret access key of {0}.".format(key))
    if code in EXPIRED_CODES:
        return ("{0}: the temporary credentials ({1} with its session token) have expired.".format(said, key),
                "Get new temporary credentials (assume the role again, aws sso login, or refresh the AWX credential) "
                "and run again.")
    security_token = environ.get("AWS_SECURITY_TOKEN")
    if access_key.startswith(TEMPORARY_KEY_PREFIX) and not has_token:
        if security_token and not environ.get("AWS_SESSION_TOKEN"):
            return ("{0}: {1} is a temporary key and was sent without its session token. AWS_SECURITY_TOKEN is set "
                    "but AWS_SESSION_TOKEN is not, and amazon.aws reads only AWS_SESSION_TOKEN (or the "
                    "session_token option).".format(said, key),
                    "Set AWS_SESSION_TOKEN to the value of AWS_SECURITY_TOKEN (or pass it as session_token), and "
                    "run again.")
        return ("{0}: {1} is a temporary key (ASIA...) and was sent without its session token.".format(said, key),
                "Set session_token (or AWS_SESSION_TOKEN) to the session token issued with this key.")
    if access_key.startswith(TEMPORARY_KEY_PREFIX):
        return ("{0}: AWS does not accept the session token given with the temporary {1}: it is not the token "
                "issued with this key (mistyped, cut short, or of another session).".format(said, key[4:]),
                "Set session_token (or AWS_SESSION_TOKEN) to the session token issued with {0}, or get a new set "
                "of temporary credentials.".format(key))
    if access_key and has_token:
        return ("{0}: a session token was sent with the long-term {1}, which takes none.".format(said, key[4:]),
                "Unset session_token (and AWS_SESSION_TOKEN) for this access key, or use the temporary key issued "
                "with that session token.")
    if access_key:
        return ("{0}: AWS does not know {1}: it was deleted or deactivated, is mistyped, or belongs to another "
                "partition (China, GovCloud) than the endpoint.".format(said, key),
                "Set access_key (or AWS_ACCESS_KEY_ID) to an active access key of the account (aws iam "
                "list-access-keys lists a user's keys), and its secret_key.")
    return ("{0}: AWS does not know the access key of {1}, or its session token is not valid.".format(said, key),
            "Check {0} (aws sts get-caller-identity with the same settings tells whether AWS accepts them), or give "
            "access_key, secret_key and session_token.".format(key))


def describe_error(error, params, environ=None):
    """The message of ``error`` (an ``AnsibleAWSError``), saying which credential AWS refused when that is why."""
    message = getattr(error, "message", None) or str(error)
    return credentials_message(message, getattr(error, "exception", None), params, environ) or message


def credentials_message(message, exception, params, environ=None):
    """``message`` followed by why AWS refused the credentials and how to fix it, or None when ``exception``
    (a botocore error) is no refusal of the credentials."""
    code = error_code(exception)
    aws_message = exception.response.get("Error", {}).get("Message", "") if code else ""
    problem = credentials_problem(code, aws_message, params, environ)
    if problem is None:
        return None
    return "{0}{1} {2}".format(message.rstrip(".") + ". " if message else "", problem[0], problem[1])


def aws_failure_message(error, params, environ=None):
    """What failed in ``error`` (an ``AnsibleAWSError``) and AWS's words for why, as ``fail_json_aws`` says it, for
    a failure that is reported without ending the module (an item of a batch); or why AWS refused the
    credentials, when it did."""
    explained = credentials_message(error.message, error.exception, params, environ)
    if explained is not None:
        return explained
    if error.exception is None:
        return error.message
    return "{0}: {1}".format(error.message, _aws_words(str(error.exception), params))


class IrsaAWSModule(AnsibleAWSModule):
    """``AnsibleAWSModule`` whose warnings go to ansible-core directly, and whose AWS failures name the credential
    AWS refused."""

    def warn(self, warning, *args, **kwargs):  # pylint: disable=unused-argument
        # AnsibleAWSModule would keep it and pass it to exit_json/fail_json as warnings=, deprecated by ansible-core.
        warn(warning)

    def fail_json_aws(self, exception, msg=None, **kwargs):
        explained = credentials_message(msg, exception, self.params)
        if explained is not None:
            self.fail_json(msg=explained, **kwargs)
        super().fail_json_aws(exception, msg=msg, **kwargs)


def aws_call(description, permission, retry_codes=()):
    """Retry ``func`` on throttling and raise ``IrsaAWSError`` for anything botocore raises.

    ``description`` completes "Failed to ..."; ``permission`` is the IAM action the call needs;
    ``retry_codes`` are error codes retried besides those AWSRetry knows.
    """

    def decorator(func):
        retrying = AWSRetry.jittered_backoff(catch_extra_error_codes=list(retry_codes))(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return retrying(*args, **kwargs)
            except botocore.exceptions.ClientError as e:
                if error_code(e) in ACCESS_DENIED_CODES:
                    raise IrsaAWSError(
                        message=(
                            "Not allowed to {0}: the AWS identity in use lacks the IAM permission {1}. "
                            "Grant {1} to it, or run with credentials that have it".format(description, permission)
                        ),
                        exception=e,
                    ) from e
                raise IrsaAWSError(message="Failed to {0}".format(description), exception=e) from e
            except botocore.exceptions.BotoCoreError as e:
                raise IrsaAWSError(message="Failed to {0}".format(description), exception=e) from e

        return wrapper

    return decorator


READ_ACTION_PREFIXES = ("Get", "List", "Describe")


class WriteWatch:
    """Watches ``client`` for calls that changed AWS state (any successful call that is not a Get, List or
    Describe), per thread: ``start()`` in the thread that then makes the calls returns a function answering
    whether one of them wrote. A task (or an item of a batched task) failing after a write so still reports
    ``changed: true``: the account did change, and a re-run converges from there."""

    def __init__(self, client):
        self._local = threading.local()
        client.meta.events.register("after-call.*.*", self._after_call)

    def _after_call(self, http_response=None, model=None, **_kwargs):
        wrote = getattr(self._local, "wrote", None)
        if wrote is not None and model is not None and http_response is not None and http_response.status_code < 300 \
                and not model.name.startswith(READ_ACTION_PREFIXES):
            wrote.append(model.name)

    def start(self):
        wrote = self._local.wrote = []
        return lambda: bool(wrote)


def watch_writes(client):
    """``WriteWatch(client).start()``: whether the calls this thread makes on ``client`` from now on wrote."""
    return WriteWatch(client).start()


# --- EKS -------------------------------------------------------------------------------------------


@aws_call("describe the EKS cluster", "eks:DescribeCluster", EKS_RETRY_CODES)
def describe_cluster(client, name):
    """The cluster as DescribeCluster returns it, or None when there is no such cluster."""
    try:
        return client.describe_cluster(name=name)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None


@aws_call("list the EKS clusters", "eks:ListClusters", EKS_RETRY_CODES)
def list_clusters(client):
    paginator = client.get_paginator("list_clusters")
    return paginator.paginate().build_full_result().get("clusters", [])


def lookup_cluster(client, name, region):
    """DescribeCluster, failing with the clusters that do exist in the region when ``name`` is not one."""
    cluster = describe_cluster(client, name)
    if cluster is not None:
        return cluster
    try:
        names = list_clusters(client)
    except IrsaAWSError:
        names = None  # listing is only a courtesy; eks:ListClusters may not be granted
    if names:
        known = "; clusters in that region: {0}".format(", ".join(sorted(names)))
    elif names == []:
        known = "; there are no EKS clusters in that region"
    else:
        known = ""
    raise IrsaAWSError(
        message=(
            "EKS cluster {0!r} was not found in region {1}{2}. Check cluster_name and the region "
            "(the region option, or AWS_REGION)".format(name, region, known)
        )
    )


def cluster_issuer_url(cluster):
    """The cluster's OIDC issuer URL; an error saying why when it has none yet."""
    issuer = ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
    if not issuer:
        raise IrsaAWSError(
            message=(
                "EKS cluster {0!r} has no OIDC issuer yet (status {1}). EKS assigns one while the cluster is "
                "created: wait until its status is ACTIVE and run again".format(cluster.get("name"), cluster.get("status", "unknown"))
            )
        )
    return issuer


# --- STS -------------------------------------------------------------------------------------------


@aws_call("read the caller identity", "sts:GetCallerIdentity")
def caller_identity(client):
    """Account, ARN and partition of the credentials in use."""
    identity = client.get_caller_identity()
    return {"account_id": identity["Account"], "arn": identity["Arn"], "partition": identity["Arn"].split(":")[1]}


# How long the temporary credentials of the token check live: the minimum STS issues.
SESSION_DURATION = 900


@AWSRetry.jittered_backoff()
def _assume_role_with_web_identity(client, role_arn, token, session_name, duration):
    return client.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName=session_name, WebIdentityToken=token, DurationSeconds=duration
    )


def assume_role_with_web_identity(client, role_arn, token, session_name, duration=SESSION_DURATION):
    """``(identity, None)`` on success, ``(None, (code, message))`` when STS refuses.

    The call is unsigned (botocore sends AssumeRoleWithWebIdentity without signature), as a pod
    makes it. Throttling and transient errors are retried; refusals are returned.

    ``identity`` is who the temporary credentials are, as STS states it in the answer
    (``AssumedRoleUser``), in GetCallerIdentity's shape (``Account``, ``Arn``, ``UserId``): the same
    answer GetCallerIdentity with them gives, without a second call. The credentials themselves are
    dropped here and never leave this function.
    """
    try:
        response = _assume_role_with_web_identity(client, role_arn, token, session_name, duration)
    except botocore.exceptions.ClientError as e:
        return None, (error_code(e), e.response.get("Error", {}).get("Message", ""))
    except botocore.exceptions.BotoCoreError as e:
        return None, ("ConnectionError", type(e).__name__ + ": " + str(e))
    user = response.get("AssumedRoleUser") or {}
    arn = user.get("Arn", "")
    parts = arn.split(":")
    return {"Account": parts[4] if len(parts) > 5 else "", "Arn": arn, "UserId": user.get("AssumedRoleId", "")}, None


def configured_sts_endpoint(environ=None):
    """The STS endpoint the environment configures for every AWS client (``AWS_ENDPOINT_URL_STS``, then
    ``AWS_ENDPOINT_URL``), as botocore honours them; None when there is none or they are to be ignored."""
    environ = os.environ if environ is None else environ
    if str(environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "")).lower() == "true":
        return None
    return environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL") or None


def regional_sts_endpoint(region, partition):
    """The regional STS endpoint a pod uses with AWS_STS_REGIONAL_ENDPOINTS=regional."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return "https://sts.{0}.{1}".format(region, suffix)


# --- IAM OIDC providers ----------------------------------------------------------------------------


@aws_call("list the IAM OIDC identity providers", "iam:ListOpenIDConnectProviders")
def list_oidc_providers(client):
    """ARNs of every IAM OIDC provider of the account."""
    return [entry["Arn"] for entry in client.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])]


@aws_call("read the IAM OIDC identity provider", "iam:GetOpenIDConnectProvider")
def get_oidc_provider(client, arn):
    """``{arn, url, client_ids, thumbprints, tags, create_date}``, or None when IAM has no such provider."""
    try:
        provider = client.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except is_boto3_error_code("NoSuchEntity"):
        return None
    create_date = provider.get("CreateDate")
    return {
        "arn": arn,
        "url": provider.get("Url", ""),
        "client_ids": list(provider.get("ClientIDList") or []),
        "thumbprints": list(provider.get("ThumbprintList") or []),
        "tags": boto3_tag_list_to_ansible_dict(provider.get("Tags") or []),
        "create_date": create_date.isoformat() if hasattr(create_date, "isoformat") else create_date,
    }


@aws_call("create the IAM OIDC identity provider", "iam:CreateOpenIDConnectProvider")
def create_oidc_provider(client, url, client_ids, thumbprints, tags):
    params = {"Url": url, "ClientIDList": client_ids}
    if thumbprints:
        params["ThumbprintList"] = thumbprints
    if tags:
        params["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
    return client.create_open_id_connect_provider(**params)["OpenIDConnectProviderArn"]


@aws_call("add a client ID to the IAM OIDC identity provider", "iam:AddClientIDToOpenIDConnectProvider")
def add_client_id(client, arn, client_id):
    client.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=client_id)


@aws_call("remove a client ID from the IAM OIDC identity provider", "iam:RemoveClientIDFromOpenIDConnectProvider")
def remove_client_id(client, arn, client_id):
    client.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=client_id)


@aws_call("update the thumbprints of the IAM OIDC identity provider", "iam:UpdateOpenIDConnectProviderThumbprint")
def update_thumbprints(client, arn, thumbprints):
    client.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=thumbprints)


@aws_call("tag the IAM OIDC identity provider", "iam:TagOpenIDConnectProvider")
def tag_oidc_provider(client, arn, tags):
    client.tag_open_id_connect_provider(
        OpenIDConnectProviderArn=arn, Tags=[{"Key": key, "Value": value} for key, value in tags.items()]
    )


@aws_call("untag the IAM OIDC identity provider", "iam:UntagOpenIDConnectProvider")
def untag_oidc_provider(client, arn, keys):
    client.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=keys)


@aws_call("delete the IAM OIDC identity provider", "iam:DeleteOpenIDConnectProvider")
def delete_oidc_provider(client, arn):
    try:
        client.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except is_boto3_error_code("NoSuchEntity"):
        return False
    return True


# --- IAM roles -------------------------------------------------------------------------------------


def trust_document(document):
    """A trust policy as a dict: ListRoles and GetRole may return it URL-encoded; an unreadable one is empty."""
    if isinstance(document, str):
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return {}
    return document or {}


@aws_call("list the IAM roles", "iam:ListRoles")
def list_roles(client):
    """Every role of the account as ListRoles returns it (no tags), with its trust policy as a dict."""
    roles = []
    for page in client.get_paginator("list_roles").paginate():
        for role in page.get("Roles", []):
            roles.append(dict(role, AssumeRolePolicyDocument=trust_document(role.get("AssumeRolePolicyDocument"))))
    return roles


def roles_trusting(client, arn):
    """Names of the roles whose trust policy names ``arn`` as a federated principal."""
    return [role["RoleName"] for role in list_roles(client) if _trusts(role["AssumeRolePolicyDocument"], arn)]


def _trusts(document, arn):
    statements = (document or {}).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        principal = statement.get("Principal") or {}
        federated = principal.get("Federated", []) if isinstance(principal, dict) else []
        if isinstance(federated, str):
            federated = [federated]
        if arn in federated:
            return True
    return False
