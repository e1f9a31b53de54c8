"""Backups and disaster recovery: vaults, Velero, cross-region copies, DR replicas."""
