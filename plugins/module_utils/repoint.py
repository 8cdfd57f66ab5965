# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Re-pointing the IRSA trust of IAM roles from one cluster's OIDC provider to another's (irsa_repoint).

``repointed_trust`` is a trust policy with the old provider's IRSA statements moved to the new provider, or the new
provider's added beside them; ``plan_repoint`` resolves the two providers, reads the roles that trust them, plans
each role (only roles eks.irsa created, or is told to adopt, are changed) and checks everything that can stop a write
before the first one; ``apply`` writes the plans and ``outcome`` is the module's result.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import copy

from ansible_collections.eks.irsa.plugins.module_utils import aws as irsa_aws
from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import iam as irsa_iam
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_KEY
from ansible_collections.eks.irsa.plugins.module_utils.constants import OWNER_TAG_VALUE
from ansible_collections.eks.irsa.plugins.module_utils.errors import ConflictError
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import account_of_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_issuer
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_oidc_provider
from ansible_collections.eks.irsa.plugins.module_utils.naming import provider_arn


# ---------------------------------------------------------------------------------------------
# the trust policy (no I/O)


def irsa_parts(stmt, arn):
    """``(subjects, audience)`` when ``stmt`` is an IRSA statement of the provider ``arn`` (for any one audience),
    else None."""
    for audience in trust.irsa_audiences([stmt], arn):
        subjects = trust.irsa_statement_parts(stmt, arn, audience)
        if subjects is not None:
            return subjects, audience
    return None


def repointed_statement(stmt, old_arn, new_arn):
    """``stmt`` (an IRSA statement of ``old_arn``) for ``new_arn``: the same subjects, audience and operators, its
    ``<old provider>:`` condition keys renamed ``<new provider>:``."""
    old_provider, new_provider = trust.provider_from_arn(old_arn), trust.provider_from_arn(new_arn)
    prefix = old_provider.lower() + ":"
    moved = copy.deepcopy(stmt)
    federated = stmt["Principal"]["Federated"]
    moved["Principal"] = {"Federated": [new_arn] if isinstance(federated, list) else new_arn}
    if "Condition" in stmt:
        moved["Condition"] = {
            operator: {
                (new_provider + key[len(old_provider):] if str(key).lower().startswith(prefix) else key): value
                for key, value in block.items()
            }
            for operator, block in stmt["Condition"].items()
        }
    return moved


def repointed_trust(document, old_arn, new_arn, mode):
    """The trust policy ``document`` re-pointed from ``old_arn`` to ``new_arn``: with ``mode`` ``move`` each IRSA
    statement of the old provider is replaced, in place, by the same statement for the new one; with ``add`` the new
    statement follows the old one. An old statement whose subjects the new provider's statements already grant (for
    the same audience) gets no new statement. Everything else is kept as it is. ``document`` is not modified."""
    statements = trust.statements_of(document)
    granted = {}
    for stmt in statements:
        parts = irsa_parts(stmt, new_arn)
        if parts is not None:
            granted.setdefault(parts[1], set()).update(parts[0])
    result = []
    for stmt in statements:
        parts = irsa_parts(stmt, old_arn)
        if parts is None:
            result.append(stmt)
            continue
        subjects, audience = parts
        if mode == "add":
            result.append(stmt)
        if set(subjects) <= granted.get(audience, set()):
            continue
        moved = repointed_statement(stmt, old_arn, new_arn)
        if mode == "add":
            moved.pop("Sid", None)
        result.append(moved)
        granted.setdefault(audience, set()).update(subjects)
    if result == statements:
        return document
    after = copy.deepcopy(document)
    after["Statement"] = copy.deepcopy(result)
    return after


def kept_statements(document, old_arn):
    """Indexes of the statements that name ``old_arn`` but are not IRSA statements ``repointed_trust`` re-points."""
    found = []
    for index, stmt in enumerate(trust.statements_of(document)):
        principal = stmt.get("Principal") or stmt.get("NotPrincipal")
        federated = principal.get("Federated") if isinstance(principal, dict) else None
        named = federated if isinstance(federated, list) else [federated]
        if old_arn in named and irsa_parts(stmt, old_arn) is None:
            found.append(index)
    return found


