"""The floor the playbooks are measured against: one boto3 process making the site's writes and reads.

It builds the default single trust on a fresh local cloud the way a short idempotent script would (read,
then create what is missing), writes the CLI profile into the stand-in host's config file and makes the
verify stage's calls through that profile and the host's metadata service. No retries, no checks beyond
what AWS answers: it is the least work that reaches the same end state.

Usage: ``python -m bench.baseline --state-dir DIR`` against a running cloud; prints the seconds it took.
"""

import argparse
import configparser
import json
import os
import sys
import time
from pathlib import Path

import boto3
import botocore.session
from botocore.exceptions import ClientError

SOURCE_ROLE = "airflow-role"
TARGET_ROLE = "ExecuteGlueService"
OPERATOR = "cedc"
MANAGED_POLICIES = ("arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess", "arn:aws:iam::aws:policy/AmazonS3FullAccess")
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def session(state: dict, profile: str) -> boto3.Session:
    """The controller's session for one account, from the local cloud's own files."""
    core = botocore.session.Session()
    core.set_config_variable("config_file", state["aws_config_file"])
    core.set_config_variable("credentials_file", state["aws_credentials_file"])
    core.set_config_variable("profile", profile)
    core.set_config_variable("ignore_configured_endpoint_urls", False)
    return boto3.Session(botocore_session=core)


def missing(call, **kwargs) -> bool:
    """Whether a Get call answers NoSuchEntity."""
    try:
        call(**kwargs)
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchEntity":
            return True
        raise
    return False


def converge_source(iam, source: str, target: str) -> None:
    """Instance role, its assume policy, its instance profile, the operator user and the operator's policy."""
    role_arn = f"arn:aws:iam::{source}:role/{SOURCE_ROLE}"
    if missing(iam.get_role, RoleName=SOURCE_ROLE):
        iam.create_role(RoleName=SOURCE_ROLE, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    assume = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": [f"arn:aws:iam::{target}:role/{TARGET_ROLE}"]}
    iam.put_role_policy(
        RoleName=SOURCE_ROLE,
        PolicyName="assume-target-roles",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [assume]}),
    )
    if missing(iam.get_instance_profile, InstanceProfileName=SOURCE_ROLE):
        iam.create_instance_profile(InstanceProfileName=SOURCE_ROLE)
        iam.add_role_to_instance_profile(InstanceProfileName=SOURCE_ROLE, RoleName=SOURCE_ROLE)
    if missing(iam.get_user, UserName=OPERATOR):
        iam.create_user(UserName=OPERATOR)
    launch = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": role_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            },
        ],
    }
    iam.put_user_policy(UserName=OPERATOR, PolicyName="launch-with-profile", PolicyDocument=json.dumps(launch))


def converge_target(iam, source: str) -> None:
    """The target role trusted by the source role, with its managed policies."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{source}:role/{SOURCE_ROLE}"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    if missing(iam.get_role, RoleName=TARGET_ROLE):
        iam.create_role(RoleName=TARGET_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=TARGET_ROLE)["AttachedPolicies"]}
    for arn in MANAGED_POLICIES:
        if arn not in attached:
            iam.attach_role_policy(RoleName=TARGET_ROLE, PolicyArn=arn)


def attach(ec2, hosts: list[str]) -> None:
    """Associate the instance profile with the hosts' instances and require IMDSv2 with hop limit 2."""
    found = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": hosts}])
    for reservation in found["Reservations"]:
        for instance in reservation["Instances"]:
            if "IamInstanceProfile" not in instance:
                ec2.associate_iam_instance_profile(
                    IamInstanceProfile={"Name": SOURCE_ROLE}, InstanceId=instance["InstanceId"]
                )
            ec2.modify_instance_metadata_options(
                InstanceId=instance["InstanceId"], HttpTokens="required", HttpPutResponseHopLimit=2
            )


def write_profile(home: Path, target: str, region: str) -> None:
    """The CLI profile in the host's ~/.aws/config, other sections kept."""
    path = home / ".aws" / "config"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = configparser.ConfigParser()
    config.read(path)
    config[f"profile {SOURCE_ROLE}"] = {
        "role_arn": f"arn:aws:iam::{target}:role/{TARGET_ROLE}",
        "credential_source": "Ec2InstanceMetadata",
        "region": region,
    }
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        config.write(handle)


def verify(state: dict, host: dict) -> None:
    """The verify stage's calls, made as the host's user: with the CLI profile, then as the instance role."""
    os.environ.update(
        HOME=host["home"],
        AWS_CONFIG_FILE=str(Path(host["home"]) / ".aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(Path(host["home"]) / ".aws" / "credentials"),
        AWS_EC2_METADATA_SERVICE_ENDPOINT=host["imds_endpoint"],
        AWS_ENDPOINT_URL=state["endpoint"],
        AWS_EC2_METADATA_DISABLED="false",
        AWS_DEFAULT_REGION=state["region"],
    )
    target = state["accounts"]["target"]
    for profile in (SOURCE_ROLE, None):
        workload = boto3.Session(profile_name=profile)
        arn = workload.client("sts").get_caller_identity()["Arn"]
        expected = f"arn:aws:sts::{target}:assumed-role/{TARGET_ROLE}/" if profile else ":assumed-role/airflow-role/"
        if expected not in arn:
            raise RuntimeError(f"profile {profile}: caller {arn}, expected {expected}")
        workload.client("s3").list_buckets()
        if profile:
            workload.client("glue").list_jobs()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.monotonic()
    state = json.loads((args.state_dir / "state.json").read_text())
    source, target = state["accounts"]["source"], state["accounts"]["target"]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    converge_source(session(state, "localcloud-source").client("iam"), source, target)
    converge_target(session(state, "localcloud-target").client("iam"), source)
    attach(session(state, "localcloud-source").client("ec2"), list(state["hosts"]))
    for host in state["hosts"].values():
        write_profile(Path(host["home"]), target, state["region"])
    for host in state["hosts"].values():
        verify(state, host)
    print(f"{time.monotonic() - started:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
