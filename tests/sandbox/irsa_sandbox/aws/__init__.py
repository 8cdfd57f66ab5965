"""The AWS half of the sandbox: moto (IAM, STS, EKS) behind a gateway that behaves like AWS where
moto does not.

- ``gateway``: ``AwsGateway``, the WSGI application in front of moto: routing, authorization,
  faults, forwarding, the request log.
- ``iam``: IAM's eventual consistency of trust, role lookups, the IAM actions moto lacks.
- ``iam_authz``: what IAM authorizes for a call, and identity-based policy evaluation.
- ``sts``: ``AssumeRoleWithWebIdentity`` as AWS checks it, presigned ``GetCallerIdentity`` (EKS
  bearer tokens).
- ``referee``: trust policy evaluation for ``sts:AssumeRoleWithWebIdentity``.
- ``eks``: the EKS REST routes of botocore's model.
- ``eks_pod_identity``: the EKS calls moto lacks: Pod Identity associations (and their tags), add-ons.
- ``errors``: ``AwsError`` and AWS's error documents per protocol.

The gateway imports the service modules; they never import the gateway.
"""
