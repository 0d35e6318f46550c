"""A log of the AWS API calls that reach moto, so tests can count what a run sent (a check run: no writes).

``CallRecorder`` wraps moto's WSGI app and appends one JSON line per request to ``calls.jsonl`` in the
state dir::

    {"service": "iam", "action": "CreateRole", "account": "875120157787", "caller": "ansible", "status": 200}

It records only once the cloud is ready (``recording`` is set just before state.json is written), so the
cloud's own set-up and seeding never show up as someone else's calls. The file only grows, across restarts
too: a reader remembers how many lines it has seen and reads on from there with ``read_calls(..., since=N)``.

- service: the signing name from the SigV4 credential scope (``iam``, ``sts``, ``ec2``, ``s3``, ``glue``).
- action: the operation from ``X-Amz-Target`` (JSON protocols) or the ``Action`` parameter (query
  protocols); for REST protocols the method and a coarse shape of the path, e.g. ``PUT bucket``,
  ``GET object``, ``GET service`` for S3 (path-style addressing, which botocore uses for an IP endpoint).
- account: the account moto acts in: the ``x-moto-account-id`` header if sent, else moto's own mapping of
  the access key id (moto's default account, 123456789012, for a key it never issued).
- caller: from the User-Agent: ``imds:<host>`` for the local metadata services, ``ansible`` for amazon.aws
  modules and plugins, ``aws-cli``, else ``other``.
- status: the HTTP status moto answered, or the injected fault's (400, 500 or 503).
- fault: present only on a call the recorder answered itself with an injected error: its error code.

With ``set_faults(rate, seed)`` the recorder answers that fraction of the recorded calls (those of the
metadata services aside) with one of AWS's transient errors in the shape the service's protocol uses:
``Throttling`` (400), ``InternalError`` (500) or ``ServiceUnavailable`` (503), which botocore retries as
it retries them from AWS. Which calls fail, and with which error, is drawn from a generator seeded with
``seed``, so the same sequence of calls meets the same faults; ``codes`` narrows the errors drawn from.
moto's own /moto-api never fails.
"""

import io
import json
import os
import random
import re
import threading
import urllib.parse
import uuid
import xml.sax.saxutils
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CALLS_FILE = "calls.jsonl"
# User-Agent suffix the metadata services put on their calls to moto.
IMDS_AGENT = "localcloud-imds"

# Operations that only read, by their leading verb; anything else counts as a write.
READ_VERBS = ("Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet", "Simulate", "Generate")
# Operations that hand out credentials without changing any resource.
READ_ACTIONS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Injected errors: code -> (HTTP status line, message), as AWS words them.
FAULTS = {
    "Throttling": ("400 Bad Request", "Rate exceeded"),
    "InternalError": ("500 Internal Server Error", "We encountered an internal error. Please try again."),
    "ServiceUnavailable": ("503 Service Unavailable", "Service is unavailable. Please try again later."),
}
QUERY_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}

# The SigV4 credential scope: access key id / date / region / service / aws4_request.
CREDENTIAL = re.compile(r"^([^/]+)/[^/]+/([^/]+)/([^/]+)/aws4_request$")
# User-Agent patterns and the caller each stands for; the first match wins.
CALLERS = (
    (re.compile(IMDS_AGENT + r"/(\S+)"), "imds:{}"),
    (re.compile(r"\bAnsible/"), "ansible"),
    (re.compile(r"^aws-cli/"), "aws-cli"),
)


def calls_path(state_dir: Path | str) -> Path:
    """Path of calls.jsonl inside a state dir."""
    return Path(state_dir) / CALLS_FILE


def read_calls(state_dir: Path | str, since: int = 0) -> list[dict[str, Any]]:
    """The recorded calls, skipping the first ``since`` lines; ``len(read_calls(d))`` is the mark for later.

    A last line without its newline is a record still being written and is left for the next read.
    """
    try:
        lines = calls_path(state_dir).read_text().splitlines(keepends=True)
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines[since:] if line.endswith("\n")]


def is_write(call: dict[str, Any]) -> bool:
    """Whether a recorded call may change something: not a read verb, not an STS credential hand-out.

    REST calls (``"PUT bucket"``) are judged by their HTTP method. An unknown call counts as a write.
    """
    action = call.get("action") or ""
    method, _, shape = action.partition(" ")
    if shape:
        return method not in READ_METHODS
    return not (action.startswith(READ_VERBS) or action in READ_ACTIONS)


