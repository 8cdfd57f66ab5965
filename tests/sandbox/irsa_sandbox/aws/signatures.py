"""SigV4 ``Authorization`` headers verified as AWS verifies them (moto checks nothing).

Every call signed in its header is refused as AWS refuses it when its credentials are broken: an
unknown access key or a wrong session token (``InvalidClientTokenId``; EKS
``UnrecognizedClientException``), a wrong secret key or a request time more than 5 minutes off
(``SignatureDoesNotMatch``; EKS ``InvalidSignatureException``), expired temporary credentials
(``ExpiredToken``; EKS ``ExpiredTokenException``). The signature is recomputed with botocore's own
signer. Unsigned calls (``AssumeRoleWithWebIdentity``) and presigned URLs (``sts.PresignedCallerIdentity``)
are not this module's.
"""

import datetime
import hmac
import re
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .errors import AwsError
from .sts import CLOCK_SKEW, ISO8601

# How EKS (REST-JSON) names the refusals STS and IAM name in their query protocol.
EKS_CODES = {"InvalidClientTokenId": "UnrecognizedClientException", "ExpiredToken": "ExpiredTokenException"}

MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
            "AWS Secret Access Key and signing method. Consult the service documentation for details.")


class HeaderSignatures:
    """``authenticate(environ, body, service)`` raises the ``AwsError`` AWS would answer;
    ``secret_for(key_id, session_token)`` gives the secret of a key (and checks its session token)."""

    def __init__(self, secret_for):
        self._secret_for = secret_for

    def authenticate(self, environ, body, service):
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return
        fields = dict(re.findall(r"(Credential|SignedHeaders|Signature)=([^,\s]+)", authorization))
        credential = fields.get("Credential", "").split("/")
        if len(credential) != 5 or credential[4] != "aws4_request" or "SignedHeaders" not in fields \
                or "Signature" not in fields:
            raise AwsError(400, "IncompleteSignature",
                           "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                           f"parameters. Authorization={authorization}")
        key_id, scope_date, scope_region, scope_service, _unused = credential
        eks = service in ("eks", "eks-auth")
        try:
            secret, token = self._secret_for(key_id, environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))
        except AwsError as error:
            if eks:
                error.code = EKS_CODES.get(error.code, error.code)
            raise
        mismatch = "InvalidSignatureException" if eks else "SignatureDoesNotMatch"
        amz_date = environ.get("HTTP_X_AMZ_DATE", "")
        _check_time(amz_date, scope_date, mismatch)
        expected = _header_signature(environ, body, Credentials(key_id, secret, token), scope_region,
                                     scope_service, amz_date, fields["SignedHeaders"].split(";"))
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise AwsError(403, mismatch, MISMATCH)


def _check_time(amz_date, scope_date, mismatch):
    try:
        signed_at = datetime.datetime.strptime(amz_date, ISO8601).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise AwsError(400, "IncompleteSignature",
                       "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                       "header.") from None
    now = datetime.datetime.now(datetime.timezone.utc)
    if abs(now - signed_at) > CLOCK_SKEW:
        raise AwsError(403, mismatch,
                       f"Signature expired: {amz_date} is now earlier than "
                       f"{now - CLOCK_SKEW:%Y%m%dT%H%M%SZ} ({now:%Y%m%dT%H%M%SZ} - 5 min.)"
                       if signed_at < now else
                       f"Signature not yet current: {amz_date} is still later than "
                       f"{now + CLOCK_SKEW:%Y%m%dT%H%M%SZ} ({now:%Y%m%dT%H%M%SZ} + 5 min.)")
    if scope_date != amz_date[:8]:
        raise AwsError(403, mismatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                                      "version of date from HTTP")


def _header_signature(environ, body, credentials, region, service, timestamp, signed_headers):
    """Recompute the SigV4 header signature with botocore's own signer, from the headers the client
    says it signed."""
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    # The path as the client sent it (percent-encoded): the signer encodes it once more, as the
    # client's did. PATH_INFO is decoded (and latin-1), so a non-ASCII name would not round-trip.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    path = raw.split("?", 1)[0] if raw.startswith("/") else \
        quote(environ.get("PATH_INFO", "/").encode("latin-1"), safe="/~")
    url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}"
    query = environ.get("QUERY_STRING", "")
    if query:
        url += "?" + query
    headers = {}
    for name in signed_headers:
        if name == "host":
            headers["host"] = host
        elif name in ("content-type", "content-length"):
            headers[name] = environ.get(name.upper().replace("-", "_"), "")
        else:
            headers[name] = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
    request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"), url=url, headers=headers, data=body)
    request.context["timestamp"] = timestamp
    signer = SigV4Auth(credentials, service, region)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)
