"""The example inventory for real accounts: parsed and validated without any AWS call."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "inventory" / "aws"


def test_static_part_lists_the_controller_and_the_pair():
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    result = subprocess.run(
        [Path(sys.executable).parent / "ansible-inventory", "-i", INVENTORY / "hosts.yml", "--list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    listing = json.loads(result.stdout)
    assert listing["cross_account_control"]["hosts"] == ["localhost"]
    hostvars = listing["_meta"]["hostvars"]["localhost"]
    assert hostvars["cross_account_source_profile"] == "source-admin"
    assert hostvars["cross_account_target_profile"] == "target-admin"
    assert "cross_account_local_cloud" not in hostvars


def test_dynamic_part_is_valid_and_agrees_with_the_group_vars():
    """The plugin config parses, and selects the account, region and tag that the attach stage uses."""
    init_plugin_loader()
    plugin = inventory_loader.get("amazon.aws.aws_ec2")
    path = str(INVENTORY / "aws_ec2.yml")
    assert plugin.verify_file(path)
    plugin.loader = DataLoader()
    plugin._read_config_data(path)
    group_vars = yaml.safe_load((INVENTORY / "group_vars" / "all.yml").read_text())
    assert plugin.get_option("profile") == group_vars["cross_account_source_profile"]
    assert plugin.get_option("regions") == [group_vars["cross_account_region"]]
    for key, value in group_vars["cross_account_instance_filters"].items():
        assert plugin.get_option("filters")[key] == value
    assert plugin.get_option("groups") == {"cross_account_hosts": "tags.CrossAccountRole is defined"}
