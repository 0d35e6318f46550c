"""sts:AssumeRole in the local cloud is refused where AWS refuses it (localcloud/enforce.py).

Each case builds real roles and policies through boto3: a calling role in the source account (whose
session the source admin session hands out) and a target role, then assumes the target as the
caller and checks the answer AWS documents for that combination of trust and identity policies.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from localcloud_support import SOURCE, TARGET, TOKEN_HEADER, http, localcloud, token

from localcloud import defaults, enforce, state
from localcloud.__main__ import cloud_args, parse_args

MFA = {"SerialNumber": f"arn:aws:iam::{SOURCE}:mfa/operator", "TokenCode": "123456"}


@dataclass(frozen=True)
class Names:
    """The ARNs one case's policies are written against."""

    caller: str
    target: str
    other: str


Policy = Callable[[Names], dict[str, Any]]


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def trust(principal: Any, effect: str = "Allow", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return statement


def allow_assume(resource: Any, effect: str = "Allow") -> dict[str, Any]:
    return {"Effect": effect, "Action": "sts:AssumeRole", "Resource": resource}


def credentials_session(cloud, creds: dict[str, Any]) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        region_name=cloud.region,
    )


def make_role(iam, name: str, trust_document: dict[str, Any], max_duration: int = 3600) -> str:
    role = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_document), MaxSessionDuration=max_duration
    )
    return role["Role"]["Arn"]


def caller_session(cloud, name: str, identity: dict[str, Any] | None, managed: bool = False) -> boto3.Session:
    """A session of a new role in the source account, with ``identity`` inline or as an attached managed policy."""
    iam = cloud.session("source").client("iam", endpoint_url=cloud.endpoint)
    admin = f"arn:aws:iam::{SOURCE}:role/{defaults.ADMIN_ROLE}"
    arn = make_role(iam, name, document(trust({"AWS": admin})))
    if identity and managed:
        policy = iam.create_policy(PolicyName=f"{name}-assume", PolicyDocument=json.dumps(identity))
        iam.attach_role_policy(RoleName=name, PolicyArn=policy["Policy"]["Arn"])
    elif identity:
        iam.put_role_policy(RoleName=name, PolicyName="assume", PolicyDocument=json.dumps(identity))
    sts = cloud.session("source").client("sts", endpoint_url=cloud.endpoint)
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="caller")["Credentials"]
    return credentials_session(cloud, creds)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# id, target account ("target" or "source"), trust, caller's identity policy (or None), managed, request, allowed.
