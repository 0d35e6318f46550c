"""Fixtures for the local cloud: one cloud in-process for the whole session, fresh instances per test.

moto keeps its data in process-wide backends, so the tests share one LocalCloud and give each case
an instance (and metadata service) of its own instead of restarting moto.
"""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from localcloud_support import HOSTS

from localcloud.imds import MetadataService
from localcloud.seed import pick_image
from localcloud.server import LocalCloud

EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# Roles with an instance profile of the same name in the source account.
INSTANCE_ROLES = ("airflow-role", "other-role")


@pytest.fixture(scope="session")
def clean_env() -> Iterator[None]:
    """No AWS setting of the caller's reaches botocore, and botocore never asks the real metadata address."""
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("AWS_"):
                patch.delenv(key)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


@pytest.fixture(scope="session")
def cloud(clean_env, tmp_path_factory) -> Iterator[LocalCloud]:
    """The local cloud, started in this process on free loopback ports, with roles for the cases."""
    with LocalCloud(tmp_path_factory.mktemp("localcloud"), hosts=HOSTS) as running:
        iam = running.session("source").client("iam", endpoint_url=running.endpoint)
        for name in INSTANCE_ROLES:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
            iam.create_instance_profile(InstanceProfileName=name)
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
        yield running


@dataclass
class FreshHost:
    """A new instance in the source account with its own metadata service."""

    instance_id: str
    imds: MetadataService
    ec2: object


@pytest.fixture
def make_host(cloud) -> Iterator:
    """Factory for fresh hosts, so each case controls its instance's options and associations."""
    started: list[MetadataService] = []
    ec2 = cloud.session("source").client("ec2", endpoint_url=cloud.endpoint)
    image_id = pick_image(ec2)

    def make(http_tokens: str = "required") -> FreshHost:
        instance_id = ec2.run_instances(
            ImageId=image_id,
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            MetadataOptions={"HttpTokens": http_tokens, "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"},
        )["Instances"][0]["InstanceId"]
        service = MetadataService(
            "test-host", instance_id, cloud.source_account, cloud.session("source"), cloud.endpoint
        )
        service.start()
        started.append(service)
        return FreshHost(instance_id, service, ec2)

    yield make
    for service in started:
        service.stop()
