"""Storage presets: chart defaults, managed policies, generated policies against the projects' published ones, scoping."""

import json

import pytest

from ansible_collections.eks.irsa.plugins.module_utils.presets import base, catalogue, storage

AWS = base.Context("aws", "amazonaws.com", "us-west-2", "111122223333", "prod")
CHINA = base.Context("aws-cn", "amazonaws.com.cn", "cn-north-1", "111122223333", "prod")
GOVCLOUD = base.Context("aws-us-gov", "amazonaws.com", "us-gov-west-1", "111122223333", "prod")

NAMES = [preset.name for preset in storage.PRESETS]

KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
LUSTRE_ROLE = ("arn:aws:iam::111122223333:role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/"
               "AWSServiceRoleForFSxS3Access_fs-0123456789abcdef0")
OPENZFS_ROLE = "arn:aws:iam::111122223333:role/aws-service-role/fsx.amazonaws.com/AWSServiceRoleForAmazonFSx"

# The action sets of the published policies, written from the upstream files at the pinned versions.
FSX_LUSTRE_ACTIONS = {  # aws-fsx-csi-driver v1.9.0 docs/install.md
    "iam:CreateServiceLinkedRole", "iam:AttachRolePolicy", "iam:PutRolePolicy",
    "s3:ListBucket", "fsx:CreateFileSystem", "fsx:DeleteFileSystem", "fsx:DescribeFileSystems", "fsx:TagResource",
    "fsx:UpdateFileSystem",
}
FSX_OPENZFS_ACTIONS = {  # aws-fsx-openzfs-csi-driver v1.2.0 docs/example-iam-policy.json
    "iam:CreateServiceLinkedRole", "iam:AttachRolePolicy", "iam:PutRolePolicy",
    "fsx:CreateFileSystem", "fsx:UpdateFileSystem", "fsx:DeleteFileSystem", "fsx:DescribeFileSystems",
    "fsx:CreateVolume", "fsx:DeleteVolume", "fsx:DescribeVolumes", "fsx:CreateSnapshot", "fsx:DeleteSnapshot",
    "fsx:DescribeSnapshots", "fsx:TagResource", "fsx:ListTagsForResource",
}
MOUNTPOINT_ACTIONS = {  # mountpoint-s3 1.22.3 doc/CONFIGURATION.md#iam-permissions
    "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject",
}
MOUNTPOINT_KMS_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKey"}  # same section, SSE-KMS paragraph
VELERO_ACTIONS = {  # velero-plugin-for-aws v1.13.2 README.md
    "ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:CreateTags", "ec2:CreateVolume", "ec2:CreateSnapshot",
    "ec2:DeleteSnapshot", "s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:PutObjectTagging",
    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:ListBucket",
}
EBS_KMS_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:CreateGrant"}  # ebs v1.58.0 docs/install.md


def expand(name, options=None, context=AWS):
    return catalogue.expand(name, options or {}, context)


def examples(name):
    return {option.name: option.example for option in catalogue.get(name).options}


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(result):
    return {item["Sid"]: item for item in (result["inline_policy"] or {"Statement": []})["Statement"]}


def actions(result):
    return {action for item in statements(result).values() for action in as_list(item["Action"])}


def resources(result, sid):
    return as_list(statements(result)[sid]["Resource"])


@pytest.mark.parametrize("name, namespace, service_account", [
    ("aws-ebs-csi-driver", "kube-system", "ebs-csi-controller-sa"),
    ("aws-efs-csi-driver", "kube-system", "efs-csi-controller-sa"),
    ("aws-fsx-csi-driver", "kube-system", "fsx-csi-controller-sa"),
    ("aws-fsx-openzfs-csi-driver", "kube-system", "fsx-openzfs-csi-controller-sa"),
    ("aws-mountpoint-s3-csi-driver", "kube-system", "s3-csi-driver-sa"),
    ("velero", "velero", "velero-server"),
])
def test_chart_defaults(name, namespace, service_account):
    result = expand(name)
    assert (result["namespace"], result["service_account"]) == (namespace, service_account)


def test_every_storage_preset_is_tested_and_in_the_catalogue():
    assert sorted(NAMES) == sorted([
        "aws-ebs-csi-driver", "aws-efs-csi-driver", "aws-fsx-csi-driver", "aws-fsx-openzfs-csi-driver",
        "aws-mountpoint-s3-csi-driver", "velero",
    ])
    assert set(NAMES) <= set(catalogue.names())


