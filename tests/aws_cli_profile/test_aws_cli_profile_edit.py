"""Table-driven tests of the config edit: exact bytes where they matter and what botocore reads back."""

import os
import stat

import aws_cli_profile_config as mod
import pytest
from profile_support import ARN, OLD_ARN

AIRFLOW = {"name": "airflow-role", "role_arn": ARN, "region": "eu-west-1"}
BLOCK = f"[profile airflow-role]\nrole_arn = {ARN}\ncredential_source = Ec2InstanceMetadata\nregion = eu-west-1\n"
ADDED = f"role_arn = {ARN}\ncredential_source = Ec2InstanceMetadata\n"
NO_FILE = object()
NO_DIR = object()


def header_case(header):
    """Build a case whose managed profile uses one of the header spellings botocore accepts."""
    return pytest.param(
        f"{header}\nregion = us-east-1\n",
        [AIRFLOW],
        f"{header}\nregion = eu-west-1\n{ADDED}",
        id=f"header {header!r}",
    )


CASES = [
    pytest.param(NO_DIR, [AIRFLOW], BLOCK, id="no directory"),
    pytest.param(NO_FILE, [AIRFLOW], BLOCK, id="no file"),
    pytest.param("", [AIRFLOW], BLOCK, id="empty file"),
    pytest.param(
        "[profile dev]\nregion = us-east-1\n\n[profile prod]\nregion = us-west-2\noutput = json\n",
        [AIRFLOW],
        "[profile dev]\nregion = us-east-1\n\n[profile prod]\nregion = us-west-2\noutput = json\n\n" + BLOCK,
        id="other profiles",
    ),
    pytest.param(
        "[default]\nregion = us-east-1\n", [AIRFLOW], "[default]\nregion = us-east-1\n\n" + BLOCK, id="default"
    ),
    pytest.param(
        "# top\n; semicolon\n[default]\n  # indented\nregion = us-east-1 ; part of the value\n\n",
        [AIRFLOW],
        "# top\n; semicolon\n[default]\n  # indented\nregion = us-east-1 ; part of the value\n\n" + BLOCK,
        id="comments",
    ),
    pytest.param(
        "[default]\ns3 =\n  max_concurrent_requests = 20\n  addressing_style = path\nregion = us-east-1\n",
        [AIRFLOW],
        "[default]\ns3 =\n  max_concurrent_requests = 20\n  addressing_style = path\nregion = us-east-1\n\n" + BLOCK,
        id="nested s3 elsewhere",
    ),
    pytest.param(
        "[profile airflow-role]\ns3 =\n    signature_version = s3v4\nregion = us-east-1\n# next\n\n[default]\nx = 1\n",
        [AIRFLOW],
        f"[profile airflow-role]\ns3 =\n    signature_version = s3v4\nregion = eu-west-1\n{ADDED}# next\n\n"
        "[default]\nx = 1\n",
        id="nested s3 in managed profile",
    ),
    pytest.param(
        "[profile base]\naws_access_key_id = AKIAEXAMPLE\n\n[profile airflow-role]\nsource_profile = base\n"
        f"role_arn = {OLD_ARN}\nregion = eu-west-1\ncli_pager =\n\n[profile other]\nregion = us-east-1\n",
        [AIRFLOW],
        "[profile base]\naws_access_key_id = AKIAEXAMPLE\n\n[profile airflow-role]\n"
        f"role_arn = {ARN}\nregion = eu-west-1\ncli_pager =\ncredential_source = Ec2InstanceMetadata\n\n"
        "[profile other]\nregion = us-east-1\n",
        id="stale profile with source_profile",
    ),
    pytest.param(
        "[profile airflow-role]\nsource_profile =\n  nested = 1\n  # kept\n  more = 2\nrole_arn =\n  a = b\n",
        [AIRFLOW],
        f"[profile airflow-role]\n  # kept\nrole_arn = {ARN}\ncredential_source = Ec2InstanceMetadata\n"
        "region = eu-west-1\n",
        id="source_profile and role_arn with nested lines",
    ),
    pytest.param(
        f"[profile airflow-role]\nROLE_ARN: {OLD_ARN}\nRegion=us-east-1\n",
        [AIRFLOW],
        f"[profile airflow-role]\nROLE_ARN: {ARN}\nRegion=eu-west-1\ncredential_source = Ec2InstanceMetadata\n",
        id="key spelling and delimiter kept",
    ),
    pytest.param(
        f"[profile airflow-role]\nrole_arn = {OLD_ARN}\n  region = us-east-1\n",
        [AIRFLOW],
        f"[profile airflow-role]\nrole_arn = {ARN}\ncredential_source = Ec2InstanceMetadata\nregion = eu-west-1\n",
        id="indented line is a continuation of the key above",
    ),
    pytest.param(
        "[profile airflow-role]\n    region = us-east-1\n    output = text\n",
        [AIRFLOW],
        f"[profile airflow-role]\n    region = eu-west-1\n    output = text\n    role_arn = {ARN}\n"
        "    credential_source = Ec2InstanceMetadata\n",
        id="indented keys keep their indentation",
    ),
    pytest.param(
        "  [profile airflow-role]\n[profile next]\n",
        [AIRFLOW],
        f"  [profile airflow-role]\n{ADDED}region = eu-west-1\n[profile next]\n",
        id="empty managed section",
    ),
    header_case("[profile  airflow-role]"),
    header_case("[profile\tairflow-role]"),
    header_case('[profile "airflow-role"]'),
    header_case("[profile 'airflow-role']"),
    header_case("[profile airflow-role ]"),
    header_case("   [profile airflow-role]"),
    header_case("[profile airflow-role] trailing text"),
    header_case("[profiles airflow-role]"),
    pytest.param(
        f"[airflow-role]\nrole_arn = {OLD_ARN}\n",
        [AIRFLOW],
        f"[airflow-role]\nrole_arn = {OLD_ARN}\n\n" + BLOCK,
        id="bare section is not the profile",
    ),
    pytest.param(
        "[default]\nregion = us-east-1", [AIRFLOW], "[default]\nregion = us-east-1\n\n" + BLOCK, id="no final newline"
    ),
    pytest.param(
        "[profile airflow-role]\nregion = us-east-1",
        [AIRFLOW],
        f"[profile airflow-role]\nregion = eu-west-1\n{ADDED.rstrip()}",
        id="no final newline in managed section",
    ),
    pytest.param(
        "[default]\r\nregion = us-east-1\r\n",
        [AIRFLOW],
        "[default]\r\nregion = us-east-1\r\n\r\n" + BLOCK.replace("\n", "\r\n"),
        id="crlf",
    ),
    pytest.param(
        "[profile airflow-role]\r\nregion = us-east-1\r\n[default]\r\n",
        [AIRFLOW],
        f"[profile airflow-role]\r\nregion = eu-west-1\r\n{ADDED.replace(chr(10), chr(13) + chr(10))}[default]\r\n",
        id="crlf managed section",
    ),
    pytest.param(
        "[default]\nregion = us-east-1\n",
        [{**AIRFLOW, "name": "default"}],
        f"[default]\nregion = eu-west-1\n{ADDED}",
        id="default profile",
    ),
    pytest.param(
        "[profile airflow-role]\nrole_arn = x\n",
        [
            {
                **AIRFLOW,
                "region": None,
                "output": "yaml-stream",
                "role_session_name": "airflow",
                "duration_seconds": 3600,
                "external_id": "ext:id/1",
            }
        ],
        f"[profile airflow-role]\nrole_arn = {ARN}\ncredential_source = Ec2InstanceMetadata\noutput = yaml-stream\n"
        "role_session_name = airflow\nduration_seconds = 3600\nexternal_id = ext:id/1\n",
        id="all optional keys",
    ),
    pytest.param(
        "[default]\nregion = x\n\n# about airflow\n[profile airflow-role]\nrole_arn = a\n; inside\nregion = y\n\n"
        "[profile other]\nregion = z\n",
        [{"name": "airflow-role", "state": "absent"}],
        "[default]\nregion = x\n\n# about airflow\n; inside\n\n[profile other]\nregion = z\n",
        id="absent",
    ),
    pytest.param(
        "[default]\nregion = x\n\n[profile airflow-role]\nrole_arn = a\n\n[profile other]\nregion = z\n",
        [{"name": "airflow-role", "state": "absent"}],
        "[default]\nregion = x\n\n[profile other]\nregion = z\n",
        id="absent leaves no double gap",
    ),
    pytest.param(
        f"[airflow-role]\nrole_arn = {OLD_ARN}\n",
        [{"name": "airflow-role", "state": "absent"}],
        f"[airflow-role]\nrole_arn = {OLD_ARN}\n",
        id="absent ignores bare section",
    ),
    pytest.param(
        "[profile gone]\nregion = us-east-1\n",
        [
            AIRFLOW,
            {"name": "gone", "state": "absent"},
            {"name": "two", "role_arn": ARN, "credential_source": "Environment"},
        ],
        f"{BLOCK}\n[profile two]\nrole_arn = {ARN}\ncredential_source = Environment\n",
        id="several profiles in one write",
    ),
    pytest.param(BLOCK, [AIRFLOW], BLOCK, id="already converged"),
]


