"""Identity-policy checks on every AWS request, so least-privilege policies can be proven by running them.

moto answers any signed request. With ``LocalCloud(enforce_identity=True)`` (``start --enforce-identity``)
an ``Authorizer`` sits between the call log and moto and decides each request as IAM decides a request
within one account: the caller's identity policies must allow ``service:Action`` on the request's
resource, and an explicit Deny wins. A refused request never reaches moto; it is answered with HTTP 403
and AWS's message, ``User: <caller ARN> is not authorized to perform: <service>:<Action> on resource:
<ARN>`` and why (no identity-based policy allows it, or an explicit deny does), in the error shape of the
service's protocol (localcloud/calls.py) and with the code that service uses: ``AccessDenied`` for IAM,
STS and S3, ``AccessDeniedException`` for the JSON protocols (Glue), ``UnauthorizedOperation`` for EC2.

Who is checked: a caller that localcloud/enforce.py's ``identify`` finds, i.e. a session of an assumed
role (the role's inline and attached managed policies) or an IAM user (its own and its groups' inline and
managed policies); any other key is, as moto's GetCallerIdentity says, the user ``moto`` of moto's default
account (the static base login), which holds only the right to assume the organization's admin roles.
A key that leads to no IAM user at all is not checked. Never checked:
moto's ``/moto-api``, the cloud's own set-up (the switch turns on once the cloud is ready), the metadata
services (their User-Agent carries ``calls.IMDS_AGENT``), ``sts:GetCallerIdentity`` (AWS needs no
permission for it) and the ``sts:AssumeRole`` family, which enforce.py decides with the trust policy.
The organization's admin role holds ``AdministratorAccess`` (``*`` on ``*``), so it may do everything.

The action is the signing service and the operation (``iam:PutRolePolicy``, ``ec2:DescribeInstances``,
``glue:ListJobs``); for S3 a small table maps method, path shape and sub-resource to IAM's names
(``GET /`` is ``s3:ListAllMyBuckets``, ``GET /bucket`` ``s3:ListBucket``, ``PUT /bucket/key``
``s3:PutObject``, ...). The resource is modelled for:

- IAM: the role, user, group or instance profile named by ``RoleName``, ``UserName``, ``GroupName`` or
  ``InstanceProfileName`` (the stored object's ARN, path included; for one not created yet, the ``Path``
  parameter or ``/``), the instance profile for the ``*InstanceProfile`` actions other than
  ``ListInstanceProfilesForRole``, the policy for ``PolicyArn`` alone or ``CreatePolicy``, the caller
  itself for user actions called without ``UserName``; ``*`` otherwise (the ``List*`` actions without a
  name, for example).
- EC2: the instance named by ``InstanceId``, or behind ``AssociationId`` for the instance-profile
  association actions, as ``arn:aws:ec2:<region>:<account>:instance/<id>``; ``*`` for ``Describe*``,
  ``RunInstances`` (which AWS checks on each resource it touches) and actions that name no single instance.
- S3: ``arn:aws:s3:::<bucket>`` or ``arn:aws:s3:::<bucket>/<key>``; ``*`` for ``ListAllMyBuckets``.
- Everything else (Glue, the rest of STS): ``*``.

``iam:PassRole`` is checked as EC2 checks it: ``AssociateIamInstanceProfile``,
``ReplaceIamInstanceProfileAssociation`` and ``RunInstances`` with an instance profile need
``iam:PassRole`` on each role in that profile, with ``iam:PassedToService`` = ``ec2.amazonaws.com``.

Condition keys set: ``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:RequestedRegion``,
``aws:MultiFactorAuthPresent`` (``false`` for a session), ``iam:PassedToService`` (PassRole),
``iam:PolicyARN`` (attaching or detaching a managed policy) and ``iam:PermissionsBoundary``; operators
as enforce.py supports them. A statement that matches the action and resource but whose condition cannot
be evaluated refuses the call and logs why.

A role session's permissions boundary (localcloud/enforce.py reads it) limits what the role's policies
allow: the boundary must allow the action on the resource too, and a Deny in it refuses.

Not modelled: resource-based policies (bucket policies, cross-account access through them), SCPs,
session policies, tags (``aws:ResourceTag``, ``aws:RequestTag``), policy variables (``${aws:username}``),
resource-level scoping of Glue, S3 sub-resources beyond the table. With ``--no-enforce`` nothing decides
the ``sts:AssumeRole`` family, as this module leaves it to enforce.py.
"""

