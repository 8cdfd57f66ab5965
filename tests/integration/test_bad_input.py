"""Bad input, across the modules and the role: each case fails with a message that says what to fix,
and nothing is written (the sandbox request log shows no write call for the whole matrix).

The cases run as the tasks of one generated playbook (one ansible-playbook process for the table),
each task's failure captured and checked here.
"""

import json

import pytest
import yaml
from playbook_runner import run_playbook

ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
ROLE = "arn:aws:iam::123456789012:role/AWSIRSATestRole"

# (case id, module or "role", arguments, phrases the message must contain)
CASES = [
    # eks_oidc_info
    ("info-no-cluster", "eks_oidc_info", {}, ["missing required arguments: cluster_name"]),
    ("info-unknown-cluster", "eks_oidc_info", {"cluster_name": "no-such-cluster"}, ["was not found in region us-east-1", "sandbox"]),
    ("info-cluster-non-ascii", "eks_oidc_info", {"cluster_name": "clüster"}, ["was not found"]),
    # eks_oidc_provider
    ("provider-both", "eks_oidc_provider", {"issuer_url": ISSUER, "cluster_name": "sandbox"}, ["mutually exclusive"]),
    ("provider-neither", "eks_oidc_provider", {}, ["one of the following is required"]),
    ("provider-http", "eks_oidc_provider", {"issuer_url": ISSUER.replace("https", "http")}, ["uses http://"]),
    ("provider-trailing-slash", "eks_oidc_provider", {"issuer_url": ISSUER + "/"}, ["ends with '/'"]),
    ("provider-upper-host", "eks_oidc_provider", {"issuer_url": ISSUER.replace("oidc.eks", "OIDC.EKS")}, ["upper case in its host name"]),
    ("provider-no-id", "eks_oidc_provider", {"issuer_url": "https://oidc.eks.us-east-1.amazonaws.com/0123"}, ["/id/<ID>"]),
    ("provider-space", "eks_oidc_provider", {"issuer_url": ISSUER + " "}, ["white space"]),
    ("provider-empty", "eks_oidc_provider", {"issuer_url": ""}, ["is empty"]),
    ("provider-non-ascii", "eks_oidc_provider", {"issuer_url": ISSUER[:-4] + "ÄÖÜß"}, ["upper-case letters and digits"]),
    ("provider-not-eks", "eks_oidc_provider", {"issuer_url": "https://token.actions.githubusercontent.com"}, ["not an EKS OIDC issuer"]),
    ("provider-thumbprint", "eks_oidc_provider", {"issuer_url": ISSUER, "thumbprints": ["abc"]}, ["40 hexadecimal characters"]),
    ("provider-six-thumbprints", "eks_oidc_provider", {"issuer_url": ISSUER, "thumbprints": ["%040x" % n for n in range(6)]},
     ["at most 5"]),
    ("provider-empty-client-id", "eks_oidc_provider", {"issuer_url": ISSUER, "client_ids": [""]}, ["empty"]),
    ("provider-long-client-id", "eks_oidc_provider", {"issuer_url": ISSUER, "client_ids": ["x" * 300]}, ["255"]),
    ("provider-state", "eks_oidc_provider", {"issuer_url": ISSUER, "state": "gone"}, ["state", "present, absent"]),
    # irsa_role
    ("role-bad-chars", "irsa_role", {"name": "bad name!", "oidc_provider": ISSUER, "service_accounts": ["default:app"]}, ["bad name!"]),
    ("role-too-long", "irsa_role", {"name": "r" * 65, "oidc_provider": ISSUER, "service_accounts": ["default:app"]}, ["64"]),
    ("role-path", "irsa_role", {"name": "r1", "path": "no-slashes", "oidc_provider": ISSUER, "service_accounts": ["default:app"]},
     ["path"]),
    ("role-policy-json", "irsa_role",
     {"name": "r2", "oidc_provider": ISSUER, "service_accounts": ["default:app"], "inline_policies": {"p": '{"Version": '}}, ["JSON"]),
    ("role-unknown-policy", "irsa_role",
     {"name": "r3", "oidc_provider": ISSUER, "service_accounts": ["default:app"], "managed_policies": ["no-such-policy"]},
     ["no-such-policy"]),
    ("role-namespace", "irsa_role", {"name": "r4", "oidc_provider": ISSUER, "service_accounts": ["Bad_NS:app"]}, ["Bad_NS"]),
    ("role-namespace-64", "irsa_role", {"name": "r5", "oidc_provider": ISSUER, "service_accounts": ["n" * 64 + ":app"]}, ["63"]),
    ("role-sa-name", "irsa_role", {"name": "r6", "oidc_provider": ISSUER, "service_accounts": ["default:Bad_SA"]}, ["Bad_SA"]),
    ("role-sa-no-namespace", "irsa_role", {"name": "r7", "oidc_provider": ISSUER, "service_accounts": ["justaname"]},
     ["namespace:name"]),
    ("role-no-subjects", "irsa_role", {"name": "r8", "oidc_provider": ISSUER, "service_accounts": []}, ["service_accounts"]),
    ("role-both-providers", "irsa_role",
     {"name": "r9", "oidc_provider": ISSUER, "service_accounts": ["default:app"],
      "oidc_providers": [{"provider": ISSUER, "service_accounts": ["default:app"]}]}, ["mutually exclusive"]),
    ("role-session-short", "irsa_role",
     {"name": "r10", "oidc_provider": ISSUER, "service_accounts": ["default:app"], "max_session_duration": 100}, ["3600"]),
    ("role-session-long", "irsa_role",
     {"name": "r11", "oidc_provider": ISSUER, "service_accounts": ["default:app"], "max_session_duration": 50000}, ["43200"]),
    ("role-provider-garbage", "irsa_role", {"name": "r12", "oidc_provider": "not-a-provider", "service_accounts": ["default:app"]},
     ["not-a-provider"]),
    ("role-oversized-trust", "irsa_role",
     {"name": "r13", "oidc_provider": ISSUER, "service_accounts": ["namespace-%02d:service-account-%02d" % (n, n) for n in range(60)]},
     ["2048"]),
    ("role-boundary-arn", "irsa_role",
     {"name": "r14", "oidc_provider": ISSUER, "service_accounts": ["default:app"], "permissions_boundary": "arn:aws:iam::123:policy/x"},
     ["permissions_boundary"]),
    ("role-every-service-account", "irsa_role", {"name": "r15", "oidc_provider": ISSUER, "service_accounts": ["*:*"]},
     ["every ServiceAccount in every namespace", "prod:*"]),
    ("role-name-non-ascii", "irsa_role", {"name": "rôle", "oidc_provider": ISSUER, "service_accounts": ["default:app"]},
     ["'rôle' is not a valid IAM role name"]),
    # irsa_service_account
    ("sa-name", "irsa_service_account", {"name": "Bad_SA", "role_arn": ROLE}, ["'Bad_SA' is not a valid ServiceAccount name"]),
    ("sa-namespace-non-ascii", "irsa_service_account", {"name": "app", "namespace": "prodüction", "role_arn": ROLE},
     ["'prodüction' is not a valid Kubernetes namespace"]),
    ("sa-no-role-arn", "irsa_service_account", {"name": "app"}, ["role_arn is required with state=present"]),
    ("sa-role-arn-not-a-role", "irsa_service_account", {"name": "app", "role_arn": "arn:aws:iam::123456789012:user/app"},
     ["is not an IAM role ARN"]),
    ("sa-token-expiration", "irsa_service_account", {"name": "app", "role_arn": ROLE, "token_expiration": 60},
     ["token_expiration 60 is out of range", "600 to 86400"]),
    ("sa-annotation-contradicts-role-arn", "irsa_service_account",
     {"name": "app", "role_arn": ROLE, "annotations": {"eks.amazonaws.com/role-arn": ROLE + "-old"}},
     ["role_arn owns that annotation", "remove eks.amazonaws.com/role-arn from annotations"]),
    ("sa-annotation-key", "irsa_service_account", {"name": "app", "role_arn": ROLE, "annotations": {"bad key!": "x"}},
     ["annotations key 'bad key!' is not a valid Kubernetes key"]),
    ("sa-label-value-long", "irsa_service_account", {"name": "app", "role_arn": ROLE, "labels": {"team": "t" * 64}},
     ["label team=", "at most 63"]),
    # irsa_verify
    ("verify-no-checks", "irsa_verify", {"service_account": "app", "checks": []}, ["checks is empty"]),
    ("verify-negative-timeout", "irsa_verify", {"service_account": "app", "cluster_name": "sandbox", "propagation_timeout": -1},
     ["propagation_timeout must be 0 or more"]),
    ("verify-no-issuer", "irsa_verify", {"service_account": "app", "checks": ["static"]}, ["give cluster_name or oidc_provider"]),
    ("verify-sa-name", "irsa_verify", {"service_account": "App", "cluster_name": "sandbox"},
     ["'App' is not a valid ServiceAccount name"]),
    ("verify-role-arn", "irsa_verify",
     {"service_accounts": [{"name": "app", "role_arn": "arn:aws:iam::123456789012:user/app"}], "cluster_name": "sandbox"},
     ["is not an IAM role ARN"]),
    # the role's variables
    ("irsa-no-cluster", "role", {"irsa_bindings": []}, ["irsa_cluster_name"]),
    ("irsa-binding-no-role", "role", {"irsa_cluster_name": "sandbox", "irsa_bindings": [{"service_account": "app"}]}, ["role_name"]),
    ("irsa-check-name", "role",
     {"irsa_cluster_name": "sandbox", "irsa_bindings": [], "irsa_verify_checks": ["static", "bogus"]}, ["irsa_verify_checks", "bogus"]),
    ("irsa-state", "role", {"irsa_cluster_name": "sandbox", "irsa_bindings": [], "irsa_state": "deleted"}, ["irsa_state"]),
    ("irsa-k8s-auth", "role", {"irsa_cluster_name": "sandbox", "irsa_bindings": [], "irsa_k8s_auth": "token"}, ["irsa_k8s_auth"]),
    ("irsa-binding-not-a-dict", "role", {"irsa_cluster_name": "sandbox", "irsa_bindings": ["app"]}, ["irsa_bindings"]),
    ("irsa-token-expiration-type", "role",
     {"irsa_cluster_name": "sandbox",
      "irsa_bindings": [{"service_account": "app", "role_name": "r", "token_expiration": "a day"}]}, ["token_expiration"]),
    ("irsa-shared-role-paths", "role",
     {"irsa_cluster_name": "sandbox",
      "irsa_bindings": [{"service_account": "a", "role_name": "shared", "path": "/x/"},
                        {"service_account": "b", "role_name": "shared", "path": "/y/"}]},
     ["share role shared but set different path"]),
    ("irsa-role-name-yes", "role",
     {"irsa_cluster_name": "sandbox", "irsa_bindings": [{"service_account": "app", "role_name": True}]},
     ["role_name is a boolean True", "quotes"]),
    ("irsa-namespace-number", "role",
     {"irsa_cluster_name": "sandbox", "irsa_bindings": [{"service_account": "app", "namespace": 123, "role_name": "r"}]},
     ["namespace is a number 123", "quotes"]),
    ("irsa-bound-twice", "role",
     {"irsa_cluster_name": "sandbox",
      "irsa_bindings": [{"service_account": "a", "role_name": "r1"}, {"service_account": "a", "role_name": "r2"}]},
     ["bound twice"]),
    ("irsa-binding-wildcard", "role",
     {"irsa_cluster_name": "sandbox", "irsa_bindings": [{"service_account": "app-*", "role_name": "r"}]},
     ["service_account 'app-*' holds a wildcard", "irsa_role"]),
    ("irsa-binding-namespace", "role",
     {"irsa_cluster_name": "sandbox", "irsa_bindings": [{"service_account": "app", "namespace": "Prod", "role_name": "r"}]},
     ["'Prod' is not a valid Kubernetes namespace"]),
    ("irsa-binding-role-name-long", "role",
     {"irsa_cluster_name": "sandbox", "irsa_bindings": [{"service_account": "app", "role_name": "r" * 65}]},
     ["is not a valid IAM role name (65 characters)"]),
    ("irsa-binding-token-expiration", "role",
     {"irsa_cluster_name": "sandbox", "irsa_bindings": [{"service_account": "app", "role_name": "r", "token_expiration": 30}]},
     ["token_expiration 30 is out of range"]),
]


