"""DR report from the plans of every stack of an environment: per tenant, its tier's RPO/RTO, the
mechanisms that meet it and where each copy lives — read from what the stacks would create.

The data path (issue 14) is in it too: the tenant's DynamoDB table (point-in-time recovery window in
its home region; its AWS Backup recovery points follow the tenant's backup plan, copies included),
and what stays region-local: the event stream and its landing bucket are in the home region only
and nothing copies them (`REGION_LOCAL_REASON`)."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from catalog.tiers import TIERS


def _hours(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes >= 60 else f"{minutes} min"


# Why the event stream and landing bucket have no copy in another region, as the report says it.
REGION_LOCAL_REASON = (
    "home region only, no cross-region copy: a single-region residency forbids one; for the others the "
    "events are derived from the database and table records, which are copied, and the warehouse load "
    "(issue 14 item 6) is where a copy inside the residency is decided"
)
TABLE = "aws:dynamodb/table:Table"
STREAM = "aws:kinesis/stream:Stream"


def _table_copies(plan: Mapping[str, Any]) -> dict[str, set[str]]:
    """tenant -> regions its table's AWS Backup recovery points are copied to: a selection holding a
    table ARN, and the copy actions of the backup plan it belongs to (its dependency)."""
    by_urn = {r["urn"]: r for r in plan["resources"]}
    copies: dict[str, set[str]] = defaultdict(set)
    for r in plan["resources"]:
        if r["type"] != "aws:backup/selection:Selection" or not r.get("tenant"):
            continue
        if not any(":dynamodb:" in str(a) for a in r["inputs"].get("resources", [])):
            continue
        for dep in r.get("options", {}).get("dependsOn", []):
            backup_plan = by_urn.get(dep)
            if backup_plan is None or backup_plan["type"] != "aws:backup/plan:Plan":
                continue
            for rule in backup_plan["inputs"].get("rules", []):
                for action in rule.get("copyActions", []):
                    copies[r["tenant"]].add(action["destinationVaultArn"].split(":")[3])
    return copies


def mechanisms(plans: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """tenant -> {tier, home, mechanisms: [(mechanism, region)], traffic: [...], region_local:
    [(what, region)]} from the plans."""
    found: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"mechanisms": set(), "traffic": set(), "region_local": set()}
    )
    for plan in plans:
        region = plan["region"]
        for tenant, regions in _table_copies(plan).items():
            found[tenant]["mechanisms"] |= {("DynamoDB table recovery points (AWS Backup copy)", r) for r in regions}
        for r in plan["resources"]:
            tenant, i = r.get("tenant"), r["inputs"]
            if not tenant:
                continue
            entry = found[tenant]
            tier = (i.get("tags") or {}).get("tier") or ((i.get("metadata") or {}).get("labels") or {}).get("tier")
            if tier and not entry.get("tier"):
                entry["tier"] = tier
            m = entry["mechanisms"]
            if r["type"] == "aws:rds/instance:Instance":
                if "replicateSourceDb" not in i and "restoreToPointInTime" not in i:
                    entry["home"] = region
                    m.add(("primary database", region))
                    if i.get("multiAz"):
                        m.add(("Multi-AZ standby", region))
                    m.add((f"automated backups, point-in-time restore ({i.get('backupRetentionPeriod')} d)", region))
                elif str(i.get("replicateSourceDb", "")).startswith("arn:"):
                    m.add(("cross-region read replica", region))
                elif "replicateSourceDb" in i:
                    m.add(("same-region read replica", region))
            elif r["type"] == "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication":
                m.add(("replicated automated backups", region))
            elif r["type"] == TABLE:
                pitr = i.get("pointInTimeRecovery") or {}
                days = pitr.get("recoveryPeriodInDays", 35) if pitr.get("enabled") else None
                m.add(
                    (
                        f"DynamoDB table, point-in-time recovery ({days} d)" if days else "DynamoDB table, no PITR",
                        region,
                    )
                )
                m.add(("DynamoDB table in AWS Backup daily recovery points", region))
            elif r["type"] == STREAM:
                entry["region_local"].add((f"event stream ({i.get('retentionPeriod')} h replay)", region))
            elif r["type"] == "aws:s3/bucket:Bucket" and (i.get("tags") or {}).get("purpose") == "event-landing":
                entry["region_local"].add(("event landing bucket", region))
            elif r["type"] == "aws:backup/plan:Plan":
                m.add(("AWS Backup daily recovery points", region))
                for rule in i.get("rules", []):
                    for action in rule.get("copyActions", []):
                        m.add(("AWS Backup copy", action["destinationVaultArn"].split(":")[3]))
            elif r["type"] == "aws:s3/bucketReplicationConfig:BucketReplicationConfig":
                for rule in i.get("rules", []):
                    key = rule.get("destination", {}).get("encryptionConfiguration", {}).get("replicaKmsKeyId", "")
                    m.add(("document replication", key.split(":")[3] if key.count(":") > 3 else "?"))
            elif r["type"] == "aws:s3/bucket:Bucket" and str(i.get("bucket", "")).endswith("-data-dr"):
                m.add(("document replica bucket", region))
            elif r["type"] == "aws:route53/record:Record" and i.get("latencyRoutingPolicies"):
                entry["traffic"].add(f"API latency record + health check in {region}")
            elif r["type"] == "aws:cloudfront/distribution:Distribution":
                order = " → ".join(o["originId"] for o in i.get("origins", []))
                failover = "with origin failover" if i.get("originGroups") else "single region"
                entry["traffic"].add(f"front-end CloudFront {order} ({failover})")
    return {
        t: {
            **v,
            "mechanisms": sorted(v["mechanisms"], key=lambda x: (x[1], x[0])),
            "traffic": sorted(v["traffic"]),
            "region_local": sorted(v["region_local"], key=lambda x: (x[1], x[0])),
        }
        for t, v in found.items()
    }


def render_report(plans: Sequence[Mapping[str, Any]], residency: Mapping[str, Sequence[str]]) -> str:
    lines = [
        "# Disaster recovery report",
        "",
        f"From the offline plans of {', '.join(p['stack'] for p in plans)}.",
        "",
        "| tenant | tier | RPO / RTO | home | residency | mechanisms (where) | traffic | region-local (no copy) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tenant, entry in sorted(mechanisms(plans).items()):
        tier = TIERS.get(entry.get("tier") or "")
        target = f"{_hours(tier.rpo_minutes)} / {_hours(tier.rto_minutes)}" if tier else "?"
        where = "; ".join(f"{m} ({r})" for m, r in entry["mechanisms"])
        regions = set(residency.get(tenant, ()))
        copies = {r for _, r in entry["mechanisms"]} - {entry.get("home")}
        note = "" if copies else " **no cross-region copy (single-region residency)**"
        lines.append(
            f"| {tenant} | {entry.get('tier')} | {target} | {entry.get('home', '?')} | {', '.join(sorted(regions))} "
            f"| {where}{note} | {'; '.join(entry['traffic'])} "
            f"| {'; '.join(f'{w} ({r})' for w, r in entry['region_local'])} |"
        )
    lines += ["", f"Region-local: the event stream and its landing bucket are kept in the {REGION_LOCAL_REASON}."]
    return "\n".join(lines) + "\n"