def names_provider(document, arn):
    return arn in trust.federated_providers(document)


# ---------------------------------------------------------------------------------------------
# the providers


def _cluster_issuer(module, option):
    """``(issuer, (account, partition))`` of the cluster named by ``option``."""
    name = module.params[option]
    try:
        cluster = irsa_aws.lookup_cluster(module.client("eks"), name, module.region)
    except IrsaAWSError as e:
        if e.exception is not None:
            raise
        hint = (" If the old cluster was deleted, give from_provider instead: the issuer or the IAM OIDC provider ARN "
                "its roles trust (aws iam list-open-id-connect-providers lists them)") if option == "from_cluster" else ""
        raise InputError("{0}: {1}.{2}".format(option, e.message.replace("cluster_name", option), hint)) from None
    try:
        issuer = parse_issuer(irsa_aws.cluster_issuer_url(cluster))
    except NamingError as e:
        raise InputError("{0}: {1}".format(option, e)) from None
    return issuer, account_of_arn(cluster["arn"])


def resolve_providers(module):
    """The ARNs of the old and the new provider. An ARN given fixes the account; otherwise a cluster's ARN does,
    and only without either is the caller identity read."""
    sides = {}
    account = None
    for side in ("from", "to"):
        cluster_option, provider_option = side + "_cluster", side + "_provider"
        if module.params[cluster_option]:
            issuer, cluster_account = _cluster_issuer(module, cluster_option)
            sides[side] = (issuer, None, provider_option)
            account = account or cluster_account
            continue
        try:
            issuer, arn = parse_oidc_provider(module.params[provider_option])
        except NamingError as e:
            raise InputError("{0}: {1}".format(provider_option, e)) from None
        sides[side] = (issuer, arn, provider_option)
        if arn is not None:
            account = account or account_of_arn(arn)
    if account is None:
        identity = irsa_aws.caller_identity(module.client("sts"))
        account = (identity["account_id"], identity["partition"])
    arns = {}
    for side, (issuer, arn, option) in sides.items():
        if arn is None:
            arn = provider_arn(issuer.provider, account[0], issuer.partition)
        elif account_of_arn(arn)[0] != account[0]:
            raise InputError(
                "{0}: {1} is an OIDC provider of account {2}, and the other cluster's is of account {3}: a role trusts "
                "only the OIDC providers of its own account, so both must be of the same account".format(
                    option, arn, account_of_arn(arn)[0], account[0]))
        arns[side] = arn
    if arns["from"] == arns["to"]:
        raise InputError(
            "the old and the new cluster have the same OIDC provider {0}: there is nothing to re-point. Check "
            "from_cluster/from_provider and to_cluster/to_provider".format(arns["from"]))
    return arns["from"], arns["to"]


# ---------------------------------------------------------------------------------------------
# planning


def plan_repoint(module, iam_client):
    """``(old provider ARN, new provider ARN, plans, foreign roles)``: every role planned and checked before the first
    write, and the warnings of what is left as it is given."""
    old_arn, new_arn = resolve_providers(module)
    roles = candidate_roles(module, iam_client, old_arn, new_arn)
    plans, foreign = plan_roles(module, iam_client, roles, old_arn, new_arn)
    check_plans(module, iam_client, plans, new_arn)
    warn_about(module, plans, foreign, old_arn)
    return old_arn, new_arn, plans, foreign


