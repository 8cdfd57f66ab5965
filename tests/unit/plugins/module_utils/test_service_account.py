"""The ServiceAccount's IRSA annotations: desired keys, the owned-keys-only patch, pods to restart."""

import pytest

from ansible_collections.eks.irsa.plugins.module_utils import service_account as sa
from ansible_collections.eks.irsa.plugins.module_utils.naming import NamingError

ROLE = "arn:aws:iam::123456789012:role/AWSIRSATestRole"


@pytest.mark.parametrize(
    "kwargs, wanted, removed",
    [
        ({}, {"eks.amazonaws.com/role-arn": ROLE}, []),
        ({"audience": "sts.amazonaws.com"}, {"eks.amazonaws.com/role-arn": ROLE}, ["eks.amazonaws.com/audience"]),
        ({"audience": "api://x"}, {"eks.amazonaws.com/role-arn": ROLE, "eks.amazonaws.com/audience": "api://x"}, []),
        ({"sts_regional_endpoints": True}, {"eks.amazonaws.com/role-arn": ROLE, "eks.amazonaws.com/sts-regional-endpoints": "true"}, []),
        ({"sts_regional_endpoints": False}, {"eks.amazonaws.com/role-arn": ROLE, "eks.amazonaws.com/sts-regional-endpoints": "false"}, []),
        ({"token_expiration": 3600}, {"eks.amazonaws.com/role-arn": ROLE, "eks.amazonaws.com/token-expiration": "3600"}, []),
        ({"extra": {"team": 7}}, {"eks.amazonaws.com/role-arn": ROLE, "team": "7"}, []),
    ],
)
def test_desired_annotations(kwargs, wanted, removed):
    assert sa.desired_annotations(ROLE, **kwargs) == (wanted, removed)


def test_patch_names_only_owned_keys_and_keeps_foreign_ones():
    current = {
        "annotations": {"meta.helm.sh/release-name": "app", "eks.amazonaws.com/audience": "old"},
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
    }
    patch = sa.metadata_patch(current, {"eks.amazonaws.com/role-arn": ROLE}, ["eks.amazonaws.com/audience"], {"team": "a"})
    assert patch == {"metadata": {"annotations": {"eks.amazonaws.com/role-arn": ROLE, "eks.amazonaws.com/audience": None},
                                  "labels": {"team": "a"}}}
    after = sa.apply_patch(current, patch)
    assert after["annotations"] == {"meta.helm.sh/release-name": "app", "eks.amazonaws.com/role-arn": ROLE}
    assert after["labels"] == {"app.kubernetes.io/managed-by": "Helm", "team": "a"}


def test_no_patch_when_everything_is_in_place():
    current = {"annotations": {"eks.amazonaws.com/role-arn": ROLE}, "labels": {}}
    assert sa.metadata_patch(current, {"eks.amazonaws.com/role-arn": ROLE}, ["eks.amazonaws.com/audience"], {}) == {}


@pytest.mark.parametrize(
    "namespace, name, phrase",
    [
        ("Default", "app", "not a valid Kubernetes namespace"),
        ("n" * 64, "app", "at most 63"),
        ("default", "App_1", "not a valid ServiceAccount name"),
        ("default", "-app", "not a valid ServiceAccount name"),
        (123, "app", "not a valid Kubernetes namespace"),
    ],
)
def test_names_follow_kubernetes_rules(namespace, name, phrase):
    with pytest.raises(NamingError, match=phrase):
        sa.check_names(namespace, name)


@pytest.mark.parametrize(
    "arn, phrase",
    [
        ("arn:aws:iam::123456789012:user/x", "not a 'role'"),
        ("AWSIRSATestRole", "an ARN looks like"),
        ("arn:aws:iam::123:role/x", "12 digits"),
    ],
)
def test_role_arn_must_be_a_role(arn, phrase):
    with pytest.raises(NamingError) as raised:
        sa.check_role_arn(arn)
    assert "is not an IAM role ARN" in str(raised.value) and phrase in str(raised.value)


@pytest.mark.parametrize("seconds", [599, 86401, 0, -1])
def test_token_expiration_range(seconds):
    with pytest.raises(NamingError, match="600 to 86400"):
        sa.check_token_expiration(seconds)


