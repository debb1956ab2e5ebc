"""Dagster assets, one module per group. Thin adapters: call ``moodtune``, log, return."""
