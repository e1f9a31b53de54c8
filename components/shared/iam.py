"""Small helpers that render IAM and KMS policy documents as JSON strings."""

import json
from typing import Any


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def account_root_statement(account_id: str) -> dict[str, Any]:
    """Key administration stays with the account's IAM (no lockout); use is granted by IAM."""
    return {
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def logs_statement(region: str, account_id: str, sid: str = "CloudWatchLogsInThisAccountAndRegion") -> dict[str, Any]:
    """CloudWatch Logs of this account and region may use the key for its log groups (and only
    there: the encryption context names the log group's ARN)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:*"}},
    }


def logs_key_policy(account_id: str, region: str) -> str:
    """A key for log groups: the account's IAM administers it, CloudWatch Logs here uses it."""
    return document(account_root_statement(account_id), logs_statement(region, account_id))


def service_trust(service: str, account_id: str) -> str:
    """Trust policy for an AWS service, confined to this account (confused-deputy guard)."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )
