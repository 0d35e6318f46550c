"""The doctor's policy filters read trust and identity policies as AWS does (and as the local cloud does).

The filter plugin is the file localcloud/policy.py loads, so these cases pin what both say.
"""

import json

import pytest

from localcloud.policy import PATH, iam_policy

SOURCE_ROLE = "arn:aws:iam::875120157787:role/airflow-role"
TARGET_ROLE = "arn:aws:iam::497254257696:role/ExecuteGlueService"


def trust(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal, condition: dict | None = None, effect: str = "Allow") -> dict:
    statement = {"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return statement


ROOT = {"AWS": "arn:aws:iam::875120157787:root"}
TRUST_CASES = [
    pytest.param(trust(allow({"AWS": SOURCE_ROLE})), "", "Allow", id="role-arn"),
    pytest.param(trust(allow({"AWS": [TARGET_ROLE, SOURCE_ROLE]})), "", "Allow", id="role-arn-in-a-list"),
    pytest.param(trust(allow({"AWS": "arn:aws:iam::875120157787:role/other"})), "", "", id="other-role"),
    pytest.param(trust(allow({"AWS": "arn:aws:iam::111122223333:root"})), "", "", id="other-account"),
    pytest.param(trust(allow({"AWS": "AROAEXAMPLEUNIQUEID1"})), "", "", id="unique-id-after-recreation"),
    pytest.param(
        trust(allow(ROOT, {"ArnEquals": {"aws:PrincipalArn": SOURCE_ROLE}})), "", "Allow", id="account-pinned-to-role"
    ),
    pytest.param(
        trust(allow(ROOT, {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::875120157787:role/batch-*"}})),
        "",
        "",
        id="account-pinned-to-other-roles",
    ),
    pytest.param(
        trust(allow({"AWS": SOURCE_ROLE}, {"StringEquals": {"sts:ExternalId": "glue-7f3a"}})),
        "glue-7f3a",
        "Allow",
        id="external-id-given",
    ),
    pytest.param(
        trust(allow({"AWS": SOURCE_ROLE}, {"StringEquals": {"sts:ExternalId": "glue-7f3a"}})),
        "",
        "",
        id="external-id-missing",
    ),
    pytest.param(
        trust(allow({"AWS": SOURCE_ROLE}, {"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
        "",
        "",
        id="mfa-required-of-a-workload",
    ),
    pytest.param(trust(allow({"AWS": SOURCE_ROLE}), allow(ROOT, effect="Deny")), "", "Deny", id="explicit-deny-wins"),
    pytest.param(trust(allow({"Service": "ec2.amazonaws.com"})), "", "", id="service-principal-only"),
    pytest.param(json.dumps(trust(allow({"AWS": SOURCE_ROLE}))), "", "Allow", id="document-as-json-text"),
]


@pytest.mark.parametrize(("document", "external_id", "expected"), TRUST_CASES)
def test_trust_decision(document, external_id, expected):
    assert iam_policy.trust_decision(document, SOURCE_ROLE, external_id) == expected


@pytest.mark.parametrize(
    ("document", "source"),
    [
        pytest.param(
            trust({"Effect": "Allow", "NotPrincipal": ROOT, "Action": "sts:AssumeRole"}), SOURCE_ROLE, id="np"
        ),
        pytest.param(trust(allow(ROOT, {"DateGreaterThan": {"aws:CurrentTime": "2020"}})), SOURCE_ROLE, id="operator"),
        pytest.param("not json", SOURCE_ROLE, id="not-json"),
        pytest.param(trust(allow({"AWS": SOURCE_ROLE})), "airflow-role", id="source-not-an-arn"),
    ],
)
def test_trust_that_cannot_be_read_says_why(document, source):
    assert iam_policy.trust_decision(document, source).startswith("Unsupported: ")


PASS_ROLE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": SOURCE_ROLE,
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        }
    ],
}


@pytest.mark.parametrize(
    ("action", "resource", "context", "expected"),
    [
        pytest.param("iam:PassRole", SOURCE_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}, "Allow", id="ec2"),
        pytest.param("iam:PassRole", SOURCE_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}, "", id="lambda"),
        pytest.param("iam:PassRole", SOURCE_ROLE, None, "", id="no-context"),
        pytest.param("iam:PassRole", TARGET_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}, "", id="other-role"),
        pytest.param("iam:passrole", SOURCE_ROLE, {"IAM:PassedToService": "ec2.amazonaws.com"}, "Allow", id="case"),
    ],
)
def test_identity_decision(action, resource, context, expected):
    assert iam_policy.identity_decision(PASS_ROLE, action, resource, context) == expected


def test_filters_are_registered_for_ansible():
    assert PATH.parent.name == "filter_plugins"
    filters = iam_policy.FilterModule().filters()
    assert filters["cross_account_trust_decision"] is iam_policy.trust_decision
    assert filters["cross_account_identity_decision"] is iam_policy.identity_decision
