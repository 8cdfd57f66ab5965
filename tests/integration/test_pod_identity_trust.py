"""irsa_role's pod_identity through ansible-playbook on the sandbox: the EKS Pod Identity statement as IAM holds it.

Each step runs the module in a playbook of its own, then reads the role's trust from IAM (boto3 against the sandbox)
and the request log: check mode and a second run write nothing to IAM, the statement sits beside the IRSA statement
and a foreign one, removing it keeps both, and a pods.eks.amazonaws.com statement the collection did not write is
left untouched (the task refuses, saying how to opt in, when it would have to change it).
"""

import json

from irsa_sandbox.testing import unique
from playbook_runner import run_module

ACCOUNT = "123456789012"
OWNER = {"Key": "eks.irsa/managed-by", "Value": "eks.irsa"}
MODULE = "eks.irsa.irsa_role"
EC2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
AWS_GUIDE = {"Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow",
             "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}


def run(sandbox, tmp_path, args, check=False):
    return run_module(sandbox, tmp_path, MODULE, args, "iam", check)


def writes(calls):
    return [action for action, write in calls if write]


def trust(sandbox, name):
    return sandbox.client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]


def ours(**condition):
    stmt = {"Sid": "EksIrsaPodIdentity", "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"]}
    if condition:
        stmt["Condition"] = condition
    return stmt


def cluster_arn(sandbox, name="sandbox"):
    return "arn:aws:eks:%s:%s:cluster/%s" % (sandbox.vars["aws_region"], ACCOUNT, name)


def irsa_statement(sandbox, subject):
    cluster = sandbox.cluster("sandbox")
    provider = cluster["provider"]
    return {"Effect": "Allow", "Principal": {"Federated": cluster["provider_arn"]}, "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {provider + ":aud": "sts.amazonaws.com", provider + ":sub": subject}}}


def test_a_role_for_pod_identity_only_check_mode_create_and_again(sandbox, tmp_path):
    name = unique("pit-only")
    args = {"name": name, "pod_identity": {"source_account": ACCOUNT, "clusters": ["sandbox"]}}
    wanted = {"Version": "2012-10-17", "Statement": [ours(StringEquals={"aws:SourceAccount": ACCOUNT},
                                                          ArnEquals={"aws:SourceArn": cluster_arn(sandbox)})]}

    predicted, calls = run(sandbox, tmp_path, args, check=True)
    assert predicted["changed"] is True and writes(calls) == [] and predicted["role"]["trust_policy"] == wanted
    assert name not in [role["RoleName"] for role in sandbox.client("iam").list_roles()["Roles"]]

    created, calls = run(sandbox, tmp_path, args)
    assert created["changed"] is True and writes(calls) == ["CreateRole"]
    assert trust(sandbox, name) == wanted and created["diff"] == predicted["diff"]
    assert sandbox.client("iam").list_role_tags(RoleName=name)["Tags"] == [OWNER]
    assert created["trusts"] == {"irsa": [], "pod_identity": {
        "managed": True, "source_account": ACCOUNT, "cluster_arns": [cluster_arn(sandbox)], "foreign_statements": []}}

    again, calls = run(sandbox, tmp_path, args)
    assert again["changed"] is False and writes(calls) == [] and calls == [("GetRole", False)]


def test_beside_irsa_then_removed_keeping_irsa_and_a_foreign_statement(sandbox, tmp_path):
    sandbox.ensure_oidc_provider("sandbox")
    name = unique("pit-dual")
    irsa = {"name": name, "cluster_name": "sandbox", "service_accounts": ["shop:cart"]}
    created, _calls = run(sandbox, tmp_path, irsa)
    assert created["changed"] is True
    irsa_only = irsa_statement(sandbox, "system:serviceaccount:shop:cart")
    sandbox.client("iam").update_assume_role_policy(
        RoleName=name, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [EC2, irsa_only]}))

    dual = dict(irsa, pod_identity={"clusters": ["sandbox"]})
    with_pods = {"Version": "2012-10-17",
                 "Statement": [EC2, irsa_only, ours(ArnEquals={"aws:SourceArn": cluster_arn(sandbox)})]}
    predicted, calls = run(sandbox, tmp_path, dual, check=True)
    assert predicted["changed"] is True and writes(calls) == [] and predicted["diff"]["after"]["trust_policy"] == with_pods
    assert trust(sandbox, name)["Statement"] == [EC2, irsa_only]
    added, calls = run(sandbox, tmp_path, dual)
    assert added["changed"] is True and writes(calls) == ["UpdateAssumeRolePolicy"] and trust(sandbox, name) == with_pods
    assert added["trusts"]["irsa"] == [{"provider_arn": sandbox.cluster("sandbox")["provider_arn"],
                                        "audience": "sts.amazonaws.com", "subjects": ["system:serviceaccount:shop:cart"]}]
    assert added["trusts"]["pod_identity"]["cluster_arns"] == [cluster_arn(sandbox)]
    again, calls = run(sandbox, tmp_path, dual)
    assert again["changed"] is False and writes(calls) == []

    back = dict(irsa, pod_identity={"state": "absent"})
    predicted, calls = run(sandbox, tmp_path, back, check=True)
    assert predicted["changed"] is True and writes(calls) == [] and trust(sandbox, name) == with_pods
    removed, calls = run(sandbox, tmp_path, back)
    assert removed["changed"] is True and writes(calls) == ["UpdateAssumeRolePolicy"]
    assert trust(sandbox, name) == {"Version": "2012-10-17", "Statement": [EC2, irsa_only]}
    assert removed["trusts"]["pod_identity"] is None
    again, calls = run(sandbox, tmp_path, back)
    assert again["changed"] is False and writes(calls) == []


