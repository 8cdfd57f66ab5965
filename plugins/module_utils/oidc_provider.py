# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The IAM OIDC identity provider of an EKS cluster's issuer: what there is (``oidc_facts``), and making it present
or absent (``apply``) with check mode and diff.

A provider is created with the ownership tag, and only a provider that carries it (or one the task is told to adopt)
is deleted, and only while no role trusts it (unless forced).

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import re

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.eks.irsa.plugins.module_utils import aws
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import OIDC_PROVIDER_QUOTA
from ansible_collections.eks.irsa.plugins.module_utils.constants import OIDC_PROVIDER_QUOTA_WARNING
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_KEY
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_issuer
from ansible_collections.eks.irsa.plugins.module_utils.naming import provider_arn

_THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")
MAX_THUMBPRINTS = 5
MAX_CLIENT_ID_LENGTH = 255
MAX_ROLES_NAMED = 10


# ---------------------------------------------------------------------------------------------
# The cluster's issuer


def cluster_and_issuer(module, cluster_name):
    """The EKS cluster ``cluster_name`` of the module's region (one ``eks:DescribeCluster`` call) and its issuer."""
    if not module.region:
        raise NamingError("No AWS region given: set the region option or AWS_REGION to the cluster's region")
    cluster = aws.lookup_cluster(module.client("eks"), cluster_name, module.region)
    return cluster, parse_issuer(aws.cluster_issuer_url(cluster))


def oidc_facts(module, cluster_name):
    """Everything eks_oidc_info returns, from three reads."""
    cluster, issuer = cluster_and_issuer(module, cluster_name)
    caller = aws.caller_identity(module.client("sts"))
    if issuer.partition != caller["partition"]:
        raise NamingError(
            "the cluster's issuer {0} belongs to partition {1}, but the AWS credentials in use are of partition {2}: "
            "use credentials of the cluster's partition".format(issuer.url, issuer.partition, caller["partition"])
        )
    arn = provider_arn(issuer.provider, caller["account_id"], caller["partition"])
    provider = aws.get_oidc_provider(module.client("iam"), arn) or {}
    client_ids = provider.get("client_ids", [])
    return dict(
        issuer_url=issuer.url,
        provider=issuer.provider,
        provider_arn=arn,
        provider_exists=bool(provider),
        provider_client_ids=client_ids,
        provider_thumbprints=provider.get("thumbprints", []),
        audience_ok=DEFAULT_AUDIENCE in client_ids,
        account_id=caller["account_id"],
        partition=caller["partition"],
        region=module.region,
        cluster_account_id=parse_arn(cluster["arn"])["account_id"],
        cluster_arn=cluster["arn"],
        cluster_endpoint=cluster.get("endpoint", ""),
        cluster_certificate_authority=(cluster.get("certificateAuthority") or {}).get("data", ""),
        cluster_version=cluster.get("version", ""),
        cluster_status=cluster.get("status", ""),
    )


# ---------------------------------------------------------------------------------------------
# What the task asks for


def validate_params(params):
    """Check what can be checked before any API call; return (client_ids, thumbprints) cleaned up."""
    client_ids = []
    for client_id in params["client_ids"]:
        if not isinstance(client_id, str) or not client_id.strip() or client_id != client_id.strip():
            raise NamingError("client_ids entry {0!r} is empty or has surrounding white space: remove it".format(client_id))
        if len(client_id) > MAX_CLIENT_ID_LENGTH:
            raise NamingError("client_ids entry {0!r}... is longer than IAM's limit of 255 characters".format(client_id[:40]))
        if client_id not in client_ids:
            client_ids.append(client_id)
    thumbprints = params["thumbprints"]
    if thumbprints is not None:
        bad = [thumbprint for thumbprint in thumbprints if not _THUMBPRINT.match(str(thumbprint))]
        if bad:
            raise NamingError(
                "thumbprints {0} are not SHA-1 thumbprints: each must be 40 hexadecimal characters "
                "(openssl x509 -fingerprint -sha1 without the colons)".format(", ".join(repr(b) for b in bad))
            )
        thumbprints = list(dict.fromkeys(thumbprint.lower() for thumbprint in thumbprints))
        if len(thumbprints) > MAX_THUMBPRINTS:
            raise NamingError("{0} thumbprints given: IAM accepts at most 5 per provider".format(len(thumbprints)))
    return client_ids, thumbprints


