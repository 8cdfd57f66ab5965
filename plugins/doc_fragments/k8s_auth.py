# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Kubernetes connection options of eks.irsa's modules (kubernetes.core's names plus EKS mode)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of a kubeconfig, several paths separated by C(:) (merged as kubectl merges C(KUBECONFIG); the first file that
        names a cluster, user or context, or sets C(current-context), wins; missing files are skipped), or the kubeconfig
        itself as a dict. It is read with the Python library C(kubernetes).
      - Users may authenticate with a token, a token file, client certificates, an C(auth-provider) (C(oidc)) or an exec
        plugin such as C(aws eks get-token); an exec plugin's token is reused until its C(expirationTimestamp) is near,
        and a plugin may answer a client certificate instead. A cluster's C(proxy-url) and C(tls-server-name) are used.
      - Without any connection option, C(K8S_AUTH_KUBECONFIG), then C(KUBECONFIG), then C(~/.kube/config) is used.
    type: raw
  context:
    description:
      - The kubeconfig context to use; its current context when not given (C(K8S_AUTH_CONTEXT) when no connection option is given).
    type: str
  host:
    description:
      - URL of the Kubernetes API server. Takes precedence over every other way of connecting (C(K8S_AUTH_HOST) when no
        connection option is given).
    type: str
  api_key:
    description:
      - Bearer token for O(host) (C(K8S_AUTH_API_KEY) when no connection option is given). Never logged or returned.
    type: str
  ca_cert:
    description:
      - Path of the CA certificate of O(host) (C(K8S_AUTH_SSL_CA_CERT)).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path of a client certificate for O(host) (C(K8S_AUTH_CERT_FILE)).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path of the key of O(client_cert) (C(K8S_AUTH_KEY_FILE)).
    type: path
    aliases: [key_file]
  proxy:
    description:
      - HTTP proxy URL for the Kubernetes API (a C(socks5://) URL needs the Python library PySocks). Takes precedence over
        the kubeconfig's C(proxy-url) (C(K8S_AUTH_PROXY) when not given).
    type: str
  k8s_validate_certs:
    description:
      - Whether to check the Kubernetes API server's TLS certificate. Defaults to the kubeconfig's setting, else true
        (C(K8S_AUTH_VERIFY_SSL) with C(K8S_AUTH_HOST)).
      - This is the Kubernetes check only. The AWS option O(validate_certs) controls the TLS checks of AWS calls; neither
        changes the other.
    type: bool
    aliases: [k8s_verify_ssl]
  impersonate_user:
    description:
      - Kubernetes user to impersonate.
    type: str
  impersonate_groups:
    description:
      - Kubernetes groups to impersonate.
    type: list
    elements: str
requirements:
  - kubernetes >= 32.0.1 (the Python library), to read a kubeconfig or the in-cluster configuration; EKS mode and O(host)
    do without it
  - PyYAML, to read a kubeconfig file (it comes with ansible-core)
notes:
  - "Where the Kubernetes connection comes from, first match wins: O(host) (with O(api_key) or client certificates);
    O(kubeconfig)/O(context); EKS mode with C(eks_cluster); the C(K8S_AUTH_*) environment variables; the default
    kubeconfig; the pod's own ServiceAccount when running in a cluster."
"""

    # The EKS-mode connection option, with the deprecated alias it had until 1.0.0 (modules whose own cluster_name names
    # the cluster of the issuer document eks_cluster themselves).
    EKS_CLUSTER = r"""
options:
  eks_cluster:
    description:
      - Name of the EKS cluster whose Kubernetes API to reach. Without O(host), O(kubeconfig) and O(context), this is
        B(EKS mode), in which the module reads the cluster's endpoint and CA with C(eks:DescribeCluster) and
        authenticates with a token it makes itself from the AWS credentials, as C(aws eks get-token) does (no
        kubeconfig, no AWS CLI needed). The AWS identity must be allowed into the cluster (an EKS access entry or the
        C(aws-auth) ConfigMap).
      - The alias O(cluster_name) is deprecated and will be removed in 1.0.0.
    aliases: [cluster_name]
    type: str
"""
