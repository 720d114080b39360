"""Writes a month of CloudTrail for the demo estate into the AWS API peer's S3, as real trail
log files (`AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/…json.gz`, one per account, region
and hour: an organisation trail's, when the peer holds an Organization), for Trailkeeper to
ingest through its S3 source, and configures the accounts' trails behind them in the peer's
CloudTrail — with a region where no trail logs reads (none are written there) and a stopped
trail, for Trail coverage and its findings, and the trail changes that made them.

The month is what a security team would see: each application's roles reading their
secrets on steady daily patterns (busier in working hours, a nightly batch job), rotation
Lambdas running createSecret/setSecret/testSecret/finishSecret between RotationStarted and
RotationSucceeded, a few RotationFailed, people using the console and the CLI, and some
AccessDenied. In its last days, a handful of incidents for detection to find: a workload
reading three other applications' secrets in minutes (one incident), credentials used from
a public address, a read spike, a catch-all batch read, a burst of refused reads, a reader
from an unknown account, a policy opened to anyone, and a person reading a key at three in
the morning. It reads the estate from the peer (seed it first), so every event names a
secret the inventory knows. Each day's events (and their IDs) depend only on that day, so a
demo started again the next day stores its overlapping days once.

Usage: demo-trail.py BUCKET [--days 35]
"""

import argparse
import gzip
import json
import random
import sys
import uuid
import zlib
from datetime import datetime, timedelta, timezone

import boto3

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-1"]
ACCOUNT = "123456789012"
MEMBER_ROLE = "OrganizationAccountAccessRole"
SOURCE = "secretsmanager.amazonaws.com"

JAVA = "aws-sdk-java/2.25.11 Linux/5.10.210 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10"
GO = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/secretsmanager#1.32.3"
PYTHON = "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.12.4 exec-env/AWS_Lambda_python3.12"
CLI = "aws-cli/2.17.12 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/prompt#off"
CONSOLE = "AWS Internal"
PEOPLE = ["alice", "bob", "carol"]
# Each application's workload: (clients, reads per hour at the busiest, a nightly batch).
WORKLOADS = {
    "checkout": (3, 14, False),
    "ledger": (2, 8, True),
    "billing": (2, 6, True),
    "sso": (3, 16, False),
    "directory": (2, 6, False),
    "warehouse": (2, 4, True),
    "etl": (2, 5, True),
    "reports": (1, 4, True),
    "ci": (1, 6, False),
    "monitoring": (2, 4, False),
    "indexer": (2, 5, False),
}
STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Trail:
    """Records by account, region and hour, made to look like CloudTrail wrote them; the
    records added are the account's whose trail is being written (`account`)."""

    def __init__(self):
        self.files = {}
        self.account = ACCOUNT
        # When each secret's rotations succeeded, by (region, ARN).
        self.rotated = {}

    def add(self, rng, moment, region, name, identity, source, agent, secret=None, read_only=True,
            error=None, parameters=None, response=None, event_type="AwsApiCall",
            additional=None, event_source=SOURCE):
        record = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": iso(moment),
            "eventSource": event_source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": source,
            "userAgent": agent,
            "requestParameters": parameters if parameters is not None
            else ({"secretId": secret} if secret else None),
            "responseElements": response,
            "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
            "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
            "readOnly": read_only,
            "eventType": event_type,
            "managementEvent": True,
            "recipientAccountId": self.account,
            "eventCategory": "Management",
        }
        if error:
            code, message = error
            if code:
                record["errorCode"] = code
            record["errorMessage"] = message
        if additional:
            record["additionalEventData"] = additional
        if secret and secret.startswith("arn:"):
            record["resources"] = [{"accountId": self.account, "type": "AWS::SecretsManager::Secret",
                                    "ARN": secret}]
        hour = moment.replace(minute=0, second=0, microsecond=0)
        self.files.setdefault((self.account, region, hour), []).append(record)


