# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The audit of an account's workload identities: what is wrong, why it matters, and the fix.

Given what the audit read (the region's clusters, the account's roles and OIDC providers, and the ServiceAccounts
and pods of the audited clusters), :func:`analyse` returns the findings and, per cluster, the verdict of every
annotated ServiceAccount. The verdicts come from the same static checks as eks.irsa.irsa_verify (module_utils/verify/static).

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import re

from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.constants import OIDC_PROVIDER_QUOTA
from ansible_collections.eks.irsa.plugins.module_utils.constants import OIDC_PROVIDER_QUOTA_WARNING
from ansible_collections.eks.irsa.plugins.module_utils.constants import ROLE_ARN_ANNOTATION
from ansible_collections.eks.irsa.plugins.module_utils.constants import SUBJECT_PREFIX
from ansible_collections.eks.irsa.plugins.module_utils.constants import WEB_IDENTITY_ACTION
from ansible_collections.eks.irsa.plugins.module_utils.naming import role_name_from_arn
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import stale_pods
from ansible_collections.eks.irsa.plugins.module_utils.verify import static
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import WARNING
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import failures

SEVERITIES = ("high", "medium", "low")
BREADTHS = ("service_account", "namespace", "cluster")
_EKS_PROVIDER = re.compile(r":oidc-provider/oidc\.eks\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/id/[A-Z0-9]+$")


def finding(kind, severity, title, resources, why, fix, cluster=None):
    return {"kind": kind, "severity": severity, "title": title, "cluster": cluster, "resources": list(resources),
            "why": why, "fix": fix}


def _web_identity_allows(stmt):
    actions = [str(item).lower() for item in trust.as_list(stmt.get("Action"))]
    return stmt.get("Effect") == "Allow" and any(item in (WEB_IDENTITY_ACTION.lower(), "sts:*", "*") for item in actions)


def _breadth(pattern):
    """How many ServiceAccounts a StringLike subject admits: ``service_account``, ``namespace`` or ``cluster``."""
    if not pattern.startswith(SUBJECT_PREFIX):
        return "cluster"
    parts = pattern[len(SUBJECT_PREFIX):].split(":")
    if len(parts) != 2 or trust.has_wildcard(parts[0]):
        return "cluster"
    return "namespace" if trust.has_wildcard(parts[1]) else "service_account"


