"""teardown.yml on the local cloud: it removes what site.yml built and nothing else, writes nothing in
check mode, and changes nothing the second time.

The cases share one cloud and run in file order; each states what it starts from.
"""

import json

import pytest

from localcloud import calls

EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}],
}
OTHER_PROFILE = b"# kept by teardown\n[default]\nregion = eu-west-1\n\n"


def _unrelated(snapshot: dict) -> dict:
    """The parts of a snapshot the project never manages."""
    ours = {"source": {"airflow-role", "cedc"}, "target": {"ExecuteGlueService"}}
    return {
        which: {
            kind: {name: value for name, value in snapshot[which][kind].items() if name not in ours[which]}
            for kind in ("roles", "users", "profiles")
        }
        for which in ("source", "target")
    }


@pytest.fixture(scope="module")
def built(site):
    """The converged chain, with resources beside it that the project never made."""
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    source = site.session("source").client("iam")
    source.create_role(RoleName="batch-role", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    source.create_instance_profile(InstanceProfileName="batch-role")
    source.add_role_to_instance_profile(InstanceProfileName="batch-role", RoleName="batch-role")
    source.create_user(UserName="auditor")
    source.put_user_policy(UserName="auditor", PolicyName="read-reports", PolicyDocument=json.dumps(READ_ONLY))
    target = site.session("target").client("iam")
    target.create_role(RoleName="ReportingRole", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    target.put_role_policy(RoleName="ReportingRole", PolicyName="read-reports", PolicyDocument=json.dumps(READ_ONLY))
    config = site.config_path()
    config.write_bytes(OTHER_PROFILE + config.read_bytes())
    return site


def test_teardown_in_check_mode_writes_nothing(built):
    site = built
    before = site.snapshot()
    mark = site.call_mark()
    run = site.play("teardown.yml", "--check", "--diff")
    assert run.rc == 0, run.output
    assert run.accounts_changed > 0
    assert run.changed["airflow-worker-1"] == 1
    sent = site.calls_since(mark)
    assert any(call["caller"] == "ansible" for call in sent)
    assert [call for call in sent if calls.is_write(call)] == []
    assert site.snapshot() == before


def test_teardown_removes_the_project_and_nothing_else(built):
    site = built
    before = site.snapshot()
    run = site.play("teardown.yml")
    assert run.rc == 0, run.output
    after = site.snapshot()
    assert "ExecuteGlueService" not in after["target"]["roles"]
    assert "airflow-role" not in after["source"]["roles"]
    assert "airflow-role" not in after["source"]["profiles"]
    # The operator user may be a person's: it stays, without the launch policy.
    assert after["source"]["users"]["cedc"] == {}
    assert after["associations"] == []
    assert after["config"] == OTHER_PROFILE
    assert _unrelated(after) == _unrelated(before)
    assert after["source"]["profiles"]["batch-role"] == ["batch-role"]
    assert after["target"]["roles"]["ReportingRole"]["inline"]["read-reports"] == READ_ONLY


def test_second_teardown_changes_nothing(built):
    site = built
    before = site.snapshot()
    run = site.play("teardown.yml")
    assert run.rc == 0, run.output
    assert run.unchanged
    assert site.snapshot() == before


def test_site_builds_the_chain_again(built):
    site = built
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert "assumed-role/ExecuteGlueService/" in run.output
    assert site.config_path().read_bytes().startswith(OTHER_PROFILE)


def test_teardown_deletes_the_operator_user_when_asked(built):
    site = built
    run = site.play("teardown.yml", "-e", "source_instance_role_delete_operator_user=true")
    assert run.rc == 0, run.output
    assert "cedc" not in site.snapshot()["source"]["users"]
    assert "auditor" in site.snapshot()["source"]["users"]
