"""Checks of what the site stored in both accounts, read back from the local cloud with the controller's profiles."""

import json
import os
from pathlib import Path

import boto3
import pytest

SOURCE_ACCOUNT = "875120157787"
TARGET_ACCOUNT = "497254257696"
SOURCE_ROLE_ARN = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/airflow-role"
TARGET_ROLE_ARN = f"arn:aws:iam::{TARGET_ACCOUNT}:role/ExecuteGlueService"


@pytest.fixture(scope="module")
def state():
    return json.loads((Path(os.environ["LOCALCLOUD_DIR"]) / "state.json").read_text())


@pytest.fixture(scope="module")
def accounts(state):
    """boto3 sessions in each account, built from the local cloud's own config files only."""
    saved = {key: os.environ.get(key) for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
    os.environ["AWS_CONFIG_FILE"] = state["aws_config_file"]
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = state["aws_credentials_file"]
    try:
        yield {
            "source": boto3.Session(profile_name="localcloud-source"),
            "target": boto3.Session(profile_name="localcloud-target"),
        }
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_target_role_trusts_only_the_source_role(accounts):
    role = accounts["target"].client("iam").get_role(RoleName="ExecuteGlueService")["Role"]
    assert role["Arn"] == TARGET_ROLE_ARN
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Sid": "TrustedSourceRoles",
            "Effect": "Allow",
            "Principal": {"AWS": [SOURCE_ROLE_ARN]},
            "Action": "sts:AssumeRole",
        }
    ]


def test_target_role_has_glue_and_s3_policies_and_no_instance_profile(accounts):
    iam = accounts["target"].client("iam")
    attached = iam.list_attached_role_policies(RoleName="ExecuteGlueService")["AttachedPolicies"]
    assert sorted(policy["PolicyArn"] for policy in attached) == [
        "arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess",
        "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    ]
    assert iam.list_instance_profiles_for_role(RoleName="ExecuteGlueService")["InstanceProfiles"] == []


def test_source_role_is_an_ec2_role_that_may_assume_only_the_target(accounts):
    iam = accounts["source"].client("iam")
    role = iam.get_role(RoleName="airflow-role")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    names = iam.list_role_policies(RoleName="airflow-role")["PolicyNames"]
    assert sorted(names) == ["assume-cross-account-roles", "in-own-account"]
    document = iam.get_role_policy(RoleName="airflow-role", PolicyName="assume-cross-account-roles")["PolicyDocument"]
    assert document["Version"] == "2012-10-17"
    assert document["Statement"] == [
        {"Sid": "AssumeCrossAccountRoles", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": [TARGET_ROLE_ARN]}
    ]
    # Its own rights in account A: listing the buckets, for the bare `aws s3 ls`, and nothing else.
    own = iam.get_role_policy(RoleName="airflow-role", PolicyName="in-own-account")["PolicyDocument"]
    assert own["Statement"] == [
        {"Sid": "ListBucketsOfThisAccount", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
    ]


def test_instance_profile_carries_the_source_role(accounts):
    profile = accounts["source"].client("iam").get_instance_profile(InstanceProfileName="airflow-role")
    assert [role["Arn"] for role in profile["InstanceProfile"]["Roles"]] == [SOURCE_ROLE_ARN]


def test_operator_may_pass_exactly_the_instance_role(accounts):
    iam = accounts["source"].client("iam")
    iam.get_user(UserName="cedc")
    assert iam.list_user_policies(UserName="cedc")["PolicyNames"] == ["launch-with-airflow-role"]
    document = iam.get_user_policy(UserName="cedc", PolicyName="launch-with-airflow-role")["PolicyDocument"]
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LaunchInThisAccount",
                "Effect": "Allow",
                "Action": "ec2:RunInstances",
                "Resource": [
                    f"arn:aws:ec2:*:{SOURCE_ACCOUNT}:instance/*",
                    f"arn:aws:ec2:*:{SOURCE_ACCOUNT}:network-interface/*",
                    f"arn:aws:ec2:*:{SOURCE_ACCOUNT}:volume/*",
                    f"arn:aws:ec2:*:{SOURCE_ACCOUNT}:security-group/*",
                    f"arn:aws:ec2:*:{SOURCE_ACCOUNT}:subnet/*",
                    f"arn:aws:ec2:*:{SOURCE_ACCOUNT}:key-pair/*",
                    f"arn:aws:ec2:*:{SOURCE_ACCOUNT}:launch-template/*",
                    "arn:aws:ec2:*::image/*",
                    "arn:aws:ec2:*::snapshot/*",
                ],
            },
            {
                "Sid": "AttachToInstancesInThisAccount",
                "Effect": "Allow",
                "Action": ["ec2:AssociateIamInstanceProfile", "ec2:ReplaceIamInstanceProfileAssociation"],
                "Resource": f"arn:aws:ec2:*:{SOURCE_ACCOUNT}:instance/*",
            },
            {
                "Sid": "ReadWhatAttachingNeeds",
                "Effect": "Allow",
                "Action": ["ec2:DescribeInstances", "ec2:DescribeIamInstanceProfileAssociations"],
                "Resource": "*",
            },
            {
                "Sid": "ReadTheInstanceProfile",
                "Effect": "Allow",
                "Action": "iam:GetInstanceProfile",
                "Resource": f"arn:aws:iam::{SOURCE_ACCOUNT}:instance-profile/airflow-role",
            },
            {
                "Sid": "PassOnlyTheInstanceRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": SOURCE_ROLE_ARN,
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            },
        ],
    }


def test_every_stand_in_instance_has_the_profile_attached(accounts, state):
    ec2 = accounts["source"].client("ec2")
    for host in state["hosts"].values():
        associations = ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [host["instance_id"]]}]
        )["IamInstanceProfileAssociations"]
        assert [(a["IamInstanceProfile"]["Arn"], a["State"]) for a in associations] == [
            (f"arn:aws:iam::{SOURCE_ACCOUNT}:instance-profile/airflow-role", "associated")
        ]
