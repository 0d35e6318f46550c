"""Benchmark the site against fresh local clouds and report times, AWS call counts and scale ratios.

``python -m bench.run`` (what ``make bench`` runs) starts every cloud it uses in a temporary folder of its
own, on loopback, and stops it again; it never touches the repo's ``.localcloud`` or the caller's AWS
settings. It prints a table, writes ``results/bench.json`` and ``results/bench.png``, and ends with one
line of JSON holding the headline figures. Calls are counted from each cloud's own call log
(``calls.jsonl``, see localcloud/calls.py), never from Ansible's output.

Scenarios, each on a fresh cloud:

- site: ``site.yml`` on the default inventory (converge), again (nothing to do), then ``--check``;
- baseline: ``bench/baseline.py``, one boto3 process making the same writes and reads;
- accounts: ``site.yml --tags source,target`` with N source accounts each trusting the one target role;
- hosts: ``site.yml --tags host`` writing the CLI profile on N stand-in hosts.
"""

import argparse
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from localcloud import accounts, calls, defaults  # noqa: E402  (the project's own package, from the repo root)

log = logging.getLogger("bench")

BIN = Path(sys.executable).parent
RESULTS = ROOT / "results"
ACCOUNT_COUNTS = (1, 5, 10, 20)
HOST_COUNTS = (1, 10, 25, 50)
# Targets the figures are held against; reported, never asserted.
TARGETS = {
    "rerun_write_calls": 0,
    "rerun_read_calls_over_managed": 10,
    "check_write_calls": 0,
    "converge_vs_baseline": 4.0,
    "accounts_20_vs_1": 3.0,
    "hosts_50_vs_1": 2.0,
}
# The group of instance hosts that the extra trusts name: it has no hosts, so only the account stages act.
IDLE_GROUP = "bench_no_instances"
HOST_PREFIX = "bench-host-"
SOURCE_ROLE = "airflow-role"
TARGET_ROLE = "ExecuteGlueService"


# ---- pure parts: inventories, call counts, resource counts, the summary ----


