"""The config file after the role ran: exact bytes, what botocore reads, mode and owner."""

import os

from botocore.configloader import load_config

testinfra_hosts = ["ansible://all"]

HOME = os.environ["AWS_CLI_PROFILE_SCENARIO_HOME"]
CONFIG = f"{HOME}/.aws/config"

# The starting file uses CRLF, an odd header spelling for the managed profile with a stale
# source_profile, a quoted header for the retired profile, comments and a nested s3 block.
EXPECTED = (
    "# Written by hand, long ago.\r\n"
    "[default]\r\n"
    "region = eu-west-1\r\n"
    "\r\n"
    "[profile   airflow-role]\r\n"
    "role_arn = arn:aws:iam::497254257696:role/ExecuteGlueService\r\n"
    "output = text\r\n"
    "credential_source = Ec2InstanceMetadata\r\n"
    "region = ap-northeast-1\r\n"
    "duration_seconds = 3600\r\n"
    "\r\n"
    "; Nobody uses this one any more.\r\n"
    "\r\n"
    "[profile sso-admin]\r\n"
    "sso_start_url = https://example.awsapps.com/start\r\n"
    "s3 =\r\n"
    "    addressing_style = path\r\n"
)


def test_bytes(host):
    assert host.file(CONFIG).content == EXPECTED.encode()


def test_mode_and_owner(host):
    config = host.file(CONFIG)
    assert config.mode == 0o600
    assert config.user == host.user().name
    assert host.file(f"{HOME}/.aws").mode == 0o700


def test_botocore_reads_the_result():
    profiles = load_config(CONFIG)["profiles"]
    assert profiles["airflow-role"] == {
        "role_arn": "arn:aws:iam::497254257696:role/ExecuteGlueService",
        "output": "text",
        "credential_source": "Ec2InstanceMetadata",
        "region": "ap-northeast-1",
        "duration_seconds": "3600",
    }
    assert "retired-etl" not in profiles
    assert profiles["default"] == {"region": "eu-west-1"}
    assert profiles["sso-admin"]["s3"] == {"addressing_style": "path"}
