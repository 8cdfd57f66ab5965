"""The kubelet stand-in: scheduling, container states, events and logs for every pod.

Containers do not run images. What a container's command asks for is interpreted:

- ``aws ...`` runs the real AWS CLI (the ``aws`` executable beside ``sys.executable``) in a
  subprocess whose environment is only the container's environment after admission, plus
  ``PATH``, a private ``HOME``, ``AWS_ENDPOINT_URL`` (the sandbox), empty config and credentials
  files and ``AWS_EC2_METADATA_DISABLED=true`` (there is no node role to fall back to), and
  ``AWS_REGION`` copied to ``AWS_DEFAULT_REGION`` as the CLI v2 of the images reads it. Every
  ``serviceAccountToken`` source of a projected volume the container mounts is issued by TokenRequest
  (its audience and expirationSeconds, bound to the pod), as the kubelet does, into a private file; an
  environment variable naming a file under such a mount (``AWS_WEB_IDENTITY_TOKEN_FILE`` for IRSA,
  ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` for EKS Pod Identity) is pointed at that file. When the AWS
  token file variables name no projected token, they point at a file that does not exist.
- ``sleep N`` keeps the container running for N seconds (``infinity``: until the pod goes);
  ``echo``, ``true`` and ``exit N`` do what the shell does.
- ``sh -c '...'`` / ``bash -c '...'`` scripts are split on ``&&``, ``||`` and ``;`` into those.
- A container without a command runs its args (images such as busybox have no entrypoint), or,
  without args either, keeps running (a server image). The AWS CLI images' entrypoint is ``aws``.
- Anything else ends the container with exit code 127 and a log line saying the sandbox cannot
  run it.

A container that exits is not started again: with ``restartPolicy`` Always (or OnFailure after a
failure) it shows ``CrashLoopBackOff`` with restartCount 1 and the run's logs, without re-running.
"""

import datetime
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import uuid


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


AWS_CLI_IMAGES = ("aws-cli", "awscli")
SANDBOX_RUNS = "this sandbox's kubelet runs only the aws CLI, sleep, echo, true and exit"
COMMAND_TIMEOUT = 120


def _now_nano():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


class ContainerConfigError(Exception):
    pass


# Variables naming the token file the AWS SDKs read: IRSA's and EKS Pod Identity's.
TOKEN_FILE_VARIABLES = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")


# --------------------------------------------------------------------------- commands


def _expand_kubernetes_vars(text, env):
    """``$(VAR)`` references in command, args and env values; ``$$`` escapes."""

    def replace(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, text)


def _expand_shell_vars(script, env):
    return re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
        lambda m: env.get(m.group(1) or m.group(2), ""),
        script,
    )


def plan_command(container, env):
    """``(steps, keep_running)``: ``steps`` is ``[(connector, argv)]`` with connector ``&&``/``||``/``;``."""
    command = [_expand_kubernetes_vars(str(part), env) for part in container.get("command") or []]
    args = [_expand_kubernetes_vars(str(part), env) for part in container.get("args") or []]
    if not command:
        image = container.get("image", "")
        if any(marker in image for marker in AWS_CLI_IMAGES):
            command = ["aws"]
        elif not args:
            return [], True
    argv = command + args
    if os.path.basename(argv[0]) in ("sh", "bash", "ash", "dash") and len(argv) >= 3 and argv[1] == "-c":
        return _split_script(_expand_shell_vars(argv[2], env)), False
    return [(";", argv)], False


def _split_script(script):
    script = re.sub(r"\s\d?>&\d\b|\s\d?>>?\s*/dev/null\b", " ", script)
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    steps, current, connector = [], [], ";"
    for token in lexer:
        if token in ("&&", "||", ";"):
            if current:
                steps.append((connector, current))
            current, connector = [], token
        else:
            current.append(token)  # "|" and "&" stay in: such steps are refused
    if current:
        steps.append((connector, current))
    return steps


def _sleep_seconds(argv):
    if len(argv) < 2:
        return None
    total = 0.0
    for word in argv[1:]:
        if word == "infinity":
            return float("inf")
        match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", word)
        if not match:
            return None
        total += float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return total


