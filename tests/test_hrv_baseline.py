"""Baseline-relative stress: the ratios, the reader with and without a baseline, the gate split,
and train_and_register comparing both feature sets and re-scoring the champion."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from moodtune import registry
from moodtune.hrv import StressReader, metrics
from moodtune.hrv.constants import RATIO_COLUMNS
from moodtune.hrv.model import fit
from moodtune.hrv.pipeline import compute_metrics
from moodtune.hrv.simulate import simulate_dataset, simulate_rr, simulate_subject
from moodtune.hrv.train import gate_split, train_and_register
from moodtune.settings import get_settings, load_settings

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code
SEED = get_settings().project.seed


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    recordings = simulate_dataset(10, 2, 120, seed=4, baseline_seconds=120)
    out, refused = compute_metrics(recordings, HRV.metrics)
    assert refused.empty
    return out


def test_each_simulated_subject_has_its_own_resting_baseline(table):
    per_subject = table.groupby("subject")["baseline_RMSSD"].agg(["nunique", "first"])
    assert (per_subject["nunique"] == 1).all() and per_subject["first"].nunique() == 10
    # the baseline does not change the recordings (it has its own generator)
    plain = simulate_dataset(10, 2, 120, seed=4)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            plain["rr_ms"], simulate_dataset(10, 2, 120, seed=4, baseline_seconds=120)["rr_ms"], strict=True
        )
    )
    # stressed recordings sit below their person's resting RMSSD
    from moodtune.hrv.baseline import ratios

    r = ratios(table).assign(level=table["level"]).groupby("level")["dlog_RMSSD"].median()
    assert r["high"] < r["medium"] < r["low"] < 0.2


def test_reader_reads_against_a_baseline_and_without_one(table):
    reader = StressReader(fit(table, HRV.model.model_copy(update={"iterations": 60}), SEED, "baseline"), HRV)
    assert reader.uses_baseline and set(RATIO_COLUMNS) <= set(reader.features)
    subject = simulate_subject(np.random.default_rng(7))
    rest = simulate_rr(0.0, 150, np.random.default_rng(1), subject)
    stressed = simulate_rr(1.0, 150, np.random.default_rng(2), subject)
    with_base = reader.read(stressed, baseline=rest)
    assert with_base.loc[0, "dlog_RMSSD"] == pytest.approx(
        np.log(metrics(stressed, HRV.metrics)["RMSSD"] / metrics(rest, HRV.metrics)["RMSSD"])
    )
    assert with_base.loc[0, "p_high"] > reader.read(rest, baseline=rest).loc[0, "p_high"]
    assert reader.read(rest, baseline=rest).loc[0, "dlog_HF"] == pytest.approx(0.0)
    alone = reader.read(stressed)  # no baseline: the ratios are missing and the model still reads
    assert "dlog_RMSSD" not in alone and alone[["p_low", "p_medium", "p_high"]].sum(axis=1).iloc[
        0
    ] == pytest.approx(1)
    # the policy's path: eight metrics in an array
    assert reader.predict_proba(
        alone[["MEAN_RR", "SDRR", "HR", "RMSSD", "pNN50", "VLF", "LF", "HF"]].to_numpy()
    ).shape == (1, 3)
    # an absolute model ignores a baseline it was not trained with
    absolute = StressReader(fit(table, HRV.model.model_copy(update={"iterations": 60}), SEED), HRV)
    np.testing.assert_allclose(
        absolute.read(stressed, baseline=rest)["p_high"], absolute.read(stressed)["p_high"]
    )
    with pytest.raises(Exception, match="one recording"):
        reader.read(
            stressed,
            baseline=pd.concat([alone, alone])[
                ["MEAN_RR", "SDRR", "HR", "RMSSD", "pNN50", "VLF", "LF", "HF"]
            ],
        )


def test_gate_subjects_are_stable_and_a_fraction():
    subjects = pd.Series([f"s{i}" for i in range(20) for _ in range(3)])
    mask = gate_split(subjects, 0.25, seed=0)
    assert subjects[mask].nunique() == 5 and mask.sum() == 15
    np.testing.assert_array_equal(mask, gate_split(subjects, 0.25, seed=0))
    # adding people does not reshuffle who was held out much: the ranking is by a hash of each id
    more = pd.Series([f"s{i}" for i in range(24) for _ in range(3)])
    kept = set(more[gate_split(more, 0.25, seed=0)]) & set(subjects[mask])
    assert len(kept) >= 4
    with pytest.raises(ValueError, match="at least 3 subjects"):
        gate_split(pd.Series(["a", "b"]), 0.25, seed=0)


@pytest.mark.slow
def test_train_and_register_compares_feature_sets_and_rescores_the_champion(isolated_env, table):
    settings = load_settings(overrides={"hrv": {"model": {"iterations": 80}}})
    registry.configure(settings)
    with mlflow.start_run() as run:
        first = train_and_register(settings, table)
    m = mlflow.get_run(run.info.run_id).data.metrics
    assert {"macro_f1_absolute", "macro_f1_baseline", "cv.baseline.catboost.macro_f1"} <= set(m)
    chosen = max(("absolute", "baseline"), key=lambda fs: m[f"macro_f1_{fs}"])
    assert (
        first.output["feature_set"] == chosen and m["macro_f1"] == first.extra["holdout"]["catboost"].macro_f1
    )
    assert first.gate.promoted and first.gate.decision.champion_version is None
    assert (
        len(first.extra["gate_subjects"]) == first.metadata["gate_subjects"] == 2
    )  # 25 % of 10, held out of training

    with mlflow.start_run():
        second = train_and_register(settings, table)
    d = second.gate.decision
    # the champion was loaded and re-scored on the same held-out subjects: the same model, the same score
    assert d.champion_version == "1" and d.rescore_error is None
    assert d.champion_score == pytest.approx(first.output["scores"]["macro_f1"]) and not d.promoted


def test_a_real_tables_baseline_condition_becomes_each_subjects_baseline():
    rng = np.random.default_rng(12)
    rows = []
    for s in range(3):
        subject = simulate_subject(rng)
        for condition, stress in (
            ("baseline", 0.0),
            ("baseline", 0.05),
            ("no stress", 0.1),
            ("time pressure", 0.9),
        ):
            rows.append(
                {
                    **metrics(simulate_rr(stress, 120, rng, subject), HRV.metrics),
                    "recording_id": f"p{s}-{len(rows)}",
                    "subject": f"p{s}",
                    "condition": condition,
                    "level": "low" if stress < 0.5 else "high",
                    "source": "dataset_csv",
                    "rr_ms": None,
                }
            )
    frame = pd.DataFrame(rows)
    table, refused = compute_metrics(frame, HRV.metrics, baseline_condition="Baseline")
    assert refused.empty and len(table) == 6 and set(table["condition"]) == {"no stress", "time pressure"}
    for s in ("p0", "p1", "p2"):
        rest = frame[(frame["subject"] == s) & (frame["condition"] == "baseline")]
        assert (table.loc[table["subject"] == s, "baseline_RMSSD"] == rest["RMSSD"].median()).all()
    # without a baseline condition the rows stay and carry no baseline
    plain, _ = compute_metrics(frame, HRV.metrics)
    assert len(plain) == 12 and plain["baseline_RMSSD"].isna().all()


def test_a_bad_baseline_is_refused_as_the_baseline(table):
    reader = StressReader(fit(table, HRV.model.model_copy(update={"iterations": 30}), SEED, "baseline"), HRV)
    rr = simulate_rr(0.5, 120, np.random.default_rng(0))
    with pytest.raises(Exception, match="the baseline: the recording is too short"):
        reader.read(rr, baseline=rr[:20])
