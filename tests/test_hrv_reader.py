"""StressReader: every accepted input shape, the fast batch path, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moodtune import registry
from moodtune.errors import InvalidHRV, ModelNotFound
from moodtune.hrv import LEVELS, METRIC_COLUMNS, StressReader, metrics
from moodtune.hrv.model import fit
from moodtune.hrv.pipeline import compute_metrics
from moodtune.hrv.simulate import simulate_dataset, simulate_rr, simulate_subject
from moodtune.settings import get_settings

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code
SEED = get_settings().project.seed

COLUMNS = ["level", "p_low", "p_medium", "p_high"]


@pytest.fixture(scope="module")
def reader() -> StressReader:

    table, refused = compute_metrics(simulate_dataset(10, 2, 120, seed=1), HRV.metrics)
    assert refused.empty
    return StressReader(fit(table, HRV.model.model_copy(update={"iterations": 80}), SEED), HRV)


@pytest.fixture(scope="module")
def rr() -> np.ndarray:
    return simulate_rr(0.9, 180, np.random.default_rng(5), simulate_subject(np.random.default_rng(6)))


def _check(out: pd.DataFrame, rows: int) -> None:
    assert list(out.columns[:4]) == COLUMNS and len(out) == rows
    probs = out[["p_low", "p_medium", "p_high"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert set(out["level"]) <= set(LEVELS)
    assert (out["level"].to_numpy() == np.asarray(LEVELS)[probs.argmax(axis=1)]).all()


def test_reads_rr_intervals_as_list_array_file_and_bytes(reader, rr, tmp_path):
    from_list = reader.read(list(rr))
    _check(from_list, 1)
    assert from_list.loc[0, "n_intervals"] == rr.size and "n_artifacts" in from_list
    assert from_list.loc[0, "MEAN_RR"] == pytest.approx(metrics(rr, HRV.metrics)["MEAN_RR"])
    text = "\n".join(f"{v:.1f}" for v in rr)
    (tmp_path / "rr.txt").write_text(text)
    (tmp_path / "rr.csv").write_text("time_s,RR_ms\n" + "\n".join(f"{i},{v:.1f}" for i, v in enumerate(rr)))
    for data in (rr, tmp_path / "rr.txt", str(tmp_path / "rr.csv"), text.encode(), pd.DataFrame({"ibi": rr})):
        out = reader.read(data)
        _check(out, 1)
        assert out.loc[0, "p_high"] == pytest.approx(from_list.loc[0, "p_high"], abs=1e-3)


def test_reads_metrics_as_dict_frame_and_csv_with_any_number_of_rows(reader, rr, tmp_path):
    one = metrics(rr, HRV.metrics)
    _check(reader.read(one), 1)
    _check(reader.read({k: [v, v * 1.1, v] for k, v in one.items()}), 3)
    frame = pd.DataFrame([one] * 5).assign(subject="x", condition="no stress")  # extra columns are ignored
    _check(reader.read(frame), 5)
    lower = frame.rename(columns={"pNN50": "PNN50", "HR": "hr"})  # column case does not matter
    _check(reader.read(lower), 5)
    path = tmp_path / "metrics.csv"
    frame.to_csv(path, index=False)
    from_file = reader.read(path)
    _check(from_file, 5)
    _check(reader.read(path.read_bytes()), 5)
    np.testing.assert_allclose(from_file["p_low"], reader.read(frame)["p_low"])


def test_predict_proba_is_the_fast_batch_path(reader):
    rng = np.random.default_rng(0)
    rows = pd.DataFrame([metrics(simulate_rr(s, 120, rng), HRV.metrics) for s in (0.0, 0.0, 1.0, 1.0)])
    proba = reader.predict_proba(rows)
    assert proba.shape == (4, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(reader.predict_proba(rows[list(METRIC_COLUMNS)].to_numpy()), proba)
    # a relaxed recording reads calmer than a stressed one
    assert proba[:2, 0].mean() > proba[2:, 0].mean() and proba[2:, 2].mean() > proba[:2, 2].mean()
    assert reader.predict_proba(rows.iloc[:0]).shape == (0, 3)
    with pytest.raises(InvalidHRV, match="shape"):
        reader.predict_proba(np.ones((2, 5)))


def test_missing_columns_are_named(reader, rr, tmp_path):
    partial = {k: v for k, v in metrics(rr, HRV.metrics).items() if k not in ("VLF", "pNN50")}
    with pytest.raises(InvalidHRV, match="pNN50, VLF"):
        reader.read(partial)
    path = tmp_path / "partial.csv"
    pd.DataFrame([partial]).to_csv(path, index=False)
    with pytest.raises(InvalidHRV, match="lack the columns pNN50, VLF"):
        reader.read(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "no HRV data"),
        ({}, "no metrics given"),
        (b"", "empty"),
        (b"\xff\xfe\x00\x01garbage", "not text"),
        (b"800\n810\nabc\n", "line 3"),
        (b"MEAN_RR,SDRR,HR,RMSSD,pNN50,VLF,LF,HF\n800,50,75,30,10,500,600,-3\n", "column HF is -3"),
        (b"MEAN_RR,SDRR,HR,RMSSD,pNN50,VLF,LF,HF\n800,50,75,30,abc,500,600,300\n", "pNN50 has 1 missing"),
        (b"MEAN_RR,SDRR,HR,RMSSD,pNN50,VLF,LF,HF\n", "no rows"),
        (
            {"MEAN_RR": 0.8, "SDRR": 50, "HR": 75, "RMSSD": 30, "pNN50": 10, "VLF": 1, "LF": 1, "HF": 1},
            "MEAN_RR is 0.8",
        ),
        ([800.0] * 30, "at least 60 s"),
        ("/nonexistent/rr.txt", "is not a file"),
    ],
)
def test_bad_input_is_refused_with_a_message(reader, data, message):
    with pytest.raises(InvalidHRV, match=message):
        reader.read(data)


def test_from_registry_without_a_model_says_how_to_build_it(settings):
    with pytest.raises(ModelNotFound, match="group:hrv"):
        registry.load(registry.HRV, None, settings)
