"""Runs moto's server, the AWS API peer, with one difference from AWS closed: moto's STS
assumes any role ARN, even of a role that does not exist (its documentation says so), where
AWS refuses with AccessDenied. Trailkeeper records an account whose role is missing, so the
peer must refuse it too. Roles exist as AWS makes them: IAM's CreateRole, and the
OrganizationAccountAccessRole of every account Organizations' CreateAccount makes."""

import sys

from moto.core.exceptions import ServiceException
from moto.iam.models import iam_backends
from moto.server import main
from moto.sts.models import STSBackend


class AccessDenied(ServiceException):
    code = "AccessDenied"


assume_any_role = STSBackend.assume_role


def assume_existing_role(self, region_name, role_session_name, role_arn, **rest):
    parts = role_arn.split(":")
    account, partition = (parts[4], parts[1]) if len(parts) > 5 else (None, None)
    roles = iam_backends[account][partition] if account and account.isdigit() else None
    if roles is None or not any(role.arn == role_arn for role in roles.get_roles()):
        raise AccessDenied(
            f"User: arn:{partition or 'aws'}:iam::{self.account_id}:user/trailkeeper-local "
            f"is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )
    return assume_any_role(self, region_name, role_session_name, role_arn, **rest)


STSBackend.assume_role = assume_existing_role

if __name__ == "__main__":
    sys.exit(main())
