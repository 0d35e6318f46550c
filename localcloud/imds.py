"""EC2 instance metadata for the stand-in hosts, answered from moto's current view of each instance.

moto's own metadata endpoint serves one fixed identity; the playbooks need what a real instance
sees: the role of the instance profile associated with it right now, under the instance's own
IMDSv1/IMDSv2 setting. One listener per host on loopback, pointed at through
``AWS_EC2_METADATA_SERVICE_ENDPOINT``.
"""

import datetime as dt
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from . import calls, defaults, propagation

log = logging.getLogger(__name__)

TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TOKEN_TTL = 21600
# Credentials are handed out again until this long before they expire, like EC2 rotates them early.
REFRESH_MARGIN = dt.timedelta(minutes=5)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

META = "/latest/meta-data"
CREDS_DIR = f"{META}/iam/security-credentials"
DIRECTORIES = {
    "/latest": ["api/", "dynamic/", "meta-data/"],
    "/latest/dynamic": ["instance-identity/"],
    "/latest/dynamic/instance-identity": ["document"],
    META: ["ami-id", "iam/", "instance-id", "instance-type", "local-ipv4", "placement/"],
    f"{META}/placement": ["availability-zone", "region"],
    f"{META}/iam": ["info", "security-credentials/"],
}


class MetadataError(Exception):
    """An HTTP error answer, raised from deep in a lookup and turned into a status by the handler."""

    def __init__(self, status: HTTPStatus, reason: str):
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Attachment:
    """The instance profile associated with the instance and the role inside it."""

    profile_arn: str
    profile_id: str
    role_name: str
    role_arn: str


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(TIME_FORMAT)


