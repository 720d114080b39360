"""Seeds the AWS API peer with the demo's estate: 66 secrets over three regions, made and
rotated over the last 200 days, so a new user sees a living inventory — healthy and overdue
rotations, one stuck with AWSPENDING, versions with custom labels, scheduled deletions,
replicas, a public and a cross-account resource policy.

With --organization, the estate is an AWS Organization's: the management account (the
peer's own) holds the organisation's few secrets, a `prod` account the production ones and
a `dev` account the staging ones, each member reached through the
OrganizationAccountAccessRole Organizations makes in it; one secret has rotation enabled
that has never run.

With --clock FILE (the file the peer's libfaketime reads its offset from), the peer's clock
walks through those 200 days and ends back at the present; without it every event happens
now, and the estate has the same shape without its history.

Values are random and never read back, by this script or by Trailkeeper.
"""

import argparse
import io
import json
import os
import random
import secrets
import sys
import urllib.request
import zipfile

import boto3

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-1"]
ACCOUNT = "123456789012"
MEMBER_ROLE = "OrganizationAccountAccessRole"
# The management account's own secrets, in an Organization: (name, region, team).
MANAGEMENT_SECRETS = [
    ("org/scim-token", "us-east-1", "identity"),
    ("org/terraform-state-key", "us-east-1", "platform"),
    ("org/audit-export-key", "eu-west-1", "security"),
]
PARTNER_ACCOUNT = "444455556666"
HISTORY_DAYS = 200

# (team, application, region, kind)
APPLICATIONS = [
    ("payments", "checkout", "us-east-1"),
    ("payments", "ledger", "us-east-1"),
    ("payments", "billing", "eu-west-1"),
    ("identity", "sso", "us-east-1"),
    ("identity", "directory", "eu-west-1"),
    ("data", "warehouse", "us-east-1"),
    ("data", "etl", "ap-southeast-1"),
    ("data", "reports", "eu-west-1"),
    ("platform", "ci", "ap-southeast-1"),
    ("platform", "monitoring", "ap-southeast-1"),
    ("search", "indexer", "ap-southeast-1"),
]
KINDS = {
    "db": ("Database credentials for {app}", 30),
    "api-key": ("Third-party API key used by {app}", 90),
    "oauth-client": ("OAuth client secret of {app}", 60),
}
KMS_KEYS = {
    "payments": "alias/payments-secrets",
    "identity": "alias/identity-secrets",
}


class Clock:
    """Moves the peer's clock: the offset from now, in days, that libfaketime reads."""

    def __init__(self, path):
        self.path = path

    def set(self, day):
        if self.path:
            with open(self.path, "w") as clock:
                clock.write(f"{day:+d}d\n" if day else "+0\n")


def value():
    return json.dumps({"secret": secrets.token_urlsafe(24)})


def plan_estate():
    """Every secret with what happens to it on which day (0 is today, -200 the first day)."""
    rng = random.Random(7)
    estate = []
    for team, app, region in APPLICATIONS:
        for env in ["prod", "staging"]:
            for kind, (description, interval) in KINDS.items():
                name = f"{env}/{app}/{kind}"
                created = -rng.randint(120, HISTORY_DAYS)
                secret = {
                    "name": name,
                    "region": region,
                    "description": description.format(app=app),
                    "tags": {"team": team, "env": env, "app": app},
                    "kms": KMS_KEYS.get(team) if env == "prod" else None,
                    "created": created,
                    # Most production secrets rotate; staging ones mostly do not.
                    "interval": interval if env == "prod" or rng.random() < 0.4 else None,
                    "stop_rotating": None,
                    "updates": [],
                    "labels": [],
                    "policy": None,
                    "replicas": [],
                    "delete": None,
                    "stuck": None,
                }
                if kind == "api-key" and secret["interval"] is None:
                    # Changed by hand every few weeks: many versions.
                    secret["updates"] = list(range(created + 14, 0, 14))
                estate.append(secret)
    by_name = {(s["region"], s["name"]): s for s in estate}

    def secret(region, name):
        return by_name[(region, name)]

    # Rotation stopped working some time ago (after having worked for a while).
    for region, name, stopped in [
        ("us-east-1", "prod/ledger/db", -75),
        ("eu-west-1", "prod/reports/oauth-client", -130),
        ("ap-southeast-1", "prod/ci/api-key", -120),
    ]:
        secret(region, name)["stop_rotating"] = stopped
        secret(region, name)["created"] = min(secret(region, name)["created"], stopped - 30)
    # A rotation began three days ago and its function never finished it.
    secret("us-east-1", "prod/checkout/db")["stuck"] = -3
    # Releases pin versions with labels of their own.
    for region, name in [("us-east-1", "prod/sso/oauth-client"), ("eu-west-1", "staging/billing/api-key")]:
        secret(region, name)["labels"] = [(-40, "release-2026-10"), (-12, "release-2026-11")]
    # Shared beyond the account, once by mistake.
    secret("us-east-1", "prod/warehouse/api-key")["policy"] = "public"
    secret("eu-west-1", "prod/billing/db")["policy"] = "cross-account"
    # Retired.
    secret("ap-southeast-1", "staging/monitoring/oauth-client")["delete"] = -2
    secret("eu-west-1", "staging/directory/oauth-client")["delete"] = -5
    # Replicated for disaster recovery.
    secret("us-east-1", "prod/checkout/api-key")["replicas"] = ["eu-west-1"]
    secret("us-east-1", "prod/sso/db")["replicas"] = ["eu-west-1", "ap-southeast-1"]
    return estate


