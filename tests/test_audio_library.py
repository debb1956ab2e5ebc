"""The library asset: ``audio.music_dir`` in stable shards (dynamic partitions), two partitions
materialised in-process, bad files listed with their reason, a re-run served from the cache."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from dagster import DagsterInstance, materialize

import assets.audio as audio_assets
from assets.resources import SettingsResource
from definitions import build_resources
from moodtune.audio.library import shard_of, shards

pytestmark = pytest.mark.slow


def _folder(root, n=6):
    music = root / "music"
    (music / "sub").mkdir(parents=True)
    sr = 22050
    t = np.arange(int(2.5 * sr)) / sr
    for i in range(n):
        y = 0.4 * np.sin(2 * np.pi * (220 + 55 * i) * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2
        sf.write(music / ("sub" if i % 2 else "") / f"track{i}.wav", y.astype(np.float32), sr)
    whole = (music / "track0.wav").read_bytes()
    (music / "cut.wav").write_bytes(whole[: len(whole) // 2])  # truncated: refused, listed
    (music / "notes.txt").write_text("not audio, not listed")
    return music


def test_shards_are_stable_when_files_are_added(tmp_path):
    music = _folder(tmp_path)
    before = shards(music, 4)
    sf.write(music / "new.wav", np.zeros(22050, dtype=np.float32), 22050)
    after = shards(music, 4)
    for key, files in before.items():
        assert set(files) <= set(after[key])  # nobody moved
    assert shard_of("new.wav", 4) in after and "notes.txt" not in sum(after.values(), [])


def test_a_missing_folder_or_a_stale_shard_is_a_clear_error(tmp_path, settings):
    from moodtune.audio.library import analyse_shard
    from moodtune.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a folder.*MOODTUNE_AUDIO__MUSIC_DIR"):
        shards(tmp_path / "nowhere", 4)
    with pytest.raises(ConfigError, match="library_shards must be at least 1"):
        shards(tmp_path, 0)
    music = _folder(tmp_path, n=2)
    s = settings.model_copy(update={"audio": settings.audio.model_copy(update={"library_shards": 1})})
    with pytest.raises(
        ConfigError, match="'shard-007' is not a shard of .*materialize audio_library_shards again"
    ):
        analyse_shard(s, music, "shard-007")


def test_two_partitions_materialise_in_process_with_bad_files_listed(tmp_path):
    music = _folder(tmp_path)
    resources = build_resources(
        SettingsResource(
            data_dir=str(tmp_path / "data"),
            tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
            overrides_yaml=f"mlflow: {{artifact_root: '{tmp_path / 'artifacts'}'}}\n"
            f"audio: {{music_dir: '{music}', library_shards: 3}}",
        )
    )
    instance = DagsterInstance.ephemeral()
    listed = materialize([audio_assets.audio_library_shards], resources=resources, instance=instance)
    table = listed.output_for_node("audio_library_shards")
    keys = sorted(table["shard"].unique())
    instance.add_dynamic_partitions("audio_library_shards", ["shard-999"])  # from another shard count
    listed = materialize([audio_assets.audio_library_shards], resources=resources, instance=instance)
    assert listed.asset_materializations_for_node("audio_library_shards")[0].metadata[
        "removed_shards"
    ].value == ["shard-999"]
    assert len(table) == 7 and set(instance.get_dynamic_partitions("audio_library_shards")) == set(keys)
    assert len(keys) >= 2
    bad_key = shard_of("cut.wav", 3)
    chosen = [bad_key, next(k for k in keys if k != bad_key)]
    outputs = {}
    for key in chosen:
        result = materialize(
            [audio_assets.audio_library],
            partition_key=key,
            resources=resources,
            instance=instance,
            selection=[audio_assets.audio_library],
        )
        assert result.success
        outputs[key] = (
            result.output_for_node("audio_library"),
            result.asset_materializations_for_node("audio_library")[0].metadata,
        )
    frame, meta = outputs[bad_key]
    assert [b["file"] for b in meta["bad_files"].value] == ["cut.wav"]
    assert "truncated" in meta["bad_files"].value[0]["problem"]
    for key, (frame, meta) in outputs.items():
        expected = sorted(f for f in table.loc[table["shard"] == key, "file"] if f != "cut.wav")
        assert sorted(frame.index) == expected
        assert {"tempo", "mtt.classical", "msd.rock", "msd.emb_199"} <= set(frame.columns)
        assert np.isfinite(frame.to_numpy(dtype=float)).all()
        assert meta["model_version"].value == ""  # no champion in this store: analysed, not predicted
    again = materialize(
        [audio_assets.audio_library],
        partition_key=chosen[1],
        resources=resources,
        instance=instance,
        selection=[audio_assets.audio_library],
    )
    meta = again.asset_materializations_for_node("audio_library")[0].metadata
    n = len(outputs[chosen[1]][0])
    assert meta["cache_hits"].value == n and meta["computed"].value == 0
    assert meta["tag_cache_hits"].value == n and meta["tags_computed"].value == 0


def test_a_shard_with_a_model_gets_probabilities_and_a_valence_arousal_point(tmp_path, settings):
    from moodtune.audio.library import analyse_shard
    from moodtune.audio.musicnn.vocab import TAG_COLUMNS
    from moodtune.audio.tagmodel import TaggedAudioModel
    from moodtune.emotions import GEMS6, GENRES, to_dlut

    music = _folder(tmp_path, n=3)
    s = settings.model_copy(update={"audio": settings.audio.model_copy(update={"library_shards": 1})})
    model = TaggedAudioModel(dict.fromkeys(TAG_COLUMNS, 0.05))
    result = analyse_shard(s, music, "shard-000", model=model)
    assert sorted(result.table.index) == ["sub/track1.wav", "track0.wav", "track2.wav"]
    assert [b["file"] for b in result.bad] == ["cut.wav"]
    row = result.table.loc["track0.wav"]
    assert np.isclose(sum(row[f"p.{g}"] for g in GENRES), 1.0)
    v, a = to_dlut("gems6", {e: row[f"p.{e}"] for e in GEMS6}).valence_arousal()
    assert (row["valence"], row["arousal"]) == pytest.approx((v, a)) and -1 <= v <= 1 and -1 <= a <= 1
