"""Injected faults: a seeded share of AWS calls answered with Throttling or a 5xx, which botocore retries.

Each case sets the fault rate on the shared cloud and switches it off afterwards; clients here turn
botocore's retries off unless the case is about them, so every faulted call shows in the answer.
"""

from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from localcloud_support import TOKEN_HEADER, http, token

from localcloud import calls

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})

# (session, service, call) covering each protocol the cloud serves.
PROTOCOLS = [
    pytest.param("source", "iam", lambda c: c.list_roles(), id="query-iam"),
    pytest.param("target", "sts", lambda c: c.get_caller_identity(), id="query-sts"),
    pytest.param("source", "ec2", lambda c: c.describe_instances(), id="ec2"),
    pytest.param("source", "s3", lambda c: c.list_buckets(), id="rest-xml-s3"),
    pytest.param("target", "glue", lambda c: c.get_jobs(), id="json-glue"),
]


# Each injected error and the HTTP status it comes with.
STATUSES = {"Throttling": 400, "InternalError": 500, "ServiceUnavailable": 503}


@pytest.fixture
def faults(cloud) -> Iterator:
    """Set the fault rate and seed for one case; no faults afterwards."""
    try:
        yield cloud.set_faults
    finally:
        cloud.set_faults(0.0)


def outcome(call) -> str:
    """The error code a call answers, or "ok"."""
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "ok"


def recorded(cloud, action) -> list[dict]:
    mark = len(calls.read_calls(cloud.state_dir))
    action()
    return calls.read_calls(cloud.state_dir, since=mark)


@pytest.mark.parametrize("code", STATUSES)
@pytest.mark.parametrize(("which", "service", "call"), PROTOCOLS)
def test_rate_one_faults_every_call(cloud, faults, which, service, call, code):
    """Each error reaches the client as its code and status, parsed by the service's own protocol."""
    client = cloud.session(which).client(service, config=NO_RETRIES)
    faults(1.0, 7, (code,))
    with pytest.raises(ClientError) as caught:
        call(client)
    response = caught.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, STATUSES[code])
    assert response["ResponseMetadata"]["RequestId"]


@pytest.mark.parametrize("code", STATUSES)
@pytest.mark.parametrize(("which", "service", "call"), PROTOCOLS)
def test_botocore_retries_a_faulted_call(cloud, faults, which, service, call, code):
    """With every call faulted, botocore's standard retries spend all attempts: it took them as retryable."""
    client = cloud.session(which).client(service, config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    faults(1.0, 7, (code,))
    sent = recorded(cloud, lambda: pytest.raises(ClientError, call, client))
    assert [(c["status"], c.get("fault")) for c in sent] == [(STATUSES[code], code)] * 3


def test_faulted_calls_are_recorded(cloud, faults):
    sts = cloud.session("target").client("sts", config=NO_RETRIES)
    faults(1.0, 7, ("Throttling",))
    sent = recorded(cloud, lambda: outcome(sts.get_caller_identity))
    assert sent == [
        {
            "service": "sts",
            "action": "GetCallerIdentity",
            "account": cloud.target_account,
            "caller": "other",
            "status": 400,
            "fault": "Throttling",
        }
    ]


def test_rate_zero_throttles_nothing(cloud, faults):
    sts = cloud.session("target").client("sts", config=NO_RETRIES)
    faults(0.0, 7)
    sent = recorded(cloud, lambda: [sts.get_caller_identity() for _ in range(20)])
    assert len(sent) == 20
    assert all(c["status"] == 200 and "fault" not in c for c in sent)


def test_seed_makes_the_faults_reproducible(cloud, faults):
    sts = cloud.session("target").client("sts", config=NO_RETRIES)

    def pattern(seed: int) -> list[str]:
        faults(0.5, seed)
        return [outcome(sts.get_caller_identity) for _ in range(30)]

    first = pattern(7)
    assert set(first) == {"ok", *STATUSES}
    assert pattern(7) == first
    assert pattern(8) != first


def test_moto_api_and_metadata_services_are_never_throttled(cloud, make_host, faults):
    host = make_host()
    host.ec2.associate_iam_instance_profile(InstanceId=host.instance_id, IamInstanceProfile={"Name": "airflow-role"})
    faults(1.0, 7)
    assert http("GET", f"{cloud.endpoint}/moto-api/config")[0] < 400
    creds = "/latest/meta-data/iam/security-credentials/airflow-role"
    status, body, _ = http("GET", host.imds.endpoint + creds, {TOKEN_HEADER: token(host.imds.endpoint)})
    assert status == 200, body


def test_default_retries_recover_at_a_moderate_rate(cloud, faults):
    """botocore's default retry handler (standard mode, 3 attempts) gets every call through at a rate of 0.1.

    The seed fixes which calls fail, so the outcome is the same on every run.
    """
    sts = cloud.session("target").client("sts")
    iam = cloud.session("source").client("iam")
    faults(0.1, 5)
    sent = recorded(cloud, lambda: [(sts.get_caller_identity(), iam.list_roles()) for _ in range(20)])
    assert [c for c in sent if c.get("fault")], "no call was faulted, so nothing was retried"
    assert len([c for c in sent if c["status"] == 200]) == 40


@pytest.mark.parametrize("rate", [pytest.param(-0.1, id="negative"), pytest.param(1.5, id="above-one")])
def test_rate_out_of_range_is_refused(cloud, rate):
    with pytest.raises(ValueError):
        cloud.set_faults(rate)


@pytest.mark.parametrize("codes", [pytest.param((), id="none"), pytest.param(("Throttling", "Teapot"), id="unknown")])
def test_unknown_fault_codes_are_refused(cloud, codes):
    with pytest.raises(ValueError, match="fault codes must be some of"):
        cloud.set_faults(0.5, 7, codes)
