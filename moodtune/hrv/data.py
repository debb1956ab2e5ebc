"""Reading real HRV data: a SWELL/WESAD-derived metrics table, or a folder of RR files.

Both give the frame :func:`moodtune.hrv.simulate.simulate_dataset` gives for the demo:
``recording_id, subject, level, condition, source`` plus either ``rr_ms`` (an array of RR
intervals per row) or the eight metric columns. Layouts (README "HRV"):

* **dataset_csv**: one row per window with the eight metric columns (any case:
  ``MEAN_RR, SDRR, HR, RMSSD, pNN50, VLF, LF, HF``; other columns are ignored), a condition
  column and a subject column (names in ``params.yaml``). Conditions map to levels through
  ``hrv.data.condition_levels`` (case-insensitive); ``low``/``medium``/``high`` map to themselves.
* **rr_dir**: RR files (``*.txt``, ``*.csv``, ``*.rr``): one interval in ms per line, or a CSV
  with a column named ``rr``, ``rr_ms``, ``rri``, ``ibi`` or ``nn`` (any case), plus a
  ``labels.csv`` with columns ``file`` (name relative to the folder), ``subject`` and
  ``condition`` (or ``level``). Every RR file must be labelled and every label must name a
  file: nothing is dropped silently. Files are cut into ``window_seconds`` windows.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from moodtune.errors import ConfigError, InvalidHRV
from moodtune.hrv.constants import LEVELS, METRIC_COLUMNS, PLAUSIBLE

RR_COLUMN_NAMES = ("rr", "rr_ms", "rri", "ibi", "nn", "rr_interval", "rr_intervals", "interval")
RR_SUFFIXES = (".txt", ".csv", ".rr")
LABELS_FILE = "labels.csv"


def level_mapper(condition_levels: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased condition -> level, the levels themselves included."""
    mapping = {lvl: lvl for lvl in LEVELS}
    mapping.update({str(k).strip().lower(): v for k, v in condition_levels.items()})
    return mapping


def map_conditions(conditions: pd.Series, condition_levels: Mapping[str, str], where: str) -> pd.Series:
    """Map condition labels to levels; an unmapped condition is a :class:`ConfigError` naming it."""
    mapping = level_mapper(condition_levels)
    keys = conditions.astype(str).str.strip().str.lower()
    unknown = sorted(set(keys[~keys.isin(mapping)]))
    if unknown:
        raise ConfigError(
            f"{where}: conditions {unknown} have no stress level; add them to "
            f"hrv.data.condition_levels in params.yaml (known: {sorted(mapping)})"
        )
    return keys.map(mapping)


def _find_column(df: pd.DataFrame, name: str, what: str, where: str) -> str:
    for col in df.columns:
        if str(col).strip().lower() == name.strip().lower():
            return col
    raise InvalidHRV(
        f"{where} has no {what} column {name!r} (columns: {', '.join(map(str, df.columns))}); "
        f"add it or set hrv.{what}_column in params.yaml"
    )


def normalise_metric_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Rename columns that match a metric name case-insensitively (``PNN50`` -> ``pNN50``)."""
    wanted = {c.lower(): c for c in METRIC_COLUMNS}
    renames = {
        col: wanted[str(col).strip().lower()]
        for col in df.columns
        if str(col).strip().lower() in wanted and col != wanted[str(col).strip().lower()]
    }
    return df.rename(columns=renames)


def validate_metrics(df: pd.DataFrame, where: str = "the metrics") -> pd.DataFrame:
    """The eight metric columns as floats, or :class:`InvalidHRV` naming what is missing or wrong."""
    df = normalise_metric_columns(df)
    missing = [c for c in METRIC_COLUMNS if c not in df.columns]
    if missing:
        raise InvalidHRV(
            f"{where} lack the columns {', '.join(missing)}; the model needs all eight: "
            f"{', '.join(METRIC_COLUMNS)} (ms, bpm, %, ms²) — or give RR intervals instead"
        )
    if len(df) == 0:
        raise InvalidHRV(f"{where} have no rows")
    out = pd.DataFrame(index=df.index)
    for col in METRIC_COLUMNS:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = bad.to_numpy().nonzero()[0][0]
            raise InvalidHRV(
                f"{where}: column {col} has {int(bad.sum())} missing or non-numeric values "
                f"(first in row {row}: {df[col].iloc[row]!r}); every metric must be a number"
            )
        lo, hi = PLAUSIBLE[col]
        off = (values < lo) | (values > hi)
        if off.any():
            row = off.to_numpy().nonzero()[0][0]
            raise InvalidHRV(
                f"{where}: column {col} is {values.iloc[row]:g} in row {row}, outside the plausible "
                f"range {lo:g}–{hi:g}; check the units (ms, bpm, %, ms²)"
            )
        out[col] = values.astype(float)
    return out


def load_dataset_csv(
    path: Path, *, condition_column: str, subject_column: str, condition_levels: Mapping[str, str]
) -> pd.DataFrame:
    """A SWELL/WESAD-derived HRV table -> recordings with the eight metrics and a level."""
    if not path.is_file():
        raise ConfigError(f"hrv.data.dataset_csv {path} does not exist; fix the path or set it to null")
    raw = pd.read_csv(path)
    where = f"hrv.data.dataset_csv {path.name}"
    cond = _find_column(raw, condition_column, "condition", where)
    subj = _find_column(raw, subject_column, "subject", where)
    metrics = validate_metrics(raw, where)
    out = pd.DataFrame(
        {
            "recording_id": [f"{path.stem}-{i}" for i in range(len(raw))],
            "subject": raw[subj].astype(str).to_numpy(),
            "level": map_conditions(raw[cond], condition_levels, where).to_numpy(),
            "condition": raw[cond].astype(str).to_numpy(),
            "source": "dataset_csv",
            "rr_ms": None,
        }
    )
    return pd.concat([out, metrics.reset_index(drop=True)], axis=1)


def parse_rr_text(text: str, where: str = "the RR file") -> np.ndarray:
    """RR intervals from text: one number per line (an optional header line naming the RR
    column is allowed), or a CSV (``,``, ``;`` or tab) with an RR column (see module doc)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InvalidHRV(f"{where} is empty; give one RR interval in milliseconds per line")
    sep = next((d for d in (",", ";", "\t") if d in lines[0]), None)
    if sep is None:
        body = lines[1:] if lines[0].lower().strip('"') in RR_COLUMN_NAMES else lines
        values = pd.to_numeric(pd.Series(body, dtype=object), errors="coerce")
        if values.isna().any():
            i = int(values.isna().to_numpy().nonzero()[0][0]) + len(lines) - len(body)
            raise InvalidHRV(
                f"{where}: line {i + 1} ({lines[i][:40]!r}) is not a number; give one RR interval in "
                f"milliseconds per line (an optional header may name the column: "
                f"{', '.join(RR_COLUMN_NAMES[:5])})"
            )
        return values.to_numpy(dtype=float)
    if not any(_not_number(cell) for cell in lines[0].split(sep)):
        raise InvalidHRV(
            f"{where} has {len(lines[0].split(sep))} columns and no header; give one RR interval per "
            f"line or a header naming the RR column ({', '.join(RR_COLUMN_NAMES[:5])})"
        )
    try:
        df = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep)
    except Exception as exc:  # pandas raises several parser errors
        raise InvalidHRV(f"{where} is not a readable CSV ({exc})") from None
    col = rr_column(df)
    if col is None:
        raise InvalidHRV(
            f"{where} has no RR column (columns: {', '.join(map(str, df.columns))}); name it one "
            f"of {', '.join(RR_COLUMN_NAMES)}"
        )
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)


