"""The bench driver's pure parts: call counting, resource counting, generated inventories and the summary.

No cloud and no playbook runs here, and nothing about wall-clock time: the figures are synthetic.
"""

import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import run  # noqa: E402  (the project's own package, importable from the repo root)

CALLS = [
    {"service": "iam", "action": "GetRole", "caller": "ansible", "account": "875120157787", "status": 200},
    {"service": "iam", "action": "CreateRole", "caller": "ansible", "account": "875120157787", "status": 200},
    {"service": "sts", "action": "AssumeRole", "caller": "other", "account": "123456789012", "status": 200},
    {"service": "ec2", "action": "DescribeIamInstanceProfileAssociations", "caller": "imds:w-1", "status": 200},
    {"service": "s3", "action": "GET service", "caller": "aws-cli", "account": "497254257696", "status": 200},
    {"service": "s3", "action": "PUT bucket", "caller": "ansible", "account": "497254257696", "status": 200},
]


def test_count_calls_from_a_call_log(tmp_path):
    (tmp_path / "calls.jsonl").write_text("".join(json.dumps(call) + "\n" for call in CALLS))
    counted = run.count_calls(run.calls.read_calls(tmp_path))
    assert counted["writes"] == 2
    assert counted["write_actions"] == ["iam:CreateRole", "s3:PUT bucket"]
    assert counted["reads"] == 3
    assert counted["reads_all"] == 4
    assert counted["reads_by_caller"] == {"ansible": 1, "aws-cli": 1, "imds:w-1": 1, "other": 1}


def test_count_calls_of_nothing():
    assert run.count_calls([]) == {"writes": 0, "reads": 0, "reads_all": 0, "reads_by_caller": {}, "write_actions": []}


BEFORE = {
    "accounts": {
        "1": {"roles": {"Admin": {"inline": [], "attached": ["arn:admin"]}}, "users": {}, "profiles": {}},
        "2": {"roles": {"Admin": {"inline": [], "attached": ["arn:admin"]}}, "users": {}, "profiles": {}},
    },
    "associations": [],
}
AFTER = {
    "accounts": {
        "1": {
            "roles": {
                "Admin": {"inline": [], "attached": ["arn:admin"]},
                "app": {"inline": ["assume"], "attached": []},
            },
            "users": {"op": {"inline": ["launch"]}},
            "profiles": {"app": ["app"]},
        },
        "2": {
            "roles": {
                "Admin": {"inline": [], "attached": ["arn:admin"]},
                "glue": {"inline": [], "attached": ["a", "b"]},
            },
            "users": {},
            "profiles": {},
        },
    },
    "associations": ["i-1 arn:profile/app"],
}


def test_managed_resources_are_what_the_run_added():
    added = run.snapshot_difference(BEFORE, AFTER)
    assert set(added["accounts"]["1"]["roles"]) == {"app"}
    assert set(added["accounts"]["2"]["roles"]) == {"glue"}
    # app + its inline policy, glue + two attachments, op + its policy, the profile + its role, the association.
    assert run.count_resources(added) == 2 + 3 + 2 + 2 + 1
    assert run.count_resources(run.snapshot_difference(AFTER, AFTER)) == 0


@pytest.mark.parametrize("count", [1, 3, 20], ids=["one", "three", "twenty"])
def test_accounts_extra_vars(count):
    extra = run.accounts_extra_vars(count)
    sources = [trust["source_account_id"] for trust in extra["cross_account_trusts"]]
    assert len(sources) == len(set(sources)) == count
    assert sources[0] == run.defaults.SOURCE_ACCOUNT
    assert {trust["target_account_id"] for trust in extra["cross_account_trusts"]} == {run.defaults.TARGET_ACCOUNT}
    assert {trust["group"] for trust in extra["cross_account_trusts"]} == {run.IDLE_GROUP}
    assert set(extra["cross_account_account_profiles"]) == {*sources, run.defaults.TARGET_ACCOUNT}
    assert extra["cross_account_account_profiles"].get("300000000002") == ("localcloud-extra-2" if count >= 3 else None)


def test_accounts_inventory_has_the_empty_group():
    assert yaml.safe_load(run.accounts_inventory()) == {"all": {"children": {run.IDLE_GROUP: {"hosts": {}}}}}


@pytest.mark.parametrize("count", [1, 2, 50], ids=["one", "two", "fifty"])
def test_hosts_inventory_adds_the_other_hosts(count):
    names = run.host_names(count)
    assert len(names) == len(set(names)) == count
    assert names[0] == "airflow-worker-1"
    hosts = yaml.safe_load(run.hosts_inventory(count))["all"]["children"]["cross_account_hosts"]["hosts"]
    assert sorted(hosts or {}) == sorted(names[1:])


SITE = {
    "converge_s": 20.0,
    "rerun_s": 15.0,
    "rerun_calls": {"writes": 0, "reads": 30, "reads_all": 50},
    "check_s": 14.0,
    "check_calls": {"writes": 0},
    "managed_resources": 10,
}


def test_summary_ratios_and_targets():
    summary = run.summarize(SITE, 4.0, {1: 10.0, 20: 40.0}, {1: 8.0, 50: 12.0})
    assert summary["converge_vs_baseline"] == 5.0
    assert summary["accounts_20_vs_1"] == 4.0
    assert summary["hosts_50_vs_1"] == 1.5
    assert summary["targets"] == {
        "rerun_write_calls": True,
        "rerun_read_calls": False,
        "check_write_calls": True,
        "converge_vs_baseline": False,
        "accounts_20_vs_1": False,
        "hosts_50_vs_1": True,
    }
    lines = run.table(summary).splitlines()
    assert lines[0].split() == ["figure", "value", "target", "met"]
    assert any(line.split()[:2] == ["converge_vs_baseline", "5.0"] and line.endswith("NO") for line in lines)
    assert json.loads(json.dumps(summary)) == summary


def test_summary_without_a_scale_point():
    summary = run.summarize(SITE, 4.0, {1: 10.0}, {})
    assert summary["accounts_20_vs_1"] is None
    assert summary["hosts_50_vs_1"] is None
    assert summary["targets"]["accounts_20_vs_1"] is None
