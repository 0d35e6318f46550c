"""Several trusts described as data: two source roles trusting one target role, one source role trusting two
target roles, two instance groups. One site run converges them all; conflicts stop it before any change.

The cases share one cloud (two stand-in hosts) and run in file order.
"""

import json

import pytest

LOCALCLOUD_START_ARGS = ["--host", "airflow-worker-1", "--host", "spark-worker-1"]
SOURCE = "875120157787"
TARGET = "497254257696"
AIRFLOW = f"arn:aws:iam::{SOURCE}:role/airflow-role"
SPARK = f"arn:aws:iam::{SOURCE}:role/spark-role"
GLUE = f"arn:aws:iam::{TARGET}:role/ExecuteGlueService"
REPORTING = f"arn:aws:iam::{TARGET}:role/ReportingRole"
EXTRA_INVENTORY = """\
all:
  children:
    cross_account_hosts:
      hosts:
        spark-worker-1:
    airflow_workers:
      hosts:
        airflow-worker-1:
    spark_workers:
      hosts:
        spark-worker-1:
    outside_workers:
      hosts:
        outside-worker-1:
"""
TRUSTS = [
    {
        "source_account_id": SOURCE,
        "source_role_name": "airflow-role",
        "target_account_id": TARGET,
        "target_role_name": "ExecuteGlueService",
        "group": "airflow_workers",
    },
    {
        "source_account_id": SOURCE,
        "source_role_name": "airflow-role",
        "target_account_id": TARGET,
        "target_role_name": "ReportingRole",
        "group": "airflow_workers",
        "cli_profile_name": "reporting",
    },
    {
        "source_account_id": SOURCE,
        "source_role_name": "spark-role",
        "target_account_id": TARGET,
        "target_role_name": "ExecuteGlueService",
        "group": "spark_workers",
    },
]


@pytest.fixture(scope="module")
def play(site, tmp_path_factory):
    """Run a playbook with the two instance groups added to the local inventory and the given trusts."""
    extra = tmp_path_factory.mktemp("inventory") / "groups.yml"
    extra.write_text(EXTRA_INVENTORY)

    def run(playbook, trusts=TRUSTS, *args):
        return site.play(
            playbook,
            "-i",
            "inventory/local",
            "-i",
            str(extra),
            "-e",
            json.dumps({"cross_account_trusts": trusts}),
            *args,
        )

    return run


def _trusted(site, role):
    iam = site.session("target").client("iam")
    return iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"]


def _may_assume(site, role):
    iam = site.session("source").client("iam")
    document = iam.get_role_policy(RoleName=role, PolicyName="assume-cross-account-roles")["PolicyDocument"]
    return document["Statement"][0]["Resource"]


@pytest.mark.parametrize(
    ("trusts", "message"),
    [
        (
            [{**TRUSTS[0], "source_account_id": "87512015778"}, TRUSTS[2]],
            "cross_account_trusts[0].source_account_id must be a 12-digit account id",
        ),
        ([TRUSTS[0], {**TRUSTS[2], "target_role_name": "Glue Jobs"}], "cross_account_trusts[1].target_role_name must"),
        ([{**TRUSTS[0], "group": "no_such_group"}], "cross_account_trusts[0].group must name an inventory group"),
        (
            [TRUSTS[0], {**TRUSTS[2], "group": "airflow_workers"}],
            f'airflow-worker-1 is in trusts of source roles ["{AIRFLOW}", "{SPARK}"]',
        ),
        ([TRUSTS[0], {**TRUSTS[1], "cli_profile_name": "airflow-role"}], "each needs its own cli_profile_name"),
        (
            [{**TRUSTS[0], "external_id": "glue-one"}, {**TRUSTS[2], "external_id": "glue-two"}],
            f'{GLUE} is trusted with external ids ["glue-one", "glue-two"]',
        ),
        ([TRUSTS[0], {**TRUSTS[2], "group": "outside_workers"}], "outside-worker-1 is in trusts of source roles"),
    ],
    ids=[
        "short-id",
        "space-in-name",
        "unknown-group",
        "host-in-two-source-roles",
        "same-cli-profile",
        "two-ids",
        "host-outside-cross-account-hosts",
    ],
)
def test_bad_trusts_stop_before_any_change(site, play, trusts, message):
    before = site.snapshot()
    run = play("site.yml", trusts)
    assert run.rc != 0
    assert message in " ".join(run.output.split())
    assert site.snapshot() == before


def test_one_run_converges_every_trust(site, play):
    run = play("site.yml")
    assert run.rc == 0, run.output
    assert _trusted(site, "ExecuteGlueService") == [AIRFLOW, SPARK]
    assert _trusted(site, "ReportingRole") == [AIRFLOW]
    assert _may_assume(site, "airflow-role") == [GLUE, REPORTING]
    assert _may_assume(site, "spark-role") == [GLUE]

    ec2 = site.session("source").client("ec2")
    hosts = {host["instance_id"]: name for name, host in site.state["hosts"].items()}
    attached = {
        hosts[a["InstanceId"]]: a["IamInstanceProfile"]["Arn"].rsplit("/", 1)[1]
        for a in ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
    }
    assert attached == {"airflow-worker-1": "airflow-role", "spark-worker-1": "spark-role"}

    airflow_config = site.config_path("airflow-worker-1").read_text()
    assert f"[profile airflow-role]\nrole_arn = {GLUE}\n" in airflow_config
    assert f"[profile reporting]\nrole_arn = {REPORTING}\n" in airflow_config
    assert site.config_path("spark-worker-1").read_text().startswith(f"[profile spark-role]\nrole_arn = {GLUE}\n")

    said = " ".join(run.output.split())
    assert f"arn:aws:sts::{TARGET}:assumed-role/ReportingRole/" in said
    assert f"arn:aws:sts::{SOURCE}:assumed-role/spark-role/" in said
    assert said.count(f"arn:aws:sts::{TARGET}:assumed-role/ExecuteGlueService/") == 2


def test_second_run_changes_nothing(play):
    run = play("site.yml")
    assert run.rc == 0, run.output
    assert run.unchanged
    assert run.changed["spark-worker-1"] == 0


def test_teardown_removes_every_trust(site, play):
    run = play("teardown.yml")
    assert run.rc == 0, run.output
    after = site.snapshot()
    assert not {"ExecuteGlueService", "ReportingRole"} & set(after["target"]["roles"])
    assert not {"airflow-role", "spark-role"} & set(after["source"]["roles"])
    assert after["associations"] == []
