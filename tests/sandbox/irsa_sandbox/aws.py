"""The AWS half of the sandbox: moto (IAM, STS, EKS) behind a gateway that behaves like AWS where
moto does not.

``AwsGateway`` is a WSGI application. For each request it

1. hands ``/_sandbox/...`` to the control application (not logged, never faulted);
2. works out the service (``iam``, ``sts``, ``eks``) and the API action (``Action`` parameter of the
   query protocol; the REST route of EKS, looked up in botocore's own EKS model), and what IAM
   authorizes for it (``iam_authz.required``: action and resource ARN);
3. asks the ``FaultInjector`` whether this call is throttled or fails, answering in AWS's error
   shape if so (never for the Kubernetes emulator's own check of an EKS bearer token);
4. holds an IAM user's access key (not the static key, not temporary credentials) to the user's
   identity-based policies (``iam_authz.decide``), answering ``AccessDenied`` as IAM does;
5. verifies the SigV4 ``Authorization`` header of every signed call as AWS does (moto checks
   nothing): known access key, session token of temporary credentials (present, theirs, not
   expired), a request time within the 5 minutes of skew, and the signature itself, so that broken
   credentials get AWS's answer (``InvalidClientTokenId`` / ``UnrecognizedClientException``,
   ``SignatureDoesNotMatch`` / ``InvalidSignatureException``, ``ExpiredToken`` /
   ``ExpiredTokenException``);
6. answers ``AssumeRoleWithWebIdentity`` only after the checks AWS makes (moto accepts any token):
   issuer registered as an IAM OIDC provider, signature by the issuer's key, audience among the
   provider's client IDs, expiry, role exists, trust policy allows (``referee.evaluate``);
7. verifies SigV4 *presigned* ``GetCallerIdentity`` requests (the EKS ``k8s-aws-v1.`` token
   format; moto checks no signature at all);
8. forwards everything else to moto, and records the call in the ``RequestLog``.

moto's backends are process-global and not written for concurrent use, so every call into moto
is serialised by one lock; the gateway's own work (token checks, signatures) runs outside it.
"""

import datetime
import hmac
import io
import json
import re
import threading
import time
import uuid
from collections import deque
from urllib.parse import parse_qsl, quote
from xml.etree import ElementTree

import botocore.session
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.iam.models import AccessKey, iam_backends
from moto.moto_server.werkzeug_app import create_backend_app
from moto.sts.models import sts_backends

from . import iam_authz
from .core import b64url_decode
from .referee import evaluate

SERVICES = ("iam", "sts", "eks")
PARTITION = "aws"
ISO8601 = "%Y%m%dT%H%M%SZ"

WRITE_PREFIXES = (
    "Create", "Update", "Put", "Delete", "Attach", "Detach", "Tag", "Untag", "Add", "Remove", "Set",
)

# Query-protocol APIs, told apart by their API version when a request is not signed.
QUERY_VERSIONS = {"2010-05-08": "iam", "2011-06-15": "sts"}
UNSIGNED_STS_ACTIONS = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}
XML_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}

# SigV4 allows this much clock difference between signer and service.
EKS_TOKEN_WINDOW = 15 * 60
CLOCK_SKEW = datetime.timedelta(minutes=5)

NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"


def is_write(action):
    return action.startswith(WRITE_PREFIXES)


class AwsError(Exception):
    """An AWS error answer: ``code`` and ``message`` as AWS puts them, with the HTTP status."""

    def __init__(self, status, code, message, sender=True):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.sender = sender


def _eks_routes():
    """``[(method, compiled path regex, operation name)]`` from botocore's EKS model, most
    specific first, so ``/clusters/{name}/node-groups`` never reads as ``/clusters/{name}``."""
    model = botocore.session.Session().get_service_model("eks")
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?", 1)[0]
        literal = len(re.sub(r"\{[^}]+\}", "", uri))
        pattern = re.sub(r"\\\{[^}]+?\\\+\\\}", ".+", re.escape(uri))  # {greedy+}
        pattern = re.sub(r"\\\{[^}]+?\\\}", "[^/]+", pattern)  # {name}
        routes.append((literal, http["method"], re.compile(pattern + "/?"), name))
    routes.sort(key=lambda route: -route[0])
    return [(method, regex, name) for _unused, method, regex, name in routes]


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


