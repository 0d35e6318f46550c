"""Command line of the local cloud: ``python -m localcloud {start,stop,status,env,calls}``.

``start`` runs the cloud as a detached ``serve`` process and returns once it is ready, so a
playbook or a shell can use it right away; the first line it prints says whether it started one
("started") or found one ("already running"), for Ansible's ``changed_when``.
"""

import argparse
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import calls, defaults, state

START_TIMEOUT = 30.0
# Each extra account loads AWS's managed policies into its own IAM backend, which takes about a second.
START_TIMEOUT_PER_EXTRA_ACCOUNT = 3.0
STOP_TIMEOUT = 10.0
EXIT_NOT_RUNNING = 3
# Settings of the caller that would steer botocore away from the local cloud or mix identities.
CALLER_AWS_SETTINGS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line; the state dir falls back to $LOCALCLOUD_DIR, then the repo's .localcloud."""
    parser = argparse.ArgumentParser(
        prog="python -m localcloud", description="A local cloud on loopback for the project's playbooks and tests."
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help=f"where state.json, the log and the profiles live (default: ${defaults.STATE_DIR_ENV}, "
        f"else {defaults.DEFAULT_STATE_DIR})",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    starters = (
        ("start", "start the cloud in the background"),
        ("serve", "internal: run the cloud in the foreground until SIGTERM"),
    )
    for name, text in starters:
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--host", action="append", dest="hosts", metavar="NAME", help="stand-in host (repeatable)")
        sub.add_argument("--source-account", default=defaults.SOURCE_ACCOUNT)
        sub.add_argument("--target-account", default=defaults.TARGET_ACCOUNT)
        sub.add_argument("--region", default=defaults.REGION)
        sub.add_argument("--http-tokens", choices=("optional", "required"), default=defaults.HTTP_TOKENS)
        sub.add_argument("--hop-limit", type=int, default=defaults.HOP_LIMIT)
        sub.add_argument(
            "--host-hops",
            type=int,
            default=1,
            metavar="N",
            help="network hops from each host's SDK to its metadata service: 1 on the instance, 2 from a container",
        )
        sub.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING"), default="INFO")
        sub.add_argument(
            "--no-enforce",
            dest="enforce",
            action="store_false",
            help="let moto grant every sts:AssumeRole, as it does on its own (see localcloud/enforce.py)",
        )
        sub.add_argument(
            "--enforce-identity",
            action="store_true",
            help="check every AWS request against the caller's identity policies and refuse what they do not "
            "allow (see localcloud/authorize.py; default off)",
        )
        sub.add_argument(
            "--propagation-delay",
            type=_non_negative,
            default=0.0,
            metavar="SECONDS",
            help="refuse roles and serve no instance credentials for this long after they change "
            "(see localcloud/propagation.py; default 0, off)",
        )
        sub.add_argument(
            "--fault-rate",
            type=_fraction,
            default=0.0,
            metavar="FRACTION",
            help="answer this fraction of AWS calls with Throttling or a 5xx (see localcloud/calls.py; default 0, off)",
        )
        sub.add_argument("--fault-seed", type=int, default=0, metavar="INT", help="seed for choosing the faulted calls")
        sub.add_argument(
            "--extra-accounts",
            type=int,
            default=0,
            metavar="N",
            help=f"also create N empty member accounts, {defaults.EXTRA_ACCOUNT_BASE + 1:012d} and on, reached through "
            f"the profiles {defaults.EXTRA_PROFILE_PREFIX}1 and on (default 0, at most {defaults.EXTRA_ACCOUNTS_MAX})",
        )
    commands.add_parser("stop", help="stop the cloud")
    commands.add_parser("status", help="print the state and exit 0 if running, else exit 3")
    commands.add_parser("env", help="print exports for the controller's AWS config and credentials files")
    sub = commands.add_parser("calls", help="print the recorded AWS calls, one JSON object per line")
    sub.add_argument("--writes", action="store_true", help="only calls that may change something")
    sub.add_argument("--since", type=int, default=0, metavar="N", help="skip the first N recorded calls")
    args = parser.parse_args(argv)
    args.state_dir = args.state_dir.resolve() if args.state_dir else defaults.state_dir_from_env()
    if getattr(args, "hosts", None) is None:
        args.hosts = list(defaults.HOSTS)
    return args


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def cloud_args(args: argparse.Namespace) -> list[str]:
    """The start options, repeated for the serve process."""
    out = [
        "--source-account",
        args.source_account,
        "--target-account",
        args.target_account,
        "--region",
        args.region,
        "--http-tokens",
        args.http_tokens,
        "--hop-limit",
        str(args.hop_limit),
        "--host-hops",
        str(args.host_hops),
        "--log-level",
        args.log_level,
    ]
    for host in args.hosts:
        out += ["--host", host]
    if not args.enforce:
        out.append("--no-enforce")
    if args.enforce_identity:
        out.append("--enforce-identity")
    if args.propagation_delay:
        out += ["--propagation-delay", repr(args.propagation_delay)]
    if args.fault_rate:
        out += ["--fault-rate", repr(args.fault_rate), "--fault-seed", str(args.fault_seed)]
    if args.extra_accounts:
        out += ["--extra-accounts", str(args.extra_accounts)]
    return out


def child_env() -> dict[str, str]:
    """The serve process's environment: none of the caller's AWS identity, no metadata fallback."""
    env = {k: v for k, v in os.environ.items() if k not in CALLER_AWS_SETTINGS}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), defaults.LOOPBACK, "localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    return env


