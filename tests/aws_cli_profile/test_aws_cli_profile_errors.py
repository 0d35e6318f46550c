"""Bad inputs and config files botocore cannot read: a clear error and the file left byte-identical."""

import os

import aws_cli_profile_config as mod
import pytest
from profile_support import ARN

AIRFLOW = {"name": "airflow-role", "role_arn": ARN}
START = "[default]\nregion = us-east-1\n"

BAD_INPUTS = [
    pytest.param({**AIRFLOW, "name": ""}, "name must be a non-empty string", id="empty name"),
    pytest.param({**AIRFLOW, "name": "a[b"}, "contains ['[']", id="name with ["),
    pytest.param({**AIRFLOW, "name": "a]b"}, "contains [']']", id="name with ]"),
    pytest.param({**AIRFLOW, "name": "a\nb"}, "contains ['\\n']", id="name with newline"),
    pytest.param({**AIRFLOW, "name": "a\tb"}, "contains ['\\t']", id="name with tab"),
    pytest.param({**AIRFLOW, "name": " airflow"}, "leading or trailing whitespace", id="leading space"),
    pytest.param({**AIRFLOW, "name": "airflow "}, "leading or trailing whitespace", id="trailing space"),
    pytest.param({"name": "airflow-role"}, "role_arn is required when state is present", id="missing role_arn"),
    pytest.param({**AIRFLOW, "role_arn": "arn:aws:iam::4972542576:role/X"}, "is not a role ARN", id="10-digit account"),
    pytest.param({**AIRFLOW, "role_arn": "arn:aws:iam::497254257696:user/X"}, "is not a role ARN", id="user ARN"),
    pytest.param(
        {**AIRFLOW, "role_arn": "ExecuteGlueService"}, "'ExecuteGlueService' is not a role ARN", id="bare name"
    ),
    pytest.param({**AIRFLOW, "role_arn": ARN + "\n[default]"}, "is not a role ARN", id="ARN with newline"),
    pytest.param(
        {**AIRFLOW, "credential_source": "ec2instancemetadata"}, "(case-sensitive)", id="credential_source case"
    ),
    pytest.param({**AIRFLOW, "credential_source": "Ec2Instance"}, "is not one of", id="credential_source unknown"),
    pytest.param({**AIRFLOW, "duration_seconds": 899}, "duration_seconds 899 is outside 900-3600", id="short session"),
    pytest.param({**AIRFLOW, "duration_seconds": 3601}, "3601 is outside 900-3600", id="over role chaining cap"),
    pytest.param({**AIRFLOW, "duration_seconds": 43200}, "capped at one hour", id="max session of the role"),
    pytest.param({**AIRFLOW, "duration_seconds": "3600"}, "must be an integer", id="duration as string"),
    pytest.param({**AIRFLOW, "region": "eu-west-9"}, "region 'eu-west-9' is not a region botocore knows", id="region"),
    pytest.param({**AIRFLOW, "region": "EU-WEST-1"}, "not a region botocore knows", id="region upper case"),
    pytest.param({**AIRFLOW, "output": "xml"}, "output 'xml' is not one of", id="output"),
    pytest.param({**AIRFLOW, "role_session_name": "has space"}, "role_session_name 'has space'", id="session name"),
    pytest.param({**AIRFLOW, "external_id": "x"}, "external_id 'x' does not match", id="external id too short"),
    pytest.param({**AIRFLOW, "role_arn": ARN + "\n"}, "is not a role ARN", id="ARN with trailing newline"),
    pytest.param({**AIRFLOW, "role_session_name": "airflow\n"}, "role_session_name", id="session trailing newline"),
    pytest.param({**AIRFLOW, "external_id": "abc-123\n"}, "external_id", id="external id trailing newline"),
    pytest.param({**AIRFLOW, "role_arn": ARN + "\u00e9"}, "is not a role ARN", id="non-ASCII role name"),
    pytest.param({**AIRFLOW, "role_session_name": "s\u00e9ance"}, "role_session_name", id="non-ASCII session"),
    pytest.param({**AIRFLOW, "absent_keys": ["role_arn"]}, "are not among the optional keys", id="absent role_arn"),
    pytest.param(
        {**AIRFLOW, "external_id": "abc-123", "absent_keys": ["external_id"]}, "both given a value", id="absent+set"
    ),
    pytest.param({**AIRFLOW, "absent_keys": "region"}, "absent_keys must be a list", id="absent_keys string"),
    pytest.param({**AIRFLOW, "state": "gone"}, "state 'gone' is not one of", id="state"),
    pytest.param({**AIRFLOW, "source_profile": "base"}, "unknown keys ['source_profile']", id="unknown key"),
]


def _file(tmp_path, text):
    path = tmp_path / ".aws" / "config"
    path.parent.mkdir()
    path.write_bytes(text.encode())
    return path


def _assert_untouched(path, text, mtime):
    assert path.read_bytes() == text.encode()
    assert path.stat().st_mtime_ns == mtime
    assert os.listdir(path.parent) == ["config"]


@pytest.mark.parametrize(("profile", "message"), BAD_INPUTS)
def test_bad_input(tmp_path, profile, message):
    path = _file(tmp_path, START)
    mtime = path.stat().st_mtime_ns
    with pytest.raises(mod.ConfigEditError) as err:
        mod.run(str(path), "", [profile], check_mode=False)
    assert message in str(err.value)
    _assert_untouched(path, START, mtime)