class Audit(object):
    """One audit: the inputs, and the findings as they are found."""

    def __init__(self, account, region, clusters, roles, providers, allowed_breadth="service_account"):
        self.account = account
        self.region = region
        self.clusters = clusters
        self.roles = roles
        self.providers = set(providers)
        self.allowed_breadth = allowed_breadth
        self.findings = []
        self.by_provider = {cluster["provider_arn"]: cluster for cluster in clusters}
        self.roles_by_name = {role["RoleName"]: role for role in roles}

    def add(self, *args, **kwargs):
        self.findings.append(finding(*args, **kwargs))

    def _of_this_region(self, provider_arn):
        match = _EKS_PROVIDER.search(provider_arn)
        return bool(match) and match.group("region") == self.region

    # roles ---------------------------------------------------------------------------------------------------

    def role(self, role):
        document = role.get("AssumeRolePolicyDocument") or {}
        reported = set()
        for index, stmt in enumerate(trust.statements_of(document)):
            principal = stmt.get("Principal")
            federated = [arn for arn in trust.as_list(principal.get("Federated") if isinstance(principal, dict) else None)
                         if isinstance(arn, str) and ":oidc-provider/" in arn]
            for provider_arn in federated:
                if provider_arn not in reported:
                    reported.add(provider_arn)
                    self._provider_of_role(role, provider_arn)
                if _web_identity_allows(stmt):
                    self._statement(role, index, stmt, provider_arn)

    def _provider_of_role(self, role, provider_arn):
        if provider_arn not in self.providers:
            self.add(
                "provider-missing", "high", "Role trusts an OIDC provider that does not exist", [role["Arn"], provider_arn],
                "STS refuses every token of this issuer ('No OpenIDConnect provider found in your account'): the "
                "ServiceAccounts this statement names cannot assume the role.",
                "If the cluster still exists, create its provider (eks.irsa.eks_oidc_provider); if it was rebuilt, "
                "re-point the role (playbooks/repoint.yml); else remove the statement (eks.irsa.irsa_role with "
                "oidc_providers state: absent).",
            )
        elif self._of_this_region(provider_arn) and provider_arn not in self.by_provider:
            self.add(
                "cluster-missing", "medium", "Role trusts the OIDC provider of a cluster that no longer exists",
                [role["Arn"], provider_arn],
                "No EKS cluster of region {0} has this issuer: the statement grants nothing today, and a trust left to "
                "a deleted cluster is what re-pointing after a rebuild forgets.".format(self.region),
                "Re-point the role to the new cluster (playbooks/repoint.yml), or remove the statement.",
            )

    def _statement(self, role, index, stmt, provider_arn):
        provider = trust.provider_from_arn(provider_arn)
        where = "{0} statement {1}{2}".format(role["Arn"], index, " ({0})".format(stmt["Sid"]) if stmt.get("Sid") else "")
        cluster = (self.by_provider.get(provider_arn) or {}).get("name")
        if not trust.condition_values(stmt, provider + ":aud"):
            self.add(
                "trust-no-audience", "medium", "IRSA trust without an audience condition", [where],
                "Without {0}:aud the statement accepts a token of this cluster issued for any audience the provider "
                "accepts, not only the pod identity webhook's sts.amazonaws.com.".format(provider),
                "Add \"StringEquals\": {{\"{0}:aud\": \"sts.amazonaws.com\"}} (eks.irsa.irsa_role writes it).".format(provider),
                cluster=cluster,
            )
        subjects = trust.condition_values(stmt, provider + ":sub")
        if not subjects:
            self.add(
                "trust-too-broad", "high", "IRSA trust without a subject condition", [where],
                "Every ServiceAccount of the cluster (and any workload that can get a token of it) may assume the role.",
                "Name the ServiceAccounts: StringEquals on {0}:sub (eks.irsa.irsa_role service_accounts).".format(provider),
                cluster=cluster,
            )
            return
        exact = []
        for operator, value in subjects:
            base = operator.split(":", 1)[-1].lower()
            wildcard = trust.has_wildcard(value)
            if base.startswith("stringequals") and wildcard:
                self.add(
                    "trust-star-equals", "high", "Wildcard under StringEquals matches nothing", [where, value],
                    "StringEquals compares {0!r} literally, so no ServiceAccount matches it: the pods meant to assume "
                    "the role are refused (AccessDenied).".format(value),
                    "Use StringLike for the pattern, or list the ServiceAccounts exactly.", cluster=cluster,
                )
            elif base.startswith("stringlike") and wildcard:
                breadth = _breadth(value)
                if BREADTHS.index(breadth) > BREADTHS.index(self.allowed_breadth):
                    self.add(
                        "trust-too-broad", "high" if breadth == "cluster" else "medium",
                        "IRSA trust broader than allowed ({0}-wide)".format(breadth.replace("_", " ")), [where, value],
                        "The pattern {0!r} lets every ServiceAccount of {1} assume the role, including ones created "
                        "later by anyone who may create ServiceAccounts there.".format(
                            value, "the cluster" if breadth == "cluster" else "the namespace"),
                        "List the ServiceAccounts exactly (eks.irsa.irsa_role service_accounts), or allow this breadth "
                        "with allowed_subject_breadth: {0}.".format(breadth), cluster=cluster,
                    )
            elif not wildcard:
                exact.append(value)
        self._unknown_subjects(where, provider_arn, exact)

    def _unknown_subjects(self, where, provider_arn, subjects):
        cluster = self.by_provider.get(provider_arn)
        if cluster is None or cluster.get("service_accounts") is None:
            return
        known = {trust.subject(item["metadata"].get("namespace"), item["metadata"].get("name"))
                 for item in cluster["service_accounts"]}
        missing = sorted(set(subjects) - known)
        if missing:
            self.add(
                "subject-unknown", "low", "Role trusts ServiceAccounts that do not exist", [where] + missing,
                "No ServiceAccount of cluster {0} has these names: the trust is left over, or a ServiceAccount is yet "
                "to be created; whoever creates one later gets the role.".format(cluster["name"]),
                "Remove them from the trust (eks.irsa.irsa_prune, or eks.irsa.irsa_role service_accounts), or create "
                "the ServiceAccounts.", cluster=cluster["name"],
            )

    # providers -----------------------------------------------------------------------------------------------

    def unused_providers(self):
        used = set(self.by_provider)
        count = len(self.providers)
        severity = "medium" if count >= OIDC_PROVIDER_QUOTA_WARNING else "low"
        for arn in sorted(self.providers):
            if self._of_this_region(arn) and arn not in used:
                self.add(
                    "provider-unused", severity, "OIDC provider of no cluster", [arn],
                    "No EKS cluster of region {0} has this issuer. The account has {1} OIDC providers of IAM's limit "
                    "of {2}; providers of deleted clusters pile up against it.".format(self.region, count, OIDC_PROVIDER_QUOTA),
                    "Delete it once no role needs it (eks.irsa.eks_oidc_provider state: absent, which refuses a "
                    "provider that roles still trust).",
                )

    # ServiceAccounts -----------------------------------------------------------------------------------------

    def service_accounts(self, cluster):
        """The verdict of every annotated ServiceAccount of an audited cluster, broken ones first."""
        pods = {}
        for pod in cluster.get("pods") or []:
            key = ((pod.get("metadata") or {}).get("namespace"), (pod.get("spec") or {}).get("serviceAccountName"))
            pods.setdefault(key, []).append(pod)
        rows = []
        for item in cluster.get("service_accounts") or []:
            metadata = item.get("metadata") or {}
            if ROLE_ARN_ANNOTATION not in (metadata.get("annotations") or {}):
                continue
            rows.append(self._service_account(cluster, item, pods.get((metadata.get("namespace"), metadata.get("name")), [])))
        order = {"broken": 0, "warning": 1, "ok": 2}
        return sorted(rows, key=lambda row: (order[row["verdict"]], row["namespace"], row["name"]))

    def _service_account(self, cluster, item, pods):
        namespace, name = item["metadata"]["namespace"], item["metadata"]["name"]
        label = "{0}/{1}/{2}".format(cluster["name"], namespace, name)
        checks, role_arn, audience = static.service_account_checks(namespace, name, item)
        role = None
        if role_arn and not failures(checks):
            role = self.roles_by_name.get(role_name_from_arn(role_arn))
            role_results = static.role_checks(role_arn, role, caller_account=self.account)
            checks += role_results
            if role is None and not static.role_in_other_account(role_arn, role, self.account):
                self.add(
                    "annotation-role-missing", "high", "ServiceAccount names a role that does not exist", [label, role_arn],
                    "Its pods get credentials for a role that STS refuses: every AWS call of the workload fails "
                    "(AccessDenied on sts:AssumeRoleWithWebIdentity).",
                    "Create the role (eks.irsa.irsa_role) or correct the annotation (eks.irsa.irsa_service_account).",
                    cluster=cluster["name"],
                )
                return self._row(namespace, name, role_arn, checks, [])
        if role is not None and not failures(checks):
            provider = None if not cluster.get("provider_exists") else {"client_ids": cluster.get("client_ids") or []}
            checks += static.provider_checks(cluster["provider_arn"], cluster["issuer"], provider, audience)
            claims = {"iss": cluster["issuer"], "sub": trust.subject(namespace, name), "aud": audience}
            checks += static.trust_checks(role.get("AssumeRolePolicyDocument") or {}, cluster["provider_arn"], claims,
                                          role_name=role["RoleName"])
        stale = stale_pods(pods, role_arn) if role_arn else []
        if stale:
            self.add(
                "pods-to-restart", "medium", "Pods started before their ServiceAccount's role", [label] + stale,
                "These pods were created before the annotation (or before its change) and were not given the role's "
                "credentials: they still use the node's role, or the old one.",
                "Restart them: kubectl rollout restart on their Deployment/StatefulSet/DaemonSet, or delete the pods.",
                cluster=cluster["name"],
            )
        errors = failures(checks)
        if errors:
            self.add("binding-broken", "high", "ServiceAccount cannot assume its role", [label] + ([role_arn] if role_arn else []),
                     errors[0]["message"], errors[0]["remediation"], cluster=cluster["name"])
        return self._row(namespace, name, role_arn, checks, stale)

    @staticmethod
    def _row(namespace, name, role_arn, checks, stale):
        errors, warnings = failures(checks), failures(checks, WARNING)
        verdict = "broken" if errors else ("warning" if warnings or stale else "ok")
        if errors or warnings:
            message = (errors or warnings)[0]["message"]
        elif stale:
            message = "{0} pod(s) to restart.".format(len(stale))
        else:
            message = "Verified statically: annotation, role, provider and trust."
        return {"namespace": namespace, "name": name, "role_arn": role_arn, "verdict": verdict, "message": message,
                "pods_to_restart": stale}


