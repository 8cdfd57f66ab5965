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

ROLE_TERMS = (
    ("set the region option or AWS_REGION", "set irsa_region (or AWS_REGION)"),
    ("(the region option, or AWS_REGION)", "(irsa_region, or AWS_REGION)"),
    ("set context to one of them", "set irsa_context to one of them"),
    ("set create_namespace: true", "set create_namespace: true on the binding"),
    ("set create: true", "set create_service_account: true on the binding"),
    ("create=false", "create_service_account: false"),
    ("k8s_validate_certs=false skips the check", "the kubeconfig's insecure-skip-tls-verify skips the check"),
    ("(eks.irsa.eks_oidc_provider with the cluster's issuer)", "(irsa_manage_oidc_provider: true)"),
)


def in_role_terms(message):
    """``message`` with each module option it names replaced by the role's variable or binding field."""
    for module_words, role_words in ROLE_TERMS:
        message = message.replace(module_words, role_words)
    return message
