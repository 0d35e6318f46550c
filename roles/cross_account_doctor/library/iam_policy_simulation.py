#!/usr/bin/python
"""Ask IAM's policy simulator what a role's or user's identity policies allow; amazon.aws has no such module."""

from __future__ import annotations

try:
    import botocore
except ImportError:  # pragma: no cover - AnsibleAWSModule reports the missing library
    pass

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

DOCUMENTATION = r"""
module: iam_policy_simulation
short_description: Ask IAM's policy simulator whether a principal may call actions on resources
description:
  - Calls C(iam:SimulatePrincipalPolicy) for O(policy_source_arn) with each of O(action_names) on each of
    O(resource_arns), and returns one decision per pair. The simulator reads the principal's identity
    policies (inline, attached managed, groups') and its permissions boundary; it does not read the
    resource's own policy, such as a role's trust policy.
  - Read-only, so it behaves the same in check mode.
  - When the runner may not call the simulator (C(AccessDenied)), or the endpoint does not offer it,
    the module does not fail; it returns RV(available=false) and the reason, so a caller can fall back.
options:
  policy_source_arn:
    description: ARN of the IAM role or user whose policies are simulated.
    type: str
    required: true
  action_names:
    description: Actions to simulate, such as C(sts:AssumeRole).
    type: list
    elements: str
    required: true
  resource_arns:
    description: Resources to simulate the actions on; empty for C(*).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: May airflow-role assume the target role?
  iam_policy_simulation:
    policy_source_arn: arn:aws:iam::111122223333:role/airflow-role
    action_names: [sts:AssumeRole]
    resource_arns: [arn:aws:iam::444455556666:role/ExecuteGlueService]
"""

RETURN = r"""
available:
  description: Whether the simulator answered.
  type: bool
  returned: always
reason:
  description: Why the simulator did not answer; empty when it did.
  type: str
  returned: always
evaluations:
  description: One entry per action and resource.
  type: list
  elements: dict
  returned: always
  contains:
    action:
      description: The action simulated.
      type: str
    resource:
      description: The resource simulated.
      type: str
    decision:
      description: C(allowed), C(explicitDeny) or C(implicitDeny).
      type: str
    allowed_by_permissions_boundary:
      description: The boundary's verdict when the principal has one, else null.
      type: bool
"""

# Answers that mean the simulator is not there for this runner, as opposed to a bad request.
UNAVAILABLE = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotImplemented", "InvalidAction")


@AWSRetry.jittered_backoff()
def _simulate(client, **kwargs):
    return client.get_paginator("simulate_principal_policy").paginate(**kwargs).build_full_result()


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "policy_source_arn": {"type": "str", "required": True},
            "action_names": {"type": "list", "elements": "str", "required": True},
            "resource_arns": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    request = {"PolicySourceArn": module.params["policy_source_arn"], "ActionNames": module.params["action_names"]}
    if module.params["resource_arns"]:
        request["ResourceArns"] = module.params["resource_arns"]
    client = module.client("iam")
    try:
        found = _simulate(client, **request)
    except is_boto3_error_code(UNAVAILABLE) as e:
        module.exit_json(changed=False, available=False, reason=str(e), evaluations=[])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Could not simulate the policies of {request['PolicySourceArn']}")
    results = [
        {
            "action": result["EvalActionName"],
            "resource": result["EvalResourceName"],
            "decision": result["EvalDecision"],
            "allowed_by_permissions_boundary": result.get("PermissionsBoundaryDecisionDetail", {}).get(
                "AllowedByPermissionsBoundary"
            ),
        }
        for result in found["EvaluationResults"]
    ]
    module.exit_json(changed=False, available=True, reason="", evaluations=results)


if __name__ == "__main__":
    main()
