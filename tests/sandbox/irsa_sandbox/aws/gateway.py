"""The AWS gateway: one WSGI application in front of moto's IAM, STS and EKS.

``AwsGateway`` is a WSGI application. For each request it

1. hands ``/_sandbox/...`` to the control application (not logged, never faulted), but for
   ``/_sandbox/eks/...``, the routes of the EKS calls moto lacks (``control_eks``);
2. works out the service (``iam``, ``sts``, ``eks``) and the API action (``Action`` parameter of the
   query protocol; the REST route of EKS, ``eks.operation``), and what IAM authorizes for it
   (``iam_authz.required``: action and resource ARN);
3. asks the ``FaultInjector`` whether this call is throttled or fails, answering in AWS's error
   shape if so (never for a cluster's own check of an EKS bearer token);
4. verifies the SigV4 ``Authorization`` header of every signed call as AWS does
   (``signatures.HeaderSignatures``: known key, its session token, clock skew, the signature);
5. holds an IAM user's access key (not the static key, not temporary credentials) to the user's
   identity-based policies (``iam_authz.decide``), answering ``AccessDenied`` as IAM does;
6. answers ``AssumeRoleWithWebIdentity`` only after the checks AWS makes (``sts.WebIdentityGate``);
7. verifies SigV4 *presigned* ``GetCallerIdentity`` requests (``sts.PresignedCallerIdentity``);
8. answers the EKS calls moto lacks (Pod Identity associations, add-ons: ``eks_pod_identity``) and EKS Auth's
   ``AssumeRoleForPodIdentity`` (service ``eks-auth``: ``pod_identity_auth``);
9. forwards everything else to moto (keeping ``iam.TrustView`` current around trust writes), and
   records the call in the ``RequestLog``.

moto's backends are process-global and not written for concurrent use, so every call into moto
is serialised by one lock; the gateway's own work (token checks, signatures) runs outside it.
"""

import io
import json
import re
import threading
from collections import deque
from urllib.parse import parse_qsl

from moto.moto_server.werkzeug_app import create_backend_app

from . import eks, eks_pod_identity, iam, iam_authz, pod_identity_auth, signatures, sts
from .errors import AwsError, json_error, xml_error

SERVICES = ("iam", "sts", "eks")
# REST-JSON services, whose errors are JSON with the code in x-amzn-ErrorType.
JSON_SERVICES = ("eks", "eks-auth")

WRITE_PREFIXES = (
    "Create", "Update", "Put", "Delete", "Attach", "Detach", "Tag", "Untag", "Add", "Remove", "Set",
)

# Query-protocol APIs, told apart by their API version when a request is not signed.
QUERY_VERSIONS = {"2010-05-08": "iam", "2011-06-15": "sts"}


