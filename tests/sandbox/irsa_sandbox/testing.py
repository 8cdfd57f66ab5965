"""Start and drive the sandbox from tests.

    from irsa_sandbox.testing import start_sandbox

    with start_sandbox(tmp_path / "sandbox") as sandbox:
        sandbox.env["AWS_ENDPOINT_URL"]      # everything of DIR/env
        sandbox.vars["irsa_sandbox_clusters"]  # everything of DIR/vars.yml
        sandbox.set_faults([{"service": "iam", "kind": "throttle", "fraction": 0.5}], seed=1)
        sandbox.log()["counts"]["iam:CreateRole"]

The sandbox runs as its own process (``eks-sandbox``), exactly as ``make sandbox`` and the demo
run it; this module only starts it, waits for ``ready`` and talks to its control endpoint.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import yaml

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "eks-sandbox")


class SandboxError(RuntimeError):
    pass


def parse_env_file(path):
    """``KEY=value`` lines as the sandbox writes them (values shell-quoted when needed)."""
    env = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _unused, value = line.partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


class RunningSandbox:
    def __init__(self, process, state_dir, stderr_path):
        self.process = process
        self.state_dir = str(state_dir)
        self._stderr_path = stderr_path
        self.env = parse_env_file(os.path.join(self.state_dir, "env"))
        with open(os.path.join(self.state_dir, "vars.yml"), encoding="utf-8") as handle:
            self.vars = yaml.safe_load(handle)
        self.url = self.env["IRSA_SANDBOX_URL"]

    # ----- control endpoint ---------------------------------------------------------------------

    def control(self, method, path, body=None):
        """Call ``/_sandbox/<path>``; returns the decoded JSON answer, raises on HTTP errors."""
        path = path if path.startswith("/_sandbox/") else "/_sandbox/" + path.lstrip("/")
        data = json.dumps(body).encode() if body is not None else (b"{}" if method == "POST" else None)
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise SandboxError(f"{method} {path}: HTTP {error.code}: {error.read().decode(errors='replace')}") from None

    def log(self, since=0):
        """``{"calls": [...], "counts": {"iam:CreateRole": 1, ...}, "reads": n, "writes": n}``; with ``since``, of
        the calls after that sequence number only (each call has its ``seq``)."""
        return self.control("GET", "log" + ("?since=%d" % since if since else ""))

    def reset_log(self):
        return self.control("POST", "log/reset")

    def set_faults(self, rules, seed=0):
        return self.control("POST", "faults", {"rules": list(rules), "seed": seed})

    def set_webhook(self, cluster, enabled):
        return self.control("POST", "webhook", {"cluster": cluster, "enabled": bool(enabled)})

    def set_propagation_delay(self, seconds):
        return self.control("POST", "propagation-delay", {"seconds": seconds})

    def clusters(self):
        return self.control("GET", "clusters")["clusters"]

    def token(self, cluster=None, namespace="default", service_account="default",
              audience="sts.amazonaws.com", expires_in=3600, claims=None):
        """Test-only: a ServiceAccount token signed by ``cluster``'s issuer."""
        body = {"cluster": cluster or self.vars["irsa_sandbox_cluster"], "namespace": namespace,
                "service_account": service_account, "audience": audience, "expires_in": expires_in}
        if claims:
            body["claims"] = claims
        return self.control("POST", "token", body)["token"]

    def client_certificate(self, user, groups=(), cluster=None, expires_in=3600):
        """Test-only: ``(certificate PEM, key PEM)`` of a client certificate signed by ``cluster``'s CA."""
        answer = self.control("POST", "client-certificate", {"cluster": cluster or self.vars["irsa_sandbox_cluster"],
                                                             "user": user, "groups": list(groups), "expires_in": expires_in})
        return answer["certificate"], answer["key"]

    def secrets(self):
        """Test-only: ``{aws_secret_access_keys, aws_session_tokens, service_account_tokens,
        eks_bearer_tokens, kubernetes_admin_tokens}``, every credential the sandbox holds or issued."""
        return self.control("GET", "secrets")

    # ----- AWS helpers --------------------------------------------------------------------------

    def client(self, service, attempts=1, **credentials):
        """A boto3 client for the sandbox's AWS. ``attempts=1`` (the default) means no retries, so
        each call is exactly one call in the request log; pass more to get botocore's retries.
        Credentials default to the sandbox's static key."""
        import boto3
        from botocore.config import Config

        credentials = credentials or {"aws_access_key_id": self.env["AWS_ACCESS_KEY_ID"],
                                      "aws_secret_access_key": self.env["AWS_SECRET_ACCESS_KEY"]}
        return boto3.client(service, endpoint_url=self.url, region_name=self.env["AWS_REGION"],
                            config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
                            **credentials)

    def cluster(self, name=None):
        """The facts of cluster ``name`` (default: the first) as in ``vars.yml``."""
        name = name or self.vars["irsa_sandbox_cluster"]
        return next(c for c in self.vars["irsa_sandbox_clusters"] if c["name"] == name)

    def ensure_oidc_provider(self, name=None, client_ids=("sts.amazonaws.com",)):
        """Register cluster ``name``'s issuer as an IAM OIDC provider unless it is; returns the
        cluster's facts."""
        cluster = self.cluster(name)
        iam = self.client("iam")
        listed = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
        if cluster["provider_arn"] not in listed:
            iam.create_open_id_connect_provider(Url=cluster["issuer_url"], ClientIDList=list(client_ids),
                                                ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
        return cluster

    def create_role(self, name, trust_policy, tags=None):
        """Create IAM role ``name`` with ``trust_policy`` (a dict) and ``tags`` (a dict); returns its ARN."""
        return self.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy),
            Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()])["Role"]["Arn"]

    def subprocess_env(self, base=None):
        """``base`` (default: os.environ) with the sandbox's variables, for running clients."""
        env = dict(os.environ if base is None else base)
        env.update(self.env)
        return env

    # ----- lifecycle ----------------------------------------------------------------------------

    def stop(self, timeout=15):
        """SIGTERM, wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def unique(prefix):
    """``prefix`` with a random suffix, for names in a sandbox that several tests share."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def irsa_trust_policy(cluster, namespace, service_account, operator="StringEquals", audience="sts.amazonaws.com"):
    """The trust policy AWS documents for IRSA, for ``cluster`` (facts from ``vars.yml``)."""
    provider = cluster["provider"]
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": cluster["provider_arn"]},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {operator: {
                f"{provider}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{provider}:aud": audience,
            }},
        }],
    }


def start_sandbox(state_dir, clusters=("sandbox",), extra_args=(), timeout=300):
    """Start ``eks-sandbox`` and return a ``RunningSandbox`` once it has written ``ready`` (each cluster
    starts etcd, kube-apiserver, its controllers, the webhook and a node first)."""
    state_dir = str(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    ready = os.path.join(state_dir, "ready")
    if os.path.exists(ready):
        os.remove(ready)
    stderr_path = os.path.join(state_dir, "sandbox.stderr")
    command = [sys.executable, SCRIPT, "--state-dir", state_dir, "--clusters", ",".join(clusters), *extra_args]
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + timeout
    while not os.path.exists(ready):
        if process.poll() is not None:
            raise SandboxError(f"eks-sandbox exited with {process.returncode} before it was ready:\n"
                               + _tail(stderr_path))
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise SandboxError(f"eks-sandbox not ready after {timeout}s:\n" + _tail(stderr_path))
        time.sleep(0.05)
    return RunningSandbox(process, state_dir, stderr_path)


def _tail(path, limit=4000):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-limit:]
    except OSError:
        return ""
