"""The least-privilege policies in docs/runner-policies cover every call the project makes, and little else.

One cloud goes through every path the playbooks have: a first converge (with tags and a boundary) on an
instance launched with IMDSv1 allowed, drift repaired (trust, session length, tags, boundary, a replaced
instance profile), the doctor, and a teardown that deletes the operator user. The local cloud's call log
then says which actions the amazon.aws modules called in each account; each must be allowed by that
account's policy, and each allowed action must have been called or be listed here as a path the cloud
cannot take.
"""

import json
from collections import defaultdict
from pathlib import Path

import parliament
import pytest

LOCALCLOUD_START_ARGS = ["--http-tokens", "optional", "--hop-limit", "1"]
POLICIES = Path(__file__).resolve().parents[2] / "docs" / "runner-policies"
SOURCE = "875120157787"
TARGET = "497254257696"
FIRST = {
    "target_account_role_tags": {"team": "data"},
    "source_instance_role_tags": {"team": "airflow"},
    "target_account_role_permissions_boundary": "arn:aws:iam::aws:policy/PowerUserAccess",
}
SECOND = {
    "target_account_role_tags": {"owner": "platform"},
    "source_instance_role_tags": {"owner": "platform"},
    "target_account_role_permissions_boundary": "arn:aws:iam::aws:policy/ReadOnlyAccess",
    # A boundary on the source role must still allow sts:AssumeRole, or the verify stage is refused.
    "source_instance_role_permissions_boundary": "arn:aws:iam::aws:policy/PowerUserAccess",
}
# Allowed but never seen as a call: EC2 checks iam:PassRole itself when a profile is associated, and a
# role is deleted with DeleteRolePolicy only when someone added an inline policy to it (the project's
# target role has none).
NOT_CALLED_HERE = {
    SOURCE: {"iam:PassRole"},
    TARGET: {"iam:DeleteRolePolicy"},
}


def _allowed(account: str) -> set[str]:
    name = "source-account.json" if account == SOURCE else "target-account.json"
    document = json.loads((POLICIES / name).read_text())
    actions = set()
    for statement in document["Statement"]:
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


@pytest.fixture(scope="module")
def called(site) -> dict[str, set[str]]:
    mark = site.call_mark()
    assert site.play("site.yml", "-e", json.dumps(FIRST)).rc == 0

    iam = site.session("target").client("iam")
    wrong = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.update_assume_role_policy(RoleName="ExecuteGlueService", PolicyDocument=json.dumps(wrong))
    iam.update_role(RoleName="ExecuteGlueService", MaxSessionDuration=7200)
    source = site.session("source").client("iam")
    trust = source.get_role(RoleName="airflow-role")["Role"]["AssumeRolePolicyDocument"]
    source.update_assume_role_policy(RoleName="airflow-role", PolicyDocument=json.dumps(wrong))
    source.update_role(RoleName="airflow-role", MaxSessionDuration=7200)
    source.create_role(RoleName="batch-role", AssumeRolePolicyDocument=json.dumps(trust))
    other = source.create_instance_profile(InstanceProfileName="batch-role")["InstanceProfile"]
    source.add_role_to_instance_profile(InstanceProfileName="batch-role", RoleName="batch-role")
    ec2 = site.session("source").client("ec2")
    association = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"][0]
    ec2.replace_iam_instance_profile_association(
        AssociationId=association["AssociationId"], IamInstanceProfile={"Arn": other["Arn"]}
    )
    assert site.play("site.yml", "-e", json.dumps(SECOND)).rc == 0
    assert site.play("playbooks/doctor.yml").rc == 0
    assert site.play("teardown.yml", "-e", "source_instance_role_delete_operator_user=true").rc == 0

    found = defaultdict(set)
    for call in site.calls_since(mark):
        if call["caller"] == "ansible":
            found[call["account"]].add(f"{call['service']}:{call['action']}")
    return found


@pytest.mark.parametrize("account", [SOURCE, TARGET])
def test_every_call_is_allowed(called, account):
    assert called[account], "the run made no calls in this account"
    missing = sorted(called[account] - _allowed(account))
    assert not missing, missing


@pytest.mark.parametrize("account", [SOURCE, TARGET])
def test_nothing_allowed_goes_unused(called, account):
    unused = sorted(_allowed(account) - called[account] - NOT_CALLED_HERE[account])
    assert not unused, unused


def test_no_call_lands_in_an_account_without_a_policy(called):
    assert set(called) == {SOURCE, TARGET}


@pytest.mark.parametrize("name", ["source-account.json", "target-account.json"])
def test_parliament_finds_nothing(name):
    policy = parliament.analyze_policy_string((POLICIES / name).read_text(), ignore_private_auditors=True)
    assert [(finding.issue, finding.detail) for finding in policy.findings] == []
