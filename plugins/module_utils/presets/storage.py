# -*- coding: utf-8 -*-

# Copyright: eks.irsa contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Presets of the storage add-ons: the EBS, EFS, FSx for Lustre, FSx for OpenZFS and Mountpoint for S3 CSI drivers,
and Velero with its AWS plugin.

Each generated policy reproduces the one its project publishes at the pinned version (same actions, same
conditions), with every ARN built from the context so that it holds in every partition. This file holds data and
the small generators that apply the scoping options; the expansion, the option checks and the warnings live in
``base`` and ``catalogue``.

Pure functions, no I/O. Private to the eks.irsa collection; not a public API.
"""

from __future__ import annotations

from ansible_collections.eks.irsa.plugins.module_utils.presets.base import Option, Preset, statement

_KMS_KEY_EXAMPLE = ["arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]


def _bucket_arns(ctx, buckets):
    """Bucket ARNs from names or ARNs (``my-bucket`` -> ``arn:<partition>:s3:::my-bucket``)."""
    return [bucket if bucket.startswith("arn:") else ctx.arn("s3", bucket) for bucket in buckets]


def _object_arns(bucket_arns):
    return [bucket_arn + "/*" for bucket_arn in bucket_arns]


def _bucket_option(what):
    return Option(
        "bucket_names", "list",
        "The S3 buckets {0}, as names (C(my-bucket)) or ARNs; the policy allows listing each bucket and the object "
        "actions on C(<bucket>/*).".format(what),
        unset="every S3 bucket and object in every account",
        example=["amzn-s3-demo-bucket"],
    )


def _ebs_policy(ctx, options, scope):
    # The managed policy needs no KMS; without keys there is nothing to generate and nothing widened.
    key_arns = scope.get("kms_key_arns")
    if not key_arns:
        return []
    return [
        statement("EbsCsiKmsEncryptedVolumes", ["kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:CreateGrant"], key_arns),
    ]


def _fsx_service_linked_role_policy(ctx, scope, service, fsx_actions, sid_prefix):
    """The FSx drivers' policy: manage the file system's service-linked role, create FSx's own, call FSx.

    ``service`` is the service name in the role's path, which the projects keep as written in every partition
    (their docs only change the ``arn:aws:`` prefix).
    """
    role_arns = scope.get(
        "service_role_arns",
        [ctx.arn("iam", "role/aws-service-role/{0}/*".format(service), account="*")],
    )
    return [
        statement(sid_prefix + "ServiceLinkedRole", ["iam:CreateServiceLinkedRole", "iam:AttachRolePolicy", "iam:PutRolePolicy"], role_arns),
        statement(
            sid_prefix + "CreateServiceLinkedRole", ["iam:CreateServiceLinkedRole"], "*",
            {"StringLike": {"iam:AWSServiceName": ["fsx.amazonaws.com"]}},
        ),
        statement(sid_prefix + "FileSystems", fsx_actions, ["*"]),
    ]


def _fsx_lustre_policy(ctx, options, scope):
    return _fsx_service_linked_role_policy(
        ctx, scope, "s3.data-source.lustre.fsx.amazonaws.com",
        ["s3:ListBucket", "fsx:CreateFileSystem", "fsx:DeleteFileSystem", "fsx:DescribeFileSystems", "fsx:TagResource",
         "fsx:UpdateFileSystem"],
        "FsxLustreCsi",
    )


def _fsx_openzfs_policy(ctx, options, scope):
    return _fsx_service_linked_role_policy(
        ctx, scope, "fsx.amazonaws.com",
        ["fsx:CreateFileSystem", "fsx:UpdateFileSystem", "fsx:DeleteFileSystem", "fsx:DescribeFileSystems",
         "fsx:CreateVolume", "fsx:DeleteVolume", "fsx:DescribeVolumes", "fsx:CreateSnapshot", "fsx:DeleteSnapshot",
         "fsx:DescribeSnapshots", "fsx:TagResource", "fsx:ListTagsForResource"],
        "FsxOpenZfsCsi",
    )


def _mountpoint_policy(ctx, options, scope):
    bucket_arns = _bucket_arns(ctx, scope.get("bucket_names", [ctx.arn("s3", "*")]))
    statements = [
        statement("MountpointFullBucketAccess", ["s3:ListBucket"], bucket_arns),
        statement(
            "MountpointFullObjectAccess",
            ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
            _object_arns(bucket_arns),
        ),
    ]
    # SSE-KMS is opt-in: without keys the project's example policy has no KMS statement, so none is widened.
    key_arns = scope.get("kms_key_arns")
    if key_arns:
        statements.append(statement("MountpointSseKms", ["kms:Decrypt", "kms:GenerateDataKey"], key_arns))
    return statements


def _velero_policy(ctx, options, scope):
    bucket_arns = _bucket_arns(ctx, scope.get("bucket_names", [ctx.arn("s3", "*")]))
    return [
        statement(
            "VeleroEbsSnapshots",
            ["ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:CreateTags", "ec2:CreateVolume", "ec2:CreateSnapshot",
             "ec2:DeleteSnapshot"],
        ),
        statement(
            "VeleroBackupObjects",
            ["s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload",
             "s3:ListMultipartUploadParts"],
            _object_arns(bucket_arns),
        ),
        statement("VeleroListBucket", ["s3:ListBucket"], bucket_arns),
    ]


def _efs_managed(options):
    managed = ["service-role/AmazonEFSCSIDriverPolicy"]
    if options.get("s3_files"):
        managed += ["service-role/AmazonS3FilesCSIDriverPolicy", "AmazonS3FilesClientFullAccess"]
    return managed


PRESETS = [
    Preset(
        name="aws-ebs-csi-driver",
        summary="Amazon EBS CSI driver controller: the AWS managed AmazonEBSCSIDriverPolicy, plus KMS access for "
                "encrypted volumes when kms_key_arns is set.",
        namespace="kube-system",
        service_account="ebs-csi-controller-sa",
        source={
            "project": "kubernetes-sigs/aws-ebs-csi-driver",
            "version": "v1.58.0",
            "url": "https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/v1.58.0/docs/install.md",
        },
        managed=["service-role/AmazonEBSCSIDriverPolicy"],
        policy=_ebs_policy,
        options=[
            Option(
                "kms_key_arns", "list",
                "The KMS keys of encrypted EBS volumes; adds the driver's KMS statement (C(kms:Decrypt), "
                "C(kms:GenerateDataKeyWithoutPlaintext), C(kms:CreateGrant)) on these keys. Unset: no KMS statement, "
                "which unencrypted volumes and volumes encrypted with the AWS managed key C(aws/ebs) do not need.",
                example=_KMS_KEY_EXAMPLE,
            ),
        ],
    ),
    Preset(
        name="aws-efs-csi-driver",
        summary="Amazon EFS CSI driver controller: the AWS managed AmazonEFSCSIDriverPolicy (and the S3 Files "
                "policies with s3_files).",
        namespace="kube-system",
        service_account="efs-csi-controller-sa",
        source={
            "project": "kubernetes-sigs/aws-efs-csi-driver",
            "version": "v3.4.1",
            "url": "https://github.com/kubernetes-sigs/aws-efs-csi-driver/blob/v3.4.1/docs/iam-policy-create.md",
        },
        managed=_efs_managed,
        options=[
            Option(
                "s3_files", "bool",
                "The driver also mounts Amazon S3 Files file systems: attach the AWS managed AmazonS3FilesCSIDriverPolicy "
                "and AmazonS3FilesClientFullAccess the project gives the controller for them.",
                default=False,
                example=True,
            ),
        ],
    ),
    Preset(
        name="aws-fsx-csi-driver",
        summary="Amazon FSx for Lustre CSI driver controller: the minimal policy of the driver's install guide "
                "(AmazonFSxFullAccess, which the guide attaches for IRSA, is a generic full-access policy, not the driver's own).",
        namespace="kube-system",
        service_account="fsx-csi-controller-sa",
        source={
            "project": "kubernetes-sigs/aws-fsx-csi-driver",
            "version": "v1.9.0",
            "url": "https://github.com/kubernetes-sigs/aws-fsx-csi-driver/blob/v1.9.0/docs/install.md",
        },
        policy=_fsx_lustre_policy,
        options=[
            Option(
                "service_role_arns", "list",
                "The service-linked roles FSx for Lustre uses for S3 data repositories (path "
                "C(aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/)) that the driver may create and attach "
                "policies to.",
                unset="creating and changing every FSx for Lustre S3 data-source service-linked role in every account",
                example=[
                    "arn:aws:iam::111122223333:role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/"
                    "AWSServiceRoleForFSxS3Access_fs-0123456789abcdef0"
                ],
            ),
        ],
    ),
    Preset(
        name="aws-fsx-openzfs-csi-driver",
        summary="Amazon FSx for OpenZFS CSI driver controller: the project's example IAM policy "
                "(AmazonFSxFullAccess, which its install guide attaches for IRSA, is a generic full-access policy, not the driver's own).",
        namespace="kube-system",
        service_account="fsx-openzfs-csi-controller-sa",
        source={
            "project": "kubernetes-sigs/aws-fsx-openzfs-csi-driver",
            "version": "v1.2.0",
            "url": "https://github.com/kubernetes-sigs/aws-fsx-openzfs-csi-driver/blob/v1.2.0/docs/example-iam-policy.json",
        },
        policy=_fsx_openzfs_policy,
        options=[
            Option(
                "service_role_arns", "list",
                "The FSx service-linked roles (path C(aws-service-role/fsx.amazonaws.com/)) that the driver may create "
                "and attach policies to.",
                unset="creating and changing every FSx service-linked role in every account",
                example=["arn:aws:iam::111122223333:role/aws-service-role/fsx.amazonaws.com/AWSServiceRoleForAmazonFSx"],
            ),
        ],
    ),
    Preset(
        name="aws-mountpoint-s3-csi-driver",
        summary="Mountpoint for Amazon S3 CSI driver (v2.7.0, driver-level credentials of its node ServiceAccount): "
                "Mountpoint's least-privilege policy for the buckets it mounts.",
        namespace="kube-system",
        service_account="s3-csi-driver-sa",
        source={
            "project": "awslabs/mountpoint-s3",
            "version": "mountpoint-s3-1.22.3",
            "url": "https://github.com/awslabs/mountpoint-s3/blob/mountpoint-s3-1.22.3/doc/CONFIGURATION.md#iam-permissions",
        },
        policy=_mountpoint_policy,
        options=[
            _bucket_option("that Mountpoint mounts"),
            Option(
                "kms_key_arns", "list",
                "The KMS keys of SSE-KMS encrypted objects; adds C(kms:Decrypt) and C(kms:GenerateDataKey) on these "
                "keys, which Mountpoint needs to read and write them. Unset: no KMS access, which SSE-S3 buckets do "
                "not need.",
                example=_KMS_KEY_EXAMPLE,
            ),
        ],
    ),
    Preset(
        name="velero",
        summary="Velero server with velero-plugin-for-aws: the plugin's IAM policy for EBS snapshots and the backup "
                "bucket; ServiceAccount of the vmware-tanzu velero chart (release name = chart name), namespace of the plugin's "
                "install guide.",
        namespace="velero",
        service_account="velero-server",
        source={
            "project": "vmware-tanzu/velero-plugin-for-aws",
            "version": "v1.13.2",
            "url": "https://github.com/vmware-tanzu/velero-plugin-for-aws/blob/v1.13.2/README.md",
        },
        policy=_velero_policy,
        options=[_bucket_option("that hold the backups")],
    ),
]
