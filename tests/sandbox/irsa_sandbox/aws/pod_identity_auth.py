"""EKS Auth's ``AssumeRoleForPodIdentity`` (service ``eks-auth``), which moto does not serve: what the EKS Pod
Identity Agent on a node calls with a pod's projected ServiceAccount token.

``PodIdentityAuth.answer`` makes AWS's checks, in this order, each with the error of botocore's ``eks-auth`` model:

1. the cluster exists (``ResourceNotFoundException``); the request has a token (``InvalidParameterException``);
2. the token is a ServiceAccount token of *that* cluster: signed by a key of the cluster's own JWKS (as the
   apiserver publishes it), ``iss`` the cluster's issuer, audience ``pods.eks.amazonaws.com``, bound to a pod
   (``InvalidTokenException``); not expired (``ExpiredTokenException``);
3. an association exists for the token's namespace and ServiceAccount (``ResourceNotFoundException``);
4. the role's trust (as ``iam.TrustView`` shows it) lets the service principal ``pods.eks.amazonaws.com``
   perform ``sts:AssumeRole`` and, unless the association has ``disableSessionTags``, ``sts:TagSession``, with
   the request context ``aws:SourceAccount``, ``aws:SourceArn`` (the cluster's ARN), ``aws:RequestTag/<tag>``
   and ``aws:TagKeys`` (``referee.evaluate_request``) (``AccessDeniedException``);
5. with a ``targetRoleArn``: the target role's trust lets the first role (principal ``AWS``) perform
   ``sts:AssumeRole`` (and ``sts:TagSession`` with tags) with ``sts:ExternalId`` = the association's
   ``externalId`` (``AccessDeniedException``).

Then moto's STS issues temporary credentials for a session ``eks-<cluster>-<pod>-<uuid>`` (at most 64
characters) of the role (of the target role when chained), and the answer has the model's shape. The session
tags EKS adds (``SESSION_TAGS``) are kept per access key in ``sessions`` (``GET
/_sandbox/eks/pod-identity-sessions``), since ``GetCallerIdentity`` does not show them, as in AWS.
"""

import json
import time
import uuid
from urllib.parse import unquote

from . import iam, sts
from .errors import AwsError
from .referee import evaluate_request

OPERATION = "AssumeRoleForPodIdentity"
SERVICE_PRINCIPAL = "pods.eks.amazonaws.com"
AUDIENCE = "pods.eks.amazonaws.com"
SESSION_TAGS = ("eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account",
                "kubernetes-pod-name", "kubernetes-pod-uid")
SESSION_SECONDS = 3600
_PREFIX, _SUFFIX = "/clusters/", "/assume-role-for-pod-identity"


def operation(method, path):
    """``AssumeRoleForPodIdentity`` for its route (botocore's ``eks-auth`` model), else None."""
    path = path.rstrip("/")
    if method == "POST" and path.startswith(_PREFIX) and path.endswith(_SUFFIX):
        cluster = path[len(_PREFIX):-len(_SUFFIX)]
        if cluster and "/" not in cluster:
            return OPERATION
    return None


def cluster_arn(region, account_id, cluster):
    return f"arn:{iam.PARTITION}:eks:{region}:{account_id}:cluster/{cluster}"


def _json(status, document):
    payload = json.dumps(document).encode()
    return status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                    ("x-amzn-RequestId", str(uuid.uuid4()))], payload


def _denied(message):
    # The eks-auth model gives AccessDeniedException HTTP 400.
    return AwsError(400, "AccessDeniedException", message)


