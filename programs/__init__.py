"""The project's two Pulumi programs, one per kind of stack (catalog/stacks.py): `platform` for a
region's platform stack, `tenant` for one tenant's stack in that region. `__main__.py` picks one."""
