"""Checks of the converged site, made on the stand-in instance the way an operator would look.

The local cloud's state file says where the instance's home and endpoints are; every check reads real
outcomes: the bytes of the config file, what botocore makes of it, and what the AWS CLI answers.
"""

import json
import os
import shlex
from pathlib import Path

import pytest
from botocore.configloader import load_config

testinfra_hosts = ["ansible://cross_account_hosts"]

SOURCE_ACCOUNT = "875120157787"
TARGET_ACCOUNT = "497254257696"
TARGET_ROLE_ARN = f"arn:aws:iam::{TARGET_ACCOUNT}:role/ExecuteGlueService"
EXISTING = (Path(__file__).parent.parent / "files" / "existing_config").read_text()
PROFILE_BLOCK = (
    "\n[profile airflow-role]\n"
    f"role_arn = {TARGET_ROLE_ARN}\n"
    "credential_source = Ec2InstanceMetadata\n"
    "region = ap-northeast-1\n"
)


@pytest.fixture(scope="module")
def state():
    return json.loads((Path(os.environ["LOCALCLOUD_DIR"]) / "state.json").read_text())


@pytest.fixture()
def stand_in(host, state):
    return state["hosts"][host.backend.get_hostname()]


@pytest.fixture()
def aws(host, state, stand_in):
    """Run the AWS CLI on the instance with its own home and the local cloud's endpoints."""
    aws_cli = Path(os.environ.get("VIRTUAL_ENV", Path(__file__).parents[3] / ".venv")) / "bin" / "aws"
    home = stand_in["home"]
    env = {
        "HOME": home,
        "AWS_CONFIG_FILE": f"{home}/.aws/config",
        "AWS_SHARED_CREDENTIALS_FILE": f"{home}/.aws/credentials",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": stand_in["imds_endpoint"],
        "AWS_ENDPOINT_URL": state["endpoint"],
    }
    prefix = "env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN " + " ".join(
        f"{key}={shlex.quote(value)}" for key, value in env.items()
    )

    def run(*args):
        return host.run_expect([0], f"{prefix} {shlex.quote(str(aws_cli))} {shlex.join(args)}").stdout

    return run


def test_config_keeps_existing_bytes_and_adds_the_profile(host, stand_in):
    config = host.file(f"{stand_in['home']}/.aws/config")
    assert config.content_string == EXISTING + PROFILE_BLOCK


def test_config_mode_and_owner(host, stand_in):
    config = host.file(f"{stand_in['home']}/.aws/config")
    assert config.mode == 0o600
    assert config.user == host.user().name
    assert host.file(f"{stand_in['home']}/.aws").mode == 0o700


def test_botocore_reads_the_profile_and_the_rest(stand_in):
    profiles = load_config(f"{stand_in['home']}/.aws/config")["profiles"]
    assert profiles["airflow-role"] == {
        "role_arn": TARGET_ROLE_ARN,
        "credential_source": "Ec2InstanceMetadata",
        "region": "ap-northeast-1",
    }
    assert profiles["default"]["s3"] == {"max_concurrent_requests": "20", "signature_version": "s3v4"}
    assert profiles["sso-admin"]["sso_region"] == "eu-west-1"


def test_profile_acts_as_the_target_role(aws):
    identity = json.loads(aws("sts", "get-caller-identity", "--profile", "airflow-role", "--output", "json"))
    assert identity["Account"] == TARGET_ACCOUNT
    assert identity["Arn"].startswith(f"arn:aws:sts::{TARGET_ACCOUNT}:assumed-role/ExecuteGlueService/")


def test_profile_lists_the_target_buckets(aws):
    assert f"etl-landing-{TARGET_ACCOUNT}" in aws("s3", "ls", "--profile", "airflow-role")


def test_profile_lists_the_target_glue_jobs(aws):
    jobs = json.loads(aws("glue", "list-jobs", "--profile", "airflow-role", "--output", "json"))
    assert jobs["JobNames"] == ["nightly-etl"]


def test_instance_without_profile_is_the_source_role(aws, state, stand_in):
    identity = json.loads(aws("sts", "get-caller-identity", "--output", "json"))
    assert identity["Account"] == SOURCE_ACCOUNT
    assert identity["Arn"] == f"arn:aws:sts::{SOURCE_ACCOUNT}:assumed-role/airflow-role/{stand_in['instance_id']}"
    buckets = aws("s3", "ls")
    assert f"airflow-logs-{SOURCE_ACCOUNT}" in buckets
    assert f"etl-landing-{TARGET_ACCOUNT}" not in buckets
