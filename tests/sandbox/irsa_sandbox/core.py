"""Pieces shared by the AWS and the Kubernetes halves of the sandbox.

- ``Issuer``: one cluster's service-account token issuer (RSA key, JWKS, RS256 signing).
- ``RequestLog``: every API call the sandbox answers, counted per service and action.
- ``FaultInjector``: throttling, server errors, latency and concurrent writers on a chosen fraction of calls.

Test infrastructure only: nothing here is shared with ``plugins/``.
"""

import base64
import fnmatch
import hashlib
import json
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    text = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text.encode("ascii"))


def _int_b64url(number):
    return b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))


class Issuer:
    """A service-account token issuer, as an EKS cluster's OIDC issuer.

    ``url`` has the shape EKS gives (``https://oidc.eks.<region>.amazonaws.com/id/<32 HEX>``);
    the documents behind it (discovery, JWKS) are served by the sandbox.
    """

    def __init__(self, cluster_name, region, account_id, key_size=2048):
        digest = hashlib.sha256(f"{account_id}/{region}/{cluster_name}".encode()).hexdigest()
        self.oidc_id = digest[:32].upper()
        self.host = f"oidc.eks.{region}.amazonaws.com"
        self.url = f"https://{self.host}/id/{self.oidc_id}"
        self.provider = self.url[len("https://"):]
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        public_der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = b64url(hashlib.sha256(public_der).digest())
        self.issued = deque(maxlen=1000)  # every token signed, for GET /_sandbox/secrets (test only)

    def private_pem(self):
        """The signing key as PKCS#8 PEM (what kube-apiserver's --service-account-signing-key-file reads)."""
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())

    def public_pem(self):
        return self._key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwks(self):
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": _int_b64url(numbers.n),
                    "e": _int_b64url(numbers.e),
                }
            ]
        }

    def discovery(self):
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/keys",
            "authorization_endpoint": "urn:kubernetes:programmatic_authorization",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["sub", "iss"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def sign(self, claims):
        """Return an RS256 JWT of ``claims`` signed with this issuer's key."""
        header = {"alg": "RS256", "kid": self.kid}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        token = signing_input + "." + b64url(signature)
        self.issued.append(token)
        return token

    def verify(self, token):
        """Return the claims of ``token`` when its RS256 signature is this issuer's, else None.

        Only the signature is checked here; expiry, audience and issuer are the caller's rules.
        """
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            if header.get("alg") != "RS256":
                return None
            self._key.public_key().verify(
                b64url_decode(signature_b64),
                f"{header_b64}.{claims_b64}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            return json.loads(b64url_decode(claims_b64))
        except Exception:  # any malformed or forged token is simply not ours
            return None


@dataclass
class Call:
    seq: int
    time: float
    service: str  # "iam", "sts", "eks", "kubernetes"
    action: str  # AWS action name, or "<verb> <resource>" for Kubernetes (e.g. "patch serviceaccounts")
    write: bool
    status: int = 0
    fault: str = ""
    # AWS: the ARN the call acts on, and the (action, resource) pairs IAM authorizes for it (empty
    # for calls that need no identity permission). Kubernetes: the API group and the namespace RBAC
    # sees (for a namespace object, its own name).
    resource: str = ""
    authorization: list = field(default_factory=list)
    api_group: str = ""
    namespace: str = ""


class RequestLog:
    """Every call the sandbox answers, in order, with counts per service and action."""

    def __init__(self):
        self._lock = threading.Lock()
        self._calls = []
        self._seq = 0

    def record(self, service, action, write, status=0, fault="", **detail):
        """``detail``: the optional fields of ``Call`` (``resource``, ``authorization``, ``api_group``,
        ``namespace``)."""
        with self._lock:
            self._seq += 1
            call = Call(self._seq, time.time(), service, action, bool(write), status, fault, **detail)
            self._calls.append(call)
            return call

    def reset(self):
        with self._lock:
            self._calls = []

    def calls(self):
        with self._lock:
            return list(self._calls)

    def summary(self, since=0):
        """``{"calls": [...], "counts": {"iam:CreateRole": 1, ...}, "reads": n, "writes": n}``, of the calls
        after sequence number ``since`` (0: every call since the last reset). A test that polls the log reads
        only what is new: serialising the whole log on every poll costs the sandbox seconds of CPU per test."""
        calls = [call for call in self.calls() if call.seq > since]
        counts = {}
        for call in calls:
            key = f"{call.service}:{call.action}"
            counts[key] = counts.get(key, 0) + 1
        return {
            "calls": [call.__dict__ for call in calls],
            "counts": counts,
            "reads": sum(1 for call in calls if not call.write),
            "writes": sum(1 for call in calls if call.write),
        }


@dataclass
class FaultRule:
    """Answer a fraction of matching calls with a fault.

    ``service`` and ``action`` are fnmatch patterns (``"iam"``, ``"Create*"``, ``"*"``; Kubernetes
    actions are ``"<verb> <resource>"``). ``kind`` is ``throttle`` (AWS ``Throttling`` / Kubernetes
    429 with Retry-After), ``error`` (HTTP ``status``, 500 or 503), ``latency`` (``latency``
    seconds added, the call then answered normally), or ``conflict`` (Kubernetes only: another
    writer applies ``change``, a JSON merge patch, to the object the call writes, storing it under a
    new resourceVersion, just before the call is handled; a write made conditional by the
    resourceVersion it read then answers 409 Conflict, as a real API server does). ``limit`` caps the
    faults a rule injects (0: no cap).
    """

    service: str = "*"
    action: str = "*"
    kind: str = "throttle"
    fraction: float = 1.0
    status: int = 503
    latency: float = 0.0
    change: dict = field(default_factory=dict)
    limit: int = 0
    injected: int = field(default=0)


class FaultInjector:
    def __init__(self, seed=0):
        self._lock = threading.Lock()
        self._rules = []
        self._random = random.Random(seed)

    def configure(self, rules, seed=None):
        with self._lock:
            self._rules = [rule if isinstance(rule, FaultRule) else FaultRule(**rule) for rule in rules]
            if seed is not None:
                self._random = random.Random(seed)

    def rules(self):
        with self._lock:
            return [dict(rule.__dict__) for rule in self._rules]

    def pick(self, service, action, conflict=False):
        """Return the ``FaultRule`` that fires for this call, or None. Latency is slept here.

        ``conflict`` rules are considered only when the caller can apply one (``conflict=True``: a
        Kubernetes write to an existing object).
        """
        with self._lock:
            chosen = None
            for rule in self._rules:
                if not (fnmatch.fnmatchcase(service, rule.service) and fnmatch.fnmatchcase(action, rule.action)):
                    continue
                if (rule.kind == "conflict" and not conflict) or (rule.limit and rule.injected >= rule.limit):
                    continue
                if self._random.random() < rule.fraction:
                    rule.injected += 1
                    chosen = rule
                    break
        if chosen is not None and chosen.kind == "latency":
            time.sleep(chosen.latency)
            return None
        return chosen