def analyse(account, partition, region, clusters, roles, providers, allowed_breadth="service_account"):
    """The report (without ``generated_at`` and ``api_calls``, which the caller adds).

    ``clusters``: every cluster of the region, each ``{name, issuer, provider_arn, provider_exists, client_ids,
    audited, service_accounts, pods}`` (the last two None when not audited). ``roles``: ListRoles' roles with their
    trust documents decoded. ``providers``: the ARNs of the account's IAM OIDC providers.
    """
    audit = Audit(account, region, clusters, roles, providers, allowed_breadth)
    for role in sorted(roles, key=lambda item: item["RoleName"]):
        audit.role(role)
    audit.unused_providers()
    audited = []
    for cluster in clusters:
        if not cluster.get("audited"):
            continue
        audited.append({"name": cluster["name"], "issuer": cluster["issuer"], "provider_arn": cluster["provider_arn"],
                        "provider_exists": cluster["provider_exists"], "service_accounts": audit.service_accounts(cluster)})
    findings = sorted(audit.findings, key=lambda item: (SEVERITIES.index(item["severity"]), item["kind"], item["resources"]))
    counts = {severity: sum(1 for item in findings if item["severity"] == severity) for severity in SEVERITIES}
    return {
        "account": account,
        "partition": partition,
        "region": region,
        "summary": {
            "clusters": len(audited),
            "service_accounts": sum(len(cluster["service_accounts"]) for cluster in audited),
            "roles": len(roles),
            "findings": counts,
            "oidc_providers": {"count": len(providers), "limit": OIDC_PROVIDER_QUOTA,
                               "unused": sum(1 for item in findings if item["kind"] == "provider-unused")},
        },
        "findings": findings,
        "clusters": audited,
    }
