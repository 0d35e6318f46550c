#!/usr/bin/python
"""Remove one instance profile from EC2 instances; amazon.aws has no module that disassociates a profile."""

from __future__ import annotations

try:
    import botocore
except ImportError:  # pragma: no cover - AnsibleAWSModule reports the missing library
    pass

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

DOCUMENTATION = r"""
module: instance_profile_detach
short_description: Take an instance profile off EC2 instances
description:
  - Disassociates the instance profile named O(instance_profile_name) from each of O(instance_ids) that
    carries it, whatever its path, and even when the profile itself is already deleted.
  - An instance with another profile, or none, is left alone, so a second run changes nothing.
  - Supports check mode (reports the instances it would change and calls nothing that writes).
options:
  instance_ids:
    description: Instances to look at.
    type: list
    elements: str
    required: true
  instance_profile_name:
    description: Name of the instance profile to take off (names are unique in an account, paths aside).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Take airflow-role off two instances
  instance_profile_detach:
    instance_ids: [i-0123456789abcdef0, i-0fedcba9876543210]
    instance_profile_name: airflow-role
"""

RETURN = r"""
detached:
  description: Instances the profile was (or in check mode would be) taken off.
  type: list
  elements: str
  returned: always
"""


@AWSRetry.jittered_backoff()
def _associations(client, instance_ids):
    paginator = client.get_paginator("describe_iam_instance_profile_associations")
    pages = paginator.paginate(Filters=[{"Name": "instance-id", "Values": instance_ids}])
    return pages.build_full_result()["IamInstanceProfileAssociations"]


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "instance_ids": {"type": "list", "elements": "str", "required": True},
            "instance_profile_name": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    ids = module.params["instance_ids"]
    name = module.params["instance_profile_name"]
    if not ids:
        module.exit_json(changed=False, detached=[])
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        associations = _associations(client, ids)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Could not read the instance profile associations")
    ours = [
        a
        for a in associations
        if a["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1] == name and a.get("State") in ("associating", "associated")
    ]
    detached = sorted(a["InstanceId"] for a in ours)
    if not module.check_mode:
        for association in ours:
            try:
                client.disassociate_iam_instance_profile(aws_retry=True, AssociationId=association["AssociationId"])
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                module.fail_json_aws(e, msg=f"Could not take the profile off {association['InstanceId']}")
    module.exit_json(changed=bool(detached), detached=detached)


if __name__ == "__main__":
    main()
