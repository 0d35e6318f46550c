"""What already exists in the accounts before the playbooks run.

Each ``serve`` starts an empty moto, so seeding simply creates everything once.
"""

import logging
from dataclasses import dataclass

import boto3

log = logging.getLogger(__name__)

GLUE_JOB = "nightly-etl"
GLUE_ROLE = "ExecuteGlueService"
INSTANCE_TYPE = "t3.micro"


def landing_bucket(target: str) -> str:
    """The target account's bucket the Glue job reads from."""
    return f"etl-landing-{target}"


def logs_bucket(source: str) -> str:
    """The source account's bucket for the workload's own logs."""
    return f"airflow-logs-{source}"


@dataclass(frozen=True)
class SeededHost:
    """A stand-in host: its name and the EC2 instance that plays it in the source account."""

    name: str
    instance_id: str


def _create_bucket(s3, name: str, region: str) -> None:
    """Create a bucket in the region (outside us-east-1 S3 wants the location said)."""
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def seed_target(session: boto3.Session, endpoint: str, region: str, target: str) -> None:
    """Create the target account's landing bucket and its nightly Glue job."""
    bucket = landing_bucket(target)
    _create_bucket(session.client("s3", endpoint_url=endpoint), bucket, region)
    session.client("glue", endpoint_url=endpoint).create_job(
        Name=GLUE_JOB,
        Role=f"arn:aws:iam::{target}:role/{GLUE_ROLE}",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/scripts/nightly.py"},
    )
    log.info("seeded target account %s: bucket %s, glue job %s", target, bucket, GLUE_JOB)


def pick_image(ec2) -> str:
    """An Amazon Linux 2 AMI from moto's catalogue, any AMI if there is none.

    Listing all of moto's ~1300 Amazon images takes seconds; a name filter answers at once.
    """
    images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}])
    if not images["Images"]:
        images = ec2.describe_images(Owners=["amazon"])
    return images["Images"][0]["ImageId"]


def seed_source(
    session: boto3.Session,
    endpoint: str,
    region: str,
    source: str,
    hosts: list[str],
    http_tokens: str,
    hop_limit: int,
) -> list[SeededHost]:
    """Create the source account's log bucket and one EC2 instance per stand-in host."""
    _create_bucket(session.client("s3", endpoint_url=endpoint), logs_bucket(source), region)
    ec2 = session.client("ec2", endpoint_url=endpoint)
    image_id = pick_image(ec2)
    seeded = []
    for name in hosts:
        reservation = ec2.run_instances(
            ImageId=image_id,
            InstanceType=INSTANCE_TYPE,
            MinCount=1,
            MaxCount=1,
            MetadataOptions={
                "HttpTokens": http_tokens,
                "HttpPutResponseHopLimit": hop_limit,
                "HttpEndpoint": "enabled",
            },
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
        )
        instance_id = reservation["Instances"][0]["InstanceId"]
        seeded.append(SeededHost(name=name, instance_id=instance_id))
        log.info("seeded host %s as instance %s (HttpTokens=%s)", name, instance_id, http_tokens)
    return seeded
