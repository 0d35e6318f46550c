"""The attach stage outlasts EC2 not yet knowing an instance profile that the source stage just created.

With a 10 s propagation delay, AssociateIamInstanceProfile naming a profile younger than that is refused
with AWS's "Invalid IAM Instance Profile name" (localcloud/propagation.py). Running the source and attach
stages alone puts the attach seconds after the profile's creation, so its first try meets the refusal.
"""

import json

LOCALCLOUD_START_ARGS = ["--propagation-delay", "10"]
SOURCE = "875120157787"


def test_attach_retries_until_ec2_knows_the_new_profile(site):
    mark = site.call_mark()
    run = site.play("site.yml", "--tags", "source,attach", "-e", json.dumps({"cross_account_attach_retry_delay": 3}))
    assert run.rc == 0, run.output
    attempts = [
        call
        for call in site.calls_since(mark)
        if call["action"] in ("AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation")
    ]
    assert [call["status"] for call in attempts][0] == 400, attempts
    assert attempts[-1]["status"] == 200, attempts
    assert "FAILED - RETRYING" in run.output
    assert run.changed[f"account-{SOURCE}"] > 0
    ec2 = site.session("source").client("ec2")
    associations = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
    assert [a["IamInstanceProfile"]["Arn"].rpartition("/")[2] for a in associations] == ["airflow-role"]
    assert associations[0]["State"] == "associated"


def test_second_run_of_those_stages_changes_nothing(site):
    mark = site.call_mark()
    run = site.play("site.yml", "--tags", "source,attach")
    assert run.rc == 0, run.output
    assert not any(run.changed.values()), run.output
    assert not [call for call in site.calls_since(mark) if call["status"] != 200]
