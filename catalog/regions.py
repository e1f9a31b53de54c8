"""AWS commercial regions the platform may be deployed to, and their peers for disaster recovery."""

import re

# Commercial AWS regions (opt-in regions included). A region outside this list is a typo or a
# partition we do not support (GovCloud, China) and is rejected before anything is created.
AWS_REGIONS: frozenset[str] = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        "ca-central-1", "ca-west-1",
        "mx-central-1",
        "sa-east-1",
        "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3",
        "eu-north-1", "eu-south-1", "eu-south-2",
        "il-central-1", "me-central-1", "me-south-1", "af-south-1",
        "ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2",
        "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "ap-southeast-5", "ap-southeast-7",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    }
)  # fmt: skip

_REGION_SHAPE = re.compile(r"^[a-z]{2}-[a-z]+-\d$")


def is_aws_region(name: object) -> bool:
    return isinstance(name, str) and bool(_REGION_SHAPE.match(name)) and name in AWS_REGIONS