import io
import logging
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import calls, enforce
from .policy import iam_policy

log = logging.getLogger(__name__)

FORBIDDEN = "403 Forbidden"
# The verdict for policies the evaluator cannot read (an unsupported condition operator, say).
UNREADABLE = "Unreadable"
EC2_SERVICE = enforce.EC2_SERVICE
# Operations AWS answers without consulting identity policies, or that enforce.py decides.
NOT_CHECKED = frozenset(
    {
        "sts:GetCallerIdentity",
        "sts:AssumeRole",
        "sts:AssumeRoleWithWebIdentity",
        "sts:AssumeRoleWithSAML",
    }
)
# EC2 opens its refusals with this sentence.
EC2_PREFIX = "You are not authorized to perform this operation. "
# The error code each service answers a refusal with; AccessDenied for the rest.
DENIED_CODES = {"ec2": "UnauthorizedOperation", "glue": "AccessDeniedException"}
# EC2 operations that hand a role to an instance, so the caller must be allowed to pass it.
PASSES_ROLE = frozenset({"AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation", "RunInstances"})
# IAM operations on a user that act on the caller when no UserName is given.
SELF_USER_ACTIONS = frozenset(
    {
        "GetUser",
        "ListAccessKeys",
        "CreateAccessKey",
        "ListMFADevices",
        "ListSigningCertificates",
        "ListSSHPublicKeys",
        "ListServiceSpecificCredentials",
    }
)
# S3: (method, path shape) -> operation, and sub-resources (query keys) that name another operation.
S3_ACTIONS = {
    ("GET", "service"): "ListAllMyBuckets",
    ("GET", "bucket"): "ListBucket",
    ("HEAD", "bucket"): "ListBucket",
    ("PUT", "bucket"): "CreateBucket",
    ("DELETE", "bucket"): "DeleteBucket",
    ("POST", "bucket"): "DeleteObject",
    ("GET", "object"): "GetObject",
    ("HEAD", "object"): "GetObject",
    ("PUT", "object"): "PutObject",
    ("DELETE", "object"): "DeleteObject",
}
S3_SUBRESOURCES = {
    ("GET", "location"): "GetBucketLocation",
    ("GET", "policy"): "GetBucketPolicy",
    ("PUT", "policy"): "PutBucketPolicy",
    ("DELETE", "policy"): "DeleteBucketPolicy",
    ("GET", "tagging"): "GetBucketTagging",
    ("PUT", "tagging"): "PutBucketTagging",
    ("DELETE", "tagging"): "PutBucketTagging",
    ("GET", "versioning"): "GetBucketVersioning",
    ("PUT", "versioning"): "PutBucketVersioning",
    ("GET", "acl"): "GetBucketAcl",
    ("PUT", "acl"): "PutBucketAcl",
    ("GET", "versions"): "ListBucketVersions",
    ("GET", "uploads"): "ListBucketMultipartUploads",
}


@dataclass(frozen=True)
class Check:
    """One permission a request needs: an action on a resource, with the condition keys AWS sets for it."""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


class Denied(Exception):
    """AWS's refusal of a request: the error code for its service and AWS's message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Authorizer:
    """WSGI middleware in front of moto that refuses what the caller's identity policies do not allow.

    It checks nothing until ``enabled`` is set, so the cloud's own set-up and seeding are never refused.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app
        self.enabled = False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (
            self.enabled
            and not environ.get("PATH_INFO", "").startswith("/moto-api")
            and calls.IMDS_AGENT not in environ.get("HTTP_USER_AGENT", "")
        ):
            try:
                authorize(environ)
            except Denied as denial:
                service = calls.credential_scope(environ)[2]
                headers, body = calls.error_answer(environ, service, denial.code, denial.message)
                start_response(FORBIDDEN, headers)
                return [body]
        return self.app(environ, start_response)


