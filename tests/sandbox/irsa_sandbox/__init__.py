"""The local EKS sandbox: AWS (IAM, STS, EKS) and Kubernetes API emulators for tests and the demo.

Test infrastructure only; nothing in ``plugins/`` imports it.
"""
