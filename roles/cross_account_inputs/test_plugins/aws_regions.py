"""Test ``aws_region_known``: whether botocore's endpoint data lists a region, in any partition.

It runs on the controller, which has botocore for the amazon.aws modules, so a typo in a region is
caught before any play talks to AWS.
"""

import botocore.session


def aws_region_known(region):
    """True when some partition of botocore's endpoint data (aws, aws-cn, aws-us-gov, ...) has the region."""
    data = botocore.session.get_session().get_data("endpoints")
    return any(region in partition["regions"] for partition in data["partitions"])


class TestModule:
    """The tests this role ships."""

    def tests(self):
        return {"aws_region_known": aws_region_known}
