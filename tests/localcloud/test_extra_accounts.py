"""Extra member accounts on request: each exists with its admin role, and its profile acts in it.

The cloud runs in its own process (``start --extra-accounts``), since the session's in-process cloud
has none and moto's backends are shared within a process.
"""

import json

import pytest
from localcloud_support import SOURCE, TARGET, localcloud

from localcloud import accounts, defaults, state

EXTRA = {f"localcloud-extra-{n}": f"30000000000{n}" for n in (1, 2, 3)}


def test_extra_account_ids_are_fixed():
    assert defaults.extra_accounts(3) == EXTRA
    assert defaults.extra_accounts(0) == {}


@pytest.fixture(scope="module")
def extra_cloud(tmp_path_factory):
    """A cloud with three extra accounts, stopped at the end."""
    state_dir = tmp_path_factory.mktemp("extra") / "cloud"
    started = localcloud(state_dir, "start", "--extra-accounts", "3")
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        yield state.read_state(state_dir)
    finally:
        localcloud(state_dir, "stop")


def test_state_names_the_extra_accounts(extra_cloud):
    assert extra_cloud["extra_accounts"] == EXTRA
    assert extra_cloud["accounts"] == {"source": SOURCE, "target": TARGET}


@pytest.mark.parametrize(("profile", "account"), list(EXTRA.items()), ids=list(EXTRA))
def test_extra_profile_acts_in_its_account(clean_env, extra_cloud, profile, account):
    config, credentials = extra_cloud["aws_config_file"], extra_cloud["aws_credentials_file"]
    session = accounts.profile_session(config, credentials, profile)
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"].startswith(f"arn:aws:sts::{account}:assumed-role/{defaults.ADMIN_ROLE}/")
    iam = session.client("iam")
    iam.create_role(RoleName=f"probe-{account}", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    # The role lands in this account only: the source account does not see it.
    assert f"probe-{account}" in [role["RoleName"] for role in iam.list_roles()["Roles"]]
    source = accounts.profile_session(config, credentials, defaults.SOURCE_PROFILE).client("iam")
    assert f"probe-{account}" not in [role["RoleName"] for role in source.list_roles()["Roles"]]


def test_too_many_extra_accounts_are_refused(clean_env, tmp_path):
    result = localcloud(tmp_path / "cloud", "start", "--extra-accounts", str(defaults.EXTRA_ACCOUNTS_MAX + 1))
    assert result.returncode == 1
    assert "extra_accounts must be 0..99" in result.stderr
