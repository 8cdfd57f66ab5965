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
from ansible_collections.eks.irsa.plugins.module_utils.verify import static
from ansible_collections.eks.irsa.plugins.module_utils.verify import token as token_check
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import ERROR
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import binding_entry
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import failures
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import is_verified
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
    if "static" in every_check(checks, bindings) and not (params["cluster_name"] or params["oidc_provider"]):
        raise InputError("The static check needs the cluster's OIDC issuer: give cluster_name or oidc_provider "
                         "(the issuer_url or provider_arn of eks.irsa.eks_oidc_info)")
    return bindings, checks


def every_check(checks, bindings):
    """Every check any binding runs: the task's ``checks`` and those the bindings choose."""
    return set(checks).union(*(binding.get("checks", ()) for binding in bindings))


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
        check_names(*key)
        if item.get("role_arn"):
            check_role_arn(item["role_arn"])
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
            verifier.issuer()
        except (IrsaAWSError, NamingError):
            if "static" in every_check(checks, bindings):
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
        namespace, name = binding["namespace"], binding["name"]
        entry = binding_entry(namespace, name)
        checks = entry["checks"]
        kinds = binding.get("checks") or self.checks
        try:
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
        except Interrupted:
            raise
        except (IrsaAWSError, KubernetesError, NamingError) as e:
            checks.append(stopped(aws.describe_error(e, self.params) if isinstance(e, IrsaAWSError) else error_message(e)))
        entry["verified"] = is_verified(checks)
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
        policy = token_check.RetryPolicy(timeout)
        client = self.sts_exchange_client(parse_arn(role_arn)["partition"])
        session_name = "eks-irsa-verify-{0}".format(int(time.time()))
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            identity, error = aws.assume_role_with_web_identity(client, role_arn, token, session_name)
            if identity is not None or not policy.retryable(error[0]):
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
        self.delete_leftover_pods(namespace, name)
        pod_name = pod_check.pod_name()
        manifest = pod_check.pod_manifest(
            pod_name, namespace, name, self.params["image"], self.params["pod_command"],
            self.params["image_pull_secrets"], self.params["pod_timeout"],
        )
        with self._pods_lock:
            self.live_pods[pod_name] = namespace
        try:
            check, identity = self.run_pod(pod_name, namespace, name, role_arn, manifest, context, checks)
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