def test_duplicate_names(tmp_path):
    path = _file(tmp_path, START)
    with pytest.raises(mod.ConfigEditError, match="listed more than once"):
        mod.run(str(path), "", [AIRFLOW, {"name": "airflow-role", "state": "absent"}], check_mode=False)
    assert path.read_bytes() == START.encode()


def test_unknown_owner(tmp_path):
    with pytest.raises(mod.ConfigEditError, match="owner 'no-such-user-here' is not a user"):
        mod.run(str(tmp_path / "config"), "no-such-user-here", [AIRFLOW], check_mode=False)
    assert not (tmp_path / "config").exists()


BAD_FILES = [
    pytest.param("[default]\na = 1\n[default]\nb = 2\n", "section 'default' already exists", id="duplicate section"),
    pytest.param("[default]\na = 1\nA = 2\n", "option 'a' in section 'default' already exists", id="duplicate key"),
    pytest.param("region = us-east-1\n", "File contains no section headers", id="no section header"),
    pytest.param("[default]\nthis is not a setting\n", "Source contains parsing errors", id="garbage line"),
    pytest.param("[default]\ns3 =\n  not nested\n", "not enough values to unpack", id="bad nested block"),
    pytest.param("\ufeff[default]\nregion = us-east-1\n", "File contains no section headers", id="byte order mark"),
    pytest.param(
        '[profile airflow-role]\nregion = us-east-1\n\n[profile "airflow-role"]\nregion = us-west-2\n',
        'defined by more than one section: [profile airflow-role] (line 1), [profile "airflow-role"] (line 4)',
        id="two spellings of the managed profile",
    ),
    pytest.param(
        "[default]\nregion = us-east-1\n[profiles airflow-role]\n[profile airflow-role]\n",
        "defined by more than one section",
        id="profiles prefix counts too",
    ),
    pytest.param(
        "[DEFAULT]\nsource_profile = base\n",
        "would have source_profile = 'base' next to credential_source (inherited from a [DEFAULT] section?)",
        id="source_profile inherited from DEFAULT",
    ),
    pytest.param(
        "[profile a]\n  region = us-east-1\n[profile airflow-role]\n      k = v\n    [profile next]\n",
        "section [profile next] would read differently",
        id="removal would change another section",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_file(tmp_path, text, message):
    path = _file(tmp_path, text)
    mtime = path.stat().st_mtime_ns
    state = "absent" if "next" in text else "present"
    with pytest.raises(mod.ConfigEditError) as err:
        mod.run(str(path), "", [{**AIRFLOW, "state": state}], check_mode=False)
    assert message in str(err.value)
    _assert_untouched(path, text, mtime)


def test_not_utf8(tmp_path):
    path = tmp_path / "config"
    path.write_bytes(b"[default]\nregion = caf\xe9\n")
    with pytest.raises(mod.ConfigEditError, match="is not UTF-8 text"):
        mod.run(str(path), "", [AIRFLOW], check_mode=False)
    assert path.read_bytes() == b"[default]\nregion = caf\xe9\n"


def test_failed_verification_leaves_no_temp_file(tmp_path, monkeypatch):
    path = _file(tmp_path, START)

    def wrong(text, profiles):
        return text + "[profile airflow-role]\nrole_arn = wrong\n", []

    monkeypatch.setattr(mod, "apply_profiles", wrong)
    with pytest.raises(mod.ConfigEditError, match="would read role_arn = 'wrong'"):
        mod.run(str(path), "", [AIRFLOW], check_mode=False)
    _assert_untouched(path, START, path.stat().st_mtime_ns)


def test_unreadable_line_holding_a_secret_is_not_echoed(tmp_path):
    text = "[default]\naws_secret_access_key wJalrXUtnFEMI\n"
    path = _file(tmp_path, text)
    with pytest.raises(mod.ConfigEditError) as err:
        mod.run(str(path), "", [AIRFLOW], check_mode=False)
    assert "wJalrXUtnFEMI" not in str(err.value)
    assert "line(s) 2 (the line holds a secret; not shown)" in str(err.value)
    _assert_untouched(path, text, path.stat().st_mtime_ns)


def test_edit_that_botocore_could_not_read_names_the_edit_not_a_scratch_file(tmp_path):
    # The [DEFAULT] value continues onto an indented line; every new section inherits it, and botocore
    # then fails on it in the new profile, although the file as it stands reads fine.
    text = "[DEFAULT]\nfoo =\n  bar\n"
    path = _file(tmp_path, text)
    for check_mode in (True, False):
        with pytest.raises(mod.ConfigEditError) as err:
            mod.run(str(path), "", [AIRFLOW], check_mode=check_mode)
        assert "the file as it would be with these profiles" in str(err.value)
        assert ".tmp" not in str(err.value)
        _assert_untouched(path, text, path.stat().st_mtime_ns)


def test_config_path_with_an_unset_variable_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_AWS_DIR", raising=False)
    with pytest.raises(mod.ConfigEditError, match="still holds a \\$ after expanding variables"):
        mod.run(str(tmp_path / "$NO_SUCH_AWS_DIR" / "config"), "", [AIRFLOW], check_mode=False)
    assert os.listdir(tmp_path) == []
