"""STS where moto does not behave like AWS: web identities and presigned requests.

``WebIdentityGate`` answers ``AssumeRoleWithWebIdentity`` only after the checks AWS makes (moto
accepts any token): issuer registered as an IAM OIDC provider, signature by the issuer's key,
audience among the provider's client IDs, expiry, role exists, trust policy allows
(``referee.evaluate``, on the trust ``iam.TrustView`` shows), ``DurationSeconds`` within the role's
maximum; its answer names the token's subject, audience and provider, as AWS's does.

``PresignedCallerIdentity`` verifies SigV4 *presigned* ``GetCallerIdentity`` requests (the EKS
``k8s-aws-v1.`` token format; moto checks no signature at all) with botocore's own signer, and
answers in STS's JSON rendering when asked to.

Both read moto's state under the ``lock`` they are given and hand the call, once checked, to moto
through ``forward(service, environ)``.
"""

import datetime
import hmac
import json
import time
from urllib.parse import quote
from xml.etree import ElementTree

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.sts.models import sts_backends

from ..core import b64url_decode
from . import iam
from .errors import AwsError, xml_error, xml_escape
from .referee import evaluate

ISO8601 = "%Y%m%dT%H%M%SZ"

# STS actions a caller makes without signing them.
UNSIGNED_ACTIONS = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}

EKS_TOKEN_WINDOW = 15 * 60
# SigV4 allows this much clock difference between signer and service.
CLOCK_SKEW = datetime.timedelta(minutes=5)

NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"


def backend(account_id):
    return sts_backends[account_id][iam.PARTITION]


def accounts(account_id):
    """The sandbox's account first, then every other account moto holds (a role of another account, the temporary
    keys of a session in it)."""
    return [account_id] + sorted(account for account in list(iam.iam_backends.keys()) if account != account_id)


class WebIdentityGate:
    """``AssumeRoleWithWebIdentity`` as AWS answers it; each trust decision goes to ``decisions``
    (for test diagnostics)."""

    def __init__(self, account_id, issuers, trust, decisions, lock, forward):
        self.account_id = account_id
        self.issuers = issuers  # issuer URL -> core.Issuer
        self.trust = trust
        self.decisions = decisions
        self._lock = lock
        self._forward = forward

    def answer(self, environ, params):
        token = params.get("WebIdentityToken") or ""
        role_arn = params.get("RoleArn") or ""
        _require(params, role_arn, token)
        issuer_url = _unverified_issuer(token)
        provider, provider_arn, client_ids = self._provider(issuer_url)
        claims = self._verified_claims(issuer_url, token)
        audience = _accepted_audience(claims, client_ids)
        now = _check_expiry(claims)
        subject = claims.get("sub")
        max_duration = self._authorize(role_arn, provider_arn, subject, audience, now)

        duration = params.get("DurationSeconds")
        if duration and duration.isdigit() and int(duration) > max_duration:
            raise AwsError(400, "ValidationError",
                           "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")

        status, headers, payload = self._forward("sts", environ)
        if status == 200:
            payload = _add_web_identity_fields(payload, subject, audience, provider)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(payload))))
        return status, headers, payload

    def _provider(self, issuer_url):
        """``(provider, provider ARN, client IDs)`` of the IAM OIDC provider registered for ``issuer_url``."""
        provider = issuer_url[len("https://"):] if issuer_url.startswith("https://") else issuer_url
        provider_arn = f"arn:{iam.PARTITION}:iam::{self.account_id}:oidc-provider/{provider}"
        with self._lock:
            oidc = iam.backend(self.account_id).open_id_providers.get(provider_arn)
            client_ids = list(oidc.client_id_list) if oidc else []
        if oidc is None:
            raise AwsError(400, "InvalidIdentityToken",
                           f"No OpenIDConnect provider found in your account for {issuer_url}")
        return provider, provider_arn, client_ids

    def _verified_claims(self, issuer_url, token):
        issuer = self.issuers.get(issuer_url)
        if issuer is None:
            # AWS fetches the keys from the issuer's discovery document; only sandbox issuers
            # have keys here.
            raise AwsError(400, "InvalidIdentityToken",
                           "Couldn't retrieve verification key from your identity provider, please "
                           "reference AssumeRoleWithWebIdentity documentation for requirements")
        claims = issuer.verify(token)
        if claims is None:
            raise AwsError(400, "InvalidIdentityToken",
                           "The web identity token that was passed could not be validated by AWS. "
                           "Get a new identity token from the identity provider and then retry the request.")
        return claims

    def _authorize(self, role_arn, provider_arn, subject, audience, now):
        """The role's maximum session duration, once its trust (as the gate sees it) allows."""
        with self._lock:
            role = iam.role_from_arn(iam.backend(self.account_id), self.account_id, role_arn)
            policy = self.trust.visible(role) if role else None
            max_duration = int(getattr(role, "max_session_duration", 3600) or 3600) if role else 3600
        record = {"time": now, "role_arn": role_arn, "sub": subject, "aud": audience}
        if role is None or policy is None:
            self.decisions.append(dict(record, allowed=False, reason="role not found (or not yet visible)"))
            raise AwsError(403, "AccessDenied", NOT_AUTHORIZED)
        decision = evaluate(policy, provider_arn, {"sub": subject, "aud": audience})
        self.decisions.append(dict(record, allowed=decision.allowed, reason=str(decision)))
        if not decision.allowed:
            raise AwsError(403, "AccessDenied", NOT_AUTHORIZED)
        return max_duration


