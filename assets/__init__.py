"""Dagster assets, one module per group. Thin adapters: call ``moodtune``, log, return."""

# Steps the policy needs (audio, hrv, listeners -> policy: the longest chain of a fresh build): the multiprocess
# executor starts them before other ready steps, so both cores are not spent on short groups
# (text, hrv, image) while the chain waits. Dagster's op tag ``dagster/priority`` (higher first).
CRITICAL_PATH = {"dagster/priority": "10"}