@pytest.mark.parametrize("name", NAMES)
def test_source_is_a_file_at_a_pinned_tag(name):
    source = expand(name)["source"]
    assert set(source) == {"project", "version", "url"}
    assert source["url"].startswith("https://github.com/{0}/blob/{1}/".format(source["project"], source["version"]))


@pytest.mark.parametrize("name, options, context, managed", [
    ("aws-ebs-csi-driver", {}, AWS, ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]),
    ("aws-ebs-csi-driver", {"kms_key_arns": [KEY]}, CHINA, ["arn:aws-cn:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]),
    ("aws-efs-csi-driver", {}, AWS, ["arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"]),
    ("aws-efs-csi-driver", {"s3_files": False}, GOVCLOUD, ["arn:aws-us-gov:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"]),
    ("aws-efs-csi-driver", {"s3_files": True}, AWS, [
        "arn:aws:iam::aws:policy/AmazonS3FilesClientFullAccess",
        "arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy",
        "arn:aws:iam::aws:policy/service-role/AmazonS3FilesCSIDriverPolicy",
    ]),
    ("aws-fsx-csi-driver", {}, AWS, []),
    ("aws-fsx-openzfs-csi-driver", {}, AWS, []),
    ("aws-mountpoint-s3-csi-driver", {}, AWS, []),
    ("velero", {}, AWS, []),
])
def test_managed_policies(name, options, context, managed):
    assert expand(name, options, context)["managed_policies"] == managed


@pytest.mark.parametrize("name", ["aws-ebs-csi-driver", "aws-efs-csi-driver"])
def test_managed_policy_presets_generate_nothing_by_default(name):
    result = expand(name)
    assert (result["inline_policy"], result["inline_policy_name"], result["warnings"]) == (None, None, [])


@pytest.mark.parametrize("name, expected", [
    ("aws-ebs-csi-driver", EBS_KMS_ACTIONS),
    ("aws-efs-csi-driver", set()),
    ("aws-fsx-csi-driver", FSX_LUSTRE_ACTIONS),
    ("aws-fsx-openzfs-csi-driver", FSX_OPENZFS_ACTIONS),
    ("aws-mountpoint-s3-csi-driver", MOUNTPOINT_ACTIONS | MOUNTPOINT_KMS_ACTIONS),
    ("velero", VELERO_ACTIONS),
])
def test_actions_are_the_published_ones(name, expected):
    result = expand(name, examples(name))
    assert actions(result) == expected
    assert result["warnings"] == []


@pytest.mark.parametrize("name, expected", [
    ("aws-fsx-csi-driver", FSX_LUSTRE_ACTIONS),
    ("aws-fsx-openzfs-csi-driver", FSX_OPENZFS_ACTIONS),
    ("aws-mountpoint-s3-csi-driver", MOUNTPOINT_ACTIONS),
    ("velero", VELERO_ACTIONS),
])
def test_unscoped_actions_are_the_published_ones(name, expected):
    assert actions(expand(name)) == expected


@pytest.mark.parametrize("name, sid", [
    ("aws-fsx-csi-driver", "FsxLustreCsiCreateServiceLinkedRole"),
    ("aws-fsx-openzfs-csi-driver", "FsxOpenZfsCsiCreateServiceLinkedRole"),
])
@pytest.mark.parametrize("context", [AWS, CHINA, GOVCLOUD])
def test_fsx_service_linked_role_condition_is_the_published_one(name, sid, context):
    # The projects change only the arn:aws: prefix in other partitions; the service name stays as published.
    item = statements(expand(name, {}, context))[sid]
    assert item["Action"] == "iam:CreateServiceLinkedRole"
    assert item["Resource"] == "*"
    assert item["Condition"] == {"StringLike": {"iam:AWSServiceName": ["fsx.amazonaws.com"]}}


# preset, option, value, {sid: resources it must name exactly}
SCOPED = [
    ("aws-ebs-csi-driver", "kms_key_arns", [KEY, OTHER_KEY], {"EbsCsiKmsEncryptedVolumes": [KEY, OTHER_KEY]}),
    ("aws-fsx-csi-driver", "service_role_arns", [LUSTRE_ROLE], {"FsxLustreCsiServiceLinkedRole": [LUSTRE_ROLE]}),
    ("aws-fsx-openzfs-csi-driver", "service_role_arns", [OPENZFS_ROLE], {"FsxOpenZfsCsiServiceLinkedRole": [OPENZFS_ROLE]}),
    ("aws-mountpoint-s3-csi-driver", "bucket_names", ["amzn-s3-demo-bucket", "arn:aws:s3:::other-bucket"], {
        "MountpointFullBucketAccess": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::other-bucket"],
        "MountpointFullObjectAccess": ["arn:aws:s3:::amzn-s3-demo-bucket/*", "arn:aws:s3:::other-bucket/*"],
    }),
    ("aws-mountpoint-s3-csi-driver", "kms_key_arns", [KEY], {"MountpointSseKms": [KEY]}),
    ("velero", "bucket_names", ["amzn-s3-demo-bucket"], {
        "VeleroListBucket": ["arn:aws:s3:::amzn-s3-demo-bucket"],
        "VeleroBackupObjects": ["arn:aws:s3:::amzn-s3-demo-bucket/*"],
    }),
]


@pytest.mark.parametrize("name, option, value, scoped", SCOPED)
def test_scoping_option_set_names_exactly_its_resources(name, option, value, scoped):
    result = expand(name, {option: value})
    for sid, expected in scoped.items():
        assert resources(result, sid) == expected
        # no wildcard in the scoped name (a bucket's objects, <bucket>/*, are the scope itself)
        assert not any(arn == "*" or ":*:" in arn or arn.startswith("arn:aws:s3:::*") for arn in resources(result, sid))
    assert not [warning for warning in result["warnings"] if "preset_options.{0} ".format(option) in warning]


# preset, option, {sid: the wildcard resources}, context
UNSET = [
    ("aws-fsx-csi-driver", "service_role_arns", {
        "FsxLustreCsiServiceLinkedRole": ["arn:aws:iam::*:role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/*"],
    }),
    ("aws-fsx-openzfs-csi-driver", "service_role_arns", {
        "FsxOpenZfsCsiServiceLinkedRole": ["arn:aws:iam::*:role/aws-service-role/fsx.amazonaws.com/*"],
    }),
    ("aws-mountpoint-s3-csi-driver", "bucket_names", {
        "MountpointFullBucketAccess": ["arn:aws:s3:::*"],
        "MountpointFullObjectAccess": ["arn:aws:s3:::*/*"],
    }),
    ("velero", "bucket_names", {
        "VeleroListBucket": ["arn:aws:s3:::*"],
        "VeleroBackupObjects": ["arn:aws:s3:::*/*"],
    }),
]


@pytest.mark.parametrize("name, option, wildcards", UNSET)
@pytest.mark.parametrize("unset", [None, []])
def test_scoping_option_unset_keeps_the_wildcard_and_warns_once(name, option, wildcards, unset):
    others = {key: value for key, value in examples(name).items() if key != option}
    result = expand(name, dict(others, **{option: unset}))
    for sid, expected in wildcards.items():
        assert resources(result, sid) == expected
    assert len(result["warnings"]) == 1
    assert "preset_options.{0} ".format(option) in result["warnings"][0]


@pytest.mark.parametrize("name, option, sid", [
    ("aws-ebs-csi-driver", "kms_key_arns", "EbsCsiKmsEncryptedVolumes"),
    ("aws-mountpoint-s3-csi-driver", "kms_key_arns", "MountpointSseKms"),
])
def test_kms_unset_adds_no_kms_access_and_no_warning(name, option, sid):
    result = expand(name, {key: value for key, value in examples(name).items() if key != option})
    assert sid not in statements(result)
    assert not any(action.startswith("kms:") for action in actions(result))
    assert result["warnings"] == []


@pytest.mark.parametrize("context", [CHINA, GOVCLOUD])
@pytest.mark.parametrize("name", NAMES)
def test_other_partitions(name, context):
    options = {"bucket_names": ["amzn-s3-demo-bucket"]} if "bucket_names" in examples(name) else {}
    if name == "aws-ebs-csi-driver":
        options["kms_key_arns"] = ["arn:{0}:kms:{1}:111122223333:key/1234abcd".format(context.partition, context.region)]
    result = expand(name, options, context)
    text = json.dumps(result["inline_policy"])
    assert "arn:aws:" not in text
    assert all(arn.startswith("arn:{0}:".format(context.partition)) for arn in result["managed_policies"])
    if result["inline_policy"]:
        assert "arn:{0}:".format(context.partition) in text
    if "bucket_names" in options:
        assert "arn:{0}:s3:::amzn-s3-demo-bucket".format(context.partition) in text


@pytest.mark.parametrize("name, options", [
    ("velero", {"kms_key_arns": [KEY]}),
    ("aws-efs-csi-driver", {"kms_key_arns": [KEY]}),
    ("aws-fsx-csi-driver", {"bucket_names": ["amzn-s3-demo-bucket"]}),
])
def test_options_not_documented_upstream_are_refused(name, options):
    with pytest.raises(base.PresetError, match="is not an option of preset"):
        expand(name, options)
