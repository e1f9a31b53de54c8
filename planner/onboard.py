"""Onboarding in one pull request: the tenant's catalog file and its entry in the compliance-owned
residency registry (`policies/config/<environment>.json`), written together so the pull request
holds both and CODEOWNERS brings in compliance for the second.

    python -m planner onboard --environment prod --id acme-mutual --name "Acme Mutual" \\
        --tier standard --home us-east-1 --regions us-east-1,us-west-2 \\
        --residency us-east-1,us-west-2 --domain portal.acmemutual.example.com \\
        --contact "Acme IT Operations <it-ops@acmemutual.example.com>"

The file is validated by the same loader the program uses, alone and within its catalog, before
anything is written; a mistake is one line naming the file and field, and nothing is written."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from catalog import ConfigError
from catalog.loader import load_catalog, parse_tenant
from planner.fleet import platform_stacks
from planner.stackconfig import read_stack_config

REGISTRY_KEY = ("tenant-data-residency", "residency")
_CONTACT = re.compile(r"^\s*(?P<name>[^<>]+?)\s*<(?P<email>[^<>\s]+)>\s*$")


@dataclass(frozen=True)
class Onboarding:
    environment: str
    tenant_id: str
    display_name: str
    tier: str
    home_region: str
    regions: tuple[str, ...]
    residency: tuple[str, ...]
    domain: str
    contacts: tuple[str, ...]  # "Name <email>"


def tenant_file(o: Onboarding) -> str:
    """The catalog file, in the README's format (flow lists, one contact per line)."""
    contacts = []
    for i, contact in enumerate(o.contacts):
        found = _CONTACT.match(contact)
        if not found:
            raise ConfigError("make onboard", f"CONTACT[{i}]", f"'{contact}' is not 'Name <email>'")
        contacts.append({"name": found["name"], "email": found["email"]})
    document = {
        "id": o.tenant_id,
        "displayName": o.display_name,
        "tier": o.tier,
        "homeRegion": o.home_region,
        "regions": list(o.regions),
        "residency": list(o.residency),
        "domain": o.domain,
        "contacts": contacts,
    }
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True)
    return f"# Onboarded with `make onboard`; the residency registry entry is in policies/config/{o.environment}.json.\n{text}"


def onboard(o: Onboarding, root: Path) -> tuple[Path, Path]:
    """Write the tenant file and its registry entry; returns their paths. Refuses an existing
    tenant, and anything the loader refuses, before writing either."""
    catalog = root / "tenants" / o.environment
    config = root / "policies" / "config" / f"{o.environment}.json"
    path = catalog / f"{o.tenant_id}.yaml"
    shown = path.relative_to(root).as_posix()
    if not catalog.is_dir() or not config.is_file():
        raise ConfigError(
            "make onboard", "ENV", f"no catalog tenants/{o.environment}/ with policies/config/{o.environment}.json"
        )
    if path.exists():
        raise ConfigError(shown, "id", f"tenant '{o.tenant_id}' already has a catalog file")
    text = tenant_file(o)
    parse_tenant(shown, text, o.tenant_id)  # the program's own validation, field by field
    stacks = [s for s in platform_stacks(root) if s == o.environment or s.startswith(f"{o.environment}-")]
    served = {read_stack_config(root, s).region: s for s in stacks}
    for region in o.regions:
        if region not in served:
            raise ConfigError(
                shown, "regions", f"no {o.environment} stack runs in {region} (stacks: {', '.join(sorted(stacks))})"
            )
    registry_text = config.read_text(encoding="utf-8")
    document = json.loads(registry_text)
    registry = document.setdefault(REGISTRY_KEY[0], {}).setdefault(REGISTRY_KEY[1], {})
    if o.tenant_id in registry:
        raise ConfigError(
            config.relative_to(root).as_posix(), ".".join(REGISTRY_KEY), f"already registers '{o.tenant_id}'"
        )
    path.write_text(text, encoding="utf-8")
    try:
        load_catalog(catalog, root)  # within its catalog: unique ids and domains, no domain under another's
    except ConfigError:
        path.unlink()
        raise
    registry[o.tenant_id] = list(o.residency)
    document[REGISTRY_KEY[0]][REGISTRY_KEY[1]] = dict(sorted(registry.items()))
    config.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path, config
