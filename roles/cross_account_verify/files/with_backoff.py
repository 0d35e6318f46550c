#!/usr/bin/env python3
"""Run one command as the operator would; while it fails with an error that IAM propagation explains, wait
twice as long as the last time (up to a cap) and run it again, within a total waiting budget.

Usage: with_backoff.py JSON, where JSON is {"argv": [...], "retry_on": [...], "first_delay": 2,
"max_delay": 20, "budget": 90}. The last attempt's output and exit code are the script's own; each wait
is reported on stderr as "retrying in Ns: <last error line>".
"""

import json
import re
import subprocess
import sys
import time


def main() -> int:
    spec = json.loads(sys.argv[1])
    retryable = re.compile("|".join(re.escape(text) for text in spec["retry_on"]))
    delay, waited, notes = spec["first_delay"], 0, []
    while True:
        proc = subprocess.run(spec["argv"], capture_output=True, text=True, check=False)
        if proc.returncode == 0 or not retryable.search(proc.stderr) or waited + delay > spec["budget"]:
            sys.stdout.write(proc.stdout)
            sys.stderr.write("".join(notes) + proc.stderr)
            return proc.returncode
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        notes.append(f"retrying in {delay}s: {last}\n")
        time.sleep(delay)
        waited += delay
        delay = min(delay * 2, spec["max_delay"])


if __name__ == "__main__":
    sys.exit(main())
