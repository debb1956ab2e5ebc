"""HRV in a request (RR intervals, the eight metrics, or an uploaded file) -> a stress reading.

The reading itself is :meth:`moodtune.hrv.reader.StressReader.read` (the CLI's too, so a file
reads the same everywhere); this module only checks that exactly one input was given and
shapes the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from moodtune.errors import InvalidHRV
from moodtune.hrv.constants import LEVELS as STRESS_LEVELS
from moodtune.serving.answers import Upload

PROBA = ("p_low", "p_medium", "p_high")


def read_hrv(
    reader,
    *,
    rr: Sequence[float] | None = None,
    metrics: Mapping[str, float] | None = None,
    upload: Upload | None = None,
    baseline: Upload | None = None,
    sampling_rate: float | None = None,
) -> dict[str, Any]:
    """Exactly one of RR intervals (ms), the eight metrics, or an uploaded file (RR, metrics or a
    raw ECG/PPG CSV; ``sampling_rate`` in Hz for a signal without a time column) -> the stress
    level, its probabilities, the metrics it was read from and how (``source``). An optional
    ``baseline`` upload (the listener at rest) is read against, where the model uses it; its
    metrics come back as ``baseline`` (feedback stores them)."""
    from moodtune.hrv import METRIC_COLUMNS

    given = [name for name, v in (("rr", rr), ("metrics", metrics), ("file", upload)) if v is not None]
    if len(given) != 1:
        raise InvalidHRV(
            "give exactly one of rr (RR intervals in ms), metrics (the eight HRV metrics) "
            f"or an RR/metrics CSV file; got {', '.join(given) or 'none'}"
        )
    ref = None if baseline is None else baseline.data
    if upload is not None:
        try:
            table = reader.read(upload.data, baseline=ref, filename=upload.name, sampling_rate=sampling_rate)
        except InvalidHRV as exc:
            raise type(exc)(f"{upload.name!r}: {exc}") from None
    else:
        table = reader.read(
            dict(metrics) if metrics is not None else np.asarray(rr, dtype=float),
            baseline=ref,
            sampling_rate=sampling_rate,
        )
    proba = table[list(PROBA)].to_numpy(dtype=float)
    from_rr = "n_intervals" in table.columns  # the reader adds the recording's counts to RR input
    used = {m: float(table[m].mean()) for m in METRIC_COLUMNS if m in table.columns}
    if not used and metrics is not None:
        used = {m: float(v) for m, v in metrics.items()}
    rest = {
        m: float(table[f"baseline_{m}"].iloc[0]) for m in METRIC_COLUMNS if f"baseline_{m}" in table.columns
    }
    extra = (
        {
            k: _plain(table[k].iloc[0])
            for k in table.columns
            if k not in METRIC_COLUMNS and k != "level" and k not in PROBA and not k.startswith("baseline_")
        }
        if from_rr
        else {}
    )
    probs = proba.mean(axis=0)
    return {
        "level": STRESS_LEVELS[int(np.argmax(probs))],
        "probabilities": {lvl: round(float(p), 6) for lvl, p in zip(STRESS_LEVELS, probs, strict=True)},
        "metrics": {k: round(v, 6) for k, v in used.items()},
        "source": "rr" if from_rr else "metrics",
        "rows": len(proba),
        "per_row": [
            {
                "level": STRESS_LEVELS[int(np.argmax(row))],
                "p_low": float(row[0]),
                "p_medium": float(row[1]),
                "p_high": float(row[2]),
            }
            for row in proba[:50]
        ],
        **({"recording": extra} if extra else {}),
        **({"baseline": {k: round(v, 6) for k, v in rest.items()}} if rest else {}),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