class CallRecorder:
    """WSGI middleware around moto that appends a record per AWS request once ``recording`` is set."""

    def __init__(self, app: Callable[..., Iterable[bytes]], path: Path, fault_rate: float = 0.0, fault_seed: int = 0):
        self.app = app
        self.path = path
        self.recording = False
        self._lock = threading.Lock()
        self.set_faults(fault_rate, fault_seed)

    def set_faults(self, rate: float, seed: int = 0, codes: Iterable[str] = tuple(FAULTS)) -> None:
        """Fail ``rate`` (0 to 1) of the recorded calls from now on with errors drawn from ``codes``.

        Both the calls and their errors are drawn from a generator seeded with ``seed``.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {rate}")
        codes = tuple(codes)
        if not codes or set(codes) - set(FAULTS):
            raise ValueError(f"fault codes must be some of {', '.join(FAULTS)}, got {list(codes)}")
        with self._lock:
            self.fault_rate = float(rate)
            self.fault_codes = codes
            self._random = random.Random(seed)

    def _draw_fault(self, call: dict[str, Any]) -> str | None:
        """The error code to answer this call with, or None to pass it to moto."""
        if not self.fault_rate or call["caller"].startswith("imds:"):
            return None
        with self._lock:
            if self._random.random() >= self.fault_rate:
                return None
            return self._random.choice(self.fault_codes)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # moto's own control API (reset, config probes) is not AWS.
        if not self.recording or environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        call = describe(environ)
        code = self._draw_fault(call)
        if code:
            status = FAULTS[code][0]
            headers, body = fault_answer(environ, call["service"], code)
            start_response(status, headers)
            call.update(status=int(status.split()[0]), fault=code)
            self._append(call)
            return [body]
        statuses: list[int] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(int(status.split()[0]))
            return start_response(status, headers, exc_info)

        try:
            # moto's Flask apps answer with werkzeug responses, which call start_response right away,
            # so the status is known here and the record is on disk before the client has its answer.
            return self.app(environ, capture)
        finally:
            call["status"] = statuses[-1] if statuses else None
            self._append(call)

    def _append(self, call: dict[str, Any]) -> None:
        line = json.dumps(call, sort_keys=True) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as handle:
                handle.write(line)


def fault_answer(environ: dict[str, Any], service: str, code: str) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of the injected error ``code`` (a key of FAULTS), as ``error_answer`` shapes it."""
    status, message = FAULTS[code]
    return error_answer(environ, service, code, message, sender=status.startswith("4"))


def error_answer(
    environ: dict[str, Any], service: str, code: str, message: str, sender: bool = True
) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of an error with ``code`` and ``message`` as the request's protocol shapes errors.

    The request body is read first, so a kept-alive connection stays in step for the next request.
    JSON protocols (an ``X-Amz-Target``) and unknown REST services get ``__type``; EC2 its ``Response``
    envelope; S3 a bare ``Error``; the query protocols (IAM, STS) an ``ErrorResponse``, whose ``Type`` is
    ``Sender`` for a client error and ``Receiver`` for a server error (``sender=False``).
    """
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id)]
    error = f"<Code>{code}</Code><Message>{xml.sax.saxutils.escape(message)}</Message>"
    query = "Action=" in environ.get("QUERY_STRING", "") or environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    )
    if environ.get("HTTP_X_AMZ_TARGET") or (service not in ("ec2", "s3") and not query):
        headers += [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
        body = json.dumps({"__type": code, "message": message})
    elif service == "ec2":
        headers.append(("Content-Type", "text/xml"))
        body = f"<Response><Errors><Error>{error}</Error></Errors><RequestID>{request_id}</RequestID></Response>"
    elif service == "s3":
        headers.append(("Content-Type", "application/xml"))
        body = f"<Error>{error}<RequestId>{request_id}</RequestId></Error>"
    else:
        namespace = QUERY_NAMESPACES.get(service, "")
        kind = "Sender" if sender else "Receiver"
        headers.append(("Content-Type", "text/xml"))
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>{error}</Error>'
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    data = body.encode()
    headers.append(("Content-Length", str(len(data))))
    return headers, data


def credential_scope(environ: dict[str, Any]) -> tuple[str, str, str]:
    """Access key id, region and service of a signed request's SigV4 credential scope; empty strings if unsigned.

    A signed header carries "Credential=<scope>, SignedHeaders=...", a presigned URL X-Amz-Credential.
    """
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    credential = authorization.partition("Credential=")[2].partition(",")[0] if authorization else ""
    if not credential:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        credential = query.get("X-Amz-Credential", [""])[0]
    scope = CREDENTIAL.match(credential)
    return scope.groups() if scope else ("", "", "")


def describe(environ: dict[str, Any]) -> dict[str, Any]:
    """Service, action, account and caller of one request, read without disturbing it for moto."""
    from moto.iam.models import get_account_id_from

    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    access_key, _region, service = credential_scope(environ)
    service = service or "unknown"
    return {
        "service": service,
        "action": _action(environ, query, service),
        "account": environ.get("HTTP_X_MOTO_ACCOUNT_ID") or get_account_id_from(access_key),
        "caller": _caller(environ),
    }


def _action(environ: dict[str, Any], query: dict[str, list[str]], service: str) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    if "Action" in query:
        return query["Action"][0]
    method = environ.get("REQUEST_METHOD", "")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded") and length:
        # A query-protocol call carries its Action in the form body; read it and hand moto a fresh copy.
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
    path = environ.get("PATH_INFO", "/")
    if service != "s3":
        return f"{method} {path}"
    parts = path.strip("/").split("/", 1)
    shape = "object" if len(parts) == 2 and parts[1] else "bucket" if parts[0] else "service"
    return f"{method} {shape}"


def _caller(environ: dict[str, Any]) -> str:
    agent = environ.get("HTTP_USER_AGENT", "")
    for pattern, label in CALLERS:
        match = pattern.search(agent)
        if match:
            return label.format(*match.groups())
    return "other"