class MetadataService:
    """The metadata endpoint of one stand-in host.

    Every request reads the instance from moto again, so changes the playbooks make (metadata
    options, instance-profile associations) show up at once, as they do on EC2.

    ``hops`` is how many network hops lie between the host's SDK and the metadata service: 1 on the
    instance itself, 2 from a container on it. EC2 sends the token answer with the instance's
    ``HttpPutResponseHopLimit`` as its TTL, so a caller further away than that never receives it; here
    the token request is then answered by a closed connection, and the SDK, as botocore does, goes on
    without a token (IMDSv1), which an instance that requires tokens refuses.
    """

    def __init__(
        self,
        host: str,
        instance_id: str,
        account: str,
        session: boto3.Session,
        endpoint: str,
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
        hops: int = 1,
    ):
        self.host = host
        self.hops = hops
        self.instance_id = instance_id
        self.account = account
        # The User-Agent names the host, so the call log can tell these reads from the controller's.
        config = Config(user_agent_extra=f"{calls.IMDS_AGENT}/{host}")
        self._ec2 = session.client("ec2", endpoint_url=endpoint, config=config)
        self._iam = session.client("iam", endpoint_url=endpoint, config=config)
        self._sts = session.client("sts", endpoint_url=endpoint, config=config)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._credentials: dict[str, dict[str, Any]] = {}
        self._server = ThreadingHTTPServer((defaults.LOOPBACK, port), _Handler)
        self._server.daemon_threads = True
        self._server.service = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """The URL to give botocore as AWS_EC2_METADATA_SERVICE_ENDPOINT."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name=f"imds-{self.host}", daemon=True
        )
        self._thread.start()
        log.info("metadata for %s (%s) at %s", self.host, self.instance_id, self.endpoint)

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    # Tokens.

    def token_reaches_caller(self) -> bool:
        """Whether a token answer survives the hops to the caller under the instance's hop limit.

        One hop is within every limit EC2 allows (1 to 64), so only a farther caller reads the instance.
        """
        return self.hops <= 1 or self.hops <= int(self.metadata_options().get("HttpPutResponseHopLimit", 1))

    def issue_token(self, ttl_header: str | None) -> tuple[str, int]:
        """A new session token valid for the requested seconds (1 to 21600, as on EC2)."""
        try:
            ttl = int(ttl_header or "")
        except ValueError:
            raise MetadataError(HTTPStatus.BAD_REQUEST, "missing or malformed token TTL") from None
        if not 1 <= ttl <= MAX_TOKEN_TTL:
            raise MetadataError(HTTPStatus.BAD_REQUEST, f"token TTL {ttl} outside 1..{MAX_TOKEN_TTL}")
        token = secrets.token_urlsafe(40)
        now = self._clock()
        with self._lock:
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + ttl
        return token, ttl

    def check_token(self, token: str | None) -> None:
        """Refuse a request that carries a bad token, or none when the instance requires IMDSv2."""
        if token is not None:
            with self._lock:
                expires = self._tokens.get(token)
            if expires is None or expires <= self._clock():
                raise MetadataError(HTTPStatus.UNAUTHORIZED, "invalid or expired token")
            return
        if self.metadata_options().get("HttpTokens") == "required":
            raise MetadataError(HTTPStatus.UNAUTHORIZED, "token required")

    # Reads from moto.

    def instance(self) -> dict[str, Any]:
        """The instance as moto describes it now."""
        reservations = self._ec2.describe_instances(InstanceIds=[self.instance_id])["Reservations"]
        return reservations[0]["Instances"][0]

    def metadata_options(self) -> dict[str, Any]:
        """The instance's MetadataOptions as moto holds them now."""
        return self.instance().get("MetadataOptions", {})

    def attachment(self) -> Attachment | None:
        """The instance profile associated with the instance right now and its role, if any.

        An association younger than the propagation delay (localcloud/propagation.py) counts as none
        yet, as on an instance that was just given a profile: no role is listed and no credentials served.
        """
        associations = self._ec2.describe_iam_instance_profile_associations(
            Filters=[
                {"Name": "instance-id", "Values": [self.instance_id]},
                {"Name": "state", "Values": ["associated"]},
            ]
        )["IamInstanceProfileAssociations"]
        if not associations or propagation.association_pending(associations[0]["AssociationId"]):
            return None
        profile_arn = associations[0]["IamInstanceProfile"]["Arn"]
        profile = self._iam.get_instance_profile(InstanceProfileName=profile_arn.rsplit("/", 1)[-1])["InstanceProfile"]
        if not profile["Roles"]:
            return None
        role = profile["Roles"][0]
        return Attachment(profile["Arn"], profile["InstanceProfileId"], role["RoleName"], role["Arn"])

    def credentials(self, role_name: str) -> dict[str, Any]:
        """Credentials of the attached role in EC2's format, reused until shortly before they expire."""
        attachment = self.attachment()
        if attachment is None or attachment.role_name != role_name:
            raise MetadataError(HTTPStatus.NOT_FOUND, f"role {role_name} is not attached")
        with self._lock:
            cached = self._credentials.get(attachment.role_arn)
        if cached and cached["_expires"] - REFRESH_MARGIN > _utc_now():
            return cached
        try:
            issued = self._sts.assume_role(RoleArn=attachment.role_arn, RoleSessionName=self.instance_id)["Credentials"]
        except ClientError as error:
            # EC2 hands out nothing for a role whose trust does not let it in (see localcloud/enforce.py).
            if error.response["Error"]["Code"] != "AccessDenied":
                raise
            log.warning("%s: EC2 cannot assume %s: %s", self.host, attachment.role_arn, error)
            raise MetadataError(HTTPStatus.NOT_FOUND, f"EC2 cannot assume the role {role_name}") from None
        expires = issued["Expiration"]
        answer = {
            "Code": "Success",
            "LastUpdated": _stamp(_utc_now()),
            "Type": "AWS-HMAC",
            "AccessKeyId": issued["AccessKeyId"],
            "SecretAccessKey": issued["SecretAccessKey"],
            "Token": issued["SessionToken"],
            "Expiration": _stamp(expires),
            "_expires": expires,
        }
        with self._lock:
            self._credentials[attachment.role_arn] = answer
        log.info("%s: issued credentials of %s until %s", self.host, attachment.role_arn, answer["Expiration"])
        return answer

    # Answers.

    def answer(self, path: str) -> tuple[str, str]:
        """The body and content type for a GET of a metadata path."""
        path = "/" + path.strip("/")
        if path in DIRECTORIES:
            return "\n".join(DIRECTORIES[path]), "text/plain"
        if path == CREDS_DIR:
            attachment = self.attachment()
            if attachment is None:
                raise MetadataError(HTTPStatus.NOT_FOUND, "no instance profile associated")
            return attachment.role_name, "text/plain"
        if path.startswith(CREDS_DIR + "/") and path.count("/") == CREDS_DIR.count("/") + 1:
            creds = self.credentials(path.rsplit("/", 1)[-1])
            return json.dumps({k: v for k, v in creds.items() if not k.startswith("_")}, indent=2), "text/plain"
        if path == f"{META}/iam/info":
            attachment = self.attachment()
            if attachment is None:
                raise MetadataError(HTTPStatus.NOT_FOUND, "no instance profile associated")
            info = {
                "Code": "Success",
                "LastUpdated": _stamp(_utc_now()),
                "InstanceProfileArn": attachment.profile_arn,
                "InstanceProfileId": attachment.profile_id,
            }
            return json.dumps(info, indent=2), "text/plain"
        instance = self.instance()
        zone = instance["Placement"]["AvailabilityZone"]
        leaves = {
            f"{META}/ami-id": instance["ImageId"],
            f"{META}/instance-id": instance["InstanceId"],
            f"{META}/instance-type": instance["InstanceType"],
            f"{META}/local-ipv4": instance.get("PrivateIpAddress", ""),
            f"{META}/placement/availability-zone": zone,
            f"{META}/placement/region": zone[:-1],
        }
        if path in leaves:
            return leaves[path], "text/plain"
        if path == "/latest/dynamic/instance-identity/document":
            document = {
                "accountId": self.account,
                "architecture": instance.get("Architecture", "x86_64"),
                "availabilityZone": zone,
                "imageId": instance["ImageId"],
                "instanceId": instance["InstanceId"],
                "instanceType": instance["InstanceType"],
                "pendingTime": _stamp(instance["LaunchTime"]),
                "privateIp": instance.get("PrivateIpAddress"),
                "region": zone[:-1],
                "version": "2017-09-30",
            }
            return json.dumps(document, indent=2), "application/json"
        raise MetadataError(HTTPStatus.NOT_FOUND, "not found")


