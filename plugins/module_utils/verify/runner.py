# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A run of eks.irsa.irsa_verify: the bindings to verify, the facts they share, and the checks made on each.

``Verifier`` reads every fact once per run whatever the bindings sharing it (a memo: the issuer, roles, OIDC
providers, the webhook, a namespace's ServiceAccounts and pods), holds one client per API, verifies the bindings
concurrently, and owns the verification pods: each is deleted on success, failure, timeout and interruption
(SIGTERM, SIGINT), unless keep_pod. The checks themselves are made by module_utils/verify/static, token and pod
from the facts read here.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info

from ansible_collections.eks.irsa.plugins.module_utils import aws
from ansible_collections.eks.irsa.plugins.module_utils import batch
from ansible_collections.eks.irsa.plugins.module_utils import iam
from ansible_collections.eks.irsa.plugins.module_utils import pod_identity_association as associations
from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.errors import InputError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaAWSError
from ansible_collections.eks.irsa.plugins.module_utils.errors import IrsaError
from ansible_collections.eks.irsa.plugins.module_utils.errors import KubernetesError
from ansible_collections.eks.irsa.plugins.module_utils.k8s.api import kubernetes_services
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_issuer
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_oidc_provider
from ansible_collections.eks.irsa.plugins.module_utils.naming import provider_arn as build_provider_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import role_name_from_arn
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import mutation_problems
from ansible_collections.eks.irsa.plugins.module_utils.pod_identity import stale_pods
from ansible_collections.eks.irsa.plugins.module_utils.service_account import check_names
from ansible_collections.eks.irsa.plugins.module_utils.service_account import check_role_arn
from ansible_collections.eks.irsa.plugins.module_utils.verify import pod as pod_check
from ansible_collections.eks.irsa.plugins.module_utils.verify import pod_identity_aws
from ansible_collections.eks.irsa.plugins.module_utils.verify import pod_identity_checks as pi_checks
from ansible_collections.eks.irsa.plugins.module_utils.verify import static
from ansible_collections.eks.irsa.plugins.module_utils.verify import token as token_check
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import ERROR
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import binding_entry
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import failures
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import is_verified
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import result
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import run_output
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import stopped
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import warning_report

# A verification pod is looked at again after these pauses, then every POLL_INTERVAL: a pod whose image is
# cached finishes within a second or two, and is then seen finished at once rather than up to a second late.
POLL_BACKOFF = (0.2, 0.3, 0.5)
POLL_INTERVAL = 1.0


class Interrupted(Exception):
    """The module was told to stop (SIGTERM, SIGINT) while verification pods may exist."""


def error_message(error):
    return getattr(error, "message", None) or str(error)


# ---------------------------------------------------------------------------------------------
# The task's options


def options(module):
    """``(bindings, checks)``: the bindings to verify and the task's checks; an InputError names an option that cannot
    be what the user meant."""
    params = module.params
    for option in ("propagation_timeout", "pod_timeout", "max_concurrency"):
        if params[option] < (1 if option == "max_concurrency" else 0):
            raise InputError("{0} must be {1}, not {2}".format(
                option, "at least 1" if option == "max_concurrency" else "0 or more", params[option]))
    if not params["pod_command"]:
        raise InputError("pod_command is empty: give the command that prints the caller identity, e.g. [aws, sts, get-caller-identity]")
    checks = list(dict.fromkeys(params["checks"]))
    if not checks:
        raise InputError("checks is empty: choose among static, token and pod")
    if not module.region:
        raise InputError("No AWS region given: set the region option or AWS_REGION to the cluster's region")
    bindings = bindings_from(params)
    for role in params["known_roles"]:
        problem = known_role_problem(role)
        if problem:
            raise InputError(problem)
        parse_arn(role["arn"], service="iam", resource_type="role")
    irsa = irsa_bindings(bindings)
    if irsa and "static" in every_check(checks, irsa) and not (params["cluster_name"] or params["oidc_provider"]):
        raise InputError("The static check needs the cluster's OIDC issuer: give cluster_name or oidc_provider "
                         "(the issuer_url or provider_arn of eks.irsa.eks_oidc_info)")
    if len(irsa) < len(bindings) and not pod_identity_cluster(params):
        raise InputError("A binding with mechanism: pod_identity needs the EKS cluster whose Pod Identity associations, add-ons "
                         "and Fargate profiles to read, and whose EKS Auth exchanges its tokens: give cluster_name (or eks_cluster)")
    return bindings, checks


def irsa_bindings(bindings):
    """The bindings verified as IRSA ones (the default mechanism)."""
    return [binding for binding in bindings if binding.get("mechanism", pi_checks.IRSA) == pi_checks.IRSA]


def pod_identity_cluster(params):
    """The EKS cluster of the Pod Identity bindings: cluster_name, the cluster whose AWS side is verified; else
    eks_cluster, the cluster whose Kubernetes API issues the tokens, which must be the same one."""
    return params["cluster_name"] or params.get("eks_cluster")


def every_check(checks, bindings):
    """Every check any binding runs: the task's ``checks`` and those the bindings choose."""
    return set(checks).union(*(binding.get("checks", ()) for binding in bindings))


def bindings_from(params):
    """The bindings to verify, de-duplicated, in the order given."""
    if params["service_account"]:
        items = [{"namespace": params["namespace"], "name": params["service_account"], "role_arn": params["role_arn"],
                  "mechanism": params.get("mechanism"), "target_role_arn": params.get("target_role_arn"),
                  "pod_labels": params.get("pod_labels")}]
    else:
        items = params["service_accounts"] or []
    seen = set()
    bindings = []
    for item in items:
        key = (item.get("namespace") or "default", item["name"])
        item = dict(item, mechanism=item.get("mechanism") or params.get("mechanism") or pi_checks.IRSA)
        if key + (item["mechanism"],) in seen:
            continue
        seen.add(key + (item["mechanism"],))
        check_names(*key)
        if item.get("role_arn"):
            check_role_arn(item["role_arn"])
        binding = {"namespace": key[0], "name": key[1], "role_arn": item.get("role_arn") or None}
        binding.update(pod_identity_options(key, item))
        if item.get("checks") is not None:
            if not item["checks"]:
                raise NamingError("service_accounts: {0}/{1} has an empty checks list: choose among static, token and pod, "
                                  "or leave checks out to use the task's".format(*key))
            binding["checks"] = list(dict.fromkeys(item["checks"]))
        bindings.append(binding)
    return bindings


def pod_identity_options(key, item):
    """The mechanism of a binding and, for pod_identity, its target_role_arn and pod_labels; an error for an option
    that only Pod Identity knows on an IRSA binding."""
    mechanism = item.get("mechanism") or pi_checks.IRSA
    if mechanism == pi_checks.IRSA:
        for option in ("target_role_arn", "pod_labels"):
            if item.get(option):
                raise NamingError("{0}/{1}: {2} is for mechanism: pod_identity; an IRSA binding has no {2}".format(key[0], key[1], option))
        return {}
    if item.get("target_role_arn"):
        check_role_arn(item["target_role_arn"])
    labels = item.get("pod_labels")
    return {"mechanism": mechanism, "target_role_arn": item.get("target_role_arn") or None,
            "pod_labels": {str(k): str(v) for k, v in labels.items()} if labels is not None else None}


def known_role_problem(role):
    """What is wrong with an entry of known_roles, or None."""
    missing = [key for key in ("arn", "trust_policy") if not role.get(key)]
    if missing:
        return "known_roles: an entry has no {0} (give the role of eks.irsa.irsa_role's results): {1}".format(
            " and no ".join(missing), sorted(role))
    if not isinstance(role["trust_policy"], dict):
        return "known_roles: the trust_policy of {0} is not a policy document (a dict)".format(role["arn"])
    return None


# ---------------------------------------------------------------------------------------------
# A run


def verify_bindings(module, bindings, checks):
    """Verify ``bindings`` (as ``options`` returns them) and return the module's result; an interruption deletes the
    verification pods and is an IrsaError."""
    verifier = Verifier(module, kubernetes_services(module), checks)
    verifier.know_roles(module.params["known_roles"])
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            if irsa_bindings(bindings):
                verifier.issuer()
        except (IrsaAWSError, NamingError):
            if "static" in every_check(checks, irsa_bindings(bindings)):
                raise
        results = verifier.run(bindings)
    except Interrupted as e:
        verifier.stop.set()
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        removed = verifier.delete_live_pods()
        raise IrsaError("Interrupted ({0}); verification pods deleted: {1}".format(e, ", ".join(removed) or "none")) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for warning in warning_report(results):
        module.warn(warning)
    return run_output(results, single=bool(module.params["service_account"]))


def _raise_interrupted(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


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
                cluster = aws.lookup_cluster(self.client("eks"), self.params["cluster_name"], self.module.region)
                return parse_issuer(aws.cluster_issuer_url(cluster))
            return None
        return self.memo.get("issuer", compute)

    def caller_account(self):
        return self.memo.get("caller", lambda: aws.caller_identity(self.client("sts")))["account_id"]

    def role(self, role_arn):
        name = role_name_from_arn(role_arn)
        return self.memo.get(("role", name), lambda: iam.get_role(self.client("iam"), name))

    def know_roles(self, roles):
        """Take roles as irsa_role returned them for GetRole's answer (known_roles)."""
        for role in roles:
            name = role_name_from_arn(role["arn"])
            known = {"Arn": role["arn"], "RoleName": role.get("name") or name, "Path": role.get("path") or "/",
                     "AssumeRolePolicyDocument": role["trust_policy"]}
            self.memo.get(("role", name), lambda known=known: known)

    def oidc_provider(self, arn):
        return self.memo.get(("provider", arn), lambda: aws.get_oidc_provider(self.client("iam"), arn))

    def sts_exchange_client(self, partition):
        """The STS client of the token check: the connection's or the environment's endpoint, else the regional endpoint,
        as pods use."""
        _region, endpoint_url, _kwargs = get_aws_connection_info(self.module)
        if endpoint_url or aws.configured_sts_endpoint():
            return self.client("sts")
        return self.client("sts", endpoint=aws.regional_sts_endpoint(self.module.region, partition))

    # ----- Kubernetes -----------------------------------------------------------------------------

    def service_account(self, namespace, name):
        """The ServiceAccount, or None. Several bindings in one namespace share one list call."""
        return self.namespace_reads.service_account(namespace, name)

    def namespace_exists(self, namespace):
        return self.namespace_reads.namespace_exists(namespace)

    def pods(self, namespace):
        return self.memo.get(("pods", namespace), lambda: self.kube.list_pods(namespace))

    def pods_of(self, namespace, name):
        return [
            pod for pod in self.pods(namespace)
            if (pod.get("spec") or {}).get("serviceAccountName") == name
            if ((pod.get("metadata") or {}).get("labels") or {}).get(pod_check.VERIFY_COMPONENT_LABEL) != pod_check.VERIFY_COMPONENT_VALUE
        ]

    def webhook(self):
        """``(check)``: whether the pod identity webhook is installed, read once."""
        def compute():
            try:
                return static.webhook_check(self.kube.list_mutating_webhook_configurations())
            except KubernetesError as e:
                return static.webhook_check(None, error=str(e))
        return self.memo.get("webhook", compute)

    # ----- one binding ----------------------------------------------------------------------------

    def verify(self, binding):
        """The result of one binding, by its mechanism; an access problem stops it with what was found so far."""
        mechanism = binding.get("mechanism") or pi_checks.IRSA
        entry = binding_entry(binding["namespace"], binding["name"], mechanism=mechanism)
        try:
            (self.verify_pod_identity if mechanism == pi_checks.POD_IDENTITY else self.verify_irsa)(binding, entry)
        except Interrupted:
            raise
        except (IrsaAWSError, KubernetesError, NamingError) as e:
            entry["checks"].append(stopped(aws.describe_error(e, self.params) if isinstance(e, IrsaAWSError) else error_message(e)))
        entry["verified"] = is_verified(entry["checks"])
        return entry

    def verify_irsa(self, binding, entry):
        """The checks of an IRSA binding, into ``entry``."""
        namespace, name = binding["namespace"], binding["name"]
        checks = entry["checks"]
        kinds = binding.get("checks") or self.checks
        sa = self.service_account(namespace, name)
        namespace_exists = True if sa is not None else self.namespace_exists(namespace)
        found, role_arn, audience = static.service_account_checks(namespace, name, sa, binding.get("role_arn"), namespace_exists)
        checks.extend(found)
        entry["role_arn"] = role_arn or ""
        context = {"subject": trust.subject(namespace, name), "audience": audience, "provider_arn": "", "issuer": None,
                   "stale_pods": []}
        if "static" in kinds:
            checks.extend(self.static(namespace, name, role_arn, audience, context, annotated=sa is not None and not failures(found)))
        else:
            self.resolve_provider(role_arn, context, static=False)
        entry["pods_to_restart"] = context["stale_pods"]
        if "token" in kinds:
            self.token(entry, sa, role_arn, context)
        if "pod" in kinds:
            self.pod(entry, sa, role_arn, context)

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
            checks.append(static.issuer_unknown())
        role = None
        if role_arn:
            role = self.role(role_arn)
            account = None
            if role is None and parse_arn(role_arn)["account_id"] != self.caller_account():
                account = self.caller_account()
            checks.extend(static.role_checks(role_arn, role, account))
            if static.role_in_other_account(role_arn, role, account):
                # What IAM holds in the role's account cannot be read with these credentials: a provider or trust
                # judged here would be another account's (or a missing one blamed on the user).
                checks.append(static.provider_not_readable(role_arn))
                issuer, role = None, None
        if issuer is not None:
            checks.extend(static.provider_checks(context["provider_arn"], issuer.url, self.oidc_provider(context["provider_arn"]), audience))
            if role is not None:
                claims = {"iss": issuer.url, "sub": context["subject"], "aud": audience}
                checks.extend(static.trust_checks(
                    role.get("AssumeRolePolicyDocument"), context["provider_arn"], claims,
                    self.params["trust_policy_size_limit"], role.get("RoleName"),
                ))
        checks.append(self.webhook())
        if annotated and role_arn:
            pods = self.pods_of(namespace, name)
            context["stale_pods"] = stale_pods(pods, role_arn)
            stale = static.stale_pods_check(namespace, name, pods, role_arn)
            if stale:
                checks.append(stale)
        return checks

    # ----- token ----------------------------------------------------------------------------------

    def token(self, entry, sa, role_arn, context):
        checks = entry["checks"]
        if sa is None or not role_arn:
            checks.append(token_check.no_exchange_check(sa is not None))
            return
        explained = token_check.explaining_failures(checks)
        token = self.kube.create_token(entry["namespace"], entry["service_account"], context["audience"], token_check.TOKEN_CHECK_EXPIRATION)
        self.module.no_log_values.add(token)
        claims = token_check.token_claims(token)
        mismatch = self.issuer_mismatch(role_arn, claims, context)
        if mismatch is not None:
            checks.append(mismatch)
            return
        if not explained:
            # What IAM holds, judged with the token's own claims, before any refusal is put down to propagation.
            explained = self.claims_failures(role_arn, claims, context)
        timeout = 0 if explained else self.params["propagation_timeout"]
        identity, error, attempts, elapsed = self.exchange(role_arn, token, timeout)
        entry["attempts"] = attempts
        if identity is None:
            diagnosis = token_check.sts_error_diagnosis(
                error[0], error[1], role_arn, context["provider_arn"] or "the cluster's IAM OIDC provider",
                context["audience"], context["subject"], explained, propagation=(timeout, checks),
            )
            checks.append(token_check.token_check(role_arn, error=diagnosis, attempts=attempts, elapsed=elapsed))
            return
        entry["caller_identity"] = token_check.caller_identity_result(identity)
        checks.append(token_check.token_check(role_arn, identity=entry["caller_identity"], attempts=attempts, elapsed=elapsed))

    def exchange(self, role_arn, token, timeout):
        """``(identity, error, attempts, elapsed)``: AssumeRoleWithWebIdentity, retried while STS may not know a change
        yet, for up to ``timeout`` seconds."""
        client = self.sts_exchange_client(parse_arn(role_arn)["partition"])
        session_name = "eks-irsa-verify-{0}".format(int(time.time()))
        return self.retrying(lambda: aws.assume_role_with_web_identity(client, role_arn, token, session_name),
                             token_check.RETRYABLE_STS_CODES, timeout)

    def retrying(self, call, retryable, timeout):
        """``(identity, error, attempts, elapsed)`` of ``call`` (``(identity, error)``), made again after an error code in
        ``retryable`` for up to ``timeout`` seconds, with token_check.RetryPolicy's backoff."""
        policy = token_check.RetryPolicy(timeout)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            identity, error = call()
            if identity is not None or error[0] not in retryable:
                break
            delay = policy.next_delay(attempt, time.monotonic() - started)
            if delay is None:
                break
            if self.stop.wait(delay):
                raise Interrupted()
        return identity, error, attempt, time.monotonic() - started

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
        return token_check.issuer_mismatch_check(claims, issuer.url, source, self.kube.connection.host, role_name, trusted,
                                                 token_arn, exists)

    def claims_failures(self, role_arn, claims, context):
        """The failures of the provider and trust checks made with the token's own claims (iss, sub, aud) instead of
        the issuer of cluster_name/oidc_provider; [] when they pass or cannot be read."""
        provider_arn = self.token_provider_arn(role_arn, claims) if claims.get("sub") else None
        if provider_arn is None:
            return []
        audience = token_check.token_audience(claims, context["audience"])
        try:
            role = self.role(role_arn)
            found = static.provider_checks(provider_arn, claims["iss"], self.oidc_provider(provider_arn), audience)
            if role is None:
                found = static.role_checks(role_arn, None) + found
            else:
                found += static.trust_checks(role.get("AssumeRolePolicyDocument"), provider_arn,
                                             {"iss": claims["iss"], "sub": claims["sub"], "aud": audience},
                                             self.params["trust_policy_size_limit"], role.get("RoleName"))
        except IrsaAWSError:
            return []
        return failures(found)

    # ----- pod ------------------------------------------------------------------------------------

    def pod(self, entry, sa, role_arn, context):
        checks = entry["checks"]
        namespace, name = entry["namespace"], entry["service_account"]
        if self.check_mode:
            checks.append(pod_check.skipped_in_check_mode())
            return
        if sa is None or not role_arn:
            checks.append(pod_check.no_pod_check(sa is not None))
            return
        self.with_verification_pod(entry, lambda pod_name, manifest: self.run_pod(pod_name, namespace, name, role_arn, manifest, context, checks))

    def with_verification_pod(self, entry, run):
        """Run ``run(pod name, manifest)`` (``(check, identity)``) on a new verification pod of the entry's ServiceAccount,
        after deleting the leftovers of killed runs; the pod is deleted afterwards unless keep_pod."""
        checks = entry["checks"]
        namespace, name = entry["namespace"], entry["service_account"]
        self.delete_leftover_pods(namespace, name)
        pod_name = pod_check.pod_name()
        manifest = pod_check.pod_manifest(
            pod_name, namespace, name, self.params["image"], self.params["pod_command"],
            self.params["image_pull_secrets"], self.params["pod_timeout"],
        )
        with self._pods_lock:
            self.live_pods[pod_name] = namespace
        try:
            check, identity = run(pod_name, manifest)
            checks.append(check)
            if identity:
                entry["caller_identity"] = token_check.caller_identity_result(identity)
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
            return pod_check.not_created_check(pod_name, error_message(e)), None
        problems = mutation_problems(created, role_arn)
        if problems:
            webhook = self.webhook()
            missing = webhook["passed"] is False and webhook["severity"] == ERROR
            return pod_check.not_mutated_check(pod_name, namespace, name, role_arn, problems, webhook_known_missing=missing), None
        pod, timed_out = self.wait_for_pod(namespace, pod_name, created)
        log = self.kube.pod_log(namespace, pod_name, pod_check.VERIFY_CONTAINER)
        phase = (pod.get("status") or {}).get("phase")
        events = [] if phase == "Succeeded" else self.kube.list_events(namespace, pod_name)
        check = pod_check.pod_outcome_check(pod_name, role_arn, pod, events, log, timed_out, self.params["pod_timeout"],
                                            failures(checks), context)
        return check, pod_check.parse_caller_identity_log(log) if check["passed"] else None

    def wait_for_pod(self, namespace, pod_name, pod):
        """``(pod, timed out)``: the pod once it finished, or as it was when pod_timeout ran out."""
        deadline = time.monotonic() + self.params["pod_timeout"]
        polls = 0
        while not pod_check.pod_finished(pod):
            if time.monotonic() >= deadline:
                return pod, True
            pause = POLL_BACKOFF[polls] if polls < len(POLL_BACKOFF) else POLL_INTERVAL
            polls += 1
            if self.stop.wait(min(pause, max(0.0, deadline - time.monotonic()))):
                raise Interrupted()
            pod = self.kube.get_pod(namespace, pod_name) or pod
        return pod, False

    def delete_pod(self, namespace, pod_name):
        try:
            self.kube.delete_pod(namespace, pod_name)
        except KubernetesError as e:
            self.module.warn("Could not delete the verification pod {0}/{1}: {2}. Delete it with kubectl delete pod -n {0} {1}.".format(
                namespace, pod_name, error_message(e)))
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
        """Delete the verification pods of this ServiceAccount that a killed earlier run left (pod.leftover_verification_pods)."""
        try:
            pods = self.pods(namespace)
        except KubernetesError as e:
            self.module.warn("Could not look for verification pods left by an interrupted run in {0}: {1}".format(namespace, error_message(e)))
            return
        for pod_name in pod_check.leftover_verification_pods(pods, name, time.time()):
            self.delete_pod(namespace, pod_name)

    # ----- EKS Pod Identity -----------------------------------------------------------------------

    def eks_cluster(self):
        """The EKS cluster of the Pod Identity bindings (pod_identity_cluster), as DescribeCluster answers, read once."""
        name = pod_identity_cluster(self.params)
        return self.memo.get(("cluster", name), lambda: aws.lookup_cluster(self.client("eks"), name, self.module.region))

    def association_of(self, cluster, namespace, name):
        """``(association, others)``: the Pod Identity association of ``namespace``/``name`` (described; None when there
        is none) and the summaries of the cluster's other associations. The cluster's list is read once."""
        summaries = self.memo.get(("associations", cluster), lambda: associations.list_associations(self.client("eks"), cluster))
        mine = [item for item in summaries if (item.get("namespace"), item.get("serviceAccount")) == (namespace, name)]
        others = [item for item in summaries if item not in mine]
        if not mine:
            return None, others
        association_id = mine[0]["associationId"]
        return self.memo.get(("association", association_id),
                             lambda: associations.describe_association(self.client("eks"), cluster, association_id)), others

    def agent(self, cluster):
        """The check of the eks-pod-identity-agent add-on, read once."""
        def compute():
            try:
                return pi_checks.agent_check(cluster, pod_identity_aws.describe_addon(self.client("eks"), cluster, pi_checks.AGENT_ADDON))
            except IrsaAWSError as e:
                return pi_checks.agent_check(cluster, None, error=aws.describe_error(e, self.params))
        return self.memo.get(("agent", cluster), compute)

    def fargate_profiles(self, cluster):
        return self.memo.get(("fargate", cluster), lambda: pod_identity_aws.fargate_profiles(self.client("eks"), cluster))

    def verify_pod_identity(self, binding, entry):
        """The checks of a binding with mechanism: pod_identity, into ``entry``."""
        namespace, name = binding["namespace"], binding["name"]
        checks = entry["checks"]
        kinds = binding.get("checks") or self.checks
        sa = self.service_account(namespace, name)
        if sa is None:
            checks.extend(static.service_account_checks(namespace, name, None, None, self.namespace_exists(namespace))[0])
        else:
            checks.append(result("service_account", "static", True, "The ServiceAccount {0}/{1} exists.".format(namespace, name)))
        cluster = self.eks_cluster()
        association, others = self.association_of(cluster["name"], namespace, name)
        entry["role_arn"] = binding["role_arn"] or (association or {}).get("roleArn") or ""
        if "static" in kinds:
            checks.extend(self.pod_identity_static(entry, binding, sa, cluster, association, others))
        if "token" in kinds:
            self.pod_identity_token(entry, sa, cluster, association)
        if "pod" in kinds:
            self.pod_identity_pod(entry, sa, association)

    def pod_identity_static(self, entry, binding, sa, cluster, association, others):
        namespace, name = binding["namespace"], binding["name"]
        checks = [pi_checks.association_check(cluster["name"], namespace, name, association, others, binding["role_arn"],
                                              binding["target_role_arn"])]
        if association is not None:
            role = self.role(association["roleArn"])
            checks.append(pi_checks.role_check(association["roleArn"], role))
            if role is not None:
                checks.extend(pi_checks.trust_checks(role.get("AssumeRolePolicyDocument"), role.get("RoleName"), cluster["arn"],
                                                     namespace, name, session_tags=not association.get("disableSessionTags")))
        checks.append(self.agent(cluster["name"]))
        try:
            checks.append(pi_checks.fargate_check(cluster["name"], namespace, self.fargate_profiles(cluster["name"]), binding["pod_labels"]))
        except IrsaAWSError as e:
            checks.append(pi_checks.fargate_check(cluster["name"], namespace, None, error=aws.describe_error(e, self.params)))
        if sa is not None:
            pods = self.pods_of(namespace, name)
            if association is not None:
                entry["pods_to_restart"] = pi_checks.stale_pods(pods)
                checks.append(pi_checks.stale_pods_check(namespace, name, pods))
            checks.append(pi_checks.irsa_precedence_check(namespace, name, sa, pods, pi_checks.expected_role(association, binding["role_arn"])))
        return [check for check in checks if check is not None]

    def pod_identity_token(self, entry, sa, cluster, association):
        """The token check: a token of audience pods.eks.amazonaws.com exchanged with EKS Auth, then GetCallerIdentity."""
        checks = entry["checks"]
        if sa is None or association is None:
            checks.append(pi_checks.no_exchange_check(
                "the ServiceAccount does not exist" if sa is None else "the ServiceAccount has no Pod Identity association"))
            return
        # EKS Auth exchanges the token of a pod (the session is tagged with the pod's name and UID), as the agent
        # presents it: the token is bound to a running pod of the ServiceAccount.
        running = [pod for pod in self.pods_of(entry["namespace"], entry["service_account"]) if pi_checks.is_running(pod)]
        if not running:
            checks.append(pi_checks.no_pod_for_token_check(entry["namespace"], entry["service_account"]))
            return
        explained = [check for check in failures(checks) if check["name"] in pi_checks.EXPLAINING_CHECKS]
        token = self.kube.create_token(entry["namespace"], entry["service_account"], pi_checks.AUDIENCE, token_check.TOKEN_CHECK_EXPIRATION,
                                       bound_pod=running[0])
        self.module.no_log_values.add(token)
        timeout = 0 if explained else self.params["propagation_timeout"]
        eks_auth = self.client("eks-auth")
        identity, error, attempts, elapsed = self.retrying(
            lambda: pod_identity_aws.exchange(eks_auth, self.sts_client_for, cluster["name"], token),
            pi_checks.RETRYABLE_EKS_AUTH_CODES, timeout)
        entry["attempts"] = attempts
        expected = pi_checks.expected_role(association)
        if identity is None:
            diagnosis = pi_checks.eks_auth_diagnosis(error[0], error[1], cluster["name"], explained, timeout)
            checks.append(pi_checks.exchange_check(expected, error=diagnosis, attempts=attempts, elapsed=elapsed))
            return
        entry["caller_identity"] = token_check.caller_identity_result(identity)
        checks.append(pi_checks.exchange_check(expected, identity=entry["caller_identity"], attempts=attempts, elapsed=elapsed))

    def sts_client_for(self, access_key, secret_key, session_token):
        """An STS client with temporary credentials (never kept: Ansible masks them should they ever be shown)."""
        for value in (access_key, secret_key, session_token):
            if value:
                self.module.no_log_values.add(value)
        return self.module.client("sts", aws_access_key_id=access_key, aws_secret_access_key=secret_key, aws_session_token=session_token)

    def pod_identity_pod(self, entry, sa, association):
        """The pod check: the AWS CLI in a pod of the ServiceAccount, through the container credentials provider."""
        checks = entry["checks"]
        if self.check_mode:
            checks.append(pod_check.skipped_in_check_mode())
            return
        if sa is None:
            checks.append(pod_check.no_pod_check(False))
            return
        self.with_verification_pod(entry, lambda pod_name, manifest: self.run_pod_identity_pod(pod_name, entry, manifest, association))

    def run_pod_identity_pod(self, pod_name, entry, manifest, association):
        namespace, name = entry["namespace"], entry["service_account"]
        try:
            created = self.kube.create_pod(namespace, manifest)
        except KubernetesError as e:
            return pod_check.not_created_check(pod_name, error_message(e)), None
        problems = pi_checks.credential_problems(created)
        if problems:
            return pi_checks.not_mutated_check(pod_name, namespace, name, problems, association is not None), None
        pod, timed_out = self.wait_for_pod(namespace, pod_name, created)
        log = self.kube.pod_log(namespace, pod_name, pod_check.VERIFY_CONTAINER)
        phase = (pod.get("status") or {}).get("phase")
        identity = pod_check.parse_caller_identity_log(log)
        if phase == "Succeeded" and identity is not None:
            how = "The pod {0} ran aws sts get-caller-identity{1}".format(
                pod_name, " (it also has IRSA's web identity, which the CLI takes first)" if pi_checks.web_identity_role(created) else "")
            expected = pi_checks.expected_role(association, entry["role_arn"])
            return pi_checks.identity_check("pod", expected, token_check.caller_identity_result(identity), how), identity
        events = self.kube.list_events(namespace, pod_name)
        return pod_check.pod_outcome_check(pod_name, entry["role_arn"], pod, events, log, timed_out, self.params["pod_timeout"]), None

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
