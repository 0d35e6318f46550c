"""Every request is decided by the caller's identity policies when the cloud runs with --enforce-identity.

One cloud, started through the command line with the switch on, in its own state dir. Each case gives a
fresh IAM user (or a role, for a session) one policy, calls the cloud with its keys, and checks the answer
AWS gives: the call goes through, or it is refused with the service's error code and AWS's message, and
nothing changed.
"""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from localcloud_support import SOURCE, TOKEN_HEADER, http, localcloud, token

from localcloud import accounts, defaults, state

REGION = defaults.REGION
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ACCOUNT_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"}, "Action": "sts:AssumeRole"}],
}


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@dataclass
class Cloud:
    """The running cloud: its state and an admin session in the source account."""

    state_dir: Path
    info: dict
    admin: boto3.Session

    def client(self, session: boto3.Session, service: str) -> Any:
        return session.client(service, endpoint_url=self.info["endpoint"], region_name=REGION)

    def user(self, policy: dict[str, Any]) -> tuple[str, boto3.Session]:
        """A new IAM user in the source account holding only ``policy``, and a session with its keys."""
        iam = self.client(self.admin, "iam")
        name = f"user-{uuid.uuid4().hex[:8]}"
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        session = boto3.Session(
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
        )
        return arn, session

    def role_session(self, policy: dict[str, Any]) -> tuple[str, boto3.Session]:
        """A session of a new role holding only ``policy`` (attached as a managed policy), assumed by the admin."""
        iam = self.client(self.admin, "iam")
        name = f"role-{uuid.uuid4().hex[:8]}"
        role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(ACCOUNT_TRUST))["Role"]["Arn"]
        policy_arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        credentials = self.client(self.admin, "sts").assume_role(RoleArn=role_arn, RoleSessionName="case")[
            "Credentials"
        ]
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )
        return f"arn:aws:sts::{SOURCE}:assumed-role/{name}/case", session


