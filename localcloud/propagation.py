"""IAM's eventual consistency: a role or an instance-profile association is not usable at once.

On AWS a role that was just created, or whose trust or permission policies just changed, may be
refused for a few seconds, and an instance that was just given an instance profile serves no
credentials from its metadata yet. ``install`` wraps moto's IAM and EC2 backend methods inside this
process to note when each role and association last changed; with ``configure(delay)`` above zero:

- ``sts:AssumeRole`` of a role that changed less than ``delay`` seconds ago, or by a session of
  such a role, is refused with AccessDenied (checked in localcloud/enforce.py's hook);
- the metadata service acts as if no instance profile were associated while its association is
  younger than ``delay`` (localcloud/imds.py), so credential paths answer 404;
- EC2 does not yet know an instance profile created, or given a role, less than ``delay`` seconds
  ago: AssociateIamInstanceProfile and ReplaceIamInstanceProfileAssociation naming it are refused
  with AWS's ``InvalidParameterValue`` "Invalid IAM Instance Profile name" (or "arn").

``configure`` forgets every earlier change, so what exists when it is called (the cloud's own
set-up) counts as long propagated. The changes noted are those of ``ROLE_CHANGES``,
``PROFILE_CHANGES`` and ``ASSOCIATION_CHANGES``; users, groups and managed policy versions are not tracked.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .motofixes import wrap

log = logging.getLogger(__name__)

# moto IAMBackend methods that change a role, and the position of the role name in their arguments
# (after self); each is also accepted as the keyword ``role_name``.
ROLE_CHANGES = {
    "create_role": 0,
    "update_assume_role_policy": 0,
    "put_role_policy": 0,
    "delete_role_policy": 0,
    "attach_role_policy": 1,
    "detach_role_policy": 1,
}
# moto IAMBackend methods that change an instance profile; the profile name comes first (after self).
PROFILE_CHANGES = ("create_instance_profile", "add_role_to_instance_profile")
# moto EC2 backend methods that give an instance a new association; both return the association.
ASSOCIATION_CHANGES = ("associate_iam_instance_profile", "replace_iam_instance_profile_association")

_MARK = "_localcloud_propagation"
_lock = threading.Lock()
_settings: dict[str, Any] = {"delay": 0.0, "clock": time.monotonic}
# (account, role name) and association id -> clock reading of the last change.
_roles: dict[tuple[str, str], float] = {}
_profiles: dict[tuple[str, str], float] = {}
_associations: dict[str, float] = {}


def install() -> None:
    """Wrap the backend methods once per process; the delay stays as ``configure`` last set it."""
    from moto.ec2.models.iam_instance_profile import IamInstanceProfileAssociationBackend
    from moto.iam.models import IAMBackend

    for name, position in ROLE_CHANGES.items():
        wrap(IAMBackend, name, _noting_role(position), mark=_MARK)
    for name in PROFILE_CHANGES:
        wrap(IAMBackend, name, _noting_profile, mark=_MARK)
    for name in ASSOCIATION_CHANGES:
        wrap(IamInstanceProfileAssociationBackend, name, _noting_association, mark=_MARK)


def configure(delay: float, clock: Callable[[], float] = time.monotonic) -> None:
    """Set the delay in seconds (0 switches it off) and the clock; forget every change noted so far."""
    if delay < 0:
        raise ValueError(f"propagation delay must not be negative, got {delay}")
    with _lock:
        _settings["delay"] = float(delay)
        _settings["clock"] = clock
        _roles.clear()
        _profiles.clear()
        _associations.clear()


def delay() -> float:
    """The delay in force, in seconds."""
    return _settings["delay"]


def role_pending(account: str, role_name: str) -> bool:
    """Whether the role changed less than the delay ago, so AWS would not yet act on it."""
    with _lock:
        return _young(_roles.get((account, role_name)))


def profile_pending(account: str, profile_name: str) -> bool:
    """Whether the instance profile changed less than the delay ago, so EC2 would not yet find it."""
    with _lock:
        return _young(_profiles.get((account, profile_name)))


def association_pending(association_id: str) -> bool:
    """Whether the instance-profile association is younger than the delay."""
    with _lock:
        return _young(_associations.get(association_id))


def _young(changed: float | None) -> bool:
    return changed is not None and _settings["clock"]() - changed < _settings["delay"]


def _noting_role(position: int) -> Callable[[Any], Any]:
    def make(original: Any) -> Any:
        def change(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            role_name = kwargs["role_name"] if "role_name" in kwargs else args[position]
            with _lock:
                _roles[(self.account_id, role_name)] = _settings["clock"]()
            return result

        return change

    return make


def _noting_profile(original: Any) -> Any:
    def change(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        profile_name = args[0] if args else kwargs.get("name", kwargs.get("profile_name"))
        with _lock:
            _profiles[(self.account_id, profile_name)] = _settings["clock"]()
        return result

    return change


def _noting_association(original: Any) -> Any:
    def change(self: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse_young_profile(self.account_id, *_named_profile(args, kwargs))
        association = original(self, *args, **kwargs)
        with _lock:
            _associations[association.association_id] = _settings["clock"]()
        return association

    return change


def _named_profile(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str | None, str | None]:
    """Name and ARN of the instance profile an associate or replace call names (instance or association first)."""
    name = args[1] if len(args) > 1 else kwargs.get("iam_instance_profile_name")
    arn = args[2] if len(args) > 2 else kwargs.get("iam_instance_profile_arn")
    return name, arn


def _refuse_young_profile(account: str, name: str | None, arn: str | None) -> None:
    """Raise EC2's error for an instance profile named by name or ARN that has not propagated yet."""
    from moto.ec2.exceptions import EC2ClientError

    named = name or (arn or "").rpartition("/")[2]
    if named and profile_pending(account, named):
        parameter, value = ("name", name) if name else ("arn", arn)
        raise EC2ClientError(
            "InvalidParameterValue",
            f"Value ({value}) for parameter iamInstanceProfile.{parameter} is invalid. "
            f"Invalid IAM Instance Profile {parameter}",
        )
