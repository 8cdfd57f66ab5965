"""No credential ever reaches the output: the Kubernetes API token, EKS tokens, ServiceAccount tokens and
STS credentials are searched for, by value, in a -vvv run of the modules and of the role, in the results
the modules return, and in the sandbox's own output and request log.

The values come from the sandbox (GET /_sandbox/secrets, test only): every secret access key and session
token it issued, every ServiceAccount token its clusters signed, every EKS bearer token presented to
them, and their admin tokens. Failure messages name the kind of secret and where it appeared, never
the secret itself.
"""

import base64
import json
import os
from urllib.parse import quote

import pytest
import yaml
from irsa_sandbox.testing import start_sandbox
from playbook_runner import ROOT, run_playbook

SITE = os.path.join(ROOT, "playbooks", "site.yml")
TEARDOWN = os.path.join(ROOT, "playbooks", "teardown.yml")
CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins")
EKS_TOKEN_PREFIX = "k8s-aws-v1."


def secret_forms(category, value):
    """The forms in which a credential would show up: as it is, URL-encoded (inside a presigned URL),
    and for tokens the part that is the secret on its own."""
    forms = {value, quote(value, safe="")}
    if category == "eks_bearer_tokens":
        forms.add(value[len(EKS_TOKEN_PREFIX):])
    if category == "service_account_tokens":
        forms.add(value.rsplit(".", 1)[-1])  # the signature
    return {form for form in forms if form}


def find_leaks(secrets, texts):
    """``["<kind> #<n> appears in <where>", ...]`` for every secret of ``secrets`` found in ``texts``."""
    found = set()
    for category, values in sorted(secrets.items()):
        for index, value in enumerate(values):
            for form in secret_forms(category, value):
                found.update("%s #%d appears in %s" % (category, index, where) for where, text in texts.items() if form in text)
    return sorted(found)


# Whatever their value: an EKS bearer token, a JWT (ServiceAccount tokens), the fields of STS credentials.
SECRET_SHAPES = {"an EKS bearer token": EKS_TOKEN_PREFIX, "a JWT": "eyJhbGciOi", "an STS SessionToken field": "SessionToken",
                 "an STS SecretAccessKey field": "SecretAccessKey"}


def find_shapes(texts):
    return sorted("%s appears in %s" % (shape, where) for shape, marker in SECRET_SHAPES.items()
                  for where, text in texts.items() if marker in text)


def redacted(text, secrets):
    """``text`` with every secret of ``secrets`` replaced by its kind, safe to show in a failure message."""
    for category, values in secrets.items():
        for value in values:
            for form in sorted(secret_forms(category, value), key=len, reverse=True):
                text = text.replace(form, "<%s>" % category)
    return text


def presigned_url(eks_token):
    encoded = eks_token[len(EKS_TOKEN_PREFIX):]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


def sandbox_output(sandbox):
    with open(os.path.join(sandbox.state_dir, "sandbox.stderr"), encoding="utf-8", errors="replace") as handle:
        return handle.read()


@pytest.fixture
def fresh(tmp_path):
    with start_sandbox(str(tmp_path / "sandbox")) as running:
        yield running


