"""site.yml on the local cloud, in the order a user meets it: check mode on fresh accounts, bad input,
converge, a second run, drift repaired, and check mode over drift.

The cases share one cloud and run in file order; each states what it starts from.
"""

import json

import pytest

from localcloud import calls

TARGET_ROLE_ARN = "arn:aws:iam::497254257696:role/ExecuteGlueService"


def _assert_read_only(site, mark):
    """The calls since ``mark`` include the run's own reads, and not one write."""
    sent = site.calls_since(mark)
    assert any(call["caller"] == "ansible" for call in sent)
    assert [call for call in sent if calls.is_write(call)] == []


def test_check_mode_on_fresh_accounts_writes_nothing(site):
    before = site.snapshot()
    mark = site.call_mark()
    run = site.play("site.yml", "--check", "--diff")
    assert run.rc == 0, run.output
    _assert_read_only(site, mark)
    assert run.accounts_changed > 0
    assert run.changed["airflow-worker-1"] == 1
    assert site.snapshot() == before
    assert before["config"] is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"cross_account_source_account_id": "87512015778"}, "cross_account_source_account_id must be a 12-digit"),
        ({"cross_account_target_account_id": 497254257696}, "cross_account_target_account_id must be a 12-digit"),
        ({"cross_account_target_role_name": "Execute Glue"}, "cross_account_target_role_name must be an IAM name"),
        ({"cross_account_source_role_name": "x" * 65}, "cross_account_source_role_name must be an IAM name"),
        ({"cross_account_operator_user": "ce/dc"}, "cross_account_operator_user must be an IAM name"),
        ({"cross_account_region": "ap-northeast-9"}, "cross_account_region must be a region botocore knows"),
        ({"cross_account_source_account_id": "875120157787\n"}, "cross_account_source_account_id must be a 12-digit"),
        ({"cross_account_target_role_name": "ExecuteGlueService\n"}, "cross_account_target_role_name must be an IAM"),
        ({"cross_account_operator_user": 12345}, "cross_account_operator_user must be an IAM name"),
        ({"cross_account_instance_profile_name": "bad/name"}, "cross_account_instance_profile_name must be an IAM"),
        ({"cross_account_cli_profile_name": "bad]name"}, "cross_account_cli_profile_name must be a name a config"),
        ({"cross_account_external_id": "x"}, "cross_account_external_id must be empty or 2 to 1224"),
        ({"target_account_role_max_session_duration": 99999}, "session duration 3600-43200 (given 99999)"),
        ({"source_instance_role_permissions_boundary": "PowerUser"}, 'a policy ARN (given "PowerUser")'),
        (
            {"cross_account_attach_metadata_options": {"http_tokens": "never"}},
            "http_tokens must be one of: optional, required, got: never",
        ),
        (
            {"cross_account_attach_metadata_options": {"http_put_response_hop_limt": 2}},
            "http_put_response_hop_limt",
        ),
        ({"target_account_role_require_mfa": "maybe"}, "target_account_role_require_mfa"),
    ],
    ids=[
        "short-source-id",
        "unquoted-target-id",
        "space-in-role",
        "long-role",
        "slash-in-user",
        "unknown-region",
        "newline-after-id",
        "newline-after-role",
        "numeric-user",
        "slash-in-instance-profile",
        "bracket-in-cli-profile",
        "short-external-id",
        "target-session-too-long",
        "source-boundary-not-an-arn",
        "unknown-http-tokens",
        "misspelt-metadata-key",
        "mfa-not-a-boolean",
    ],
)
def test_bad_input_stops_before_any_change(site, override, message):
    before = site.snapshot()
    run = site.play("site.yml", "-e", json.dumps(override))
    assert run.rc != 0
    assert message in " ".join(run.output.split())
    assert site.snapshot() == before


def test_converge_builds_the_chain_and_verifies_it(site):
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert "assumed-role/ExecuteGlueService/" in run.output
    after = site.snapshot()
    assert after["target"]["roles"]["ExecuteGlueService"]["trust"]["Statement"][0]["Principal"] == {
        "AWS": ["arn:aws:iam::875120157787:role/airflow-role"]
    }
    assert after["source"]["profiles"]["airflow-role"] == ["airflow-role"]
    assert [arn for _, arn in after["associations"]] == ["arn:aws:iam::875120157787:instance-profile/airflow-role"]


def test_second_run_changes_nothing(site):
    before = site.snapshot()
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert run.unchanged
    assert site.snapshot() == before


def _drift(site):
    """Break three links the way people do by hand: trust, inline policy and the host's profile."""
    target = site.session("target").client("iam")
    wrong_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    target.update_assume_role_policy(RoleName="ExecuteGlueService", PolicyDocument=json.dumps(wrong_trust))
    source = site.session("source").client("iam")
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    source.put_role_policy(
        RoleName="airflow-role", PolicyName="assume-cross-account-roles", PolicyDocument=json.dumps(wide)
    )
    config = site.config_path()
    config.write_bytes(config.read_bytes().replace(b"region = ap-northeast-1", b"region = us-west-2"))


def test_check_mode_over_drift_reports_and_writes_nothing(site):
    converged = site.snapshot()
    _drift(site)
    drifted = site.snapshot()
    assert drifted != converged
    mark = site.call_mark()
    run = site.play("site.yml", "--check", "--diff")
    assert run.rc == 0, run.output
    _assert_read_only(site, mark)
    assert run.accounts_changed == 2
    assert run.changed["airflow-worker-1"] == 1
    assert "us-west-2" in run.output
    assert site.snapshot() == drifted


def test_converge_repairs_drift(site):
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    repaired = site.snapshot()
    assert repaired["source"]["roles"]["airflow-role"]["inline"]["assume-cross-account-roles"]["Statement"][0][
        "Resource"
    ] == [TARGET_ROLE_ARN]
    assert b"region = ap-northeast-1" in repaired["config"]
    assert site.play("site.yml").unchanged
