"""The metadata service answers as EC2's does for the instance as moto holds it right now."""

import datetime as dt
import http.client as http_client
import json
import subprocess
import time

import boto3
import pytest
from localcloud_support import SOURCE, TOKEN_HEADER, TTL_HEADER, aws_cli_path, host_env, http, token

CREDS = "/latest/meta-data/iam/security-credentials/"


def associate(host, profile: str) -> str:
    """Associate an instance profile with a fresh host's instance; returns the association id."""
    answer = host.ec2.associate_iam_instance_profile(InstanceId=host.instance_id, IamInstanceProfile={"Name": profile})
    return answer["IamInstanceProfileAssociation"]["AssociationId"]


def caller(cloud, creds: dict) -> dict:
    """Who moto says the metadata credentials are."""
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["Token"],
        region_name=cloud.region,
    )
    return session.client("sts", endpoint_url=cloud.endpoint).get_caller_identity()


def get(host, path: str) -> tuple[int, str]:
    """A GET with a fresh token, as botocore makes it."""
    status, body, _ = http("GET", host.imds.endpoint + path, {TOKEN_HEADER: token(host.imds.endpoint)})
    return status, body


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({TTL_HEADER: "21600"}, 200, id="max-ttl"),
        pytest.param({TTL_HEADER: "1"}, 200, id="min-ttl"),
        pytest.param({TTL_HEADER: "0"}, 400, id="ttl-zero"),
        pytest.param({TTL_HEADER: "21601"}, 400, id="ttl-too-long"),
        pytest.param({TTL_HEADER: "soon"}, 400, id="ttl-not-a-number"),
        pytest.param({}, 400, id="ttl-missing"),
        pytest.param({TTL_HEADER: "60", "X-Forwarded-For": "10.0.0.1"}, 403, id="forwarded"),
    ],
)
def test_token_request(make_host, headers, expected):
    host = make_host()
    status, body, answer_headers = http("PUT", f"{host.imds.endpoint}/latest/api/token", headers)
    assert status == expected, body
    if expected == 200:
        assert len(body) >= 40
        assert answer_headers[TTL_HEADER] == headers[TTL_HEADER]


@pytest.mark.parametrize(
    ("http_tokens", "send", "expected"),
    [
        pytest.param("required", "none", 401, id="v2-required-no-token"),
        pytest.param("required", "valid", 200, id="v2-required-valid-token"),
        pytest.param("required", "invalid", 401, id="v2-required-invalid-token"),
        pytest.param("required", "expired", 401, id="v2-required-expired-token"),
        pytest.param("optional", "none", 200, id="v1-allowed"),
        pytest.param("optional", "valid", 200, id="optional-valid-token"),
        pytest.param("optional", "invalid", 401, id="optional-invalid-token"),
        pytest.param("optional", "expired", 401, id="optional-expired-token"),
    ],
)
def test_token_rules(make_host, http_tokens, send, expected):
    host = make_host(http_tokens)
    headers = {}
    if send == "valid":
        headers[TOKEN_HEADER] = token(host.imds.endpoint)
    elif send == "invalid":
        headers[TOKEN_HEADER] = "not-a-token-this-service-issued"
    elif send == "expired":
        headers[TOKEN_HEADER] = token(host.imds.endpoint, ttl=1)
        time.sleep(1.1)
    status, body, _ = http("GET", f"{host.imds.endpoint}/latest/meta-data/instance-id", headers)
    assert status == expected, body
    if expected == 200:
        assert body == host.instance_id


def test_metadata_options_are_read_on_every_request(make_host):
    host = make_host("required")
    assert http("GET", f"{host.imds.endpoint}/latest/meta-data/instance-id")[0] == 401
    host.ec2.modify_instance_metadata_options(InstanceId=host.instance_id, HttpTokens="optional")
    assert http("GET", f"{host.imds.endpoint}/latest/meta-data/instance-id")[:2] == (200, host.instance_id)


def test_identity(cloud, make_host):
    host = make_host()
    zone = get(host, "/latest/meta-data/placement/availability-zone")[1]
    assert zone.startswith(cloud.region)
    assert get(host, "/latest/meta-data/placement/region") == (200, cloud.region)
    status, body = get(host, "/latest/dynamic/instance-identity/document")
    assert status == 200
    document = json.loads(body)
    assert {k: document[k] for k in ("accountId", "instanceId", "region", "availabilityZone")} == {
        "accountId": SOURCE,
        "instanceId": host.instance_id,
        "region": cloud.region,
        "availabilityZone": zone,
    }
    assert get(host, "/latest/meta-data/no-such-thing")[0] == 404


