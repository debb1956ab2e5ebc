"""A listener's resting baseline, stored with the feedback so retraining reads it: the store
keeps its eight metrics per row (SQLite; PostgreSQL too with ``MOODTUNE_TEST_POSTGRES_URL``), an
older database gains the columns, the service's feedback path reads against it and stores it
(from RR and from a metrics CSV), and retraining's reward reading uses it when present."""

from __future__ import annotations

import os
import sqlite3
import uuid
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from moodtune import registry
from moodtune.errors import InvalidFeedback, InvalidInput
from moodtune.feedback import FeedbackStore, default_url
from moodtune.feedback.reread import reread_rewards, reread_with_champion
from moodtune.feedback.schema import HRV_BASELINE_COLUMNS
from moodtune.hrv import StressReader, metrics
from moodtune.hrv.model import fit
from moodtune.hrv.pipeline import compute_metrics
from moodtune.hrv.simulate import simulate_dataset, simulate_rr, simulate_subject
from moodtune.serving.answers import Upload
from moodtune.serving.requests import FeedbackRequest
from moodtune.settings import get_settings

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code
SEED = get_settings().project.seed

POSTGRES_URL = os.environ.get("MOODTUNE_TEST_POSTGRES_URL")
NOW = {
    "MEAN_RR": 702.0,
    "SDRR": 31.0,
    "HR": 86.0,
    "RMSSD": 18.0,
    "pNN50": 2.0,
    "VLF": 300.0,
    "LF": 600.0,
    "HF": 150.0,
}
REST = {
    "MEAN_RR": 905.0,
    "SDRR": 62.0,
    "HR": 67.0,
    "RMSSD": 55.0,
    "pNN50": 30.0,
    "VLF": 500.0,
    "LF": 900.0,
    "HF": 1200.0,
}


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not POSTGRES_URL, reason="set MOODTUNE_TEST_POSTGRES_URL to run the store on PostgreSQL"
            ),
        ),
    ]
)
def store(request, settings):
    if request.param == "sqlite":
        s = FeedbackStore(default_url(settings), settings=settings)
        yield s
        s.close()
        return
    name = f"moodtune_test_{uuid.uuid4().hex[:12]}"
    url = make_url(POSTGRES_URL)
    url = url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    s = FeedbackStore(
        url.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False),
        settings=settings,
    )
    yield s
    s.close()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


def _recommend(store) -> str:
    cands = [
        {"track_id": f"t{i}", "features": {}, "score": 1.0 - i / 10, "probability": 0.25} for i in range(4)
    ]
    return store.record_recommendation(
        source="catalog", age=30, gender="female", mood=3, candidates=cands, k=2
    )


@pytest.fixture(scope="module")
def reader() -> StressReader:
    """A baseline-relative model (trained with each simulated subject's resting recording)."""
    table, _ = compute_metrics(simulate_dataset(8, 2, 120, seed=5, baseline_seconds=120), HRV.metrics)
    return StressReader(fit(table, HRV.model.model_copy(update={"iterations": 40}), SEED, "baseline"), HRV)


def test_feedback_stores_the_baseline_and_reads_it_back(store):
    rec = _recommend(store)
    row = store.record_feedback(rec, "t0", "high", metrics=NOW, baseline={**REST, "sdnn": REST["SDRR"]})
    assert row.baseline == REST and store.get_feedback(row.id).baseline == REST
    plain = store.record_feedback(rec, "t1", "low", metrics=NOW)
    assert plain.baseline is None and store.get_feedback(plain.id).baseline is None
    replay = store.feedback_since(0)
    assert set(HRV_BASELINE_COLUMNS) <= set(replay.columns)
    got = replay.set_index("id")
    assert got.loc[row.id, "baseline_RMSSD"] == REST["RMSSD"] and got.loc[row.id, "baseline_HF"] == REST["HF"]
    assert np.isnan(got.loc[plain.id, "baseline_RMSSD"]) and got["baseline_HF"].dtype == float


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stress_level": "low", "baseline": REST}, "a baseline goes with HRV feedback"),
        (
            {"stress_level": "low", "metrics": NOW, "baseline": {"rmssd_rest": 3.0}},
            "unknown baseline HRV metric 'rmssd_rest'",
        ),
        (
            {"stress_level": "low", "metrics": NOW, "baseline": {"HF": -1.0}},
            "baseline HRV metric HF must be at least 0",
        ),
        ({"stress_level": "low", "metrics": NOW, "baseline": [1, 2]}, "baseline must map HRV metric names"),
    ],
)
def test_a_bad_baseline_is_refused_and_nothing_is_stored(store, kwargs, message):
    rec = _recommend(store)
    with pytest.raises(InvalidFeedback, match=message):
        store.record_feedback(rec, "t0", **kwargs)
    assert store.count_since(0) == 0