def _start(tmp_path, start):
    """Lay out the starting state and return the config path (home/.aws/config)."""
    path = tmp_path / "home" / ".aws" / "config"
    if start is NO_DIR:
        return path
    path.parent.mkdir(parents=True, mode=0o700)
    if start is not NO_FILE:
        path.write_bytes(start.encode())
    return path


@pytest.mark.parametrize(("start", "profiles", "expected"), CASES)
def test_edit(tmp_path, start, profiles, expected):
    path = _start(tmp_path, start)
    before_text = "" if start in (NO_FILE, NO_DIR) else start
    before = mod.parse_text(before_text)[1]
    result = mod.run(str(path), "", profiles, check_mode=False)

    assert path.read_bytes() == expected.encode()
    assert result["changed"] == (expected != before_text)
    assert result["path"] == str(path)
    after = mod.read_with_botocore(str(path))[1]
    managed = {p["name"] for p in profiles}
    assert {k: v for k, v in after.items() if k not in managed} == {k: v for k, v in before.items() if k not in managed}
    for prof in mod.normalise_profiles(profiles):
        if prof["state"] == "absent":
            assert prof["name"] not in after
            continue
        assert {k: after[prof["name"]].get(k) for k in mod.desired_values(prof)} == mod.desired_values(prof)
        assert "source_profile" not in after[prof["name"]]

    again = mod.run(str(path), "", profiles, check_mode=False)
    assert again["changed"] is False
    assert path.read_bytes() == expected.encode()


