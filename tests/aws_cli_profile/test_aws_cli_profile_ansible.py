"""Run the role through ansible-playbook on localhost with a scratch HOME: check, diff, converge, idempotence.

The play sets HOME through ``environment`` just like the project's local stand-in hosts, so this also
proves that ``~`` is taken from HOME as the module sees it.
"""

import json
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from profile_support import ARN, REPO

PLAYBOOK = Path(__file__).with_name("converge.yml")
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
PROFILE = {"name": "airflow-role", "role_arn": ARN, "region": "eu-west-1"}


def play(tmp_path, home, *args, **role_vars):
    """Run the converge playbook and return (returncode, parsed JSON callback output)."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"aws_cli_profile_test_home": str(home), **role_vars}))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))},
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    cmd = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(PLAYBOOK), "-e", f"@{extra}", *args]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, json.loads(proc.stdout)


def module_result(output):
    """Return the result of the task that calls aws_cli_profile_config."""
    tasks = output["plays"][0]["tasks"]
    return next(
        t["hosts"]["localhost"]
        for t in tasks
        if t["task"]["name"].endswith("Write the profiles into the AWS config file")
    )


def changed(output):
    return output["stats"]["localhost"]["changed"]


def test_check_converge_idempotent(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    config = home / ".aws" / "config"

    rc, out = play(tmp_path, home, "--check", "--diff", aws_cli_profile_profiles=[PROFILE])
    assert rc == 0
    assert changed(out) == 1
    assert "[profile airflow-role]" in module_result(out)["diff"]["after"]
    assert not (home / ".aws").exists()

    rc, out = play(tmp_path, home, "--diff", aws_cli_profile_profiles=[PROFILE])
    assert rc == 0
    assert changed(out) == 1
    result = module_result(out)
    assert result["path"] == str(config)
    assert result["profiles"][0]["action"] == "created"
    assert result["diff"]["before"] == ""
    assert stat.S_IMODE((home / ".aws").stat().st_mode) == 0o700
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert (config.stat().st_uid, config.stat().st_gid) == (os.geteuid(), os.getegid())
    written = config.read_bytes()
    assert (
        written
        == (
            f"[profile airflow-role]\nrole_arn = {ARN}\ncredential_source = Ec2InstanceMetadata\nregion = eu-west-1\n"
        ).encode()
    )

    rc, out = play(tmp_path, home, "--diff", aws_cli_profile_profiles=[PROFILE])
    assert rc == 0
    assert changed(out) == 0
    assert "diff" not in module_result(out)
    assert config.read_bytes() == written


def test_existing_file_check_then_converge(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    config = home / ".aws" / "config"
    original = "# mine\r\n[default]\r\nregion = us-east-1\r\ns3 =\r\n  addressing_style = path\r\n"
    config.write_bytes(original.encode())
    config.chmod(0o640)

    rc, out = play(tmp_path, home, "--check", "--diff", aws_cli_profile_profiles=[PROFILE])
    assert (rc, changed(out)) == (0, 1)
    assert config.read_bytes() == original.encode()

    rc, out = play(tmp_path, home, aws_cli_profile_profiles=[PROFILE])
    assert (rc, changed(out)) == (0, 1)
    assert config.read_bytes().startswith(original.encode() + b"\r\n[profile airflow-role]\r\n")
    assert stat.S_IMODE(config.stat().st_mode) == 0o640


def test_bad_input_stops_before_the_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    rc, out = play(tmp_path, home, aws_cli_profile_profiles=[{**PROFILE, "duration_seconds": 43200}])
    assert rc != 0
    failed = [t for t in out["plays"][0]["tasks"] if t["hosts"]["localhost"].get("failed")]
    assert failed[0]["task"]["name"].endswith("Check the optional settings")
    message = failed[0]["hosts"]["localhost"]["results"][0]["msg"]
    for fragment in ("aws_cli_profile_profiles", "43200", "900 to 3600"):
        assert fragment in message
    assert not (home / ".aws").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="creating files for another user needs root")
def test_owner(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    config = home / "custom" / "aws-config"
    rc, _ = play(
        tmp_path,
        home,
        aws_cli_profile_profiles=[PROFILE],
        aws_cli_profile_owner="nobody",
        aws_cli_profile_config_path=str(config),
    )
    assert rc == 0
    nobody = pwd.getpwnam("nobody")
    for created in (config, config.parent):
        assert (created.stat().st_uid, created.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