def test_a_database_from_before_baselines_gains_the_columns_and_keeps_its_rows(settings):
    path = settings.data_path("feedback", "before-baselines.db")
    old = FeedbackStore(f"sqlite:///{path}", settings=settings)
    rec = _recommend(old)
    kept = old.record_feedback(rec, "t0", "medium", metrics=NOW)
    old.close()
    with sqlite3.connect(path) as raw:  # back to the schema before baselines
        for column in HRV_BASELINE_COLUMNS:
            raw.execute(f'ALTER TABLE feedback DROP COLUMN "{column}"')
        assert not {r[1] for r in raw.execute("PRAGMA table_info(feedback)")} & set(HRV_BASELINE_COLUMNS)
    store = FeedbackStore(f"sqlite:///{path}", settings=settings)
    assert store.get_feedback(kept.id).baseline is None and store.get_feedback(kept.id).metrics == NOW
    new = store.record_feedback(rec, "t1", "high", metrics=NOW, baseline=REST)
    assert store.get_feedback(new.id).baseline == REST
    with sqlite3.connect(path) as raw:
        assert set(HRV_BASELINE_COLUMNS) <= {r[1] for r in raw.execute("PRAGMA table_info(feedback)")}
        assert raw.execute("SELECT count(*) FROM feedback").fetchone()[0] == 2


def _engine(reader, store=None):
    from moodtune.serving.engine import Engine
    from moodtune.settings import load_settings

    holder = SimpleNamespace(current=SimpleNamespace(hrv=reader, versions={registry.HRV: "7"}))
    return Engine(load_settings(), holder, None)


def _rr_file(name: str, rr: np.ndarray) -> Upload:
    return Upload(name, "\n".join(f"{v:.1f}" for v in rr).encode())


def test_the_services_feedback_path_reads_against_the_baseline_and_stores_it(reader, store):
    engine = _engine(reader)
    subject = simulate_subject(np.random.default_rng(4))
    rest = np.round(simulate_rr(0.0, 150, np.random.default_rng(1), subject), 1)  # as the files hold them
    now = np.round(simulate_rr(1.0, 150, np.random.default_rng(2), subject), 1)
    rec = _recommend(store)
    req = FeedbackRequest(recommendation_id=rec, track_id="t0")
    reading, kwargs = engine.plan_feedback(req, _rr_file("now.txt", now), baseline=_rr_file("rest.txt", rest))
    assert reading["recording"]["dlog_RMSSD"] < 0 and "baseline_RMSSD" not in reading["recording"]
    assert kwargs["baseline"] == pytest.approx(metrics(rest, HRV.metrics), rel=1e-5)
    row = store.record_feedback(**kwargs)
    assert row.baseline == pytest.approx(metrics(rest, HRV.metrics), rel=1e-5) and row.source == "rr"
    # the same reading as StressReader.read against that baseline
    direct = reader.read(now, baseline=rest)
    assert row.stress_level == direct.loc[0, "level"]
    assert row.probabilities["high"] == pytest.approx(direct.loc[0, "p_high"], abs=1e-6)
    # without a baseline nothing is stored for it; a baseline with a stated level is refused
    _, plain = engine.plan_feedback(req, _rr_file("now.txt", now))
    assert "baseline" not in plain
    with pytest.raises(InvalidInput, match="a baseline is read with HRV"):
        engine.plan_feedback(
            FeedbackRequest(recommendation_id=rec, track_id="t0", stress_level="low"),
            baseline=_rr_file("rest.txt", rest),
        )