def resolve_issuer(module):
    """The issuer of ``issuer_url``, or of the cluster ``cluster_name``."""
    if module.params["issuer_url"] is not None:
        return parse_issuer(module.params["issuer_url"])
    return cluster_and_issuer(module, module.params["cluster_name"])[1]


def find_provider_arn(arns, provider):
    suffix = ":oidc-provider/" + provider
    for arn in arns:
        if arn.endswith(suffix):
            return arn
    return None


def desired_client_ids(current, wanted, purge):
    if purge:
        return list(wanted)
    return list(current) + [client_id for client_id in wanted if client_id not in current]


def view(provider):
    """The part of a provider that diff and results show."""
    if not provider:
        return {}
    return {
        "url": provider["url"],
        "client_ids": list(provider["client_ids"]),
        "thumbprints": list(provider["thumbprints"]),
        "tags": dict(provider["tags"]),
    }


def _account_arn(module, issuer):
    """The ARN the provider of ``issuer`` has (or would have) in the caller's account."""
    caller = aws.caller_identity(module.client("sts"))
    return provider_arn(issuer.provider, caller["account_id"], caller["partition"])


# ---------------------------------------------------------------------------------------------
# Present


def ensure_present(module, iam, issuer, client_ids, thumbprints, arns):
    """Create or update the provider of ``issuer``; ``(changed, arn, before, after, providers in the account)``."""
    arn = find_provider_arn(arns, issuer.provider)
    current = aws.get_oidc_provider(iam, arn) if arn else None
    if current is None:
        return _create(module, iam, issuer, client_ids, thumbprints, arns)
    after = view(current)
    changes = [
        _update_client_ids(module, iam, arn, current, client_ids, after),
        _update_thumbprints(module, iam, arn, current, thumbprints, after),
        _update_tags(module, iam, arn, current, after),
    ]
    return any(changes), arn, view(current), after, len(arns)


def _create(module, iam, issuer, client_ids, thumbprints, arns):
    count = len(arns)
    if count >= OIDC_PROVIDER_QUOTA:
        module.warn(
            "The account already has {0} IAM OIDC providers, the default quota: creating another may fail with "
            "LimitExceeded. Remove providers of deleted clusters or request a quota increase".format(count)
        )
    # The ownership tag: only a provider that carries it is ever deleted by the collection.
    tags = dict(module.params["tags"] or {}, **{OWNER_TAG_KEY: OWNER_TAG_VALUE})
    after = {"url": issuer.provider, "client_ids": client_ids, "thumbprints": thumbprints or [], "tags": tags}
    if module.check_mode:
        return True, _account_arn(module, issuer), {}, after, count + 1
    try:
        arn = aws.create_oidc_provider(iam, issuer.url, client_ids, thumbprints, tags)
    except IrsaAWSError as e:
        if aws.error_code(e.exception) == "LimitExceeded":
            raise IrsaAWSError(
                message=(
                    "IAM refused to create another OIDC provider: the account has reached its quota of OIDC "
                    "providers ({0}). Delete providers of clusters that no longer exist, or request a quota "
                    "increase".format(count)
                ),
                exception=e.exception,
            ) from e
        if aws.error_code(e.exception) != "EntityAlreadyExists":
            raise
        # Created by someone else between our list and our create: converge on it like any existing one.
        return ensure_present(module, iam, issuer, client_ids, thumbprints, aws.list_oidc_providers(iam))
    return True, arn, {}, after, count + 1


def _update_client_ids(module, iam, arn, current, client_ids, after):
    after["client_ids"] = desired_client_ids(current["client_ids"], client_ids, module.params["purge_client_ids"])
    to_add = [c for c in after["client_ids"] if c not in current["client_ids"]]
    to_remove = [c for c in current["client_ids"] if c not in after["client_ids"]]
    if not module.check_mode:
        for client_id in to_add:
            aws.add_client_id(iam, arn, client_id)
        for client_id in to_remove:
            aws.remove_client_id(iam, arn, client_id)
    return bool(to_add or to_remove)


def _update_thumbprints(module, iam, arn, current, thumbprints, after):
    if thumbprints is None or sorted(t.lower() for t in current["thumbprints"]) == sorted(thumbprints):
        return False
    after["thumbprints"] = thumbprints
    if not module.check_mode:
        aws.update_thumbprints(iam, arn, thumbprints)
    return True