def count_calls(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Writes and reads of a run, and reads by caller.

    ``reads`` leaves out the metadata services' own look-ups (caller ``imds:<host>``): they are how the local
    cloud plays EC2's metadata service, which on AWS makes no API call an account is billed or throttled for.
    ``reads_all`` keeps them.
    """
    writes = reads = reads_all = 0
    by_caller: dict[str, int] = {}
    write_actions: list[str] = []
    for record in records:
        if calls.is_write(record):
            writes += 1
            write_actions.append(f"{record.get('service')}:{record.get('action')}")
            continue
        caller = record.get("caller", "other")
        reads_all += 1
        by_caller[caller] = by_caller.get(caller, 0) + 1
        if not caller.startswith("imds:"):
            reads += 1
    return {
        "writes": writes,
        "reads": reads,
        "reads_all": reads_all,
        "reads_by_caller": dict(sorted(by_caller.items())),
        "write_actions": write_actions,
    }


def count_resources(snapshot: dict[str, Any]) -> int:
    """How many AWS resources a snapshot (see ``take_snapshot``) holds: each role, inline policy, managed-policy
    attachment, instance profile, role in a profile, user and instance-profile association counts once."""
    total = len(snapshot.get("associations", []))
    for account in snapshot.get("accounts", {}).values():
        for role in account.get("roles", {}).values():
            total += 1 + len(role.get("inline", [])) + len(role.get("attached", []))
        for user in account.get("users", {}).values():
            total += 1 + len(user.get("inline", []))
        for roles in account.get("profiles", {}).values():
            total += 1 + len(roles)
    return total


def snapshot_difference(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What ``after`` holds that ``before`` did not, in the same shape; what both hold counts as not managed."""
    out: dict[str, Any] = {
        "associations": [a for a in after.get("associations", []) if a not in before.get("associations", [])]
    }
    out["accounts"] = {}
    for account, found in after.get("accounts", {}).items():
        old = before.get("accounts", {}).get(account, {})
        out["accounts"][account] = {
            kind: {name: value for name, value in found.get(kind, {}).items() if name not in old.get(kind, {})}
            for kind in ("roles", "users", "profiles")
        }
    return out


def trusts_for(accounts_by_id: dict[str, str], target: str) -> list[dict[str, str]]:
    """One trust per source account: its airflow-role may assume the target's ExecuteGlueService."""
    return [
        {
            "source_account_id": account,
            "source_role_name": SOURCE_ROLE,
            "target_account_id": target,
            "target_role_name": TARGET_ROLE,
            "group": IDLE_GROUP,
        }
        for account in accounts_by_id
    ]


def accounts_extra_vars(source_accounts: int) -> dict[str, Any]:
    """Extra vars for N source accounts (the default source and N-1 extra ones) trusting the default target."""
    profiles = {defaults.SOURCE_ACCOUNT: defaults.SOURCE_PROFILE}
    for profile, account in list(defaults.extra_accounts(source_accounts - 1).items()):
        profiles[account] = profile
    trusts = trusts_for(profiles, defaults.TARGET_ACCOUNT)
    profiles[defaults.TARGET_ACCOUNT] = defaults.TARGET_PROFILE
    return {"cross_account_account_profiles": profiles, "cross_account_trusts": trusts}


def accounts_inventory() -> str:
    """An inventory file adding the empty group the extra trusts name."""
    return f"---\nall:\n  children:\n    {IDLE_GROUP}:\n      hosts: {{}}\n"


def host_names(count: int) -> list[str]:
    """The inventory's own stand-in host first, then bench-host-02 and on."""
    return [defaults.HOSTS[0], *(f"{HOST_PREFIX}{n:02d}" for n in range(2, count + 1))]


def hosts_inventory(count: int) -> str:
    """An inventory file adding stand-in hosts to cross_account_hosts, next to inventory/local's one host."""
    lines = ["---", "all:", "  children:", "    cross_account_hosts:", "      hosts:"]
    lines += [f"        {name}:" for name in host_names(count)[1:]]
    if count == 1:
        lines[-1] += " {}"
    return "\n".join(lines) + "\n"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator rounded to 2 places, None when either is missing or the denominator is zero."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def summarize(site: dict[str, Any], baseline_s: float, accounts_s: dict[int, float], hosts_s: dict[int, float]):
    """The headline figures, in the order ``make bench`` prints them last."""
    rerun = site["rerun_calls"]
    summary = {
        "converge_s": round(site["converge_s"], 2),
        "rerun_s": round(site["rerun_s"], 2),
        "rerun_write_calls": rerun["writes"],
        "rerun_read_calls": rerun["reads"],
        "rerun_read_calls_all": rerun["reads_all"],
        "managed_resources": site["managed_resources"],
        "check_s": round(site["check_s"], 2),
        "check_write_calls": site["check_calls"]["writes"],
        "baseline_s": round(baseline_s, 2),
        "converge_vs_baseline": ratio(site["converge_s"], baseline_s),
        "accounts_s": {str(n): round(s, 2) for n, s in sorted(accounts_s.items())},
        "accounts_20_vs_1": ratio(accounts_s.get(20), accounts_s.get(1)),
        "hosts_s": {str(n): round(s, 2) for n, s in sorted(hosts_s.items())},
        "hosts_50_vs_1": ratio(hosts_s.get(50), hosts_s.get(1)),
    }
    summary["targets"] = targets_met(summary)
    return summary


def targets_met(summary: dict[str, Any]) -> dict[str, bool | None]:
    """Each target against its figure: True met, False missed, None not measured."""

    def at_most(value: Any, limit: float) -> bool | None:
        return None if value is None else value <= limit

    return {
        "rerun_write_calls": at_most(summary["rerun_write_calls"], TARGETS["rerun_write_calls"]),
        "rerun_read_calls": at_most(
            summary["rerun_read_calls"], summary["managed_resources"] + TARGETS["rerun_read_calls_over_managed"]
        ),
        "check_write_calls": at_most(summary["check_write_calls"], TARGETS["check_write_calls"]),
        "converge_vs_baseline": at_most(summary["converge_vs_baseline"], TARGETS["converge_vs_baseline"]),
        "accounts_20_vs_1": at_most(summary["accounts_20_vs_1"], TARGETS["accounts_20_vs_1"]),
        "hosts_50_vs_1": at_most(summary["hosts_50_vs_1"], TARGETS["hosts_50_vs_1"]),
    }


def table(summary: dict[str, Any]) -> str:
    """The readable table printed before the JSON line."""
    met = summary["targets"]
    limit = {
        "rerun_write_calls": "= 0",
        "rerun_read_calls": f"<= {summary['managed_resources']} + {TARGETS['rerun_read_calls_over_managed']}",
        "check_write_calls": "= 0",
        "converge_vs_baseline": f"<= {TARGETS['converge_vs_baseline']}",
        "accounts_20_vs_1": f"<= {TARGETS['accounts_20_vs_1']}",
        "hosts_50_vs_1": f"<= {TARGETS['hosts_50_vs_1']}",
    }
    rows = [("figure", "value", "target", "met")]
    for key, value in summary.items():
        if key == "targets":
            continue
        shown = ", ".join(f"{n}: {s}" for n, s in value.items()) if isinstance(value, dict) else str(value)
        verdict = {True: "yes", False: "NO", None: "-"}[met.get(key)] if key in met else ""
        rows.append((key, shown, limit.get(key, ""), verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# ---- running things: clouds, playbooks, the baseline ----


@dataclass
class Cloud:
    """A local cloud of the bench's own, in a folder under the bench's temporary dir."""

    state_dir: Path
    start_args: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def command(self, *args: str) -> list[str]:
        return [str(BIN / "python"), "-m", "localcloud", "--state-dir", str(self.state_dir), *args]

    def mark(self) -> int:
        return len(calls.read_calls(self.state_dir))

    def calls_since(self, mark: int) -> list[dict[str, Any]]:
        return calls.read_calls(self.state_dir, since=mark)


def clean_env(state_dir: Path | None = None) -> dict[str, str]:
    """The caller's environment without any AWS setting, with the venv first on PATH and the cloud's dir."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    if state_dir is not None:
        env[defaults.STATE_DIR_ENV] = str(state_dir)
    return env


@contextlib.contextmanager
def running_cloud(state_dir: Path, *start_args: str) -> Iterator[Cloud]:
    """Start a fresh cloud in ``state_dir`` and stop it whatever happens."""
    cloud = Cloud(state_dir, list(start_args))
    env = clean_env(state_dir)
    result = subprocess.run(
        cloud.command("start", *start_args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"localcloud start failed:\n{result.stdout}{result.stderr}")
    try:
        cloud.state = json.loads((state_dir / "state.json").read_text())
        yield cloud
    finally:
        subprocess.run(cloud.command("stop"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def timed(command: list[str], env: dict[str, str], log_path: Path) -> float:
    """Run a command from the repo root, its output to ``log_path``; the wall seconds; raise when it fails."""
    started = time.monotonic()
    with open(log_path, "w") as out:
        result = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}); see {log_path}")
    log.info("%-60s %6.1f s", " ".join(Path(c).name if c.startswith("/") else c for c in command)[:60], elapsed)
    return elapsed


def playbook(cloud: Cloud, work: Path, name: str, *args: str) -> float:
    """Time one ansible-playbook run against ``cloud``."""
    return timed([str(BIN / "ansible-playbook"), *args], clean_env(cloud.state_dir), work / f"{name}.log")


def take_snapshot(state: dict[str, Any]) -> dict[str, Any]:
    """Roles, users, instance profiles (with their policies and roles) per account, and the associations."""
    found: dict[str, Any] = {"accounts": {}}
    config, credentials = state["aws_config_file"], state["aws_credentials_file"]
    profiles = {
        defaults.SOURCE_PROFILE: state["accounts"]["source"],
        defaults.TARGET_PROFILE: state["accounts"]["target"],
    }
    profiles.update(state.get("extra_accounts", {}))
    for profile, account in profiles.items():
        iam = accounts.profile_session(config, credentials, profile).client("iam")
        roles = {
            role["RoleName"]: {
                "inline": iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"],
                "attached": [
                    p["PolicyArn"]
                    for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
                ],
            }
            for role in iam.list_roles()["Roles"]
        }
        users = {
            user["UserName"]: {"inline": iam.list_user_policies(UserName=user["UserName"])["PolicyNames"]}
            for user in iam.list_users()["Users"]
        }
        instance_profiles = {
            p["InstanceProfileName"]: [r["RoleName"] for r in p["Roles"]]
            for p in iam.list_instance_profiles()["InstanceProfiles"]
        }
        found["accounts"][account] = {"roles": roles, "users": users, "profiles": instance_profiles}
    ec2 = accounts.profile_session(config, credentials, defaults.SOURCE_PROFILE).client("ec2")
    found["associations"] = sorted(
        f"{a['InstanceId']} {a['IamInstanceProfile']['Arn']}"
        for a in ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
    )
    return found


def bench_site(work: Path) -> dict[str, Any]:
    """Converge, run again, then ``--check``, on one fresh cloud with the default inventory."""
    with running_cloud(work / "site-cloud") as cloud:
        before = take_snapshot(cloud.state)
        mark = cloud.mark()
        converge_s = playbook(cloud, work, "site-converge", "site.yml")
        converge_calls = count_calls(cloud.calls_since(mark))
        managed = snapshot_difference(before, take_snapshot(cloud.state))
        mark = cloud.mark()
        rerun_s = playbook(cloud, work, "site-rerun", "site.yml")
        rerun_calls = count_calls(cloud.calls_since(mark))
        mark = cloud.mark()
        check_s = playbook(cloud, work, "site-check", "site.yml", "--check", "--diff")
        check_calls = count_calls(cloud.calls_since(mark))
    return {
        "converge_s": converge_s,
        "converge_calls": converge_calls,
        "rerun_s": rerun_s,
        "rerun_calls": rerun_calls,
        "check_s": check_s,
        "check_calls": check_calls,
        "managed": managed,
        "managed_resources": count_resources(managed),
    }


def bench_baseline(work: Path) -> tuple[float, dict[str, Any]]:
    """The boto3 baseline on its own fresh cloud: wall seconds of the whole process and its calls."""
    with running_cloud(work / "baseline-cloud") as cloud:
        mark = cloud.mark()
        seconds = timed(
            [str(BIN / "python"), "-m", "bench.baseline", "--state-dir", str(cloud.state_dir)],
            clean_env(cloud.state_dir),
            work / "baseline.log",
        )
        return seconds, count_calls(cloud.calls_since(mark))


def bench_accounts(work: Path, counts: Iterable[int]) -> dict[int, float]:
    """``site.yml --tags source,target`` for N source accounts trusting one target, each N on a fresh cloud."""
    inventory = work / "accounts-inventory.yml"
    inventory.write_text(accounts_inventory())
    out = {}
    for count in counts:
        extra = work / f"accounts-{count}.json"
        extra.write_text(json.dumps(accounts_extra_vars(count)))
        with running_cloud(work / f"accounts-{count}-cloud", "--extra-accounts", str(count - 1)) as cloud:
            out[count] = playbook(
                cloud,
                work,
                f"accounts-{count}",
                "site.yml",
                "-i",
                "inventory/local",
                "-i",
                str(inventory),
                "-e",
                f"@{extra}",
                "--tags",
                "source,target",
            )
            check_accounts(cloud.state, count)
    return out


def check_accounts(state: dict[str, Any], count: int) -> None:
    """Every source account has its role and the target role trusts all of them, or the timing is void."""
    config, credentials = state["aws_config_file"], state["aws_credentials_file"]
    target = accounts.profile_session(config, credentials, defaults.TARGET_PROFILE).client("iam")
    trust = target.get_role(RoleName=TARGET_ROLE)["Role"]["AssumeRolePolicyDocument"]
    principals = trust["Statement"][0]["Principal"]["AWS"]
    principals = [principals] if isinstance(principals, str) else principals
    if len(principals) != count:
        raise RuntimeError(f"{TARGET_ROLE} trusts {len(principals)} source roles, expected {count}")


def bench_hosts(work: Path, counts: Iterable[int]) -> dict[int, float]:
    """``site.yml --tags host`` on N stand-in hosts, each N on a fresh cloud that has those hosts."""
    out = {}
    for count in counts:
        inventory = work / f"hosts-{count}.yml"
        inventory.write_text(hosts_inventory(count))
        host_args = [f"--host={name}" for name in host_names(count)]
        with running_cloud(work / f"hosts-{count}-cloud", *host_args) as cloud:
            out[count] = playbook(
                cloud,
                work,
                f"hosts-{count}",
                "site.yml",
                "-i",
                "inventory/local",
                "-i",
                str(inventory),
                "--tags",
                "host",
            )
            check_hosts(cloud.state)
    return out


def check_hosts(state: dict[str, Any]) -> None:
    """Every stand-in host's config file has the profile, or the timing is void."""
    for name, host in state["hosts"].items():
        config = Path(host["home"]) / ".aws" / "config"
        if not config.is_file() or f"[profile {SOURCE_ROLE}]" not in config.read_text():
            raise RuntimeError(f"{name}: no [profile {SOURCE_ROLE}] in {config}")


def plot(path: Path, accounts_s: dict[int, float], hosts_s: dict[int, float]) -> bool:
    """Time against accounts and against hosts, side by side; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed (requirements-bench.txt); no plot")
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for axes, data, label, title in (
        (left, accounts_s, "source accounts", "site.yml --tags source,target"),
        (right, hosts_s, "stand-in hosts", "site.yml --tags host"),
    ):
        xs = sorted(data)
        axes.plot(xs, [data[x] for x in xs], marker="o")
        axes.set_xlabel(label)
        axes.set_ylabel("wall time (s)")
        axes.set_title(title)
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="where bench.json and bench.png go")
    parser.add_argument("--accounts", type=int, nargs="+", default=list(ACCOUNT_COUNTS), metavar="N")
    parser.add_argument("--hosts", type=int, nargs="+", default=list(HOST_COUNTS), metavar="N")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, clouds' state)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s", stream=sys.stderr)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    args.results.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir="/tmp"))
    log.info("working in %s", work)
    started = time.monotonic()
    # On failure the folder stays, with each run's log, and the error names it.
    site = bench_site(work)
    baseline_s, baseline_calls = bench_baseline(work)
    accounts_s = bench_accounts(work, sorted(set(args.accounts)))
    hosts_s = bench_hosts(work, sorted(set(args.hosts)))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    summary = summarize(site, baseline_s, accounts_s, hosts_s)
    details = {
        "summary": summary,
        "site": site,
        "baseline_calls": baseline_calls,
        "bench_s": round(time.monotonic() - started, 1),
    }
    (args.results / "bench.json").write_text(json.dumps(details, indent=2, sort_keys=True) + "\n")
    plotted = plot(args.results / "bench.png", accounts_s, hosts_s)
    print(table(summary))
    print(f"results: {args.results / 'bench.json'}" + (f", {args.results / 'bench.png'}" if plotted else ""))
    print(json.dumps(summary, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
