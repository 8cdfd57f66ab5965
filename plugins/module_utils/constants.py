# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The facts of IRSA that the whole collection relies on, each stated once.

Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

# The audience the pod identity webhook projects into tokens, in every partition (China included),
# unless the ServiceAccount sets AUDIENCE_ANNOTATION.
DEFAULT_AUDIENCE = "sts.amazonaws.com"

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
AUDIENCE_ANNOTATION = "eks.amazonaws.com/audience"
STS_REGIONAL_ENDPOINTS_ANNOTATION = "eks.amazonaws.com/sts-regional-endpoints"
TOKEN_EXPIRATION_ANNOTATION = "eks.amazonaws.com/token-expiration"
IRSA_ANNOTATIONS = (
    ROLE_ARN_ANNOTATION,
    AUDIENCE_ANNOTATION,
    STS_REGIONAL_ENDPOINTS_ANNOTATION,
    TOKEN_EXPIRATION_ANNOTATION,
)

# What the pod identity webhook injects into a pod whose ServiceAccount carries ROLE_ARN_ANNOTATION.
ROLE_ARN_ENV = "AWS_ROLE_ARN"
TOKEN_FILE_ENV = "AWS_WEB_IDENTITY_TOKEN_FILE"
TOKEN_VOLUME_NAME = "aws-iam-token"
WEBHOOK_NAME = "pod-identity-webhook"

# Projected token lifetime the webhook accepts, in seconds.
TOKEN_EXPIRATION_MIN = 600
TOKEN_EXPIRATION_MAX = 86400

# Kubernetes subjects of ServiceAccount tokens.
SUBJECT_PREFIX = "system:serviceaccount:"

# IAM's default limit for a role's trust policy, in characters of the minified document
# (raisable by a quota increase, commonly to 4096).
TRUST_POLICY_SIZE_LIMIT = 2048

# IAM OIDC identity providers per account (default quota) and when to start warning.
OIDC_PROVIDER_QUOTA = 100
OIDC_PROVIDER_QUOTA_WARNING = 90

WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity"

# The label on Kubernetes objects this collection created.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "eks.irsa"

# The tag on IAM roles and OIDC providers this collection created (or was told by name to adopt): only
# what carries it is ever deleted, or changed beyond adding to it.
OWNER_TAG_KEY = "eks.irsa/managed-by"
OWNER_TAG_VALUE = MANAGED_BY_VALUE

# The annotation in which the collection records the role ARN it set on a ServiceAccount: a role-arn
# annotation that differs from it was set by someone else, and is not overwritten or removed.
BOUND_ROLE_ANNOTATION = "eks.irsa/bound-role-arn"
