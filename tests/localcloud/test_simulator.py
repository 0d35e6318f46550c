"""IAM's policy simulator in the local cloud judges identity policies and boundaries (localcloud/simulator.py)."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError
from localcloud_support import SOURCE, TARGET

TARGET_ROLE = f"arn:aws:iam::{TARGET}:role/ExecuteGlueService"
OTHER_ROLE = f"arn:aws:iam::{TARGET}:role/Other"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def role_with(iam, inline: str | None = None, boundary: str | None = None) -> str:
    name = f"simulated-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))["Role"]["Arn"]
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=inline)
    if boundary:
        iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
    return arn


def decisions(iam, arn: str, actions: list[str], resources: list[str]) -> list[tuple[str, str, str]]:
    results = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, ResourceArns=resources)
    return [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in results["EvaluationResults"]]


ASSUME_TARGET = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": TARGET_ROLE}
CASES = [
    pytest.param(document(ASSUME_TARGET), None, "allowed", "implicitDeny", id="inline-allows-one-role"),
    pytest.param(None, None, "implicitDeny", "implicitDeny", id="no-policy"),
    pytest.param(
        document({"Effect": "Allow", "Action": "sts:*", "Resource": "*"}, {**ASSUME_TARGET, "Effect": "Deny"}),
        None,
        "explicitDeny",
        "allowed",
        id="deny-wins",
    ),
    pytest.param(
        document({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{TARGET}:role/*"}),
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "implicitDeny",
        "implicitDeny",
        id="boundary-without-assume",
    ),
    pytest.param(
        document({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{TARGET}:role/*"}),
        "arn:aws:iam::aws:policy/PowerUserAccess",
        "allowed",
        "allowed",
        id="boundary-power-user",
    ),
]


@pytest.mark.parametrize(("inline", "boundary", "on_target", "on_other"), CASES)
def test_assume_role_decisions(cloud, inline, boundary, on_target, on_other):
    iam = cloud.session("source").client("iam", endpoint_url=cloud.endpoint)
    arn = role_with(iam, inline, boundary)
    found = decisions(iam, arn, ["sts:AssumeRole"], [TARGET_ROLE, OTHER_ROLE])
    assert found == [("sts:AssumeRole", TARGET_ROLE, on_target), ("sts:AssumeRole", OTHER_ROLE, on_other)]


def test_boundary_detail_is_reported(cloud):
    iam = cloud.session("source").client("iam", endpoint_url=cloud.endpoint)
    arn = role_with(iam, document(ASSUME_TARGET), "arn:aws:iam::aws:policy/ReadOnlyAccess")
    result = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["sts:AssumeRole"])["EvaluationResults"]
    assert result[0]["EvalResourceName"] == "*"
    assert result[0]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}


def test_managed_policy_of_a_user_counts(cloud):
    iam = cloud.session("source").client("iam", endpoint_url=cloud.endpoint)
    name = f"simulated-{uuid.uuid4().hex[:8]}"
    user = iam.create_user(UserName=name)["User"]["Arn"]
    policy = iam.create_policy(PolicyName=name, PolicyDocument=document(ASSUME_TARGET))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=policy)
    assert decisions(iam, user, ["sts:AssumeRole", "iam:PassRole"], [TARGET_ROLE]) == [
        ("sts:AssumeRole", TARGET_ROLE, "allowed"),
        ("iam:PassRole", TARGET_ROLE, "implicitDeny"),
    ]


@pytest.mark.parametrize(
    ("arn", "code"),
    [
        pytest.param(f"arn:aws:iam::{SOURCE}:role/no-such-role", "NoSuchEntity", id="missing-role"),
        pytest.param("arn:aws:s3:::a-bucket-not-a-principal", "InvalidInput", id="not-a-principal"),
    ],
)
def test_bad_source_is_refused(cloud, arn, code):
    iam = cloud.session("source").client("iam", endpoint_url=cloud.endpoint)
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["sts:AssumeRole"])
    assert caught.value.response["Error"]["Code"] == code
