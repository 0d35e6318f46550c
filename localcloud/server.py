"""The local cloud as one object: moto, the seeded accounts, the profiles and the metadata services.

``LocalCloud`` runs in-process for the tests; ``serve`` wraps it in a long-running process for the
CLI and the playbooks. Both start from an empty moto and write ``state.json`` last, so a reader
that finds the file finds a cloud that is ready. moto's app runs behind a ``CallRecorder``, which
logs every AWS request from then on to ``calls.jsonl`` (see localcloud/calls.py).
"""

import logging
import os
import re
import shutil
import signal
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import boto3

from . import accounts, calls, defaults, enforce, motofixes, propagation, seed, simulator, state
from .authorize import Authorizer
from .imds import MetadataService

log = logging.getLogger(__name__)

HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Host:
    """A stand-in host: the instance playing it, its metadata endpoint and a home dir for its user."""

    name: str
    instance_id: str
    imds_endpoint: str
    home: Path


class LocalCloud:
    """A moto server for both accounts, seeded, with profiles for the controller and metadata per host.

    moto keeps its data in process-wide backends, so only one LocalCloud may run in a process at a
    time; ``start`` resets them so every cloud begins empty. ``enforce`` (on by default) has AssumeRole
    decided from the stored policies as AWS decides it (localcloud/enforce.py); off, moto grants every call.
    ``enforce_identity`` (off by default) also has every other request checked against the caller's
    identity policies (localcloud/authorize.py), once the cloud is ready.

    Two failure modes are off by default. ``propagation_delay`` (seconds) keeps roles and instance-profile
    associations unusable for that long after they change (localcloud/propagation.py). ``fault_rate``
    (0 to 1) answers that fraction of the calls of others than the metadata services with Throttling,
    InternalError or ServiceUnavailable, drawn from a generator seeded with ``fault_seed``
    (localcloud/calls.py). Both begin once the cloud is ready, so its own set-up never meets them.
    """

    def __init__(
        self,
        state_dir: Path | str,
        hosts: list[str] | tuple[str, ...] = defaults.HOSTS,
        source_account: str = defaults.SOURCE_ACCOUNT,
        target_account: str = defaults.TARGET_ACCOUNT,
        region: str = defaults.REGION,
        http_tokens: str = defaults.HTTP_TOKENS,
        hop_limit: int = defaults.HOP_LIMIT,
        host_hops: int = 1,
        verify_cli: bool = True,
        enforce: bool = True,
        enforce_identity: bool = False,
        propagation_delay: float = 0.0,
        fault_rate: float = 0.0,
        fault_seed: int = 0,
        extra_accounts: int = 0,
    ):
        hosts = list(hosts)
        for name in hosts:
            if not HOST_NAME.match(name):
                raise ValueError(f"host name {name!r} must match {HOST_NAME.pattern}")
        if len(set(hosts)) != len(hosts) or not hosts:
            raise ValueError(f"host names must be distinct and at least one: {hosts}")
        for label, account in (("source", source_account), ("target", target_account)):
            if not re.fullmatch(r"\d{12}", account):
                raise ValueError(f"{label} account must be 12 digits, got {account!r}")
        if source_account == target_account:
            raise ValueError("source and target account must differ")
        if not 0 <= extra_accounts <= defaults.EXTRA_ACCOUNTS_MAX:
            raise ValueError(f"extra_accounts must be 0..{defaults.EXTRA_ACCOUNTS_MAX}, got {extra_accounts}")
        extra = defaults.extra_accounts(extra_accounts)
        taken = set(extra.values()) & {source_account, target_account, defaults.BASE_ACCOUNT}
        if taken:
            raise ValueError(f"extra accounts {sorted(taken)} clash with the source, target or base account")
        if http_tokens not in ("optional", "required"):
            raise ValueError(f"http_tokens must be optional or required, got {http_tokens!r}")
        if not 1 <= hop_limit <= 64:
            raise ValueError(f"hop_limit must be 1..64, got {hop_limit}")
        if not 1 <= host_hops <= 64:
            raise ValueError(f"host_hops must be 1..64, got {host_hops}")
        if propagation_delay < 0:
            raise ValueError(f"propagation_delay must not be negative, got {propagation_delay}")
        if not 0 <= fault_rate <= 1:
            raise ValueError(f"fault_rate must be between 0 and 1, got {fault_rate}")
        self.state_dir = Path(state_dir).resolve()
        self.host_names = hosts
        self.source_account = source_account
        self.target_account = target_account
        self.region = region
        self.http_tokens = http_tokens
        self.hop_limit = hop_limit
        self.host_hops = host_hops
        self.verify_cli = verify_cli
        self.enforce = enforce
        self.enforce_identity = enforce_identity
        self.propagation_delay = propagation_delay
        self.fault_rate = fault_rate
        self.fault_seed = fault_seed
        self.extra_accounts = extra
        self.aws_dir = self.state_dir / "aws"
        self.config_file = self.aws_dir / "config"
        self.credentials_file = self.aws_dir / "credentials"
        self.endpoint = ""
        self.hosts: dict[str, Host] = {}
        self.state: dict[str, Any] = {}
        self._moto: Any = None
        self._moto_thread: threading.Thread | None = None
        self._recorder: calls.CallRecorder | None = None
        self._authorizer: Authorizer | None = None
        self._metadata: list[MetadataService] = []
        self._sessions: dict[str, boto3.Session] = {}

    def __enter__(self) -> "LocalCloud":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def accounts(self) -> dict[str, str]:
        """The two accounts by role in this project."""
        return {"source": self.source_account, "target": self.target_account}

    def session(self, which: str) -> boto3.Session:
        """An admin session in the 'source' or 'target' account (or an extra account by its profile name)."""
        return self._sessions[which]

    def start(self) -> dict[str, Any]:
        """Bring everything up and write state.json; on failure stop whatever did start."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> dict[str, Any]:
        # moto reads this when it builds an account's IAM backend, and botocore must never fall back
        # to the real metadata address; both are process settings.
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        motofixes.apply()
        enforce.install(self.enforce)
        simulator.install()
        propagation.install()
        # The cloud's own set-up meets no delay; the delay starts just before state.json is written.
        propagation.configure(0)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)
        state.remove_state(self.state_dir)

        # The server moto's ThreadedMotoServer builds, with the recorder and then the identity checks between
        # it and moto's app, so the log also shows the calls the checks refuse.
        self._authorizer = Authorizer(DomainDispatcherApplication(create_backend_app))
        self._recorder = calls.CallRecorder(self._authorizer, calls.calls_path(self.state_dir))
        self._moto = make_server(
            defaults.LOOPBACK, 0, self._recorder, threaded=True, request_handler=MotoRequestHandler
        )
        self._moto_thread = threading.Thread(target=self._moto.serve_forever, name="moto", daemon=True)
        self._moto_thread.start()
        host, port = self._moto.server_address[:2]
        self.endpoint = f"http://{host}:{port}"
        self._reset_moto()
        log.info("moto at %s", self.endpoint)

        accounts.create_base_user(self.endpoint, self.region)
        for account in [*self.accounts.values(), *self.extra_accounts.values()]:
            accounts.create_admin_role(self.endpoint, self.region, account)
        accounts.write_profiles(
            self.aws_dir, self.endpoint, self.region, self.source_account, self.target_account, self.extra_accounts
        )
        profiles = {"source": defaults.SOURCE_PROFILE, "target": defaults.TARGET_PROFILE}
        expected = {**self.accounts, **self.extra_accounts}
        for which, profile in {**profiles, **{name: name for name in self.extra_accounts}}.items():
            session = accounts.profile_session(self.config_file, self.credentials_file, profile)
            found = session.client("sts").get_caller_identity()["Account"]
            if found != expected[which]:
                raise RuntimeError(f"profile {profile} acts in {found}, expected {expected[which]}")
            self._sessions[which] = session
        if self.verify_cli:
            found = accounts.cli_caller_account(self.config_file, self.credentials_file, defaults.TARGET_PROFILE)
            if found != self.target_account:
                raise RuntimeError(f"AWS CLI profile {defaults.TARGET_PROFILE} acts in {found}")

        seed.seed_target(self.session("target"), self.endpoint, self.region, self.target_account)
        seeded = seed.seed_source(
            self.session("source"),
            self.endpoint,
            self.region,
            self.source_account,
            self.host_names,
            self.http_tokens,
            self.hop_limit,
        )
        for item in seeded:
            service = MetadataService(
                item.name,
                item.instance_id,
                self.source_account,
                self.session("source"),
                self.endpoint,
                hops=self.host_hops,
            )
            service.start()
            self._metadata.append(service)
            home = self.state_dir / "hosts" / item.name / "home"
            # A new instance plays the host, so its user starts with an empty home: files left by a
            # previous cloud (AWS CLI credential caches above all) would point at keys this moto never issued.
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
            home.chmod(0o700)
            self.hosts[item.name] = Host(item.name, item.instance_id, service.endpoint, home)

        self.state = {
            "pid": os.getpid(),
            "endpoint": self.endpoint,
            "region": self.region,
            "accounts": self.accounts,
            "aws_config_file": str(self.config_file),
            "aws_credentials_file": str(self.credentials_file),
            "hosts": {
                h.name: {"instance_id": h.instance_id, "imds_endpoint": h.imds_endpoint, "home": str(h.home)}
                for h in self.hosts.values()
            },
        }
        if self.extra_accounts:
            # Only a cloud started with extra accounts names them, so the default state stays as it was.
            self.state["extra_accounts"] = dict(self.extra_accounts)
        # From here on every call is someone else's: the cloud's own set-up is done.
        propagation.configure(self.propagation_delay)
        self._recorder.set_faults(self.fault_rate, self.fault_seed)
        self._recorder.recording = True
        self._authorizer.enabled = self.enforce_identity
        state.write_state(self.state_dir, self.state)
        log.info("ready: %s", state.state_path(self.state_dir))
        return self.state

    def set_faults(self, rate: float, seed: int = 0, codes: tuple[str, ...] = tuple(calls.FAULTS)) -> None:
        """Change the fault rate, seed and error codes of the running cloud (see localcloud/calls.py)."""
        if self._recorder is None:
            raise RuntimeError("the cloud is not running")
        self._recorder.set_faults(rate, seed, codes)
        self.fault_rate, self.fault_seed = rate, seed

    def _reset_moto(self) -> None:
        """Empty moto's backends, which outlive a server inside one process."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with opener.open(request, timeout=10):
            pass

    def stop(self) -> None:
        """Remove state.json first, so nobody reaches for a cloud that is going away, then stop it all."""
        if self.state:
            state.remove_state(self.state_dir)
            self.state = {}
        propagation.configure(0)
        for service in self._metadata:
            service.stop()
        self._metadata = []
        if self._moto is not None:
            self._moto.shutdown()
            self._moto.server_close()
            self._moto = None
        if self._moto_thread is not None:
            self._moto_thread.join(timeout=10)
            self._moto_thread = None
            log.info("moto stopped")


def serve(cloud: LocalCloud) -> int:
    """Run a LocalCloud until SIGTERM or SIGINT, then stop it cleanly."""
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cloud.start()
    except Exception:
        log.exception("local cloud failed to start")
        return 1
    while not stopping.wait(1.0):
        pass
    cloud.stop()
    log.info("stopped")
    return 0