def _require(params, role_arn, token):
    for name, value in (("roleArn", role_arn), ("roleSessionName", params.get("RoleSessionName")),
                        ("webIdentityToken", token)):
        if not value:
            raise AwsError(400, "ValidationError",
                           f"1 validation error detected: Value null at '{name}' failed to satisfy "
                           "constraint: Member must not be null")


def _unverified_issuer(token):
    try:
        unverified = json.loads(b64url_decode(token.split(".")[1]))
        issuer_url = unverified["iss"]
        if not isinstance(issuer_url, str):
            raise ValueError("iss")
    except (IndexError, ValueError, KeyError, TypeError):
        raise AwsError(400, "InvalidIdentityToken", "Couldn't parse the web identity token") from None
    return issuer_url


def _accepted_audience(claims, client_ids):
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    accepted = [aud for aud in audiences if isinstance(aud, str) and aud in client_ids]
    if not accepted:
        raise AwsError(400, "InvalidIdentityToken", "Incorrect token audience")
    return accepted[0]


def _check_expiry(claims):
    """The current time (seconds), if the token has not expired by it."""
    now = int(time.time())
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or now >= exp:
        raise AwsError(400, "ExpiredTokenException",
                       f"Token expired: current date/time {now} must be before the expiration "
                       f"date/time {exp}")
    return now


def _add_web_identity_fields(payload, subject, audience, provider):
    """AWS's AssumeRoleWithWebIdentity result names the token's subject, audience and provider;
    moto's does not."""
    extra = (
        f"<SubjectFromWebIdentityToken>{xml_escape(str(subject))}</SubjectFromWebIdentityToken>"
        f"<Audience>{xml_escape(audience)}</Audience>"
        f"<Provider>{xml_escape(provider)}</Provider>"
    ).encode()
    marker = b"</AssumeRoleWithWebIdentityResult>"
    if marker in payload and b"<SubjectFromWebIdentityToken>" not in payload:
        payload = payload.replace(marker, extra + marker, 1)
    return payload


