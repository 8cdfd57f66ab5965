#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: eks_oidc_provider
short_description: Make IAM trust an EKS cluster's OIDC issuer (the IAM OIDC identity provider)
version_added: 0.1.0
description:
  - Creates, updates or deletes the IAM OIDC identity provider for an EKS cluster's issuer, the
    prerequisite of IAM Roles for Service Accounts. Without it every pod fails with
    "No OpenIDConnect provider found in your account".
  - Like C(eksctl utils associate-iam-oidc-provider), but idempotent, with check mode and diff.
  - Present and unchanged, it makes at most three API calls and no write.
  - Reports how many OIDC providers the account has and warns from 90 of the default quota of 100.
author:
  - eks.irsa contributors (!UNKNOWN)
options:
  issuer_url:
    description:
      - The cluster's OIDC issuer, as C(aws eks describe-cluster --query cluster.identity.oidc.issuer) prints it.
      - Exactly one of O(issuer_url) and O(cluster_name) is required.
    type: str
  cluster_name:
    description:
      - Name of the EKS cluster whose issuer to use (one C(eks:DescribeCluster) call), in the region of the AWS connection.
      - Exactly one of O(issuer_url) and O(cluster_name) is required.
    type: str
  client_ids:
    description:
      - Audiences (client IDs) the provider accepts. C(sts.amazonaws.com) is what the pod identity webhook
        projects unless a ServiceAccount sets C(eks.amazonaws.com/audience).
      - With O(purge_client_ids=false) these are added to the provider's client IDs; with O(purge_client_ids=true)
        the provider's client IDs become exactly these.
    type: list
    elements: str
    default: [sts.amazonaws.com]
  purge_client_ids:
    description:
      - Remove client IDs of an existing provider that are not in O(client_ids).
    type: bool
    default: false
  thumbprints:
    description:
      - SHA-1 thumbprints (40 hexadecimal characters each, at most 5) of the issuer's certificate chain.
      - IAM no longer needs them for EKS issuers, so by default the provider's thumbprints are left as they
        are (none on creation). When given, the provider's thumbprints become exactly these.
    type: list
    elements: str
  tags:
    description:
      - Tags of the provider. When not given, existing tags are left alone.
    type: dict
    aliases: ['resource_tags']
  purge_tags:
    description:
      - Remove tags that are not in O(tags). Applies only when O(tags) is given.
    type: bool
    default: true
  state:
    description:
      - C(present) creates or updates the provider; C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  adopt:
    description:
      - Providers this collection creates carry the tag C(eks.irsa/managed-by=eks.irsa). With O(state=absent), a
        provider without it is not deleted (the task fails and says so) unless O(adopt=true).
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), delete the provider even though IAM roles still trust it. Their pods then fail
        with C(InvalidIdentityToken) until the provider exists again.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - eks.irsa.requirements
attributes:
  check_mode:
    support: full
    description: Predicts exactly what a real run changes and changes nothing.
  diff_mode:
    support: full
    description: Shows the provider's URL, client IDs, thumbprints and tags before and after.
notes:
  - With O(state=absent) and O(force=false), the module lists the account's roles (C(iam:ListRoles)) and refuses
    to delete a provider that any of them trusts.
seealso:
  - module: eks.irsa.eks_oidc_info
  - name: Create an IAM OIDC provider for your cluster
    description: The AWS documentation of this step.
    link: https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html
"""

EXAMPLES = r"""
- name: Make IAM trust the cluster's issuer
  eks.irsa.eks_oidc_provider:
    cluster_name: my-cluster
    region: us-west-2
  register: provider

- name: The same from the issuer URL, with tags
  eks.irsa.eks_oidc_provider:
    issuer_url: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
    tags:
      cluster: my-cluster

- name: Remove the provider once no role trusts it any more
  eks.irsa.eks_oidc_provider:
    cluster_name: my-cluster
    region: us-west-2
    state: absent
"""

RETURN = r"""
provider_arn:
  description: ARN of the IAM OIDC provider (also in check mode, and after deletion).
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
issuer_url:
  description: The issuer the provider is for.
  returned: always
  type: str
  sample: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
