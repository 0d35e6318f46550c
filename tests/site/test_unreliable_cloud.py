"""site.yml on a cloud where IAM changes take 10 s to propagate, as on AWS right after a change.

A role created or changed less than 10 s ago cannot be assumed and a fresh instance-profile association
serves no credentials yet (localcloud/propagation.py); the site must still converge and verify.
"""

LOCALCLOUD_START_ARGS = ["--propagation-delay", "10"]


def test_converge_waits_out_propagation(site):
    """The operator's calls find no credentials at first, on a fresh association, and succeed on a retry."""
    # -v shows each call's result, the retry wrapper's "retrying in Ns" lines among them.
    run = site.play("site.yml", "-v")
    assert run.rc == 0, run.output
    assert "retrying in 2s" in run.output, "nothing was retried, so the run never met the delay"
    assert "assumed-role/ExecuteGlueService/" in run.output


def test_second_run_changes_nothing(site):
    run = site.play("site.yml")
    assert run.rc == 0, run.output
    assert run.unchanged
