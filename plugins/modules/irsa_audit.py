#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: irsa_audit
short_description: Audit every IRSA workload identity of an account and its EKS clusters at once
version_added: 0.1.0
description:
  - Reads, without changing anything, the EKS clusters of the region, every IAM role and OIDC provider of the account,
    and the ServiceAccounts and pods of the audited clusters, then reports what is wrong, why it matters and the fix.
  - For every ServiceAccount with an C(eks.amazonaws.com/role-arn) annotation, the same static checks as
    M(eks.irsa.irsa_verify) (annotation, role, OIDC provider and its audience, trust statement by statement, pods to
    restart), without a token exchange.
  - For the account, roles whose trust names an OIDC provider that does not exist (C(provider-missing)) or whose
    cluster does not exist (C(cluster-missing)); OIDC providers no cluster uses (C(provider-unused)), with the count
    against IAM's limit of 100; IRSA trust statements without an audience condition (C(trust-no-audience)), with a
    wildcard under C(StringEquals) (C(trust-star-equals)), or broader than O(allowed_subject_breadth)
    (C(trust-too-broad)); roles trusting ServiceAccounts that exist in no audited cluster (C(subject-unknown));
    ServiceAccounts naming a role that does not exist (C(annotation-role-missing)); pods to restart
    (C(pods-to-restart)); and ServiceAccounts that cannot assume their role for another reason (C(binding-broken)).
  - One module run for all the clusters. It makes a fixed number of calls whatever the number of roles and
    ServiceAccounts, paging aside - C(sts:GetCallerIdentity), C(eks:ListClusters), one C(eks:DescribeCluster) per
    cluster of the region, C(iam:ListRoles), C(iam:ListOpenIDConnectProviders), one C(iam:GetOpenIDConnectProvider)
    per audited cluster, and per audited cluster one list of ServiceAccounts and one of pods.
  - Only providers of EKS clusters of the region are judged as used or unused; providers of other regions or of other
    issuers are counted, not judged.
author:
  - eks.irsa contributors (!UNKNOWN)
options:
  clusters:
    description:
      - The EKS clusters whose ServiceAccounts to audit, by name. When not given, every cluster of the region.
      - The roles and providers of the account are audited either way; a role's subjects are judged against the
        ServiceAccounts of the audited clusters only.
    type: list
    elements: str
  contexts:
    description:
      - With O(kubeconfig) (or O(context)), the kubeconfig context of each cluster, cluster name to context name. A
        cluster not listed uses the context named like the cluster.
      - Without O(kubeconfig) and O(context), each cluster is reached in EKS mode, with AWS credentials only (as
        C(eks_cluster) of M(eks.irsa.irsa_service_account) does, an option this module does not take as it audits
        several clusters).
    type: dict
  allowed_subject_breadth:
    description:
      - How many ServiceAccounts one C(StringLike) subject of a trust may admit before it is reported as
        C(trust-too-broad). V(service_account) reports every wildcard subject, V(namespace) only patterns wider than a
        namespace (C(system:serviceaccount:*)), V(cluster) none.
    type: str
    choices: [service_account, namespace, cluster]
    default: service_account
  report_dir:
    description:
      - A directory to write the report to, as C(report.json) and C(report.html) (one self-contained file, no network).
        Created when missing. The report holds no secret.
    type: path
extends_documentation_fragment:
  - eks.irsa.k8s_auth
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - eks.irsa.requirements
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode (the report files are written in check mode too).
  diff_mode:
    support: none
    description: Changes nothing.
seealso:
  - module: eks.irsa.irsa_verify
  - module: eks.irsa.irsa_repoint
"""

EXAMPLES = r"""
- name: Audit every cluster of the region, report to ./audit
  eks.irsa.irsa_audit:
    region: eu-west-1
    report_dir: audit
  register: audit

- name: Fail on high-severity findings
  ansible.builtin.assert:
    that: audit.summary.findings.high == 0
    fail_msg: "{{ audit.findings | selectattr('severity', 'eq', 'high') | map(attribute='title') | list }}"
"""

RETURN = r"""
summary:
  description: Counts - clusters and annotated ServiceAccounts audited, roles read, findings per severity, OIDC providers.
  returned: always
  type: dict
  sample: {clusters: 3, service_accounts: 300, roles: 41, findings: {high: 9, medium: 9, low: 9},
           oidc_providers: {count: 9, limit: 100, unused: 6}}
findings:
  description:
    - Every finding, high severity first, each with C(kind), C(severity) (V(high), V(medium), V(low)), C(title),
      C(cluster) (or V(null) for the account), C(resources) (ARNs, C(cluster/namespace/name) of ServiceAccounts, pods),
      C(why) it matters and the C(fix).
  returned: always
  type: list
  elements: dict
clusters:
  description: Per audited cluster, C(name), C(issuer), C(provider_arn), C(provider_exists) and C(service_accounts),
    the verdict (V(ok), V(warning), V(broken)) of every annotated ServiceAccount with its C(role_arn), C(message) and
    C(pods_to_restart).
  returned: always
  type: list
  elements: dict
api_calls:
  description: The API calls the audit made, per service (C(sts), C(eks), C(iam), C(kubernetes)).
  returned: always
  type: dict
  sample: {sts: 1, eks: 4, iam: 5, kubernetes: 6}
report_files:
  description: The files written with O(report_dir).
  returned: when O(report_dir) is given
  type: list
  elements: str
account:
  description: The account audited.
  returned: always
  type: str
region:
  description: The region audited.
  returned: always
  type: str
"""

from ansible_collections.eks.irsa.plugins.module_utils import audit
from ansible_collections.eks.irsa.plugins.module_utils import audit_run
from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import KubernetesError
from ansible_collections.eks.irsa.plugins.module_utils.errors import fail
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import hide_kubeconfig_secrets
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import k8s_argument_spec
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError


def main():
    argument_spec = dict(
        clusters=dict(type="list", elements="str"),
        contexts=dict(type="dict"),
        allowed_subject_breadth=dict(type="str", choices=list(audit.BREADTHS), default="service_account"),
        report_dir=dict(type="path"),
    )
    argument_spec.update(k8s_argument_spec(cluster_alias=False))
    del argument_spec["eks_cluster"]  # the clusters are listed in clusters
    module = IrsaAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        hide_kubeconfig_secrets(module)
        report = audit_run.run(module)
        if module.params["report_dir"]:
            report["report_files"] = audit_run.write_report(module.params["report_dir"], report)
    except (NamingError, KubernetesError, IrsaAWSError, audit_run.ReportError) as e:
        fail(module, e)
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
