"""Each link of the chain broken by hand on a converged local cloud: the verify stage fails with the error
AWS gives for that link, and the next site run repairs what the project manages.

The local cloud decides AssumeRole from the stored policies, as AWS does. The cases share one cloud and
run in file order; each starts from a converged chain and leaves one behind.
"""

import json

import pytest

from localcloud import calls

SOURCE = "875120157787"
TARGET = "497254257696"
TARGET_ROLE_ARN = f"arn:aws:iam::{TARGET}:role/ExecuteGlueService"
NOT_AUTHORIZED = f"is not authorized to perform: sts:AssumeRole on resource: {TARGET_ROLE_ARN}"
# One attempt per call: the errors here do not go away by waiting.
FAST = json.dumps({"cross_account_verify_retry_budget": 0})


def _trust(principal: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}],
    }


def _assume_policy(resource: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": resource}],
    }


def _set_trust(site, principal):
    iam = site.session("target").client("iam")
    iam.update_assume_role_policy(RoleName="ExecuteGlueService", PolicyDocument=json.dumps(_trust(principal)))


def _trust_another_role(site):
    # AWS refuses a trust naming a role that does not exist, so the other role is real.
    iam = site.session("source").client("iam")
    iam.create_role(RoleName="other-role", AssumeRolePolicyDocument=json.dumps(_trust(f"arn:aws:iam::{SOURCE}:root")))
    _set_trust(site, f"arn:aws:iam::{SOURCE}:role/other-role")


def _set_assume_policy(site, resource):
    iam = site.session("source").client("iam")
    iam.put_role_policy(
        RoleName="airflow-role",
        PolicyName="assume-cross-account-roles",
        PolicyDocument=json.dumps(_assume_policy(resource)),
    )


def _delete_assume_policy(site):
    site.session("source").client("iam").delete_role_policy(
        RoleName="airflow-role", PolicyName="assume-cross-account-roles"
    )


def _detach_profile(site):
    ec2 = site.session("source").client("ec2")
    for association in ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]:
        ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])


NOT_TRUSTED = f"✗ ExecuteGlueService does not trust arn:aws:iam::{SOURCE}:role/airflow-role to call sts:AssumeRole"
NOT_ALLOWED = (
    f"✗ the identity policies of airflow-role do not allow sts:AssumeRole on {TARGET_ROLE_ARN}"
    " (IAM policy simulator: implicitDeny)"
)
BREAKS = [
    pytest.param(_trust_another_role, NOT_AUTHORIZED, NOT_TRUSTED, id="trust-other-role"),
    pytest.param(
        lambda site: _set_trust(site, "arn:aws:iam::111122223333:root"),
        NOT_AUTHORIZED,
        NOT_TRUSTED,
        id="trust-wrong-account",
    ),
    pytest.param(
        lambda site: _set_assume_policy(site, "arn:aws:iam::111122223333:role/ExecuteGlueService"),
        NOT_AUTHORIZED,
        NOT_ALLOWED,
        id="inline-policy-wrong-account",
    ),
    pytest.param(_delete_assume_policy, NOT_AUTHORIZED, NOT_ALLOWED, id="inline-policy-missing"),
    pytest.param(
        _detach_profile,
        "Error when retrieving credentials from Ec2InstanceMetadata",
        "carries none, not airflow-role; fix: ansible-playbook site.yml --tags attach",
        id="no-profile",
    ),
]


def test_converge(site):
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert "assumed-role/ExecuteGlueService/" in run.output


def test_doctor_finds_every_link_of_a_converged_chain_sound(site):
    mark = site.call_mark()
    run = site.play("playbooks/doctor.yml")
    assert run.rc == 0, run.output
    assert "✗" not in run.output
    said = " ".join(run.output.split())
    for link in (
        f"ExecuteGlueService trusts arn:aws:iam::{SOURCE}:role/airflow-role",
        f"airflow-role may call sts:AssumeRole on {TARGET_ROLE_ARN} (IAM policy simulator)",
        "instance profile airflow-role holds airflow-role",
        "cedc may pass airflow-role",
        f"profile airflow-role points at {TARGET_ROLE_ARN}",
    ):
        assert f"✓ {link}" in said
    assert " metadata options as configured" in said
    assert [call for call in site.calls_since(mark) if calls.is_write(call)] == []