def role_identity(account, role, session):
    return {
        "type": "AssumedRole",
        "principalId": f"AROA{zlib.crc32(role.encode()):012d}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIA" + "DEMO" * 4,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROADEMO", "userName": role,
                              "arn": f"arn:aws:iam::{account}:role/{role}", "accountId": account},
            "attributes": {"creationDate": "2026-01-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def user_identity(account, user):
    return {"type": "IAMUser", "principalId": f"AIDA{user.upper()}", "accountId": account,
            "arn": f"arn:aws:iam::{account}:user/{user}", "userName": user,
            "accessKeyId": f"AKIA{user.upper()}"}


def service_identity(account):
    return {"accountId": account, "invokedBy": SOURCE}


def applications(secret):
    tags = {tag["Key"]: tag["Value"] for tag in secret.get("Tags", [])}
    return tags.get("app"), tags.get("env"), tags.get("team")


def day_rng(*parts):
    """Randomness that depends only on what it is for, not on when the script runs."""
    return random.Random("/".join(str(part) for part in parts))


def reads(trail, region, secret, start, days):
    """An application's roles reading their secret: steady, busier in working hours."""
    app, env, _ = applications(secret)
    clients, busiest, nightly = WORKLOADS.get(app, (1, 2, False))
    if env != "prod":
        busiest = max(1, busiest // 4)
    agent = {"checkout": JAVA, "ledger": JAVA, "billing": JAVA, "sso": GO, "directory": GO}.get(app, PYTHON)
    role = f"{app}-{env}-task"
    for day in range(days):
        rng = day_rng(trail.account, "reads", region, secret["Name"], (start + timedelta(days=day)).date())
        for hour in range(24):
            daytime = 8 <= hour < 20
            rate = busiest if daytime else max(1, busiest // 3)
            if nightly and hour == 2:
                rate += busiest * 4
            for client in range(clients):
                for _ in range(rng.randint(rate // 2, rate)):
                    moment = start + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))
                    address = f"10.{20 + REGIONS.index(region)}.{client + 1}.{rng.randint(10, 40)}"
                    ref = secret["Name"] if rng.random() < 0.6 else secret["ARN"]
                    trail.add(rng, moment, region, "GetSecretValue",
                              role_identity(trail.account, role, f"{app}-{client}-{moment.weekday()}"), address,
                              agent, ref)


def rotations(trail, region, secret, start, days, failing):
    """The rotation Lambda's four steps every interval, between RotationStarted and the end."""
    rules = secret.get("RotationRules", {}).get("AutomaticallyAfterDays")
    if not secret.get("RotationEnabled") or not rules:
        return
    arn = secret["ARN"]
    role = f"{applications(secret)[0]}-rotation-role"
    session = f"SecretsManagerRotation-{secret['Name'].replace('/', '-')}"
    first = day_rng(trail.account, "rotation", region, secret["Name"]).randrange(max(rules, 1))
    for day in range(first, days, rules):
        rng = day_rng(trail.account, "rotation", region, secret["Name"], (start + timedelta(days=day)).date())
        begin = start + timedelta(days=day, hours=3, minutes=rng.randrange(60))
        token = str(uuid.UUID(int=rng.getrandbits(128)))
        service = {"read_only": False, "event_type": "AwsServiceEvent", "parameters": None,
                   "additional": {"SecretId": arn}}
        trail.add(rng, begin, region, "RotationStarted", service_identity(trail.account), SOURCE, SOURCE, **service)
        moment = begin
        failed_at = STEPS.index("setSecret") if failing and day + rules >= days else None
        identity = role_identity(trail.account, role, session)
        for index, step in enumerate(STEPS):
            moment += timedelta(seconds=rng.randint(1, 4))
            calls = {
                "createSecret": [("DescribeSecret", True), ("GetSecretValue", True),
                                 ("GetRandomPassword", True), ("PutSecretValue", False)],
                "setSecret": [("GetSecretValue", True), ("GetSecretValue", True)],
                "testSecret": [("GetSecretValue", True)],
                "finishSecret": [("DescribeSecret", True), ("UpdateSecretVersionStage", False)],
            }[step]
            for name, read_only in calls:
                moment += timedelta(milliseconds=rng.randint(50, 400))
                parameters = None if name == "GetRandomPassword" else {"secretId": arn}
                if name == "PutSecretValue":
                    parameters = {"secretId": arn, "clientRequestToken": token,
                                  "versionStages": ["AWSPENDING"]}
                if name == "UpdateSecretVersionStage":
                    parameters = {"secretId": arn, "versionStage": "AWSCURRENT",
                                  "moveToVersionId": token}
                trail.add(rng, moment, region, name, identity, "lambda.amazonaws.com", PYTHON,
                          read_only=read_only, parameters=parameters)
            if failed_at == index:
                function = "arn:aws:lambda:%s:%s:function:SecretsManagerRotation-%s" % (
                    region, trail.account, secret["Name"].replace("/", "-"))
                trail.add(rng, moment + timedelta(seconds=30), region, "RotationFailed",
                          service_identity(trail.account), SOURCE, SOURCE,
                          error=(None, "Error when executing lambda %s during %s step"
                                 % (function, step)), **service)
                break
        else:
            trail.add(rng, moment + timedelta(seconds=2), region, "RotationSucceeded",
                      service_identity(trail.account), SOURCE, SOURCE, **service)
            trail.rotated.setdefault((region, arn), []).append(moment + timedelta(seconds=2))


def people(trail, region, secrets, start, days):
    """People in the console and the CLI; now and then someone is refused."""
    started = set()
    for day in range(days):
        date = (start + timedelta(days=day)).date()
        rng = day_rng(trail.account, "people", region, date)
        if date.weekday() >= 5:
            continue
        for person in PEOPLE:
            identity = role_identity(trail.account, "Admin", f"{person}@example.com") if person != "carol" \
                else user_identity(trail.account, person)
            console = person != "carol"
            # Each person reads the values of the same few secrets they own; they look
            # others up without reading them.
            own = secrets[PEOPLE.index(person) % len(secrets)::len(PEOPLE)][:2]
            if person not in started:
                # Their first working day: each reads the secrets they own.
                started.add(person)
                for secret in own:
                    moment = start + timedelta(days=day, hours=9, seconds=rng.randrange(3600))
                    trail.add(rng, moment, region, "GetSecretValue", identity,
                              "203.0.113.%d" % (10 + PEOPLE.index(person)),
                              CONSOLE if console else CLI, secret["ARN"])
            for _ in range(rng.randint(3, 12)):
                moment = start + timedelta(days=day, hours=rng.randint(9, 17),
                                           seconds=rng.randrange(3600))
                secret = rng.choice(secrets)
                agent = CONSOLE if console else CLI
                address = "203.0.113.%d" % (10 + PEOPLE.index(person))
                name = rng.choice(["DescribeSecret", "DescribeSecret", "ListSecrets",
                                   "GetResourcePolicy", "ListSecretVersionIds",
                                   "GetSecretValue", "UpdateSecret", "TagResource"])
                read_only = name not in ("UpdateSecret", "TagResource")
                if name == "ListSecrets":
                    trail.add(rng, moment, region, name, identity, address, agent, parameters={})
                elif name == "GetSecretValue":
                    trail.add(rng, moment, region, name, identity, address, agent,
                              rng.choice(own)["ARN"])
                else:
                    trail.add(rng, moment, region, name, identity, address, agent,
                              secret["ARN"], read_only=read_only)
    # A contractor's role probing secrets it has no access to, on some weekdays.
    for day in range(days):
        date = (start + timedelta(days=day)).date()
        rng = day_rng(trail.account, "probe", region, date)
        if date.weekday() != 2:
            continue
        for _ in range(rng.randint(5, 25)):
            moment = start + timedelta(days=day, hours=rng.randint(0, 23),
                                       seconds=rng.randrange(3600))
            secret = rng.choice(secrets)
            trail.add(rng, moment, region, "GetSecretValue",
                      role_identity(trail.account, "contractor-readonly", "dave"), "198.51.100.77", CLI,
                      secret["Name"],
                      error=("AccessDenied", "User: arn:aws:sts::%s:assumed-role/"
                             "contractor-readonly/dave is not authorized to perform: "
                             "secretsmanager:GetSecretValue on resource: %s because no "
                             "identity-based policy allows the secretsmanager:GetSecretValue "
                             "action" % (trail.account, secret["Name"])))


def incidents(trail, region, secrets, now):
    """What detection should find, in the demo's last days (us-east-1 only)."""
    by_name = {secret["Name"]: secret["ARN"] for secret in secrets}
    needed = ["prod/checkout/db", "prod/checkout/api-key", "prod/sso/db", "prod/ledger/api-key",
              "prod/warehouse/api-key"]
    if region != "us-east-1" or any(name not in by_name for name in needed):
        return
    # New IDs for each demo run's incidents (they are placed relative to now).
    rng = random.Random(f"incidents/{now.isoformat()}")
    day = lambda days_ago, hour, minute=0: (now - timedelta(days=days_ago)).replace(
        hour=hour, minute=minute, second=0, microsecond=0)
    # A workload reads three other applications' secrets within minutes: one incident.
    warehouse = role_identity(trail.account, "warehouse-prod-task", "warehouse-0-incident")
    for minute, name in ((12, "prod/checkout/db"), (13, "prod/checkout/db"),
                         (14, "prod/checkout/api-key"), (16, "prod/sso/db"),
                         (19, "prod/checkout/db")):
        trail.add(rng, day(3, 11, minute), region, "GetSecretValue", warehouse, "10.20.1.33",
                  PYTHON, by_name[name])
    # The checkout role's credentials, used from a public address.
    checkout = role_identity(trail.account, "checkout-prod-task", "checkout-0-incident")
    for minute in range(40, 44):
        trail.add(rng, day(2, 14, minute), region, "GetSecretValue", checkout, "198.51.100.23",
                  JAVA, by_name["prod/checkout/api-key"])
    # The SSO role reads its database credentials 1 500 times in an hour.
    sso = role_identity(trail.account, "sso-prod-task", "sso-1-incident")
    for n in range(1500):
        trail.add(rng, day(1, 15) + timedelta(seconds=n * 2.3), region, "GetSecretValue", sso,
                  "10.20.2.18", GO, by_name["prod/sso/db"])
    # A batch read whose filter matches every secret.
    trail.add(rng, day(1, 16, 5), region, "BatchGetSecretValue", warehouse, "10.20.1.33", PYTHON,
              parameters={"filters": [{"key": "tag-key", "values": ["!tagKeyThatWillNeverExist"]}]})
    # A contractor's role refused 30 times in a quarter of an hour.
    contractor = role_identity(trail.account, "contractor-readonly", "dave")
    for n in range(30):
        secret = secrets[n % len(secrets)]
        trail.add(rng, day(4, 9) + timedelta(seconds=n * 30), region, "GetSecretValue", contractor,
                  "198.51.100.77", CLI, secret["Name"],
                  error=("AccessDenied", "User: arn:aws:sts::%s:assumed-role/contractor-readonly/"
                         "dave is not authorized to perform: secretsmanager:GetSecretValue on "
                         "resource: %s" % (trail.account, secret["Name"])))
    # An account nobody knows reads the secret whose policy lets anyone in.
    stranger = role_identity(trail.account, "data-broker", "pull")
    stranger["arn"] = "arn:aws:sts::999988887777:assumed-role/data-broker/pull"
    stranger["accountId"] = "999988887777"
    stranger["sessionContext"]["sessionIssuer"].update(
        arn="arn:aws:iam::999988887777:role/data-broker", accountId="999988887777")
    for minute in (2, 7):
        trail.add(rng, day(1, 20, minute), region, "GetSecretValue", stranger, "192.0.2.200",
                  PYTHON, by_name["prod/warehouse/api-key"])
    # Carol opens a key's policy to anyone.
    public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
        "Resource": "*"}]})
    trail.add(rng, now - timedelta(hours=12), region, "PutResourcePolicy", user_identity(trail.account, "carol"),
              "203.0.113.12", CLI, read_only=False,
              parameters={"secretId": by_name["prod/ledger/api-key"], "resourcePolicy": public})
    # A reporting job deployed pinned to AWSPREVIOUS keeps reading the old value after a
    # rotation of a production secret a few days ago: a stale consumer.
    recent = sorted((ends[-1], arn) for (where, arn), ends in trail.rotated.items()
                    if where == region and "/prod/" in f"/{arn.split(':')[-1]}"
                    and timedelta(days=2) < now - ends[-1] < timedelta(days=10))
    if recent:
        ended, arn = recent[-1]
        reports = role_identity(trail.account, "reports-prod-task", "reports-nightly")
        moment = ended + timedelta(minutes=40)
        while moment < now - timedelta(hours=1):
            trail.add(rng, moment, region, "GetSecretValue", reports, "10.20.3.14", PYTHON, arn,
                      parameters={"secretId": arn, "versionStage": "AWSPREVIOUS"})
            moment += timedelta(hours=2)
    # Alice reads a key at ten past three in the morning.
    trail.add(rng, day(1, 3, 10), region, "GetSecretValue",
              role_identity(trail.account, "Admin", "alice@example.com"), "203.0.113.10", CONSOLE,
              by_name["prod/checkout/api-key"])


