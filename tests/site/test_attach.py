"""The attach stage on an instance launched the lax way (IMDSv1 allowed, one hop) and on stopped instances.

The cases share one cloud and run in file order; each states what it starts from.
"""

import json
import urllib.error
import urllib.request

from localcloud import calls

# The stand-in instance starts as many old launch templates leave one: tokens optional, a single hop.
LOCALCLOUD_START_ARGS = ["--http-tokens", "optional", "--hop-limit", "1"]
INSTANCE_PROFILE_ARN = "arn:aws:iam::875120157787:instance-profile/airflow-role"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _instance(site) -> dict:
    ec2 = site.session("source").client("ec2")
    instance_id = site.state["hosts"]["airflow-worker-1"]["instance_id"]
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def _metadata(site) -> tuple[str, int]:
    options = _instance(site)["MetadataOptions"]
    return options["HttpTokens"], options["HttpPutResponseHopLimit"]


def _imds_v1_status(site) -> int:
    """Status of a token-less (IMDSv1) request to the stand-in host's metadata service."""
    endpoint = site.state["hosts"]["airflow-worker-1"]["imds_endpoint"]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{endpoint}/latest/meta-data/instance-id", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _associations(site) -> list[tuple[str, str]]:
    ec2 = site.session("source").client("ec2")
    return sorted(
        (a["InstanceId"], a["IamInstanceProfile"]["Arn"])
        for a in ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
    )


def test_check_mode_reports_metadata_options_and_changes_nothing(site):
    assert _metadata(site) == ("optional", 1)
    mark = site.call_mark()
    run = site.play("site.yml", "--check")
    assert run.rc == 0, run.output
    sent = site.calls_since(mark)
    assert any(call["action"] == "DescribeInstances" for call in sent)
    assert [call for call in sent if calls.is_write(call)] == []
    instance_id = _instance(site)["InstanceId"]
    said = " ".join(run.output.split())
    assert f"Would attach airflow-role to {instance_id}" in said
    assert f'metadata options {{"http_tokens": "required", "http_put_response_hop_limit": 2}} on {instance_id}' in said
    assert _metadata(site) == ("optional", 1)
    assert _associations(site) == []
    assert _imds_v1_status(site) == 200


def test_converge_requires_tokens_with_two_hops(site):
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert _metadata(site) == ("required", 2)
    assert _imds_v1_status(site) == 401
    assert "assumed-role/ExecuteGlueService/" in run.output
    assert site.play("site.yml").unchanged


def test_overridden_metadata_options_are_applied(site):
    override = {"cross_account_attach_metadata_options": {"http_tokens": "required", "http_put_response_hop_limit": 3}}
    run = site.play("site.yml", "--tags", "attach", "-e", json.dumps(override))
    assert run.rc == 0, run.output
    assert _metadata(site) == ("required", 3)
    assert set(site.play("site.yml", "--tags", "attach", "-e", json.dumps(override)).changed.values()) == {0}


def test_stopped_instance_with_another_profile_stops_the_run_untouched(site):
    iam = site.session("source").client("iam")
    iam.create_role(RoleName="batch-role", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    other = iam.create_instance_profile(InstanceProfileName="batch-role")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="batch-role", RoleName="batch-role")
    ec2 = site.session("source").client("ec2")
    instance_id = _instance(site)["InstanceId"]
    association = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"][0]
    ec2.replace_iam_instance_profile_association(
        AssociationId=association["AssociationId"], IamInstanceProfile={"Arn": other["Arn"]}
    )
    ec2.stop_instances(InstanceIds=[instance_id])

    run = site.play("site.yml", "--tags", "attach")
    assert run.rc != 0
    assert f"{instance_id} stopped with another instance profile" in " ".join(run.output.split())
    assert _associations(site) == [(instance_id, other["Arn"])]
    assert _instance(site)["State"]["Name"] == "stopped"

    ec2.start_instances(InstanceIds=[instance_id])
    run = site.play("site.yml", "--tags", "attach")
    assert run.rc == 0, run.output
    assert _associations(site) == [(instance_id, INSTANCE_PROFILE_ARN)]


def test_verify_stops_at_once_on_an_error_retrying_cannot_fix(site):
    run = site.play("site.yml", "--tags", "verify", "-e", "cross_account_verify_profile=no-such-profile")
    assert run.rc != 0
    assert "The config profile (no-such-profile) could not be found" in run.output
    assert "retrying in" not in run.output


def test_verify_retries_while_the_instance_has_no_credentials(site):
    ec2 = site.session("source").client("ec2")
    association = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"][0]
    ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])
    # Waits of 1 s then 2 s fit a 3 s budget; the next (4 s) would not, so each call runs three times.
    retries = {"cross_account_verify_first_delay": 1, "cross_account_verify_retry_budget": 3}
    run = site.play("site.yml", "--tags", "verify", "-e", json.dumps(retries))
    assert run.rc != 0
    said = " ".join(run.output.split())
    assert "retrying in 1s: Error when retrieving credentials" in said
    assert "retrying in 2s: Error when retrieving credentials" in said
    assert "retrying in 4s" not in said
    assert "Error when retrieving credentials" in run.output
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert "assumed-role/ExecuteGlueService/" in run.output