ROOT_SOURCE = {"AWS": f"arn:aws:iam::{SOURCE}:root"}
CASES = [
    (
        "cross-role-arn-and-identity",
        "target",
        lambda n: document(trust({"AWS": n.caller})),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        True,
    ),
    ("cross-role-arn-without-identity", "target", lambda n: document(trust({"AWS": n.caller})), None, False, {}, False),
    ("same-account-trust-names-role", "source", lambda n: document(trust({"AWS": n.caller})), None, False, {}, True),
    ("same-account-root-without-identity", "source", lambda n: document(trust(ROOT_SOURCE)), None, False, {}, False),
    (
        "same-account-root-with-identity",
        "source",
        lambda n: document(trust(ROOT_SOURCE)),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        True,
    ),
    (
        "other-role-named",
        "target",
        lambda n: document(trust({"AWS": n.other})),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        False,
    ),
    ("root-without-identity", "target", lambda n: document(trust(ROOT_SOURCE)), None, False, {}, False),
    (
        "root-with-identity",
        "target",
        lambda n: document(trust(ROOT_SOURCE)),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        True,
    ),
    (
        "bare-account-id-with-identity",
        "target",
        lambda n: document(trust({"AWS": SOURCE})),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        True,
    ),
    (
        "star-principal-with-identity",
        "target",
        lambda n: document(trust("*")),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        True,
    ),
    (
        "other-account-root",
        "target",
        lambda n: document(trust({"AWS": f"arn:aws:iam::{TARGET}:root"})),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        False,
    ),
    (
        "service-principal-only",
        "target",
        lambda n: document(trust({"Service": "ec2.amazonaws.com"})),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        False,
    ),
    (
        "principal-arn-condition-match",
        "target",
        lambda n: document(trust(ROOT_SOURCE, condition={"ArnEquals": {"aws:PrincipalArn": [n.other, n.caller]}})),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        True,
    ),
    (
        "principal-arn-like-match",
        "target",
        lambda n: document(
            trust(ROOT_SOURCE, condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{SOURCE}:role/ca*"}})
        ),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        True,
    ),
    (
        "principal-arn-condition-mismatch",
        "target",
        lambda n: document(trust(ROOT_SOURCE, condition={"ArnEquals": {"aws:PrincipalArn": n.other}})),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        False,
    ),
    (
        "external-id-missing",
        "target",
        lambda n: document(trust({"AWS": n.caller}, condition={"StringEquals": {"sts:ExternalId": "s3cret"}})),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        False,
    ),
    (
        "external-id-wrong",
        "target",
        lambda n: document(trust({"AWS": n.caller}, condition={"StringEquals": {"sts:ExternalId": "s3cret"}})),
        lambda n: document(allow_assume(n.target)),
        False,
        {"ExternalId": "guess"},
        False,
    ),
    (
        "external-id-right",
        "target",
        lambda n: document(trust({"AWS": n.caller}, condition={"StringEquals": {"sts:ExternalId": "s3cret"}})),
        lambda n: document(allow_assume(n.target)),
        False,
        {"ExternalId": "s3cret"},
        True,
    ),
    (
        "mfa-required-without-mfa",
        "target",
        lambda n: document(trust({"AWS": n.caller}, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        False,
    ),
    (
        "mfa-required-with-mfa",
        "target",
        lambda n: document(trust({"AWS": n.caller}, condition={"Bool": {"aws:MultiFactorAuthPresent": True}})),
        lambda n: document(allow_assume(n.target)),
        False,
        MFA,
        True,
    ),
    (
        "trust-explicit-deny",
        "target",
        lambda n: document(trust(ROOT_SOURCE), trust({"AWS": n.caller}, effect="Deny")),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        False,
    ),
    (
        "identity-explicit-deny",
        "target",
        lambda n: document(trust({"AWS": n.caller})),
        lambda n: document(allow_assume("*"), allow_assume(n.target, effect="Deny")),
        False,
        {},
        False,
    ),
    (
        "identity-deny-beats-same-account-trust",
        "source",
        lambda n: document(trust({"AWS": n.caller})),
        lambda n: document(allow_assume(n.target, effect="Deny")),
        False,
        {},
        False,
    ),
    (
        "identity-wrong-account",
        "target",
        lambda n: document(trust({"AWS": n.caller})),
        lambda n: document(allow_assume(n.target.replace(TARGET, SOURCE))),
        False,
        {},
        False,
    ),
    (
        "identity-wildcard-resource",
        "target",
        lambda n: document(trust({"AWS": n.caller})),
        lambda n: document(allow_assume("*")),
        False,
        {},
        True,
    ),
    (
        "identity-wildcard-role-name",
        "target",
        lambda n: document(trust({"AWS": n.caller})),
        lambda n: document(allow_assume(f"arn:aws:iam::{TARGET}:role/target-*")),
        False,
        {},
        True,
    ),
    (
        "identity-managed-policy",
        "target",
        lambda n: document(trust({"AWS": n.caller})),
        lambda n: document(allow_assume(n.target)),
        True,
        {},
        True,
    ),
    (
        "unknown-condition-operator",
        "target",
        lambda n: document(trust({"AWS": n.caller}, condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}})),
        lambda n: document(allow_assume(n.target)),
        False,
        {},
        False,
    ),
]


@pytest.mark.parametrize(
    ("account", "trust_policy", "identity", "managed", "request_args", "allowed"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_assume_role_rules(cloud, account, trust_policy, identity, managed, request_args, allowed):
    caller_name, target_name = unique("caller"), unique("target")
    names = Names(
        caller=f"arn:aws:iam::{SOURCE}:role/{caller_name}",
        target=f"arn:aws:iam::{cloud.accounts[account]}:role/{target_name}",
        other=f"arn:aws:iam::{SOURCE}:role/{unique('other')}",
    )
    target_iam = cloud.session(account).client("iam", endpoint_url=cloud.endpoint)
    assert make_role(target_iam, target_name, trust_policy(names)) == names.target
    caller = caller_session(cloud, caller_name, identity(names) if identity else None, managed)
    sts = caller.client("sts", endpoint_url=cloud.endpoint)
    if allowed:
        creds = sts.assume_role(RoleArn=names.target, RoleSessionName="probe", **request_args)["Credentials"]
        identity_arn = credentials_session(cloud, creds).client("sts", endpoint_url=cloud.endpoint)
        expected = f"arn:aws:sts::{cloud.accounts[account]}:assumed-role/{target_name}/probe"
        assert identity_arn.get_caller_identity()["Arn"] == expected
        return
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=names.target, RoleSessionName="probe", **request_args)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["Error"]["Message"] == (
        f"User: arn:aws:sts::{SOURCE}:assumed-role/{caller_name}/caller is not authorized to perform: "
        f"sts:AssumeRole on resource: {names.target}"
    )


def test_nonexistent_role_is_refused(cloud):
    caller = caller_session(cloud, unique("caller"), document(allow_assume("*")))
    missing = f"arn:aws:iam::{TARGET}:role/{unique('missing')}"
    with pytest.raises(ClientError) as refused:
        caller.client("sts", endpoint_url=cloud.endpoint).assume_role(RoleArn=missing, RoleSessionName="probe")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["Error"]["Message"].endswith(f"sts:AssumeRole on resource: {missing}")


def user_session(cloud, identity: dict[str, Any]) -> boto3.Session:
    """Long-term keys of a new IAM user in the source account: no role chaining."""
    iam = cloud.session("source").client("iam", endpoint_url=cloud.endpoint)
    name = unique("user")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=json.dumps(identity))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return credentials_session(cloud, key)


@pytest.mark.parametrize(
    ("caller_kind", "max_duration", "duration", "message"),
    [
        pytest.param("user", 7200, 7200, None, id="user-within-role-max"),
        pytest.param("user", 3600, 7200, enforce.DURATION_OVER_MAX, id="user-above-role-max"),
        pytest.param("role", 43200, 3600, None, id="chained-one-hour"),
        pytest.param("role", 43200, 7200, enforce.DURATION_CHAINED, id="chained-two-hours"),
    ],
)
def test_session_duration(cloud, caller_kind, max_duration, duration, message):
    name = unique("target")
    arn = make_role(
        cloud.session("target").client("iam", endpoint_url=cloud.endpoint),
        name,
        document(trust({"AWS": f"arn:aws:iam::{SOURCE}:root"})),
        max_duration,
    )
    identity = document(allow_assume(arn))
    caller = (
        user_session(cloud, identity) if caller_kind == "user" else caller_session(cloud, unique("caller"), identity)
    )
    sts = caller.client("sts", endpoint_url=cloud.endpoint)
    if message is None:
        assert sts.assume_role(RoleArn=arn, RoleSessionName="probe", DurationSeconds=duration)["Credentials"]
        return
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=arn, RoleSessionName="probe", DurationSeconds=duration)
    assert (refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]) == (
        "ValidationError",
        message,
    )


