"""AWS's decision on ``sts:AssumeRole``, taken from the roles and policies moto stores.

moto hands out credentials for any role ARN, existing or not, to any caller. ``install`` wraps the
STS ``AssumeRole`` handler inside this process so that, before moto issues anything, the call is
judged as AWS judges it:

1. The target role must exist in the account of its ARN (path included).
2. Its trust policy must allow the caller: ``Principal`` ``"*"`` or ``{"AWS": ...}`` naming the
   caller's role or user ARN (a session's role, or the session ARN itself), its account root
   (``arn:aws:iam::ID:root``) or bare account id, or ``"*"``. Conditions are evaluated against
   ``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``sts:ExternalId`` (from the request) and
   ``aws:MultiFactorAuthPresent`` (``true`` only when the request carries ``SerialNumber`` and
   ``TokenCode``; ``false`` for a session without them; absent for long-term keys without them).
3. The caller's identity policies (inline and attached managed policies of the calling user and its
   groups, or of the role a session came from) must allow ``sts:AssumeRole`` on the role ARN.
   Across accounts both the trust and the identity must allow. Within one account a trust that
   names the caller's own ARN suffices; a trust naming the account or ``"*"`` also needs the
   identity to allow. An explicit Deny in either policy always refuses.
   When the role a session came from has a permissions boundary, an identity Allow counts only if
   the boundary allows ``sts:AssumeRole`` on the role ARN too, and a Deny in the boundary refuses;
   a trust naming the session's own role ARN within one account is limited by the boundary as
   well (only a trust naming the session ARN itself is not). A boundary ARN that names no policy
   allows nothing.
4. ``DurationSeconds`` must not exceed the role's ``MaxSessionDuration``, nor one hour when the
   caller is itself an assumed-role session (role chaining).

How the caller is found: a key of an assumed-role session moto issued is that session; a key of an
IAM user is that user; any other key acts, as moto's ``GetCallerIdentity`` says, as the user
``moto`` of the account moto maps the key to, with the policies of an IAM user of that name there
if one exists. A call whose User-Agent carries the metadata services' tag (``calls.IMDS_AGENT``)
is EC2 fetching an instance role's credentials: it is allowed only when the trust allows
``Service: ec2.amazonaws.com`` and the role is in the account the call is signed in.

Supported condition operators: the String, Arn and Bool families (with ``Not``, ``IgnoreCase`` and
``IfExists`` forms) and ``Null``. Any other operator, ``NotPrincipal``, or a policy that cannot be
parsed refuses the call and logs why. Not modelled: boundaries of IAM users (moto stores none), SCPs,
session policies (``Policy``/``PolicyArns``), the validity of an MFA code, unique-id principals, tags.

With a propagation delay set (localcloud/propagation.py), a target role that changed less than the
delay ago, or a caller that is a session of such a role, is refused with the same AccessDenied before
any policy is read, whether or not the checks above are switched on.

moto's own evaluator (``moto.iam.access_control.IAMPolicyStatement``) is not used: it counts an
Allow whose condition fails as a Deny, treats a statement without ``Resource`` as allowing even when
its effect is Deny, and matches patterns as regular expressions, so ``.`` and ``?`` in an ARN
pattern mean something else there.
"""

import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from . import calls, defaults, propagation
from .policy import iam_policy as policy

log = logging.getLogger(__name__)

ACTION = policy.ACTION
EC2_SERVICE = "ec2.amazonaws.com"
DEFAULT_DURATION = 3600
CHAINED_MAX_DURATION = 3600
# The user moto's GetCallerIdentity reports for an access key it never issued.
UNKNOWN_KEY_USER = defaults.BASE_USER
ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$")

DURATION_OVER_MAX = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
DURATION_CHAINED = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."

_MARK = "_localcloud_enforce"
_settings = {"enabled": True}


Unsupported = policy.Unsupported