def _update_tags(module, iam, arn, current, after):
    if module.params["tags"] is None:
        return False
    wanted_tags = dict(module.params["tags"])
    if current["tags"].get(OWNER_TAG_KEY) == OWNER_TAG_VALUE:
        wanted_tags[OWNER_TAG_KEY] = OWNER_TAG_VALUE  # never purged: it is what allows deleting the provider later
    tags_to_set, tags_to_remove = compare_aws_tags(current["tags"], wanted_tags, module.params["purge_tags"])
    if not tags_to_set and not tags_to_remove:
        return False
    after["tags"] = {k: v for k, v in current["tags"].items() if k not in tags_to_remove}
    after["tags"].update(tags_to_set)
    if not module.check_mode:
        if tags_to_remove:
            aws.untag_oidc_provider(iam, arn, tags_to_remove)
        if tags_to_set:
            aws.tag_oidc_provider(iam, arn, tags_to_set)
    return True


def _warn_present(module, after, count):
    if DEFAULT_AUDIENCE not in after.get("client_ids", []):
        module.warn(
            "The provider does not accept the audience {0}, which the pod identity webhook projects unless a "
            "ServiceAccount sets eks.amazonaws.com/audience: such pods fail with 'Incorrect token audience'".format(
                DEFAULT_AUDIENCE
            )
        )
    if count >= OIDC_PROVIDER_QUOTA_WARNING:
        module.warn(
            "The account has {0} IAM OIDC providers; the default quota is {1}. Remove providers of deleted "
            "clusters or request a quota increase before it runs out".format(count, OIDC_PROVIDER_QUOTA)
        )


# ---------------------------------------------------------------------------------------------
# Absent


def ensure_absent(module, iam, issuer, arns):
    """Delete the provider of ``issuer``; ``(changed, arn, before, after, providers in the account, trusting roles)``."""
    arn = find_provider_arn(arns, issuer.provider)
    if arn is None:
        return False, _account_arn(module, issuer), {}, {}, len(arns), []
    current = aws.get_oidc_provider(iam, arn)
    if current["tags"].get(OWNER_TAG_KEY) != OWNER_TAG_VALUE and not module.params["adopt"]:
        raise ConflictError(
            "the OIDC provider {0} was not created by eks.irsa (it has no {1}={2} tag), so it is not deleted: other "
            "tools (eksctl, Terraform) or people may rely on it. To delete it anyway, set adopt: true".format(
                arn, OWNER_TAG_KEY, OWNER_TAG_VALUE)
        )
    trusting = []
    if not module.params["force"]:
        trusting = aws.roles_trusting(iam, arn)
        if trusting:
            raise ConflictError(
                "{0} IAM role(s) still trust the OIDC provider {1}: {2}{3}. Deleting it would make their pods fail "
                "with InvalidIdentityToken. Remove the provider from those roles' trust (eks.irsa.irsa_role) first, "
                "or set force: true to delete it anyway".format(
                    len(trusting), arn, ", ".join(trusting[:MAX_ROLES_NAMED]), ", ..." if len(trusting) > MAX_ROLES_NAMED else ""
                )
            )
    if not module.check_mode:
        aws.delete_oidc_provider(iam, arn)
    return True, arn, view(current), {}, len(arns) - 1, trusting


# ---------------------------------------------------------------------------------------------
# The task


def apply(module, iam, issuer, client_ids, thumbprints):
    """Make the provider of ``issuer`` what ``state`` says; the module's result (warnings given on ``module``)."""
    arns = aws.list_oidc_providers(iam)
    if module.params["state"] == "absent":
        changed, arn, before, after, count, trusting = ensure_absent(module, iam, issuer, arns)
    else:
        trusting = None
        changed, arn, before, after, count = ensure_present(module, iam, issuer, client_ids, thumbprints, arns)
        _warn_present(module, after, count)
    result = dict(
        changed=changed,
        provider_arn=arn,
        issuer_url=issuer.url,
        provider=issuer.provider,
        exists=bool(after),
        client_ids=after.get("client_ids", []),
        thumbprints=after.get("thumbprints", []),
        tags=after.get("tags", {}),
        providers_in_account=count,
    )
    if trusting is not None:
        result["roles_trusting"] = trusting[:MAX_ROLES_NAMED]
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    return result
