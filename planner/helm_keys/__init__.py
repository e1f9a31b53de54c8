"""Helm values key lists per chart pin (see extract.py)."""
