"""The ``hrv`` asset group end to end on small simulated data, the real-data loaders, the CLI."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
from dagster import materialize

from assets.hrv import (
    hrv_metrics,
    hrv_metrics_cover_levels,
    hrv_metrics_plausible,
    hrv_recordings,
)
from assets.resources import SettingsResource
from assets.training import TRAINED
from definitions import build_resources
from moodtune import registry
from moodtune.cli import main
from moodtune.errors import ConfigError, InvalidHRV
from moodtune.hrv import LEVELS, METRIC_COLUMNS, metrics
from moodtune.hrv.data import load_rr_dir
from moodtune.hrv.pipeline import load_recordings
from moodtune.hrv.simulate import simulate_rr, simulate_subject
from moodtune.settings import get_settings, load_settings

HRV = get_settings().hrv  # the hrv section of params.yaml, given to the HRV code

SMALL = (
    "hrv: {demo: {subjects: 16, recordings_per_level: 2, recording_seconds: 120}, model: {iterations: 150}}"
)
hrv_stress_model = TRAINED["hrv_stress_model"]  # built from its spec
GROUP = [hrv_recordings, hrv_metrics, hrv_stress_model, hrv_metrics_plausible, hrv_metrics_cover_levels]


def _resources(overrides: str):
    return build_resources(SettingsResource(overrides_yaml=overrides))


@pytest.mark.slow
def test_hrv_group_registers_and_promotes_a_model_scored_leave_subjects_out(
    isolated_env, project_root, capsys
):
    result = materialize(GROUP, resources=_resources(SMALL))
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())

    recordings = result.output_for_node("hrv_recordings")
    assert len(recordings) == 16 * 3 * 2 and recordings["rr_ms"].map(len).min() > 100  # raw RR kept
    table = result.output_for_node("hrv_metrics")
    assert len(table) == len(recordings) and table[list(METRIC_COLUMNS)].notna().all().all()

    info = result.output_for_node("hrv_stress_model")
    settings = load_settings(overrides={"hrv": {"demo": {"subjects": 16}}})
    assert info["promoted"] and info["version"] == "1"
    champion = registry.champion("moodtune-hrv", settings)
    assert champion is not None and str(champion.version) == "1"
    assert registry.version_score(champion, "macro_f1") == registry.rounded(info["scores"]["macro_f1"])
    assert champion.tags["gate.decision"] == "promoted"

    # the run holds grouped-split macro-F1 for the model and both baselines, and the plots
    registry.configure(settings)
    run = mlflow.get_run(champion.run_id)
    m = run.data.metrics
    assert m["macro_f1"] == m["catboost.macro_f1"] >= 0.5
    assert m["majority.macro_f1"] < 0.2 < m["logistic_regression.macro_f1"]
    assert m["macro_f1"] > m["macro_f1_majority"]
    assert {f"catboost.recall_{lvl}" for lvl in LEVELS} <= set(m)
    assert run.data.params["evaluation"].startswith("grouped k-fold by subject")
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(champion.run_id, "evaluation")}
    assert {"evaluation/confusion_matrices.png", "evaluation/baselines.csv"} <= artifacts

    # the champion reads stress: a relaxed and a stressed recording of the same person
    reader = registry.load(registry.HRV, None, settings)
    assert reader.version == "1"
    subject = simulate_subject(np.random.default_rng(0))
    rr_low = simulate_rr(0.0, 180, np.random.default_rng(1), subject)
    rr_high = simulate_rr(1.0, 180, np.random.default_rng(1), subject)
    out = reader.read(pd.concat([reader.read(rr_low), reader.read(rr_high)])[list(METRIC_COLUMNS)])
    assert out.loc[0, "p_low"] > out.loc[1, "p_low"] and out.loc[1, "p_high"] > out.loc[0, "p_high"]

    # retraining on the same data cannot beat the champion by the margin: v2 stays challenger
    again = materialize(GROUP, resources=_resources(SMALL), selection=["hrv_stress_model"])
    assert again.success
    second = again.output_for_node("hrv_stress_model")
    assert second["version"] == "2" and not second["promoted"]
    assert str(registry.champion("moodtune-hrv", settings).version) == "1"
    assert str(registry.get_alias("moodtune-hrv", "challenger", settings).version) == "2"

    # the CLI reads the champion: RR intervals and a metrics CSV; a bad file exits 2
    rr_file = isolated_env / "rr.txt"
    rr_file.write_text("\n".join(f"{v:.1f}" for v in rr_high))
    csv_file = isolated_env / "metrics.csv"
    table[list(METRIC_COLUMNS)].head(3).to_csv(csv_file, index=False)
    # once through the `moodtune` console script's entry point (`python -m moodtune.cli` runs the
    # module as __main__, a second copy that does not see the commands the domains register) ...
    cli = [sys.executable, "-c", "import sys; from moodtune.cli import main; sys.exit(main())", "analyze-hrv"]
    ok = subprocess.run([*cli, str(rr_file)], capture_output=True, text=True, cwd=project_root, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "moodtune-hrv v1" in ok.stdout and "artefacts corrected" in ok.stdout

    # ... the rest in this process (a CLI start-up is ~5 s of imports on 2 cores)
    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["analyze-hrv", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = run(str(csv_file), "--json")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 3 and '"p_medium"' in out
    short = isolated_env / "short.txt"
    short.write_text("800\n810\n790\n")
    code, _, err = run(str(short))
    assert code == 2 and "at least 60 s of RR intervals" in err

    # a raw ECG (systole's real recording) read against a resting RR baseline; a signal without rate exits 2
    systole = pytest.importorskip("systole")
    from pathlib import Path

    ecg = np.load(Path(systole.__file__).parent / "datasets" / "Task1_ECG.npy")[:120_000]
    ecg_file = isolated_env / "strap.csv"
    ecg_file.write_text("# sampling_rate: 1000\necg\n" + "\n".join(f"{v:.5f}" for v in ecg))
    rest_file = isolated_env / "rest.txt"
    rest_file.write_text("\n".join(f"{v:.1f}" for v in rr_low))
    code, out, err = run(str(ecg_file), "--baseline", str(rest_file))
    assert code == 0, err
    assert "artefacts corrected" in out and "against the baseline" in out
    no_rate = isolated_env / "norate.csv"
    no_rate.write_text("ecg\n" + "\n".join(f"{v:.5f}" for v in ecg))
    code, _, err = run(str(no_rate))
    assert code == 2 and "no sampling rate" in err
    code, out, _ = run(str(no_rate), "--sampling-rate", "1000", "--json")
    assert code == 0 and '"n_ectopic"' in out


def _swell_like(path, rng) -> pd.DataFrame:
    """A SWELL-style table: the eight metrics per window, SWELL's condition names, a subject id."""
    rows = []
    stress = {"no stress": 0.1, "interruption": 0.5, "time pressure": 0.9}
    for s in range(4):
        subject = simulate_subject(rng)
        for condition, level in stress.items():
            for _ in range(2):
                rows.append(
                    {
                        **metrics(simulate_rr(level, 120, rng, subject), HRV.metrics),
                        "condition": condition,
                        "subject_id": f"p{s}",
                        "NasaTLX": 1.0,
                    }
                )
    table = pd.DataFrame(rows).rename(columns={"pNN50": "PNN50"})
    table.to_csv(path, index=False)
    return table