class PresignedCallerIdentity:
    """Presigned ``GetCallerIdentity`` (EKS bearer tokens) as STS verifies it: the secret of the
    access key (``access_key`` with ``secret_key``, an IAM user's key, or a temporary key moto
    issued, with its session token), the validity window, the credential scope, the signed headers
    and the signature."""

    def __init__(self, account_id, access_key, secret_key, lock, forward):
        self.account_id = account_id
        self.access_key = access_key
        self.secret_key = secret_key
        self._lock = lock
        self._forward = forward

    def answer(self, environ, query):
        try:
            status, headers, payload = self._verified_call(environ, query)
        except AwsError as error:
            status, headers, payload = xml_error("sts", error)
        # STS answers in JSON when asked to; aws-iam-authenticator asks.
        if "application/json" in environ.get("HTTP_ACCEPT", ""):
            status, headers, payload = _query_answer_as_json(status, headers, payload)
        return status, headers, payload

    def _verified_call(self, environ, query):
        params = dict(query)
        key_id, scope_date, scope_region, scope_service, signed_at, expires = _presigned_parameters(params)
        signed_headers = params.get("X-Amz-SignedHeaders", "").split(";")

        secret, token = self.secret_for(key_id, params.get("X-Amz-Security-Token"))

        _check_validity(signed_at, expires, signed_headers)
        _check_scope(environ, scope_service, scope_date, signed_at, signed_headers)
        expected = _presigned_signature(environ, query, key_id, secret, token, scope_region,
                                        signed_at.strftime(ISO8601), signed_headers)
        if not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
            raise AwsError(403, "SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature you "
                           "provided. Check your AWS Secret Access Key and signing method. Consult "
                           "the service documentation for details.")

        # moto knows the caller only from an Authorization header; give it the verified key.
        environ["HTTP_AUTHORIZATION"] = (
            f"AWS4-HMAC-SHA256 Credential={key_id}/{scope_date}/{scope_region}/sts/aws4_request, "
            f"SignedHeaders={';'.join(signed_headers)}, Signature={expected}"
        )
        return self._forward("sts", environ)

    def secret_for(self, key_id, session_token):
        """The secret of ``key_id`` (the static key, an IAM user's key, or a temporary key moto
        issued), checking the session token of temporary keys as STS does."""
        invalid = AwsError(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        if key_id == self.access_key:
            if session_token:
                raise invalid
            return self.secret_key, None
        with self._lock:
            # A session in another account (EKS Pod Identity chaining to a target role there) has its key there.
            # moto keeps such a session in that account's STS.
            owner = next((account for account in accounts(self.account_id) if key_id in iam.backend(account).access_keys),
                         self.account_id)
            key = iam.backend(owner).access_keys.get(key_id)
            assumed = backend(owner).get_assumed_role_from_access_key(key_id)
        if key is None or getattr(key, "status", "Active") != "Active":
            raise invalid
        if assumed is not None:
            if session_token != assumed.session_token:
                raise invalid
            expiration = assumed.expiration
            if expiration.tzinfo is None:
                expiration = expiration.replace(tzinfo=datetime.timezone.utc)
            if datetime.datetime.now(datetime.timezone.utc) >= expiration:
                raise AwsError(403, "ExpiredToken", "The security token included in the request is expired")
        elif session_token:
            raise invalid
        return key.secret_access_key, session_token


def _presigned_parameters(params):
    """``(key id, scope date, scope region, scope service, signed at, expires)`` of a presigned
    request's ``X-Amz-*`` parameters."""
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        raise AwsError(400, "IncompleteSignature", "Unsupported AWS 'algorithm': "
                       f"'{params.get('X-Amz-Algorithm', '')}'")
    credential = params.get("X-Amz-Credential", "").split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise AwsError(400, "IncompleteSignature",
                       "Credential must have exactly 5 slash-delimited elements, e.g. "
                       "keyid/date/region/service/term")
    key_id, scope_date, scope_region, scope_service, _unused = credential
    try:
        signed_at = datetime.datetime.strptime(params.get("X-Amz-Date", ""), ISO8601).replace(
            tzinfo=datetime.timezone.utc)
        expires = int(params.get("X-Amz-Expires", ""))
    except ValueError:
        raise AwsError(400, "IncompleteSignature",
                       "AWS query-string parameters must include 'X-Amz-Date' and 'X-Amz-Expires'") from None
    return key_id, scope_date, scope_region, scope_service, signed_at, expires


def _check_validity(signed_at, expires, signed_headers):
    now = datetime.datetime.now(datetime.timezone.utc)
    if signed_at - CLOCK_SKEW > now:
        raise AwsError(403, "SignatureDoesNotMatch",
                       f"Signature not yet current: {signed_at:%Y%m%dT%H%M%SZ} is still later than "
                       f"{now + CLOCK_SKEW:%Y%m%dT%H%M%SZ} ({now:%Y%m%dT%H%M%SZ} + 5 min.)")
    if "x-k8s-aws-id" in signed_headers:
        # EKS bearer tokens ("aws eks get-token") presign GetCallerIdentity with X-Amz-Expires=60, yet
        # clusters accept them for 15 minutes after X-Amz-Date (the authenticator's own limit, which
        # kubectl's token cache relies on): STS does not hold these requests to X-Amz-Expires.
        expires = max(expires, EKS_TOKEN_WINDOW)
    deadline = signed_at + datetime.timedelta(seconds=expires)
    if now > deadline:
        # Presigned requests carry their own validity window; past it AWS refuses the signature.
        raise AwsError(403, "SignatureDoesNotMatch",
                       f"Signature expired: {signed_at:%Y%m%dT%H%M%SZ} is now earlier than "
                       f"{now - datetime.timedelta(seconds=expires):%Y%m%dT%H%M%SZ} "
                       f"({now:%Y%m%dT%H%M%SZ} - {expires} sec.)")


def _check_scope(environ, scope_service, scope_date, signed_at, signed_headers):
    if scope_service != "sts":
        raise AwsError(403, "SignatureDoesNotMatch",
                       "Credential should be scoped to correct service: 'sts'. ")
    if scope_date != signed_at.strftime("%Y%m%d"):
        raise AwsError(403, "SignatureDoesNotMatch",
                       "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                       "date from HTTP")
    if "host" not in signed_headers:
        raise AwsError(403, "SignatureDoesNotMatch",
                       "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    # The EKS authenticator only trusts a cluster ID that the signature covers.
    if "HTTP_X_K8S_AWS_ID" in environ and "x-k8s-aws-id" not in signed_headers:
        raise AwsError(403, "SignatureDoesNotMatch",
                       "The x-k8s-aws-id header is present but is not among X-Amz-SignedHeaders")


def _presigned_signature(environ, query, key_id, secret, token, region, timestamp, signed_headers):
    """Recompute the query-string SigV4 signature with botocore's own signer."""
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{quote(environ.get('PATH_INFO', '/'))}"
    headers = {}
    for name in signed_headers:
        key = "HTTP_" + name.upper().replace("-", "_")
        if name == "host":
            headers["host"] = host
        elif name == "content-type":
            headers[name] = environ.get("CONTENT_TYPE", "")
        else:
            headers[name] = environ.get(key, "")
    request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"), url=url, headers=headers)
    # Canonical query: every parameter but the signature, re-encoded the SigV4 way.
    request.params = [(k, v) for k, v in query if k != "X-Amz-Signature"]
    request.context["timestamp"] = timestamp
    signer = SigV4QueryAuth(Credentials(key_id, secret, token), "sts", region)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


def _query_answer_as_json(status, headers, payload):
    """A query-protocol XML answer as STS's JSON rendering of it (``Accept: application/json``):
    ``{"<Action>Response": {"<Action>Result": {...}, "ResponseMetadata": {...}}}`` or, for an
    error, ``{"Error": {"Code", "Message", "Type"}, "RequestId"}``."""

    def convert(element):
        children = list(element)
        if not children:
            return (element.text or "").strip()
        return {child.tag.rsplit("}", 1)[-1]: convert(child) for child in children}

    try:
        root = ElementTree.fromstring(payload)
    except ElementTree.ParseError:
        return status, headers, payload
    document = {root.tag.rsplit("}", 1)[-1]: convert(root)}
    if "ErrorResponse" in document:
        document = document["ErrorResponse"]
    body = json.dumps(document).encode()
    headers = [(k, v) for k, v in headers if k.lower() not in ("content-type", "content-length")]
    headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return status, headers, body
