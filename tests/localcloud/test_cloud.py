"""The started cloud: its state file, the controller's profiles and the seeded accounts."""

import json
import stat
from pathlib import Path

import pytest
from localcloud_support import HOSTS, SOURCE, TARGET

from localcloud import accounts, defaults
from localcloud.state import read_state


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_file(cloud):
    state = read_state(cloud.state_dir)
    assert state == cloud.state
    assert set(state) == {"pid", "endpoint", "region", "accounts", "aws_config_file", "aws_credentials_file", "hosts"}
    assert state["endpoint"].startswith("http://127.0.0.1:")
    assert state["accounts"] == {"source": SOURCE, "target": TARGET}
    assert sorted(state["hosts"]) == HOSTS
    for host in state["hosts"].values():
        assert host["imds_endpoint"].startswith("http://127.0.0.1:")
        assert host["instance_id"].startswith("i-")
        home = Path(host["home"])
        assert home.is_absolute() and home.is_dir() and mode(home) == 0o700
    for key in ("aws_config_file", "aws_credentials_file"):
        path = Path(state[key])
        assert path.is_absolute() and mode(path) == 0o600
        assert mode(path.parent) == 0o700


@pytest.mark.parametrize(
    ("profile", "account", "bucket"),
    [
        pytest.param(defaults.SOURCE_PROFILE, SOURCE, f"airflow-logs-{SOURCE}", id="source"),
        pytest.param(defaults.TARGET_PROFILE, TARGET, f"etl-landing-{TARGET}", id="target"),
    ],
)
def test_controller_profiles_land_in_their_accounts(cloud, profile, account, bucket):
    session = accounts.profile_session(cloud.config_file, cloud.credentials_file, profile)
    identity = session.client("sts").get_caller_identity()
    assert identity["Account"] == account
    assert identity["Arn"].startswith(f"arn:aws:sts::{account}:assumed-role/{defaults.ADMIN_ROLE}/")
    assert [b["Name"] for b in session.client("s3").list_buckets()["Buckets"]] == [bucket]
    assert accounts.cli_caller_account(cloud.config_file, cloud.credentials_file, profile) == account


@pytest.mark.parametrize("which", ["source", "target"])
def test_admin_role_is_real(cloud, which):
    iam = cloud.session(which).client("iam", endpoint_url=cloud.endpoint)
    role = iam.get_role(RoleName=defaults.ADMIN_ROLE)["Role"]
    trusted = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"]
    assert trusted == f"arn:aws:iam::{defaults.BASE_ACCOUNT}:root"
    attached = iam.list_attached_role_policies(RoleName=defaults.ADMIN_ROLE)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AdministratorAccess"]


def test_seeded_glue_job(cloud):
    job = cloud.session("target").client("glue", endpoint_url=cloud.endpoint).get_job(JobName="nightly-etl")["Job"]
    assert job["Role"] == f"arn:aws:iam::{TARGET}:role/ExecuteGlueService"
    assert job["Command"]["ScriptLocation"] == f"s3://etl-landing-{TARGET}/scripts/nightly.py"


def test_seeded_instances(cloud):
    ec2 = cloud.session("source").client("ec2", endpoint_url=cloud.endpoint)
    for name, host in cloud.hosts.items():
        instance = ec2.describe_instances(InstanceIds=[host.instance_id])["Reservations"][0]["Instances"][0]
        assert {"Key": "Name", "Value": name} in instance["Tags"]
        options = instance["MetadataOptions"]
        assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("required", 2)
        assert json.dumps(instance["Placement"]).count(cloud.region) == 1
