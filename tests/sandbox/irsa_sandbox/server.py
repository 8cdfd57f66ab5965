"""The sandbox process: the AWS gateway on one loopback port, a real Kubernetes (``kube.RealKubeCluster``)
per cluster, and the files (kubeconfig, env, vars.yml, ready) through which clients find them.

Start order matters: the AWS port first (each cluster's TokenReview webhook checks EKS bearer tokens
against it), then the clusters, then the EKS clusters in moto (they carry each cluster's URL and
CA), and the ``ready`` file last.

EKS Pod Identity: each cluster's webhook configuration follows the cluster's associations and its node's agent
the ``eks-pod-identity-agent`` add-on (``_pod_identity_changed``, a listener of the gateway's association store);
the agent signs with temporary credentials of the node role ``<cluster>-eks-node-role`` (``_node_credentials``).
"""

import base64
import datetime
import json
import os
import re
import shlex
import sys
import threading
import time
from dataclasses import dataclass

import yaml
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .aws.gateway import AwsGateway
from .core import FaultInjector, Issuer, RequestLog

DEFAULT_ACCOUNT = "123456789012"
# The sandbox's static credentials (owned by the IAM user ``sandbox-admin``). Not secrets: they
# only open this loopback sandbox.
ACCESS_KEY = "AKIASANDBOXADMIN0001"
SECRET_KEY = "sandbox/secret/key/for/the/local/eks/sandbox"
# The thumbprint AWS documents for EKS OIDC issuers (root CA of oidc.eks.<region>.amazonaws.com).
EKS_OIDC_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
EKS_VERSION = "1.32"
EKS_PLATFORM_VERSION = "eks.8"


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without one stderr line per request."""

    def log_request(self, *args, **kwargs):
        pass


@dataclass
class ClusterFacts:
    name: str
    issuer: Issuer
    kube: object
    arn: str

    def facts(self, account_id):
        return {
            "name": self.name,
            "context": self.name,
            "arn": self.arn,
            "issuer_url": self.issuer.url,
            "provider": self.issuer.provider,
            "provider_arn": f"arn:aws:iam::{account_id}:oidc-provider/{self.issuer.provider}",
            "endpoint": self.kube.url,
        }


class Sandbox:
    def __init__(self, state_dir, clusters=("sandbox",), region="us-east-1", account_id=DEFAULT_ACCOUNT,
                 create_oidc_provider=False, propagation_delay=0.0, faults=None, seed=0,
                 kube_factory=None):
        self.state_dir = os.path.abspath(state_dir)
        self.cluster_names = list(clusters)
        self.region = region
        self.account_id = account_id
        self.create_oidc_provider = create_oidc_provider
        self.log = RequestLog()
        self.faults = FaultInjector(seed)
        rules, fault_seed = _fault_config(faults)
        if rules:
            self.faults.configure(rules, fault_seed if fault_seed is not None else seed)
        self.gateway = AwsGateway(account_id, region, ACCESS_KEY, SECRET_KEY, self.log, self.faults,
                                  control=self._control)
        self.gateway.trust.delay = float(propagation_delay)
        self._kube_factory = kube_factory
        self.clusters = {}  # name -> ClusterFacts
        self._starting = []  # every cluster's Kubernetes once created, so that stop() stops it
        self._node_sessions = {}  # cluster name -> moto's AssumedRole of its node role
        self._identities_lock = threading.Lock()  # one writer of the webhooks' configuration at a time, in order
        self._server = None
        self._thread = None
        self.url = None

    # ----- lifecycle ----------------------------------------------------------------------------

    def start(self):
        os.makedirs(self.state_dir, exist_ok=True)
        _remove(os.path.join(self.state_dir, "ready"))
        from .aws import iam

        iam.install()
        self.gateway.seed_admin()

        self._server = make_server("127.0.0.1", 0, self.gateway, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=lambda: self._server.serve_forever(poll_interval=0.1), name="aws", daemon=True)
        self._thread.start()

        kube_factory = self._kube_factory
        if kube_factory is None:
            from . import kube as kube_module
            from .kube import RealKubeCluster as kube_factory

            built = kube_module.binaries()
            print("eks-sandbox: Kubernetes: " + ", ".join(
                f"{name} {version}" for name, version in kube_module.versions(built).items()) + f" (from {built})",
                file=sys.stderr, flush=True)
        kubes = {}
        for name in self.cluster_names:
            issuer = Issuer(name, self.region, self.account_id)
            workdir = os.path.join(self.state_dir, "clusters", name)
            os.makedirs(workdir, exist_ok=True)
            kubes[name] = issuer, kube_factory(name=name, region=self.region, account_id=self.account_id, issuer=issuer,
                                               aws_endpoint_url=self.url, log=self.log, faults=self.faults, workdir=workdir)
        self._starting = [kube for _issuer, kube in kubes.values()]
        # One after the other, from this thread: each child process dies with the thread that started it
        # (PR_SET_PDEATHSIG), so they must not be started from short-lived threads.
        for kube in self._starting:
            kube.start()
        for name, (issuer, kube) in kubes.items():
            arn = self._seed_eks_cluster(name, issuer, kube)
            if hasattr(kube, "jwks"):  # the gate reads the keys the apiserver publishes, as AWS fetches the issuer's
                from .kube import JwksIssuer

                self.gateway.issuers[issuer.url] = JwksIssuer(issuer, kube)
            else:
                self.gateway.issuers[issuer.url] = issuer
            self.clusters[name] = ClusterFacts(name, issuer, kube, arn)
            kube.node_credentials = lambda name=name: self._node_credentials(name)
            if self.create_oidc_provider:
                self.gateway.moto(self.gateway.iam.create_open_id_connect_provider,
                                  url=issuer.url, thumbprint_list=[EKS_OIDC_THUMBPRINT],
                                  client_id_list=["sts.amazonaws.com"], tags=[])
        self.gateway.pod_identity.listeners.append(self._pod_identity_changed)
        self._write_files()

    def _pod_identity_changed(self, kind, cluster, *change):
        """A change of the association store: rewrite the cluster's webhook configuration, or start or stop its
        node's Pod Identity Agent."""
        facts = self.clusters.get(cluster)
        if facts is None:
            return
        if kind == "associations" and hasattr(facts.kube, "write_pod_identities"):
            with self._identities_lock:  # so that the last write is of the latest associations
                facts.kube.write_pod_identities(self.gateway.pod_identity.identities(cluster))
        elif kind == "addon" and change[0] == "eks-pod-identity-agent" and hasattr(facts.kube, "set_pod_identity_agent"):
            facts.kube.set_pod_identity_agent(change[1])

    def _node_credentials(self, cluster):
        """``(access key, secret key, session token)`` of the node role's instance session (renewed 5 minutes
        before it expires), as the node's instance profile gives them to the agent."""
        from .aws import sts

        def assume():
            session = self._node_sessions.get(cluster)
            expiration = session.expiration if session is not None else None
            if expiration is not None and expiration.tzinfo is None:
                expiration = expiration.replace(tzinfo=datetime.timezone.utc)
            if session is None or expiration - datetime.datetime.now(datetime.timezone.utc) < datetime.timedelta(minutes=5):
                session = sts.backend(self.account_id).assume_role(
                    region_name=self.region, role_session_name="i-" + os.urandom(8).hex()[:17],
                    role_arn=f"arn:aws:iam::{self.account_id}:role/{cluster}-eks-node-role", policy="", duration=6 * 3600,
                    external_id=None)
                self._node_sessions[cluster] = session
            return session.access_key_id, session.secret_access_key, session.session_token

        return self.gateway.moto(assume)

    def stop(self):
        _remove(os.path.join(self.state_dir, "ready"))

        def stop(kube):
            try:
                kube.stop()
            except Exception:  # stopping must go on for the others
                pass

        stopping = [threading.Thread(target=stop, args=(kube,), daemon=True) for kube in self._starting]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _seed_eks_cluster(self, name, issuer, kube):
        """An ACTIVE EKS cluster in moto whose issuer, endpoint and CA are the sandbox's."""
        from moto.eks.models import eks_backends

        def create():
            backend = eks_backends[self.account_id][self.region]
            cluster = backend.create_cluster(
                name=name,
                role_arn=f"arn:aws:iam::{self.account_id}:role/{name}-eks-cluster-role",
                resources_vpc_config={
                    "subnetIds": ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a60789"],
                    "securityGroupIds": [],
                    "endpointPublicAccess": True,
                    "endpointPrivateAccess": False,
                    "publicAccessCidrs": ["0.0.0.0/0"],
                },
                version=EKS_VERSION,
            )
            cluster.identity = {"oidc": {"issuer": issuer.url}}
            cluster.endpoint = kube.url
            ca = kube.ca_pem.encode() if isinstance(kube.ca_pem, str) else kube.ca_pem
            cluster.certificate_authority = {"data": base64.b64encode(ca).decode("ascii")}
            cluster.status = "ACTIVE"
            cluster.platformVersion = EKS_PLATFORM_VERSION
            return cluster.arn

        return self.gateway.moto(create)

    # ----- files --------------------------------------------------------------------------------

    def facts(self):
        return [facts.facts(self.account_id) for facts in self.clusters.values()]

    def _write_files(self):
        kubeconfig = os.path.join(self.state_dir, "kubeconfig")
        first = self.cluster_names[0]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "current-context": first,
            "clusters": [],
            "users": [],
            "contexts": [],
        }
        for name, facts in self.clusters.items():
            ca = facts.kube.ca_pem.encode() if isinstance(facts.kube.ca_pem, str) else facts.kube.ca_pem
            config["clusters"].append({"name": name, "cluster": {
                "server": facts.kube.url,
                "certificate-authority-data": base64.b64encode(ca).decode("ascii"),
            }})
            config["users"].append({"name": f"{name}-admin", "user": {"token": facts.kube.admin_token}})
            config["contexts"].append({"name": name, "context": {"cluster": name, "user": f"{name}-admin"}})
        _write(kubeconfig, yaml.safe_dump(config, sort_keys=False), mode=0o600)

        env = {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            # Nothing here may wander off to the instance metadata service.
            "AWS_EC2_METADATA_DISABLED": "true",
            "KUBECONFIG": kubeconfig,
            "IRSA_SANDBOX_CLUSTER": first,
            "IRSA_SANDBOX_URL": self.url,
        }
        _write(os.path.join(self.state_dir, "env"),
               "".join(f"{key}={shlex.quote(value)}\n" for key, value in env.items()), mode=0o600)

        variables = {
            "aws_endpoint_url": self.url,
            "aws_region": self.region,
            "aws_access_key": ACCESS_KEY,
            "aws_secret_key": SECRET_KEY,
            "aws_account_id": self.account_id,
            "kubeconfig": kubeconfig,
            "irsa_sandbox_url": self.url,
            "irsa_sandbox_cluster": first,
            "irsa_sandbox_clusters": self.facts(),
        }
        _write(os.path.join(self.state_dir, "vars.yml"),
               yaml.safe_dump(variables, sort_keys=False), mode=0o600)
        _write(os.path.join(self.state_dir, "ready"), f"{os.getpid()}\n")

    # ----- control endpoint ---------------------------------------------------------------------

    def _control(self, environ, start_response):
        request = Request(environ)
        try:
            body = request.get_json(force=True, silent=True) if request.method == "POST" else None
            status, payload = self._control_route(request.method, request.path, body or {}, request.args)
        except ValueError as error:
            status, payload = 400, {"error": str(error)}
        response = Response(json.dumps(payload, indent=1), status=status, mimetype="application/json")
        return response(environ, start_response)

    def _cluster(self, name):
        if name not in self.clusters:
            raise ValueError(f"unknown cluster {name!r}; clusters: {sorted(self.clusters)}")
        return self.clusters[name]

    def _control_route(self, method, path, body, args=None):
        route = path[len("/_sandbox/"):].strip("/")
        if route == "log" and method == "GET":
            return 200, self.log.summary(since=int((args or {}).get("since", 0)))
        if route == "log/reset" and method == "POST":
            self.log.reset()
            return 200, {"reset": True}
        if route == "faults":
            if method == "POST":
                self.faults.configure(body.get("rules", []), body.get("seed", 0))
            return 200, {"rules": self.faults.rules()}
        if route == "propagation-delay" and method == "POST":
            self.gateway.trust.delay = float(body.get("seconds", 0))
            return 200, {"seconds": self.gateway.trust.delay}
        if route == "webhook" and method == "POST":
            facts = self._cluster(body.get("cluster") or self.cluster_names[0])
            facts.kube.webhook_enabled = bool(body.get("enabled", True))
            return 200, {"cluster": facts.name, "enabled": facts.kube.webhook_enabled}
        if route == "clusters" and method == "GET":
            return 200, {"clusters": self.facts(), "account_id": self.account_id, "region": self.region}
        if route == "gate/decisions" and method == "GET":
            return 200, {"decisions": list(self.gateway.decisions)}
        if route == "token" and method == "POST":
            return 200, {"token": self._token(body)}
        if route == "client-certificate" and method == "POST":
            kube = self._cluster(body.get("cluster") or self.cluster_names[0]).kube
            certificate, key = kube.issue_client_certificate(body.get("user", "client"), body.get("groups") or [],
                                                             body.get("expires_in", 3600))
            return 200, {"certificate": certificate, "key": key}
        if route == "secrets" and method == "GET":
            return 200, self._secrets()
        if route.startswith("tokenreview/") and method == "POST":
            return 200, self._cluster(route.split("/", 1)[1]).kube.token_review(body)
        if route.startswith("access-entries/"):
            return 200, self._access_entries(method, route.split("/", 1)[1], body)
        if route == "expire-credentials" and method == "POST":
            return 200, self._expire_credentials(body)
        if route == "iam/role" and method == "POST":
            return 200, self._role_in_account(body)
        parts = route.split("/")
        if len(parts) >= 3 and parts[0] == "oidc" and method == "GET":
            issuer = self._cluster(parts[1]).issuer
            rest = "/".join(parts[2:])
            if rest == ".well-known/openid-configuration":
                return 200, issuer.discovery()
            if rest == "keys":
                return 200, issuer.jwks()
        return 404, {"error": f"no control route {method} {path}"}

    def _access_entries(self, method, cluster, body):
        """EKS access entries of a real cluster: ``POST`` ``{"principal_arn", "groups", "username"}``
        adds or replaces one, ``POST`` ``{"principal_arn", "delete": true}`` removes it; the answer
        lists them all."""
        kube = self._cluster(cluster).kube
        entries = getattr(kube, "access_entries", None)
        if entries is None:
            raise ValueError(f"cluster {cluster} has no access entries")
        if method == "POST":
            arn = body.get("principal_arn") or ""
            if not arn:
                raise ValueError("principal_arn is required")
            if body.get("delete"):
                entries.pop(arn, None)
            else:
                entries[arn] = {"username": body.get("username"), "groups": list(body.get("groups") or [])}
        return {"cluster": cluster, "access_entries": entries}

    def _role_in_account(self, body):
        """Test-only: an IAM role in another account (``{"account_id", "name", "trust_policy"}``), as that account's
        administrator would make it, for the cross-account chaining of EKS Pod Identity's ``targetRoleArn``; the
        sandbox's own credentials reach only its account."""
        from .aws import iam

        account_id = str(body.get("account_id") or "")
        if not re.fullmatch(r"\d{12}", account_id) or account_id == self.account_id:
            raise ValueError(f"account_id {account_id!r} is not another 12-digit account")

        def create():
            role = iam.backend(account_id).create_role(
                role_name=body["name"], assume_role_policy_document=json.dumps(body["trust_policy"]), path="/",
                permissions_boundary=None, description="", tags=[], max_session_duration=None)
            return {"arn": role.arn}

        return self.gateway.moto(create)

    def _expire_credentials(self, body):
        """Test-only: move the expiration of the temporary credentials ``access_key_id`` (default:
        now), so that a test sees what a caller with expired credentials sees."""
        import datetime

        expiration = datetime.datetime.fromisoformat(body.get("expiration") or
                                                     datetime.datetime.now(datetime.timezone.utc).isoformat())

        def move():
            assumed = self.gateway.sts.get_assumed_role_from_access_key(body["access_key_id"])
            if assumed is None:
                raise ValueError(f"no temporary credentials {body['access_key_id']!r}")
            naive = assumed.expiration.tzinfo is None
            assumed.expiration = expiration.astimezone(datetime.timezone.utc).replace(tzinfo=None) if naive \
                else expiration
            return str(assumed.expiration)

        return {"access_key_id": body["access_key_id"], "expiration": self.gateway.moto(move)}

    def _secrets(self):
        """Test-only: every credential the sandbox holds or handed out, so that a test can search
        output for the values themselves."""

        from .aws import iam, sts

        def from_moto():
            sessions = [session for account in sts.accounts(self.account_id) for session in sts.backend(account).assumed_roles]
            secret_keys = {key.secret_access_key for account in sts.accounts(self.account_id)
                           for key in iam.backend(account).access_keys.values()}
            secret_keys.update(session.secret_access_key for session in sessions)
            return sorted(secret_keys), sorted({session.session_token for session in sessions})

        secret_keys, session_tokens = self.gateway.moto(from_moto)
        clusters = list(self.clusters.values())
        return {
            "aws_secret_access_keys": secret_keys,
            "aws_session_tokens": session_tokens,
            "service_account_tokens": [token for facts in clusters for token in facts.issuer.issued],
            "eks_bearer_tokens": [token for facts in clusters for token in getattr(facts.kube, "eks_tokens_seen", ())],
            "kubernetes_admin_tokens": [facts.kube.admin_token for facts in clusters if facts.kube.admin_token],
            "kubernetes_client_keys": [key for facts in clusters for key in facts.kube.client_keys_issued],
        }

    def _token(self, body):
        """Test-only: a service-account token as the cluster's TokenRequest would issue it.

        ``claims`` in the body overrides or adds claims (e.g. a foreign ``iss``)."""
        facts = self._cluster(body.get("cluster") or self.cluster_names[0])
        namespace = body.get("namespace", "default")
        service_account = body.get("service_account", "default")
        now = int(time.time())
        claims = {
            "aud": [body.get("audience", "sts.amazonaws.com")],
            "exp": now + int(body.get("expires_in", 3600)),
            "iat": now,
            "nbf": now,
            "iss": facts.issuer.url,
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": service_account, "uid": "00000000-0000-4000-8000-000000000000"},
            },
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
        }
        claims.update(body.get("claims") or {})
        return facts.issuer.sign(claims)


def _fault_config(faults):
    """``--faults`` accepts a list of rules or ``{"rules": [...], "seed": n}``."""
    if not faults:
        return [], None
    if isinstance(faults, str):
        faults = json.loads(faults)
    if isinstance(faults, list):
        return faults, None
    return faults.get("rules", []), faults.get("seed")


def _write(path, text, mode=0o644):
    """Write atomically so a reader never sees half a file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
