"""The IAM policy reader the doctor role ships (its filter plugin), loaded from that file.

The local cloud judges policies with the very code the doctor uses, so the two cannot drift apart; see
roles/cross_account_doctor/filter_plugins/iam_policy.py for what it reads.
"""

import importlib.util
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parents[1] / "roles" / "cross_account_doctor" / "filter_plugins" / "iam_policy.py"
_NAME = "localcloud._iam_policy"


def _load_module():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, PATH)
    module = importlib.util.module_from_spec(spec)
    # Registered before running, as dataclasses look their module up while the class is built.
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


iam_policy = _load_module()