def test_dataset_csv_is_read_with_conditions_mapped_through_params(isolated_env):
    path = isolated_env / "swell.csv"
    source = _swell_like(path, np.random.default_rng(3))
    overrides = f"hrv: {{data: {{dataset_csv: '{path}', subject_column: subject_id}}}}"
    result = materialize(
        [hrv_recordings, hrv_metrics, hrv_metrics_plausible], resources=_resources(overrides)
    )
    assert result.success
    table = result.output_for_node("hrv_metrics")
    assert len(table) == len(source) and set(table["source"]) == {"dataset_csv"}
    mapped = dict(zip(table["condition"], table["level"], strict=True))
    assert mapped == {"no stress": "low", "interruption": "medium", "time pressure": "high"}
    np.testing.assert_allclose(table["pNN50"], source["PNN50"])

    # an unmapped condition and a missing column are configuration problems, said plainly
    source.assign(condition="boredom").to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"\['boredom'\].*hrv.data.condition_levels"):
        load_recordings(
            load_settings(
                overrides={"hrv": {"data": {"dataset_csv": str(path), "subject_column": "subject_id"}}}
            )
        )
    with pytest.raises(InvalidHRV, match="no subject column 'subject'"):
        load_recordings(load_settings(overrides={"hrv": {"data": {"dataset_csv": str(path)}}}))
    source.drop(columns=["HF", "LF"]).to_csv(path, index=False)
    with pytest.raises(InvalidHRV, match="lack the columns LF, HF"):
        load_recordings(
            load_settings(
                overrides={"hrv": {"data": {"dataset_csv": str(path), "subject_column": "subject_id"}}}
            )
        )


def test_rr_dir_files_with_labels_are_cut_into_windows(isolated_env):
    folder = isolated_env / "rr"
    folder.mkdir()
    rng = np.random.default_rng(8)
    labels = []
    for s in range(2):
        subject = simulate_subject(rng)
        for condition, stress in (("baseline", 0.1), ("stress", 0.9)):
            rr = simulate_rr(stress, 250, rng, subject)
            name = f"s{s}_{condition}.txt" if s == 0 else f"s{s}_{condition}.csv"
            if name.endswith(".txt"):
                (folder / name).write_text("\n".join(f"{v:.1f}" for v in rr))
            else:
                pd.DataFrame({"beat": range(rr.size), "RR": rr}).to_csv(folder / name, index=False)
            labels.append({"file": name, "subject": f"s{s}", "condition": condition})
    pd.DataFrame(labels).to_csv(folder / "labels.csv", index=False)

    overrides = f"hrv: {{data: {{rr_dir: '{folder}', window_seconds: 100}}}}"
    result = materialize([hrv_recordings, hrv_metrics], resources=_resources(overrides))
    assert result.success
    recordings = result.output_for_node("hrv_recordings")
    # 250 s per file -> two 100-s windows (the 50-s tail is below min_seconds and is reported)
    assert len(recordings) == 4 * 2 and set(recordings["source"]) == {"rr_dir"}
    assert set(recordings["level"]) == {"low", "high"}
    meta = result.asset_materializations_for_node("hrv_recordings")[0].metadata
    assert meta["rr_seconds_left_out"].value > 4 * 40
    assert len(result.output_for_node("hrv_metrics")) == 8

    (folder / "stray.txt").write_text("800\n" * 100)
    kwargs = {
        "condition_column": "condition",
        "subject_column": "subject",
        "condition_levels": {},
        "window_seconds": None,
        "min_seconds": 60.0,
    }
    with pytest.raises(ConfigError, match="no stress level"):
        load_rr_dir(folder, **kwargs)
    kwargs["condition_levels"] = {"baseline": "low", "stress": "high"}
    with pytest.raises(InvalidHRV, match=r"without a row in labels.csv.*stray.txt"):
        load_rr_dir(folder, **kwargs)
