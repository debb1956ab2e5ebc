"""neurokit2's Kubios thresholds without pandas: the same numbers, about 5x faster.

Each pass of neurokit2's Kubios artefact classification (``signal_fixpeaks(method="Kubios")``)
computes two time-varying thresholds with the private ``_compute_threshold(signal, alpha,
window_width)``: ``alpha * (q3 - q1) / 2`` of ``|signal|`` over a centred rolling window,
through a pandas DataFrame and two ``rolling(window, center=True, min_periods=1).quantile``
calls. On a 5-minute recording (~340 beats) that is ~1 ms of a ~4 ms pass, and two passes are
the configured correction (``benchmarks/hrv.py`` measures it). :func:`install` swaps in
:func:`rolling_quartile_threshold`, which sorts the sliding windows with NumPy and interpolates
the quartiles exactly as pandas does (``lo + (hi - lo) * fraction`` at ``q * (n - 1)``), and
falls back to neurokit2's own function for any input it does not cover (an even window, NaNs).

The classification itself is untouched. The swap is made only when
* the installed neurokit2 is a version it was checked against (:data:`CHECKED_VERSIONS`), and the
  private function is there with the expected parameters (a version guard), and
* on start-up check series (shorter and longer than the window, ties, zeros) both functions give
  bit-identical thresholds;
otherwise neurokit2 is left as it is and :data:`STATUS` says why. ``tests/test_hrv_speedup.py``
also checks identical artefacts and corrected beats on the real and simulated recordings.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# Upstream: no NeuroKit issue covers it (searched neuropsychology/NeuroKit, 2026-12); the issue to
# file is in docs/performance.md ("Patches of library internals", D). Gain: RR -> stress level on
# 5-minute recordings 12-16 % faster in five of six runs of benchmarks/hrv.py (interleaved per
# recording, load 1.5-9.3; 4 % in one run at load 2.7), median 14 %; not on benchmarks/service.py's
# JSON path (it serves analyze_hrv and feedback with an RR/ECG/PPG file). Remove when a neurokit2
# > 0.2.13 computes these thresholds without pandas (or as fast), or when this check stops
# passing for a new version (then install() leaves neurokit2 as it is by itself).
CHECKED_VERSIONS: tuple[str, ...] = ("0.2.13",)
_MODULE = "neurokit2.signal.signal_fixpeaks"
_lock = threading.Lock()
STATUS: dict[str, object] = {"installed": False, "reason": "not tried yet"}
_original = None


def rolling_quartile_threshold(signal, alpha, window_width):
    """``alpha * (q3 - q1) / 2`` of ``|signal|`` over a centred window of ``window_width`` samples
    (shorter at the ends), the quartiles linearly interpolated: pandas' rolling quantile."""
    x = np.abs(np.asarray(signal, dtype=float))
    width = int(window_width)
    if _original is not None and (x.ndim != 1 or width % 2 == 0 or width < 1 or not np.isfinite(x).all()):
        return _original(signal, alpha, window_width)
    n, half = x.size, width // 2
    if n == 0:
        return np.zeros(0)
    padded = np.concatenate([np.full(half, np.inf), x, np.full(half, np.inf)])  # +inf sorts last
    windows = np.sort(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)
    rows = np.arange(n)
    count = np.minimum(rows + half, n - 1) - np.maximum(rows - half, 0) + 1  # samples in each window

    def quantile(q: float) -> np.ndarray:
        position = (count - 1) * q
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, count - 1)
        lo, hi = windows[rows, low], windows[rows, high]
        return lo + (hi - lo) * (position - low)

    return alpha * ((quantile(0.75) - quantile(0.25)) / 2)


def _check_series() -> list[np.ndarray]:
    rng = np.random.default_rng(20190717)
    drift = np.cumsum(rng.normal(0, 0.01, 600))
    ties = np.round(rng.normal(0, 0.05, 400), 2)  # repeated values
    return [rng.normal(0, 0.05, 30), drift, ties, np.zeros(120), rng.normal(0, 0.05, 1)]


def install() -> dict[str, object]:
    """Swap neurokit2's ``_compute_threshold`` for :func:`rolling_quartile_threshold` when the
    version guard and the start-up check pass (idempotent); returns :data:`STATUS`."""
    global _original
    if STATUS["reason"] != "not tried yet":
        return STATUS
    with _lock:
        if STATUS["reason"] != "not tried yet":
            return STATUS
        import neurokit2

        module = importlib.import_module(_MODULE)
        original = getattr(module, "_compute_threshold", None)
        version = getattr(neurokit2, "__version__", "?")
        if version not in CHECKED_VERSIONS:
            STATUS.update(
                reason=f"neurokit2 {version} is not a checked version ({', '.join(CHECKED_VERSIONS)})"
            )
            return STATUS
        if original is None or list(inspect.signature(original).parameters) != [
            "signal",
            "alpha",
            "window_width",
        ]:
            STATUS.update(reason="neurokit2's _compute_threshold is missing or has other parameters")
            return STATUS
        for series in _check_series():
            for width in (91, 11):
                if not np.array_equal(
                    original(series, 5.2, width), rolling_quartile_threshold(series, 5.2, width)
                ):
                    STATUS.update(
                        reason=f"start-up check: thresholds differ (n={series.size}, window={width})"
                    )
                    return STATUS
        _original = original
        module._compute_threshold = rolling_quartile_threshold  # type: ignore[attr-defined]  # neurokit2's private
        STATUS.update(
            installed=True, reason=f"neurokit2 {version}: thresholds identical on the start-up check"
        )
        return STATUS


def uninstall() -> None:
    """Put neurokit2's own function back (tests compare the two)."""
    global _original
    with _lock:
        if _original is not None:
            importlib.import_module(_MODULE)._compute_threshold = _original  # type: ignore[attr-defined]
            _original = None
        STATUS.update(installed=False, reason="not tried yet")


@contextmanager
def switched_off() -> Iterator[None]:
    """neurokit2's own thresholds inside the block (benchmarks compare the two); the swap after."""
    uninstall()
    STATUS["reason"] = "switched off"  # install() leaves neurokit2 as it is until the block ends
    try:
        yield
    finally:
        uninstall()
        install()
