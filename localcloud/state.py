"""The state file: the one place where a running local cloud tells others how to reach it.

The server writes it last and atomically, so its presence means the cloud is ready; the CLI and
Ansible only ever read it.
"""

import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"
LOG_FILE = "localcloud.log"


def state_path(state_dir: Path) -> Path:
    """Path of state.json inside a state dir."""
    return Path(state_dir) / STATE_FILE


def write_state(state_dir: Path, state: dict[str, Any]) -> Path:
    """Write state.json through a temporary file and a rename, so readers never see half of it."""
    path = state_path(state_dir)
    fd, tmp = tempfile.mkstemp(prefix=".state.", suffix=".json", dir=state_dir)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(state, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The state of the cloud in this dir, or None when there is no readable state file."""
    try:
        return json.loads(state_path(state_dir).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def remove_state(state_dir: Path) -> None:
    """Remove state.json if present; a stopped cloud leaves none behind."""
    state_path(state_dir).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 checks without touching it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers signal 0; treat it as gone.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except (OSError, IndexError):
        return True
    return status != "Z"


def endpoint_answers(endpoint: str, timeout: float = 2.0) -> bool:
    """Whether the moto server at this loopback endpoint answers HTTP at all.

    The opener carries no proxy handler, so a proxy set in the environment never sees the probe.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{endpoint}/moto-api/config", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def running_state(state_dir: Path) -> dict[str, Any] | None:
    """The state of a cloud that is really up: its pid alive and its moto answering; else None."""
    state = read_state(state_dir)
    if not state:
        return None
    pid = state.get("pid")
    endpoint = state.get("endpoint", "")
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    if not endpoint.startswith("http://127.0.0.1:") or not endpoint_answers(endpoint):
        return None
    return state