def policy_document(kind, arn_region, account):
    if kind == "public":
        statement = {
            "Sid": "LegacyPublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    else:
        statement = {
            "Sid": "PartnerReads",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{PARTNER_ACCOUNT}:role/partner-reader"},
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": "*",
        }
    own = {
        "Sid": "AppReads",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:role/{arn_region}-app"},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [own, statement]})


def rotation_function(session, name):
    """A rotation Lambda (with the role Lambda requires) in the session's account."""
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = session.client("iam", region_name="us-east-1").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("rotate.py", "def handler(event, context):\n    return None\n")
    return session.client("lambda", region_name="us-east-1").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="rotate.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]


def organisation():
    """Makes the Organization with its prod and dev accounts; returns a boto3 session acting
    in each environment's account (the peer's own credentials for the management account)."""
    # The same account ids run after run (the peer draws them from its own random source,
    # which this seeds), so a restarted demo finds its accounts as it left them.
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/seed?a=22", method="POST"))
    org = boto3.client("organizations", region_name="us-east-1")
    try:
        org.create_organization(FeatureSet="ALL")
    except org.exceptions.AlreadyInOrganizationException:
        pass
    existing = {account["Name"]: account["Id"] for account in org.list_accounts()["Accounts"]}
    sessions = {"management": boto3.Session()}
    for env, name in [("prod", "prod"), ("staging", "dev")]:
        account = existing.get(name) or org.create_account(
            AccountName=name, Email=f"aws-{name}@example.org"
        )["CreateAccountStatus"]["AccountId"]
        credentials = boto3.client("sts", region_name="us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", RoleSessionName="demo-seed"
        )["Credentials"]
        sessions[env] = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
    return sessions


def seed(clock, sessions):
    """Seeds the estate; `sessions` (from organisation()) puts each environment in its own
    account, else everything is in the peer's own."""
    estate = plan_estate()
    if sessions:
        for name, region, team in MANAGEMENT_SECRETS:
            client = sessions["management"].client("secretsmanager", region_name=region)
            client.create_secret(
                Name=name,
                Description=f"Organisation-wide credential kept by {team}",
                SecretString=value(),
                Tags=[{"Key": "team", "Value": team}, {"Key": "env", "Value": "org"}],
            )
        # Rotation turned on for a new secret, and its first rotation not run yet.
        client = sessions["prod"].client("secretsmanager", region_name="us-east-1")
        client.create_secret(
            Name="prod/payouts/db",
            Description="Database credentials for payouts",
            SecretString=value(),
            Tags=[{"Key": "team", "Value": "payments"}, {"Key": "env", "Value": "prod"}],
        )
        client.rotate_secret(
            SecretId="prod/payouts/db",
            RotationLambdaARN=rotation_function(sessions["prod"], "payouts-db-rotation"),
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=False,
        )
    session = boto3.Session()
    clients = {
        (env, region): (sessions.get(env, session) if sessions else session).client(
            "secretsmanager", region_name=region
        )
        for env in ["prod", "staging"]
        for region in REGIONS
    }
    owners = {
        env: (sessions.get(env, session) if sessions else session)
        .client("sts", region_name="us-east-1")
        .get_caller_identity()["Account"]
        for env in ["prod", "staging"]
    }
    for day in range(-HISTORY_DAYS, 1):
        clock.set(day)
        for secret in estate:
            client = clients[(secret["tags"]["env"], secret["region"])]
            name = secret["name"]
            if day == secret["created"]:
                create = {
                    "Name": name,
                    "Description": secret["description"],
                    "SecretString": value(),
                    "Tags": [{"Key": k, "Value": v} for k, v in secret["tags"].items()],
                }
                if secret["kms"]:
                    create["KmsKeyId"] = secret["kms"]
                if secret["replicas"]:
                    create["AddReplicaRegions"] = [{"Region": r} for r in secret["replicas"]]
                client.create_secret(**create)
                if secret["policy"]:
                    client.put_resource_policy(
                        SecretId=name,
                        ResourcePolicy=policy_document(
                            secret["policy"], secret["region"], owners[secret["tags"]["env"]]
                        ),
                    )
                secret["last_rotated"] = None
            if day < secret["created"]:
                continue
            if secret["delete"] is not None and day > secret["delete"]:
                continue
            pending = secret["stuck"] is not None and day > secret["stuck"]
            interval = secret["interval"]
            stop = secret["stop_rotating"] if secret["stop_rotating"] is not None else 0
            last = secret.get("last_rotated")
            due = last is None or day - last >= interval if interval else False
            if interval and day <= stop and due and not pending:
                client.rotate_secret(
                    SecretId=name, RotationRules={"AutomaticallyAfterDays": interval}
                )
                secret["last_rotated"] = day
            if day in secret["updates"]:
                client.put_secret_value(SecretId=name, SecretString=value())
            for labelled_on, label in secret["labels"]:
                if day == labelled_on:
                    current = current_version(client, name)
                    client.update_secret_version_stage(
                        SecretId=name, VersionStage=label, MoveToVersionId=current
                    )
                    client.put_secret_value(SecretId=name, SecretString=value())
            if day == secret["stuck"]:
                # A rotation function's first step (createSecret) made the pending version;
                # the function then failed and nothing finished the rotation.
                client.put_secret_value(
                    SecretId=name, SecretString=value(), VersionStages=["AWSPENDING"]
                )
            if day == secret["delete"]:
                client.delete_secret(SecretId=name, RecoveryWindowInDays=14)
    return estate


def grant_access(sessions):
    """The IAM roles that read the secrets, each granted its application's: and two that
    show what Trailkeeper's Who can read is for — a retired reporting job still granted the
    production reports secrets (an unused grant) and a break-glass role granted everything
    (a broad grant)."""
    session = boto3.Session()
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    decrypt = {"Sid": "Decrypt", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}

    def role(env, name, statement):
        iam = (sessions.get(env, session) if sessions else session).client("iam", region_name="us-east-1")
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName=name, PolicyName="secrets", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [statement, decrypt]}))

    def reads(env, app):
        return {"Sid": "ReadOwnSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                "Resource": f"arn:aws:secretsmanager:*:*:secret:{env}/{app}/*"}

    for _, app, _ in APPLICATIONS:
        for env in ["prod", "staging"]:
            role(env, f"{app}-{env}-task", reads(env, app))
    role("prod", "reports-legacy-task", reads("prod", "reports"))
    role("prod", "ops-break-glass", {"Sid": "BreakGlass", "Effect": "Allow",
                                     "Action": "secretsmanager:*", "Resource": "*"})


def current_version(client, name):
    versions = client.list_secret_version_ids(SecretId=name)["Versions"]
    return next(v["VersionId"] for v in versions if "AWSCURRENT" in v.get("VersionStages", []))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clock", help="the AWS peer's libfaketime offset file")
    parser.add_argument(
        "--organization",
        action="store_true",
        help="an Organization: management, prod and dev accounts",
    )
    args = parser.parse_args()
    clock = Clock(args.clock)
    sessions = organisation() if args.organization else None
    try:
        estate = seed(clock, sessions)
        grant_access(sessions)
    finally:
        clock.set(0)
    replicas = sum(len(s["replicas"]) for s in estate)
    print(
        f"demo estate: {len(estate)} secrets (+{replicas} replicas) in {', '.join(REGIONS)}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
