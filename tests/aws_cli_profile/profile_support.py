"""Paths and ARNs shared by the aws_cli_profile tests; importing it makes the role's module importable."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "roles" / "aws_cli_profile" / "library"
if str(LIBRARY) not in sys.path:
    sys.path.insert(0, str(LIBRARY))

ARN = "arn:aws:iam::497254257696:role/ExecuteGlueService"
OLD_ARN = "arn:aws:iam::111111111111:role/Old"
