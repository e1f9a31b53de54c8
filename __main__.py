"""Insurance platform. One project, two kinds of stack (catalog/stacks.py): a region's platform
stack (`prod-us-east-1`) and one stack per tenant per region (`prod-us-east-1.harbor-mutual`)."""

from pathlib import Path

import pulumi

from catalog import ConfigError
from catalog.loader import load_settings, stack_tenant
from catalog.stacks import StackName
from components.shared.providers import config_value
from programs import platform, tenant

try:
    stack = StackName.parse(pulumi.get_stack())
    settings = load_settings(config_value, pulumi.get_project(), stack.platform, Path(__file__).parent)
    served = stack_tenant(settings, stack)
except ConfigError as error:
    raise pulumi.RunError(str(error)) from None

if served is None:
    platform.build(settings)
else:
    tenant.build(settings, served)