def candidate_roles(module, iam_client, old_arn, new_arn):
    """The roles to look at, with their trust policy: the roles named in ``roles`` (read with GetRole, tags
    included), or every role of the account whose trust names the old provider or has an IRSA statement of the new
    one (from ListRoles, without tags)."""
    names = module.params["roles"]
    if names:
        roles = batch.run_items(lambda name: irsa_iam.get_role(iam_client, name), names, module.params["max_concurrency"])
        missing = [name for name, role in zip(names, roles) if role is None]
        if missing:
            raise InputError(
                "roles: there is no IAM role named {0} in this account: check the names, or leave roles out to "
                "re-point every role that trusts the old cluster".format(", ".join(repr(name) for name in missing)))
        unrelated = [role["RoleName"] for role in roles if not any(
            names_provider(role["AssumeRolePolicyDocument"], arn) for arn in (old_arn, new_arn))]
        if unrelated:
            raise InputError(
                "roles: {0} trust neither the old provider {1} nor the new one {2}: check the names and the clusters "
                "(from_cluster/from_provider, to_cluster/to_provider)".format(", ".join(repr(name) for name in unrelated), old_arn, new_arn))
        return {role["RoleName"]: role for role in roles}
    found = {}
    for role in irsa_aws.list_roles(iam_client):
        document = role["AssumeRolePolicyDocument"]
        if names_provider(document, old_arn) or any(irsa_parts(stmt, new_arn) for stmt in trust.statements_of(document)):
            found[role["RoleName"]] = role
    return found


def _foreign(role):
    return {
        "name": role["RoleName"],
        "arn": role["Arn"],
        "reason": "it has no {0}={1} tag: eks.irsa did not create it, and changes only roles it created or is told by "
                  "name to adopt".format(OWNER_TAG_KEY, OWNER_TAG_VALUE),
        "opt_in": "to re-point it too, list it in adopt (irsa_adopt_roles in playbooks/repoint.yml)",
    }


def _plan(role, old_arn, new_arn, mode):
    before = role["AssumeRolePolicyDocument"]
    after = repointed_trust(before, old_arn, new_arn, mode)
    changed = after != before
    header = "role {0} trust policy".format(role["RoleName"])
    return {
        "name": role["RoleName"],
        "arn": role["Arn"],
        "changed": changed,
        "action": ("moved" if mode == "move" else "added") if changed else "unchanged",
        "diff": {"before_header": header, "before": before, "after_header": header, "after": after},
        "kept": kept_statements(after, old_arn) if mode == "move" else [],
    }


def plan_roles(module, iam_client, roles, old_arn, new_arn):
    """``(plans, foreign)``: a plan per role that is ours or adopted or needs no change, and the roles left alone.
    A role to change is read again (GetRole) for its tags and its current trust policy."""
    mode = module.params["mode"]
    adopt = set(module.params["adopt"] or [])
    to_change = sorted(name for name, role in roles.items() if _plan(role, old_arn, new_arn, mode)["changed"])
    if not module.params["roles"]:
        fresh = batch.run_items(lambda name: irsa_iam.get_role(iam_client, name), to_change, module.params["max_concurrency"])
        roles = dict(roles)
        for name, role in zip(to_change, fresh):
            if role is None:
                del roles[name]  # deleted since ListRoles: nothing to re-point
            else:
                roles[name] = role
    plans, foreign = [], []
    for name in sorted(roles):
        plan = _plan(roles[name], old_arn, new_arn, mode)
        if plan["changed"] and not irsa_iam.is_owned(roles[name]) and name not in adopt:
            foreign.append(_foreign(roles[name]))
        else:
            plans.append(plan)
    unknown = sorted(adopt - set(roles))
    if unknown:
        module.warn("adopt names {0}, which trust neither the old nor the new provider: nothing to adopt there".format(
            ", ".join(unknown)))
    return plans, foreign


