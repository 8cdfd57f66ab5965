# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The token check of an IRSA binding: a ServiceAccount token exchanged with STS, and what STS's answer means.

The check requests a token for the ServiceAccount (TokenRequest), exchanges it with
``sts:AssumeRoleWithWebIdentity`` as a pod does, and compares the identity STS states with the role. IAM is
eventually consistent, so ``AccessDenied`` and ``InvalidIdentityToken`` may only mean that a change has not reached
STS yet: they are retried (``RetryPolicy``) unless the static checks already found the cause. An STS error is told
in the user's terms (``sts_error_diagnosis``), and a token issued by another cluster than the one named is a finding
of its own (``issuer_mismatch_check``). Only the token's ``iss``, ``sub`` and ``aud`` claims are ever kept.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from ansible_collections.eks.irsa.plugins.module_utils.trust import build as trust
from ansible_collections.eks.irsa.plugins.module_utils.naming import parse_arn
from ansible_collections.eks.irsa.plugins.module_utils.naming import role_name_from_arn
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import failures
from ansible_collections.eks.irsa.plugins.module_utils.verify.results import result

# TokenRequest lifetime for the token check: the minimum the API server issues.
TOKEN_CHECK_EXPIRATION = 600

# STS error codes that may only mean IAM has not propagated a change yet.
RETRYABLE_STS_CODES = ("AccessDenied", "InvalidIdentityToken")

# Static findings that explain an STS refusal: retrying for propagation would change nothing.
EXPLAINING_CHECKS = ("role_arn_annotation", "role", "role_arn_path", "oidc_provider", "trust_policy")

_ASSUMED_ROLE_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[\w+=,.@-]+)/(?P<session>.+)$")


class RetryPolicy:
    """Backoff for the web-identity exchange: IAM is eventually consistent, so a role or trust change
    made seconds ago can still be refused. Delays double from INITIAL_DELAY up to MAXIMUM_DELAY; the last one
    is shortened so that the last attempt is made when ``timeout`` seconds are up, not before."""

    INITIAL_DELAY = 1.0
    MAXIMUM_DELAY = 8.0

    def __init__(self, timeout):
        self.timeout = max(0, timeout)

    def retryable(self, code):
        return code in RETRYABLE_STS_CODES

    def next_delay(self, attempt, elapsed):
        """Seconds to wait before attempt ``attempt + 1``, or None when the time is up."""
        remaining = self.timeout - elapsed
        if remaining <= 0:
            return None
        return min(self.MAXIMUM_DELAY, self.INITIAL_DELAY * 2.0 ** (attempt - 1), remaining)


def explaining_failures(checks):
    """The failed static checks that already explain why STS would refuse the exchange."""
    return [entry for entry in failures(checks) if entry["name"] in EXPLAINING_CHECKS]


def no_exchange_check(service_account_exists):
    """The token check's failure when there is no ServiceAccount, or no role to assume."""
    return result(
        "token", "token", False,
        "No token exchange: {0}.".format("the ServiceAccount does not exist" if not service_account_exists else "there is no role to assume"),
        "Fix the ServiceAccount first (see above).",
    )


# ---------------------------------------------------------------------------------------------
# The identity STS answers


def parse_assumed_role_arn(arn):
    """``{partition, account, role, session}`` of ``arn:<p>:sts::<acct>:assumed-role/<role>/<session>``, or None."""
    match = _ASSUMED_ROLE_ARN.match(arn or "")
    return match.groupdict() if match else None


def caller_identity_result(identity):
    """GetCallerIdentity's answer in the module's shape (snake_case, nothing secret)."""
    return {"account": identity.get("Account", ""), "arn": identity.get("Arn", ""), "user_id": identity.get("UserId", "")}


def identity_check(check, role_arn, identity, how):
    """Whether the caller identity is the role: ``assumed-role/<role-name>/...`` (assumed-role ARNs carry no path)."""
    arn = identity.get("arn", "")
    account = parse_arn(role_arn, service="iam", resource_type="role")["account_id"]
    role_name = role_name_from_arn(role_arn)
    assumed = parse_assumed_role_arn(arn)
    if assumed and assumed["role"] == role_name and assumed["account"] == account:
        return result(check, check, True, "{0} and got {1}.".format(how, arn))
    if assumed and (re.match(r"^i-[0-9a-f]{8,17}$", assumed["session"]) or "NodeInstanceRole" in assumed["role"]):
        cause = "the node's identity, role {0!r} of the EC2 instance: no web identity credentials were used".format(assumed["role"])
    elif assumed:
        cause = "a session of role {0!r} in account {1}".format(assumed["role"], assumed["account"])
    else:
        cause = "another identity"
    return result(
        check, check, False,
        "{0} but got {1} ({2}), not a session of role {3!r} (assumed-role/{3}/...).".format(how, arn, cause, role_name),
        "Check which credentials the process finds first: AWS_* variables or a profile set in the pod override the web "
        "identity; the ServiceAccount must be annotated with {0}.".format(role_arn),
    )


