"""The call log: every AWS request that reaches moto once the cloud is ready, and which of them write."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from localcloud_support import SOURCE, TARGET, http, localcloud, token

from localcloud import accounts, defaults
from localcloud.calls import is_write, read_calls

PROBE_TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})


def new_calls(cloud, action) -> list[dict]:
    """The calls recorded while ``action`` ran."""
    mark = len(read_calls(cloud.state_dir))
    action()
    return read_calls(cloud.state_dir, since=mark)


def landing_bucket() -> str:
    return f"etl-landing-{TARGET}"


# (session, service client, call, expected service, expected action, write)
CASES = [
    pytest.param(
        "source",
        "iam",
        lambda c: c.create_role(RoleName="recorded-role", AssumeRolePolicyDocument=PROBE_TRUST),
        "iam",
        "CreateRole",
        True,
        id="iam-create-role",
    ),
    pytest.param(
        "source", "iam", lambda c: c.get_role(RoleName=defaults.ADMIN_ROLE), "iam", "GetRole", False, id="iam-get-role"
    ),
    pytest.param(
        "source", "ec2", lambda c: c.describe_instances(), "ec2", "DescribeInstances", False, id="ec2-describe"
    ),
    pytest.param(
        "source",
        "ec2",
        lambda c: c.create_key_pair(KeyName="recorded-key"),
        "ec2",
        "CreateKeyPair",
        True,
        id="ec2-create-key-pair",
    ),
    pytest.param(
        "target", "sts", lambda c: c.get_caller_identity(), "sts", "GetCallerIdentity", False, id="sts-identity"
    ),
    pytest.param(
        "target", "glue", lambda c: c.get_job(JobName="nightly-etl"), "glue", "GetJob", False, id="glue-get-job"
    ),
    pytest.param(
        "target",
        "s3",
        lambda c: c.put_object(Bucket=landing_bucket(), Key="a/b", Body=b"x"),
        "s3",
        "PUT object",
        True,
        id="s3-put",
    ),
    pytest.param(
        "target", "s3", lambda c: c.list_objects_v2(Bucket=landing_bucket()), "s3", "GET bucket", False, id="s3-list"
    ),
]


@pytest.mark.parametrize(("which", "client", "call", "service", "action", "write"), CASES)
def test_call_is_recorded(cloud, which, client, call, service, action, write):
    api = cloud.session(which).client(client, endpoint_url=cloud.endpoint)
    recorded = new_calls(cloud, lambda: call(api))
    account = cloud.accounts[which]
    assert recorded == [{"service": service, "action": action, "account": account, "caller": "other", "status": 200}]
    assert is_write(recorded[0]) is write


def test_failed_call_is_recorded_with_its_status(cloud):
    iam = cloud.session("target").client("iam", endpoint_url=cloud.endpoint)
    recorded = new_calls(
        cloud, lambda: pytest.raises(iam.exceptions.NoSuchEntityException, iam.get_role, RoleName="none")
    )
    assert [(c["action"], c["account"], c["status"]) for c in recorded] == [("GetRole", TARGET, 404)]


@pytest.mark.parametrize(
    ("action", "write"),
    [
        pytest.param("CreateRole", True, id="create"),
        pytest.param("PutRolePolicy", True, id="put"),
        pytest.param("AssociateIamInstanceProfile", True, id="associate"),
        pytest.param("ModifyInstanceMetadataOptions", True, id="modify"),
        pytest.param("", True, id="unknown-counts-as-write"),
        pytest.param("GetRole", False, id="get"),
        pytest.param("ListAttachedRolePolicies", False, id="list"),
        pytest.param("DescribeInstances", False, id="describe"),
        pytest.param("SimulatePrincipalPolicy", False, id="simulate"),
        pytest.param("AssumeRole", False, id="sts-assume-role"),
        pytest.param("GetSessionToken", False, id="sts-session-token"),
        pytest.param("GET object", False, id="s3-get"),
        pytest.param("HEAD bucket", False, id="s3-head"),
        pytest.param("PUT bucket", True, id="s3-put"),
        pytest.param("DELETE object", True, id="s3-delete"),
        pytest.param("POST bucket", True, id="s3-post"),
    ],
)
def test_is_write(action, write):
    assert is_write({"service": "any", "action": action}) is write


def test_setup_and_seeding_are_not_recorded(cloud):
    # The cloud fixture's first call after start is its CreateRole of airflow-role; nothing of the
    # cloud's own (admin roles, buckets, the Glue job, instances, AssumeRole of the base login) comes before.
    first = read_calls(cloud.state_dir)[0]
    assert first == {"service": "iam", "action": "CreateRole", "account": SOURCE, "caller": "other", "status": 200}
    assert not [
        c for c in read_calls(cloud.state_dir) if c["action"] in ("CreateJob", "PUT bucket", "AttachRolePolicy")
    ]


def test_metadata_service_calls_are_its_own_and_read_only(cloud, make_host):
    host = make_host()
    host.ec2.associate_iam_instance_profile(InstanceId=host.instance_id, IamInstanceProfile={"Name": "airflow-role"})
    url = f"{host.imds.endpoint}/latest/meta-data/iam/security-credentials/airflow-role"
    recorded = new_calls(cloud, lambda: http("GET", url, {"X-aws-ec2-metadata-token": token(host.imds.endpoint)}))
    assert [(c["service"], c["action"], c["account"], c["caller"]) for c in recorded] == [
        ("ec2", "DescribeIamInstanceProfileAssociations", SOURCE, "imds:test-host"),
        ("iam", "GetInstanceProfile", SOURCE, "imds:test-host"),
        ("sts", "AssumeRole", SOURCE, "imds:test-host"),
    ]
    assert not [c for c in recorded if is_write(c)]


def test_aws_cli_caller(cloud):
    config, credentials = cloud.config_file, cloud.credentials_file
    recorded = new_calls(cloud, lambda: accounts.cli_caller_account(config, credentials, defaults.SOURCE_PROFILE))
    assert ("sts", "GetCallerIdentity", SOURCE, "aws-cli") in [
        (c["service"], c["action"], c["account"], c["caller"]) for c in recorded
    ]


def test_ansible_check_run_sends_no_writes(cloud, tmp_path):
    """An amazon.aws module in check mode reports the change it would make and sends only reads."""
    env = accounts.cli_env(cloud.config_file, cloud.credentials_file) | {"HOME": str(tmp_path)}
    args = {"name": "check-probe", "profile": defaults.SOURCE_PROFILE, "assume_role_policy_document": PROBE_TRUST}
    command = [
        str(Path(sys.executable).parent / "ansible"),
        "localhost",
        "--connection=local",
        "--inventory=localhost,",
        f"--extra-vars=ansible_python_interpreter={sys.executable}",
        "--check",
        "--module-name=amazon.aws.iam_role",
        f"--args={json.dumps(args | {'create_instance_profile': False})}",
    ]

    def run() -> None:
        result = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0 and "CHANGED" in result.stdout, result.stdout + result.stderr

    recorded = new_calls(cloud, run)
    assert ("iam", "GetRole", SOURCE, "ansible") in [
        (c["service"], c["action"], c["account"], c["caller"]) for c in recorded
    ]
    assert [c for c in recorded if is_write(c)] == []


def test_cli_prints_calls(cloud):
    iam = cloud.session("source").client("iam", endpoint_url=cloud.endpoint)
    mark = len(read_calls(cloud.state_dir))
    iam.create_role(RoleName="printed-role", AssumeRolePolicyDocument=PROBE_TRUST)
    iam.get_role(RoleName="printed-role")

    everything = localcloud(cloud.state_dir, "calls")
    assert everything.returncode == 0, everything.stderr
    assert [json.loads(line) for line in everything.stdout.splitlines()] == read_calls(cloud.state_dir)

    since = localcloud(cloud.state_dir, "calls", "--since", str(mark))
    assert [json.loads(line)["action"] for line in since.stdout.splitlines()] == ["CreateRole", "GetRole"]
    writes = localcloud(cloud.state_dir, "calls", "--since", str(mark), "--writes")
    assert [json.loads(line)["action"] for line in writes.stdout.splitlines()] == ["CreateRole"]


def test_running_server_records_from_ready_on(clean_env, tmp_path):
    """The detached server started by the CLI records too, and its start and status probes are not calls."""
    state_dir = tmp_path / "cloud"
    try:
        assert localcloud(state_dir, "start").returncode == 0
        assert localcloud(state_dir, "status").returncode == 0
        assert localcloud(state_dir, "calls").stdout == ""
        session = accounts.profile_session(
            state_dir / "aws" / "config", state_dir / "aws" / "credentials", defaults.TARGET_PROFILE
        )
        session.client("iam").create_role(RoleName="served-role", AssumeRolePolicyDocument=PROBE_TRUST)
    finally:
        localcloud(state_dir, "stop")
    recorded = [json.loads(line) for line in localcloud(state_dir, "calls").stdout.splitlines()]
    # The profile first assumes the admin role with the base login, then acts in the target account.
    assert [(c["service"], c["action"], c["account"]) for c in recorded] == [
        ("sts", "AssumeRole", defaults.BASE_ACCOUNT),
        ("iam", "CreateRole", TARGET),
    ]
    assert [c["action"] for c in recorded if is_write(c)] == ["CreateRole"]