def test_base_login_reaches_only_admin_roles(cloud):
    """The controller's base login assumes the admin roles through its identity policy, and nothing else."""
    sts = boto3.Session(
        aws_access_key_id=defaults.BASE_ACCESS_KEY,
        aws_secret_access_key=defaults.BASE_SECRET_KEY,
        region_name=cloud.region,
    ).client("sts", endpoint_url=cloud.endpoint)
    admin = f"arn:aws:iam::{TARGET}:role/{defaults.ADMIN_ROLE}"
    assert sts.assume_role(RoleArn=admin, RoleSessionName="probe")["AssumedRoleUser"]["Arn"].startswith(
        f"arn:aws:sts::{TARGET}:assumed-role/{defaults.ADMIN_ROLE}/"
    )
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=f"arn:aws:iam::{SOURCE}:role/airflow-role", RoleSessionName="probe")
    assert refused.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:iam::{defaults.BASE_ACCOUNT}:user/{defaults.BASE_USER} is not authorized"
    )


@pytest.mark.parametrize(
    ("principal", "status"),
    [
        pytest.param({"Service": "ec2.amazonaws.com"}, 200, id="ec2-trusted"),
        pytest.param({"Service": "lambda.amazonaws.com"}, 404, id="other-service"),
        pytest.param({"AWS": f"arn:aws:iam::{SOURCE}:root"}, 404, id="account-only"),
    ],
)
def test_metadata_service_needs_ec2_in_the_trust(cloud, make_host, principal, status):
    name = unique("instance")
    iam = cloud.session("source").client("iam", endpoint_url=cloud.endpoint)
    make_role(iam, name, document(trust(principal)))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    host = make_host()
    host.ec2.associate_iam_instance_profile(InstanceId=host.instance_id, IamInstanceProfile={"Name": name})
    path = f"{host.imds.endpoint}/latest/meta-data/iam/security-credentials/{name}"
    answer, body, _ = http("GET", path, {TOKEN_HEADER: token(host.imds.endpoint)})
    assert answer == status, body
    if status == 200:
        arn = credentials_session(cloud, {**json.loads(body), "SessionToken": json.loads(body)["Token"]}).client(
            "sts", endpoint_url=cloud.endpoint
        )
        assert arn.get_caller_identity()["Arn"] == f"arn:aws:sts::{SOURCE}:assumed-role/{name}/{host.instance_id}"
    else:
        assert body == f"EC2 cannot assume the role {name}"


