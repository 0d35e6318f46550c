"""A local cloud in its own process, and a way to run the project's playbooks against it.

These tests drive ``ansible-playbook`` exactly as users do, with the local inventory, and read the
outcome back from the cloud and the stand-in host's files.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.session
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from localcloud import calls  # noqa: E402  (the project's own package, importable from the repo root)

BIN = Path(sys.executable).parent
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Run:
    """One ansible-playbook run: exit code, output and the changed count per host."""

    rc: int
    output: str

    @property
    def changed(self) -> dict[str, int]:
        return {host: int(changed) for host, changed, _, _ in RECAP.findall(self.output)}

    @property
    def accounts_changed(self) -> int:
        """Changes made in the AWS accounts: the account stages run on one host per account."""
        return sum(count for host, count in self.changed.items() if host.startswith("account-"))

    @property
    def unchanged(self) -> bool:
        """Every host of the run, accounts and instances alike, reported changed=0."""
        return {"account-875120157787", "account-497254257696"} <= set(self.changed) and not any(self.changed.values())


@dataclass
class Site:
    """The local cloud's state and helpers to run playbooks and read back what they left."""

    state_dir: Path
    env: dict[str, str]

    @property
    def state(self) -> dict:
        return json.loads((self.state_dir / "state.json").read_text())

    def play(self, *args: str) -> Run:
        result = subprocess.run(
            [str(BIN / "ansible-playbook"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        return Run(result.returncode, result.stdout + result.stderr)

    def session(self, which: str) -> boto3.Session:
        core = botocore.session.Session()
        core.set_config_variable("config_file", self.state["aws_config_file"])
        core.set_config_variable("credentials_file", self.state["aws_credentials_file"])
        return boto3.Session(botocore_session=core, profile_name=f"localcloud-{which}")

    def call_mark(self) -> int:
        """How many AWS calls the local cloud has logged so far; pass it to ``calls_since``."""
        return len(calls.read_calls(self.state_dir))

    def calls_since(self, mark: int) -> list[dict]:
        """The AWS calls logged after ``mark``."""
        return calls.read_calls(self.state_dir, since=mark)

    def config_path(self, host: str = "airflow-worker-1") -> Path:
        return Path(self.state["hosts"][host]["home"]) / ".aws" / "config"

    def snapshot(self) -> dict:
        """Everything the site manages, as stored: roles, policies, profiles, users, associations, files."""
        found: dict = {}
        for which in ("source", "target"):
            iam = self.session(which).client("iam")
            roles = {}
            for role in iam.list_roles()["Roles"]:
                name = role["RoleName"]
                roles[name] = {
                    "trust": role["AssumeRolePolicyDocument"],
                    "max_session": role.get("MaxSessionDuration"),
                    "inline": {
                        policy: iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
                    },
                    "attached": sorted(
                        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
                    ),
                }
            users = {
                user["UserName"]: {
                    policy: iam.get_user_policy(UserName=user["UserName"], PolicyName=policy)["PolicyDocument"]
                    for policy in iam.list_user_policies(UserName=user["UserName"])["PolicyNames"]
                }
                for user in iam.list_users()["Users"]
            }
            profiles = {
                profile["InstanceProfileName"]: [role["RoleName"] for role in profile["Roles"]]
                for profile in iam.list_instance_profiles()["InstanceProfiles"]
            }
            found[which] = {"roles": roles, "users": users, "profiles": profiles}
        ec2 = self.session("source").client("ec2")
        found["associations"] = sorted(
            (a["InstanceId"], a["IamInstanceProfile"]["Arn"])
            for a in ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
        )
        config = self.config_path()
        found["config"] = config.read_bytes() if config.exists() else None
        return found


@pytest.fixture(scope="module")
def site(request, tmp_path_factory) -> Iterator[Site]:
    """A fresh local cloud for one test module, stopped at the end; none of the caller's AWS settings leak in.

    A test module may set ``LOCALCLOUD_START_ARGS`` (a list of ``localcloud start`` options) to shape its cloud.
    """
    state_dir = tmp_path_factory.mktemp("site") / "localcloud"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        LOCALCLOUD_DIR=str(state_dir),
    )
    cloud = [str(BIN / "python"), "-m", "localcloud", "--state-dir", str(state_dir)]
    start_args = list(getattr(request.module, "LOCALCLOUD_START_ARGS", []))
    subprocess.run([*cloud, "start", *start_args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    try:
        yield Site(state_dir, env)
    finally:
        subprocess.run([*cloud, "stop"], cwd=ROOT, env=env, check=False, capture_output=True, timeout=60)