provider:
  description: The issuer without C(https://), the prefix of the C(:sub) and C(:aud) condition keys.
  returned: always
  type: str
  sample: oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
exists:
  description: Whether the provider exists after the run (in check mode, would exist).
  returned: always
  type: bool
  sample: true
client_ids:
  description: The provider's client IDs after the run; empty when it does not exist.
  returned: always
  type: list
  elements: str
  sample: [sts.amazonaws.com]
thumbprints:
  description: The provider's thumbprints after the run.
  returned: always
  type: list
  elements: str
  sample: []
tags:
  description: The provider's tags after the run.
  returned: always
  type: dict
  sample: {cluster: my-cluster}
providers_in_account:
  description: How many IAM OIDC providers the account has after the run (the default quota is 100).
  returned: always
  type: int
  sample: 3
roles_trusting:
  description: Roles that trust the provider, found when O(state=absent) and O(force=false) (at most the first 10 names).
  returned: when O(state=absent)
  type: list
  elements: str
  sample: []
"""

import re

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils import aws
from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils.constants import DEFAULT_AUDIENCE
from ansible_collections.eks.irsa.plugins.module_utils.constants import OIDC_PROVIDER_QUOTA
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_KEY
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.constants import OIDC_PROVIDER_QUOTA_WARNING
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_issuer
from ansible_collections.eks.irsa.plugins.module_utils.naming import provider_arn

_THUMBPRINT = re.compile(r"^[0-9A-Fa-f]{40}$")
MAX_THUMBPRINTS = 5
MAX_CLIENT_ID_LENGTH = 255


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
    if module.params["issuer_url"] is not None:
        return parse_issuer(module.params["issuer_url"])
    if not module.region:
        raise NamingError("No AWS region given: set the region option or AWS_REGION to the cluster's region")
    cluster = aws.lookup_cluster(module.client("eks"), module.params["cluster_name"], module.region)
    return parse_issuer(aws.cluster_issuer_url(cluster))


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


def ensure_present(module, iam, issuer, client_ids, thumbprints, arns):
    params = module.params
    arn = find_provider_arn(arns, issuer.provider)
    current = aws.get_oidc_provider(iam, arn) if arn else None
    count = len(arns)

    if current is None:
        if count >= OIDC_PROVIDER_QUOTA:
            module.warn(
                "The account already has {0} IAM OIDC providers, the default quota: creating another may fail with "
                "LimitExceeded. Remove providers of deleted clusters or request a quota increase".format(count)
            )
        # The ownership tag: only a provider that carries it is ever deleted by the collection.
        tags = dict(params["tags"] or {}, **{OWNER_TAG_KEY: OWNER_TAG_VALUE})
        after = {"url": issuer.provider, "client_ids": client_ids, "thumbprints": thumbprints or [], "tags": tags}
        if module.check_mode:
            caller = aws.caller_identity(module.client("sts"))
            arn = provider_arn(issuer.provider, caller["account_id"], caller["partition"])
        else:
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
                arns = aws.list_oidc_providers(iam)
                return ensure_present(module, iam, issuer, client_ids, thumbprints, arns)
        return True, arn, {}, after, count + 1

    before = view(current)
    after = view(current)
    changed = False
    after["client_ids"] = desired_client_ids(current["client_ids"], client_ids, params["purge_client_ids"])
    to_add = [c for c in after["client_ids"] if c not in current["client_ids"]]
    to_remove = [c for c in current["client_ids"] if c not in after["client_ids"]]
    if to_add or to_remove:
        changed = True
        if not module.check_mode:
            for client_id in to_add:
                aws.add_client_id(iam, arn, client_id)
            for client_id in to_remove:
                aws.remove_client_id(iam, arn, client_id)

    if thumbprints is not None and sorted(t.lower() for t in current["thumbprints"]) != sorted(thumbprints):
        changed = True
        after["thumbprints"] = thumbprints
        if not module.check_mode:
            aws.update_thumbprints(iam, arn, thumbprints)

    if params["tags"] is not None:
        wanted_tags = dict(params["tags"])
        if current["tags"].get(OWNER_TAG_KEY) == OWNER_TAG_VALUE:
            wanted_tags[OWNER_TAG_KEY] = OWNER_TAG_VALUE  # never purged: it is what allows deleting the provider later
        tags_to_set, tags_to_remove = compare_aws_tags(current["tags"], wanted_tags, params["purge_tags"])
        if tags_to_set or tags_to_remove:
            changed = True
            after["tags"] = {k: v for k, v in current["tags"].items() if k not in tags_to_remove}
            after["tags"].update(tags_to_set)
            if not module.check_mode:
                if tags_to_remove:
                    aws.untag_oidc_provider(iam, arn, tags_to_remove)
                if tags_to_set:
                    aws.tag_oidc_provider(iam, arn, tags_to_set)
    return changed, arn, before, after, count


def ensure_absent(module, iam, issuer, arns):
    arn = find_provider_arn(arns, issuer.provider)
    if arn is None:
        caller = aws.caller_identity(module.client("sts"))
        return False, provider_arn(issuer.provider, caller["account_id"], caller["partition"]), {}, {}, len(arns), []
    current = aws.get_oidc_provider(iam, arn)
    if current["tags"].get(OWNER_TAG_KEY) != OWNER_TAG_VALUE and not module.params["adopt"]:
        raise NamingError(
            "the OIDC provider {0} was not created by eks.irsa (it has no {1}={2} tag), so it is not deleted: other "
            "tools (eksctl, Terraform) or people may rely on it. To delete it anyway, set adopt: true".format(
                arn, OWNER_TAG_KEY, OWNER_TAG_VALUE)
        )
    trusting = []
    if not module.params["force"]:
        trusting = aws.roles_trusting(iam, arn)
        if trusting:
            raise NamingError(
                "{0} IAM role(s) still trust the OIDC provider {1}: {2}{3}. Deleting it would make their pods fail "
                "with InvalidIdentityToken. Remove the provider from those roles' trust (eks.irsa.irsa_role) first, "
                "or set force: true to delete it anyway".format(
                    len(trusting), arn, ", ".join(trusting[:10]), ", ..." if len(trusting) > 10 else ""
                )
            )
    if not module.check_mode:
        aws.delete_oidc_provider(iam, arn)
    return True, arn, view(current), {}, len(arns) - 1, trusting


def main():
    module = IrsaAWSModule(
        argument_spec=dict(
            issuer_url=dict(type="str"),
            cluster_name=dict(type="str"),
            client_ids=dict(type="list", elements="str", default=[DEFAULT_AUDIENCE]),
            purge_client_ids=dict(type="bool", default=False),
            thumbprints=dict(type="list", elements="str"),
            tags=dict(type="dict", aliases=["resource_tags"]),
            purge_tags=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            force=dict(type="bool", default=False),
            adopt=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("issuer_url", "cluster_name")],
        required_one_of=[("issuer_url", "cluster_name")],
        supports_check_mode=True,
    )
    wrote = bool
    try:
        client_ids, thumbprints = validate_params(module.params)
        issuer = resolve_issuer(module)
        iam = module.client("iam")
        wrote = aws.watch_writes(iam)
        arns = aws.list_oidc_providers(iam)
        if module.params["state"] == "absent":
            changed, arn, before, after, count, trusting = ensure_absent(module, iam, issuer, arns)
        else:
            trusting = None
            changed, arn, before, after, count = ensure_present(module, iam, issuer, client_ids, thumbprints, arns)
    except NamingError as e:
        module.fail_json(msg=str(e))
    except IrsaAWSError as e:
        # A failure after a write (say, a thumbprint update after a client ID was added) still changed the provider.
        if e.exception:
            module.fail_json_aws(e.exception, msg=e.message, changed=wrote())
        module.fail_json(msg=e.message, changed=wrote())

    if module.params["state"] == "present":
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
        result["roles_trusting"] = trusting[:10]
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