def test_check_mode_writes_nothing(tmp_path):
    path = _start(tmp_path, NO_DIR)
    result = mod.run(str(path), "", [AIRFLOW], check_mode=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == ""
    assert result["diff"]["after"] == BLOCK
    assert not path.parent.exists()

    path = _start(tmp_path / "second", "[default]\nregion = us-east-1\n")
    mtime = path.stat().st_mtime_ns
    assert mod.run(str(path), "", [AIRFLOW], check_mode=True)["changed"] is True
    assert path.read_bytes() == b"[default]\nregion = us-east-1\n"
    assert path.stat().st_mtime_ns == mtime
    assert os.listdir(path.parent) == ["config"]


def test_created_modes(tmp_path):
    path = _start(tmp_path, NO_DIR)
    mod.run(str(path), "", [AIRFLOW], check_mode=False)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (path.stat().st_uid, path.stat().st_gid) == (os.geteuid(), os.getegid())
    assert os.listdir(path.parent) == ["config"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o400], ids=oct)
def test_existing_mode_is_kept(tmp_path, mode):
    path = _start(tmp_path, "[default]\nregion = us-east-1\n")
    path.chmod(mode)
    mod.run(str(path), "", [AIRFLOW], check_mode=False)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_symlinked_config_stays_a_symlink(tmp_path):
    real = tmp_path / "dotfiles" / "aws-config"
    real.parent.mkdir()
    real.write_text("[default]\nregion = us-east-1\n")
    link = _start(tmp_path, NO_FILE)
    link.symlink_to(real)
    mod.run(str(link), "", [AIRFLOW], check_mode=False)
    assert link.is_symlink()
    assert real.read_text() == "[default]\nregion = us-east-1\n\n" + BLOCK


