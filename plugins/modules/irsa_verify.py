#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: irsa_verify
short_description: Prove that Kubernetes ServiceAccounts assume their IAM roles (IRSA), or say which link is broken
version_added: 0.1.0
description:
  - Verifies IAM Roles for Service Accounts bindings of an EKS cluster and, when one does not work,
    says which link of the chain is broken, why, and how to fix it.
  - C(static) reads the configuration only. The ServiceAccount exists and carries the
    C(eks.amazonaws.com/role-arn) annotation (near-miss keys such as C(eks.amazon.com/role-arn) are
    named); the role exists; IAM has an OIDC provider for the cluster's issuer whose client IDs
    contain the ServiceAccount's audience; the role's trust policy lets
    C(system:serviceaccount:<namespace>:<name>) with that audience assume it, evaluated statement by
    statement (the deciding statement is named, or why none matched); the pod identity webhook is
    installed. Pods of the ServiceAccount that were created before it was annotated, and a trust
    policy near IAM's size limit, are warnings.
  - C(token) needs no pod. It requests a token for the ServiceAccount (TokenRequest, its audience,
    10 minutes), exchanges it with C(sts:AssumeRoleWithWebIdentity) on the regional STS endpoint,
    without signing, as a pod does; the identity STS states for the temporary credentials
    (C(AssumedRoleUser), what C(sts:GetCallerIdentity) with them answers) must be
    C(assumed-role/<role-name>/...). The credentials are discarded unused. IAM is eventually consistent,
    so C(AccessDenied) and C(InvalidIdentityToken) are retried with backoff for up to
    O(propagation_timeout) seconds, unless the role's trust or the OIDC provider, judged with the token's own
    claims (C(iss), C(sub), C(aud)), already explain the refusal.
  - A token whose issuer (C(iss)) is not the issuer of O(cluster_name) or O(oidc_provider) means that the
    Kubernetes connection reaches another cluster; the C(token) check then fails with both issuers named, and
    exchanges nothing.
  - C(pod) is the manual procedure. It runs C(aws sts get-caller-identity) in a pod
    C(irsa-verify-<random>) of the ServiceAccount, checks that the pod identity webhook injected
    C(AWS_ROLE_ARN), C(AWS_WEB_IDENTITY_TOKEN_FILE) and the C(aws-iam-token) volume, waits for it,
    reads its log and compares the identity. The pod passes the C(restricted) Pod Security profile,
    has small resource requests and limits, C(restartPolicy=Never), an C(activeDeadlineSeconds) and
    the label C(app.kubernetes.io/managed-by=eks.irsa). It is deleted on success, failure, timeout and
    interruption, unless O(keep_pod=true).
  - Before it starts its pod, the C(pod) check deletes the verification pods of the same ServiceAccount left
    behind by a run that was killed before it could delete them, those that ended (C(Succeeded) or C(Failed))
    more than 5 seconds ago or outlived their C(activeDeadlineSeconds). A pod still running within its deadline,
    possibly a concurrent run's, is left alone.
  - Read-only, so many bindings are verified in one call with O(service_accounts), concurrently, with
    one client per API.
  - The ServiceAccount token and the temporary credentials are used in memory only; they are never
    returned, logged or put in a message.
author:
  - eks.irsa contributors (!UNKNOWN)
