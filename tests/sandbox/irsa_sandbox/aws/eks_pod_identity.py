"""EKS Pod Identity associations and EKS add-ons, which moto does not serve.

``PodIdentityStore`` answers, as EKS's REST-JSON API does:

- ``CreatePodIdentityAssociation``, ``DescribePodIdentityAssociation``, ``ListPodIdentityAssociations``
  (filters ``namespace`` and ``serviceAccount``, ``maxResults``/``nextToken`` paging),
  ``UpdatePodIdentityAssociation`` and ``DeletePodIdentityAssociation``: IDs ``a-`` + 17 lower-case letters
  and digits, ARNs ``arn:aws:eks:<region>:<account>:podidentityassociation/<cluster>/<id>``, ``tags``,
  ``disableSessionTags`` (false unless given), ``targetRoleArn`` with the ``externalId`` EKS generates for it
  (kept while a target role is set; an empty ``targetRoleArn`` in an update removes the target role and its
  external ID). Errors: ``ResourceInUseException`` for a second association of one namespace and
  ServiceAccount, ``ResourceNotFoundException`` for an unknown cluster or association,
  ``InvalidParameterException`` for a missing or malformed parameter, a role of another account than the
  cluster's, or an update that changes nothing it can change;
- ``TagResource``, ``UntagResource`` and ``ListTagsForResource`` on an association's ARN (other ARNs go to
  moto);
- ``ListAddons`` and ``DescribeAddon``: every cluster has the ``eks-pod-identity-agent`` add-on (ACTIVE)
  unless a test removed it (``set_addon``).

Clusters are moto's (``cluster_exists``). The gateway logs, faults and authorizes these calls as any other.
``listeners`` are called, outside the store's lock, after every change: ``("associations", cluster)`` once an
association of the cluster was created, updated or deleted, ``("addon", cluster, addon, present)`` once an add-on
was removed or restored. ``association_for`` and ``identities`` are what EKS Auth and the pod identity webhook's
configuration read.
"""

import json
import re
import secrets
import string
import threading
import time
import uuid
from urllib.parse import parse_qsl, unquote

from .errors import AwsError

POD_IDENTITY_AGENT = "eks-pod-identity-agent"
POD_IDENTITY_AGENT_VERSION = "v1.3.4-eksbuild.1"

ASSOCIATION_OPERATIONS = frozenset({
    "CreatePodIdentityAssociation", "DescribePodIdentityAssociation", "ListPodIdentityAssociations",
    "UpdatePodIdentityAssociation", "DeletePodIdentityAssociation",
})
ASSOCIATION_WRITES = frozenset({
    "CreatePodIdentityAssociation", "UpdatePodIdentityAssociation", "DeletePodIdentityAssociation",
})
ADDON_OPERATIONS = frozenset({"ListAddons", "DescribeAddon"})
TAG_OPERATIONS = frozenset({"TagResource", "UntagResource", "ListTagsForResource"})

_ROLE_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_ASSOCIATION_ARN = re.compile(r"^arn:[a-z-]+:eks:[a-z0-9-]+:\d{12}:podidentityassociation/([^/]+)/(a-[a-z0-9]+)$")
_ID_ALPHABET = string.ascii_lowercase + string.digits
_TAGS_PATH = re.compile(r"^/tags/(?P<arn>.+?)/?$")


def tags_operation(method, path):
    """The EKS tagging operation of ``method`` on ``path`` when the (decoded) ARN in it has slashes, which the
    route ``/tags/{resourceArn}`` of botocore's model does not match; else None."""
    if not _TAGS_PATH.match(path):
        return None
    return {"POST": "TagResource", "DELETE": "UntagResource", "GET": "ListTagsForResource"}.get(method)


def tagged_arn(path):
    """The resource ARN of a ``/tags/<arn>`` path."""
    match = _TAGS_PATH.match(path)
    return unquote(match.group("arn")) if match else ""


def association_arn(region, account_id, cluster, association_id, partition="aws"):
    return f"arn:{partition}:eks:{region}:{account_id}:podidentityassociation/{cluster}/{association_id}"


def addon_arn(region, account_id, cluster, addon, partition="aws"):
    """The add-on's ARN: EKS ends it with an ID of its own, here derived from the cluster and add-on names."""
    suffix = uuid.uuid5(uuid.NAMESPACE_URL, f"{account_id}/{region}/{cluster}/{addon}")
    return f"arn:{partition}:eks:{region}:{account_id}:addon/{cluster}/{addon}/{suffix}"


def _json(status, document):
    payload = json.dumps(document).encode()
    return status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                    ("x-amzn-RequestId", str(uuid.uuid4()))], payload


