"""The pip requirements a logged model records: its packages pinned to the installed versions.

Every pyfunc model is logged with them given: without, MLflow infers them by loading the model in
a subprocess and watching what it imports, 3-8 s per logged model on 2 cores (measured: 8.1 s
against 0.06 s for the same model with its requirements given), paid by every policy
registration, retrain and gate test."""

from __future__ import annotations

from importlib import metadata


def pinned(*dists: str) -> list[str]:
    """``dist==<installed version>`` for each installed distribution of ``dists`` (one that is
    not installed is left out: a requirement it cannot meet would only break the model's env)."""
    out = []
    for dist in dists:
        try:
            out.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return out
