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
  - "A binding with O(mechanism=pod_identity) is verified as EKS Pod Identity instead. C(static): the cluster has a Pod
    Identity association for exactly this namespace and ServiceAccount (one for another ServiceAccount or namespace is
    named) naming the expected role (and target role); the role exists and its trust lets the service principal
    C(pods.eks.amazonaws.com) call C(sts:AssumeRole) and, unless the association disables session tags,
    C(sts:TagSession), with the C(aws:SourceAccount) and C(aws:SourceArn) of this cluster; the C(eks-pod-identity-agent)
    add-on is ACTIVE; no Fargate profile selects the namespace (and O(pod_labels)). Pods without the container
    credentials (created before the association) and pods that also have IRSA's web identity variables (which the AWS
    SDKs take first) are warnings."
  - "For Pod Identity, C(token) exchanges a ServiceAccount token of audience C(pods.eks.amazonaws.com), bound to a running
    pod of the ServiceAccount as the agent's is (skipped, and said so, when none runs), with EKS Auth
    (C(eks-auth:AssumeRoleForPodIdentity)) and calls C(sts:GetCallerIdentity) with the credentials it returns; C(pod) runs
    the AWS CLI in a pod, which gets its credentials from the container credentials provider
    (C(AWS_CONTAINER_CREDENTIALS_FULL_URI))."
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
      - With O(mechanism=pod_identity), defaults to the role of the ServiceAccount's association; when given, an
        association naming another role is a failure.
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
        description:
          - The role it must assume; defaults to its annotation (IRSA) or to its association's role (Pod Identity).
        type: str
      mechanism:
        description: How its pods get the role, as O(mechanism); defaults to O(mechanism).
        type: str
        choices: [irsa, pod_identity]
      target_role_arn:
        description: With V(pod_identity), the target role its association must name, as O(target_role_arn).
        type: str
      pod_labels:
        description: With V(pod_identity), the labels of its pods, as O(pod_labels).
        type: dict
      checks:
        description:
          - The checks of this ServiceAccount, instead of O(checks).
        type: list
        elements: str
        choices: [static, token, pod]
  mechanism:
    description:
      - How the pods of O(service_account) get the role, and so what is verified. V(irsa) (IAM roles for service
        accounts, the default) or V(pod_identity) (an EKS Pod Identity association).
      - With O(service_accounts), the default of their entries' C(mechanism).
    type: str
    choices: [irsa, pod_identity]
  target_role_arn:
    description:
      - With O(mechanism=pod_identity), the target role (cross-account role chaining) the association must name; the
        pods then run as it. Only with O(service_account).
    type: str
  pod_labels:
    description:
      - With O(mechanism=pod_identity), the labels of the pods of O(service_account), to tell whether a Fargate profile
        whose selector asks for labels takes them (Pod Identity does not run on Fargate). Without it, such a profile is a
        warning. Only with O(service_account).
    type: dict
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
        Kubernetes API is reached in EKS mode, with a deprecation warning; give O(eks_cluster) for that. Not when a
        binding has O(mechanism=pod_identity), whose connection is always the one given (or the default kubeconfig).
      - For O(mechanism=pod_identity), the cluster whose associations, add-on and Fargate profiles are read and whose
        EKS Auth exchanges the token (O(eks_cluster) when it is not given; one of them is required).
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
  - "For Pod Identity: C(eks:DescribeCluster), C(eks:ListPodIdentityAssociations),
    C(eks:DescribePodIdentityAssociation), C(eks:DescribeAddon), C(eks:ListFargateProfiles),
    C(eks:DescribeFargateProfile), C(iam:GetRole) (static) and C(eks-auth:AssumeRoleForPodIdentity) (token)."
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
        - For Pod Identity, C(service_account), C(association), C(role), C(trust_policy), C(trust_policy_tag_session),
          C(pod_identity_agent), C(fargate), C(stale_pods), C(irsa_precedence) (static), C(token), C(pod).
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
    mechanism:
      description: How it was verified, V(irsa) or V(pod_identity).
      returned: always
      type: str
      sample: irsa
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