class AwsGateway:
    def __init__(self, account_id, region, access_key, secret_key, log, faults, control=None):
        self.account_id = account_id
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self.log = log
        self.faults = faults
        self.control = control  # WSGI app for /_sandbox/
        self.issuers = {}  # issuer URL -> core.Issuer
        self.trust = TrustView()
        self.decisions = deque(maxlen=50)  # recent gate decisions, for test diagnostics
        self._moto_lock = threading.RLock()
        self._apps = {service: create_backend_app(service) for service in SERVICES}
        self._eks_routes = _eks_routes()

    # ----- moto state -------------------------------------------------------------------------

    @property
    def iam(self):
        return iam_backends[self.account_id][PARTITION]

    @property
    def sts(self):
        return sts_backends[self.account_id][PARTITION]

    def seed_admin(self, user_name="sandbox-admin"):
        """An IAM user owning the sandbox's static access key, so that the key is known to IAM
        (GetCallerIdentity answers ``arn:aws:iam::<account>:user/sandbox-admin``, as AWS does for
        a user's key) and presigned requests made with it can be verified."""
        with self._moto_lock:
            self.iam.create_user(region_name=self.region, user_name=user_name, path="/", tags=[])
            user = self.iam.get_user(user_name)
            key = AccessKey(user_name=user_name, prefix="AKIA", account_id=self.account_id)
            key.access_key_id = self.access_key
            key.secret_access_key = self.secret_key
            user.access_keys.append(key)
            self.iam.access_keys[key.access_key_id] = key

    def moto(self, fn, *args, **kwargs):
        """Run ``fn`` with moto's state locked (for code outside this module, e.g. seeding)."""
        with self._moto_lock:
            return fn(*args, **kwargs)

    # ----- WSGI entry ---------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/") and self.control is not None:
            return self.control(environ, start_response)

        body = self._read_body(environ)
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        params = dict(query)
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        service, action = self._identify(environ, path, params)
        detail = self._authorization(environ, service, action, path, params)

        # The Kubernetes emulator checking an EKS bearer token (a presigned GetCallerIdentity with the
        # x-k8s-aws-id header, as aws-iam-authenticator sends it) is the cluster's call, not a client's:
        # never faulted, so that AWS faults stay what the client sees (Kubernetes faults are service "kubernetes").
        authenticator = action == "GetCallerIdentity" and "X-Amz-Signature" in params and "HTTP_X_K8S_AWS_ID" in environ
        fault = None if authenticator else self.faults.pick(service or "unknown", action)
        if fault is not None:
            status, headers, payload = self._fault_response(service, fault)
            self.log.record(service or "unknown", action, is_write(action), status, fault.kind, **detail)
            start_response(_status_line(status), headers)
            return [payload]

        try:
            if service is None:
                raise AwsError(400, "InvalidAction", "Could not find operation for this request")
            self._authenticate(environ, body, service)
            self._enforce(environ, params, service, detail["authorization"])
            if service == "sts" and action == "AssumeRoleWithWebIdentity":
                status, headers, payload = self._assume_role_with_web_identity(environ, params)
            elif service == "sts" and action == "GetCallerIdentity" and "X-Amz-Signature" in params:
                try:
                    status, headers, payload = self._presigned_caller_identity(environ, query)
                except AwsError as error:
                    status, headers, payload = self._error_response(service, error)
                # STS answers in JSON when asked to; aws-iam-authenticator asks.
                if "application/json" in environ.get("HTTP_ACCEPT", ""):
                    status, headers, payload = _query_answer_as_json(status, headers, payload)
            else:
                status, headers, payload = self._forward_with_hooks(service, action, environ, params)
        except AwsError as error:
            status, headers, payload = self._error_response(service, error)
        self.log.record(service or "unknown", action, is_write(action), status, **detail)
        start_response(_status_line(status), headers)
        return [payload]

    @staticmethod
    def _read_body(environ):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        # moto reads the body again: give it a fresh stream.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return body

    def _identify(self, environ, path, params):
        """``(service, action)``; service None when the request is no API we serve."""
        action = params.get("Action")
        if action:
            scope_service = _scope_service(environ.get("HTTP_AUTHORIZATION", ""), params)
            if scope_service in ("iam", "sts"):
                return scope_service, action
            if action in UNSIGNED_STS_ACTIONS:
                return "sts", action
            return QUERY_VERSIONS.get(params.get("Version", "")), action
        method = environ.get("REQUEST_METHOD", "GET")
        for route_method, regex, name in self._eks_routes:
            if route_method == method and regex.fullmatch(path):
                return "eks", name
        return None, "Unknown"

    # ----- SigV4 header signatures -----------------------------------------------------------

    def _authenticate(self, environ, body, service):
        """Refuse a call signed in its ``Authorization`` header with credentials AWS would refuse.
        Unsigned calls (``AssumeRoleWithWebIdentity``) and presigned URLs (checked on their own
        path) pass untouched."""
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return
        fields = dict(re.findall(r"(Credential|SignedHeaders|Signature)=([^,\s]+)", authorization))
        credential = fields.get("Credential", "").split("/")
        if len(credential) != 5 or credential[4] != "aws4_request" or "SignedHeaders" not in fields \
                or "Signature" not in fields:
            raise AwsError(400, "IncompleteSignature",
                           f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                           f"parameters. Authorization={authorization}")
        key_id, scope_date, scope_region, scope_service, _unused = credential
        eks = service == "eks"
        try:
            secret, token = self._secret_for(key_id, environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))
        except AwsError as error:
            if eks:  # EKS (REST-JSON) names the same refusals its own way
                error.code = {"InvalidClientTokenId": "UnrecognizedClientException",
                              "ExpiredToken": "ExpiredTokenException"}.get(error.code, error.code)
            raise
        mismatch = "InvalidSignatureException" if eks else "SignatureDoesNotMatch"
        amz_date = environ.get("HTTP_X_AMZ_DATE", "")
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
        expected = self._header_signature(environ, body, key_id, secret, token, scope_region, scope_service,
                                          amz_date, fields["SignedHeaders"].split(";"))
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise AwsError(403, mismatch,
                           "The request signature we calculated does not match the signature you "
                           "provided. Check your AWS Secret Access Key and signing method. Consult "
                           "the service documentation for details.")

    @staticmethod
    def _header_signature(environ, body, key_id, secret, token, region, service, timestamp, signed_headers):
        """Recompute the SigV4 header signature with botocore's own signer, from the headers the
        client says it signed."""
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
        signer = SigV4Auth(Credentials(key_id, secret, token), service, region)
        canonical = signer.canonical_request(request)
        return signer.signature(signer.string_to_sign(request, canonical), request)

    # ----- identity-based permissions -----------------------------------------------------------

    def _authorization(self, environ, service, action, path, params):
        """The log's ``resource`` and ``authorization`` of this call (see ``iam_authz.required``)."""
        credential = _credential(environ.get("HTTP_AUTHORIZATION", ""), params)
        region = credential[2] if len(credential) == 5 else self.region

        def role_arn(name):
            with self._moto_lock:
                role = self._find_role(name)
            return role.arn if role is not None else None

        needed = iam_authz.required(service, action, params, self.account_id, region, path, role_arn)
        return {"resource": needed[0][1] if needed else "", "authorization": [list(pair) for pair in needed]}

    def _enforce(self, environ, params, service, authorization):
        """Hold an IAM user's access key (other than the sandbox's static key) to the user's
        identity-based policies (inline and attached managed), as IAM does. Temporary credentials
        and the static key are not restricted."""
        credential = _credential(environ.get("HTTP_AUTHORIZATION", ""), params)
        key_id = credential[0] if len(credential) == 5 else ""
        if not authorization or not key_id or key_id == self.access_key:
            return
        with self._moto_lock:
            key = self.iam.access_keys.get(key_id)
            user = self.iam.users.get(key.user_name) if key is not None and key.user_name else None
            if user is None:
                return
            documents = list(user.policies.values()) + [
                version.document for policy in user.managed_policies.values()
                for version in policy.versions if version.is_default]
        for action, resource in authorization:
            verdict = iam_authz.decide(documents, action, resource)
            if verdict != "Allow":
                code = "AccessDeniedException" if service == "eks" else "AccessDenied"
                raise AwsError(403, code, iam_authz.denial(user.arn, action, resource, verdict))

    # ----- forwarding to moto -------------------------------------------------------------------

    def _forward(self, service, environ):
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = list(headers)

        with self._moto_lock:
            result = self._apps[service](environ, capture)
            try:
                payload = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        return captured["status"], captured["headers"], payload

    def _forward_with_hooks(self, service, action, environ, params):
        """Forward to moto; around IAM trust writes, keep the gate's delayed view of trust."""
        if service != "iam" or action not in ("CreateRole", "UpdateAssumeRolePolicy", "DeleteRole"):
            return self._forward(service, environ)
        role_name = params.get("RoleName", "")
        with self._moto_lock:
            previous = None
            if action == "UpdateAssumeRolePolicy":
                role = self._find_role(role_name)
                previous = self.trust.visible(role) if role else None
            status, headers, payload = self._forward(service, environ)
            if status == 200:
                if action == "DeleteRole":
                    self.trust.forget(role_name)
                else:
                    self.trust.written(role_name, previous)
        return status, headers, payload

    def _find_role(self, role_name):
        for role in self.iam.get_roles():
            if role.name == role_name:
                return role
        return None

    # ----- STS: AssumeRoleWithWebIdentity -------------------------------------------------------

    def _assume_role_with_web_identity(self, environ, params):
        token = params.get("WebIdentityToken") or ""
        role_arn = params.get("RoleArn") or ""
        for name, value in (("roleArn", role_arn), ("roleSessionName", params.get("RoleSessionName")),
                            ("webIdentityToken", token)):
            if not value:
                raise AwsError(400, "ValidationError",
                               f"1 validation error detected: Value null at '{name}' failed to satisfy "
                               "constraint: Member must not be null")
        try:
            unverified = json.loads(b64url_decode(token.split(".")[1]))
            issuer_url = unverified["iss"]
            if not isinstance(issuer_url, str):
                raise ValueError("iss")
        except (IndexError, ValueError, KeyError, TypeError):
            raise AwsError(400, "InvalidIdentityToken", "Couldn't parse the web identity token") from None

        provider = issuer_url[len("https://"):] if issuer_url.startswith("https://") else issuer_url
        provider_arn = f"arn:{PARTITION}:iam::{self.account_id}:oidc-provider/{provider}"
        with self._moto_lock:
            oidc = self.iam.open_id_providers.get(provider_arn)
            client_ids = list(oidc.client_id_list) if oidc else []
        if oidc is None:
            raise AwsError(400, "InvalidIdentityToken",
                           f"No OpenIDConnect provider found in your account for {issuer_url}")

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

        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        accepted = [aud for aud in audiences if isinstance(aud, str) and aud in client_ids]
        if not accepted:
            raise AwsError(400, "InvalidIdentityToken", "Incorrect token audience")
        audience = accepted[0]

        now = int(time.time())
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or now >= exp:
            raise AwsError(400, "ExpiredTokenException",
                           f"Token expired: current date/time {now} must be before the expiration "
                           f"date/time {exp}")

        subject = claims.get("sub")
        with self._moto_lock:
            role = self._role_from_arn(role_arn)
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

    def _role_from_arn(self, role_arn):
        match = re.fullmatch(r"arn:aws:iam::(\d{12}):role/(?:[^/]+/)*([^/]+)", role_arn)
        if not match or match.group(1) != self.account_id:
            return None
        role = self._find_role(match.group(2))
        return role if role is not None and role.arn == role_arn else None

    # ----- STS: presigned GetCallerIdentity (EKS bearer tokens) ---------------------------------

    def _presigned_caller_identity(self, environ, query):
        params = dict(query)
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
        signed_headers = params.get("X-Amz-SignedHeaders", "").split(";")

        secret, token = self._secret_for(key_id, params.get("X-Amz-Security-Token"))

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

        expected = self._presigned_signature(environ, query, key_id, secret, token, scope_region,
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

    def _secret_for(self, key_id, session_token):
        """The secret of ``key_id`` (the static key, an IAM user's key, or a temporary key moto
        issued), checking the session token of temporary keys as STS does."""
        invalid = AwsError(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        if key_id == self.access_key:
            if session_token:
                raise invalid
            return self.secret_key, None
        with self._moto_lock:
            key = self.iam.access_keys.get(key_id)
            assumed = self.sts.get_assumed_role_from_access_key(key_id)
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

    @staticmethod
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

    # ----- error answers ------------------------------------------------------------------------

    def _fault_response(self, service, rule):
        if rule.kind == "throttle":
            if service == "eks":
                return _json_error(429, "ThrottlingException", "Rate exceeded")
            return _xml_error(service, AwsError(400, "Throttling", "Rate exceeded"))
        status = 500 if int(rule.status) == 500 else 503
        if service == "eks":
            if status == 500:
                return _json_error(500, "ServerException", "An internal error occurred.")
            return _json_error(503, "ServiceUnavailableException", "Service unavailable.")
        if status == 500:
            return _xml_error(service, AwsError(500, "InternalFailure",
                                                "An internal error has occurred", sender=False))
        return _xml_error(service, AwsError(503, "ServiceUnavailable", "Service is unavailable",
                                            sender=False))

    def _error_response(self, service, error):
        if service == "eks":
            return _json_error(error.status, error.code, error.message)
        return _xml_error(service, error)


def _credential(authorization, params):
    """The SigV4 credential (header or presigned query) as ``[key id, date, region, service,
    "aws4_request"]``; another length when there is none."""
    credential = params.get("X-Amz-Credential", "")
    if not credential:
        match = re.search(r"Credential=([^,\s]+)", authorization)
        credential = match.group(1) if match else ""
    return credential.split("/")


def _scope_service(authorization, params):
    """The service of a SigV4 credential scope (header or presigned query), else None."""
    parts = _credential(authorization, params)
    return parts[3] if len(parts) == 5 else None


def _status_line(status):
    reasons = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
               500: "Internal Server Error", 503: "Service Unavailable"}
    return f"{status} {reasons.get(status, 'Unknown')}"


def _xml_escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _xml_error(service, error):
    """AWS's query-protocol error document (what botocore's query parser reads)."""
    namespace = XML_NAMESPACES.get(service, XML_NAMESPACES["sts"])
    request_id = str(uuid.uuid4())
    payload = (
        f'<ErrorResponse xmlns="{namespace}">\n'
        f"  <Error>\n"
        f"    <Type>{'Sender' if error.sender else 'Receiver'}</Type>\n"
        f"    <Code>{_xml_escape(error.code)}</Code>\n"
        f"    <Message>{_xml_escape(error.message)}</Message>\n"
        f"  </Error>\n"
        f"  <RequestId>{request_id}</RequestId>\n"
        f"</ErrorResponse>\n"
    ).encode()
    headers = [("Content-Type", "text/xml"), ("Content-Length", str(len(payload))),
               ("x-amzn-RequestId", request_id)]
    return error.status, headers, payload


def _json_error(status, code, message):
    """A REST-JSON error as EKS sends it: the code in ``x-amzn-ErrorType``, the message in the body."""
    request_id = str(uuid.uuid4())
    payload = json.dumps({"message": message}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
               ("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/com.amazonaws.eks/"),
               ("x-amzn-RequestId", request_id)]
    return status, headers, payload


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


def _add_web_identity_fields(payload, subject, audience, provider):
    """AWS's AssumeRoleWithWebIdentity result names the token's subject, audience and provider;
    moto's does not."""
    extra = (
        f"<SubjectFromWebIdentityToken>{_xml_escape(str(subject))}</SubjectFromWebIdentityToken>"
        f"<Audience>{_xml_escape(audience)}</Audience>"
        f"<Provider>{_xml_escape(provider)}</Provider>"
    ).encode()
    marker = b"</AssumeRoleWithWebIdentityResult>"
    if marker in payload and b"<SubjectFromWebIdentityToken>" not in payload:
        payload = payload.replace(marker, extra + marker, 1)
    return payload
