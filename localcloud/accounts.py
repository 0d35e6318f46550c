"""Reaching the accounts the way operators of an organization do.

A static base login assumes ``OrganizationAccountAccessRole`` in each member account. The same
profiles are written for the controller (Ansible, the AWS CLI) and used by the server itself, so
both take the path the playbooks take and botocore refreshes the assumed credentials on its own.
"""

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import boto3
import botocore.session

from . import defaults

log = logging.getLogger(__name__)

ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


def admin_role_arn(account: str) -> str:
    """ARN of the organization's admin role in an account."""
    return f"arn:aws:iam::{account}:role/{defaults.ADMIN_ROLE}"


def base_session(region: str) -> boto3.Session:
    """A session with the static base credentials, given explicitly so no credential chain runs."""
    return boto3.Session(
        aws_access_key_id=defaults.BASE_ACCESS_KEY,
        aws_secret_access_key=defaults.BASE_SECRET_KEY,
        region_name=region,
    )


def create_base_user(endpoint: str, region: str) -> None:
    """Give the base login its identity policy: assume the admin role of any account, nothing else.

    The static base keys are not keys moto issued, so moto reports them as the user ``moto`` of its
    default account; the IAM user of that name created here holds the policy that
    localcloud/enforce.py reads for that identity.
    """
    iam = base_session(region).client("iam", endpoint_url=endpoint)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::*:role/{defaults.ADMIN_ROLE}",
            }
        ],
    }
    iam.create_user(UserName=defaults.BASE_USER)
    iam.put_user_policy(UserName=defaults.BASE_USER, PolicyName="assume-admin-roles", PolicyDocument=json.dumps(policy))
    log.info("created base user %s in account %s", defaults.BASE_USER, defaults.BASE_ACCOUNT)


def organization_client(endpoint: str, region: str, account: str, service: str):
    """A client with the base login that acts in a member account, as the organization does for a new account.

    moto picks the account from its ``x-moto-account-id`` header; no AssumeRole is involved, so this
    works before the account has any role.
    """
    client = base_session(region).client(service, endpoint_url=endpoint)

    def add_account(request, **_kwargs) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-sign", add_account)
    return client


def create_admin_role(endpoint: str, region: str, account: str) -> None:
    """Create the admin role in an account, trusted by the base account and with AdministratorAccess.

    The organization creates the role together with the account, so it exists before anyone
    assumes it.
    """
    iam = organization_client(endpoint, region, account, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{defaults.BASE_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=defaults.ADMIN_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=defaults.ADMIN_ROLE, PolicyArn=ADMIN_POLICY_ARN)
    log.info("created %s in account %s", defaults.ADMIN_ROLE, account)


def write_profiles(
    aws_dir: Path, endpoint: str, region: str, source: str, target: str, extra: dict[str, str] | None = None
) -> tuple[Path, Path]:
    """Write the controller's config and credentials files (dir 0700, files 0600).

    ``extra`` maps further profile names to the accounts they reach, written after the two fixed ones.

    Each write names a new ``role_session_name``. The AWS CLI caches assumed-role credentials in
    ``~/.aws/cli/cache`` under a hash of the AssumeRole arguments; a fresh moto never issued the
    cached keys and answers unknown keys as its default account instead of refusing them, so a
    stable session name would let a restarted cloud silently act in the wrong account.
    """
    session_name = f"localcloud-{secrets.token_hex(4)}"
    aws_dir.mkdir(parents=True, exist_ok=True)
    aws_dir.chmod(0o700)
    config = aws_dir / "config"
    credentials = aws_dir / "credentials"
    base = defaults.BASE_PROFILE
    lines = [
        f"[profile {base}]",
        f"region = {region}",
        f"endpoint_url = {endpoint}",
        "",
    ]
    profiles = {defaults.SOURCE_PROFILE: source, defaults.TARGET_PROFILE: target, **(extra or {})}
    for profile, account in profiles.items():
        lines += [
            f"[profile {profile}]",
            f"role_arn = {admin_role_arn(account)}",
            f"source_profile = {base}",
            f"role_session_name = {session_name}",
            f"region = {region}",
            f"endpoint_url = {endpoint}",
            "",
        ]
    _write_private(config, "\n".join(lines))
    _write_private(
        credentials,
        f"[{base}]\naws_access_key_id = {defaults.BASE_ACCESS_KEY}\n"
        f"aws_secret_access_key = {defaults.BASE_SECRET_KEY}\n",
    )
    return config, credentials


def _write_private(path: Path, text: str) -> None:
    """Create or replace a file readable only by its owner, never exposing it with wider modes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def profile_session(config: Path, credentials: Path, profile: str) -> boto3.Session:
    """A session for a named profile of the given files, read the way amazon.aws modules read them.

    The files are set on the botocore session rather than through the environment, so the calling
    process's own AWS settings neither change nor leak in.
    """
    core = botocore.session.Session()
    core.set_config_variable("config_file", str(config))
    core.set_config_variable("credentials_file", str(credentials))
    core.set_config_variable("profile", profile)
    # The profiles name the loopback endpoint; honouring it is what keeps every call on loopback.
    core.set_config_variable("ignore_configured_endpoint_urls", False)
    return boto3.Session(botocore_session=core)


def cli_env(config: Path, credentials: Path) -> dict[str, str]:
    """An environment for the AWS CLI that sees only the local cloud's profiles.

    HOME is the folder of those files, so the CLI's credential cache (``~/.aws/cli/cache``) lands
    beside them and never in the caller's own ``~/.aws``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(config.parent),
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def aws_cli() -> str:
    """The AWS CLI installed next to the running interpreter."""
    return str(Path(sys.executable).parent / "aws")


def cli_caller_account(config: Path, credentials: Path, profile: str) -> str:
    """The account the AWS CLI reports for a profile, proving the written files work for it."""
    result = subprocess.run(
        [aws_cli(), "--profile", profile, "sts", "get-caller-identity", "--output", "json"],
        env=cli_env(config, credentials),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"aws --profile {profile} sts get-caller-identity failed: {result.stderr.strip()}")
    return json.loads(result.stdout)["Account"]