def trail_tampering(trail, name, now):
    """The trail changes behind Trail coverage's blind spots, as CloudTrail records them: in
    `prod`, bob stopped the regional audit trail two days ago; in `dev`, a pipeline narrowed
    the Asia Pacific trail to changes only a week ago."""
    rng = random.Random(f"tampering/{now.isoformat()}")
    if name == "prod":
        trail.add(rng, now - timedelta(days=2, hours=3), "eu-west-1", "StopLogging",
                  user_identity(trail.account, "bob"), "203.0.113.11", CLI, read_only=False,
                  event_source="cloudtrail.amazonaws.com",
                  parameters={"name": f"arn:aws:cloudtrail:eu-west-1:{trail.account}:trail/"
                                      "prod-audit-eu"})
    if name == "dev":
        trail.add(rng, now - timedelta(days=7, hours=5), "ap-southeast-1", "PutEventSelectors",
                  role_identity(trail.account, "ci-deploy", "pipeline-812"), "10.30.4.9", GO,
                  read_only=False, event_source="cloudtrail.amazonaws.com",
                  parameters={"trailName": "dev-ap-southeast-1", "advancedEventSelectors": [{
                      "name": "management changes", "fieldSelectors": [
                          {"field": "eventCategory", "equals": ["Management"]},
                          {"field": "readOnly", "equals": ["false"]}]}]})