def rr_column(df: pd.DataFrame) -> str | None:
    """The column of a frame that holds RR intervals, by name, if any."""
    for col in df.columns:
        if str(col).strip().lower() in RR_COLUMN_NAMES:
            return col
    return None


def _not_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return bool(cell.strip())
    return False


def split_windows(rr: np.ndarray, seconds: float | None, min_seconds: float) -> list[np.ndarray]:
    """Cut an RR series into consecutive windows of ``seconds``; a tail shorter than
    ``min_seconds`` is left out (the caller reports how much)."""
    if seconds is None:
        return [rr]
    ends = np.cumsum(rr) / 1000.0
    window = np.floor(ends / seconds).astype(int)
    parts = [rr[window == w] for w in np.unique(window)]
    return [p for p in parts if p.sum() / 1000.0 >= min_seconds]


def load_rr_dir(
    folder: Path,
    *,
    condition_column: str,
    subject_column: str,
    condition_levels: Mapping[str, str],
    window_seconds: float | None,
    min_seconds: float,
) -> pd.DataFrame:
    """A folder of RR files + ``labels.csv`` -> one recording per window, with its RR array."""
    if not folder.is_dir():
        raise ConfigError(f"hrv.data.rr_dir {folder} is not a folder; fix the path or set it to null")
    labels_path = folder / LABELS_FILE
    if not labels_path.is_file():
        raise ConfigError(
            f"hrv.data.rr_dir {folder} has no {LABELS_FILE}; add one with columns file, "
            f'{subject_column}, {condition_column} (see README "HRV")'
        )
    labels = pd.read_csv(labels_path)
    where = f"{LABELS_FILE} in {folder}"
    file_col = next((c for c in labels.columns if str(c).strip().lower() == "file"), None)
    if file_col is None:
        raise InvalidHRV(
            f"{where} has no 'file' column (columns: {', '.join(map(str, labels.columns))}); "
            "it names each RR file relative to the folder"
        )
    subj = _find_column(labels, subject_column, "subject", where)
    try:
        cond = _find_column(labels, condition_column, "condition", where)
    except InvalidHRV:
        cond = _find_column(labels, "level", "condition", where)
    levels = map_conditions(labels[cond], condition_levels, where)

    files = sorted(
        p.name for p in folder.iterdir() if p.suffix.lower() in RR_SUFFIXES and p.name != LABELS_FILE
    )
    named = labels[file_col].astype(str).str.strip()
    unlabelled = sorted(set(files) - set(named))
    missing = sorted(set(named) - set(files))
    if unlabelled:
        raise InvalidHRV(f"RR files without a row in {where}: {unlabelled[:10]}; label them or move them out")
    if missing:
        raise InvalidHRV(f"{where} names files that are not in the folder: {missing[:10]}")

    rows = []
    for name, subject, condition, level in zip(
        named, labels[subj].astype(str), labels[cond].astype(str), levels, strict=True
    ):
        rr = parse_rr_text((folder / name).read_text(encoding="utf-8", errors="replace"), where=name)
        if not np.all(np.isfinite(rr)) or np.any(rr <= 0):
            raise InvalidHRV(
                f"RR file {name} holds missing, non-numeric, zero or negative intervals; "
                "every line must be a positive RR interval in milliseconds"
            )
        for w, part in enumerate(split_windows(rr, window_seconds, min_seconds)):
            rows.append(
                {
                    "recording_id": f"{Path(name).stem}-w{w}",
                    "subject": subject,
                    "level": level,
                    "condition": condition,
                    "source": "rr_dir",
                    "rr_ms": part,
                    "file": name,
                    "file_seconds": float(rr.sum()) / 1000.0,
                }
            )
    if not rows:
        raise InvalidHRV(f"no RR file in {folder} holds at least {min_seconds:g} s of intervals")
    return pd.DataFrame(rows)
