"""The runner's policies in docs/runner-policies are enough for the site, and each permission in them counts.

The local cloud runs with ``--enforce-identity``, so every call is decided by the caller's identity
policies (localcloud/authorize.py). In each account a runner role holds only that account's policy file
(its account id substituted, as the runbook says), and the run reaches each account through a profile that
assumes that role, in the local cloud's config file, named in ``cross_account_account_profiles``. The site
converges and verifies with those rights alone; with one permission taken out of a copy of the policy, a
run that needs it stops with AccessDenied naming that action, and nothing in the accounts changes.
"""

import json
import re
from pathlib import Path

import pytest

LOCALCLOUD_START_ARGS = ["--enforce-identity"]
POLICIES = Path(__file__).resolve().parents[2] / "docs" / "runner-policies"
# The account ids the policy files are written for; the runbook has operators replace them with their own.
DOCUMENTED = {"source": "875120157787", "target": "497254257696"}
FILES = {"source": "source-account.json", "target": "target-account.json"}
RUNNER_ROLE = "cross-account-runner"
RUNNER_POLICY = "runner"
# The profile the local cloud writes for each account's organization admin role.
ADMIN_PROFILES = {"source": "localcloud-source", "target": "localcloud-target"}


def runner_policy(which: str, accounts: dict[str, str], without: str = "") -> dict:
    """The documented policy for one account, with the cloud's account ids, and ``without`` taken out."""
    text = (POLICIES / FILES[which]).read_text()
    for name, documented in DOCUMENTED.items():
        text = text.replace(documented, accounts[name])
    document = json.loads(text)
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [action for action in actions if action != without]
    document["Statement"] = [statement for statement in document["Statement"] if statement["Action"]]
    return document


def set_runner_policy(site, which: str, document: dict) -> None:
    site.session(which).client("iam").put_role_policy(
        RoleName=RUNNER_ROLE, PolicyName=RUNNER_POLICY, PolicyDocument=json.dumps(document)
    )


