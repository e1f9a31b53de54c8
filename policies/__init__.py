"""The tenant-guard CrossGuard policy pack (run by `pulumi preview --policy-pack policies`)."""
