"""The text group materialized in-process: registry, gate, pyfunc, CLI, and the real-data path."""

import subprocess
import sys

import mlflow.artifacts
import mlflow.pyfunc
import pandas as pd
import pytest
from dagster import materialize

from assets.resources import SettingsResource
from assets.text import (
    emotion_lexicon,
    learned_text_tables,
    lexicon_is_usable,
    track_emotions_normalised,
    track_text_emotions,
    track_texts,
)
from assets.training import TRAINED
from definitions import build_resources
from moodtune import registry
from moodtune.text.index import MODEL_NAME
from moodtune.text.lexicon import load_dlut_csv
from moodtune.text.sources import PROTOTYPES, DemoTextWriter, demo_track_texts, write_tracks_db
from moodtune.text.tables import load_tables, tables_path

emotion_index = TRAINED["emotion_index"]  # built from its spec
GROUP = [
    emotion_lexicon,
    learned_text_tables,
    track_texts,
    track_text_emotions,
    emotion_index,
    lexicon_is_usable,
    track_emotions_normalised,
]


def small(overrides: str):
    return build_resources(SettingsResource(overrides_yaml=overrides))


def metadata(result, key):
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in events[-1].materialization.metadata.items()}


@pytest.mark.slow  # builds, registers and gates the index (the text group), and runs the CLI
def test_text_group_builds_registers_and_gates_the_index(settings, project_root, learned_tables):
    resources = small("text: {demo_per_cell: 4, eval_queries_per_emotion: 10}")
    result = materialize(GROUP, resources=resources)
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    # the learned text tables: what the generator makes from the tuning split, stored as the DVC
    # output, logged with the index's MLflow run and carried by the registered index
    tables = result.output_for_node("learned_text_tables")
    assert tables == learned_tables and tables.made == learned_tables.made
    assert load_tables(tables_path(settings)) == tables
    assert metadata(result, "learned_text_tables")["learned_words"] == len(tables.learned) > 300
    run = mlflow.get_run(metadata(result, "emotion_index")["mlflow_run_id"])
    assert run.data.params["text.tables.digest"] == tables.digest
    assert run.data.params["text.tables.learned_min_texts"] == str(settings.text.validation.learned_min_texts)
    logged = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="text/learned_tables.json"
    )
    assert load_tables(logged) == tables
    texts = result.output_for_node("track_texts")
    assert len(texts) == 96 and texts["track_id"].str.startswith("demo-").all()
    emo = metadata(result, "track_text_emotions")
    assert emo["tracks_with_emotion"] == 96
    idx = metadata(result, "emotion_index")
    assert idx["precision_at_k"] >= 0.5 > idx["baseline_random_precision_at_k"]
    assert idx["gate_decision"] == "promoted" and idx["model_version"] == "1"

    # the champion is a pyfunc: DataFrame of text and k in, tracks with emotion and keywords out
    champion = registry.champion(MODEL_NAME, settings)
    assert champion is not None and champion.tags["gate.decision"] == "promoted"
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    out = model.predict(pd.DataFrame({"text": ["想念你，好难过", "城市的街道"], "k": [3, 2]}))
    first = out[out["query"] == 0]
    assert list(first["rank"]) == [1, 2, 3]
    assert first["track_id"].str.startswith("demo-").all()
    assert first["top_emotions"].iloc[0].startswith("sorrow") and "难过" in first["keywords"].iloc[0]
    second = out[out["query"] == 1]
    assert (
        len(second) == 1
        and second["track_id"].isna().all()
        and "no emotion found" in second["message"].iloc[0]
    )

    # the same index is what EmotionIndex.from_registry gives the service and the photo path,
    # reading with the tables it was built with
    index = registry.load(registry.TEXT, None, settings)
    assert index.options.tables == tables and champion.tags["learned_tables"] == tables.digest
    assert [h.track_id for h in index.recommend_text("想念你，好难过", 3).hits] == list(first["track_id"])

    # the CLI prints the emotion and the tracks; a text without emotion exits 2 with a reason
    # (the `moodtune` entry point; `python -m moodtune.cli` would register commands on __main__)
    cli = [
        sys.executable,
        "-c",
        "import sys; from moodtune.cli import main; sys.exit(main())",
        "recommend-text",
    ]
    ok = subprocess.run(
        [*cli, "后悔也都没有用 还不如一切没有发生过 不过就是又少一个诗人 换一个人沉迷你的笑", "-k", "4"],
        capture_output=True,
        text=True,
        cwd=project_root,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    assert lines[0].startswith("emotion (coarse): 哀 sorrow") and "后悔" in lines[1]
    assert sum(line.strip()[:2] in {"1.", "2.", "3.", "4."} for line in lines) == 4
    # the CLI lists what the API answers, in the same order, and the distances do not all tie
    ranked = [line for line in lines if line.strip()[:2] in {"1.", "2.", "3.", "4."}]
    api = index.recommend_text(
        "后悔也都没有用 还不如一切没有发生过 不过就是又少一个诗人 换一个人沉迷你的笑", 4
    ).hits
    assert [line.rsplit("(", 1)[1].rstrip(")") for line in ranked] == [h.track_id for h in api]
    assert len({line.split("dist=")[1].split()[0] for line in ranked}) > 1
    bad = subprocess.run([*cli, "城市的街道"], capture_output=True, text=True, cwd=project_root, timeout=120)
    assert bad.returncode == 2 and "no emotion found" in bad.stderr

    # rebuilt on the same data, the new version does not beat the champion by the margin
    again = materialize(
        [emotion_lexicon, learned_text_tables, track_texts, track_text_emotions, emotion_index],
        resources=resources,
    )
    md = metadata(again, "emotion_index")
    assert md["model_version"] == "2" and md["gate_decision"] == "rejected"
    assert "champion v1" in md["gate_reason"] and "does not clear the margin" in md["gate_reason"]
    assert str(registry.champion(MODEL_NAME, settings).version) == "1"


def test_real_data_path_dlut_csv_and_netease_database(tmp_path, settings):
    # a fine DLUT-format lexicon and a NetEase-schema SQLite dump of texts written with it
    rows = "".join(f"{w},adj,1,1,{code},7,1,,,\n" for code, words in PROTOTYPES.items() for w in words)
    dlut = tmp_path / "dlut.csv"
    dlut.write_text("词语,词性种类,词义数,词义序号,情感分类,强度,极性,辅助情感分类,强度,极性\n" + rows)
    lexicon = load_dlut_csv(dlut)
    df = demo_track_texts(DemoTextWriter(lexicon), 2, seed=9, comments_per_track=3, lyric_lines=6)
    url = f"sqlite:///{tmp_path / 'ncm.db'}"
    write_tracks_db(df, url)

    resources = small(
        f"text: {{dlut_csv: '{dlut}', tracks_db: '{url}', eval_queries_per_emotion: 5, eval_k: 5}}"
    )
    result = materialize(GROUP, resources=resources)
    assert result.success
    lex_md = metadata(result, "emotion_lexicon")
    assert lex_md["granularity"] == "fine" and lex_md["source"].startswith("dlut:")
    texts_md = metadata(result, "track_texts")
    assert texts_md["source"] == "database" and texts_md["tracks"] == 48
    table = result.output_for_node("track_text_emotions")
    assert "NB" in table.columns and "primary_emotion" not in table.columns
    idx = metadata(result, "emotion_index")
    assert idx["granularity"] == "fine"
    assert idx["ground_truth"].startswith("dominant category")
    pointer = result.output_for_node("emotion_index")
    assert pointer["name"] == MODEL_NAME and pointer["granularity"] == "fine"
    index = mlflow.pyfunc.load_model(pointer["model_uri"]).unwrap_python_model().obj
    assert index.granularity == "fine" and len(index) == pointer["tracks"]
    # the tables were made with the configured (fine) lexicon's stack
    tables = result.output_for_node("learned_text_tables")
    assert tables.made["granularity"] == "fine" and index.options.tables == tables
    hits = index.recommend_text("心碎，好悲伤", 3).hits
    assert all(table.set_index("track_id").loc[h.track_id, "NB"] > 0 for h in hits)