options:
  namespace:
    description:
      - Namespace of O(service_account).
    type: str
    default: default
  service_account:
    description:
      - Name of the ServiceAccount to verify.
      - Exactly one of O(service_account) and O(service_accounts) is required.
    type: str
  role_arn:
    description:
      - The role O(service_account) must assume. Defaults to its C(eks.amazonaws.com/role-arn) annotation;
        when given, an annotation naming another role is a failure.
      - Only with O(service_account); in O(service_accounts), give it per entry.
    type: str
  service_accounts:
    description:
      - ServiceAccounts to verify in one call, concurrently (see O(max_concurrency)).
      - Exactly one of O(service_account) and O(service_accounts) is required.
    type: list
    elements: dict
    suboptions:
      namespace:
        description: Namespace of the ServiceAccount.
        type: str
        default: default
      name:
        description: Name of the ServiceAccount.
        type: str
        required: true
      role_arn:
        description: The role it must assume; defaults to its annotation.
        type: str
      checks:
        description:
          - The checks of this ServiceAccount, instead of O(checks).
        type: list
        elements: str
        choices: [static, token, pod]
  known_roles:
    description:
      - IAM roles as M(eks.irsa.irsa_role) has just read them in the same run, the C(role) of each of its
        RV(eks.irsa.irsa_role#module:results), with at least C(arn) and C(trust_policy). A binding whose role is
        among them is checked against it, and the role is not read again with C(iam:GetRole).
      - Give only roles read moments ago; a role changed since then is judged as it was.
    type: list
    elements: dict
    default: []
  cluster_name:
    description:
      - Name of the EKS cluster whose OIDC issuer the roles must trust, read with C(eks:DescribeCluster) for the
        C(static) check (O(oidc_provider) saves that call).
      - Until 1.0.0, without O(eks_cluster), O(kubeconfig), O(context) and O(host), it is also the cluster whose
        Kubernetes API is reached in EKS mode, with a deprecation warning; give O(eks_cluster) for that.
    type: str
  eks_cluster:
    description:
      - Name of the EKS cluster whose Kubernetes API to reach. Without O(host), O(kubeconfig) and O(context), this is
        B(EKS mode), in which the module reads the cluster's endpoint and CA with C(eks:DescribeCluster) and
        authenticates with a token it makes itself from the AWS credentials, as C(aws eks get-token) does (no
        kubeconfig, no AWS CLI needed). The AWS identity must be allowed into the cluster (an EKS access entry or the
        C(aws-auth) ConfigMap).
      - Usually the same cluster as O(cluster_name).
    type: str
  oidc_provider:
    description:
      - The cluster's OIDC issuer, as M(eks.irsa.eks_oidc_info) returns it (RV(eks.irsa.eks_oidc_info#module:issuer_url),
        RV(eks.irsa.eks_oidc_info#module:provider) or RV(eks.irsa.eks_oidc_info#module:provider_arn)); saves the
        C(eks:DescribeCluster) call.
      - Without it, the issuer of O(cluster_name) is read with C(eks:DescribeCluster); one of them is required by the
        C(static) check.
      - The IAM OIDC provider checked is the one for this issuer in the role's account, where STS looks for it.
    type: str
  checks:
    description:
      - What to verify. C(static) reads the configuration, C(token) exchanges a ServiceAccount token
        with STS, C(pod) runs a pod as the manual procedure does.
      - The ServiceAccount and its annotation are checked whatever the selection, since every check starts from them.
    type: list
    elements: str
    choices: [static, token, pod]
    default: [static, token]
  fail_on_error:
    description:
      - When V(true), the task fails when a binding is not verified, with every finding in the message.
      - When V(false), it succeeds and returns RV(verified=false) and every finding.
    type: bool
    default: true
  propagation_timeout:
    description:
      - Seconds during which the C(token) check retries C(AccessDenied) and C(InvalidIdentityToken),
        which may only mean that IAM has not propagated a change yet.
      - When the C(static) check already found why the exchange fails, it is tried once.
    type: int
    default: 60
  pod_timeout:
    description:
      - Seconds to wait for the verification pod to finish; also its C(activeDeadlineSeconds).
    type: int
    default: 180
  image:
    description:
      - Image of the verification pod; it must have the AWS CLI v2 (or run O(pod_command)).
      - Mirror it in a private registry for clusters without access to C(public.ecr.aws).
    type: str
    default: public.ecr.aws/aws-cli/aws-cli:2.25.4
  image_pull_secrets:
    description:
      - Names of Secrets in the ServiceAccount's namespace to pull O(image) with.
    type: list
    elements: str
    default: []
  pod_command:
    description:
      - The command of the verification pod; it must print the JSON answer of C(sts:GetCallerIdentity).
      - Change it only for an image whose AWS CLI is not on the C(PATH).
    type: list
    elements: str
    default: [aws, sts, get-caller-identity, --output, json]
  keep_pod:
    description:
      - Leave the verification pod in place (to read it with kubectl) instead of deleting it; its name is returned.
    type: bool
    default: false
  max_concurrency:
    description:
      - How many bindings are verified at the same time.
    type: int
    default: 10
  trust_policy_size_limit:
    description:
      - The trust policy size, in characters without white space, that IAM accepts for the account
        (2048 unless the quota was raised); the C(static) check warns from 90% of it.
    type: int
    default: 2048
extends_documentation_fragment:
  - eks.irsa.k8s_auth
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - eks.irsa.requirements
attributes:
  check_mode:
    support: full
    description: The C(static) and C(token) checks run in check mode; the C(pod) check, which creates a pod, is reported as skipped.
  diff_mode:
    support: none
    description: Changes nothing.
notes:
  - The task never reports a change (C(changed=false)).
  - O(cluster_name) names the cluster whose issuer the C(static) check uses, O(eks_cluster) (or O(kubeconfig),
    O(context), O(host)) how the module reaches its Kubernetes API.
  - "AWS permissions used: C(eks:DescribeCluster) (O(cluster_name)), C(iam:GetRole),
    C(iam:GetOpenIDConnectProvider), C(sts:GetCallerIdentity) (only when a role is not found, to name
    the account of the credentials, and in EKS mode when the cluster answers 401, to tell credentials AWS
    refuses from an identity the cluster does not map). C(sts:AssumeRoleWithWebIdentity) needs no credentials."
  - "Kubernetes permissions used: get/list C(serviceaccounts), create C(serviceaccounts/token) (token),
    list C(pods), list C(mutatingwebhookconfigurations), and for the C(pod) check create/get/delete
    C(pods), get C(pods/log), list C(events) in the ServiceAccount's namespace."
  - The C(pod) check needs a node that can pull O(image) and reach STS, like any pod using the role.
seealso:
  - module: eks.irsa.eks_oidc_info
  - module: eks.irsa.irsa_role
  - module: eks.irsa.irsa_service_account
  - name: Troubleshooting IAM roles for service accounts
    description: The AWS documentation of IRSA.
    link: https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html
"""

EXAMPLES = r"""
# The manual procedure (steps 3 and 4): a pod of the ServiceAccount prints its caller identity.
- name: Prove that my-app assumes its role, as a pod would
  eks.irsa.irsa_verify:
    cluster_name: my-cluster
    eks_cluster: my-cluster
    region: us-west-2
    namespace: default
    service_account: my-app
    checks: [static, token, pod]
  register: proof

- name: Show the identity the pod got
  ansible.builtin.debug:
    msg: "{{ proof.caller_identity.arn }}"   # arn:aws:sts::123456789012:assumed-role/my-app/botocore-session-...

# Audit every binding of a cluster in one call, without failing, and list what is broken.
- name: Find the cluster's issuer once
  eks.irsa.eks_oidc_info:
    cluster_name: my-cluster
    region: us-west-2
  register: oidc

- name: Verify the bindings
  eks.irsa.irsa_verify:
    oidc_provider: "{{ oidc.provider_arn }}"
    region: us-west-2
    eks_cluster: my-cluster
    service_accounts:
      - {namespace: payments, name: api}
      - {namespace: payments, name: worker, role_arn: "arn:aws:iam::123456789012:role/payments-worker"}
      - {namespace: monitoring, name: exporter}
    fail_on_error: false
  register: audit

- name: Report the bindings that do not work
  ansible.builtin.debug:
    msg: >-
      {{ item.namespace }}/{{ item.service_account }}:
      {{ item.checks | selectattr('passed', 'false') | selectattr('severity', 'eq', 'error') | map(attribute='message') | list }}
  loop: "{{ audit.results | rejectattr('verified') }}"
  loop_control:
    label: "{{ item.namespace }}/{{ item.service_account }}"

# With a kubeconfig context, and an image mirrored in a private registry.
- name: Verify with a pod pulled from a private registry
  eks.irsa.irsa_verify:
    oidc_provider: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E
    region: us-west-2
    kubeconfig: ~/.kube/config
    context: my-cluster
    namespace: default
    service_account: my-app
    checks: [pod]
    image: 123456789012.dkr.ecr.us-west-2.amazonaws.com/mirror/aws-cli:2.25.4
    image_pull_secrets: [ecr-pull]
"""

RETURN = r"""
verified:
  description:
    - Whether every binding was verified (no check of severity C(error) failed).
  returned: always
  type: bool
  sample: true
msg:
  description:
    - How many ServiceAccounts do not assume their role, and for each the diagnosis and its fix (the failure message
      with O(fail_on_error=true)).
  returned: when a binding was not verified
  type: str
  sample: "1 of 2 ServiceAccount(s) do not assume their role. default/app: ..."
role_arn:
  description: The role the ServiceAccount was verified against (O(role_arn) or its annotation); empty when there is none.
  returned: with O(service_account)
  type: str
  sample: arn:aws:iam::123456789012:role/my-app
caller_identity:
  description:
    - The identity STS answered for the ServiceAccount (by the pod when the C(pod) check ran, else by the token check);
      empty when none was obtained. Never credentials.
  returned: with O(service_account)
  type: dict
  contains:
    account:
      description: The account.
      returned: when STS answered for the ServiceAccount
      type: str
      sample: "123456789012"
    arn:
      description: The assumed-role session, C(arn:<partition>:sts::<account>:assumed-role/<role-name>/<session>).
      returned: when STS answered for the ServiceAccount
      type: str
      sample: arn:aws:sts::123456789012:assumed-role/my-app/botocore-session-1700000000
    user_id:
      description: The role's unique ID and the session name.
      returned: when STS answered for the ServiceAccount
      type: str
      sample: AROAEXAMPLEID:botocore-session-1700000000
checks:
  description:
    - One entry per check made, in order, for O(service_account).
  returned: with O(service_account)
  type: list
  elements: dict
  contains:
    name:
      description:
        - C(service_account), C(role_arn_annotation), C(role), C(role_arn_path), C(oidc_provider), C(trust_policy),
          C(trust_policy_audience), C(trust_policy_size), C(webhook), C(stale_pods) (static), C(token), C(pod).
      returned: always
      type: str
      sample: trust_policy
    check:
      description: The group of O(checks) it belongs to.
      returned: always
      type: str
      sample: static
    passed:
      description: Whether it passed; V(null) when it was skipped.
      returned: always
      type: bool
      sample: false
    severity:
      description:
        - C(error) when the binding cannot work while it fails, C(warning) when it works but something is at risk,
          C(info) for a skipped check.
      returned: always
      type: str
      sample: error
    message:
      description: What was found, and for a failure why the binding does not work.
      returned: always
      type: str
      sample: >-
        The trust policy of role 'my-app' does not let 'system:serviceaccount:default:my-app' (aud 'sts.amazonaws.com')
        from oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E assume the role: statement 0: StringEquals on
        'oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E:sub' expects 'system:serviceaccount:default:other',
        the token has 'system:serviceaccount:default:my-app'. Expected sub 'system:serviceaccount:default:my-app'; the trust has
        'system:serviceaccount:default:other'. The trust names another ServiceAccount of namespace 'default' (other), not 'my-app'.
    remediation:
      description: How to fix it; empty when it passed.
      returned: always
      type: str
      sample: Add the subject to the role's trust with eks.irsa.irsa_role (service_accounts including 'default:my-app').
    skipped:
      description: Present and V(true) for a check that did not run (C(pod) in check mode).
      returned: when the check did not run
      type: bool
      sample: true
attempts:
  description: How many times the C(token) check called C(sts:AssumeRoleWithWebIdentity) (0 when it did not run).
  returned: with O(service_account)
  type: int
  sample: 1
pod:
  description: Name of the verification pod left in place with O(keep_pod=true); empty otherwise.
  returned: with O(service_account)
  type: str
  sample: irsa-verify-k7x2p
results:
  description: One entry per ServiceAccount, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    namespace:
      description: The ServiceAccount's namespace.
      returned: always
      type: str
      sample: default
    service_account:
      description: The ServiceAccount's name.
      returned: always
      type: str
      sample: my-app
    role_arn:
      description: As RV(role_arn).
      returned: always
      type: str
      sample: arn:aws:iam::123456789012:role/my-app
    verified:
      description: Whether this binding was verified.
      returned: always
      type: bool
      sample: true
    caller_identity:
      description: As RV(caller_identity).
      returned: always
      type: dict
      sample: {"account": "123456789012", "arn": "arn:aws:sts::123456789012:assumed-role/my-app/eks-irsa-verify-1700000000",
               "user_id": "AROAEXAMPLEID:eks-irsa-verify-1700000000"}
    checks:
      description: As RV(checks).
      returned: always
      type: list
      elements: dict
      sample: [{"name": "trust_policy", "check": "static", "passed": true, "severity": "error", "remediation": "",
                "message": "The trust policy of role 'my-app' allows sub 'system:serviceaccount:default:my-app' with aud
                            'sts.amazonaws.com' from oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E (statement 0)."}]
    attempts:
      description: As RV(attempts).
      returned: always
      type: int
      sample: 1
    pod:
      description: As RV(pod).
      returned: always
      type: str
      sample: ""
    pods_to_restart:
      description:
        - Running or pending pods of the ServiceAccount that were not mutated for its role (created before the
          annotation), found by the C(static) check; empty without it.
      returned: always
      type: list
      elements: str
      sample: [app-7d9c6b5f4-x2x9z]
summary:
  description: Counts of the bindings.
  returned: always
  type: dict
  contains:
    total:
      description: Bindings verified in this call.
      returned: always
      type: int
      sample: 3
    verified:
      description: Bindings that were verified.
      returned: always
      type: int
      sample: 2
    failed:
      description: Bindings that were not.
      returned: always
      type: int
      sample: 1
"""

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import service_account as sa
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils import verify
from ansible_collections.eks.irsa.plugins.module_utils import verify_aws
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils.aws import caller_identity
from ansible_collections.eks.irsa.plugins.module_utils.aws import cluster_issuer_url
from ansible_collections.eks.irsa.plugins.module_utils.aws import describe_error
from ansible_collections.eks.irsa.plugins.module_utils.aws import get_oidc_provider
from ansible_collections.eks.irsa.plugins.module_utils.aws import lookup_cluster
from ansible_collections.eks.irsa.plugins.module_utils.constants import TRUST_POLICY_SIZE_LIMIT
from ansible_collections.eks.irsa.plugins.module_utils.errors import KubernetesError
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import hide_kubeconfig_secrets
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import CLUSTER_NAME_DEPRECATION
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import k8s_argument_spec
from ansible_collections.eks.irsa.plugins.module_utils.k8s.api import kubernetes_services
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_issuer
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_oidc_provider
from ansible_collections.eks.irsa.plugins.module_utils.naming import provider_arn as build_provider_arn
from ansible_collections.eks.irsa.plugins.module_utils.trust.build import subject

# A verification pod is looked at again after these pauses, then every POLL_INTERVAL: a pod whose image is
# cached finishes within a second or two, and is then seen finished at once rather than up to a second late.
POLL_BACKOFF = (0.2, 0.3, 0.5)
POLL_INTERVAL = 1.0
# Static findings that explain an STS refusal: retrying for propagation would change nothing.
EXPLAINING_CHECKS = ("role_arn_annotation", "role", "role_arn_path", "oidc_provider", "trust_policy")


class Interrupted(Exception):
    """The module was told to stop (SIGTERM, SIGINT) while verification pods may exist."""


class Verifier:
    """Verifies bindings; holds one client per API and what the bindings share."""

    def __init__(self, module, kube, checks):
        self.module = module
        self.kube = kube
        self.params = module.params
        self.checks = checks
        self.check_mode = module.check_mode
        # Each fact is read once per run, whatever the bindings sharing it; a failure is that of every sharer.
        self.memo = batch.OnceCache(remember_failures=True)
        self.stop = threading.Event()
        self._pods_lock = threading.Lock()
        self.live_pods = {}  # name -> namespace, until deleted
        self._clients = {}
        self._clients_lock = threading.Lock()
        # One read per item until run() knows how many bindings each namespace has.
        self.namespace_reads = batch.NamespaceReads(kube, self.memo, {})

    # ----- AWS ------------------------------------------------------------------------------------

    def client(self, service, **extra):
        key = (service, tuple(sorted(extra.items())))
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = self.module.client(service, **extra)
            return self._clients[key]

    def issuer(self):
        """The cluster's issuer (OidcIssuer), from oidc_provider or DescribeCluster; None when neither is given."""
        def compute():
            if self.params["oidc_provider"]:
                return parse_oidc_provider(self.params["oidc_provider"])[0]
            if self.params["cluster_name"]:
                cluster = lookup_cluster(self.client("eks"), self.params["cluster_name"], self.module.region)
                return parse_issuer(cluster_issuer_url(cluster))
            return None
        return self.memo.get("issuer", compute)

    def caller_account(self):
        return self.memo.get("caller", lambda: caller_identity(self.client("sts")))["account_id"]

    def role(self, role_arn):
        name = parse_arn(role_arn, service="iam", resource_type="role")["resource_id"].rsplit("/", 1)[-1]
        return self.memo.get(("role", name), lambda: verify_aws.get_role(self.client("iam"), name))

    def know_roles(self, roles):
        """Take roles as irsa_role returned them for GetRole's answer (known_roles)."""
        for role in roles:
            name = parse_arn(role["arn"], service="iam", resource_type="role")["resource_id"].rsplit("/", 1)[-1]
            known = {"Arn": role["arn"], "RoleName": role.get("name") or name, "Path": role.get("path") or "/",
                     "AssumeRolePolicyDocument": role["trust_policy"]}
            self.memo.get(("role", name), lambda known=known: known)

    def oidc_provider(self, arn):
        return self.memo.get(("provider", arn), lambda: get_oidc_provider(self.client("iam"), arn))

    def sts_exchange_client(self, partition):
        """The STS client of the token check: the connection's or the environment's endpoint, else the regional endpoint,
        as pods use."""
        _region, endpoint_url, _kwargs = get_aws_connection_info(self.module)
        if endpoint_url or verify_aws.configured_sts_endpoint():
            return self.client("sts")
        return self.client("sts", endpoint=verify_aws.regional_sts_endpoint(self.module.region, partition))

    # ----- Kubernetes -----------------------------------------------------------------------------

    def service_account(self, namespace, name):
        """The ServiceAccount, or None. Several bindings in one namespace share one list call."""
        return self.namespace_reads.service_account(namespace, name)

    def namespace_exists(self, namespace):
        return self.namespace_reads.namespace_exists(namespace)

    def pods_of(self, namespace, name):
        pods = self.memo.get(("pods", namespace), lambda: self.kube.list_pods(namespace))
        return [
            pod for pod in pods
            if (pod.get("spec") or {}).get("serviceAccountName") == name
            if ((pod.get("metadata") or {}).get("labels") or {}).get(verify.VERIFY_COMPONENT_LABEL) != verify.VERIFY_COMPONENT_VALUE
        ]

    def webhook(self):
        """``(check)``: whether the pod identity webhook is installed, read once."""
        def compute():
            try:
                return verify.webhook_check(self.kube.list_mutating_webhook_configurations())
            except KubernetesError as e:
                return verify.webhook_check(None, error=str(e))
        return self.memo.get("webhook", compute)

    # ----- one binding ----------------------------------------------------------------------------

    def verify(self, binding):
        namespace, name = binding["namespace"], binding["name"]
        entry = {
            "namespace": namespace, "service_account": name, "role_arn": "", "verified": False,
            "caller_identity": {}, "attempts": 0, "checks": [], "pod": "", "pods_to_restart": [],
        }
        checks = entry["checks"]
        kinds = binding.get("checks") or self.checks
        try:
            sa = self.service_account(namespace, name)
            namespace_exists = True if sa is not None else self.namespace_exists(namespace)
            found, role_arn, audience = verify.service_account_checks(namespace, name, sa, binding.get("role_arn"), namespace_exists)
            checks.extend(found)
            entry["role_arn"] = role_arn or ""
            context = {"subject": subject(namespace, name), "audience": audience, "provider_arn": "", "issuer": None, "stale_pods": []}
            if "static" in kinds:
                checks.extend(self.static(namespace, name, role_arn, audience, context, annotated=sa is not None and not verify.failures(found)))
            else:
                self.resolve_provider(role_arn, context, static=False)
            entry["pods_to_restart"] = context["stale_pods"]
            if "token" in kinds:
                self.token(entry, sa, role_arn, context)
            if "pod" in kinds:
                self.pod(entry, sa, role_arn, context)
        except Interrupted:
            raise
        except (IrsaAWSError, KubernetesError, NamingError) as e:
            message = describe_error(e, self.params) if isinstance(e, IrsaAWSError) else _message(e)
            checks.append(verify.result("error", "static", False, "Verification stopped: {0}".format(message),
                                        "Fix the access problem named and run again."))
        entry["verified"] = verify.is_verified(checks)
        return entry

    def resolve_provider(self, role_arn, context, static=True):
        """Fill the issuer and the provider ARN (in the role's account) into ``context`` when they can be known.

        Without the static check they only make messages more precise, so failing to read them is no error.
        """
        try:
            issuer = self.issuer()
        except (IrsaAWSError, NamingError):
            if static:
                raise
            issuer = None
        context["issuer"] = issuer
        if issuer is None:
            return
        if role_arn:
            details = parse_arn(role_arn)
            account, partition = details["account_id"], details["partition"]
        elif static:
            account, partition = self.caller_account(), issuer.partition
        else:
            return
        context["provider_arn"] = build_provider_arn(issuer.provider, account, partition)

    def static(self, namespace, name, role_arn, audience, context, annotated):
        checks = []
        self.resolve_provider(role_arn, context)
        issuer = context["issuer"]
        if issuer is None:
            checks.append(verify.result(
                "oidc_provider", "static", False,
                "The cluster's OIDC issuer is unknown, so the OIDC provider and the trust policy cannot be checked.",
                "Give cluster_name or oidc_provider (the issuer_url or provider_arn of eks.irsa.eks_oidc_info).",
            ))
        role = None
        if role_arn:
            role = self.role(role_arn)
            account = None
            if role is None and parse_arn(role_arn)["account_id"] != self.caller_account():
                account = self.caller_account()
            checks.extend(verify.role_checks(role_arn, role, account))
            if verify.role_in_other_account(role_arn, role, account):
                # What IAM holds in the role's account cannot be read with these credentials: a provider or trust
                # judged here would be another account's (or a missing one blamed on the user).
                checks.append(verify.skipped(
                    "oidc_provider", "static",
                    "Not checked: the IAM OIDC provider the trust needs is in account {0}, which these credentials "
                    "cannot read.".format(parse_arn(role_arn)["account_id"])))
                issuer, role = None, None
        if issuer is not None:
            checks.extend(verify.provider_checks(context["provider_arn"], issuer.url, self.oidc_provider(context["provider_arn"]), audience))
            if role is not None:
                claims = {"iss": issuer.url, "sub": context["subject"], "aud": audience}
                checks.extend(verify.trust_checks(
                    role.get("AssumeRolePolicyDocument"), context["provider_arn"], claims,
                    self.params["trust_policy_size_limit"], role.get("RoleName"),
                ))
        checks.append(self.webhook())
        if annotated and role_arn:
            pods = self.pods_of(namespace, name)
            context["stale_pods"] = verify.stale_pods(pods, role_arn)
            stale = verify.stale_pods_check(namespace, name, pods, role_arn)
            if stale:
                checks.append(stale)
        return checks

    # ----- token ----------------------------------------------------------------------------------

    def token(self, entry, sa, role_arn, context):
        checks = entry["checks"]
        if sa is None or not role_arn:
            checks.append(verify.result(
                "token", "token", False,
                "No token exchange: {0}.".format("the ServiceAccount does not exist" if sa is None else "there is no role to assume"),
                "Fix the ServiceAccount first (see above).",
            ))
            return
        explained = [c for c in checks if c["name"] in EXPLAINING_CHECKS and c["passed"] is False and c["severity"] == verify.ERROR]
        partition = parse_arn(role_arn)["partition"]
        token = self.kube.create_token(entry["namespace"], entry["service_account"], context["audience"], verify.TOKEN_CHECK_EXPIRATION)
        self.module.no_log_values.add(token)
        claims = verify.token_claims(token)
        mismatch = self.issuer_mismatch(role_arn, claims, context)
        if mismatch is not None:
            checks.append(mismatch)
            return
        if not explained:
            # What IAM holds, judged with the token's own claims, before any refusal is put down to propagation.
            explained = self.claims_failures(role_arn, claims, context)
        timeout = 0 if explained else self.params["propagation_timeout"]
        policy = verify.RetryPolicy(timeout)
        session_name = "eks-irsa-verify-{0}".format(int(time.time()))
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            identity, error = verify_aws.assume_role_with_web_identity(self.sts_exchange_client(partition), role_arn, token, session_name)
            if identity is not None or not policy.retryable(error[0]):
                break
            delay = policy.next_delay(attempt, time.monotonic() - started)
            if delay is None:
                break
            if self.stop.wait(delay):
                raise Interrupted()
        elapsed = time.monotonic() - started
        entry["attempts"] = attempt
        if identity is None:
            diagnosis = verify.sts_error_diagnosis(
                error[0], error[1], role_arn, context["provider_arn"] or "the cluster's IAM OIDC provider",
                context["audience"], context["subject"], explained, propagation=(timeout, checks),
            )
            checks.append(verify.token_check(role_arn, error=diagnosis, attempts=attempt, elapsed=elapsed))
            return
        entry["caller_identity"] = verify.caller_identity_result(identity)
        checks.append(verify.token_check(role_arn, identity=entry["caller_identity"], attempts=attempt, elapsed=elapsed))

    def token_provider_arn(self, role_arn, claims):
        """The IAM OIDC provider ARN (in the role's account) for the token's issuer, or None when it has none or is
        not an EKS issuer."""
        try:
            issuer = parse_issuer(claims.get("iss"))
        except NamingError:
            return None
        details = parse_arn(role_arn)
        return build_provider_arn(issuer.provider, details["account_id"], details["partition"])

    def issuer_mismatch(self, role_arn, claims, context):
        """The token check's failure when the token's issuer is not the issuer of the cluster named, else None."""
        issuer = context.get("issuer")
        if issuer is None or not claims.get("iss") or claims["iss"] == issuer.url:
            return None
        source = "oidc_provider" if self.params["oidc_provider"] else "cluster_name {0!r}".format(self.params["cluster_name"])
        token_arn = self.token_provider_arn(role_arn, claims)
        role_name, trusted, exists = None, (), None
        try:
            role = self.role(role_arn)
            if role is not None:
                role_name = role.get("RoleName")
                trusted = trust.federated_providers(role.get("AssumeRolePolicyDocument"))
            if token_arn:
                exists = self.oidc_provider(token_arn) is not None
        except IrsaAWSError:
            pass  # facts that only add to the message
        return verify.issuer_mismatch_check(claims, issuer.url, source, self.kube.connection.host, role_name, trusted,
                                            token_arn, exists)

    def claims_failures(self, role_arn, claims, context):
        """The failures of the provider and trust checks made with the token's own claims (iss, sub, aud) instead of
        the issuer of cluster_name/oidc_provider; [] when they pass or cannot be read."""
        provider_arn = self.token_provider_arn(role_arn, claims) if claims.get("sub") else None
        if provider_arn is None:
            return []
        audience = verify.token_audience(claims, context["audience"])
        try:
            role = self.role(role_arn)
            found = verify.provider_checks(provider_arn, claims["iss"], self.oidc_provider(provider_arn), audience)
            if role is None:
                found = verify.role_checks(role_arn, None) + found
            else:
                found += verify.trust_checks(role.get("AssumeRolePolicyDocument"), provider_arn,
                                             {"iss": claims["iss"], "sub": claims["sub"], "aud": audience},
                                             self.params["trust_policy_size_limit"], role.get("RoleName"))
        except IrsaAWSError:
            return []
        return verify.failures(found)

    # ----- pod ------------------------------------------------------------------------------------

    def pod(self, entry, sa, role_arn, context):
        checks = entry["checks"]
        namespace, name = entry["namespace"], entry["service_account"]
        if self.check_mode:
            checks.append(verify.skipped("pod", "pod", "Skipped in check mode: the pod check creates a pod."))
            return
        if sa is None or not role_arn:
            checks.append(verify.result(
                "pod", "pod", False,
                "No verification pod: {0}.".format("the ServiceAccount does not exist" if sa is None else "there is no role to expect"),
                "Fix the ServiceAccount first (see above).",
            ))
            return
        self.delete_leftover_pods(namespace, name)
        pod_name = verify.pod_name()
        manifest = verify.pod_manifest(
            pod_name, namespace, name, self.params["image"], self.params["pod_command"],
            self.params["image_pull_secrets"], self.params["pod_timeout"],
        )
        with self._pods_lock:
            self.live_pods[pod_name] = namespace
        try:
            check, identity = self.run_pod(pod_name, namespace, name, role_arn, manifest, context, checks)
            checks.append(check)
            if identity:
                entry["caller_identity"] = verify.caller_identity_result(identity)
        finally:
            if self.params["keep_pod"]:
                entry["pod"] = pod_name
                with self._pods_lock:
                    self.live_pods.pop(pod_name, None)
            else:
                self.delete_pod(namespace, pod_name)

    def run_pod(self, pod_name, namespace, name, role_arn, manifest, context, checks):
        """``(check, identity)``: the pod check's result, and the caller identity the pod printed, if any."""
        try:
            created = self.kube.create_pod(namespace, manifest)
        except KubernetesError as e:
            return verify.result(
                "pod", "pod", False,
                "The verification pod {0} could not be created: {1}".format(pod_name, _message(e)),
                "Fix what the API server names (Pod Security, quota, admission policies); the pod is restricted-profile "
                "compliant and asks for 50m CPU / 64Mi memory.",
            ), None
        problems = verify.mutation_problems(created, role_arn)
        if problems:
            webhook = self.webhook()
            missing = webhook["passed"] is False and webhook["severity"] == verify.ERROR
            return verify.not_mutated_check(pod_name, namespace, name, role_arn, problems, webhook_known_missing=missing), None
        deadline = time.monotonic() + self.params["pod_timeout"]
        pod = created
        timed_out = False
        polls = 0
        while not verify.pod_finished(pod):
            if time.monotonic() >= deadline:
                timed_out = True
                break
            pause = POLL_BACKOFF[polls] if polls < len(POLL_BACKOFF) else POLL_INTERVAL
            polls += 1
            if self.stop.wait(min(pause, max(0.0, deadline - time.monotonic()))):
                raise Interrupted()
            pod = self.kube.get_pod(namespace, pod_name) or pod
        log = self.kube.pod_log(namespace, pod_name, verify.VERIFY_CONTAINER)
        phase = (pod.get("status") or {}).get("phase")
        events = [] if phase == "Succeeded" else self.kube.list_events(namespace, pod_name)
        explained = [c for c in checks if c["passed"] is False and c["severity"] == verify.ERROR]
        check = verify.pod_outcome_check(pod_name, role_arn, pod, events, log, timed_out, self.params["pod_timeout"], explained, context)
        return check, verify.parse_caller_identity_log(log) if check["passed"] else None

    def delete_pod(self, namespace, pod_name):
        try:
            self.kube.delete_pod(namespace, pod_name)
        except KubernetesError as e:
            self.module.warn("Could not delete the verification pod {0}/{1}: {2}. Delete it with kubectl delete pod -n {0} {1}.".format(
                namespace, pod_name, _message(e)))
        finally:
            with self._pods_lock:
                self.live_pods.pop(pod_name, None)

    def delete_live_pods(self):
        with self._pods_lock:
            pods = list(self.live_pods.items())
        for pod_name, namespace in pods:
            self.delete_pod(namespace, pod_name)
        return [pod_name for pod_name, _namespace in pods]

    def delete_leftover_pods(self, namespace, name):
        """Delete the verification pods of this ServiceAccount that a killed earlier run left (verify.leftover_verification_pods)."""
        try:
            pods = self.memo.get(("pods", namespace), lambda: self.kube.list_pods(namespace))
        except KubernetesError as e:
            self.module.warn("Could not look for verification pods left by an interrupted run in {0}: {1}".format(namespace, _message(e)))
            return
        for pod_name in verify.leftover_verification_pods(pods, name, time.time()):
            self.delete_pod(namespace, pod_name)

    # ----- many bindings --------------------------------------------------------------------------

    def run(self, bindings):
        per_namespace = {}
        for binding in bindings:
            per_namespace[binding["namespace"]] = per_namespace.get(binding["namespace"], 0) + 1
        self.namespace_reads = batch.NamespaceReads(self.kube, self.memo, per_namespace)
        workers = max(1, min(self.params["max_concurrency"], len(bindings)))
        if workers == 1:
            return [self.verify(binding) for binding in bindings]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(self.verify, binding) for binding in bindings]
            try:
                while not all(future.done() for future in futures):
                    time.sleep(0.05)
            except Interrupted:
                self.stop.set()
                for future in futures:
                    future.cancel()
                raise
            return [future.result() for future in futures]


def _message(error):
    return getattr(error, "message", None) or str(error)


def bindings_from(params):
    """The bindings to verify, de-duplicated, in the order given."""
    if params["service_account"]:
        items = [{"namespace": params["namespace"], "name": params["service_account"], "role_arn": params["role_arn"]}]
    else:
        items = params["service_accounts"] or []
    seen = set()
    bindings = []
    for item in items:
        key = (item.get("namespace") or "default", item["name"])
        if key in seen:
            continue
        seen.add(key)
        sa.check_names(*key)
        if item.get("role_arn"):
            sa.check_role_arn(item["role_arn"])
        binding = {"namespace": key[0], "name": key[1], "role_arn": item.get("role_arn") or None}
        if item.get("checks") is not None:
            if not item["checks"]:
                raise NamingError("service_accounts: {0}/{1} has an empty checks list: choose among static, token and pod, "
                                  "or leave checks out to use the task's".format(*key))
            binding["checks"] = list(dict.fromkeys(item["checks"]))
        bindings.append(binding)
    return bindings


def known_role_problem(role):
    """What is wrong with an entry of known_roles, or None."""
    missing = [key for key in ("arn", "trust_policy") if not role.get(key)]
    if missing:
        return "known_roles: an entry has no {0} (give the role of eks.irsa.irsa_role's results): {1}".format(
            " and no ".join(missing), sorted(role))
    if not isinstance(role["trust_policy"], dict):
        return "known_roles: the trust_policy of {0} is not a policy document (a dict)".format(role["arn"])
    return None


def connect_like_before(module):
    """Until 1.0.0, cluster_name alone also names the cluster whose API is reached (EKS mode), as it did before
    eks_cluster; with a deprecation warning."""
    params = module.params
    if params["cluster_name"] and not any(params[option] for option in ("eks_cluster", "kubeconfig", "context", "host")):
        params["eks_cluster"] = params["cluster_name"]
        module.deprecate("irsa_verify reaches the Kubernetes API of cluster_name {0!r} (EKS mode) because no connection "
                         "is given; set eks_cluster: {0} for that".format(params["cluster_name"]),
                         version=CLUSTER_NAME_DEPRECATION["version"], collection_name="eks.irsa")


def _raise_interrupted(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def main():
    argument_spec = dict(
        namespace=dict(type="str", default="default"),
        service_account=dict(type="str"),
        role_arn=dict(type="str"),
        service_accounts=dict(type="list", elements="dict", options=dict(
            namespace=dict(type="str", default="default"),
            name=dict(type="str", required=True),
            role_arn=dict(type="str"),
            checks=dict(type="list", elements="str", choices=list(verify.CHECKS)),
        )),
        known_roles=dict(type="list", elements="dict", default=[]),
        oidc_provider=dict(type="str"),
        checks=dict(type="list", elements="str", choices=list(verify.CHECKS), default=list(verify.DEFAULT_CHECKS)),
        fail_on_error=dict(type="bool", default=True),
        propagation_timeout=dict(type="int", default=60),
        pod_timeout=dict(type="int", default=180),
        image=dict(type="str", default=verify.DEFAULT_IMAGE),
        image_pull_secrets=dict(type="list", elements="str", default=[], no_log=False),
        pod_command=dict(type="list", elements="str", default=list(verify.DEFAULT_POD_COMMAND)),
        keep_pod=dict(type="bool", default=False),
        max_concurrency=dict(type="int", default=10),
        trust_policy_size_limit=dict(type="int", default=TRUST_POLICY_SIZE_LIMIT),
    )
    argument_spec.update(k8s_argument_spec(cluster_alias=False), cluster_name=dict(type="str"))
    module = IrsaAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("service_account", "service_accounts"), ("role_arn", "service_accounts")],
        required_one_of=[("service_account", "service_accounts")],
        supports_check_mode=True,
    )
    params = module.params
    for option in ("propagation_timeout", "pod_timeout", "max_concurrency"):
        if params[option] < (1 if option == "max_concurrency" else 0):
            module.fail_json(msg="{0} must be {1}, not {2}".format(option, "at least 1" if option == "max_concurrency" else "0 or more", params[option]))
    if not params["pod_command"]:
        module.fail_json(msg="pod_command is empty: give the command that prints the caller identity, e.g. [aws, sts, get-caller-identity]")
    checks = list(dict.fromkeys(params["checks"]))
    if not checks:
        module.fail_json(msg="checks is empty: choose among static, token and pod")
    if not module.region:
        module.fail_json(msg="No AWS region given: set the region option or AWS_REGION to the cluster's region")
    try:
        bindings = bindings_from(params)
        for role in params["known_roles"]:
            problem = known_role_problem(role)
            if problem:
                module.fail_json(msg=problem)
            parse_arn(role["arn"], service="iam", resource_type="role")
    except NamingError as e:
        module.fail_json(msg=str(e))
    # Every check any binding runs.
    every_check = set(checks).union(*(binding.get("checks", ()) for binding in bindings))
    if "static" in every_check and not (params["cluster_name"] or params["oidc_provider"]):
        module.fail_json(msg="The static check needs the cluster's OIDC issuer: give cluster_name or oidc_provider "
                             "(the issuer_url or provider_arn of eks.irsa.eks_oidc_info)")

    hide_kubeconfig_secrets(module)
    connect_like_before(module)
    try:
        kube = kubernetes_services(module)
    except KubernetesError as e:
        module.fail_json(msg=_message(e))
    verifier = Verifier(module, kube, checks)
    verifier.know_roles(params["known_roles"])
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            verifier.issuer()
        except (IrsaAWSError, NamingError):
            if "static" in every_check:
                raise
        results = verifier.run(bindings)
    except Interrupted as e:
        verifier.stop.set()
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        removed = verifier.delete_live_pods()
        module.fail_json(msg="Interrupted ({0}); verification pods deleted: {1}".format(e, ", ".join(removed) or "none"))
    except NamingError as e:
        module.fail_json(msg=str(e))
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    output = dict(changed=False, verified=all(entry["verified"] for entry in results), results=results, summary=verify.summary(results))
    if params["service_account"]:
        single = results[0]
        output.update(
            role_arn=single["role_arn"], caller_identity=single["caller_identity"], checks=single["checks"],
            attempts=single["attempts"], pod=single["pod"],
        )
    if not output["verified"]:
        # Also without fail_on_error, so a caller that fails later (the eks.irsa.irsa role) can show the same report.
        output["msg"] = "{0} of {1} ServiceAccount(s) do not assume their role. {2}".format(
            output["summary"]["failed"], output["summary"]["total"], " ".join(verify.failure_report(results)))
        if params["fail_on_error"]:
            module.fail_json(**output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