def authorize(environ: dict[str, Any]) -> None:
    """Return if the request's caller may make it; else raise Denied with AWS's answer."""
    from moto.utilities.utils import get_partition

    access_key, region, service = calls.credential_scope(environ)
    if not access_key:
        return
    described = calls.describe(environ)
    action = f"{service}:{_operation(environ, service, described['action'])}"
    if action in NOT_CHECKED:
        return
    partition = get_partition(region or "us-east-1")
    try:
        caller = enforce.identify(access_key, partition)
    except enforce.Unsupported as reason:
        log.warning("cannot read the identity policies of the caller of %s: %s", action, reason)
        raise Denied(
            DENIED_CODES.get(service, "AccessDenied"), f"cannot read the caller's policies: {reason}"
        ) from None
    if not caller.session and not _is_user(caller, partition):
        return
    params = _params(environ)
    account = described["account"]
    for check in required(service, action, params, environ.get("PATH_INFO", "/"), account, region, partition, caller):
        context = {**_context(caller, region), **check.context}
        verdict, where = evaluate(caller.policies, check.action, check.resource, context), "an identity-based policy"
        if verdict == "Allow" and caller.boundary is not None:
            verdict, where = (
                evaluate([caller.boundary], check.action, check.resource, context),
                "a permissions boundary",
            )
        if verdict != "Allow":
            message = f"User: {caller.arn} is not authorized to perform: {check.action} on resource: {check.resource} "
            if verdict == "Deny":
                message += f"with an explicit deny in {where}"
            elif verdict == UNREADABLE:
                message += "because the local cloud cannot evaluate one of its identity-based policies (see its log)"
            else:
                message += f"because no {where.partition(' ')[2]} allows the {check.action} action"
            if service == "ec2":
                message = EC2_PREFIX + message
            log.info("refused %s by %s: %s", action, caller.arn, message)
            raise Denied(DENIED_CODES.get(service, "AccessDenied"), message)


def evaluate(policies: list[dict[str, Any]], action: str, resource: str, context: dict[str, str]) -> str:
    """``Deny`` if a statement denies ``action`` on ``resource``, else ``Allow`` if one allows it, else ``""``.

    A policy element the evaluator cannot read, met before the verdict is known, gives ``UNREADABLE``,
    which refuses the call too, so nothing is allowed by guesswork.
    """
    allowed = False
    for policy in policies:
        try:
            statements = iam_policy.statements_of(policy)
        except enforce.Unsupported as reason:
            log.warning("cannot evaluate a policy for %s: %s", action, reason)
            return UNREADABLE
        for statement in statements:
            if not iam_policy.action_matches(statement, action) or not iam_policy.resource_matches(statement, resource):
                continue
            try:
                holds = iam_policy.conditions_hold(statement.get("Condition"), context)
            except enforce.Unsupported as reason:
                log.warning("cannot evaluate a statement for %s on %s: %s", action, resource, reason)
                return UNREADABLE
            if not holds:
                continue
            if statement.get("Effect") == "Deny":
                return "Deny"
            allowed = allowed or statement.get("Effect") == "Allow"
    return "Allow" if allowed else ""


def _is_user(caller: enforce.Caller, partition: str) -> bool:
    from moto.iam.models import iam_backends

    return any(user.arn == caller.arn for user in iam_backends[caller.account][partition].users.values())


def _context(caller: enforce.Caller, region: str) -> dict[str, str]:
    context = {"aws:principalarn": caller.principal_arn, "aws:principalaccount": caller.account}
    if region:
        context["aws:requestedregion"] = region
    if caller.session:
        context["aws:multifactorauthpresent"] = "false"
    return context


def _params(environ: dict[str, Any]) -> dict[str, str]:
    """The query-string and form parameters of a request (first value of each), leaving the body for moto."""
    params = {
        k: v[0] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()
    }
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded") and length:
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update({k: v[0] for k, v in form.items()})
    return params


def _operation(environ: dict[str, Any], service: str, action: str) -> str:
    """The IAM name of the operation: as logged, except for S3's REST calls, which the S3 table names."""
    method, _, shape = action.partition(" ")
    if service != "s3" or not shape:
        return action
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if shape == "bucket":
        for key in query:
            if (method, key) in S3_SUBRESOURCES:
                return S3_SUBRESOURCES[(method, key)]
    return S3_ACTIONS.get((method, shape), action)


