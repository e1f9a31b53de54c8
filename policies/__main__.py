"""Entry point Pulumi runs for `--policy-pack policies`: serves the same policy objects the
offline evaluator (`make policy`) runs."""

from pulumi_policy import PolicyPack

from tenant_guard.pack import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES)
