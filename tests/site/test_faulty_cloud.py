"""site.yml on a cloud that fails a tenth of the AWS calls, chosen by a fixed seed.

The AWS CLI, boto3 and the amazon.aws modules must retry the Throttling, InternalError and
ServiceUnavailable answers (localcloud/calls.py) so that the site converges and a second run finds
nothing to change.
"""

LOCALCLOUD_START_ARGS = ["--fault-rate", "0.1", "--fault-seed", "7"]


def test_converge_despite_faults(site):
    mark = site.call_mark()
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert "assumed-role/ExecuteGlueService/" in run.output
    met = {c["fault"] for c in site.calls_since(mark) if "fault" in c}
    assert met == {"Throttling", "InternalError", "ServiceUnavailable"}, f"the run met only {met or 'no faults'}"


def test_second_run_changes_nothing(site):
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert run.unchanged