class Refused(Exception):
    """The answer AWS would give instead of credentials."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Caller:
    """Who signed an AssumeRole call, as the policies see them."""

    arn: str
    account: str
    # aws:PrincipalArn: the user's ARN, or for a session the ARN of the role it came from.
    principal_arn: str
    session: bool = False
    service: str = ""
    policies: list[dict[str, Any]] = field(default_factory=list)
    # The permissions boundary of the session's role, if it has one.
    boundary: dict[str, Any] | None = None


@dataclass(frozen=True)
class Request:
    """The parts of an AssumeRole request the decision depends on."""

    role_arn: str
    duration: int = DEFAULT_DURATION
    external_id: str | None = None
    mfa: bool = False


def install(enabled: bool = True) -> None:
    """Wrap moto's AssumeRole handler once per process; ``enabled`` switches the policy checks on or off."""
    from moto.sts.responses import TokenResponse

    _settings["enabled"] = enabled
    original = TokenResponse.assume_role
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def assume_role(self: Any) -> Any:
        if _settings["enabled"] or propagation.delay() > 0:
            _check(self)
        return original(self)

    setattr(assume_role, _MARK, True)
    TokenResponse.assume_role = assume_role
    log.debug("patched moto TokenResponse.assume_role")


def _check(response: Any) -> None:
    """Refuse the request in moto's handler ``response`` as AWS would, or return to let moto answer."""
    from moto.core.exceptions import AccessDeniedError
    from moto.sts.exceptions import STSValidationError

    request = Request(
        role_arn=response._get_param("RoleArn") or "",
        duration=response._get_int_param("DurationSeconds", DEFAULT_DURATION),
        external_id=response._get_param("ExternalId"),
        mfa=bool(response._get_param("SerialNumber") and response._get_param("TokenCode")),
    )
    caller = identify(response.get_access_key(), response.partition)
    if calls.IMDS_AGENT in response.headers.get("User-Agent", ""):
        caller = Caller(arn=EC2_SERVICE, account=caller.account, principal_arn="", service=EC2_SERVICE)
    try:
        _propagated(caller, request)
        if _settings["enabled"]:
            decide(caller, request)
    except Refused as refusal:
        log.info("refused AssumeRole of %s by %s: %s", request.role_arn, caller.arn, refusal.message)
        if refusal.code == "AccessDenied":
            raise AccessDeniedError(caller.arn, f"{ACTION} on resource: {request.role_arn}") from None
        raise STSValidationError(refusal.message) from None


def identify(access_key: str, partition: str = "aws") -> Caller:
    """The caller behind an access key, with its identity policies, from moto's IAM and STS backends."""
    from moto.iam.models import get_account_id_from, iam_backends
    from moto.sts.models import sts_backends

    account = get_account_id_from(access_key)
    iam = iam_backends[account][partition]
    session = sts_backends[account][partition].get_assumed_role_from_access_key(access_key)
    if session is not None:
        role = _find_role(session.role_arn, partition)
        principal_arn = role.arn if role is not None else session.role_arn
        policies = _role_policies(iam, role.name) if role is not None else []
        boundary = _boundary(iam, role.permissions_boundary_arn) if role is not None else None
        return Caller(session.arn, account, principal_arn, session=True, policies=policies, boundary=boundary)
    user = iam.get_user_from_access_key_id(access_key)
    if user is None:
        user = iam.users.get(UNKNOWN_KEY_USER)
    if user is not None:
        return Caller(user.arn, account, user.arn, policies=_user_policies(iam, user.name))
    arn = f"arn:{partition}:iam::{account}:user/{UNKNOWN_KEY_USER}"
    return Caller(arn, account, arn)


def _propagated(caller: Caller, request: Request) -> None:
    """Refuse while the target role, or the role the caller's session came from, is still propagating."""
    for arn, whose in ((request.role_arn, "the role"), (caller.principal_arn if caller.session else "", "the caller")):
        match = ROLE_ARN.match(arn)
        if match and propagation.role_pending(match.group(2), match.group(3)):
            raise Refused("AccessDenied", f"{whose} changed less than {propagation.delay():g} s ago")