def pod(name, phase="Running", role=None, volume=True, owner=None):
    env = [{"name": "AWS_ROLE_ARN", "value": role}, {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/t"}] if role else []
    return {
        "metadata": {"name": name, "namespace": "default", "ownerReferences": [owner] if owner else []},
        "spec": {"containers": [{"name": "app", "env": env}], "volumes": [{"name": "aws-iam-token"}] if volume else []},
        "status": {"phase": phase},
    }


def test_pods_to_restart_are_the_running_ones_without_the_role():
    pods = [
        pod("old", owner={"kind": "ReplicaSet", "name": "app-1"}),
        pod("other-role", role="arn:aws:iam::123456789012:role/Other"),
        pod("fresh", role=ROLE),
        pod("finished", phase="Succeeded"),
    ]
    found = sa.pods_to_restart(pods, ROLE)
    assert [p["name"] for p in found] == ["old", "other-role"]
    assert found[0]["owner_kind"] == "ReplicaSet" and found[0]["owner_name"] == "app-1"
    assert "has no AWS_ROLE_ARN" in found[0]["reason"]


def test_after_removal_the_pods_still_holding_a_role_need_a_restart():
    assert [p["name"] for p in sa.pods_to_restart([pod("a", role=ROLE), pod("b")], None)] == ["a"]


@pytest.mark.parametrize("annotations, labels", [
    ({"team": "a", "example.com/owner": "b", "eks.amazonaws.com/role-arn": ROLE}, {"app.kubernetes.io/name": "x", "empty": ""}),
    ({"a" * 63: "long name is fine"}, {"k": "v" * 63}),
])
def test_metadata_kubernetes_accepts_passes(annotations, labels):
    sa.check_metadata(annotations, labels)
    sa.check_owned_annotations(sa.desired_annotations(ROLE), annotations)


@pytest.mark.parametrize("annotations, labels, message", [
    ({"bad key!": "x"}, {}, "annotations key 'bad key!' is not a valid Kubernetes key"),
    ({"/name": "x"}, {}, "annotations key '/name'"),
    ({"Example.com/x": "y"}, {}, "annotations key 'Example.com/x'"),
    ({"a" * 64: "y"}, {}, "is not a valid Kubernetes key"),
    ({}, {"-team": "a"}, "labels key '-team'"),
    ({}, {"team": "a b"}, "label team='a b' has a value Kubernetes refuses"),
    ({}, {"team": "t" * 64}, "at most 63"),
])
def test_metadata_kubernetes_refuses_is_refused(annotations, labels, message):
    with pytest.raises(NamingError) as raised:
        sa.check_metadata(annotations, labels)
    assert message in str(raised.value)


@pytest.mark.parametrize("kwargs, annotations, message", [
    ({}, {"eks.amazonaws.com/role-arn": ROLE + "-old"}, "but role_arn says '%s': role_arn owns that annotation" % ROLE),
    ({"audience": "sts.amazonaws.com"}, {"eks.amazonaws.com/audience": "vault"}, "the default, which removes it"),
    ({"audience": "api://x"}, {"eks.amazonaws.com/audience": "vault"}, "audience says 'api://x'"),
    ({"token_expiration": 3600}, {"eks.amazonaws.com/token-expiration": "600"}, "token_expiration owns that annotation"),
    ({"sts_regional_endpoints": True}, {"eks.amazonaws.com/sts-regional-endpoints": "false"}, "sts_regional_endpoints says 'true'"),
])
def test_annotations_contradicting_an_option_are_refused(kwargs, annotations, message):
    with pytest.raises(NamingError) as raised:
        sa.check_owned_annotations(sa.desired_annotations(ROLE, **kwargs), annotations)
    assert message in str(raised.value)


def test_annotations_may_set_what_no_option_sets():
    sa.check_owned_annotations(sa.desired_annotations(ROLE), {"eks.amazonaws.com/audience": "vault", "eks.amazonaws.com/token-expiration": "600"})


# --------------------------------------------------------------------------------------------
# ownership of the role annotation

ARN = "arn:aws:iam::123456789012:role/app"


@pytest.mark.parametrize("annotations, expected", [
    ({}, (None, False)),
    ({"eks.amazonaws.com/role-arn": ARN}, (ARN, False)),  # set by someone else (or by a version from before the record)
    ({"eks.amazonaws.com/role-arn": ARN, "eks.irsa/bound-role-arn": ARN}, (ARN, True)),
    # edited by hand since eks.irsa set it: someone else's now
    ({"eks.amazonaws.com/role-arn": ARN + "-2", "eks.irsa/bound-role-arn": ARN}, (ARN + "-2", False)),
])
def test_role_annotation_knows_whose_it_is(annotations, expected):
    assert sa.role_annotation({"annotations": annotations}) == expected


@pytest.mark.parametrize("other, same", [
    (ARN, True),
    ("arn:aws:iam::123456789012:role/team/app", True),  # a path does not make another role
    ("arn:aws:iam::210987654321:role/app", False),
    ("arn:aws-cn:iam::123456789012:role/app", False),
    ("arn:aws:iam::123456789012:role/app2", False),
    ("not an arn", False),
])
def test_same_role_compares_partition_account_and_name(other, same):
    assert sa.same_role(ARN, other) is same


@pytest.mark.parametrize("metadata, removal, unused", [
    ({"labels": {"app.kubernetes.io/managed-by": "eks.irsa"}, "annotations": {"eks.amazonaws.com/role-arn": ARN}},
     ["eks.amazonaws.com/role-arn"], True),
    ({"labels": {"app.kubernetes.io/managed-by": "eks.irsa", "team": "a"}}, [], False),
    ({"labels": {"app.kubernetes.io/managed-by": "eks.irsa"}, "annotations": {"note": "x"}}, [], False),
    ({"labels": {"app.kubernetes.io/managed-by": "Helm"}}, [], False),
    ({}, [], False),
])
def test_unused_after_only_for_ours_with_nothing_else(metadata, removal, unused):
    assert sa.unused_after(metadata, removal) is unused
