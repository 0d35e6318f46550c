"""Defaults shared by the CLI, the server and the tests, so each value is stated once."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR_ENV = "LOCALCLOUD_DIR"
DEFAULT_STATE_DIR = REPO_ROOT / ".localcloud"

SOURCE_ACCOUNT = "875120157787"
TARGET_ACCOUNT = "497254257696"
REGION = "ap-northeast-1"
HOSTS = ("airflow-worker-1",)
HTTP_TOKENS = "required"
HOP_LIMIT = 2

# Static credentials moto accepts for its default account; they stand for an operator's login.
BASE_ACCESS_KEY = "testing"
BASE_SECRET_KEY = "testing"
# moto's default account, the one the static credentials act in.
BASE_ACCOUNT = "123456789012"
# The user moto reports for keys it never issued, so the IAM user that holds the base login's policy.
BASE_USER = "moto"

# The role an organization creates in every member account for administrators.
ADMIN_ROLE = "OrganizationAccountAccessRole"
BASE_PROFILE = "localcloud-base"
SOURCE_PROFILE = "localcloud-source"
TARGET_PROFILE = "localcloud-target"

# Extra member accounts on request (``start --extra-accounts N``), for trying many accounts at once:
# account N is EXTRA_ACCOUNT_BASE + N as 12 digits, reached through the profile localcloud-extra-N.
EXTRA_ACCOUNT_BASE = 300000000000
EXTRA_ACCOUNTS_MAX = 99
EXTRA_PROFILE_PREFIX = "localcloud-extra-"

LOOPBACK = "127.0.0.1"


def extra_accounts(count: int) -> dict[str, str]:
    """The extra accounts by profile name: ``{"localcloud-extra-1": "300000000001", ...}``, in order."""
    return {f"{EXTRA_PROFILE_PREFIX}{n}": f"{EXTRA_ACCOUNT_BASE + n:012d}" for n in range(1, count + 1)}


def state_dir_from_env() -> Path:
    """Where the state lives when no --state-dir is given: LOCALCLOUD_DIR, else the repo's .localcloud."""
    value = os.environ.get(STATE_DIR_ENV)
    return Path(value).resolve() if value else DEFAULT_STATE_DIR
