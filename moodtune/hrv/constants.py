"""Names shared by every part of the HRV domain (and by the policy and the service)."""

from __future__ import annotations

# The eight metrics of seed A's stress model, named and in the units of the SWELL table:
# ms (MEAN_RR, SDRR, RMSSD), bpm (HR), % (pNN50), ms² (VLF, LF, HF).
METRIC_COLUMNS: tuple[str, ...] = ("MEAN_RR", "SDRR", "HR", "RMSSD", "pNN50", "VLF", "LF", "HF")
LEVELS: tuple[str, ...] = ("low", "medium", "high")
UNITS: dict[str, str] = {
    "MEAN_RR": "ms", "SDRR": "ms", "HR": "bpm", "RMSSD": "ms", "pNN50": "%",
    "VLF": "ms²", "LF": "ms²", "HF": "ms²",
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
