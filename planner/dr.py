"""DR report from the plans of every stack of an environment: per tenant, its tier's RPO/RTO, the
mechanisms that meet it and where each copy lives — read from what the stacks would create."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from catalog.tiers import TIERS


def _hours(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes >= 60 else f"{minutes} min"


def mechanisms(plans: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """tenant -> {tier, home, mechanisms: [(mechanism, region)], traffic: [...]} from the plans."""
    found: dict[str, dict[str, Any]] = defaultdict(lambda: {"mechanisms": set(), "traffic": set()})
    for plan in plans:
        region = plan["region"]
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
        t: {**v, "mechanisms": sorted(v["mechanisms"], key=lambda x: (x[1], x[0])), "traffic": sorted(v["traffic"])}
        for t, v in found.items()
    }


def render_report(plans: Sequence[Mapping[str, Any]], residency: Mapping[str, Sequence[str]]) -> str:
    lines = [
        "# Disaster recovery report",
        "",
        f"From the offline plans of {', '.join(p['stack'] for p in plans)}.",
        "",
        "| tenant | tier | RPO / RTO | home | residency | mechanisms (where) | traffic |",
        "|---|---|---|---|---|---|---|",
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
            f"| {where}{note} | {'; '.join(entry['traffic'])} |"
        )
    return "\n".join(lines) + "\n"