@pytest.fixture(scope="module")
def cloud(clean_env, tmp_path_factory) -> Iterator[Cloud]:
    state_dir = tmp_path_factory.mktemp("authorize") / "cloud"
    started = localcloud(state_dir, "start", "--enforce-identity")
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        info = state.read_state(state_dir)
        admin = accounts.profile_session(
            Path(info["aws_config_file"]), Path(info["aws_credentials_file"]), defaults.SOURCE_PROFILE
        )
        iam = admin.client("iam", endpoint_url=info["endpoint"])
        for name in ("app-1", "other-role"):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
        iam.create_role(RoleName="svc-1", Path="/svc/", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
        iam.create_instance_profile(InstanceProfileName="app-1")
        iam.add_role_to_instance_profile(InstanceProfileName="app-1", RoleName="app-1")
        yield Cloud(state_dir, info, admin)
    finally:
        localcloud(state_dir, "stop")


def refusal(error: ClientError) -> tuple[str, str, int]:
    return (
        error.response["Error"]["Code"],
        error.response["Error"]["Message"],
        error.response["ResponseMetadata"]["HTTPStatusCode"],
    )


def attached(cloud: Cloud) -> list[dict]:
    return cloud.client(cloud.admin, "iam").list_attached_role_policies(RoleName="app-1")["AttachedPolicies"]


def role_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{SOURCE}:role{path}{name}"


# (id, policy, call, refused action and resource or None when allowed, explicit deny)
IAM_CASES = [
    (
        "allow-on-scoped-resource",
        document({"Effect": "Allow", "Action": "iam:GetRole", "Resource": f"arn:aws:iam::{SOURCE}:role/app-*"}),
        ("get_role", {"RoleName": "app-1"}),
        None,
    ),
    (
        "implicit-deny-outside-the-resource",
        document({"Effect": "Allow", "Action": "iam:GetRole", "Resource": f"arn:aws:iam::{SOURCE}:role/app-*"}),
        ("get_role", {"RoleName": "other-role"}),
        ("iam:GetRole", role_arn("other-role"), "because no identity-based policy allows the iam:GetRole action"),
    ),
    (
        "implicit-deny-other-action",
        document({"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}),
        ("list_role_policies", {"RoleName": "app-1"}),
        ("iam:ListRolePolicies", role_arn("app-1"), "because no"),
    ),
    (
        "explicit-deny-wins",
        document(
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:Get*", "Resource": role_arn("app-1")},
        ),
        ("get_role", {"RoleName": "app-1"}),
        ("iam:GetRole", role_arn("app-1"), "with an explicit deny in an identity-based policy"),
    ),
    (
        "deny-elsewhere-does-not-apply",
        document(
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:Get*", "Resource": role_arn("other-role")},
        ),
        ("get_role", {"RoleName": "app-1"}),
        None,
    ),
    (
        "role-path-in-the-resource",
        document({"Effect": "Allow", "Action": "iam:GetRole", "Resource": f"arn:aws:iam::{SOURCE}:role/svc/*"}),
        ("get_role", {"RoleName": "svc-1"}),
        None,
    ),
    (
        "role-path-outside-the-resource",
        document({"Effect": "Allow", "Action": "iam:GetRole", "Resource": f"arn:aws:iam::{SOURCE}:role/svc/*"}),
        ("get_role", {"RoleName": "app-1"}),
        ("iam:GetRole", role_arn("app-1"), "because no"),
    ),
    (
        "list-needs-star",
        document({"Effect": "Allow", "Action": "iam:ListRoles", "Resource": f"arn:aws:iam::{SOURCE}:role/*"}),
        ("list_roles", {}),
        ("iam:ListRoles", "*", "because no"),
    ),
    (
        "not-action-allows-the-rest",
        document({"Effect": "Allow", "NotAction": "iam:Get*", "Resource": "*"}),
        ("list_roles", {}),
        None,
    ),
    (
        "not-action-leaves-out",
        document({"Effect": "Allow", "NotAction": "iam:Get*", "Resource": "*"}),
        ("get_role", {"RoleName": "app-1"}),
        ("iam:GetRole", role_arn("app-1"), "because no"),
    ),
    (
        "not-resource",
        document({"Effect": "Allow", "Action": "iam:GetRole", "NotResource": role_arn("app-1")}),
        ("get_role", {"RoleName": "app-1"}),
        ("iam:GetRole", role_arn("app-1"), "because no"),
    ),
    (
        "instance-profile-resource",
        document({"Effect": "Allow", "Action": "iam:GetInstanceProfile", "Resource": f"arn:aws:iam::{SOURCE}:role/*"}),
        ("get_instance_profile", {"InstanceProfileName": "app-1"}),
        ("iam:GetInstanceProfile", f"arn:aws:iam::{SOURCE}:instance-profile/app-1", "because no"),
    ),
    (
        "unsupported-condition-refuses",
        document(
            {
                "Effect": "Allow",
                "Action": "iam:GetRole",
                "Resource": "*",
                "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
            }
        ),
        ("get_role", {"RoleName": "app-1"}),
        ("iam:GetRole", role_arn("app-1"), "because the local cloud cannot evaluate"),
    ),
    (
        "condition-on-the-attached-policy",
        document(
            {
                "Effect": "Allow",
                "Action": "iam:AttachRolePolicy",
                "Resource": "*",
                "Condition": {"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"}},
            }
        ),
        ("attach_role_policy", {"RoleName": "app-1", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        ("iam:AttachRolePolicy", role_arn("app-1"), "because no"),
    ),
]


@pytest.mark.parametrize(("policy", "call", "refused"), [case[1:] for case in IAM_CASES], ids=[c[0] for c in IAM_CASES])
def test_iam_calls_of_a_user(cloud, policy, call, refused):
    arn, session = cloud.user(policy)
    method, kwargs = call
    iam = cloud.client(session, "iam")
    attached_before = attached(cloud)
    if refused is None:
        getattr(iam, method)(**kwargs)
        return
    action, resource, why = refused
    with pytest.raises(ClientError) as raised:
        getattr(iam, method)(**kwargs)
    code, message, status = refusal(raised.value)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: {arn} is not authorized to perform: {action} on resource: {resource} {why}")
    assert attached(cloud) == attached_before


def test_explicit_deny_keeps_the_role(cloud):
    _, session = cloud.user(
        document(
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"},
        )
    )
    with pytest.raises(ClientError) as raised:
        cloud.client(session, "iam").delete_role(RoleName="other-role")
    assert refusal(raised.value)[0] == "AccessDenied"
    assert cloud.client(cloud.admin, "iam").get_role(RoleName="other-role")["Role"]["Arn"] == role_arn("other-role")


def test_user_acting_on_itself_without_a_name(cloud):
    arn, session = cloud.user(
        document({"Effect": "Allow", "Action": "iam:GetUser", "Resource": f"arn:aws:iam::{SOURCE}:user/someone-else"})
    )
    with pytest.raises(ClientError) as raised:
        cloud.client(session, "iam").get_user()
    assert f"iam:GetUser on resource: {arn} " in refusal(raised.value)[1]
    _, allowed = cloud.user(document({"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::*:user/*"}))
    assert cloud.client(allowed, "iam").get_user()["User"]["UserName"].startswith("user-")


def test_session_is_judged_by_its_roles_policies(cloud):
    arn, session = cloud.role_session(document({"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}))
    identity = cloud.client(session, "sts").get_caller_identity()
    assert identity["Arn"] == arn
    assert cloud.client(session, "ec2").describe_instances()["Reservations"]
    with pytest.raises(ClientError) as raised:
        cloud.client(session, "s3").list_buckets()
    code, message, status = refusal(raised.value)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: {arn} is not authorized to perform: s3:ListAllMyBuckets on resource: *")
    with pytest.raises(ClientError) as raised:
        cloud.client(session, "glue").list_jobs()
    assert refusal(raised.value)[:1] == ("AccessDeniedException",)
    assert "glue:ListJobs on resource: *" in refusal(raised.value)[1]


def test_s3_actions_and_resources(cloud):
    bucket = f"airflow-logs-{SOURCE}"
    _, session = cloud.user(
        document(
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        )
    )
    s3 = cloud.client(session, "s3")
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x")
    assert refusal(raised.value)[0] == "AccessDenied"
    assert f"s3:PutObject on resource: arn:aws:s3:::{bucket}/a.txt " in refusal(raised.value)[1]
    assert cloud.client(cloud.admin, "s3").list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def instance_arn(instance_id: str) -> str:
    return f"arn:aws:ec2:{REGION}:{SOURCE}:instance/{instance_id}"


def test_ec2_instance_scoping_and_pass_role(cloud):
    instance_id = cloud.info["hosts"]["airflow-worker-1"]["instance_id"]
    attach = {
        "Effect": "Allow",
        "Action": ["ec2:AssociateIamInstanceProfile", "ec2:ModifyInstanceMetadataOptions"],
        "Resource": instance_arn(instance_id),
    }
    pass_role = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role_arn("app-*"),
        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
    }
    arn, without_pass = cloud.user(document(attach))
    ec2 = cloud.client(without_pass, "ec2")
    with pytest.raises(ClientError) as raised:
        ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Name": "app-1"})
    code, message, status = refusal(raised.value)
    assert (code, status) == ("UnauthorizedOperation", 403)
    assert message == (
        f"You are not authorized to perform this operation. User: {arn} is not authorized to perform: "
        f"iam:PassRole on resource: {role_arn('app-1')} because no identity-based policy allows the iam:PassRole action"
    )
    with pytest.raises(ClientError) as raised:
        ec2.modify_instance_metadata_options(InstanceId="i-0123456789abcdef0", HttpPutResponseHopLimit=3)
    assert (
        f"ec2:ModifyInstanceMetadataOptions on resource: {instance_arn('i-0123456789abcdef0')} "
        in (refusal(raised.value)[1])
    )
    admin_ec2 = cloud.client(cloud.admin, "ec2")
    assert admin_ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"] == []

    _, with_pass = cloud.user(document(attach, pass_role))
    association = cloud.client(with_pass, "ec2").associate_iam_instance_profile(
        InstanceId=instance_id, IamInstanceProfile={"Name": "app-1"}
    )["IamInstanceProfileAssociation"]
    assert association["InstanceId"] == instance_id
    assert association["IamInstanceProfile"]["Arn"] == f"arn:aws:iam::{SOURCE}:instance-profile/app-1"


def test_admin_role_and_metadata_service_are_not_held_back(cloud):
    """The organization admin's AdministratorAccess allows all; the metadata service still serves the role."""
    host = cloud.info["hosts"]["airflow-worker-1"]
    admin_ec2 = cloud.client(cloud.admin, "ec2")
    if not admin_ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]:
        admin_ec2.associate_iam_instance_profile(InstanceId=host["instance_id"], IamInstanceProfile={"Name": "app-1"})
    endpoint = host["imds_endpoint"]
    headers = {TOKEN_HEADER: token(endpoint)}
    status, body, _ = http("GET", f"{endpoint}/latest/meta-data/iam/security-credentials/app-1", headers)
    assert status == 200, body
    served = json.loads(body)
    session = boto3.Session(
        aws_access_key_id=served["AccessKeyId"],
        aws_secret_access_key=served["SecretAccessKey"],
        aws_session_token=served["Token"],
        region_name=REGION,
    )
    identity = cloud.client(session, "sts").get_caller_identity()
    assert identity["Arn"].startswith(f"arn:aws:sts::{SOURCE}:assumed-role/app-1/")
    # app-1 has no permission policy at all, so anything beyond identifying itself is refused.
    with pytest.raises(ClientError) as raised:
        cloud.client(session, "iam").list_roles()
    assert refusal(raised.value)[0] == "AccessDenied"


def test_refusals_reach_the_call_log(cloud):
    from localcloud import calls

    refused = [c for c in calls.read_calls(cloud.state_dir) if c["status"] == 403]
    assert {"service": "iam", "action": "GetRole", "account": SOURCE} in [
        {k: c[k] for k in ("service", "action", "account")} for c in refused
    ]


def test_switch_is_off_unless_asked_for_and_reaches_the_server():
    from localcloud.__main__ import cloud_args, parse_args
    from localcloud.server import LocalCloud

    assert parse_args(["start"]).enforce_identity is False
    assert "--enforce-identity" not in cloud_args(parse_args(["start"]))
    passed = cloud_args(parse_args(["start", "--enforce-identity"]))
    assert parse_args(["serve", *passed]).enforce_identity is True
    assert LocalCloud("unused").enforce_identity is False


@pytest.mark.parametrize(
    ("boundary", "refused"),
    [
        pytest.param({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}, None, id="boundary-allows"),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            "because no permissions boundary allows the ec2:DescribeInstances action",
            id="boundary-without-the-action",
        ),
        pytest.param(
            {"Effect": "Deny", "Action": "ec2:*", "Resource": "*"},
            "with an explicit deny in a permissions boundary",
            id="boundary-denies",
        ),
    ],
)
def test_permissions_boundary_limits_a_session(cloud, boundary, refused):
    arn, session = cloud.role_session(document({"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}))
    iam = cloud.client(cloud.admin, "iam")
    name = arn.split("/")[1]
    boundary_arn = iam.create_policy(PolicyName=f"{name}-boundary", PolicyDocument=json.dumps(document(boundary)))
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary_arn["Policy"]["Arn"])
    ec2 = cloud.client(session, "ec2")
    if refused is None:
        assert "Reservations" in ec2.describe_instances()
        return
    with pytest.raises(ClientError) as raised:
        ec2.describe_instances()
    code, message, status = refusal(raised.value)
    assert (code, status) == ("UnauthorizedOperation", 403)
    assert message.endswith(f"User: {arn} is not authorized to perform: ec2:DescribeInstances on resource: * {refused}")