def key_seed(region, hour):
    return f"{region}/{hour.isoformat()}".encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bucket")
    # Five weeks: a person's usual hours are learned from four.
    parser.add_argument("--days", type=int, default=35)
    arguments = parser.parse_args()
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=arguments.days)
    trail = Trail()
    found = accounts()
    for account, name, session in found:
        trail.account = account
        write_account(trail, session, start, now, arguments.days)
        trail_tampering(trail, name, now)
    # The trails deliver to the bucket, which must exist before them; what no trail logs was
    # never delivered.
    s3 = boto3.client("s3", region_name="us-east-1")
    try:
        s3.create_bucket(Bucket=arguments.bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    unlogged = configure_trails(found, arguments.bucket)
    publish(trail, arguments.bucket, now, unlogged)


def accounts():
    """The peer's own account, and each member of its Organization, if it has one (through the
    role Organizations makes in each): its id, its name and a boto3 session acting in it."""
    org = boto3.client("organizations", region_name="us-east-1")
    try:
        members = [(a["Id"], a["Name"]) for a in org.list_accounts()["Accounts"]
                   if a["Id"] != ACCOUNT]
    except org.exceptions.AWSOrganizationsNotInUseException:
        members = []
    found = [(ACCOUNT, "management", boto3.Session())]
    for member, name in members:
        credentials = boto3.client("sts", region_name="us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{member}:role/{MEMBER_ROLE}", RoleSessionName="demo-trail"
        )["Credentials"]
        found.append((member, name, boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )))
    return found