def test_attached_role_credentials_act_as_the_instance(cloud, make_host):
    host = make_host()
    associate(host, "airflow-role")
    assert get(host, CREDS) == (200, "airflow-role")
    status, body = get(host, CREDS + "airflow-role")
    assert status == 200, body
    creds = json.loads(body)
    assert set(creds) == {"Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert (creds["Code"], creds["Type"]) == ("Success", "AWS-HMAC")
    expiration = dt.datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert expiration > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    identity = caller(cloud, creds)
    assert identity["Account"] == SOURCE
    assert identity["Arn"] == f"arn:aws:sts::{SOURCE}:assumed-role/airflow-role/{host.instance_id}"
    # Cached: the same keys until shortly before they expire.
    assert json.loads(get(host, CREDS + "airflow-role")[1])["AccessKeyId"] == creds["AccessKeyId"]
    assert get(host, CREDS + "other-role")[0] == 404
    info = json.loads(get(host, "/latest/meta-data/iam/info")[1])
    assert info["InstanceProfileArn"] == f"arn:aws:iam::{SOURCE}:instance-profile/airflow-role"


def test_no_association_means_no_credentials(cloud, make_host, tmp_path):
    host = make_host()
    assert get(host, CREDS)[0] == 404
    assert get(host, CREDS + "airflow-role")[0] == 404
    assert get(host, "/latest/meta-data/iam/info")[0] == 404
    result = subprocess.run(
        [aws_cli_path(), "sts", "get-caller-identity", "--region", cloud.region],
        env=host_env(cloud, tmp_path, host.imds.endpoint),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Unable to locate credentials" in result.stderr


def test_association_changes_are_served(cloud, make_host):
    host = make_host()
    association = associate(host, "airflow-role")
    assert get(host, CREDS) == (200, "airflow-role")
    assert get(host, CREDS + "airflow-role")[0] == 200
    host.ec2.replace_iam_instance_profile_association(
        AssociationId=association, IamInstanceProfile={"Name": "other-role"}
    )
    assert get(host, CREDS) == (200, "other-role")
    assert get(host, CREDS + "airflow-role")[0] == 404
    status, body = get(host, CREDS + "other-role")
    assert status == 200
    arn = caller(cloud, json.loads(body))["Arn"]
    assert arn == f"arn:aws:sts::{SOURCE}:assumed-role/other-role/{host.instance_id}"
    host.ec2.disassociate_iam_instance_profile(AssociationId=association)
    assert get(host, CREDS)[0] == 404


def container_fetcher(host):
    """botocore's own metadata client, as the AWS CLI in a container on the host uses it (one attempt)."""
    from botocore.utils import InstanceMetadataFetcher

    return InstanceMetadataFetcher(
        timeout=2, num_attempts=1, env={}, config={"ec2_metadata_service_endpoint": host.imds.endpoint}
    )


@pytest.mark.parametrize(
    ("hop_limit", "http_tokens", "served"),
    [
        pytest.param(2, "required", True, id="limit-2-reaches-a-container"),
        pytest.param(1, "required", False, id="limit-1-token-lost-v1-refused"),
        pytest.param(1, "optional", True, id="limit-1-token-lost-v1-allowed"),
    ],
)
def test_token_answer_runs_out_of_hops_on_the_way_to_a_container(make_host, hop_limit, http_tokens, served):
    """Two hops away, a token answer with a hop limit of 1 is lost; botocore then goes on without a token."""
    host = make_host(http_tokens=http_tokens)
    host.ec2.modify_instance_metadata_options(InstanceId=host.instance_id, HttpPutResponseHopLimit=hop_limit)
    associate(host, "airflow-role")
    host.imds.hops = 2
    try:
        credentials = container_fetcher(host).retrieve_iam_role_credentials()
    finally:
        host.imds.hops = 1
    assert bool(credentials.get("access_key")) is served
    if served:
        assert credentials["role_name"] == "airflow-role"


def test_token_request_from_too_far_gets_no_answer(make_host):
    host = make_host()
    host.ec2.modify_instance_metadata_options(InstanceId=host.instance_id, HttpPutResponseHopLimit=1)
    host.imds.hops = 2
    try:
        with pytest.raises(http_client.RemoteDisconnected):
            http("PUT", f"{host.imds.endpoint}/latest/api/token", {TTL_HEADER: "60"})
    finally:
        host.imds.hops = 1
    assert token(host.imds.endpoint)