class PodIdentityAuth:
    """``answer(path, body)`` of ``AssumeRoleForPodIdentity``. ``store``: the ``PodIdentityStore``;
    ``issuer_of(cluster)``: the cluster's token verifier (``verify(token)`` -> claims or None, ``url``) or None;
    ``trust``: the ``iam.TrustView``; ``lock``: moto's lock; ``decisions`` and ``sessions``: deques it appends to."""

    def __init__(self, account_id, region, store, issuer_of, trust, lock, decisions, sessions):
        self.account_id = account_id
        self.region = region
        self.store = store
        self.issuer_of = issuer_of
        self.trust = trust
        self._lock = lock
        self.decisions = decisions
        self.sessions = sessions

    def answer(self, path, body):
        cluster = unquote(path.rstrip("/")[len(_PREFIX):-len(_SUFFIX)])
        if not self.store.cluster_exists(cluster):
            raise AwsError(404, "ResourceNotFoundException", f"No cluster found for name: {cluster}.")
        try:
            token = (json.loads(body or b"{}") or {}).get("token")
        except (ValueError, AttributeError):
            token = None
        if not token or not isinstance(token, str):
            raise AwsError(400, "InvalidParameterException", "token is required.")
        subject = self._subject(cluster, token)
        association = self.store.association_for(cluster, subject["namespace"], subject["serviceAccount"])
        if association is None:
            raise AwsError(404, "ResourceNotFoundException",
                           f"No Pod Identity Association found for service account {subject['serviceAccount']} "
                           f"in namespace {subject['namespace']} of cluster {cluster}.")
        arn = cluster_arn(self.region, self.account_id, cluster)
        tags = {} if association["disableSessionTags"] else dict(zip(SESSION_TAGS, (
            arn, cluster, subject["namespace"], subject["serviceAccount"], subject["pod"], subject["pod_uid"])))
        session_name = f"eks-{cluster}-{subject['pod']}-{uuid.uuid4()}"[:64]
        context = {"aws:SourceAccount": self.account_id, "aws:SourceArn": arn}
        self._allow(association["roleArn"], {"Service": [SERVICE_PRINCIPAL]}, context, tags)
        role_arn = association["roleArn"]
        if association.get("targetRoleArn"):
            first = role_arn.split("/")[-1]
            principal = {"AWS": [role_arn, f"arn:{iam.PARTITION}:sts::{self.account_id}:assumed-role/{first}/{session_name}",
                                 f"arn:{iam.PARTITION}:iam::{self.account_id}:root", self.account_id]}
            self._allow(association["targetRoleArn"], principal,
                        {"sts:ExternalId": association.get("externalId", ""), "aws:PrincipalArn": role_arn}, tags)
            role_arn = association["targetRoleArn"]
        with self._lock:
            assumed = sts.backend(self.account_id).assume_role(
                region_name=self.region, role_session_name=session_name, role_arn=role_arn, policy="",
                duration=SESSION_SECONDS, external_id=association.get("externalId"))
            assumed_user = {"arn": assumed.arn, "assumeRoleId": assumed.user_id}
        self.sessions.append({
            "access_key_id": assumed.access_key_id, "role_arn": role_arn, "session_name": session_name,
            "source_role_arn": association["roleArn"] if role_arn != association["roleArn"] else None,
            "tags": tags, "association_id": association["associationId"], "cluster": cluster,
            "namespace": subject["namespace"], "service_account": subject["serviceAccount"], "time": time.time(),
        })
        return _json(200, {
            "subject": {"namespace": subject["namespace"], "serviceAccount": subject["serviceAccount"]},
            "audience": AUDIENCE,
            "podIdentityAssociation": {"associationArn": association["associationArn"],
                                       "associationId": association["associationId"]},
            "assumedRoleUser": assumed_user,
            "credentials": {"sessionToken": assumed.session_token, "secretAccessKey": assumed.secret_access_key,
                            "accessKeyId": assumed.access_key_id, "expiration": int(_epoch(assumed.expiration))},
        })

    def _subject(self, cluster, token):
        """``{namespace, serviceAccount, pod, pod_uid}`` of a valid ServiceAccount token of ``cluster``."""
        invalid = AwsError(400, "InvalidTokenException", "The specified Kubernetes service account token is invalid.")
        issuer = self.issuer_of(cluster)
        claims = issuer.verify(token) if issuer is not None else None
        if not isinstance(claims, dict) or claims.get("iss") != issuer.url:
            raise invalid
        audiences = claims.get("aud")
        if AUDIENCE not in (audiences if isinstance(audiences, list) else [audiences]):
            raise invalid
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or time.time() >= exp:
            raise AwsError(400, "ExpiredTokenException", "The specified Kubernetes service account token is expired.")
        kubernetes = claims.get("kubernetes.io") or {}
        pod = kubernetes.get("pod") or {}
        account = kubernetes.get("serviceaccount") or {}
        subject = {"namespace": kubernetes.get("namespace"), "serviceAccount": account.get("name"),
                   "pod": pod.get("name"), "pod_uid": pod.get("uid")}
        if not all(isinstance(value, str) and value for value in subject.values()):
            raise invalid
        return subject

    def _allow(self, role_arn, principal, context, tags):
        """Raise ``AccessDeniedException`` unless ``role_arn``'s trust lets ``principal`` assume it (and tag the
        session with ``tags``)."""
        # A target role may be in another account (cross-account chaining): it is looked up in its own.
        account_id = role_arn.split(":")[4] if role_arn.count(":") >= 5 else self.account_id
        with self._lock:
            role = iam.role_from_arn(iam.backend(account_id), account_id, role_arn)
            policy = self.trust.visible(role) if role else None
        record = {"time": int(time.time()), "role_arn": role_arn, "principal": principal, "action": "sts:AssumeRole"}
        if policy is None:
            self.decisions.append(dict(record, allowed=False, reason="role not found (or not yet visible)"))
            raise _denied(f"Not authorized to perform sts:AssumeRole on {role_arn}: no such role.")
        context = dict(context)
        if tags:
            context.update({f"aws:RequestTag/{key}": value for key, value in tags.items()})
            context["aws:TagKeys"] = list(tags)
        for action in ("sts:AssumeRole", "sts:TagSession") if tags else ("sts:AssumeRole",):
            decision = evaluate_request(policy, principal, action, context)
            self.decisions.append(dict(record, action=action, allowed=decision.allowed, reason=str(decision)))
            if not decision.allowed:
                raise _denied(f"Not authorized to perform {action} on {role_arn}: the role's trust policy does not "
                              f"allow {next(iter(principal.values()))[0]}.")


def _epoch(value):
    """Seconds since the epoch of moto's (naive UTC or aware) expiration."""
    import calendar

    if value.tzinfo is not None:
        return value.timestamp()
    return calendar.timegm(value.utctimetuple())
