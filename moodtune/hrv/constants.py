"""Names shared by every part of the HRV domain (and by the policy, the feedback store and the
service): the one definition of the stress levels, the metric names and the artefact types.

No imports: ``moodtune.settings`` and ``moodtune.feedback`` read these without loading the domain."""

from __future__ import annotations

# The eight metrics of seed A's stress model, named and in the units of the SWELL table:
# ms (MEAN_RR, SDRR, RMSSD), bpm (HR), % (pNN50), ms² (VLF, LF, HF).
METRIC_COLUMNS: tuple[str, ...] = ("MEAN_RR", "SDRR", "HR", "RMSSD", "pNN50", "VLF", "LF", "HF")
LEVELS: tuple[str, ...] = ("low", "medium", "high")  # the stress levels, calm first
UNITS: dict[str, str] = {
    "MEAN_RR": "ms",
    "SDRR": "ms",
    "HR": "bpm",
    "RMSSD": "ms",
    "pNN50": "%",
    "VLF": "ms²",
    "LF": "ms²",
    "HF": "ms²",
}
# Frequency bands (Hz) of the Task Force of the ESC/NASPE (1996), as in SWELL and Kubios.
BANDS: dict[str, tuple[float, float]] = {"VLF": (0.0033, 0.04), "LF": (0.04, 0.15), "HF": (0.15, 0.4)}
# What a metric can be for a living person; a value outside is refused, not guessed at.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "MEAN_RR": (200.0, 3000.0),
    "SDRR": (0.0, 1000.0),
    "HR": (20.0, 300.0),
    "RMSSD": (0.0, 1000.0),
    "pNN50": (0.0, 100.0),
    "VLF": (0.0, 1e7),
    "LF": (0.0, 1e7),
    "HF": (0.0, 1e7),
}
# The beat classes of the Lipponen & Tarvainen (2019) artefact correction (neurokit2's Kubios
# method), in the order neurokit2 reports them.
ARTEFACT_TYPES: tuple[str, ...] = ("ectopic", "missed", "extra", "longshort")
# Baseline-relative stress: the log-ratio of each of these metrics to the same person's resting
# baseline (``dlog_<metric>`` = ln(metric / baseline metric)) joins the eight absolute metrics.
BASELINE_METRICS: tuple[str, ...] = ("RMSSD", "HF", "LF", "MEAN_RR")
RATIO_COLUMNS: tuple[str, ...] = tuple(f"dlog_{m}" for m in BASELINE_METRICS)
BASELINE_COLUMNS: tuple[str, ...] = tuple(f"baseline_{m}" for m in BASELINE_METRICS)
