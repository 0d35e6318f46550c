"""Make the role's module importable as a plain Python module, so tests exercise its editing logic directly."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "roles" / "aws_cli_profile" / "library"
if str(LIBRARY) not in sys.path:
    sys.path.insert(0, str(LIBRARY))

ARN = "arn:aws:iam::497254257696:role/ExecuteGlueService"
OLD_ARN = "arn:aws:iam::111111111111:role/Old"


@pytest.fixture(autouse=True)
def _no_outside_aws_settings(monkeypatch):
    """Keep the caller's AWS environment from leaking into what botocore reads in these tests."""
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
