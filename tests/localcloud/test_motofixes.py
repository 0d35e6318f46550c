"""moto, as the local cloud runs it, keeps the EC2 behaviour the playbooks depend on."""

import pytest
from localcloud_support import http


def describe(host) -> dict:
    return host.ec2.describe_instances(InstanceIds=[host.instance_id])["Reservations"][0]["Instances"][0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"HttpPutResponseHopLimit": 3}, ("required", 3, "enabled"), id="hop-limit-only"),
        pytest.param({"HttpTokens": "optional"}, ("optional", 2, "enabled"), id="tokens-only"),
        pytest.param({"HttpEndpoint": "enabled"}, ("required", 2, "enabled"), id="endpoint-only"),
    ],
)
def test_modify_metadata_options_keeps_what_is_not_given(make_host, change, expected):
    host = make_host("required")
    host.ec2.modify_instance_metadata_options(InstanceId=host.instance_id, **change)
    options = describe(host)["MetadataOptions"]
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"], options["HttpEndpoint"]) == expected
    unauthenticated = http("GET", f"{host.imds.endpoint}/latest/meta-data/instance-id")[0]
    assert unauthenticated == (401 if expected[0] == "required" else 200)


def test_replace_association_shows_on_the_instance(cloud, make_host):
    host = make_host()
    association = host.ec2.associate_iam_instance_profile(
        InstanceId=host.instance_id, IamInstanceProfile={"Name": "airflow-role"}
    )["IamInstanceProfileAssociation"]["AssociationId"]
    host.ec2.replace_iam_instance_profile_association(
        AssociationId=association, IamInstanceProfile={"Name": "other-role"}
    )
    arn = describe(host)["IamInstanceProfile"]["Arn"]
    assert arn == f"arn:aws:iam::{cloud.source_account}:instance-profile/other-role"


def test_service_specific_credentials_of_a_user_are_listed(cloud):
    iam = cloud.session("source").client("iam")
    iam.create_user(UserName="svc-cred-probe")
    try:
        assert iam.list_service_specific_credentials(UserName="svc-cred-probe")["ServiceSpecificCredentials"] == []
    finally:
        iam.delete_user(UserName="svc-cred-probe")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.list_service_specific_credentials(UserName="svc-cred-probe")