def is_write(action):
    return action.startswith(WRITE_PREFIXES)


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
        self.trust = iam.TrustView()
        self.decisions = deque(maxlen=50)  # recent gate decisions, for test diagnostics
        self._moto_lock = threading.RLock()
        self._apps = {service: create_backend_app(service) for service in SERVICES}
        self._eks_routes = eks.routes()
        self._web_identity = sts.WebIdentityGate(account_id, self.issuers, self.trust, self.decisions,
                                                 self._moto_lock, self._forward)
        self._caller_identity = sts.PresignedCallerIdentity(account_id, access_key, secret_key,
                                                            self._moto_lock, self._forward)
        self._signatures = signatures.HeaderSignatures(self._caller_identity.secret_for)
        self.pod_identity = eks_pod_identity.PodIdentityStore(account_id, region, self._cluster_exists)
        self.pod_identity_sessions = deque(maxlen=200)  # the session tags of EKS Auth's credentials, per access key
        self.pod_identity_auth = pod_identity_auth.PodIdentityAuth(
            account_id, region, self.pod_identity, self._cluster_issuer, self.trust, self._moto_lock, self.decisions,
            self.pod_identity_sessions)

    # ----- moto state -------------------------------------------------------------------------

    @property
    def iam(self):
        return iam.backend(self.account_id)

    @property
    def sts(self):
        return sts.backend(self.account_id)

    def seed_admin(self, user_name="sandbox-admin"):
        """An IAM user owning the sandbox's static access key, so that the key is known to IAM
        (GetCallerIdentity answers ``arn:aws:iam::<account>:user/sandbox-admin``, as AWS does for
        a user's key) and presigned requests made with it can be verified."""
        with self._moto_lock:
            iam.seed_user(self.iam, self.region, self.account_id, user_name, self.access_key, self.secret_key)

    def _cluster_exists(self, name):
        from moto.eks.models import eks_backends

        with self._moto_lock:
            return name in eks_backends[self.account_id][self.region].clusters

    def _cluster_issuer(self, name):
        """The token verifier of cluster ``name``'s issuer (the keys its apiserver publishes), else None."""
        from moto.eks.models import eks_backends

        with self._moto_lock:
            cluster = eks_backends[self.account_id][self.region].clusters.get(name)
            issuer_url = ((getattr(cluster, "identity", None) or {}).get("oidc") or {}).get("issuer") if cluster else None
        return self.issuers.get(issuer_url) if issuer_url else None

    def moto(self, fn, *args, **kwargs):
        """Run ``fn`` with moto's state locked (for code outside this module, e.g. seeding)."""
        with self._moto_lock:
            return fn(*args, **kwargs)

    # ----- WSGI entry ---------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/eks/"):
            return self.control_eks(environ, start_response, path)
        if path.startswith("/_sandbox/") and self.control is not None:
            return self.control(environ, start_response)

        body = self._read_body(environ)
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        params = dict(query)
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        service, action = self._identify(environ, path, params)
        detail = self._authorization(environ, service, action, path, params)

        # A cluster's TokenReview webhook checking an EKS bearer token (a presigned GetCallerIdentity with the
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
            self._signatures.authenticate(environ, body, service)
            self._enforce(environ, params, service, detail["authorization"])
            if service == "sts" and action == "AssumeRoleWithWebIdentity":
                status, headers, payload = self._web_identity.answer(environ, params)
            elif service == "sts" and action == "GetCallerIdentity" and "X-Amz-Signature" in params:
                status, headers, payload = self._caller_identity.answer(environ, query)
            elif service == "eks-auth":
                if not environ.get("HTTP_AUTHORIZATION", "").startswith("AWS4-HMAC-SHA256 "):
                    raise AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
                status, headers, payload = self.pod_identity_auth.answer(path, body)
            elif service == "eks" and self.pod_identity.handles(action, path):
                status, headers, payload = self.pod_identity.answer(action, path, environ.get("QUERY_STRING", ""), body)
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
            if action in sts.UNSIGNED_ACTIONS:
                return "sts", action
            return QUERY_VERSIONS.get(params.get("Version", "")), action
        method = environ.get("REQUEST_METHOD", "GET")
        if pod_identity_auth.operation(method, path):
            return "eks-auth", pod_identity_auth.OPERATION
        operation = eks.operation(self._eks_routes, method, path) or eks_pod_identity.tags_operation(method, path)
        if operation is not None:
            return "eks", operation
        return None, "Unknown"

    def control_eks(self, environ, start_response, path):
        """``POST /_sandbox/eks/addon`` ``{"cluster", "addon", "present"}`` removes or restores an add-on;
        ``GET /_sandbox/eks/pod-identity-associations`` lists every association, ``GET
        /_sandbox/eks/pod-identity-sessions`` the sessions EKS Auth opened (with their session tags)."""
        method = environ.get("REQUEST_METHOD", "GET")
        route = path[len("/_sandbox/eks/"):].strip("/")
        if route == "addon" and method == "POST":
            try:
                request = json.loads(self._read_body(environ) or b"{}")
                status, answer = 200, self.pod_identity.set_addon(
                    request["cluster"], request.get("addon", eks_pod_identity.POD_IDENTITY_AGENT), request.get("present", True))
            except (ValueError, KeyError) as error:
                status, answer = 400, {"error": f"expected {{cluster, addon, present}}: {error}"}
        elif route == "pod-identity-associations" and method == "GET":
            status, answer = 200, {"associations": self.pod_identity.associations()}
        elif route == "pod-identity-sessions" and method == "GET":
            status, answer = 200, {"sessions": list(self.pod_identity_sessions)}
        else:
            status, answer = 404, {"error": f"no control route {method} {path}"}
        payload = json.dumps(answer, indent=1).encode()
        start_response(_status_line(status), [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    # ----- identity-based permissions -----------------------------------------------------------

    def _authorization(self, environ, service, action, path, params):
        """The log's ``resource`` and ``authorization`` of this call (see ``iam_authz.required``)."""
        credential = _credential(environ.get("HTTP_AUTHORIZATION", ""), params)
        region = credential[2] if len(credential) == 5 else self.region

        def role_arn(name):
            with self._moto_lock:
                role = iam.find_role(self.iam, name)
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
            user, documents = iam.identity_policies(self.iam, key_id)
        if user is None:
            return
        for action, resource in authorization:
            verdict = iam_authz.decide(documents, action, resource)
            if verdict != "Allow":
                code = "AccessDeniedException" if service in JSON_SERVICES else "AccessDenied"
                # The eks-auth model gives AccessDeniedException HTTP 400.
                raise AwsError(400 if service == "eks-auth" else 403, code, iam_authz.denial(user.arn, action, resource, verdict))

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
        if service != "iam" or action not in iam.TRUST_WRITES:
            return self._forward(service, environ)
        role_name = params.get("RoleName", "")
        with self._moto_lock:
            return iam.forward_trust_write(self.trust, self.iam, action, role_name,
                                           lambda: self._forward(service, environ))

    # ----- error answers ------------------------------------------------------------------------

    def _fault_response(self, service, rule):
        if rule.kind == "throttle":
            if service in JSON_SERVICES:
                return json_error(429, "ThrottlingException", "Rate exceeded")
            return xml_error(service, AwsError(400, "Throttling", "Rate exceeded"))
        status = 500 if int(rule.status) == 500 else 503
        if service == "eks-auth":
            if status == 500:
                return json_error(500, "InternalServerException", "An internal error occurred.")
            return json_error(503, "ServiceUnavailableException", "Service unavailable.")
        if service == "eks":
            if status == 500:
                return json_error(500, "ServerException", "An internal error occurred.")
            return json_error(503, "ServiceUnavailableException", "Service unavailable.")
        if status == 500:
            return xml_error(service, AwsError(500, "InternalFailure",
                                               "An internal error has occurred", sender=False))
        return xml_error(service, AwsError(503, "ServiceUnavailable", "Service is unavailable",
                                           sender=False))

    def _error_response(self, service, error):
        if service in JSON_SERVICES:
            return json_error(error.status, error.code, error.message)
        return xml_error(service, error)


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
    reasons = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests",
               500: "Internal Server Error", 503: "Service Unavailable"}
    return f"{status} {reasons.get(status, 'Unknown')}"