def log_tail(path: Path, lines: int = 30) -> str:
    """The end of the server's log, shown when a start fails so the cause is visible at once."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def is_our_server(pid: int) -> bool:
    """Whether the pid is a ``localcloud serve`` process, so a reused pid is never signalled."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"localcloud" in cmdline and b"serve" in cmdline


def cmd_start(args: argparse.Namespace) -> int:
    """Start a detached server unless one is running; its first output line says which happened."""
    running = state.running_state(args.state_dir)
    if running:
        print(f"localcloud: already running at {running['endpoint']}")
        return 0
    args.state_dir.mkdir(parents=True, exist_ok=True)
    args.state_dir.chmod(0o700)
    stale = state.read_state(args.state_dir)
    if stale and isinstance(stale.get("pid"), int) and state.pid_alive(stale["pid"]) and is_our_server(stale["pid"]):
        # A server whose moto no longer answers is of no use; replace it.
        _terminate(stale["pid"])
    state.remove_state(args.state_dir)
    log_path = args.state_dir / state.LOG_FILE
    command = [sys.executable, "-m", "localcloud", "--state-dir", str(args.state_dir), "serve", *cloud_args(args)]
    with open(log_path, "w") as log_file:
        child = subprocess.Popen(
            command,
            cwd=defaults.REPO_ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT + START_TIMEOUT_PER_EXTRA_ACCOUNT * args.extra_accounts
    while time.monotonic() < deadline:
        current = state.read_state(args.state_dir)
        if current and current.get("pid") == child.pid:
            print(f"localcloud: started at {current['endpoint']}")
            return 0
        if child.poll() is not None:
            break
        time.sleep(0.2)
    if child.poll() is None:
        _terminate(child.pid)
        child.wait(timeout=STOP_TIMEOUT)
    print("localcloud: failed to start; last lines of the log:", file=sys.stderr)
    print(log_tail(log_path), file=sys.stderr)
    return 1


def _terminate(pid: int) -> None:
    """SIGTERM, wait, then SIGKILL if the process is still there."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not state.pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and state.pid_alive(pid):
        time.sleep(0.1)


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the server of this state dir; stopping a stopped cloud is not an error."""
    current = state.read_state(args.state_dir)
    pid = current.get("pid") if current else None
    if not isinstance(pid, int) or not state.pid_alive(pid) or not is_our_server(pid):
        state.remove_state(args.state_dir)
        print("localcloud: not running")
        return 0
    _terminate(pid)
    state.remove_state(args.state_dir)
    print(f"localcloud: stopped (pid {pid})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print the state of a running cloud, or exit 3 so scripts can tell "not running" apart."""
    running = state.running_state(args.state_dir)
    if not running:
        print("localcloud: not running")
        return EXIT_NOT_RUNNING
    print(json.dumps(running, indent=2, sort_keys=True))
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    """Print exports that point the AWS CLI and Ansible at the controller profiles."""
    aws_dir = args.state_dir / "aws"
    print(f"export AWS_CONFIG_FILE={shlex.quote(str(aws_dir / 'config'))}")
    print(f"export AWS_SHARED_CREDENTIALS_FILE={shlex.quote(str(aws_dir / 'credentials'))}")
    if not state.running_state(args.state_dir):
        print("localcloud: not running; these files are stale or missing", file=sys.stderr)
    return 0


def cmd_calls(args: argparse.Namespace) -> int:
    """Print the calls moto received since the cloud was ready, as calls.jsonl holds them."""
    for call in calls.read_calls(args.state_dir, since=args.since):
        if not args.writes or calls.is_write(call):
            print(json.dumps(call, sort_keys=True))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the cloud in the foreground until SIGTERM; what ``start`` runs in the background."""
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # werkzeug logs every moto request and botocore every credential lookup at INFO; keep them for DEBUG runs.
    for noisy in ("werkzeug", "botocore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.log_level == "DEBUG" else logging.WARNING)
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for key in CALLER_AWS_SETTINGS:
        os.environ.pop(key, None)
    from .server import LocalCloud, serve

    cloud = LocalCloud(
        args.state_dir,
        hosts=args.hosts,
        source_account=args.source_account,
        target_account=args.target_account,
        region=args.region,
        http_tokens=args.http_tokens,
        hop_limit=args.hop_limit,
        host_hops=args.host_hops,
        enforce=args.enforce,
        enforce_identity=args.enforce_identity,
        propagation_delay=args.propagation_delay,
        fault_rate=args.fault_rate,
        fault_seed=args.fault_seed,
        extra_accounts=args.extra_accounts,
    )
    return serve(cloud)


COMMANDS = {
    "start": cmd_start,
    "stop": cmd_stop,
    "status": cmd_status,
    "env": cmd_env,
    "calls": cmd_calls,
    "serve": cmd_serve,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