# --------------------------------------------------------------------------- kubelet


class Kubelet:
    """Runs every pod of one cluster on one node, each in its own thread."""

    def __init__(self, cluster):
        self.cluster = cluster
        octets = [random.randint(0, 255) for _unused in range(2)]
        self.node_ip = f"192.168.{octets[0]}.{octets[1]}"
        self.node_name = f"ip-192-168-{octets[0]}-{octets[1]}.{cluster.region}.compute.internal"
        self._lock = threading.Lock()
        self._pods = {}  # uid -> PodRun
        self._logs = {}  # (uid, container) -> [(timestamp, line)]

    def start(self, pod):
        run = PodRun(self, pod)
        with self._lock:
            self._pods[pod["metadata"]["uid"]] = run
        run.thread.start()

    def stop(self, uid):
        with self._lock:
            run = self._pods.pop(uid, None)
            for key in [k for k in self._logs if k[0] == uid]:
                del self._logs[key]
        if run:
            run.stop()

    def stop_all(self):
        with self._lock:
            runs = list(self._pods.values())
            self._pods.clear()
        for run in runs:
            run.stop()
        for run in runs:
            run.thread.join(timeout=5)

    def append_log(self, uid, container, text):
        with self._lock:
            lines = self._logs.setdefault((uid, container), [])
            for line in text.splitlines():
                lines.append((_now_nano(), line))

    def log_lines(self, uid, container):
        with self._lock:
            return list(self._logs.get((uid, container), []))