def test_a_foreign_pod_identity_statement_is_left_untouched_unless_adopted(sandbox, tmp_path):
    sandbox.ensure_oidc_provider("sandbox")
    name = unique("pit-foreign")
    irsa_only = irsa_statement(sandbox, "system:serviceaccount:shop:cart")
    document = {"Version": "2012-10-17", "Statement": [irsa_only, AWS_GUIDE]}
    sandbox.create_role(name, document, tags={OWNER["Key"]: OWNER["Value"]})
    irsa = {"name": name, "cluster_name": "sandbox", "service_accounts": ["shop:cart"]}

    as_asked, calls = run(sandbox, tmp_path, dict(irsa, pod_identity={}))
    assert as_asked["changed"] is False and writes(calls) == []
    assert as_asked["trusts"]["pod_identity"] == {"managed": False, "source_account": None, "cluster_arns": [],
                                                  "foreign_statements": [1]}

    for args in (dict(irsa, pod_identity={"clusters": ["sandbox"]}), dict(irsa, pod_identity={"state": "absent"})):
        for check in (True, False):
            refused, calls = run(sandbox, tmp_path, args, check=check)
            assert refused["failed"] is True and refused["changed"] is False and writes(calls) == []
            assert refused["msg"].startswith(
                "the trust policy's statement 1 (AllowEksAuthToAssumeRoleForPodIdentity) lets pods.eks.amazonaws.com "
                "assume the role but was not written by eks.irsa (it has no Sid EksIrsaPodIdentity), so it is left as it is")
            assert "set pod_identity.adopt_statements: true to" in refused["msg"]
            assert "Traceback" not in json.dumps(refused)
    assert trust(sandbox, name) == document

    adopted, calls = run(sandbox, tmp_path, dict(irsa, pod_identity={"clusters": ["sandbox"], "adopt_statements": True}))
    assert adopted["changed"] is True and writes(calls) == ["UpdateAssumeRolePolicy"]
    assert trust(sandbox, name) == {"Version": "2012-10-17",
                                    "Statement": [irsa_only, ours(ArnEquals={"aws:SourceArn": cluster_arn(sandbox)})]}
