"""EKS authentication as aws-iam-authenticator does it: a ``k8s-aws-v1.`` bearer token is a presigned
``GetCallerIdentity`` URL, sent to STS (here: the sandbox's) with the cluster's name in the signed
``x-k8s-aws-id`` header; STS's answer names the IAM identity, whose canonical ARN an access entry maps.
"""

import base64
import datetime
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from xml.etree import ElementTree

EKS_TOKEN_PREFIX = "k8s-aws-v1."
EKS_TOKEN_LIFETIME = 15 * 60
EKS_TOKEN_PARAMETERS = {
    "action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
    "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders",
}
STS_HOST = re.compile(r"^sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$")


class User:
    def __init__(self, username, groups, uid="", extra=None):
        self.username = username
        self.groups = groups
        self.uid = uid
        self.extra = extra or {}


def canonical_arn(arn):
    """aws-iam-authenticator's ``arn.Canonicalize``: assumed-role session ARNs become role ARNs."""
    match = re.fullmatch(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/(.+)", arn)
    if match:
        partition, account, role, _unused = match.groups()
        return f"arn:{partition}:iam::{account}:role/{role}"
    return arn


def verify_eks_token(token, aws_endpoint_url, cluster_name):
    """aws-iam-authenticator's ``tokenVerifier.Verify``, with the sandbox STS as the STS: ``(User, valid until)``,
    or ``(None, 0)`` for a token it refuses."""
    if len(token) > 4096:
        return None, 0
    encoded = token[len(EKS_TOKEN_PREFIX):]
    if "=" in encoded or not re.fullmatch(r"[A-Za-z0-9_-]*", encoded):
        return None, 0
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        parsed = urllib.parse.urlsplit(url)
    except (ValueError, UnicodeDecodeError):
        return None, 0
    sandbox = urllib.parse.urlsplit(aws_endpoint_url)
    if (parsed.scheme, parsed.netloc) != (sandbox.scheme, sandbox.netloc):
        if parsed.scheme != "https" or not STS_HOST.match(parsed.hostname or ""):
            return None, 0
    if parsed.path != "/":
        return None, 0
    try:
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None, 0
    params = {}
    for key, values in query.items():
        if key.lower() not in EKS_TOKEN_PARAMETERS or len(values) != 1:
            return None, 0
        params[key.lower()] = values[0]
    if params.get("action") != "GetCallerIdentity":
        return None, 0
    if "x-k8s-aws-id" not in [h.lower() for h in params.get("x-amz-signedheaders", "").split(";")]:
        return None, 0
    try:
        expires = int(params.get("x-amz-expires", ""))
    except ValueError:
        return None, 0
    if not 0 <= expires <= 900:
        return None, 0
    try:
        signed_at = datetime.datetime.strptime(params.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None, 0
    valid_until = signed_at.replace(tzinfo=datetime.timezone.utc).timestamp() + EKS_TOKEN_LIFETIME
    if time.time() > valid_until:
        return None, 0
    target = aws_endpoint_url + "/?" + parsed.query
    request = urllib.request.Request(target, method="GET", headers={
        "x-k8s-aws-id": cluster_name, "Accept": "application/json", "Host": parsed.netloc,
    })
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            body = response.read()
    except (urllib.error.URLError, OSError):
        return None, 0
    identity = _caller_identity(body)
    if not identity or not identity.get("Arn"):
        return None, 0
    arn = identity["Arn"]
    user_id, _unused, session = identity.get("UserId", "").partition(":")
    access_key = params.get("x-amz-credential", "").split("/")[0]
    extra = {
        "arn": [arn],
        "canonicalArn": [canonical_arn(arn)],
        "sessionName": [session] if session else [],
        "accessKeyId": [access_key],
        "principalId": [user_id],
    }
    extra = {key: value for key, value in extra.items() if value}
    user = User(arn if ":assumed-role/" in arn else canonical_arn(arn),
                ["system:authenticated"], uid=f"aws-iam-authenticator:{identity.get('Account', '')}:{user_id}",
                extra=extra)
    return user, valid_until


def _caller_identity(body):
    """``GetCallerIdentityResult`` from a JSON (or, failing that, XML) STS answer."""
    try:
        document = json.loads(body)
        return document["GetCallerIdentityResponse"]["GetCallerIdentityResult"]
    except (ValueError, KeyError, TypeError):
        pass
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    result = {}
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("Arn", "Account", "UserId"):
            result[tag] = (element.text or "").strip()
    return result or None
