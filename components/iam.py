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
