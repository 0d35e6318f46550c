"""How AWS reads IAM policy documents, for the doctor and for the project's local cloud alike.

The doctor role uses it as Ansible filters to read a target role's trust policy; the local cloud
(localcloud/enforce.py, localcloud/authorize.py, localcloud/simulator.py) loads this same file to decide
``sts:AssumeRole`` and other calls, so what the doctor says of a trust is what the local cloud does with it.

What is read: ``Effect``, ``Action``/``NotAction`` and ``Resource``/``NotResource`` with IAM's ``*`` and
``?`` wildcards (ARNs part by part), ``Principal`` as ``"*"`` or ``{"AWS": ...}`` (a role or user ARN, a
session ARN, an account root or bare id) or ``{"Service": ...}``, and ``Condition`` with the String, Arn
and Bool operator families (``Not``, ``IgnoreCase`` and ``IfExists`` forms) and ``Null``; condition keys
are matched case-insensitively. Anything else (``NotPrincipal``, another operator, a document that is not
JSON) raises ``Unsupported``, so a caller refuses rather than guesses.

A caller here is any object with ``arn``, ``account``, ``principal_arn`` (``aws:PrincipalArn``: the
user's ARN, or for a session the ARN of its role), ``session`` and ``service`` (set for an AWS service
principal such as EC2 fetching an instance role's credentials).
"""

import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

ACTION = "sts:AssumeRole"
ACCOUNT_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
ROLE_OR_USER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(?:role|user)/")


class Unsupported(Exception):
    """A policy element this evaluator does not model; the call is refused rather than guessed at."""


def load(document: Any) -> dict[str, Any]:
    """A policy document as moto keeps it (a JSON string, possibly URL-encoded, or a dict)."""
    if isinstance(document, dict):
        return document
    text = document or ""
    try:
        loaded = json.loads(text)
    except ValueError:
        try:
            loaded = json.loads(urllib.parse.unquote(text))
        except ValueError:
            raise Unsupported(f"policy is not JSON: {text[:80]!r}") from None
    if not isinstance(loaded, dict):
        raise Unsupported("policy is not a JSON object")
    return loaded


def statements_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    if not all(isinstance(s, dict) for s in statements):
        raise Unsupported("a statement is not a JSON object")
    return statements


def evaluate_trust(trust: dict[str, Any], caller: Any, context: dict[str, str]) -> tuple[str, bool]:
    """The trust's verdict (Deny, Allow or the empty string) and whether an allowing statement names the caller."""
    allowed = explicit = False
    for statement in statements_of(trust):
        if "NotPrincipal" in statement:
            raise Unsupported("NotPrincipal in a trust policy")
        if not action_matches(statement):
            continue
        named = principal_matches(statement.get("Principal"), caller)
        if named is None or not conditions_hold(statement.get("Condition"), context):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny", False
        if statement.get("Effect") == "Allow":
            allowed = True
            explicit = explicit or named
    return ("Allow" if allowed else ""), explicit


def allows_principal(trust: dict[str, Any], arn: str) -> bool:
    """Whether an Allow statement of the trust names ``arn`` itself as an AWS principal."""
    return any(
        statement.get("Effect") == "Allow"
        and isinstance(statement.get("Principal"), dict)
        and arn in [str(value) for value in as_list(statement["Principal"].get("AWS", []))]
        for statement in statements_of(trust)
    )