from ansible_collections.eks.irsa.plugins.module_utils import errors
from ansible_collections.eks.irsa.plugins.module_utils.aws import IrsaAWSModule
from ansible_collections.eks.irsa.plugins.module_utils.constants import TRUST_POLICY_SIZE_LIMIT
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import CLUSTER_NAME_DEPRECATION
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import hide_kubeconfig_secrets
from ansible_collections.eks.irsa.plugins.module_utils.k8s.connection import k8s_argument_spec
from ansible_collections.eks.irsa.plugins.module_utils.verify import runner
from ansible_collections.eks.irsa.plugins.module_utils.verify.pod import DEFAULT_IMAGE
from ansible_collections.eks.irsa.plugins.module_utils.verify.pod import DEFAULT_POD_COMMAND
from ansible_collections.eks.irsa.plugins.module_utils.verify.pod_identity_checks import MECHANISMS
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import CHECKS
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import DEFAULT_CHECKS


def argument_spec():
    spec = dict(
        namespace=dict(type="str", default="default"),
        service_account=dict(type="str"),
        role_arn=dict(type="str"),
        mechanism=dict(type="str", choices=list(MECHANISMS)),
        target_role_arn=dict(type="str"),
        pod_labels=dict(type="dict"),
        service_accounts=dict(type="list", elements="dict", options=dict(
            namespace=dict(type="str", default="default"),
            name=dict(type="str", required=True),
            role_arn=dict(type="str"),
            mechanism=dict(type="str", choices=list(MECHANISMS)),
            target_role_arn=dict(type="str"),
            pod_labels=dict(type="dict"),
            checks=dict(type="list", elements="str", choices=list(CHECKS)),
        )),
        known_roles=dict(type="list", elements="dict", default=[]),
        oidc_provider=dict(type="str"),
        checks=dict(type="list", elements="str", choices=list(CHECKS), default=list(DEFAULT_CHECKS)),
        fail_on_error=dict(type="bool", default=True),
        propagation_timeout=dict(type="int", default=60),
        pod_timeout=dict(type="int", default=180),
        image=dict(type="str", default=DEFAULT_IMAGE),
        image_pull_secrets=dict(type="list", elements="str", default=[], no_log=False),
        pod_command=dict(type="list", elements="str", default=list(DEFAULT_POD_COMMAND)),
        keep_pod=dict(type="bool", default=False),
        max_concurrency=dict(type="int", default=10),
        trust_policy_size_limit=dict(type="int", default=TRUST_POLICY_SIZE_LIMIT),
    )
    spec.update(k8s_argument_spec(cluster_alias=False), cluster_name=dict(type="str"))
    return spec


def connect_like_before(module):
    """Until 1.0.0, cluster_name alone also names the cluster whose API is reached (EKS mode), as it did before
    eks_cluster; with a deprecation warning."""
    params = module.params
    # EKS Pod Identity came with eks_cluster: cluster_name is only the cluster of its associations there.
    pod_identity = params.get("mechanism") == "pod_identity" or any(
        (entry or {}).get("mechanism") == "pod_identity" for entry in params.get("service_accounts") or [])
    if pod_identity:
        return
    if params["cluster_name"] and not any(params[option] for option in ("eks_cluster", "kubeconfig", "context", "host")):
        params["eks_cluster"] = params["cluster_name"]
        module.deprecate("irsa_verify reaches the Kubernetes API of cluster_name {0!r} (EKS mode) because no connection "
                         "is given; set eks_cluster: {0} for that".format(params["cluster_name"]),
                         version=CLUSTER_NAME_DEPRECATION["version"], collection_name="eks.irsa")


def main():
    module = IrsaAWSModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("service_account", "service_accounts"), ("role_arn", "service_accounts"),
                            ("target_role_arn", "service_accounts"), ("pod_labels", "service_accounts")],
        required_one_of=[("service_account", "service_accounts")],
        supports_check_mode=True,
    )
    try:
        bindings, checks = runner.options(module)
        hide_kubeconfig_secrets(module)
        connect_like_before(module)
        output = runner.verify_bindings(module, bindings, checks)
    except IrsaError as e:
        errors.fail(module, e)
    # msg is returned also without fail_on_error, so a caller that fails later (the eks.irsa.irsa role) can show the same report.
    if not output["verified"] and module.params["fail_on_error"]:
        errors.fail(module, IrsaError(output.pop("msg")), **output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
