"""Fixtures for the aws_cli_profile tests."""

import profile_support  # noqa: F401  (puts the role's module on sys.path before any test imports it)
import pytest


@pytest.fixture(autouse=True)
def _no_outside_aws_settings(monkeypatch):
    """Keep the caller's AWS environment from leaking into what botocore reads in these tests."""
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