def _playbook(cases):
    tasks = []
    for case_id, module, args, _phrases in cases:
        if module == "role":
            tasks.append({
                "name": case_id,
                "block": [{"name": case_id + " run", "ansible.builtin.include_role": {"name": "eks.irsa.irsa"}, "vars": args}],
                "rescue": [{"name": case_id + " failed", "ansible.builtin.set_fact": {
                    "outcome_" + case_id.replace("-", "_"): {"failed": True, "msg": "{{ ansible_failed_result.msg | default('') | string }}"}}}],
            })
        else:
            tasks.append({"name": case_id, "eks.irsa." + module: args, "register": "outcome_" + case_id.replace("-", "_"),
                          "ignore_errors": True})
    outcomes = "{{ {%s} | to_json }}" % ", ".join(
        "'%s': (outcome_%s | default({'failed': False, 'msg': 'it did not fail'}))" % (case[0], case[0].replace("-", "_"))
        for case in cases)
    tasks.append({"name": "Keep the outcomes", "ansible.builtin.copy": {"content": outcomes, "dest": "{{ outcomes_path }}"}})
    return [{
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/eks.irsa.irsa": {"endpoint_url": "{{ aws_endpoint_url }}", "region": "{{ aws_region }}",
                                                    "access_key": "{{ aws_access_key }}", "secret_key": "{{ aws_secret_key }}"}},
        "vars": {"irsa_k8s_auth": "kubeconfig"},
        "tasks": tasks,
    }]


@pytest.fixture(scope="module")
def outcomes(sandbox, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bad-input")
    playbook = workdir / "bad-input.yml"
    playbook.write_text(yaml.safe_dump(_playbook(CASES), allow_unicode=True, width=1000), encoding="utf-8")
    sandbox.reset_log()
    result = run_playbook(sandbox, str(playbook), str(workdir), extra_vars=["outcomes_path=%s" % (workdir / "outcomes.json")])
    assert result.returncode == 0, result.stdout[-8000:]
    writes = [call for call in sandbox.log()["calls"] if call["write"]]
    with open(workdir / "outcomes.json", encoding="utf-8") as handle:
        return json.load(handle), writes, result.stdout


def test_the_matrix_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case_id, module, args, phrases", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_advice(outcomes, case_id, module, args, phrases):
    results, _writes, output = outcomes
    outcome = results[case_id]
    assert outcome.get("failed"), "%s did not fail: %s" % (case_id, outcome)
    message = outcome.get("msg", "")
    for phrase in phrases:
        assert phrase in message, "%s: %r not in %r" % (case_id, phrase, message)
    assert "Traceback" not in message and "Traceback" not in output


def test_bad_input_writes_nothing(outcomes):
    _results, writes, _output = outcomes
    assert writes == []