def required(
    service: str,
    action: str,
    params: dict[str, str],
    path: str,
    account: str,
    region: str,
    partition: str,
    caller: enforce.Caller,
) -> list[Check]:
    """The permissions a request needs: its own action on its resource, and iam:PassRole where EC2 asks."""
    operation = action.partition(":")[2]
    if service == "iam":
        checks = [Check(action, _iam_resource(operation, params, account, partition, caller), _iam_context(params))]
    elif service == "ec2":
        checks = [Check(action, _ec2_resource(operation, params, account, region, partition))]
        if operation in PASSES_ROLE:
            checks += [
                Check("iam:PassRole", role, {"iam:passedtoservice": EC2_SERVICE})
                for role in _passed_roles(params, account, partition)
            ]
    elif service == "s3":
        checks = [Check(action, _s3_resource(operation, path))]
    else:
        checks = [Check(action, "*")]
    return checks


def _iam_context(params: dict[str, str]) -> dict[str, str]:
    context = {}
    if params.get("PolicyArn"):
        context["iam:policyarn"] = params["PolicyArn"]
    if params.get("PermissionsBoundary"):
        context["iam:permissionsboundary"] = params["PermissionsBoundary"]
    return context


def _iam_resource(operation: str, params: dict[str, str], account: str, partition: str, caller: Any) -> str:
    """The ARN an IAM operation acts on, as IAM's authorization names it; ``*`` where it names none."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account][partition]
    base = f"arn:{partition}:iam::{account}:"
    path = params.get("Path") or "/"
    profile = params.get("InstanceProfileName")
    if profile and "InstanceProfile" in operation and operation != "ListInstanceProfilesForRole":
        return _stored_arn(iam.instance_profiles.values(), profile, f"{base}instance-profile{path}")
    for key, kind, stored in (
        ("RoleName", "role", iam.roles.values()),
        ("UserName", "user", iam.users.values()),
        ("GroupName", "group", iam.groups.values()),
        ("InstanceProfileName", "instance-profile", iam.instance_profiles.values()),
    ):
        if params.get(key):
            return _stored_arn(stored, params[key], f"{base}{kind}{path}")
    if operation in SELF_USER_ACTIONS and not caller.session:
        return caller.arn
    if params.get("PolicyArn"):
        return params["PolicyArn"]
    if operation == "CreatePolicy" and params.get("PolicyName"):
        return f"{base}policy{path}{params['PolicyName']}"
    return "*"


def _stored_arn(stored: Iterable[Any], name: str, prefix: str) -> str:
    """The ARN of the stored object with this name, else the ARN it would get (``prefix`` + name)."""
    for item in list(stored):
        if item.name == name:
            return item.arn
    return prefix + name


def _ec2_resource(operation: str, params: dict[str, str], account: str, region: str, partition: str) -> str:
    """The instance an EC2 operation acts on, or ``*`` for the operations modelled without a resource."""
    if operation.startswith("Describe") or operation == "RunInstances":
        return "*"
    instance = params.get("InstanceId")
    if not instance and params.get("AssociationId"):
        from moto.ec2.models import ec2_backends

        associations = ec2_backends[account][region].iam_instance_profile_associations.values()
        instance = next((a.instance_id for a in list(associations) if a.association_id == params["AssociationId"]), "")
    if instance:
        return f"arn:{partition}:ec2:{region}:{account}:instance/{instance}"
    return "*"


def _passed_roles(params: dict[str, str], account: str, partition: str) -> list[str]:
    """ARNs of the roles in the instance profile a request hands to EC2 (by ARN or name); none if unknown."""
    from moto.iam.models import iam_backends

    arn, name = params.get("IamInstanceProfile.Arn"), params.get("IamInstanceProfile.Name")
    for profile in list(iam_backends[account][partition].instance_profiles.values()):
        if (arn and profile.arn == arn) or (name and profile.name == name):
            return [role.arn for role in profile.roles]
    return []


def _s3_resource(operation: str, path: str) -> str:
    """The bucket or object of a path-style S3 request, as an ARN."""
    name = urllib.parse.unquote(path.strip("/"))
    return "*" if operation == "ListAllMyBuckets" or not name else f"arn:aws:s3:::{name}"
