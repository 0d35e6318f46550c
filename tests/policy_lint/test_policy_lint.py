"""Every policy document the roles render, linted with parliament: no findings, no wildcard on the
two actions that hand out a role (sts:AssumeRole, iam:PassRole)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import parliament
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXPECTED = {
    "assume_policy.json",
    "own_policy.json",
    "operator_policy.json",
    "ec2_trust_policy.trust.json",
    "trust_policy_roles.trust.json",
    "trust_policy_account.trust.json",
    "trust_policy_conditions.trust.json",
    "trust_policy_mfa_off_as_string.trust.json",
}
# A trust policy is a resource policy: it names a Principal and never a Resource, which parliament, written
# for identity policies, reports as malformed. That one finding is expected there and nowhere else.
TRUST_ONLY = ("MALFORMED", "Statement contains neither Resource nor NotResource")
HANDS_OUT_A_ROLE = {"sts:AssumeRole", "iam:PassRole"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("policies")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "tests/policy_lint/render.yml", "-e", f"policy_lint_out={out}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {path.name: json.loads(path.read_text()) for path in out.iterdir()}


def findings(document: dict, trust: bool) -> list[tuple[str, str]]:
    policy = parliament.analyze_policy_string(json.dumps(document), ignore_private_auditors=True)
    found = [(finding.issue, str(finding.detail)) for finding in policy.findings]
    return [item for item in found if not (trust and item == TRUST_ONLY)]


def test_every_policy_document_is_rendered(rendered):
    assert set(rendered) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parliament_finds_nothing(rendered, name):
    assert findings(rendered[name], trust=name.endswith(".trust.json")) == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_wildcard_resource_on_actions_that_hand_out_a_role(rendered, name):
    for statement in rendered[name]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if HANDS_OUT_A_ROLE & set(actions) and "Resource" in statement:
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert all("*" not in resource for resource in resources), statement


@pytest.mark.parametrize("name", sorted(name for name in EXPECTED if name.endswith(".trust.json")))
def test_no_wildcard_principal_in_trust_policies(rendered, name):
    for statement in rendered[name]["Statement"]:
        principal = statement["Principal"]
        assert principal != "*"
        for values in principal.values():
            assert all("*" not in value for value in (values if isinstance(values, list) else [values])), statement


def test_mfa_given_as_the_string_false_adds_no_condition(rendered):
    assert "Condition" not in rendered["trust_policy_mfa_off_as_string.trust.json"]["Statement"][0]
    condition = rendered["trust_policy_conditions.trust.json"]["Statement"][0]["Condition"]
    assert condition["Bool"] == {"aws:MultiFactorAuthPresent": "true"}


def test_the_linter_catches_what_it_is_here_for():
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    assert ("RESOURCE_STAR", "['sts:AssumeRole']") in findings(wide, trust=False)
    typo = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoel", "Resource": "*"}]}
    assert any(issue == "UNKNOWN_ACTION" for issue, _ in findings(typo, trust=False))
    no_resource = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole"}]}
    assert findings(no_resource, trust=False) == [TRUST_ONLY]