def test_tokens_never_appear_in_verbose_output(fresh, tmp_path):
    sandbox = fresh
    with open(sandbox.env["KUBECONFIG"], encoding="utf-8") as handle:
        kubeconfig = yaml.safe_load(handle)
    cluster = kubeconfig["clusters"][0]["cluster"]
    admin_token = kubeconfig["users"][0]["user"]["token"]
    ca_path = tmp_path / "ca.crt"
    ca_path.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    playbook = tmp_path / "secrets.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/eks.irsa.irsa": {"endpoint_url": "{{ aws_endpoint_url }}", "region": "{{ aws_region }}",
                                                    "access_key": "{{ aws_access_key }}", "secret_key": "{{ aws_secret_key }}"}},
        "tasks": [
            {"name": "Provider", "eks.irsa.eks_oidc_provider": {"cluster_name": "{{ irsa_sandbox_cluster }}"}},
            {"name": "Role", "eks.irsa.irsa_role": {"name": "{{ resource_prefix }}", "cluster_name": "{{ irsa_sandbox_cluster }}",
                                                    "service_accounts": ["default:{{ resource_prefix }}"]}, "register": "role"},
            {"name": "Annotate with host and api_key", "eks.irsa.irsa_service_account": {
                "name": "{{ resource_prefix }}", "role_arn": "{{ role.role.arn }}", "host": cluster["server"],
                "api_key": admin_token, "ca_cert": str(ca_path)}, "diff": True},
            {"name": "Annotate with the kubeconfig as a dict", "eks.irsa.irsa_service_account": {
                "name": "{{ resource_prefix }}", "role_arn": "{{ role.role.arn }}", "kubeconfig": kubeconfig,
                "labels": {"step": "dict"}}, "diff": True},
            {"name": "Annotate in EKS mode", "eks.irsa.irsa_service_account": {
                "name": "{{ resource_prefix }}", "role_arn": "{{ role.role.arn }}", "cluster_name": "{{ irsa_sandbox_cluster }}"}},
            {"name": "Verify with token and pod", "eks.irsa.irsa_verify": {
                "service_account": "{{ resource_prefix }}", "namespace": "default", "cluster_name": "{{ irsa_sandbox_cluster }}",
                "checks": ["static", "token", "pod"]}},
            {"name": "A failing call in EKS mode", "eks.irsa.irsa_service_account": {
                "name": "{{ resource_prefix }}", "namespace": "no-such-namespace", "role_arn": "{{ role.role.arn }}",
                "cluster_name": "{{ irsa_sandbox_cluster }}"}, "ignore_errors": True},
            {"name": "Remove the role", "eks.irsa.irsa_role": {"name": "{{ resource_prefix }}", "state": "absent"}},
        ],
    }]), encoding="utf-8")
    result = run_playbook(sandbox, str(playbook), str(tmp_path), args=["-vvv", "--diff"])
    assert result.returncode == 0, redacted(result.stdout[-6000:], sandbox.secrets())
    output = result.stdout
    request_log = json.dumps(sandbox.log())
    assert "serviceaccounts/token" in request_log  # the token check did ask for ServiceAccount tokens
    secrets = sandbox.secrets()
    assert admin_token in secrets["kubernetes_admin_tokens"]
    assert secrets["service_account_tokens"] and secrets["eks_bearer_tokens"] and secrets["aws_session_tokens"]
    texts = {"the -vvv output": output, "the sandbox's output": sandbox_output(sandbox), "the request log": request_log}
    leaks = find_leaks(secrets, texts) + find_shapes(texts)
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("k8s_auth", ["eks", "kubeconfig"])
def test_a_verbose_run_of_the_role_leaks_no_credential(fresh, tmp_path, k8s_auth):
    """site.yml and teardown.yml with -vvv and --diff, every check, as a pipeline with temporary AWS
    credentials runs them: given as role variables in EKS mode, as AWS_* variables with a kubeconfig."""
    sandbox = fresh
    account = sandbox.vars["aws_account_id"]
    pipeline_role = sandbox.create_role("irsa-pipeline", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % account}, "Action": "sts:AssumeRole"}]})
    credentials = sandbox.client("sts").assume_role(RoleArn=pipeline_role, RoleSessionName="pipeline")["Credentials"]
    results = tmp_path / "results.jsonl"
    env = {"ANSIBLE_CALLBACK_PLUGINS": CALLBACKS, "ANSIBLE_CALLBACKS_ENABLED": "irsa_results", "IRSA_RESULTS_FILE": str(results)}
    values = {"irsa_cluster_name": sandbox.vars["irsa_sandbox_cluster"], "irsa_k8s_auth": k8s_auth,
              "irsa_verify_checks": ["static", "token", "pod"],
              "irsa_bindings": [{"service_account": "irsa-test", "namespace": "default", "role_name": "irsa-secrets",
                                 "tags": {"team": "platform"}}]}
    if k8s_auth == "eks":
        # The pipeline's role is an admin of the cluster (an EKS access entry, as its creator's would be).
        sandbox.control("POST", "access-entries/%s" % sandbox.vars["irsa_sandbox_cluster"],
                        {"principal_arn": pipeline_role, "groups": ["system:masters"]})
        values.update(irsa_aws_access_key=credentials["AccessKeyId"], irsa_aws_secret_key=credentials["SecretAccessKey"],
                      irsa_aws_session_token=credentials["SessionToken"])
    else:
        values["irsa_kubeconfig"] = sandbox.env["KUBECONFIG"]
        env.update(AWS_ACCESS_KEY_ID=credentials["AccessKeyId"], AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
                   AWS_SESSION_TOKEN=credentials["SessionToken"])
    variables = tmp_path / "vars.yml"
    variables.write_text(yaml.safe_dump(values), encoding="utf-8")
    variables.chmod(0o600)

    outputs = {}
    for playbook in (SITE, TEARDOWN):
        result = run_playbook(sandbox, playbook, str(tmp_path), extra_vars=["@" + str(variables)], args=["-vvv", "--diff"], env=env)
        outputs[os.path.basename(playbook)] = result.stdout
        assert result.returncode == 0, redacted(result.stdout[-6000:], sandbox.secrets())
    assert "default/irsa-test -> arn:aws:iam::%s:role/irsa-secrets: changed, verified" % account in outputs["site.yml"]
    assert "ESTABLISH LOCAL CONNECTION" in outputs["site.yml"]  # really -vvv

    module_results = results.read_text(encoding="utf-8")
    verified = [json.loads(line)["result"] for line in module_results.splitlines() if '"caller_identity"' in line]
    assert verified and verified[0]["results"][0]["verified"] is True  # the results of every module were recorded

    secrets = sandbox.secrets()
    # The search is not empty-handed: the pipeline's credentials, the tokens of the token and pod checks
    # and the credentials STS gave in exchange for them, the Kubernetes credential of each mode.
    assert credentials["SecretAccessKey"] in secrets["aws_secret_access_keys"]
    assert credentials["SessionToken"] in secrets["aws_session_tokens"]
    assert len(secrets["service_account_tokens"]) >= 2 and len(secrets["aws_session_tokens"]) >= 3
    if k8s_auth == "eks":
        carried = [token for token in secrets["eks_bearer_tokens"] if quote(credentials["SessionToken"], safe="") in presigned_url(token)]
        assert carried, "no EKS bearer token was made from the pipeline's temporary credentials"
    else:
        assert secrets["kubernetes_admin_tokens"] and secrets["eks_bearer_tokens"] == []

    texts = {"the -vvv output of %s" % name: text for name, text in outputs.items()}
    texts.update({"the module results": module_results, "the sandbox request log": json.dumps(sandbox.log()),
                  "the sandbox's output": sandbox_output(sandbox)})
    leaks = find_leaks(secrets, texts) + find_shapes(texts)
    assert not leaks, "\n".join(leaks)
