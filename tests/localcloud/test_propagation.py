"""A propagation delay keeps new or changed roles and fresh associations unusable for a while.

The cases set a 2 s delay on an injected clock and move the clock by hand, so nothing here waits
or depends on how fast the machine is; only the answers before and after the delay are checked.
"""

import json
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from localcloud_support import SOURCE, TOKEN_HEADER, http, token

from localcloud import propagation
from localcloud.__main__ import cloud_args, parse_args

DELAY = 2.0
CREDS = "/latest/meta-data/iam/security-credentials/"
READ_ONLY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"


class Clock:
    """A monotonic clock the test moves forward itself."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(cloud) -> Iterator[Clock]:
    """The delay switched on for one case, on a clock of its own; off again afterwards."""
    ticking = Clock()
    propagation.configure(DELAY, clock=ticking)
    try:
        yield ticking
    finally:
        propagation.configure(0)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def account_trust(*statements: dict) -> str:
    allow = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [allow, *statements]})


def assume(session, arn: str) -> str:
    """The error code AssumeRole answers, or "ok" when it hands out credentials."""
    try:
        session.client("sts").assume_role(RoleArn=arn, RoleSessionName="probe")
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "ok"


def test_new_role_is_refused_until_the_delay_passes(cloud, clock):
    session = cloud.session("source")
    arn = session.client("iam").create_role(RoleName=unique("young"), AssumeRolePolicyDocument=account_trust())
    arn = arn["Role"]["Arn"]
    assert assume(session, arn) == "AccessDenied"
    clock.advance(DELAY / 2)
    assert assume(session, arn) == "AccessDenied"
    clock.advance(DELAY)
    assert assume(session, arn) == "ok"


def test_refusal_has_the_enforcement_shape(cloud, clock):
    session = cloud.session("source")
    arn = session.client("iam").create_role(RoleName=unique("shape"), AssumeRolePolicyDocument=account_trust())
    arn = arn["Role"]["Arn"]
    with pytest.raises(ClientError) as caught:
        session.client("sts").assume_role(RoleArn=arn, RoleSessionName="probe")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert f"sts:AssumeRole on resource: {arn}" in caught.value.response["Error"]["Message"]


CHANGES = [
    pytest.param(
        lambda iam, name: iam.update_assume_role_policy(RoleName=name, PolicyDocument=account_trust()),
        id="trust-policy",
    ),
    pytest.param(
        lambda iam, name: iam.put_role_policy(
            RoleName=name,
            PolicyName="read",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
            ),
        ),
        id="inline-policy",
    ),
    pytest.param(
        lambda iam, name: iam.attach_role_policy(RoleName=name, PolicyArn=READ_ONLY_ARN),
        id="attached-policy",
    ),
]


@pytest.mark.parametrize("change", CHANGES)
def test_changed_role_is_refused_until_the_delay_passes(cloud, clock, change):
    session = cloud.session("source")
    iam = session.client("iam")
    name = unique("changed")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=account_trust())["Role"]["Arn"]
    clock.advance(DELAY + 1)
    assert assume(session, arn) == "ok"
    change(iam, name)
    assert assume(session, arn) == "AccessDenied"
    clock.advance(DELAY + 1)
    assert assume(session, arn) == "ok"


def test_session_of_a_changed_role_cannot_assume_others(cloud, clock):
    """A caller whose own role just changed is refused too, even for a role that is long settled."""
    session = cloud.session("source")
    iam = session.client("iam")
    caller_name, target_name = unique("caller"), unique("target")
    caller_arn = iam.create_role(RoleName=caller_name, AssumeRolePolicyDocument=account_trust())["Role"]["Arn"]
    target_arn = iam.create_role(RoleName=target_name, AssumeRolePolicyDocument=account_trust())["Role"]["Arn"]
    clock.advance(DELAY + 1)
    creds = session.client("sts").assume_role(RoleArn=caller_arn, RoleSessionName="caller")["Credentials"]
    iam.put_role_policy(
        RoleName=caller_name,
        PolicyName="assume-target",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
        ),
    )
    caller = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=cloud.region,
    )
    sts = caller.client("sts", endpoint_url=cloud.endpoint)
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=target_arn, RoleSessionName="chained")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    clock.advance(DELAY + 1)
    assert sts.assume_role(RoleArn=target_arn, RoleSessionName="chained")["Credentials"]["AccessKeyId"]


def test_delay_off_lets_a_new_role_be_assumed_at_once(cloud):
    propagation.configure(0)
    session = cloud.session("source")
    arn = session.client("iam").create_role(RoleName=unique("settled"), AssumeRolePolicyDocument=account_trust())
    assert assume(session, arn["Role"]["Arn"]) == "ok"


def test_fresh_association_serves_no_credentials_until_the_delay_passes(cloud, make_host, clock):
    host = make_host()
    host.ec2.associate_iam_instance_profile(InstanceId=host.instance_id, IamInstanceProfile={"Name": "airflow-role"})

    def get(path: str) -> int:
        return http("GET", host.imds.endpoint + path, {TOKEN_HEADER: token(host.imds.endpoint)})[0]

    assert (get(CREDS), get(CREDS + "airflow-role")) == (404, 404)
    clock.advance(DELAY + 1)
    assert (get(CREDS), get(CREDS + "airflow-role")) == (200, 200)


def new_profile(iam, with_role: bool = True) -> dict:
    """A fresh instance profile, holding a fresh role unless asked otherwise."""
    profile = iam.create_instance_profile(InstanceProfileName=unique("profile"))["InstanceProfile"]
    if with_role:
        role = iam.create_role(RoleName=unique("held"), AssumeRolePolicyDocument=account_trust())["Role"]
        iam.add_role_to_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=role["RoleName"])
    return profile


def associate_error(host, **profile: str) -> str:
    """The error code AssociateIamInstanceProfile answers, or "ok"; the association is removed again."""
    try:
        association = host.ec2.associate_iam_instance_profile(InstanceId=host.instance_id, IamInstanceProfile=profile)
    except ClientError as error:
        return error.response["Error"]["Code"]
    host.ec2.disassociate_iam_instance_profile(
        AssociationId=association["IamInstanceProfileAssociation"]["AssociationId"]
    )
    return "ok"


@pytest.mark.parametrize("key", ["Name", "Arn"])
def test_new_instance_profile_is_unknown_to_ec2_until_the_delay_passes(cloud, make_host, clock, key):
    host = make_host()
    profile = new_profile(cloud.session("source").client("iam"))
    named = {key: profile[f"InstanceProfile{key}" if key == "Name" else key]}
    with pytest.raises(ClientError) as caught:
        host.ec2.associate_iam_instance_profile(InstanceId=host.instance_id, IamInstanceProfile=named)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValue"
    assert error["Message"].endswith(f"Invalid IAM Instance Profile {key.lower()}")
    assert named[key] in error["Message"]
    mine = {"Name": "instance-id", "Values": [host.instance_id]}
    assert host.ec2.describe_iam_instance_profile_associations(Filters=[mine])["IamInstanceProfileAssociations"] == []
    clock.advance(DELAY + 1)
    assert associate_error(host, **named) == "ok"


def test_role_added_to_a_profile_restarts_its_delay(cloud, make_host, clock):
    host = make_host()
    iam = cloud.session("source").client("iam")
    profile = new_profile(iam, with_role=False)
    clock.advance(DELAY + 1)
    role = iam.create_role(RoleName=unique("late"), AssumeRolePolicyDocument=account_trust())["Role"]
    iam.add_role_to_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=role["RoleName"])
    assert associate_error(host, Name=profile["InstanceProfileName"]) == "InvalidParameterValue"
    clock.advance(DELAY + 1)
    assert associate_error(host, Name=profile["InstanceProfileName"]) == "ok"


def test_replacing_with_a_new_instance_profile_is_refused_until_the_delay_passes(cloud, make_host, clock):
    host = make_host()
    iam = cloud.session("source").client("iam")
    old = host.ec2.associate_iam_instance_profile(
        InstanceId=host.instance_id, IamInstanceProfile={"Name": "airflow-role"}
    )
    old_id = old["IamInstanceProfileAssociation"]["AssociationId"]
    fresh = new_profile(iam)
    with pytest.raises(ClientError) as caught:
        host.ec2.replace_iam_instance_profile_association(
            AssociationId=old_id, IamInstanceProfile={"Name": fresh["InstanceProfileName"]}
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    kept = host.ec2.describe_iam_instance_profile_associations(AssociationIds=[old_id])[
        "IamInstanceProfileAssociations"
    ]
    assert kept[0]["IamInstanceProfile"]["Arn"].endswith("/airflow-role")
    clock.advance(DELAY + 1)
    replaced = host.ec2.replace_iam_instance_profile_association(
        AssociationId=old_id, IamInstanceProfile={"Name": fresh["InstanceProfileName"]}
    )
    assert replaced["IamInstanceProfileAssociation"]["IamInstanceProfile"]["Arn"] == fresh["Arn"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param([], (0.0, 0.0, 0), id="off-by-default"),
        pytest.param(["--propagation-delay", "10"], (10.0, 0.0, 0), id="delay"),
        pytest.param(["--fault-rate", "0.1", "--fault-seed", "7"], (0.0, 0.1, 7), id="faults"),
    ],
)
def test_switches_reach_the_server(argv, expected):
    """``start`` hands its switches on to the ``serve`` process, and names none that are off."""
    passed = cloud_args(parse_args(["start", *argv]))
    served = parse_args(["serve", *passed])
    assert (served.propagation_delay, served.fault_rate, served.fault_seed) == expected
    if not argv:
        assert not [arg for arg in passed if arg.startswith(("--propagation", "--fault"))]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--propagation-delay", "-1"], id="negative-delay"),
        pytest.param(["--fault-rate", "1.5"], id="rate-above-one"),
        pytest.param(["--fault-rate", "-0.1"], id="negative-rate"),
    ],
)
def test_switches_out_of_range_are_refused(argv):
    with pytest.raises(SystemExit):
        parse_args(["start", *argv])
