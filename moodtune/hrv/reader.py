"""StressReader: RR intervals, a raw ECG/PPG signal or HRV metrics -> stress level, per row.

Used by the CLI (``moodtune analyze-hrv``), the service and the policy's listener simulator;
the one place HRV input is parsed. ``read(source, *, baseline=None, filename=None,
sampling_rate=None)`` accepts whatever a person has: RR intervals (a list/array, or a file with
one interval per line or an RR column), a raw ECG or PPG CSV (an ``ecg``/``ppg`` column and a
sampling rate: :mod:`moodtune.hrv.signals`), the eight metrics as a dict (scalars or lists), a
DataFrame, or a CSV file (path or raw bytes, as uploaded) with any number of rows. An optional
``baseline`` (the same person at rest, in any of the recording forms) adds the baseline-relative
features (:mod:`moodtune.hrv.baseline`) a model trained with them reads; a model trained
without them ignores it. ``predict_proba`` is the fast batch path on a metrics frame.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moodtune.errors import InvalidHRV, TooMuchHRV
from moodtune.hrv import baseline as base
from moodtune.hrv.config import HrvSettings
from moodtune.hrv.constants import BASELINE_METRICS, LEVELS, METRIC_COLUMNS, RATIO_COLUMNS
from moodtune.hrv.data import normalise_metric_columns, parse_rr_text, rr_column, validate_metrics
from moodtune.hrv.metrics import analyze
from moodtune.hrv.model import predict_levels_proba
from moodtune.hrv.signals import rate_from_comments, rr_from_frame, signal_column
from moodtune.registry.names import HRV

MODEL_NAME = HRV
PROBA_COLUMNS = tuple(f"p_{lvl}" for lvl in LEVELS)


@dataclasses.dataclass(frozen=True)
class InputCaps:
    """A work budget for uploaded text (the service's ``service.max_rr_intervals``,
    ``max_hrv_rows``, ``max_hrv_signal_samples``): the lines of a file are counted before any
    parsing, so an oversized upload is refused in milliseconds (:class:`~moodtune.errors.TooMuchHRV`, 413)."""

    max_intervals: int
    max_rows: int
    max_samples: int


class StressReader:
    """A fitted stress model (anything with ``predict_proba`` and ``classes_``) and the ``hrv``
    settings that turn RR intervals into its input: ``config`` (``hrv.metrics``), ``limits``
    (``hrv.input.signal``) and ``max_bytes`` (``hrv.input.max_file_bytes``)."""

    def __init__(self, model: Any, settings: HrvSettings, version: str | None = None):
        self.model = model
        self.config = settings.metrics
        self.limits = settings.input.signal
        self.max_bytes = settings.input.max_file_bytes
        self.version = version
        self.caps: InputCaps | None = None  # the CLI reads whatever it is given
        names = [str(c) for c in (getattr(model, "feature_names_", None) or METRIC_COLUMNS)]
        # a model trained with the baseline-relative features reads them (NaN: no baseline given)
        self.features: tuple[str, ...] = (
            tuple(names) if set(names) <= {*METRIC_COLUMNS, *RATIO_COLUMNS} else METRIC_COLUMNS
        )

    def with_limits(self, **changes: Any) -> StressReader:
        """The same model with other signal limits (fields of ``hrv.input.signal``, e.g. a service's
        shorter ``max_seconds``)."""
        other = copy.copy(self)
        other.limits = self.limits.model_validate({**self.limits.model_dump(), **changes})
        return other

    def with_caps(self, caps: InputCaps | None) -> StressReader:
        """The same model refusing uploads over ``caps`` before reading them."""
        other = copy.copy(self)
        other.caps = caps
        return other

    @property
    def uses_baseline(self) -> bool:
        return any(c in RATIO_COLUMNS for c in self.features)

    def predict_proba(self, metrics: pd.DataFrame | np.ndarray) -> np.ndarray:
        """``(n, 3)`` probabilities of low / medium / high for a frame of the eight metrics
        (or an ``(n, 8)`` array in :data:`METRIC_COLUMNS` order), plus the ``dlog_*`` baseline
        ratios where the model reads them (missing ones are NaN: no baseline). No plausibility checks."""
        if isinstance(metrics, pd.DataFrame):
            x = normalise_metric_columns(metrics)
            missing = [c for c in METRIC_COLUMNS if c not in x.columns]
            if missing:
                raise InvalidHRV(f"the metrics lack the columns {', '.join(missing)}")
            x = x.reindex(columns=list(self.features)).astype(float)
        else:
            arr = np.asarray(metrics, dtype=float)
            if arr.ndim != 2 or arr.shape[1] not in (len(METRIC_COLUMNS), len(self.features)):
                raise InvalidHRV(
                    f"metrics must be an (n, {len(METRIC_COLUMNS)}) array in the order "
                    f"{', '.join(METRIC_COLUMNS)}; got shape {arr.shape}"
                )
            x = pd.DataFrame(arr, columns=list(self.features[: arr.shape[1]])).reindex(
                columns=list(self.features)
            )
        if len(x) == 0:
            return np.zeros((0, len(LEVELS)))
        return predict_levels_proba(self.model, x)

    # --- the forgiving path --------------------------------------------------------------

    def read(
        self,
        source: Any,
        *,
        baseline: Any = None,
        filename: str | None = None,
        sampling_rate: float | None = None,
    ) -> pd.DataFrame:
        """Stress level and probabilities per row: columns ``level, p_low, p_medium, p_high``.

        ``source`` and ``baseline`` take any form in the module doc (raw upload bytes included;
        ``filename`` names them in messages); ``sampling_rate`` (Hz) is that of a raw ECG/PPG
        signal without a time column or a rate comment. The metrics read are added as columns (for
        a recording, RR or a signal, also its artefact counts per type); with a baseline, ``dlog_*``
        and the baseline's own metrics, ``baseline_<metric>``.
        """
        metrics, extra = self._to_metrics(source, filename, sampling_rate)
        if baseline is not None:
            try:
                ref, _ = self._to_metrics(baseline, "the baseline", sampling_rate)
            except InvalidHRV as exc:
                message = str(exc)
                raise type(exc)(message if "baseline" in message else f"the baseline: {message}") from None
            if len(ref) != 1:
                raise InvalidHRV(
                    f"the baseline must be one recording (RR intervals, an ECG/PPG signal or one row of "
                    f"metrics); got {len(ref)} rows"
                )
            rest = ref.iloc[0][list(METRIC_COLUMNS)].astype(float)
            ratios = base.ratios(base.attach(metrics, rest[list(BASELINE_METRICS)].to_dict()))
            metrics = pd.concat([metrics, ratios], axis=1)
            # the baseline's eight metrics go out too: feedback stores them, so retraining reads alike
            ratios = ratios.assign(**{f"baseline_{m}": float(rest[m]) for m in METRIC_COLUMNS})
            extra = ratios if extra is None else pd.concat([extra, ratios.set_index(extra.index)], axis=1)
        proba = self.predict_proba(metrics)
        out = pd.DataFrame(proba, columns=list(PROBA_COLUMNS), index=metrics.index)
        out.insert(0, "level", np.asarray(LEVELS)[proba.argmax(axis=1)])
        if extra is not None:
            out = pd.concat([out, extra.set_index(out.index)], axis=1)
        return out.reset_index(drop=True)

    def _to_metrics(
        self, data: Any, where: str | None = None, sampling_rate: float | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        rate = sampling_rate
        if isinstance(data, (bytes, bytearray, memoryview)):
            return self._from_text(self._decode(bytes(data)), where or "the upload", rate)
        if isinstance(data, (str, Path)):
            path = Path(data)
            if not path.is_file():
                raise InvalidHRV(
                    f"{path} is not a file; give an RR-interval file, an ECG/PPG CSV or a metrics CSV"
                )
            if path.stat().st_size > self.max_bytes:
                raise InvalidHRV(f"{path.name} is larger than {self.max_bytes / 1_000_000:g} MB")
            return self._from_text(self._decode(path.read_bytes()), path.name, rate)
        if isinstance(data, pd.DataFrame):
            return self._from_frame(data, where or "the table", rate)
        if isinstance(data, pd.Series):
            data = data.to_dict() if not pd.api.types.is_numeric_dtype(data.index) else data.to_numpy()
        if isinstance(data, Mapping):
            if not data:
                raise InvalidHRV(
                    f"no metrics given; need the eight metrics {', '.join(METRIC_COLUMNS)} or RR intervals"
                )
            values = {k: (v if np.ndim(v) else [v]) for k, v in data.items()}
            try:
                frame = pd.DataFrame(values)
            except ValueError as exc:
                raise InvalidHRV(
                    f"the metrics could not form a table ({exc}); give one value (or "
                    "equally long lists) per metric"
                ) from None
            return self._from_frame(frame, where or "the metrics", rate)
        if data is None:
            raise InvalidHRV("no HRV data given; give RR intervals (ms) or the eight metrics")
        return self._from_rr(data)

    def _from_rr(self, rr: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        result = analyze(rr, self.config)
        row = result.as_dict()
        metrics = pd.DataFrame([{k: row[k] for k in METRIC_COLUMNS}])
        extra = pd.DataFrame([{k: v for k, v in row.items() if k not in METRIC_COLUMNS}])
        return metrics, pd.concat([metrics, extra], axis=1)

    def _from_frame(
        self, frame: pd.DataFrame, where: str, rate: float | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        if signal_column(frame) is not None:
            return self._from_rr(
                rr_from_frame(
                    frame,
                    self.limits,
                    min_intervals=self.config.min_intervals,
                    sampling_rate=rate,
                    where=where,
                )
            )
        col = rr_column(frame)
        has_metrics = any(
            str(c).strip().lower() in {m.lower() for m in METRIC_COLUMNS} for c in frame.columns
        )
        if col is not None and not has_metrics:
            values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
            return self._from_rr(values)
        table = validate_metrics(frame, where)
        return table, table.copy()  # the metrics read go out with the levels (feedback stores them)

    def _from_text(
        self, text: str, where: str, rate: float | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if not lines:
            raise InvalidHRV(f"{where} is empty; give RR intervals (ms, one per line) or a metrics CSV")
        header = {cell.strip().strip('"').lower() for cell in re.split(r"[,;\t]", lines[0])}
        is_signal = signal_column(pd.DataFrame(columns=sorted(header))) is not None
        is_metrics = not is_signal and bool(header & {m.lower() for m in METRIC_COLUMNS})
        if is_signal:
            rate = rate or rate_from_comments(text, where)
        self._check_budget(
            len(lines), where, "signal" if is_signal else "metrics" if is_metrics else "rr", rate
        )
        if is_signal or is_metrics:
            sep = next((d for d in (",", ";", "\t") if d in lines[0]), ",")
            try:
                frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep)
            except Exception as exc:  # pandas raises several parser errors
                raise InvalidHRV(f"{where} is not a readable CSV ({exc})") from None
            return self._from_frame(frame, where, rate)
        return self._from_rr(parse_rr_text(text, where))

    def _check_budget(self, n_lines: int, where: str, kind: str, rate: float | None) -> None:
        """Refuse a file over the work budget from its line count alone (before parsing)."""
        caps = self.caps
        if caps is None:
            return
        if kind == "rr" and n_lines > caps.max_intervals + 1:  # + an optional header line
            raise TooMuchHRV(
                f"{where} has {n_lines:,} lines; the limit is {caps.max_intervals:,} RR intervals "
                "(service.max_rr_intervals): send a shorter recording (about 5 minutes is enough)"
            )
        if kind == "metrics" and n_lines - 1 > caps.max_rows:
            raise TooMuchHRV(
                f"{where} has {n_lines - 1:,} rows of metrics; the limit is {caps.max_rows:,} rows "
                "(service.max_hrv_rows): send fewer rows per request"
            )
        if kind == "signal":
            samples = n_lines - 1
            if samples > caps.max_samples:
                raise TooMuchHRV(
                    f"{where} has {samples:,} samples; the limit is {caps.max_samples:,} samples "
                    "(service.max_hrv_signal_samples): send a shorter recording"
                )
            if rate and rate > 0 and samples / rate > self.limits.max_seconds:
                raise TooMuchHRV(
                    f"{where}: {samples / rate:,.0f} s of signal at {rate:g} Hz is longer than "
                    f"{self.limits.max_seconds:g} s, the limit: send a shorter recording"
                )

    def _decode(self, raw: bytes) -> str:
        if len(raw) > self.max_bytes:
            raise InvalidHRV(f"the data is larger than {self.max_bytes / 1_000_000:g} MB")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidHRV(
                "the file is not text; give RR intervals (ms, one per line), an ECG/PPG CSV or a metrics CSV"
            ) from None