class PodIdentityStore:
    """The associations and add-ons of every sandbox cluster (thread-safe)."""

    def __init__(self, account_id, region, cluster_exists):
        self.account_id = account_id
        self.region = region
        self._cluster_exists = cluster_exists
        self._lock = threading.Lock()
        self._associations = {}  # association ID -> association document (as DescribePodIdentityAssociation)
        self._removed_addons = set()  # (cluster, add-on name)
        self._addons_created = time.time()
        self.listeners = []  # callables, see the module's docstring

    # ----- entry --------------------------------------------------------------------------------

    def handles(self, operation, path):
        if operation in ASSOCIATION_OPERATIONS or operation in ADDON_OPERATIONS:
            return True
        return operation in TAG_OPERATIONS and bool(_ASSOCIATION_ARN.match(tagged_arn(path)))

    def answer(self, operation, path, query, body):
        """``(status, headers, payload)`` of one call; raises ``AwsError`` as EKS answers."""
        request = json.loads(body or b"{}") if body else {}
        params = dict(parse_qsl(query, keep_blank_values=True))
        parts = [unquote(part) for part in path.strip("/").split("/")]
        with self._lock:
            answer = self._answer(operation, path, query, request, params, parts)
        if operation in ASSOCIATION_WRITES:
            self._notify("associations", parts[1])
        return answer

    def _answer(self, operation, path, query, request, params, parts):
        if operation in TAG_OPERATIONS:
            return self._tags(operation, tagged_arn(path), request, query)
        cluster = parts[1]
        self._require_cluster(cluster)
        if operation == "ListAddons":
            return _json(200, {"addons": [POD_IDENTITY_AGENT] if (cluster, POD_IDENTITY_AGENT) not in self._removed_addons else []})
        if operation == "DescribeAddon":
            return _json(200, {"addon": self._addon(cluster, parts[3])})
        if operation == "CreatePodIdentityAssociation":
            return _json(200, {"association": self._create(cluster, request)})
        if operation == "ListPodIdentityAssociations":
            return _json(200, self._list(cluster, params))
        association = self._find(cluster, parts[3])
        if operation == "DescribePodIdentityAssociation":
            return _json(200, {"association": association})
        if operation == "UpdatePodIdentityAssociation":
            return _json(200, {"association": self._update(association, request)})
        del self._associations[association["associationId"]]
        return _json(200, {"association": association})

    def _notify(self, *change):
        for listener in list(self.listeners):
            listener(*change)

    def set_addon(self, cluster, addon, present):
        """Remove (``present`` false) or restore an add-on of a cluster."""
        with self._lock:
            if present:
                self._removed_addons.discard((cluster, addon))
            else:
                self._removed_addons.add((cluster, addon))
        self._notify("addon", cluster, addon, bool(present))
        return {"cluster": cluster, "addon": addon, "present": bool(present)}

    def addon_present(self, cluster, addon=POD_IDENTITY_AGENT):
        with self._lock:
            return (cluster, addon) not in self._removed_addons

    def associations(self):
        """Every association (for the control endpoint)."""
        with self._lock:
            return [dict(item) for item in self._associations.values()]

    def cluster_exists(self, cluster):
        return self._cluster_exists(cluster)

    def association_for(self, cluster, namespace, service_account):
        """The association of ``namespace``/``service_account`` in ``cluster`` (a copy), else None."""
        with self._lock:
            for item in self._associations.values():
                if (item["clusterName"], item["namespace"], item["serviceAccount"]) == (cluster, namespace, service_account):
                    return dict(item)
        return None

    def identities(self, cluster):
        """``[{"namespace", "serviceAccount"}]`` of the cluster's associations, sorted (the webhook's
        ``--watch-container-credentials-config`` file lists them)."""
        with self._lock:
            found = {(item["namespace"], item["serviceAccount"]) for item in self._associations.values()
                     if item["clusterName"] == cluster}
        return [{"namespace": namespace, "serviceAccount": account} for namespace, account in sorted(found)]

    # ----- associations -------------------------------------------------------------------------

    def _require_cluster(self, cluster):
        if not self._cluster_exists(cluster):
            raise AwsError(404, "ResourceNotFoundException", f"No cluster found for name: {cluster}.")

    def _check_role(self, name, arn, same_account):
        match = _ROLE_ARN.match(arn or "")
        if not match:
            raise AwsError(400, "InvalidParameterException", f"{name} {arn!r} is not a valid IAM role ARN.")
        if same_account and match.group(2) != self.account_id:
            raise AwsError(400, "InvalidParameterException",
                           f"{name} {arn} must be in the cluster's account {self.account_id}.")

    def _create(self, cluster, request):
        for key in ("namespace", "serviceAccount", "roleArn"):
            if not request.get(key):
                raise AwsError(400, "InvalidParameterException", f"{key} is required.")
        self._check_role("roleArn", request["roleArn"], same_account=True)
        if request.get("targetRoleArn"):
            self._check_role("targetRoleArn", request["targetRoleArn"], same_account=False)
        for existing in self._associations.values():
            if (existing["clusterName"], existing["namespace"], existing["serviceAccount"]) == (
                    cluster, request["namespace"], request["serviceAccount"]):
                raise AwsError(409, "ResourceInUseException", f"Association already exists: {existing['associationId']}")
        association_id = "a-" + "".join(secrets.choice(_ID_ALPHABET) for _unused in range(17))
        now = time.time()
        association = {
            "clusterName": cluster,
            "namespace": request["namespace"],
            "serviceAccount": request["serviceAccount"],
            "roleArn": request["roleArn"],
            "associationArn": association_arn(self.region, self.account_id, cluster, association_id),
            "associationId": association_id,
            "tags": dict(request.get("tags") or {}),
            "createdAt": now,
            "modifiedAt": now,
            "disableSessionTags": bool(request.get("disableSessionTags", False)),
        }
        if request.get("targetRoleArn"):
            association["targetRoleArn"] = request["targetRoleArn"]
            association["externalId"] = str(uuid.uuid4())
        self._associations[association_id] = association
        return dict(association)

    def _list(self, cluster, params):
        wanted = (cluster, params.get("namespace"), params.get("serviceAccount"))
        found = [
            {key: item[key] for key in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId")}
            for item in self._associations.values()
            if all(value in (None, item[key]) for value, key in zip(wanted, ("clusterName", "namespace", "serviceAccount")))
        ]
        found.sort(key=lambda item: (item["namespace"], item["serviceAccount"]))
        try:
            size = int(params.get("maxResults") or 100)
            start = int(params.get("nextToken") or 0)
        except ValueError:
            raise AwsError(400, "InvalidParameterException", "maxResults and nextToken must be numbers.") from None
        if not 1 <= size <= 100:
            raise AwsError(400, "InvalidParameterException", "maxResults must be between 1 and 100.")
        page = {"associations": found[start:start + size]}
        if start + size < len(found):
            page["nextToken"] = str(start + size)
        return page

    def _find(self, cluster, association_id):
        association = self._associations.get(association_id)
        if association is None or association["clusterName"] != cluster:
            raise AwsError(404, "ResourceNotFoundException",
                           f"No Pod Identity Association found with id {association_id} in cluster {cluster}.")
        return association

    def _update(self, association, request):
        if not any(key in request for key in ("roleArn", "targetRoleArn", "disableSessionTags")):
            raise AwsError(400, "InvalidParameterException",
                           "At least one of roleArn, targetRoleArn or disableSessionTags must be given.")
        if "roleArn" in request:
            self._check_role("roleArn", request["roleArn"], same_account=True)
            association["roleArn"] = request["roleArn"]
        if "targetRoleArn" in request:
            if request["targetRoleArn"]:
                self._check_role("targetRoleArn", request["targetRoleArn"], same_account=False)
                association["targetRoleArn"] = request["targetRoleArn"]
                association.setdefault("externalId", str(uuid.uuid4()))
            else:
                association.pop("targetRoleArn", None)
                association.pop("externalId", None)
        if "disableSessionTags" in request:
            association["disableSessionTags"] = bool(request["disableSessionTags"])
        association["modifiedAt"] = time.time()
        return dict(association)

    def _tags(self, operation, arn, request, query):
        match = _ASSOCIATION_ARN.match(arn)
        association = self._associations.get(match.group(2)) if match else None
        if association is None or association["associationArn"] != arn:
            raise AwsError(404, "ResourceNotFoundException", f"Resource {arn} not found.")
        if operation == "TagResource":
            if not request.get("tags"):
                raise AwsError(400, "InvalidParameterException", "tags is required.")
            association["tags"].update(request["tags"])
        elif operation == "UntagResource":
            keys = [value for key, value in parse_qsl(query, keep_blank_values=True) if key == "tagKeys"]
            if not keys:
                raise AwsError(400, "InvalidParameterException", "tagKeys is required.")
            for key in keys:
                association["tags"].pop(key, None)
        else:
            return _json(200, {"tags": dict(association["tags"])})
        return _json(200, {})

    # ----- add-ons ------------------------------------------------------------------------------

    def _addon(self, cluster, name):
        if name != POD_IDENTITY_AGENT or (cluster, name) in self._removed_addons:
            raise AwsError(404, "ResourceNotFoundException", f"No addon: {name} found in cluster: {cluster}")
        return {
            "addonName": name,
            "clusterName": cluster,
            "status": "ACTIVE",
            "addonVersion": POD_IDENTITY_AGENT_VERSION,
            "health": {"issues": []},
            "addonArn": addon_arn(self.region, self.account_id, cluster, name),
            "createdAt": self._addons_created,
            "modifiedAt": self._addons_created,
            "tags": {},
            "owner": "aws",
        }
