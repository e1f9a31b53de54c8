"""Helpers every layer uses: tags, providers, IAM documents, Kubernetes specs, buckets, versions."""
