# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One run of the audit: what it reads from AWS and from each audited cluster, counting the API calls, the analysis
of what it read (``audit``), and the report files it writes (``audit_report``).

The reads are a fixed number of calls whatever the number of roles and ServiceAccounts, paging aside: the caller,
the region's clusters and each one's issuer, the account's roles and OIDC providers, the provider of each audited
cluster, and the ServiceAccounts and pods of each audited cluster.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import datetime
import os

from ansible_collections.eks.irsa.plugins.module_utils import audit
from ansible_collections.eks.irsa.plugins.module_utils import audit_report
from ansible_collections.eks.irsa.plugins.module_utils import aws
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.errors import KubernetesError
from ansible_collections.eks.irsa.plugins.module_utils.k8s.api import KubernetesAPI
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import resolve_connection
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_issuer
from ansible_collections.eks.irsa.plugins.module_utils.naming import provider_arn


class ReportError(InputError):
    """The report files cannot be written where ``report_dir`` says."""


class Counter(object):
    """API calls per service, counted as they are made."""

    def __init__(self):
        self.calls = {}

    def watch(self, client, service):
        def count(**_kwargs):
            self.calls[service] = self.calls.get(service, 0) + 1
        client.meta.events.register("before-call.*.*", count)
        return client

    def kubernetes(self, kube):
        request = kube.request

        def counted(*args, **kwargs):
            self.calls["kubernetes"] = self.calls.get("kubernetes", 0) + 1
            return request(*args, **kwargs)
        kube.request = counted
        return kube


def read_clusters(module, eks, identity):
    """Every cluster of the region: its issuer and provider ARN; unknown names in ``clusters`` are refused."""
    names = aws.list_clusters(eks)
    wanted = module.params["clusters"]
    if wanted is not None:
        missing = sorted(set(wanted) - set(names))
        if missing:
            raise NamingError("clusters: no EKS cluster {0} in region {1}; the clusters there are {2}".format(
                ", ".join(repr(name) for name in missing), module.region, ", ".join(sorted(names)) or "none"))
    clusters = []
    for name in sorted(names):
        described = aws.describe_cluster(eks, name)
        if described is None:
            continue  # deleted between the list and now
        issuer = parse_issuer(aws.cluster_issuer_url(described))
        clusters.append({"name": name, "issuer": issuer.url, "audited": wanted is None or name in wanted,
                         "provider_arn": provider_arn(issuer.provider, identity["account_id"], identity["partition"])})
    return clusters


def read_providers(iam, clusters):
    """The account's OIDC provider ARNs; on each cluster, whether its provider exists and, when audited, its client IDs."""
    providers = aws.list_oidc_providers(iam)
    for cluster in clusters:
        cluster["provider_exists"] = cluster["provider_arn"] in providers
        cluster["client_ids"] = None
        if cluster["audited"] and cluster["provider_exists"]:
            found = aws.get_oidc_provider(iam, cluster["provider_arn"])
            cluster["provider_exists"] = found is not None
            cluster["client_ids"] = (found or {}).get("client_ids")
    return providers


def connect(module, name):
    """The Kubernetes API of cluster ``name``: EKS mode, or the kubeconfig context of the cluster."""
    params = dict(module.params)
    if params.get("kubeconfig") or params.get("context"):
        params["context"] = (params.get("contexts") or {}).get(name) or name
    else:
        params["eks_cluster"] = name
    return KubernetesAPI(resolve_connection(module, params=params))


def read_kubernetes(module, clusters, counter):
    """The ServiceAccounts and pods of every audited cluster, on the cluster (None on the others)."""
    for cluster in clusters:
        cluster["service_accounts"] = cluster["pods"] = None
        if not cluster["audited"]:
            continue
        kube = counter.kubernetes(connect(module, cluster["name"]))
        try:
            cluster["service_accounts"] = kube.list_all_service_accounts()
            cluster["pods"] = kube.list_all_pods()
        except KubernetesError as e:
            raise KubernetesError("cluster {0}: {1}".format(cluster["name"], e)) from None
        finally:
            kube.close()


def run(module):
    """Read, analyse, and return the report, stamped with its time and the API calls made."""
    if not module.region:
        raise NamingError("The audit needs the region of the clusters: set the region option or AWS_REGION")
    counter = Counter()
    sts = counter.watch(module.client("sts"), "sts")
    eks = counter.watch(module.client("eks"), "eks")
    iam = counter.watch(module.client("iam"), "iam")
    identity = aws.caller_identity(sts)
    clusters = read_clusters(module, eks, identity)
    roles = aws.list_roles(iam)
    providers = read_providers(iam, clusters)
    read_kubernetes(module, clusters, counter)
    report = audit.analyse(identity["account_id"], identity["partition"], module.region, clusters, roles, providers,
                           module.params["allowed_subject_breadth"])
    report["generated_at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    report["api_calls"] = dict(counter.calls)
    return report


def write_report(directory, report):
    """Write ``report.json`` and ``report.html`` into ``directory`` (created when missing); the paths written."""
    written = []
    try:
        os.makedirs(directory, exist_ok=True)
        for name, text in (("report.json", audit_report.render_json(report)), ("report.html", audit_report.render_html(report))):
            path = os.path.join(directory, name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            written.append(path)
    except OSError as e:
        raise ReportError("Cannot write the report to {0}: {1}; set report_dir to a writable directory".format(
            directory, e.strerror)) from None
    return written
