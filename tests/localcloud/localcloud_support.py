"""Helpers shared by the local cloud tests: loopback HTTP, metadata tokens, the host's environment."""

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

HOSTS = ["airflow-worker-1", "airflow-worker-2"]
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
SOURCE = "875120157787"
TARGET = "497254257696"


def http(method: str, url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    """One HTTP request to a loopback URL, without any proxy; returns status, body and headers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=b"" if method == "PUT" else None)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def token(endpoint: str, ttl: int = 60) -> str:
    """A metadata session token from a host's service."""
    status, body, _ = http("PUT", f"{endpoint}/latest/api/token", {TTL_HEADER: str(ttl)})
    assert status == 200, body
    return body


def aws_cli_path() -> str:
    """The AWS CLI of the venv running the tests."""
    return str(Path(sys.executable).parent / "aws")


def host_env(cloud, home: Path, imds_endpoint: str) -> dict[str, str]:
    """The environment of the workload's user on a host: its home, the metadata service, the endpoint."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds_endpoint,
        "AWS_ENDPOINT_URL": cloud.endpoint,
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
    }


def localcloud(state_dir, *args: str) -> subprocess.CompletedProcess:
    """Run ``python -m localcloud`` from the repo root, as the Makefile and the playbooks do."""
    env = {k: v for k, v in os.environ.items() if k != "LOCALCLOUD_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "localcloud", "--state-dir", str(state_dir), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
