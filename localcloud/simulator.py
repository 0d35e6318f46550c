"""IAM's policy simulator (``SimulatePrincipalPolicy``), answered from the identity policies moto stores.

moto does not implement the simulator. ``install`` adds the operation to moto's IAM handler inside this
process, judged with localcloud/enforce.py's reading of identity policies: for a role or user ARN, each
action on each resource is ``explicitDeny`` when a statement of its policies (inline and attached managed,
and a user's groups') or of a role's permissions boundary denies it, ``allowed`` when one allows it and
the boundary, if any, allows it too, else ``implicitDeny``. Condition keys are those the request supplies
in ``ContextEntries`` (string values); a condition on any other key does not hold. Not modelled: the
``PolicyInputList``, resource policies and ``CallerArn`` parameters, SCPs, matched statements.
"""

import logging
import re
from typing import Any

from . import enforce
from .policy import iam_policy

log = logging.getLogger(__name__)

ROLE_OR_USER = r"^arn:aws[a-z-]*:iam::(\d{12}):(role|user)/(?:.*/)?([\w+=,.@-]+)$"


def install() -> None:
    """Add SimulatePrincipalPolicy to moto's IAM handler once per process."""
    from moto.iam.responses import IamResponse

    if not getattr(IamResponse, "simulate_principal_policy", None):
        IamResponse.simulate_principal_policy = _simulate_principal_policy


def simulate(iam: Any, source_arn: str, actions: list[str], resources: list[str], context: dict[str, str]) -> list:
    """One evaluation result per action and resource, in the simulator's shape."""
    match = re.match(ROLE_OR_USER, source_arn)
    if match is None:
        raise ValueError(source_arn)
    kind, name = match.group(2), match.group(3)
    if kind == "role":
        role = iam.get_role(name)
        policies, boundary = enforce._role_policies(iam, name), enforce._boundary(iam, role.permissions_boundary_arn)
    else:
        policies, boundary = enforce._user_policies(iam, name), None
    results = []
    for action in actions:
        for resource in resources or ["*"]:
            identity = iam_policy.evaluate_identity(policies, resource, context, action)
            bounded = iam_policy.evaluate_identity([boundary], resource, context, action) if boundary else "Allow"
            if "Deny" in (identity, bounded):
                decision = "explicitDeny"
            elif identity == bounded == "Allow":
                decision = "allowed"
            else:
                decision = "implicitDeny"
            result = {"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": decision}
            if boundary:
                result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": bounded == "Allow"}
            results.append(result)
    return results


def _simulate_principal_policy(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.iam.exceptions import InvalidInput

    source_arn = self._get_param("PolicySourceArn") or ""
    actions = self._get_param("ActionNames", [])
    resources = self._get_param("ResourceArns", [])
    context = {
        entry.get("ContextKeyName", ""): str((entry.get("ContextKeyValues") or [""])[0])
        for entry in self._get_param("ContextEntries", [])
    }
    try:
        results = simulate(self.backend, source_arn, actions, resources, context)
    except ValueError:
        raise InvalidInput(f"Invalid ARN: {source_arn}") from None
    except enforce.Unsupported as reason:
        raise InvalidInput(f"cannot evaluate the policies of {source_arn}: {reason}") from None
    log.info("simulated %s for %s: %s", actions, source_arn, [r["EvalDecision"] for r in results])
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})
