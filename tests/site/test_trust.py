"""Trust options on the local cloud: conditions, account principal, boundary and tags, and trust drift.

The local cloud stores policies but does not evaluate them, so these tests assert the documents as
stored and what the host's profile passes, not that AWS would refuse a caller without them.
The cases share one cloud and run in file order; each states what it starts from.
"""

import json

SOURCE_ROLE_ARN = "arn:aws:iam::875120157787:role/airflow-role"
BOUNDARY = "arn:aws:iam::aws:policy/PowerUserAccess"
EXTERNAL_ID = "glue-7f3a:prod"
OPTIONS = {
    "cross_account_external_id": EXTERNAL_ID,
    "target_account_role_trust_principal": "account",
    "target_account_role_permissions_boundary": BOUNDARY,
    "target_account_role_tags": {"team": "data", "owner": "platform"},
    "source_instance_role_permissions_boundary": BOUNDARY,
    "source_instance_role_tags": {"team": "airflow"},
    "source_instance_role_max_session_duration": 7200,
}
ACCOUNT_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "TrustedSourceRoles",
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::875120157787:root"]},
            "Action": "sts:AssumeRole",
            "Condition": {
                "ArnEquals": {"aws:PrincipalArn": [SOURCE_ROLE_ARN]},
                "StringEquals": {"sts:ExternalId": EXTERNAL_ID},
            },
        }
    ],
}


def _role(site, which, name):
    return site.session(which).client("iam").get_role(RoleName=name)["Role"]


def _tags(site, which, name):
    iam = site.session(which).client("iam")
    return {tag["Key"]: tag["Value"] for tag in iam.list_role_tags(RoleName=name)["Tags"]}


def _set_trust(site, document):
    iam = site.session("target").client("iam")
    iam.update_assume_role_policy(RoleName="ExecuteGlueService", PolicyDocument=json.dumps(document))


def test_converge_with_conditions_boundary_and_tags(site):
    run = site.play("site.yml", "-e", json.dumps(OPTIONS))
    assert run.rc == 0, run.output
    assert "assumed-role/ExecuteGlueService/" in run.output

    target = _role(site, "target", "ExecuteGlueService")
    assert target["AssumeRolePolicyDocument"] == ACCOUNT_TRUST
    assert target["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY
    assert _tags(site, "target", "ExecuteGlueService") == {"team": "data", "owner": "platform"}
    source = _role(site, "source", "airflow-role")
    assert source["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY
    assert source["MaxSessionDuration"] == 7200
    assert _tags(site, "source", "airflow-role") == {"team": "airflow"}

    config = site.config_path().read_text()
    assert f"external_id = {EXTERNAL_ID}\n" in config
    assert site.play("site.yml", "-e", json.dumps(OPTIONS)).unchanged


def test_trust_as_aws_returns_it_is_not_rewritten(site):
    # AWS hands back one-element lists as plain strings; the same trust in that form is no change.
    as_stored = json.loads(json.dumps(ACCOUNT_TRUST))
    statement = as_stored["Statement"][0]
    statement["Principal"]["AWS"] = "arn:aws:iam::875120157787:root"
    statement["Action"] = ["sts:AssumeRole"]
    statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] = SOURCE_ROLE_ARN
    _set_trust(site, as_stored)
    run = site.play("site.yml", "--tags", "target", "-e", json.dumps(OPTIONS))
    assert run.rc == 0, run.output
    assert run.accounts_changed == 0
    assert _role(site, "target", "ExecuteGlueService")["AssumeRolePolicyDocument"] == as_stored


def test_mfa_condition_is_added_and_removed(site):
    with_mfa = {**OPTIONS, "target_account_role_require_mfa": True}
    run = site.play("site.yml", "--tags", "target", "-e", json.dumps(with_mfa))
    assert run.rc == 0, run.output
    condition = _role(site, "target", "ExecuteGlueService")["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert condition["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
    run = site.play("site.yml", "--tags", "target", "-e", json.dumps(OPTIONS))
    assert run.rc == 0, run.output
    assert _role(site, "target", "ExecuteGlueService")["AssumeRolePolicyDocument"] == ACCOUNT_TRUST


def test_back_to_role_principal_without_conditions(site):
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    trust = _role(site, "target", "ExecuteGlueService")["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [
        {
            "Sid": "TrustedSourceRoles",
            "Effect": "Allow",
            "Principal": {"AWS": [SOURCE_ROLE_ARN]},
            "Action": "sts:AssumeRole",
        }
    ]
    assert "external_id" not in site.config_path().read_text()
    # Boundaries and tags given once stay until someone asks otherwise.
    assert _role(site, "target", "ExecuteGlueService")["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY


def test_trust_naming_a_recreated_role_by_its_old_id_is_reapplied(site):
    # When a trusted role is deleted, AWS shows its principal as the role's unique id from then on.
    stale = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TrustedSourceRoles",
                "Effect": "Allow",
                "Principal": {"AWS": "AROA4EXAMPLEUNIQUEID7"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    _set_trust(site, stale)
    run = site.play("site.yml", "--tags", "target")
    assert run.rc == 0, run.output
    assert run.accounts_changed == 1
    principal = _role(site, "target", "ExecuteGlueService")["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"AWS": [SOURCE_ROLE_ARN]}


def test_trust_with_an_empty_sid_is_rewritten_once(site):
    # Consoles write "Sid": ""; IAM refuses a trust without Version, so that form never reaches a role.
    document = _role(site, "target", "ExecuteGlueService")["AssumeRolePolicyDocument"]
    _set_trust(site, {**document, "Statement": [{**document["Statement"][0], "Sid": ""}]})
    assert site.play("site.yml", "--tags", "target").accounts_changed == 1
    assert _role(site, "target", "ExecuteGlueService")["AssumeRolePolicyDocument"] == document
    assert site.play("site.yml", "--tags", "target").accounts_changed == 0