def test_no_enforce_flag_reaches_the_server(clean_env, tmp_path):
    """``start --no-enforce`` runs a cloud where moto grants AssumeRole of any ARN, as moto does on its own."""
    assert parse_args(["start"]).enforce is True
    assert "--no-enforce" in cloud_args(parse_args(["start", "--no-enforce"]))
    state_dir = tmp_path / "cloud"
    try:
        started = localcloud(state_dir, "start", "--no-enforce", "--host", "web-1")
        assert started.returncode == 0, started.stderr + started.stdout
        endpoint = state.read_state(state_dir)["endpoint"]
        sts = boto3.Session(
            aws_access_key_id=defaults.BASE_ACCESS_KEY,
            aws_secret_access_key=defaults.BASE_SECRET_KEY,
            region_name=defaults.REGION,
        ).client("sts", endpoint_url=endpoint)
        missing = f"arn:aws:iam::{TARGET}:role/{unique('missing')}"
        assert sts.assume_role(RoleArn=missing, RoleSessionName="probe")["Credentials"]["AccessKeyId"]
    finally:
        localcloud(state_dir, "stop")


S3_ONLY = document({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
EVERYTHING_BUT_ASSUME = document({"Effect": "Allow", "Action": "*", "Resource": "*"}, allow_assume("*", effect="Deny"))
# id, target account, whom the trust names ("role" or "session"), identity allows, boundary
# (a document, or the ARN of an AWS managed policy), allowed.
BOUNDARY_CASES = [
    ("cross-boundary-allows", "target", "role", True, document(allow_assume("*")), True),
    ("cross-boundary-without-assume", "target", "role", True, S3_ONLY, False),
    ("cross-boundary-denies", "target", "role", True, EVERYTHING_BUT_ASSUME, False),
    ("cross-boundary-power-user", "target", "role", True, "arn:aws:iam::aws:policy/PowerUserAccess", True),
    ("cross-boundary-read-only", "target", "role", True, "arn:aws:iam::aws:policy/ReadOnlyAccess", False),
    ("same-account-role-named-boundary-limits", "source", "role", False, S3_ONLY, False),
    ("same-account-session-named-passes-boundary", "source", "session", False, S3_ONLY, True),
    ("same-account-session-named-boundary-denies", "source", "session", False, EVERYTHING_BUT_ASSUME, False),
]


@pytest.mark.parametrize(
    ("account", "named", "identity", "boundary", "allowed"),
    [pytest.param(*case[1:], id=case[0]) for case in BOUNDARY_CASES],
)
def test_permissions_boundary_of_the_calling_role(cloud, account, named, identity, boundary, allowed):
    """An identity Allow counts only within the caller's boundary; a trust naming the session passes it."""
    caller_name, target_name = unique("bounded"), unique("target")
    caller_arn = f"arn:aws:iam::{SOURCE}:role/{caller_name}"
    principal = caller_arn if named == "role" else f"arn:aws:sts::{SOURCE}:assumed-role/{caller_name}/caller"
    target_iam = cloud.session(account).client("iam", endpoint_url=cloud.endpoint)
    target_arn = make_role(target_iam, target_name, document(trust({"AWS": principal})))
    source_iam = cloud.session("source").client("iam", endpoint_url=cloud.endpoint)
    if not isinstance(boundary, str):
        created = source_iam.create_policy(PolicyName=f"{caller_name}-boundary", PolicyDocument=json.dumps(boundary))
        boundary = created["Policy"]["Arn"]
    caller = caller_session(cloud, caller_name, document(allow_assume(target_arn)) if identity else None)
    source_iam.put_role_permissions_boundary(RoleName=caller_name, PermissionsBoundary=boundary)
    sts = caller.client("sts", endpoint_url=cloud.endpoint)
    if allowed:
        creds = sts.assume_role(RoleArn=target_arn, RoleSessionName="probe")["Credentials"]
        who = credentials_session(cloud, creds).client("sts", endpoint_url=cloud.endpoint).get_caller_identity()
        assert who["Arn"] == f"arn:aws:sts::{cloud.accounts[account]}:assumed-role/{target_name}/probe"
        return
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=target_arn, RoleSessionName="probe")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["Error"]["Message"].endswith(f"sts:AssumeRole on resource: {target_arn}")


def test_boundary_removed_lets_the_identity_policy_count_again(cloud):
    caller_name, target_name = unique("unbounded"), unique("target")
    target_iam = cloud.session("target").client("iam", endpoint_url=cloud.endpoint)
    target_arn = make_role(
        target_iam, target_name, document(trust({"AWS": f"arn:aws:iam::{SOURCE}:role/{caller_name}"}))
    )
    caller = caller_session(cloud, caller_name, document(allow_assume(target_arn)))
    source_iam = cloud.session("source").client("iam", endpoint_url=cloud.endpoint)
    source_iam.put_role_permissions_boundary(
        RoleName=caller_name, PermissionsBoundary="arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    sts = caller.client("sts", endpoint_url=cloud.endpoint)
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=target_arn, RoleSessionName="probe")
    source_iam.delete_role_permissions_boundary(RoleName=caller_name)
    assert sts.assume_role(RoleArn=target_arn, RoleSessionName="probe")["Credentials"]["AccessKeyId"]