def token_check(role_arn, identity=None, error=None, attempts=0, elapsed=0.0):
    """The token check's result: ``identity`` on success, else ``error`` as ``(message, remediation)``."""
    tries = "{0} attempt{1} over {2:.0f} s".format(attempts, "" if attempts == 1 else "s", elapsed)
    if identity is not None:
        return identity_check("token", role_arn, identity, "A ServiceAccount token was exchanged with STS for the role ({0})".format(tries))
    message, remediation = error
    return result("token", "token", False, "{0} ({1}).".format(message.rstrip("."), tries), remediation)


# ---------------------------------------------------------------------------------------------
# STS's refusals


def sts_error_diagnosis(code, message, role_arn, provider_arn, audience, subject, static_failures=(), propagation=None):
    """``(message, remediation)`` for an STS error of AssumeRoleWithWebIdentity; ``static_failures`` are the
    static checks that failed, whose messages already name the cause when there is one.

    ``propagation`` is ``(timeout, checks)`` when the exchange was retried for up to ``timeout`` seconds
    (propagation_timeout), ``checks`` being the checks made before it. When they found the provider or the
    trust STS refuses in place, the refusal is IAM not having propagated it to STS within the timeout."""
    code = code or "Unknown"
    said = "STS answered {0}: {1}".format(code, (message or "").strip() or "(no message)")
    known = " ".join(entry["message"] for entry in static_failures)
    lowered = (message or "").lower()
    timeout, checks = propagation or (0, ())
    passed = set(entry["name"] for entry in checks if entry.get("passed")) if timeout and not static_failures else set()
    if code == "InvalidIdentityToken" and "no openidconnect provider" in lowered and "oidc_provider" in passed:
        return _not_propagated(said, timeout, "the OIDC provider {0} with the client ID {1!r}".format(provider_arn, audience))
    if code == "AccessDenied" and "trust_policy" in passed:
        return _not_propagated(said, timeout, "the role {0} with a trust policy that allows sub {1!r} with aud {2!r} from {3}".format(
            role_arn, subject, audience, provider_arn))
    if code == "InvalidIdentityToken":
        return _token_refused(said, lowered, provider_arn, audience, known)
    if code in ("ExpiredTokenException", "ExpiredToken"):
        return ("{0}. The token expired before STS saw it; the clock of the cluster or of this host is off.".format(said),
                "Synchronise the clocks (NTP) of the control host and the cluster.")
    if code == "AccessDenied":
        return _access_denied(said, role_arn, provider_arn, audience, subject, static_failures, timeout)
    if code == "RegionDisabledException":
        return ("{0}. STS is not activated in this region for the account.".format(said),
                "Activate the region's STS endpoint in the IAM console (Account settings), or use another region.")
    if code == "ValidationError":
        return ("{0}.".format(said), "Check the role ARN {0}.".format(role_arn))
    return ("{0}.".format(said), "Retry; if it persists, check the AWS connection (endpoint, region).")


def _token_refused(said, lowered, provider_arn, audience, known):
    """InvalidIdentityToken: no provider, another audience, or a token STS could not verify."""
    if "no openidconnect provider" in lowered:
        return ("{0}. IAM has no OIDC provider {1} for the cluster's issuer.{2}".format(said, provider_arn, _also(known)),
                "Create it with eks.irsa.eks_oidc_provider; a provider created seconds ago can take a minute to be accepted.")
    if "audience" in lowered:
        return ("{0}. The token's audience {1!r} is not a client ID of {2}.{3}".format(said, audience, provider_arn, _also(known)),
                "Add {0!r} to the provider's client IDs (eks.irsa.eks_oidc_provider client_ids).".format(audience))
    return ("{0}. STS could not verify the token with the issuer's keys (JWKS) or thumbprint.{1}".format(said, _also(known)),
            "Check that the issuer's discovery document and keys are reachable and that the provider's thumbprint is "
            "the issuer's; recreate the provider with eks.irsa.eks_oidc_provider.")


