"""The workload in a container on the instance: two network hops to the metadata service.

EC2 sends the IMDSv2 token answer with the instance's hop limit as its TTL. The attach stage sets a hop
limit of 2 by default so that a container on the instance gets its token; with a limit of 1 the token is
lost on the way, the AWS CLI goes on without one, and an instance that requires tokens gives it no
credentials (localcloud/imds.py models the hops). Verify fails as it would on EC2, the doctor names the
metadata options, and the next default run repairs them.
"""

import json

LOCALCLOUD_START_ARGS = ["--host-hops", "2"]
ONE_HOP = {
    "cross_account_attach_metadata_options": {"http_tokens": "required", "http_put_response_hop_limit": 1},
    "cross_account_verify_retry_budget": 0,
}


def _hop_limit(site) -> int:
    ec2 = site.session("source").client("ec2")
    instance = ec2.describe_instances()["Reservations"][0]["Instances"][0]
    return instance["MetadataOptions"]["HttpPutResponseHopLimit"]


def test_default_hop_limit_reaches_the_container(site):
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert "assumed-role/ExecuteGlueService/" in run.output
    assert _hop_limit(site) == 2


def test_hop_limit_of_one_leaves_the_container_without_credentials(site):
    run = site.play("site.yml", "-e", json.dumps(ONE_HOP))
    assert run.rc != 0
    assert _hop_limit(site) == 1
    said = " ".join(run.output.split())
    assert "Error when retrieving credentials from Ec2InstanceMetadata" in said
    doctor = site.play("playbooks/doctor.yml")
    assert doctor.rc != 0
    diagnosis = " ".join(doctor.output.split())
    assert "metadata options http_put_response_hop_limit=1; fix: ansible-playbook site.yml --tags attach" in diagnosis
    assert "✗ aws sts get-caller-identity --profile airflow-role" in diagnosis


def test_default_run_repairs_the_hop_limit(site):
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert _hop_limit(site) == 2
    assert "assumed-role/ExecuteGlueService/" in run.output
