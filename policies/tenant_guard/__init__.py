"""Rules of the tenant-guard pack: plain check functions plus the metadata a compliance reviewer
reads, wrapped into CrossGuard policies by `tenant_guard.rule`."""
