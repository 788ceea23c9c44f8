"""The local ECR on the wire (AWS JSON 1.1): what a build needs to log in and to check that
an image was pushed."""

from __future__ import annotations

from sagepipe.ecr.models import Ecr
from sagepipe.edge import AwsService


def ecr_service(ecr: Ecr) -> AwsService:
    return AwsService("ecr", "ECR", {
        "GetAuthorizationToken": ecr.get_authorization_token,
        "DescribeImages": ecr.describe_images,
    })