@pytest.mark.parametrize(("breaks", "error", "diagnosis"), BREAKS)
def test_broken_link_fails_verify_and_site_repairs_it(site, breaks, error, diagnosis):
    breaks(site)
    # The converge left the CLI's cached credentials behind; verify must not be fooled by them.
    assert list((site.config_path().parent / "cli" / "cache").glob("*.json"))
    run = site.play("site.yml", "--tags", "verify", "-e", FAST)
    assert run.rc != 0
    assert error in " ".join(run.output.split())
    doctor = site.play("playbooks/doctor.yml")
    assert doctor.rc != 0
    said = " ".join(doctor.output.split())
    assert diagnosis in said
    assert "✗ aws sts get-caller-identity --profile airflow-role" in said
    repaired = site.play("site.yml")
    assert repaired.rc == 0, repaired.output
    assert "assumed-role/ExecuteGlueService/" in repaired.output


def test_session_longer_than_role_chaining_allows_is_refused(site):
    config = site.config_path()
    converged = config.read_bytes()
    config.write_bytes(converged + b"duration_seconds = 7200\n")
    run = site.play("site.yml", "--tags", "verify", "-e", FAST)
    assert run.rc != 0
    assert "DurationSeconds" in run.output
    doctor = site.play("playbooks/doctor.yml")
    assert doctor.rc != 0
    said = " ".join(doctor.output.split())
    assert "✗ aws sts get-caller-identity --profile airflow-role: " in said
    assert "(ValidationError) when calling the AssumeRole operation: The requested DurationSeconds exceeds" in said
    config.write_bytes(converged)
    assert site.play("site.yml", "--tags", "verify").rc == 0


def test_boundary_without_assume_role_fails_verify_and_the_doctor_names_it(site):
    """A boundary is not the project's unless asked for, so the site leaves it; the doctor says what to change."""
    iam = site.session("source").client("iam")
    iam.put_role_permissions_boundary(
        RoleName="airflow-role", PermissionsBoundary="arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    try:
        run = site.play("site.yml", "--tags", "verify", "-e", FAST)
        assert run.rc != 0
        assert NOT_AUTHORIZED in " ".join(run.output.split())
        doctor = site.play("playbooks/doctor.yml")
        assert doctor.rc != 0
        said = " ".join(doctor.output.split())
        assert (
            f"✗ the permissions boundary of airflow-role does not allow sts:AssumeRole on {TARGET_ROLE_ARN}"
            " (IAM policy simulator: implicitDeny); fix: set source_instance_role_permissions_boundary" in said
        )
    finally:
        iam.delete_role_permissions_boundary(RoleName="airflow-role")
    run = site.play("site.yml", "--tags", "verify")
    assert run.rc == 0, run.output


def test_doctor_reads_inline_policies_without_the_simulator(site):
    off = json.dumps({"cross_account_doctor_policy_simulator": False})
    run = site.play("playbooks/doctor.yml", "-e", off)
    assert run.rc == 0, run.output
    said = " ".join(run.output.split())
    assert f"✓ airflow-role may call sts:AssumeRole on {TARGET_ROLE_ARN} (read from its inline policies)" in said
    _delete_assume_policy(site)
    broken = site.play("playbooks/doctor.yml", "-e", off)
    assert broken.rc != 0
    assert f"✗ no inline policy of airflow-role allows sts:AssumeRole on {TARGET_ROLE_ARN}" in " ".join(
        broken.output.split()
    )
    assert site.play("site.yml", "--tags", "source").rc == 0
