"""The master credential of a replicated tenant database, in a secret the platform owns."""

import json
from dataclasses import dataclass
from datetime import datetime

import pulumi
import pulumi_aws as aws

MASTER_USER = "platform_admin"


@dataclass
class MasterCredentialsArgs:
    identifier: str  # the database instance identifier; the secret is <identifier>/master
    kms_key_arn: pulumi.Input[str]  # the tenant's key
    tags: dict[str, str]


class MasterCredentials(pulumi.ComponentResource):
    """The master credential of a replicated database in a Secrets Manager secret the platform owns
    (tenant key, protected). RDS refuses read replicas of a source whose password it manages
    (every engine but SQL Server, RDS User Guide, Secrets Manager limitations), so a replication
    source gets its password write-only from this secret: generated once inside AWS, never in
    code or config. Rotating in Secrets Manager gives the secret a new current version; the next
    deployment writes it to RDS, because the version's creation time is the password version."""

    secret: aws.secretsmanager.Secret
    password: pulumi.Output[str]
    version: pulumi.Output[int]

    def __init__(self, name: str, args: MasterCredentialsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:MasterCredentials", name, None, opts)
        identifier, kms_key_arn, tags = args.identifier, args.kms_key_arn, args.tags
        self.secret = aws.secretsmanager.Secret(
            name,
            name=f"{identifier}/master",
            description=f"Master credential of {identifier} (a replication source)",
            kms_key_id=kms_key_arn,
            recovery_window_in_days=30,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        generated = aws.secretsmanager.get_random_password_output(
            password_length=40, exclude_punctuation=True, opts=pulumi.InvokeOutputOptions(parent=self)
        ).random_password
        initial = aws.secretsmanager.SecretVersion(
            name,
            secret_id=self.secret.id,
            secret_string=pulumi.Output.secret(
                generated.apply(lambda p: json.dumps({"username": MASTER_USER, "password": p}))
            ),
            # Generated once; later values come from rotation in Secrets Manager.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString"]),
        )
        current = aws.secretsmanager.get_secret_version_output(
            secret_id=initial.secret_id, opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[initial])
        )
        self.password = pulumi.Output.secret(current.secret_string.apply(lambda text: json.loads(text)["password"]))
        self.version = current.created_date.apply(lambda date: int(datetime.fromisoformat(date).timestamp()))
        self.register_outputs({"secretArn": self.secret.arn})