def write_account(trail, session, start, now, days):
    """The account's CloudTrail over the period, region by region."""
    for region in REGIONS:
        client = session.client("secretsmanager", region_name=region)
        listed = []
        for page in client.get_paginator("list_secrets").paginate():
            listed.extend(page["SecretList"])
        listed = [s for s in listed if not s.get("DeletedDate") and not s.get("PrimaryRegion")]
        if not listed:
            continue
        # In each region, one production database whose last rotation fails at setSecret.
        failing = [s["Name"] for s in listed if s["Name"].startswith("prod/") and
                   s["Name"].endswith("/db")][:1]
        for secret in listed:
            reads(trail, region, secret, start, days)
            rotations(trail, region, secret, start, days, secret["Name"] in failing)
        people(trail, region, listed, start, days)
        incidents(trail, region, listed, now)


def configure_trails(found, bucket):
    """The trails behind the files, as each account's CloudTrail configuration: every account
    logs all management events in every region with a trail of its own, except that in `dev`
    the Asia Pacific region is covered only by a trail of changes (a blind spot for reads), and
    that `prod` keeps a regional audit trail someone stopped. Returns the (account, region)
    places whose reads no trail logs."""
    unlogged = set()
    for account, name, session in found:
        def cloudtrail(region):
            return session.client("cloudtrail", region_name=region)
        home = cloudtrail("us-east-1")
        existing = {t["Name"] for t in home.describe_trails(includeShadowTrails=True)["trailList"]}
        if name == "dev":
            for region in REGIONS:
                trail_name = f"dev-{region}"
                if trail_name not in existing:
                    cloudtrail(region).create_trail(Name=trail_name, S3BucketName=bucket)
                    cloudtrail(region).start_logging(Name=trail_name)
                if region == "ap-southeast-1":
                    cloudtrail(region).put_event_selectors(
                        TrailName=trail_name,
                        AdvancedEventSelectors=[{"Name": "management changes", "FieldSelectors": [
                            {"Field": "eventCategory", "Equals": ["Management"]},
                            {"Field": "readOnly", "Equals": ["false"]}]}])
                    unlogged.add((account, region))
            continue
        if "account-trail" not in existing:
            home.create_trail(Name="account-trail", S3BucketName=bucket, IsMultiRegionTrail=True)
            home.start_logging(Name="account-trail")
        if name == "prod" and "prod-audit-eu" not in existing:
            cloudtrail("eu-west-1").create_trail(Name="prod-audit-eu", S3BucketName=bucket)
    return unlogged


def publish(trail, bucket, now, unlogged):
    """Each account's files under its own prefix of the one bucket, as its trails deliver them;
    no reads where no trail logs them."""
    s3 = boto3.client("s3", region_name="us-east-1")
    total = 0
    for (account, region, hour), records in sorted(trail.files.items()):
        records = [r for r in records if datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
                   .replace(tzinfo=timezone.utc) < now]
        if (account, region) in unlogged:
            records = [r for r in records if not r["readOnly"]]
        if not records:
            continue
        records.sort(key=lambda record: record["eventTime"])
        delivered = hour + timedelta(minutes=65)
        key = "AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz" % (
            account, region, hour.strftime("%Y/%m/%d"), account, region,
            delivered.strftime("%Y%m%dT%H%MZ"), "%016x" % zlib.crc32(key_seed(region, hour)))
        body = gzip.compress(json.dumps({"Records": records}).encode(), compresslevel=5)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        total += len(records)
    print(f"wrote {total} CloudTrail events in {len(trail.files)} trail files to "
          f"s3://{bucket}/", file=sys.stderr)


if __name__ == "__main__":
    main()
