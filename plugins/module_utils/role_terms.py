# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Module messages reworded for users of the eks.irsa.irsa role, who set role variables, not module options.

A module's message names its options (``set the region option``); a user of the role never wrote them, so the
role shows each such phrase as the variable or binding field that sets it. Every phrase of a module message that
names an option the role sets belongs in ``ROLE_TERMS``.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

import re

# Module options the role sets from a variable of its own: a message naming one names the variable instead.
ROLE_VARIABLES = {
    "access_key": "irsa_aws_access_key",
    "secret_key": "irsa_aws_secret_key",
    "session_token": "irsa_aws_session_token",
    "endpoint_url": "irsa_aws_endpoint_url",
    "profile": "irsa_aws_profile",
    "region": "irsa_region",
    "cluster_name": "irsa_cluster_name",
    "kubeconfig": "irsa_kubeconfig",
    "context": "irsa_context",
    "checks": "irsa_verify_checks",
}
# Option names that are not also ordinary words are replaced wherever they stand as a name of their own; the others
# (region, context, ...) only in the phrases of ROLE_TERMS.
_OPTION_NAME = re.compile(r"(?<![\w./:-])({0})(?![\w-])".format(
    "|".join(sorted((name for name in ROLE_VARIABLES if "_" in name), key=len, reverse=True))))

ROLE_TERMS = (
    ("(kubeconfig, context or host)", "(irsa_k8s_auth, irsa_kubeconfig or irsa_context)"),
    ("(kubeconfig option or K8S_AUTH_KUBECONFIG)", "(irsa_kubeconfig, or K8S_AUTH_KUBECONFIG)"),
    ("(eks.irsa.irsa_service_account with create: true)", "(set create_service_account: true on the binding)"),
    ("checks is empty", "irsa_verify_checks is empty"),
    ("set the region option or AWS_REGION", "set irsa_region (or AWS_REGION)"),
    ("(the region option, or AWS_REGION)", "(irsa_region, or AWS_REGION)"),
    ("set context to one of them", "set irsa_context to one of them"),
    ("set create_namespace: true", "set create_namespace: true on the binding"),
    ("set create: true", "set create_service_account: true on the binding"),
    ("create=false", "create_service_account: false"),
    ("k8s_validate_certs=false skips the check", "the kubeconfig's insecure-skip-tls-verify skips the check"),
    ("(eks.irsa.eks_oidc_provider with the cluster's issuer)", "(irsa_manage_oidc_provider: true)"),
    ("(irsa_verify's checks option)", "(irsa_verify_checks, irsa_verify_unchanged_checks)"),
)


def in_role_terms(message):
    """``message`` with each module option it names replaced by the role's variable or binding field."""
    for module_words, role_words in ROLE_TERMS:
        message = message.replace(module_words, role_words)
    return _OPTION_NAME.sub(lambda match: ROLE_VARIABLES[match.group(1)], message)
