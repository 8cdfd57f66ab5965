# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Ask Kubernetes for a ServiceAccount token (TokenRequest) and exchange it at STS for a role.

Prints one JSON object: {"allowed": bool, "code": error code or "", "arn": assumed-role ARN or "",
"subject": the token's sub}. The token and the credentials STS returns stay in memory.
"""

import argparse
import base64
import json
import os
import ssl
import sys
import tempfile
import urllib.request

import boto3
import botocore.exceptions
import yaml


def kube_connection(kubeconfig, context_name):
    with open(kubeconfig, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    context_name = context_name or config.get("current-context")
    context = next(item["context"] for item in config["contexts"] if item["name"] == context_name)
    cluster = next(item["cluster"] for item in config["clusters"] if item["name"] == context["cluster"])
    user = next(item["user"] for item in config["users"] if item["name"] == context["user"])
    tls = ssl.create_default_context()
    if cluster.get("certificate-authority-data"):
        tls.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        tls.load_verify_locations(cafile=cluster["certificate-authority"])
    if cluster.get("insecure-skip-tls-verify"):
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if user.get("token"):
        headers["Authorization"] = "Bearer " + user["token"]
    elif user.get("client-certificate-data"):
        with tempfile.TemporaryDirectory() as directory:
            cert, key = os.path.join(directory, "cert"), os.path.join(directory, "key")
            with open(cert, "wb") as handle:
                handle.write(base64.b64decode(user["client-certificate-data"]))
            with open(key, "wb") as handle:
                handle.write(base64.b64decode(user["client-key-data"]))
            tls.load_cert_chain(cert, key)
    return cluster["server"].rstrip("/"), tls, headers


def request_token(args):
    server, tls, headers = kube_connection(args.kubeconfig, args.context)
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": [args.audience], "expirationSeconds": 3600},
    }
    url = "{0}/api/v1/namespaces/{1}/serviceaccounts/{2}/token".format(server, args.namespace, args.service_account)
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, context=tls, timeout=30) as response:
        return json.load(response)["status"]["token"]


def token_subject(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload)).get("sub", "")


def main():
    parser = argparse.ArgumentParser()
    for name in ("kubeconfig", "context", "namespace", "service-account", "role-arn", "endpoint-url", "region"):
        parser.add_argument("--" + name, required=name != "context")
    parser.add_argument("--audience", default="sts.amazonaws.com")
    args = parser.parse_args()

    token = request_token(args)
    sts = boto3.client(
        "sts", endpoint_url=args.endpoint_url, region_name=args.region,
        aws_access_key_id="unused", aws_secret_access_key="unused",
    )
    outcome = {"allowed": False, "code": "", "arn": "", "subject": token_subject(token)}
    try:
        answer = sts.assume_role_with_web_identity(RoleArn=args.role_arn, RoleSessionName="irsa-role-test", WebIdentityToken=token)
        outcome["allowed"] = True
        outcome["arn"] = answer["AssumedRoleUser"]["Arn"]
    except botocore.exceptions.ClientError as e:
        outcome["code"] = e.response.get("Error", {}).get("Code", "")
    json.dump(outcome, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