class PodRun:
    def __init__(self, kubelet, pod):
        self.kubelet = kubelet
        self.cluster = kubelet.cluster
        self.namespace = pod["metadata"]["namespace"]
        self.name = pod["metadata"]["name"]
        self.uid = pod["metadata"]["uid"]
        self.spec = pod["spec"]
        self.pod_ip = f"192.168.{random.randint(0, 255)}.{random.randint(1, 254)}"
        self.stopped = threading.Event()
        self.deadline_hit = threading.Event()
        self._procs = set()
        self._proc_lock = threading.Lock()
        self.workdir = os.path.join(self.cluster.workdir, "pods", self.uid)
        self.thread = threading.Thread(target=self._run, name=f"kubelet-{self.namespace}-{self.name}", daemon=True)

    # ------------------------------------------------------------------ plumbing

    def stop(self):
        self.stopped.set()
        self._kill_all()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _kill_all(self):
        with self._proc_lock:
            for proc in list(self._procs):
                try:
                    proc.kill()
                except OSError:
                    pass

    def _alive(self):
        return not self.stopped.is_set() and not self.deadline_hit.is_set()

    def update(self, mutate):
        """Apply ``mutate(pod)`` to the stored pod, unless it is gone or was replaced."""
        if self.stopped.is_set():
            return None
        return self.cluster.update_pod(self.namespace, self.name, self.uid, mutate)

    def event(self, reason, message, kind="Normal", field_path=None, component="kubelet"):
        if not self.stopped.is_set():
            self.cluster.record_event(self.namespace, self.name, self.uid, reason, message, kind, field_path, component,
                                      self.kubelet.node_name)

    def _container_status(self, container, state, ready=False, started=False, restart_count=0, last_state=None):
        status = {
            "name": container["name"],
            "image": container.get("image", ""),
            "imageID": "",
            "state": state,
            "lastState": last_state or {},
            "ready": ready,
            "restartCount": restart_count,
            "started": started,
            "volumeMounts": [
                {k: v for k, v in m.items() if k in ("name", "mountPath", "readOnly")} | {"recursiveReadOnly": "Disabled"}
                if m.get("readOnly") else {k: v for k, v in m.items() if k in ("name", "mountPath")}
                for m in container.get("volumeMounts") or []
            ],
        }
        if "running" in state or "terminated" in state:
            image = container.get("image", "")
            status["imageID"] = "docker.io/library/" + image.split(":")[0] + "@sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, image).hex * 2
            container_uuid = uuid.uuid5(uuid.NAMESPACE_OID, self.uid + container["name"])
            status["containerID"] = "containerd://" + container_uuid.hex * 2
        return status

    def _set_container(self, list_name, container, status):
        def mutate(pod):
            statuses = pod["status"].setdefault(list_name, [])
            for index, existing in enumerate(statuses):
                if existing["name"] == container["name"]:
                    statuses[index] = status
                    break
            else:
                statuses.append(status)
            if list_name == "containerStatuses":
                self._settle_phase(pod)
            self._refresh_conditions(pod)

        self.update(mutate)

    def _settle_phase(self, pod):
        """Set the final phase in the same update as the last container's termination.

        The real kubelet computes phase and container statuses in one status sync, so a client never sees
        every container terminated while the pod is still Running.
        """
        policy = self.spec.get("restartPolicy", "Always")
        containers = self.spec.get("containers") or []
        terminated = {}
        for status in pod["status"].get("containerStatuses") or []:
            state = status.get("state") or {}
            if "terminated" in state:
                terminated[status["name"]] = state["terminated"].get("exitCode", 1)
        if len(terminated) < len(containers) or any(c["name"] not in terminated for c in containers):
            return
        codes = list(terminated.values())
        if policy == "Never" or (policy == "OnFailure" and all(code == 0 for code in codes)):
            pod["status"]["phase"] = "Succeeded" if all(code == 0 for code in codes) else "Failed"

    @staticmethod
    def _condition(pod, kind, value):
        conditions = pod["status"].setdefault("conditions", [])
        for condition in conditions:
            if condition["type"] == kind:
                if condition["status"] != value:
                    condition["status"] = value
                    condition["lastTransitionTime"] = now_rfc3339()
                return
        conditions.append({"type": kind, "status": value, "lastProbeTime": None, "lastTransitionTime": now_rfc3339()})

    def _refresh_conditions(self, pod):
        statuses = pod["status"].get("containerStatuses") or []
        init_statuses = pod["status"].get("initContainerStatuses") or []
        initialized = all("terminated" in s["state"] and s["state"]["terminated"]["exitCode"] == 0 for s in init_statuses)
        initialized = initialized and len(init_statuses) == len(self.spec.get("initContainers") or [])
        ready = bool(statuses) and len(statuses) == len(self.spec.get("containers") or []) and all(s["ready"] for s in statuses)
        self._condition(pod, "Initialized", "True" if initialized else "False")
        self._condition(pod, "Ready", "True" if ready else "False")
        self._condition(pod, "ContainersReady", "True" if ready else "False")

    # ------------------------------------------------------------------ lifecycle

    def _run(self):
        try:
            self._lifecycle()
        except Exception as error:  # the kubelet must never take the server down
            self.kubelet.append_log(self.uid, (self.spec.get("containers") or [{}])[0].get("name", ""), f"sandbox kubelet error: {error}")

    def _lifecycle(self):
        time.sleep(0.05)
        node = self.kubelet.node_name

        def schedule(pod):
            pod["spec"]["nodeName"] = node
            pod["status"]["conditions"] = [
                {"type": "PodReadyToStartContainers", "status": "False", "lastProbeTime": None, "lastTransitionTime": now_rfc3339()},
                {"type": "Initialized", "status": "False", "lastProbeTime": None, "lastTransitionTime": now_rfc3339()},
                {"type": "Ready", "status": "False", "lastProbeTime": None, "lastTransitionTime": now_rfc3339()},
                {"type": "ContainersReady", "status": "False", "lastProbeTime": None, "lastTransitionTime": now_rfc3339()},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now_rfc3339()},
            ]
            pod["status"]["hostIP"] = self.kubelet.node_ip
            pod["status"]["hostIPs"] = [{"ip": self.kubelet.node_ip}]
            pod["status"]["startTime"] = now_rfc3339()
            init = self.spec.get("initContainers") or []
            if init:
                pod["status"]["initContainerStatuses"] = [
                    self._container_status(c, {"waiting": {"reason": "PodInitializing"}}) for c in init
                ]
            pod["status"]["containerStatuses"] = [
                self._container_status(c, {"waiting": {"reason": "PodInitializing" if init else "ContainerCreating"}})
                for c in self.spec.get("containers") or []
            ]
            self._refresh_conditions(pod)

        if self.update(schedule) is None:
            return
        self.event("Scheduled", f"Successfully assigned {self.namespace}/{self.name} to {node}",
                   component="default-scheduler")
        deadline = self.spec.get("activeDeadlineSeconds")
        if deadline:
            timer = threading.Timer(deadline, self._deadline_exceeded)
            timer.daemon = True
            timer.start()
        os.makedirs(self.workdir, exist_ok=True)

        def sandbox_ready(pod):
            pod["status"]["podIP"] = self.pod_ip
            pod["status"]["podIPs"] = [{"ip": self.pod_ip}]
            self._condition(pod, "PodReadyToStartContainers", "True")

        self.update(sandbox_ready)
        restart_policy = self.spec.get("restartPolicy", "Always")

        for index, container in enumerate(self.spec.get("initContainers") or []):
            result = self._run_container("initContainerStatuses", f"spec.initContainers{{{container['name']}}}", container, restart_policy, init=True)
            if result != 0 or not self._alive():
                if self._alive() and restart_policy == "Never":
                    self.update(lambda pod: pod["status"].update(phase="Failed"))
                return

        def running(pod):
            pod["status"]["phase"] = "Running"
            pod["status"]["containerStatuses"] = [
                s if s["state"].get("waiting", {}).get("reason") != "PodInitializing"
                else self._container_status(c, {"waiting": {"reason": "ContainerCreating"}})
                for s, c in zip(pod["status"]["containerStatuses"], self.spec.get("containers") or [])
            ]

        self.update(running)
        results = {}
        threads = []
        for container in self.spec.get("containers") or []:
            def target(c=container):
                results[c["name"]] = self._run_container("containerStatuses", f"spec.containers{{{c['name']}}}", c, restart_policy)
            thread = threading.Thread(target=target, daemon=True)
            threads.append(thread)
            thread.start()
        for thread in threads:
            thread.join()
        if not self._alive():
            return
        codes = list(results.values())
        if restart_policy == "Never" or (restart_policy == "OnFailure" and all(code == 0 for code in codes)):
            phase = "Succeeded" if all(code == 0 for code in codes) else "Failed"
            self.update(lambda pod: pod["status"].update(phase=phase))

    def _deadline_exceeded(self):
        if self.stopped.is_set():
            return
        pod = self.cluster.store.get("pods", self.namespace, self.name)
        if pod is None or pod["metadata"]["uid"] != self.uid or pod["status"].get("phase") in ("Succeeded", "Failed"):
            return
        self.deadline_hit.set()
        self._kill_all()
        message = "Pod was active on the node longer than the specified deadline"

        def fail(pod):
            pod["status"].update(phase="Failed", reason="DeadlineExceeded", message=message)
            for list_name in ("initContainerStatuses", "containerStatuses"):
                for status in pod["status"].get(list_name) or []:
                    if "terminated" not in status["state"]:
                        started = status["state"].get("running", {}).get("startedAt")
                        status["state"] = {"terminated": {"exitCode": 137, "reason": "Error", "startedAt": started, "finishedAt": now_rfc3339()}}
                        status["ready"] = False
                        status["started"] = False
            self._refresh_conditions(pod)

        self.update(fail)
        self.event("DeadlineExceeded", message, kind="Warning")

    # ------------------------------------------------------------------ containers

    def _run_container(self, list_name, field_path, container, restart_policy, init=False):
        """Start, run and end one container; returns its exit code (None when it never started)."""
        name = container["name"]
        try:
            env = self._environment(container)
        except ContainerConfigError as error:
            self._set_container(list_name, container, self._container_status(
                container, {"waiting": {"reason": "CreateContainerConfigError", "message": str(error)}}))
            self.event("Failed", f"Error: {error}", kind="Warning", field_path=field_path)
            return None
        image = container.get("image", "")
        if container.get("imagePullPolicy") == "Always":
            self.event("Pulling", f'Pulling image "{image}"', field_path=field_path)
            self.event("Pulled", f'Successfully pulled image "{image}" in 412ms (412ms including waiting). '
                       "Image size: 2167089 bytes.", field_path=field_path)
        else:
            self.event("Pulled", f'Container image "{image}" already present on machine', field_path=field_path)
        self.event("Created", f"Created container: {name}", field_path=field_path)
        self.event("Started", f"Started container {name}", field_path=field_path)
        started_at = now_rfc3339()
        self._set_container(list_name, container, self._container_status(
            container, {"running": {"startedAt": started_at}}, ready=not init, started=True))

        steps, keep_running = plan_command(container, env)
        if keep_running:
            self.stopped.wait()
            return None
        code = 0
        for connector, argv in steps:
            if not self._alive():
                return None
            if (connector == "&&" and code != 0) or (connector == "||" and code == 0):
                continue
            code, finished = self._run_step(container, env, argv)
            if finished:
                break
        if not self._alive():
            return None
        terminated = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": started_at,
            "finishedAt": now_rfc3339(),
            "containerID": "containerd://" + uuid.uuid5(uuid.NAMESPACE_OID, self.uid + name).hex * 2,
        }
        restarts = restart_policy == "Always" or (restart_policy == "OnFailure" and code != 0)
        if init and code == 0:
            restarts = False
        if restarts:
            message = f"back-off 10s restarting failed container={name} pod={self.name}_{self.namespace}({self.uid})"
            status = self._container_status(
                container, {"waiting": {"reason": "CrashLoopBackOff", "message": message}},
                restart_count=1, last_state={"terminated": terminated})
            self._set_container(list_name, container, status)
            self.event("BackOff", f"Back-off restarting failed container {name} in pod {self.name}_{self.namespace}({self.uid})",
                       kind="Warning", field_path=field_path)
        else:
            status = self._container_status(container, {"terminated": terminated})
            self._set_container(list_name, container, status)
        return code

    def _run_step(self, container, env, argv):
        """Run one simple command; returns ``(exit code, whether the script ends here)``."""
        name = container["name"]
        program = os.path.basename(argv[0])
        if program == "exec" and len(argv) > 1:
            argv = argv[1:]
            program = os.path.basename(argv[0])
        if program == "aws" and "|" not in argv and "&" not in argv:
            return self._run_aws(container, env, argv[1:]), False
        if program == "sleep":
            seconds = _sleep_seconds(argv)
            if seconds is not None:
                self.stopped.wait(None if seconds == float("inf") else seconds)
                return 0, False
        if program == "echo" and "|" not in argv:
            self.kubelet.append_log(self.uid, name, " ".join(argv[1:]) + "\n")
            return 0, False
        if program in ("true", ":", "set"):
            return 0, False
        if program == "false":
            return 1, False
        if program == "exit":
            try:
                return (int(argv[1]) if len(argv) > 1 else 0), True
            except ValueError:
                return 2, True
        self.kubelet.append_log(
            self.uid, name, f"eks-sandbox: cannot run {shlex.join(argv)!r}: {SANDBOX_RUNS}\n")
        return 127, False

    def _environment(self, container):
        env = {}
        if container.get("envFrom"):
            source = container["envFrom"][0]
            ref = source.get("configMapRef") or source.get("secretRef") or {}
            kind = "configmap" if "configMapRef" in source else "secret"
            raise ContainerConfigError(f'{kind} "{ref.get("name", "")}" not found')
        pod = self.cluster.store.get("pods", self.namespace, self.name) or {"metadata": {}, "spec": self.spec, "status": {}}
        for item in container.get("env") or []:
            if "valueFrom" in item:
                source = item["valueFrom"]
                if "fieldRef" in source:
                    env[item["name"]] = _field_ref(pod, source["fieldRef"].get("fieldPath", ""))
                elif "secretKeyRef" in source or "configMapKeyRef" in source:
                    ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
                    if ref.get("optional"):
                        continue
                    kind = "secret" if "secretKeyRef" in source else "configmap"
                    raise ContainerConfigError(f'{kind} "{ref.get("name", "")}" not found')
                else:
                    env[item["name"]] = ""
            else:
                env[item["name"]] = _expand_kubernetes_vars(str(item.get("value", "")), env)
        return env

    def _process_env(self, container, env):
        home = os.path.join(self.workdir, container["name"])
        os.makedirs(home, exist_ok=True)
        config = os.path.join(home, "aws-config")
        credentials = os.path.join(home, "aws-credentials")
        for path in (config, credentials):
            open(path, "w").close()
        process_env = dict(env)
        if env.get("AWS_REGION"):
            # Pods run the AWS CLI v2 image, where AWS_REGION wins over AWS_DEFAULT_REGION; the CLI
            # v1 run here reads only AWS_DEFAULT_REGION.
            process_env["AWS_DEFAULT_REGION"] = env["AWS_REGION"]
        for key, value in env.items():
            projected = self._token_file(container, value, home) if value.startswith("/") else None
            if projected is not None:
                process_env[key] = projected
            elif key in TOKEN_FILE_VARIABLES:
                process_env[key] = os.path.join(home, "missing-token-volume", "token")
        bin_dir = os.path.dirname(sys.executable)
        process_env.update(
            PATH=os.pathsep.join([bin_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
            HOME=home,
            AWS_ENDPOINT_URL=self.cluster.aws_endpoint_url,
            AWS_CONFIG_FILE=config,
            AWS_SHARED_CREDENTIALS_FILE=credentials,
            AWS_EC2_METADATA_DISABLED="true",
        )
        return process_env, home

    def _token_file(self, container, path, home):
        """Where the container's token file ``path`` really is: a file issued for the ``serviceAccountToken``
        source of a projected volume mounted there; None when no such source projects ``path``."""
        target = os.path.join(home, "missing-token-volume", "token")
        volumes = {v["name"]: v for v in self.spec.get("volumes") or []}
        for mount in container.get("volumeMounts") or []:
            mount_path = mount.get("mountPath", "").rstrip("/")
            if not path.startswith(mount_path + "/"):
                continue
            relative = path[len(mount_path) + 1:]
            for source in (volumes.get(mount.get("name"), {}).get("projected") or {}).get("sources") or []:
                projection = source.get("serviceAccountToken")
                if projection and projection.get("path") == relative:
                    token = self.cluster.issue_pod_token(
                        self.namespace, self.spec.get("serviceAccountName"), self.name, self.uid,
                        projection.get("audience"), projection.get("expirationSeconds", 3600),
                        self.kubelet.node_name,
                    )
                    if token is None:
                        return target
                    directory = os.path.join(home, "token-" + mount.get("name"))
                    os.makedirs(directory, exist_ok=True)
                    target = os.path.join(directory, relative)
                    with open(target, "w") as handle:
                        handle.write(token)
                    return target
        return None

    def _run_aws(self, container, env, args):
        name = container["name"]
        aws = os.path.join(os.path.dirname(sys.executable), "aws")
        process_env, home = self._process_env(container, env)
        try:
            proc = subprocess.Popen(
                [aws] + args, env=process_env, cwd=home, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
        except OSError as error:
            self.kubelet.append_log(self.uid, name, f"eks-sandbox: cannot start the AWS CLI: {error}\n")
            return 127
        with self._proc_lock:
            self._procs.add(proc)
        if self.stopped.is_set() or self.deadline_hit.is_set():
            proc.kill()
        timer = threading.Timer(COMMAND_TIMEOUT, proc.kill)
        timer.daemon = True
        timer.start()
        try:
            for line in proc.stdout:
                self.kubelet.append_log(self.uid, name, line)
            return proc.wait()
        finally:
            timer.cancel()
            proc.stdout.close()
            with self._proc_lock:
                self._procs.discard(proc)


def _field_ref(pod, path):
    meta = pod.get("metadata", {})
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName", ""),
        "spec.nodeName": pod.get("spec", {}).get("nodeName", ""),
        "status.podIP": pod.get("status", {}).get("podIP", ""),
        "status.hostIP": pod.get("status", {}).get("hostIP", ""),
    }
    if path in simple:
        return simple[path] or ""
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return (meta.get(match.group(1)) or {}).get(match.group(2), "")
    return ""