@pytest.fixture(scope="module")
def runner(site) -> dict[str, str]:
    """A runner role per account holding only the documented policy, and a controller profile assuming it.

    Returns the ``cross_account_account_profiles`` value that sends the run through those profiles.
    """
    accounts = site.state["accounts"]
    profiles = {}
    lines = []
    for which in ("source", "target"):
        account = accounts[which]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
            ],
        }
        site.session(which).client("iam").create_role(RoleName=RUNNER_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        set_runner_policy(site, which, runner_policy(which, accounts))
        profile = f"runner-{which}"
        profiles[account] = profile
        lines += [
            f"[profile {profile}]",
            f"role_arn = arn:aws:iam::{account}:role/{RUNNER_ROLE}",
            f"source_profile = {ADMIN_PROFILES[which]}",
            "role_session_name = runner",
            f"region = {site.state['region']}",
            f"endpoint_url = {site.state['endpoint']}",
            "",
        ]
    config = Path(site.state["aws_config_file"])
    config.write_text(config.read_text() + "\n" + "\n".join(lines))
    return profiles


def play_as_runner(site, runner, *args: str):
    return site.play(*args, "-e", json.dumps({"cross_account_account_profiles": runner}))


def summary_line(output: str, prefix: str) -> str:
    """The line of the verify stage's summary that starts with ``prefix`` (after YAML's quoting)."""
    found = [line for line in output.splitlines() if re.match(rf"^\s*- '?{re.escape(prefix)}", line)]
    assert len(found) == 1, found
    return found[0]


def runner_calls(site, mark: int, account: str) -> list[dict]:
    return [call for call in site.calls_since(mark) if call["caller"] == "ansible" and call["account"] == account]


@pytest.fixture(scope="module")
def converged(site, runner):
    """The account and host stages as the runner, the bare verify call refused, then the whole site with verify.

    The first run gives the instance role no rights of its own (``source_instance_role_own_statements: []``):
    it may call sts:AssumeRole and nothing else, so the verify stage's bare ``aws s3 ls`` (ListBuckets as that
    role) is refused, by AWS and by this cloud. The full run then puts the role's default own-account policy
    (s3:ListAllMyBuckets) back, and verify passes.
    """
    mark = site.call_mark()
    no_own_rights = json.dumps({"source_instance_role_own_statements": []})
    stages = play_as_runner(site, runner, "site.yml", "--skip-tags", "verify", "-e", no_own_rights)
    bare = play_as_runner(site, runner, "site.yml", "--tags", "verify", "-e", "cross_account_verify_retry_budget=0")
    full = play_as_runner(site, runner, "site.yml")
    return {"stages": stages, "bare": bare, "full": full, "mark": mark}


def test_account_and_host_stages_need_only_the_runner_policies(site, converged):
    run = converged["stages"]
    assert run.rc == 0, run.output[-3000:]
    assert run.accounts_changed > 0
    accounts = site.state["accounts"]
    for which in ("source", "target"):
        made = runner_calls(site, converged["mark"], accounts[which])
        assert made, f"no call reached the {which} account"
        assert [call for call in made if call["status"] == 403] == []
    snapshot = site.snapshot()
    assert set(snapshot["target"]["roles"]["ExecuteGlueService"]["attached"]) == {
        "arn:aws:iam::aws:policy/AWSGlueConsoleFullAccess",
        "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    }
    # The fixture's last run has put the role's own-account policy back.
    assert sorted(snapshot["source"]["roles"]["airflow-role"]["inline"]) == [
        "assume-cross-account-roles",
        "in-own-account",
    ]
    assert snapshot["source"]["profiles"]["airflow-role"] == ["airflow-role"]
    assert [arn.rsplit("/", 1)[1] for _, arn in snapshot["associations"]] == ["airflow-role"]


def test_instance_role_alone_may_not_list_buckets(site, converged):
    run = converged["bare"]
    assert run.rc != 0
    role = f"arn:aws:sts::{site.state['accounts']['source']}:assumed-role/airflow-role/"
    assert f"AccessDenied) when calling the ListBuckets operation: User: {role}" in run.output
    assert "is not authorized to perform: s3:ListAllMyBuckets on resource: *" in run.output


def test_site_converges_and_verifies_as_the_runner(site, converged):
    run = converged["full"]
    assert run.rc == 0, run.output[-3000:]
    accounts = site.state["accounts"]
    inline = site.snapshot()["source"]["roles"]["airflow-role"]["inline"]
    assert inline["in-own-account"]["Statement"] == [
        {"Sid": "ListBucketsOfThisAccount", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
    ]
    assert (
        f"aws sts get-caller-identity --profile airflow-role: arn:aws:sts::{accounts['target']}:assumed-role/"
        "ExecuteGlueService/" in run.output
    )
    assert f"airflow-logs-{accounts['source']}" in summary_line(run.output, "aws s3 ls: ")
    assert "nightly-etl" in summary_line(run.output, "aws glue list-jobs --profile airflow-role: ")


# (account whose policy loses the action, the action, the drift that makes the run need it)
MISSING = [
    ("target", "iam:UpdateAssumeRolePolicy"),
    ("source", "iam:PutRolePolicy"),
]


@pytest.mark.parametrize(("which", "action"), MISSING, ids=[action for _, action in MISSING])
def test_one_permission_less_and_the_run_stops_with_access_denied(site, runner, converged, which, action):
    assert converged["full"].rc == 0
    accounts = site.state["accounts"]
    iam = site.session(which).client("iam")
    # Drift that only this action repairs: the trust of the target role, the inline policy of the source role.
    if action == "iam:UpdateAssumeRolePolicy":
        drifted = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{accounts['source']}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.update_assume_role_policy(RoleName="ExecuteGlueService", PolicyDocument=json.dumps(drifted))
        resource = f"arn:aws:iam::{accounts['target']}:role/ExecuteGlueService"
    else:
        drifted = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/other"}],
        }
        iam.put_role_policy(
            RoleName="airflow-role", PolicyName="assume-cross-account-roles", PolicyDocument=json.dumps(drifted)
        )
        resource = f"arn:aws:iam::{accounts['source']}:role/airflow-role"
    full = runner_policy(which, accounts)
    set_runner_policy(site, which, runner_policy(which, accounts, without=action))
    try:
        before = site.snapshot()
        mark = site.call_mark()
        run = play_as_runner(site, runner, "site.yml")
        after = site.snapshot()
    finally:
        set_runner_policy(site, which, full)

    assert run.rc != 0
    assert "AccessDenied" in run.output
    runner_session = f"arn:aws:sts::{accounts[which]}:assumed-role/{RUNNER_ROLE}/runner"
    assert f"User: {runner_session} is not authorized to perform: {action} on resource: {resource}" in run.output
    denied = [call for call in runner_calls(site, mark, accounts[which]) if call["status"] == 403]
    # The modules retry a refused call a few times; every refusal is of that one action.
    assert {f"{call['service']}:{call['action']}" for call in denied} == {action}
    assert after == before

    # With the permission back, the same run repairs the drift.
    repaired = play_as_runner(site, runner, "site.yml")
    assert repaired.rc == 0, repaired.output[-3000:]