def test_a_metrics_csv_goes_through_read_and_feedback(reader, store):
    rows = pd.DataFrame([NOW, {**NOW, "RMSSD": 22.0}])
    out = reader.read(rows.to_csv(index=False).encode())
    assert list(out.columns[:4]) == ["level", "p_low", "p_medium", "p_high"]
    assert out["RMSSD"].tolist() == [18.0, 22.0] and out["HF"].tolist() == [150.0, 150.0]
    engine = _engine(reader)
    rec = _recommend(store)
    req = FeedbackRequest(recommendation_id=rec, track_id="t1")
    upload = Upload("metrics.csv", rows.to_csv(index=False).encode())
    reading, kwargs = engine.plan_feedback(req, upload)
    assert reading["source"] == "metrics" and kwargs["metrics"]["RMSSD"] == pytest.approx(20.0)
    row = store.record_feedback(**kwargs)
    assert row.source == "metrics" and row.metrics["HF"] == 150.0 and row.baseline is None
    # a metrics CSV read against a resting metrics CSV stores that baseline too
    rest = Upload("rest.csv", pd.DataFrame([REST]).to_csv(index=False).encode())
    reading, kwargs = engine.plan_feedback(req, upload, baseline=rest)
    assert kwargs["baseline"] == REST and store.record_feedback(**kwargs).baseline == REST


def test_retraining_reads_rewards_against_the_stored_baseline(reader, store, settings):
    subject = simulate_subject(np.random.default_rng(8))
    rest = metrics(simulate_rr(0.0, 180, np.random.default_rng(1), subject), HRV.metrics)
    now = metrics(simulate_rr(1.0, 180, np.random.default_rng(2), subject), HRV.metrics)
    rec = _recommend(store)
    with_rest = store.record_feedback(
        rec, "t0", "low", metrics=now, baseline=rest
    )  # logged without the reading
    without = store.record_feedback(rec, "t1", "low", metrics=now)
    explicit = store.record_feedback(rec, "t2", "medium")
    rows = store.feedback_since(0)
    out = reread_rewards(rows, reader, settings.feedback.reward).set_index("id")
    expected = reader.read(now, baseline=rest)
    level = expected.loc[0, "level"]
    assert out.loc[with_rest.id, "reread"] and out.loc[with_rest.id, "stress_level"] == level
    assert out.loc[with_rest.id, "p_high"] == pytest.approx(expected.loc[0, "p_high"], abs=1e-9)
    assert out.loc[with_rest.id, "reward"] == settings.feedback.reward.model_dump()[level]
    assert out.loc[with_rest.id, "logged_reward"] == with_rest.reward == 1.0
    for kept in (without, explicit):  # no baseline: the logged reading stands
        assert not out.loc[kept.id, "reread"]
        assert (out.loc[kept.id, "stress_level"], out.loc[kept.id, "reward"]) == (
            kept.stress_level,
            kept.reward,
        )
    # with no baseline anywhere retraining loads no HRV model and changes nothing
    no_rest = rows[rows["id"] != with_rest.id]
    assert reread_with_champion(no_rest, settings) is no_rest


@pytest.mark.slow
def test_retraining_reads_with_the_registered_hrv_champion(policy_stack):
    """The retraining asset's reading (``reread_with_champion``) on the built stack: the HRV
    champion from the registry reads the rows that carry a baseline, against it."""
    s = policy_stack["settings"]
    store = policy_stack["resources"]["feedback"].store()
    start = store.latest_feedback_id()
    subject = simulate_subject(np.random.default_rng(31))
    rest = metrics(simulate_rr(0.0, 240, np.random.default_rng(32), subject), HRV.metrics)
    now = metrics(simulate_rr(1.0, 240, np.random.default_rng(33), subject), HRV.metrics)
    rec = _recommend(store)
    row = store.record_feedback(rec, "t0", "low", metrics=now, baseline=rest)
    lines: list[str] = []
    out = reread_with_champion(store.feedback_since(start), s, log=lines.append).set_index("id")
    champion = registry.load_version(registry.HRV, None, s)
    expected = champion.obj.read(now, baseline=rest)
    assert out.loc[row.id, "reread"] and out.loc[row.id, "stress_level"] == expected.loc[0, "level"]
    assert out.loc[row.id, "p_low"] == pytest.approx(expected.loc[0, "p_low"], abs=1e-9)
    assert out.loc[row.id, "reward"] == s.feedback.reward.model_dump()[expected.loc[0, "level"]]
    assert lines and f"{registry.HRV} v{champion.version}" in lines[0]
