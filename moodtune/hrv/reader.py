"""StressReader: RR intervals or HRV metrics -> stress level and probabilities, per row.

Used by the CLI (``moodtune analyze-hrv``), the service and the policy's listener simulator.
``read`` accepts whatever a person has: RR intervals (a list/array, or a file with one
interval per line or an RR column), the eight metrics as a dict (scalars or lists), a
DataFrame, or a CSV file (path or bytes) with any number of rows. ``predict_proba`` is the
fast batch path on a metrics frame.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moodtune.errors import InvalidHRV
from moodtune.hrv.constants import LEVELS, METRIC_COLUMNS
from moodtune.hrv.data import normalise_metric_columns, parse_rr_text, rr_column, validate_metrics
from moodtune.hrv.metrics import MetricsConfig, analyze
from moodtune.hrv.model import predict_levels_proba

MODEL_NAME = "moodtune-hrv"
PROBA_COLUMNS = tuple(f"p_{lvl}" for lvl in LEVELS)
MAX_BYTES = 20_000_000


class StressReader:
    """A fitted stress model (anything with ``predict_proba`` and ``classes_``) and the
    metrics settings that turn RR intervals into its input."""

    def __init__(self, model: Any, config: MetricsConfig | None = None, version: str | None = None):
        self.model = model
        self.config = config or MetricsConfig.default()
        self.version = version

    @classmethod
    def from_uri(cls, model_uri: str, settings=None, version: str | None = None) -> StressReader:
        """Load a logged/registered CatBoost model (``runs:/…``, ``models:/…``)."""
        import mlflow.catboost

        from moodtune import registry
        from moodtune.settings import get_settings

        settings = settings or get_settings()
        registry.configure(settings)
        return cls(mlflow.catboost.load_model(model_uri), MetricsConfig.from_settings(settings), version)

    def predict_proba(self, metrics: pd.DataFrame | np.ndarray) -> np.ndarray:
        """``(n, 3)`` probabilities of low / medium / high for a frame of the eight metrics
        (or an ``(n, 8)`` array in :data:`METRIC_COLUMNS` order). No plausibility checks."""
        if isinstance(metrics, pd.DataFrame):
            x = normalise_metric_columns(metrics)
            missing = [c for c in METRIC_COLUMNS if c not in x.columns]
            if missing:
                raise InvalidHRV(f"the metrics lack the columns {', '.join(missing)}")
            x = x.loc[:, list(METRIC_COLUMNS)].astype(float)
        else:
            arr = np.asarray(metrics, dtype=float)
            if arr.ndim != 2 or arr.shape[1] != len(METRIC_COLUMNS):
                raise InvalidHRV(f"metrics must be an (n, {len(METRIC_COLUMNS)}) array in the order "
                                 f"{', '.join(METRIC_COLUMNS)}; got shape {arr.shape}")
            x = pd.DataFrame(arr, columns=list(METRIC_COLUMNS))
        if len(x) == 0:
            return np.zeros((0, len(LEVELS)))
        return predict_levels_proba(self.model, x)

    # --- the forgiving path --------------------------------------------------------------

    def read(self, data: Any) -> pd.DataFrame:
        """Stress level and probabilities per row: columns ``level, p_low, p_medium, p_high``.

        For RR input (one recording) the metrics and artefact counts are added as columns.
        """
        metrics, extra = self._to_metrics(data)
        proba = self.predict_proba(metrics)
        out = pd.DataFrame(proba, columns=list(PROBA_COLUMNS), index=metrics.index)
        out.insert(0, "level", np.asarray(LEVELS)[proba.argmax(axis=1)])
        if extra is not None:
            out = pd.concat([out, extra.set_index(out.index)], axis=1)
        return out.reset_index(drop=True)

    def _to_metrics(self, data: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        if isinstance(data, (bytes, bytearray, memoryview)):
            return self._from_text(_decode(bytes(data)), "the upload")
        if isinstance(data, (str, Path)):
            path = Path(data)
            if not path.is_file():
                raise InvalidHRV(f"{path} is not a file; give an RR-interval file or a metrics CSV")
            if path.stat().st_size > MAX_BYTES:
                raise InvalidHRV(f"{path.name} is larger than {MAX_BYTES // 1_000_000} MB")
            return self._from_text(_decode(path.read_bytes()), path.name)
        if isinstance(data, pd.DataFrame):
            return self._from_frame(data, "the table")
        if isinstance(data, pd.Series):
            data = data.to_dict() if not pd.api.types.is_numeric_dtype(data.index) else data.to_numpy()
        if isinstance(data, Mapping):
            if not data:
                raise InvalidHRV("no metrics given; need the eight metrics "
                                 f"{', '.join(METRIC_COLUMNS)} or RR intervals")
            values = {k: (v if np.ndim(v) else [v]) for k, v in data.items()}
            try:
                frame = pd.DataFrame(values)
            except ValueError as exc:
                raise InvalidHRV(f"the metrics could not form a table ({exc}); give one value (or "
                                 "equally long lists) per metric") from None
            return self._from_frame(frame, "the metrics")
        if data is None:
            raise InvalidHRV("no HRV data given; give RR intervals (ms) or the eight metrics")
        return self._from_rr(data)

    def _from_rr(self, rr: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        result = analyze(rr, self.config)
        row = result.as_dict()
        metrics = pd.DataFrame([{k: row[k] for k in METRIC_COLUMNS}])
        extra = pd.DataFrame([{k: v for k, v in row.items() if k not in METRIC_COLUMNS}])
        return metrics, pd.concat([metrics, extra], axis=1)

    def _from_frame(self, frame: pd.DataFrame, where: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        col = rr_column(frame)
        has_metrics = any(str(c).strip().lower() in {m.lower() for m in METRIC_COLUMNS} for c in frame.columns)
        if col is not None and not has_metrics:
            values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
            return self._from_rr(values)
        return validate_metrics(frame, where), None

    def _from_text(self, text: str, where: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if not lines:
            raise InvalidHRV(f"{where} is empty; give RR intervals (ms, one per line) or a metrics CSV")
        header = {cell.strip().strip('"').lower() for cell in re.split(r"[,;\t]", lines[0])}
        if header & {m.lower() for m in METRIC_COLUMNS}:
            try:
                frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=None, engine="python")
            except Exception as exc:  # pandas raises several parser errors
                raise InvalidHRV(f"{where} is not a readable CSV ({exc})") from None
            return self._from_frame(frame, where)
        return self._from_rr(parse_rr_text(text, where))


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise InvalidHRV(f"the data is larger than {MAX_BYTES // 1_000_000} MB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidHRV("the file is not text; give RR intervals (ms, one per line) or a metrics CSV") from None


def load_model_dir(path: Path, settings=None) -> StressReader:
    """The :class:`StressReader` of a logged CatBoost model directory (the registry's loader)."""
    return StressReader.from_uri(str(path), settings)