def _access_denied(said, role_arn, provider_arn, audience, subject, static_failures, timeout):
    """AccessDenied: the cause the static checks found, else a missing role or a trust that does not allow the token."""
    known = " ".join(entry["message"] for entry in static_failures)
    cause = known or (
        "the role {0} does not exist, or its trust policy does not allow sub {1!r} with aud {2!r} from {3}".format(
            role_arn, subject, audience, provider_arn))
    # The static check's own fix when it found the cause (a missing role is not fixed in a trust policy).
    fix = " ".join(dict.fromkeys(entry["remediation"] for entry in static_failures if entry.get("remediation"))) or (
        "Fix the trust policy of the role (eks.irsa.irsa_role) so it allows the subject; the static check "
        "names the statement that decides.")
    if timeout and not known:
        cause += ", or a change of the role made moments ago has not reached STS within propagation_timeout ({0} s)".format(timeout)
        fix += " If the role or its trust changed moments ago, run again later or raise propagation_timeout."
    return ("{0}. {1}".format(said, cause[0].upper() + cause[1:] if cause else cause), fix)


def _not_propagated(said, timeout, found):
    return (
        "{0}. The static check found {1} in IAM, so STS has not caught up with IAM yet (IAM is eventually "
        "consistent): it still refused when propagation_timeout ({2} s) ran out.".format(said, found, timeout),
        "IAM changes can take a minute or more to reach STS: run again later, or raise propagation_timeout (now {0} s) "
        "to wait longer. If STS still refuses long after the last change, compare the findings of the static check "
        "with the role and the OIDC provider in IAM.".format(timeout),
    )


def _also(known):
    return " ({0})".format(known) if known else ""


# ---------------------------------------------------------------------------------------------
# The token's claims


def token_claims(token):
    """``{iss, sub, aud}`` of a ServiceAccount token (a JWT), read without checking its signature; ``{}`` when it
    is not a JWT. Only these claims are kept: they say which cluster issued the token and for whom, and are
    no secret, unlike the token."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8"))
    except (AttributeError, IndexError, ValueError, TypeError, binascii.Error):
        return {}
    if not isinstance(claims, dict):
        return {}
    return {key: claims[key] for key in ("iss", "sub", "aud") if key in claims}


def token_audience(claims, audience):
    """The audience of the token as STS matches it: ``audience`` when the token carries it, else its first."""
    values = trust.as_list(claims.get("aud"))
    if audience in values or not values:
        return audience
    return str(values[0])


def issuer_mismatch_check(claims, issuer_url, issuer_source, api_host, role_name=None, trusted=(), token_provider_arn=None,
                          token_provider_exists=None):
    """The token check's failure when the Kubernetes API issued the token under another issuer than the cluster the
    task names (``issuer_source``: ``cluster_name 'blue'`` or ``oidc_provider``): the connection reaches another
    cluster. ``trusted`` are the OIDC provider ARNs the role's trust names; ``token_provider_exists`` whether IAM has
    a provider for the token's issuer (None: unknown)."""
    token_issuer = claims.get("iss")
    token_provider = token_issuer[len("https://"):] if token_issuer.startswith("https://") else token_issuer
    facts = []
    if role_name is not None:
        names = [arn.split(":oidc-provider/", 1)[-1] for arn in trusted]
        facts.append("The trust policy of role {0!r} names {1}; {2}.".format(
            role_name, ", ".join(names) if names else "no OIDC provider",
            "the token's issuer is among them" if token_provider in names else "the token's issuer is not among them, so "
            "STS refuses this token whatever IAM does"))
    if token_provider_exists is not None and token_provider_arn:
        facts.append("IAM {0} OIDC provider for the token's issuer ({1}).".format(
            "has an" if token_provider_exists else "has no", token_provider_arn))
    return result(
        "token", "token", False,
        "The Kubernetes API at {0} issued the ServiceAccount token under the issuer {1}, but {2} has the issuer {3}, "
        "which the role and the OIDC provider were checked against: the Kubernetes connection reaches another cluster "
        "than {2}. {4}".format(api_host, token_issuer, issuer_source, issuer_url, " ".join(facts)).strip(),
        "Point the Kubernetes connection (kubeconfig, context or host) at the cluster of {0}, or set {1} to the cluster "
        "the connection reaches (its issuer is {2}); then run again. No token was exchanged.".format(
            issuer_source, "oidc_provider" if issuer_source == "oidc_provider" else "cluster_name", token_issuer),
    )
