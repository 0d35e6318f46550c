"""Without LOCALCLOUD_DIR, every host of the local inventory finds the local cloud in the project's .localcloud,
the account hosts that the input checks add at run time included (they have no inventory folder of their own)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_every_host_uses_the_projects_state_folder(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_") and key != "LOCALCLOUD_DIR"}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    # Run from elsewhere: a path resolved against the working directory would show.
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), str(ROOT / "tests" / "inventory_local" / "show_state_dir.yml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    folders = dict(re.findall(r"ok: \[(\S+)\] =>\s+msg: '?state folder: ([^'\s]+)", result.stdout))
    assert set(folders) == {"localhost", "airflow-worker-1", "account-875120157787", "account-497254257696"}
    assert set(folders.values()) == {str(ROOT / ".localcloud")}