def evaluate_identity(
    policies: list[dict[str, Any]], role_arn: str, context: dict[str, str], action: str = ACTION
) -> str:
    """Deny if any statement denies ``action`` on the resource, else Allow if one allows, else the empty string."""
    allowed = False
    for policy in policies:
        for statement in statements_of(policy):
            if not action_matches(statement, action) or not resource_matches(statement, role_arn):
                continue
            if not conditions_hold(statement.get("Condition"), context):
                continue
            if statement.get("Effect") == "Deny":
                return "Deny"
            allowed = allowed or statement.get("Effect") == "Allow"
    return "Allow" if allowed else ""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` any run of characters, ``?`` any one; everything else literally."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def action_matches(statement: dict[str, Any], action: str = ACTION) -> bool:
    if "NotAction" in statement:
        return not any(glob(str(p), action, ignore_case=True) for p in as_list(statement["NotAction"]))
    return any(glob(str(p), action, ignore_case=True) for p in as_list(statement.get("Action", [])))


def resource_matches(statement: dict[str, Any], arn: str) -> bool:
    if "NotResource" in statement:
        return not any(arn_like(str(p), arn) for p in as_list(statement["NotResource"]))
    return any(arn_like(str(p), arn) for p in as_list(statement.get("Resource", [])))


def arn_like(pattern: str, arn: str) -> bool:
    """ARN matching: each of the six colon-separated parts is matched on its own, wildcards allowed."""
    if pattern == "*":
        return True
    parts, values = pattern.split(":", 5), arn.split(":", 5)
    return len(parts) == len(values) == 6 and all(glob(p, v) for p, v in zip(parts, values, strict=True))


def principal_matches(principal: Any, caller: Any) -> bool | None:
    """None if the principal element does not cover the caller, else whether it names the caller's ARN."""
    if principal == "*":
        return False
    if not isinstance(principal, dict):
        return None
    if caller.service:
        return False if caller.service in as_list(principal.get("Service", [])) else None
    named: bool | None = None
    for value in as_list(principal.get("AWS", [])):
        value = str(value)
        if value in (caller.principal_arn, caller.arn):
            return True
        root = ACCOUNT_ROOT.match(value)
        if value == "*" or value == caller.account or (root and root.group(1) == caller.account):
            named = False
    return named


# Condition operators: how one policy value matches one request value, and whether the operator is negated.
OPERATORS = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (glob, False),
    "StringNotLike": (glob, True),
    "ArnEquals": (arn_like, False),
    "ArnLike": (arn_like, False),
    "ArnNotEquals": (arn_like, True),
    "ArnNotLike": (arn_like, True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
}


def as_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def conditions_hold(condition: Any, context: dict[str, str]) -> bool:
    """Whether every operator of a Condition block holds for the request (all keys, any value)."""
    if not condition:
        return True
    if not isinstance(condition, dict):
        raise Unsupported(f"condition is not an object: {condition!r}")
    for operator, keys in condition.items():
        if not isinstance(keys, dict):
            raise Unsupported(f"condition {operator} is not an object")
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        if base not in OPERATORS and base != "Null":
            raise Unsupported(f"condition operator {operator} is not modelled")
        for key, expected in keys.items():
            values = [as_text(v) for v in as_list(expected)]
            actual = context.get(key.lower())
            if base == "Null":
                if not all(v.lower() == ("true" if actual is None else "false") for v in values):
                    return False
                continue
            matches, negated = OPERATORS[base]
            if actual is None:
                # A missing key fails a positive operator and satisfies a negated one or an IfExists form.
                if not (if_exists or negated):
                    return False
                continue
            if any(matches(v, actual) for v in values) == negated:
                return False
    return True


@dataclass(frozen=True)
class Principal:
    """A role or user as a trust policy sees it when it calls sts:AssumeRole from its own session."""

    arn: str
    account: str
    principal_arn: str
    session: bool = True
    service: str = ""


def trust_decision(trust: Any, source_arn: str, external_id: str = "") -> str:
    """``Allow``, ``Deny`` or ``""``: what the trust says to a session of ``source_arn`` calling sts:AssumeRole.

    The session presents ``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``sts:ExternalId`` when one is
    given, and ``aws:MultiFactorAuthPresent`` false, as a workload's session does. Whether the source's own
    policies allow the call is a separate question. A trust that cannot be read gives ``Unsupported: <why>``.
    """
    match = ROLE_OR_USER_ARN.match(source_arn)
    if match is None:
        return f"Unsupported: not a role or user ARN: {source_arn}"
    caller = Principal(arn=source_arn, account=match.group(1), principal_arn=source_arn)
    context = {"aws:principalarn": source_arn, "aws:principalaccount": caller.account}
    context["aws:multifactorauthpresent"] = "false"
    if external_id:
        context["sts:externalid"] = external_id
    try:
        return evaluate_trust(load(trust), caller, context)[0]
    except Unsupported as reason:
        return f"Unsupported: {reason}"


def identity_decision(document: Any, action: str, resource: str, context: dict[str, str] | None = None) -> str:
    """``Allow``, ``Deny`` or ``""``: what one identity policy says to ``action`` on ``resource``.

    ``context`` gives the request's condition keys; a statement whose condition needs a key not given does
    not apply. A document that cannot be read gives ``Unsupported: <why>``.
    """
    keys = {key.lower(): str(value) for key, value in (context or {}).items()}
    try:
        return evaluate_identity([load(document)], resource, keys, action)
    except Unsupported as reason:
        return f"Unsupported: {reason}"


class FilterModule:
    """Ansible filters over IAM policy documents."""

    def filters(self) -> dict[str, Any]:
        return {"cross_account_trust_decision": trust_decision, "cross_account_identity_decision": identity_decision}
