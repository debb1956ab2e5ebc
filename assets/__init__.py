"""Dagster assets, one module per group. Thin adapters: call ``moodtune``, log, return."""

# Steps the served policy needs (catalog -> listeners -> policy: the longest chain of a fresh build):
# the multiprocess executor starts them before other ready steps, so both cores are not spent on
# short groups (text, image) while the chain waits. Dagster's op tag ``dagster/priority`` (higher
# first). The catalog's fetch starts first of all: on a fresh machine it waits on the network.
CRITICAL_PATH = {"dagster/priority": "10"}
FETCH_FIRST = {"dagster/priority": "20"}