class _Handler(BaseHTTPRequestHandler):
    """HTTP front of a MetadataService: tokens on PUT, metadata on GET, nothing else."""

    server_version = "EC2ws"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    @property
    def service(self) -> MetadataService:
        return self.server.service  # type: ignore[attr-defined]

    def do_PUT(self) -> None:
        self._drain()
        try:
            if self.path.split("?", 1)[0].rstrip("/") != TOKEN_PATH:
                raise MetadataError(HTTPStatus.NOT_FOUND, "not found")
            if self.headers.get("X-Forwarded-For") is not None:
                raise MetadataError(HTTPStatus.FORBIDDEN, "forwarded token request refused")
            if not self.service.token_reaches_caller():
                # The answer would run out of hops on the way: the caller receives nothing.
                self.close_connection = True
                return
            token, ttl = self.service.issue_token(self.headers.get(TTL_HEADER))
        except MetadataError as error:
            self._send(error.status, str(error))
            return
        self._send(HTTPStatus.OK, token, extra={TTL_HEADER: str(ttl)})

    def do_GET(self) -> None:
        try:
            path = self.path.split("?", 1)[0]
            if path.rstrip("/") == TOKEN_PATH:
                raise MetadataError(HTTPStatus.METHOD_NOT_ALLOWED, "use PUT for tokens")
            self.service.check_token(self.headers.get(TOKEN_HEADER))
            body, content_type = self.service.answer(path)
        except MetadataError as error:
            self._send(error.status, str(error))
            return
        except Exception:  # an answer for the client beats a dropped connection
            log.exception("%s: failed to answer GET %s", self.service.host, self.path)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
            return
        self._send(HTTPStatus.OK, body, content_type)

    def _refuse(self) -> None:
        self._drain()
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed")

    do_POST = do_DELETE = do_PATCH = _refuse

    def _drain(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def _send(
        self,
        status: HTTPStatus,
        body: str,
        content_type: str = "text/plain",
        extra: dict[str, str] | None = None,
    ) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s: %s", self.service.host, format % args)
