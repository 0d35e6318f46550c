"""The command line and the chain the workload uses: instance role, then the target account's role."""

import json
import subprocess

import pytest
from localcloud_support import SOURCE, TARGET, aws_cli_path, host_env, localcloud

from localcloud import state

EXECUTE_GLUE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:role/airflow-role"},
            "Action": "sts:AssumeRole",
        }
    ],
}
# The instance role's own permission to assume the target role, which a cross-account call needs too.
ASSUME_EXECUTE_GLUE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": f"arn:aws:iam::{TARGET}:role/ExecuteGlueService",
        }
    ],
}
WORKLOAD_CONFIG = (
    "[profile airflow-role]\n"
    f"role_arn = arn:aws:iam::{TARGET}:role/ExecuteGlueService\n"
    "credential_source = Ec2InstanceMetadata\n"
    "region = ap-northeast-1\n"
)


def test_start_status_stop_cycle(clean_env, tmp_path):
    state_dir = tmp_path / "cloud"
    try:
        first = localcloud(state_dir, "start", "--host", "web-1", "--http-tokens", "optional")
        assert first.returncode == 0, first.stderr + first.stdout
        assert first.stdout.splitlines()[0].startswith("localcloud: started at http://127.0.0.1:")
        running = state.read_state(state_dir)
        assert list(running["hosts"]) == ["web-1"]
        pid = running["pid"]

        second = localcloud(state_dir, "start")
        assert second.returncode == 0
        assert second.stdout.splitlines()[0] == f"localcloud: already running at {running['endpoint']}"
        assert state.read_state(state_dir) == running

        status = localcloud(state_dir, "status")
        assert status.returncode == 0
        assert json.loads(status.stdout) == running

        exports = localcloud(state_dir, "env").stdout.splitlines()
        assert exports == [
            f"export AWS_CONFIG_FILE={state_dir / 'aws' / 'config'}",
            f"export AWS_SHARED_CREDENTIALS_FILE={state_dir / 'aws' / 'credentials'}",
        ]
    finally:
        stopped = localcloud(state_dir, "stop")
    assert stopped.returncode == 0
    assert stopped.stdout.startswith("localcloud: stopped")
    assert not state.pid_alive(pid)
    assert not state.state_path(state_dir).exists()

    again = localcloud(state_dir, "stop")
    assert (again.returncode, again.stdout.strip()) == (0, "localcloud: not running")
    assert localcloud(state_dir, "status").returncode == 3


def test_start_failure_reports_the_log(clean_env, tmp_path):
    result = localcloud(tmp_path / "cloud", "start", "--source-account", "12345")
    assert result.returncode == 1
    assert "failed to start" in result.stderr
    assert "source account must be 12 digits" in result.stderr
    assert not state.state_path(tmp_path / "cloud").exists()


def aws(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [aws_cli_path(), *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def workload_host(cloud):
    """The seeded host with airflow-role attached and the workload's profile in its user's home."""
    host = cloud.hosts["airflow-worker-1"]
    source = cloud.session("source")
    source.client("ec2", endpoint_url=cloud.endpoint).associate_iam_instance_profile(
        InstanceId=host.instance_id, IamInstanceProfile={"Name": "airflow-role"}
    )
    source.client("iam", endpoint_url=cloud.endpoint).put_role_policy(
        RoleName="airflow-role", PolicyName="assume-execute-glue", PolicyDocument=json.dumps(ASSUME_EXECUTE_GLUE)
    )
    cloud.session("target").client("iam", endpoint_url=cloud.endpoint).create_role(
        RoleName="ExecuteGlueService", AssumeRolePolicyDocument=json.dumps(EXECUTE_GLUE_TRUST)
    )
    (host.home / ".aws").mkdir(mode=0o700)
    (host.home / ".aws" / "config").write_text(WORKLOAD_CONFIG)
    return host


def test_workload_reaches_target_through_instance_role(cloud, workload_host):
    env = host_env(cloud, workload_host.home, workload_host.imds_endpoint)
    assert not (workload_host.home / ".aws" / "credentials").exists()

    identity = json.loads(aws(env, "sts", "get-caller-identity", "--profile", "airflow-role"))
    assert identity["Account"] == TARGET
    assert identity["Arn"].startswith(f"arn:aws:sts::{TARGET}:assumed-role/ExecuteGlueService/")
    assert f"etl-landing-{TARGET}" in aws(env, "s3", "ls", "--profile", "airflow-role")
    jobs = json.loads(aws(env, "glue", "list-jobs", "--profile", "airflow-role"))["JobNames"]
    assert jobs == ["nightly-etl"]

    # Without a profile the CLI is the instance itself. awscli 1.x takes no region from the metadata
    # service, so STS needs one given; S3 lists without.
    identity = json.loads(aws(env, "sts", "get-caller-identity", "--region", cloud.region))
    assert identity["Account"] == SOURCE
    assert identity["Arn"] == f"arn:aws:sts::{SOURCE}:assumed-role/airflow-role/{workload_host.instance_id}"
    listing = aws(env, "s3", "ls")
    assert f"airflow-logs-{SOURCE}" in listing
    assert "etl-landing" not in listing
