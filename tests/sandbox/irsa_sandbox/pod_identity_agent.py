"""The EKS Pod Identity Agent of a sandbox node: what ``eks-pod-identity-agent`` serves on every EKS node at
``http://169.254.170.23/v1/credentials``.

Here it listens on a loopback port of its own (botocore's container provider fetches over http only from a
loopback address, ``169.254.170.2``, ``169.254.170.23``, ``fd00:ec2::23`` or ``localhost``:
``ContainerMetadataFetcher._validate_allowed_url``), and only while the cluster's ``eks-pod-identity-agent``
add-on is present: without it nothing listens, so connections are refused, as on a node without the agent.

``GET /v1/credentials`` with the pod's ServiceAccount token (the content of
``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE``) as its ``Authorization`` header calls EKS Auth's
``AssumeRoleForPodIdentity`` at the sandbox's AWS endpoint, signed with the node role's credentials, and answers
in the container credentials format (``AccessKeyId``, ``SecretAccessKey``, ``Token``, ``AccountId``,
``Expiration``). An EKS Auth error is answered with its HTTP status and ``{"code", "message"}``.
"""

import datetime
import http.server
import json
import threading

CREDENTIALS_PATH = "/v1/credentials"


class PodIdentityAgent:
    """One node's agent. ``credentials()``: the node role's ``(access key, secret key, session token)``."""

    def __init__(self, cluster_name, region, aws_endpoint_url, port, credentials):
        self.cluster_name = cluster_name
        self.region = region
        self.aws_endpoint_url = aws_endpoint_url
        self.port = port
        self.credentials = credentials
        self.url = f"http://127.0.0.1:{port}{CREDENTIALS_PATH}"
        self._server = None
        self._lock = threading.Lock()

    @property
    def running(self):
        return self._server is not None

    def start(self):
        with self._lock:
            if self._server is not None:
                return
            agent = self

            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    agent.handle(self)

                def log_message(self, *args):
                    pass

            server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
            server.daemon_threads = True
            threading.Thread(target=lambda: server.serve_forever(poll_interval=0.1), name=f"pod-identity-agent-{self.cluster_name}",
                             daemon=True).start()
            self._server = server

    def stop(self):
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def handle(self, request):
        if request.path.split("?", 1)[0] != CREDENTIALS_PATH:
            return _answer(request, 404, {"code": "NotFound", "message": f"no route {request.path}"})
        token = request.headers.get("Authorization", "").strip()
        if not token:
            return _answer(request, 400, {"code": "InvalidRequest", "message": "Service account token cannot be empty"})
        try:
            status, document = self._assume(token)
        except Exception as error:  # the endpoint answers, whatever the node's trouble
            status, document = 500, {"code": "InternalError", "message": f"Failed to fetch credentials: {error}"}
        return _answer(request, status, document)

    def _assume(self, token):
        import botocore.session
        from botocore.config import Config
        from botocore.exceptions import ClientError

        key, secret, session_token = self.credentials()
        client = botocore.session.Session().create_client(
            "eks-auth", region_name=self.region, endpoint_url=self.aws_endpoint_url, aws_access_key_id=key,
            aws_secret_access_key=secret, aws_session_token=session_token,
            config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
        try:
            answer = client.assume_role_for_pod_identity(clusterName=self.cluster_name, token=token)
        except ClientError as error:
            return (error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500,
                    {"code": error.response["Error"]["Code"], "message": error.response["Error"].get("Message", "")})
        credentials = answer["credentials"]
        expiration = credentials["expiration"]
        if isinstance(expiration, datetime.datetime):
            expiration = expiration.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 200, {
            "AccessKeyId": credentials["accessKeyId"],
            "SecretAccessKey": credentials["secretAccessKey"],
            "Token": credentials["sessionToken"],
            "AccountId": answer["assumedRoleUser"]["arn"].split(":")[4],
            "Expiration": expiration,
        }


def _answer(request, status, document):
    payload = json.dumps(document).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(payload)))
    request.end_headers()
    request.wfile.write(payload)