def check_plans(module, iam_client, plans, new_arn):
    """Everything that can stop a write, checked before the first one: the size of each new trust policy, and that
    IAM has the new provider."""
    limit = module.params["trust_policy_size_limit"]
    if limit < 1:
        raise InputError("trust_policy_size_limit must be a positive number of characters (IAM's default is 2048)")
    too_big = [(plan["name"], trust.minified_size(plan["diff"]["after"])) for plan in plans if plan["changed"]]
    too_big = [(name, size) for name, size in too_big if size > limit]
    if too_big:
        raise ConflictError(
            "Nothing was written: the trust policy of {0} would be over the limit of {1} characters without white space, "
            "and IAM would reject it. Shrink those trust policies first (merge ServiceAccounts under a wildcard such as "
            "prod:*, remove statements no longer needed, or re-point with mode: move instead of add), or ask for a "
            "higher 'Role trust policy length' quota (up to 4096) and raise trust_policy_size_limit to match".format(
                ", ".join("role {0!r} ({1} characters)".format(name, size) for name, size in too_big), limit))
    if not module.params["check_oidc_provider"] or not any(plan["changed"] for plan in plans):
        return
    try:
        exists = irsa_aws.get_oidc_provider(iam_client, new_arn) is not None
    except IrsaAWSError as e:
        if irsa_aws.error_code(e.exception) not in irsa_aws.ACCESS_DENIED_CODES:
            raise
        module.warn("could not check that the IAM OIDC provider {0} exists (iam:GetOpenIDConnectProvider is not "
                    "allowed); IAM will refuse the trust policies if it does not".format(new_arn))
        return
    if not exists:
        raise ConflictError(
            "Nothing was written: the new cluster's IAM OIDC provider {0} does not exist, and IAM refuses a trust policy "
            "that names a missing provider. Create it first (eks.irsa.eks_oidc_provider with the new cluster's "
            "cluster_name, or playbooks/site.yml for the new cluster), then run again; set check_oidc_provider: false "
            "only if it is created between this check and the real run".format(new_arn))


def warn_about(module, plans, foreign, old_arn):
    """Warn of what still trusts the old provider: the roles left alone, and the statements kept as they are."""
    for role in foreign:
        module.warn("role {0!r} ({1}) trusts {2} but was left as it is: {3}; {4}".format(
            role["name"], role["arn"], old_arn, role["reason"], role["opt_in"]))
    for plan in plans:
        if plan["kept"]:
            module.warn(
                "role {0!r}: its trust policy's statement(s) {1} name the old provider {2} but are not IRSA statements "
                "eks.irsa re-points (other principals, actions or conditions, or '*' under StringEquals); they were "
                "kept as they are and still trust the old cluster: change them by hand".format(
                    plan["name"], ", ".join(str(index) for index in plan["kept"]), old_arn))


# ---------------------------------------------------------------------------------------------
# writing and reporting


def apply(module, iam_client, plans):
    """Write each changed plan, ``max_concurrency`` at a time; a role that fails does not stop the others."""
    watch = irsa_aws.WriteWatch(iam_client)

    def write(plan):
        result = {key: plan[key] for key in ("name", "arn", "changed", "action", "diff")}
        if not plan["changed"] or module.check_mode:
            return result
        wrote = watch.start()
        try:
            irsa_iam.update_trust_policy(iam_client, plan["name"], plan["diff"]["after"])
        except IrsaAWSError as e:
            result.update(failed=True, changed=wrote(), msg="role {0!r}: {1}".format(
                plan["name"], irsa_aws.aws_failure_message(e, module.params)))
        return result

    return batch.run_items(write, plans, module.params["max_concurrency"])


def outcome(module, results, foreign, old_arn, new_arn):
    """The module's result: the roles written or found right, the roles left alone, and the diff of those changed."""
    result = dict(
        changed=any(item["changed"] for item in results),
        from_provider_arn=old_arn,
        to_provider_arn=new_arn,
        results=results,
        foreign_roles=foreign,
        unchanged_roles=[item["name"] for item in results if item["action"] == "unchanged"],
    )
    if module._diff:
        result["diff"] = [item["diff"] for item in results if item["changed"]]
    return result


def write_failure(results):
    """The error of a run in which writing some roles failed (None when none did), naming the roles written."""
    if not any(item.get("failed") for item in results):
        return None
    written = [item["name"] for item in results if item["changed"] and not item.get("failed")]
    return IrsaError("{0}. Written: {1}; a second run re-points the others".format(
        batch.batch_message(results, "roles"), ", ".join(written) or "nothing"), written=written)