def test_home_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "scratch-home"))
    result = mod.run("", "", [AIRFLOW], check_mode=False)
    assert result["path"] == str(tmp_path / "scratch-home" / ".aws" / "config")
    assert (tmp_path / "scratch-home" / ".aws" / "config").read_text() == BLOCK


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_of_created_and_existing_files(tmp_path):
    import pwd

    nobody = pwd.getpwnam("nobody")
    path = tmp_path / "home" / ".aws" / "config"
    mod.run(str(path), "nobody", [AIRFLOW], check_mode=False)
    for created in (path, path.parent, path.parent.parent):
        assert (created.stat().st_uid, created.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)
    os.chown(path, 0, 0)
    mod.run(str(path), "nobody", [{**AIRFLOW, "region": "us-east-1"}], check_mode=False)
    assert (path.stat().st_uid, path.stat().st_gid) == (0, 0)


def test_diff_and_changes_report(tmp_path):
    path = _start(tmp_path, f"[profile airflow-role]\nsource_profile = base\nrole_arn = {OLD_ARN}\n")
    result = mod.run(str(path), "", [AIRFLOW], check_mode=False)
    assert result["profiles"] == [
        {
            "name": "airflow-role",
            "state": "present",
            "action": "updated",
            "keys_set": ["role_arn", "credential_source", "region"],
            "keys_removed": ["source_profile"],
        }
    ]
    assert result["diff"]["before"].startswith("[profile airflow-role]\nsource_profile")


def test_diff_hides_secrets_kept_in_the_file(tmp_path):
    start = (
        "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = wJalrXUtnFEMI\n"
        "aws_session_token = FQoGZXIvYXdz\n  continued-token-part\n"
    )
    path = _start(tmp_path, start)
    result = mod.run(str(path), "", [AIRFLOW], check_mode=True)
    shown = result["diff"]["before"] + result["diff"]["after"]
    assert "wJalrXUtnFEMI" not in shown
    assert "FQoGZXIvYXdz" not in shown
    assert "continued-token-part" not in shown
    assert "aws_secret_access_key = ********\n" in result["diff"]["after"]
    assert "aws_access_key_id = AKIAEXAMPLE\n" in result["diff"]["after"]
    assert result["diff"]["after"].endswith(BLOCK)
    assert path.read_bytes() == start.encode()


def test_config_path_variables_expand_as_botocore_expands_them(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKER_HOME", str(tmp_path / "worker"))
    result = mod.run("$WORKER_HOME/.aws/config", "", [AIRFLOW], check_mode=False)
    path = tmp_path / "worker" / ".aws" / "config"
    assert result["path"] == str(path)
    assert path.read_bytes() == BLOCK.encode()
    assert not any("$" in name for name in os.listdir(tmp_path))


def test_absent_keys_are_removed_and_others_kept(tmp_path):
    start = (
        f"[profile airflow-role]\nrole_arn = {ARN}\ncredential_source = Ec2InstanceMetadata\n"
        "external_id = old-secret-id\n# kept comment\noutput = text\n"
    )
    path = _start(tmp_path, start)
    profile = {"name": "airflow-role", "role_arn": ARN, "absent_keys": ["external_id", "region"]}
    result = mod.run(str(path), "", [profile], check_mode=False)
    assert result["changed"] is True
    assert result["profiles"][0]["keys_removed"] == ["external_id"]
    assert path.read_text() == (
        f"[profile airflow-role]\nrole_arn = {ARN}\ncredential_source = Ec2InstanceMetadata\n"
        "# kept comment\noutput = text\n"
    )
    assert mod.run(str(path), "", [profile], check_mode=False)["changed"] is False