def decide(caller: Caller, request: Request) -> None:
    """Return if AWS would issue credentials for ``request`` to ``caller``; else raise Refused with the reason."""
    match = ROLE_ARN.match(request.role_arn)
    role = _find_role(request.role_arn, match.group(1)) if match else None
    if role is None:
        raise Refused("AccessDenied", "the role does not exist")
    role_account = match.group(2)
    context = _context(caller, request)
    try:
        trust = policy.load(role.assume_role_policy_document)
        trusted, explicit = policy.evaluate_trust(trust, caller, context)
        identity = "" if caller.service else policy.evaluate_identity(caller.policies, request.role_arn, context)
        boundary = [caller.boundary] if caller.boundary is not None else []
        bounded = policy.evaluate_identity(boundary, request.role_arn, context) if boundary else "Allow"
    except Unsupported as reason:
        log.warning("cannot evaluate the policies for AssumeRole of %s: %s", request.role_arn, reason)
        raise Refused("AccessDenied", f"unsupported policy: {reason}") from None
    if trusted == "Deny":
        raise Refused("AccessDenied", "the trust policy denies the caller")
    if trusted != "Allow":
        raise Refused("AccessDenied", "no statement of the trust policy allows the caller")
    if identity == "Deny":
        raise Refused("AccessDenied", "the caller's identity policies deny it")
    if bounded == "Deny":
        raise Refused("AccessDenied", "the caller's permissions boundary denies it")
    # Within one account, a trust naming the session ARN itself is not limited by the boundary.
    if bounded != "Allow" and not (caller.account == role_account and policy.allows_principal(trust, caller.arn)):
        raise Refused("AccessDenied", "the caller's permissions boundary does not allow it")
    if caller.service and caller.account != role_account:
        raise Refused("AccessDenied", "EC2 acts only for roles of the instance's account")
    if not caller.service and identity != "Allow" and (caller.account != role_account or not explicit):
        raise Refused("AccessDenied", "the caller's identity policies do not allow it")
    if request.duration > int(role.max_session_duration or DEFAULT_DURATION):
        raise Refused("ValidationError", DURATION_OVER_MAX)
    if caller.session and request.duration > CHAINED_MAX_DURATION:
        raise Refused("ValidationError", DURATION_CHAINED)


def _find_role(arn: str, partition: str) -> Any:
    from moto.iam.models import iam_backends

    match = ROLE_ARN.match(arn or "")
    if not match:
        return None
    for role in iam_backends[match.group(2)][partition].roles.values():
        if role.arn == arn:
            return role
    return None


def _role_policies(iam: Any, role_name: str) -> list[dict[str, Any]]:
    role = iam.get_role(role_name)
    documents = [policy.load(doc) for doc in role.policies.values()]
    return documents + [policy.load(_default_version(p)) for p in role.managed_policies.values()]


def _user_policies(iam: Any, user_name: str) -> list[dict[str, Any]]:
    user = iam.get_user(user_name)
    documents = [policy.load(doc) for doc in user.policies.values()]
    documents += [policy.load(_default_version(p)) for p in user.managed_policies.values()]
    for group in iam.get_groups_for_user(user_name):
        documents += [policy.load(doc) for doc in group.policies.values()]
        documents += [policy.load(_default_version(p)) for p in group.managed_policies.values()]
    return documents


def _boundary(iam: Any, arn: str | None) -> dict[str, Any] | None:
    """The boundary policy's document; one that names no policy allows nothing."""
    if not arn:
        return None
    managed = iam.managed_policies.get(arn)
    return policy.load(_default_version(managed)) if managed is not None else {"Statement": []}


def _default_version(managed: Any) -> str:
    return next(v.document for v in managed.versions if v.is_default)


def _context(caller: Caller, request: Request) -> dict[str, str]:
    """The condition keys AWS sets for this request, by lower-cased name (keys are case-insensitive)."""
    context = {}
    if not caller.service:
        context["aws:principalarn"] = caller.principal_arn
        context["aws:principalaccount"] = caller.account
    if request.external_id is not None:
        context["sts:externalid"] = request.external_id
    if request.mfa:
        context["aws:multifactorauthpresent"] = "true"
    elif caller.session:
        context["aws:multifactorauthpresent"] = "false"
    return context
