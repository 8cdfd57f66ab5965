"""The local EKS sandbox: AWS (IAM, STS, EKS) and a real Kubernetes per cluster, for tests and the demo.

Test infrastructure only; nothing in ``plugins/`` imports it.
"""
