"""Three places where moto 5.2 answers differently from AWS in ways the playbooks would trip over.

Each patches moto inside this process, so the HTTP API stays moto's own:

- ``ModifyInstanceMetadataOptions`` in moto rebuilds all options from the call, so changing only
  the hop limit drops ``HttpTokens`` and the instance silently allows IMDSv1. EC2 keeps every
  option the call leaves out.
- ``ReplaceIamInstanceProfileAssociation`` in moto updates the association but not the instance,
  so ``DescribeInstances`` keeps showing the old profile and a module comparing against it would
  replace the profile on every run. EC2 shows the new one.
- ``ListServiceSpecificCredentials`` is not implemented in moto (a 500), and amazon.aws.iam_user calls it
  before deleting a user. moto keeps no such credentials, so the answer is an empty list for a user
  that exists and NoSuchEntity for one that does not, as IAM answers.
"""

import functools
import logging
from typing import Any

log = logging.getLogger(__name__)

_MARK = "_localcloud_fix"


def apply() -> None:
    """Install the fixes once per process; later calls do nothing."""
    from moto.ec2.models.iam_instance_profile import IamInstanceProfileAssociationBackend
    from moto.ec2.models.instances import InstanceBackend
    from moto.iam.responses import IamResponse

    wrap(InstanceBackend, "modify_instance_metadata_options", _keep_unspecified_options)
    wrap(IamInstanceProfileAssociationBackend, "replace_iam_instance_profile_association", _show_replaced_profile)
    if not hasattr(IamResponse, "list_service_specific_credentials"):
        IamResponse.list_service_specific_credentials = _list_service_specific_credentials


def wrap(cls: type, name: str, make: Any, mark: str = _MARK) -> None:
    """Replace ``cls.name`` with ``make(original)`` once: a method already carrying ``mark`` is left alone."""
    original = getattr(cls, name)
    if getattr(original, mark, False):
        return
    wrapper = functools.wraps(original)(make(original))
    setattr(wrapper, mark, True)
    setattr(cls, name, wrapper)
    log.debug("patched moto %s.%s", cls.__name__, name)


def _keep_unspecified_options(original: Any) -> Any:
    def modify(
        self: Any,
        instance_id: str,
        http_tokens: str | None = None,
        hop_limit: int | None = None,
        http_endpoint: str | None = None,
        dry_run: bool | None = False,
        http_protocol: str | None = None,
        metadata_tags: str | None = None,
    ) -> Any:
        current = self.get_instance(instance_id).metadata_options
        return original(
            self,
            instance_id,
            http_tokens=http_tokens or current.http_tokens,
            hop_limit=hop_limit if hop_limit is not None else current.http_put_response_hop_limit,
            http_endpoint=http_endpoint or current.http_endpoint,
            dry_run=dry_run,
            http_protocol=http_protocol or current.http_protocol_ipv6,
            metadata_tags=metadata_tags or current.instance_metadata_tags,
        )

    return modify


def _show_replaced_profile(original: Any) -> Any:
    def replace(self: Any, association_id: str, *args: Any, **kwargs: Any) -> Any:
        association = original(self, association_id, *args, **kwargs)
        self.modify_instance_attribute(
            association.instance_id,
            "iam_instance_profile",
            {"Arn": association.iam_instance_profile.arn, "Id": association_id},
        )
        return association

    return replace


def _list_service_specific_credentials(self: Any) -> Any:
    from moto.core.responses import ActionResult

    self.backend.get_user(self._get_param("UserName"))
    return ActionResult({"ServiceSpecificCredentials": []})
