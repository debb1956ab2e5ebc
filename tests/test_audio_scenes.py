"""Emotion on real music (issue #28): the scene rule as written in moodtune/audio/scenes.yaml, the
split by package, the set assembled from a small .deb built here (no network), and the figures
read through the product's valence-arousal point. The figures on the real packages are in
docs/audio.md (scripts/audio_real_check.py)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from conftest import fake_deb

from moodtune.audio import scenes
from moodtune.emotions import GEMS6, predicted_points
from moodtune.errors import ConfigError
from moodtune.settings import load_settings


@pytest.fixture(scope="module")
def rule():
    return scenes.rule()


@pytest.mark.parametrize(
    ("titles", "expected"),
    [
        (["battle_theme"], "high"),
        (["Hyperbattle"], "high"),  # inside a word
        (["MarineUrbanWarfare"], "high"),  # split at case changes
        (["nebu_battle1"], "high"),  # and between letters and digits
        (["treeboss"], "high"),
        (["peace4"], "low"),
        (["town_theme"], "low"),
        (["nightdream"], "low"),
        (["GameLost"], "sad"),
        (["Crystan-IntroSad"], "sad"),
        (["defeat2", "Defeat"], "sad"),  # file name and TITLE tag agree
        (["forest"], None),  # "rest" is a whole word only
        (["warzone"], None),  # "war" is a whole word only
        (["dwarf_hall"], None),
        (["ingame_12", "Between Peace and War"], None),  # two classes: ambiguous, left out
        (["track01", ""], None),
    ],
)
def test_the_written_rule_labels_titles(rule, titles, expected):
    assert scenes.scene_of(titles, rule) == expected


def test_title_words_and_ambiguous_matches(rule):
    assert scenes.title_words("MarineUrbanWarfare") == ["marine", "urban", "warfare"]
    assert scenes.title_words("Peer Gynt Suite No. 1, Op. 46 - I. Morning") == [
        "peer",
        "gynt",
        "suite",
        "no",
        "1",
        "op",
        "46",
        "i",
        "morning",
    ]
    assert scenes.matches(["Between Peace and War"], rule) == ["high", "low"]


def test_every_class_stands_for_gems_labels_and_marks_follow_them(rule):
    assert rule.labels == ["tenderness", "calmness", "power", "tension", "sadness"]  # GEMS-6 order
    m = scenes.marks(pd.Series(["high", "low", "sad"], index=list("abc")), rule)
    assert m.loc["a"].to_dict() == {"tenderness": 0, "calmness": 0, "power": 1, "tension": 1, "sadness": 0}
    assert m.loc["b"].to_dict() == {"tenderness": 1, "calmness": 1, "power": 0, "tension": 0, "sadness": 0}
    assert m.loc["c"].to_dict() == {"tenderness": 0, "calmness": 0, "power": 0, "tension": 0, "sadness": 1}


def test_split_is_by_package_and_agrees_with_the_genre_set():
    pkgs = scenes.packages()
    assert len({p.name for p in pkgs}) == len(pkgs)
    assert {p.side for p in pkgs} == {"train", "heldout"}
    genre_sides = {p.name: p.side for p in scenes.realset.packages()}
    assert all(genre_sides.get(p.name, p.side) == p.side for p in pkgs)


def test_a_package_on_the_other_side_of_the_genre_split_is_refused(tmp_path):
    spec = yaml.safe_load(scenes.SPEC.read_text())
    spec["packages"] = {"flare-game": {"side": "train", "files": "*.ogg", "licence": "CC-BY-SA-3.0"}}
    path = tmp_path / "scenes.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="flare-game is train here but heldout"):
        scenes.packages(path)


def _proba(points_by_clip: dict[str, str]) -> pd.DataFrame:
    """GEMS-6 probabilities that put each clip on one label's point."""
    rows = {clip: [float(g == label) for g in GEMS6] for clip, label in points_by_clip.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(GEMS6))


def test_figures_are_read_through_the_products_point_and_averaged_over_a_tracks_clips():
    proba = _proba(
        {
            "s:p:fight:0": "power",
            "s:p:fight:1": "joyful_activation",
            "s:p:siege:0": "tension",
            "s:p:peace:0": "calmness",
            "s:p:village:0": "power",  # a low track that sounds high
            "s:p:lament:0": "sadness",
            "s:p:lament:1": "calmness",
        }
    )
    scene = pd.Series(
        {
            "s:p:fight:0": "high",
            "s:p:fight:1": "high",
            "s:p:siege:0": "high",
            "s:p:peace:0": "low",
            "s:p:village:0": "low",
            "s:p:lament:0": "sad",
            "s:p:lament:1": "sad",
        }
    )
    m, table = scenes.scene_metrics(proba, scene)
    points = predicted_points(proba.to_numpy())
    fight = points[:2].mean(axis=0)  # the track's point: the mean of its clips' points
    assert table.loc["s:p:fight", ["valence", "arousal"]].to_numpy() == pytest.approx(fight)
    assert m["tracks.high"] == 2 and m["tracks.low"] == 2 and m["tracks.sad"] == 1
    # high (fight, siege) vs low (peace, village = power's arousal 0.30): fight (0.41) beats both,
    # siege (0.505) beats both -> 4 of 4 pairs
    assert m["arousal_auc"] == pytest.approx(1.0)
    # sad (lament: mean of sadness and calmness, valence -0.02) below fight, peace and village,
    # above siege (tension's valence -0.595): 3 of 4 pairs
    assert m["valence_auc"] == pytest.approx(0.75)
    assert m["valence.sad"] == pytest.approx(points[5:].mean(axis=0)[0])
    assert m["arousal.low"] == pytest.approx(np.mean([points[3][1], points[4][1]]))
    # a high track that sounds calm: siege ties peace (a half) and loses to village -> 2.5 of 4
    proba.loc["s:p:siege:0"] = _proba({"x": "calmness"}).iloc[0].to_numpy()
    assert scenes.scene_metrics(proba, scene)[0]["arousal_auc"] == pytest.approx(0.625)


def _ogg(path, seconds: float, title: str | None = None) -> None:
    t = np.arange(int(8000 * seconds)) / 8000
    sf.write(
        path, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 8000, format="OGG", subtype="VORBIS"
    )
    if title:
        import mutagen

        f = mutagen.File(str(path))
        f["title"] = title
        f.save()


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_assemble_labels_a_packages_tracks_by_title_and_cuts_clips(tmp_path, monkeypatch):
    name = "moodtune-test-scenes"

    def fill(music):
        _ogg(music / "battle.ogg", 12.0)
        _ogg(music / "track02.ogg", 12.0, title="Village at Dawn")  # the TITLE tag names the scene
        _ogg(music / "forest.ogg", 12.0)  # no class
        _ogg(music / "lament.ogg", 4.0)  # a stinger: shorter than min_seconds
        _ogg(music / "peace_and_war.ogg", 12.0)  # ambiguous

    cache = fake_deb(tmp_path, name, fill)
    spec = yaml.safe_load(scenes.SPEC.read_text())
    spec["packages"] = {name: {"side": "heldout", "files": "usr/share/music/*.ogg", "licence": "CC0"}}
    path = tmp_path / "scenes.yaml"
    path.write_text(yaml.safe_dump(spec))
    s = load_settings(
        overrides={
            "audio": {
                "real_set": {"cache_dir": str(cache), "scenes": {"clip_seconds": 3.0, "clips_per_track": 2}}
            }
        }
    )
    got = scenes.assemble(s, spec=path)
    assert got.unavailable is None and not got.problems
    clips = got.clips.set_index("track_id")
    assert list(clips.columns) == scenes.COLUMNS[1:]
    assert sorted(clips.index) == [
        f"scene:{name}:battle:0",
        f"scene:{name}:battle:1",
        f"scene:{name}:track02:0",
        f"scene:{name}:track02:1",
    ]
    assert clips["scene"].to_dict() == {
        f"scene:{name}:battle:0": "high",
        f"scene:{name}:battle:1": "high",
        f"scene:{name}:track02:0": "low",
        f"scene:{name}:track02:1": "low",
    }
    assert (clips["side"] == "heldout").all() and (clips["set"] == scenes.SET).all()
    assert clips.loc[f"scene:{name}:track02:0", "title"] == "Village at Dawn"
    for p in clips["path"]:
        assert sf.info(p).duration == pytest.approx(3.0, abs=1e-3)
    # disabled: empty, with the reason
    off = load_settings(overrides={"audio": {"real_set": {"scenes": {"enabled": False}}}})
    assert "disabled" in scenes.assemble(off, spec=path).unavailable


def test_auc_intervals_resample_tracks_within_each_class():
    rng = np.random.default_rng(0)

    def table(n: int) -> pd.DataFrame:
        arousal = np.r_[rng.normal(0.2, 0.2, 3 * n), rng.normal(0.0, 0.2, n), rng.normal(0.0, 0.2, n)]
        valence = np.r_[rng.normal(0.3, 0.2, 4 * n), rng.normal(0.0, 0.2, n)]
        return pd.DataFrame(
            {"scene": ["high"] * 3 * n + ["low"] * n + ["sad"] * n, "arousal": arousal, "valence": valence}
        )

    small, large = table(5), table(60)
    ci = {
        name: scenes.auc_intervals(t, samples=500, confidence=0.95, seed=0)
        for name, t in (("small", small), ("large", large))
    }
    for name, t in (("small", small), ("large", large)):
        m = {
            "arousal_auc": _auc(t[t["scene"] != "sad"]["scene"] == "high", t[t["scene"] != "sad"]["arousal"]),
            "valence_auc": _auc(t["scene"] == "sad", -t["valence"]),
        }
        for k, v in m.items():
            assert ci[name][f"{k}_ci_low"] <= v <= ci[name][f"{k}_ci_high"]
    width = {n: ci[n]["valence_auc_ci_high"] - ci[n]["valence_auc_ci_low"] for n in ci}
    assert width["large"] < width["small"] / 2  # five sad tracks make a wide interval
    apart = pd.DataFrame(
        {
            "scene": ["high", "high", "low", "sad"],
            "arousal": [1.0, 0.9, 0.0, 0.0],
            "valence": [0.5, 0.5, 0.5, -0.5],
        }
    )
    assert scenes.auc_intervals(apart, samples=200, confidence=0.9, seed=1) == {
        "arousal_auc_ci_low": 1.0,
        "arousal_auc_ci_high": 1.0,
        "valence_auc_ci_low": 1.0,
        "valence_auc_ci_high": 1.0,
    }


def _auc(truth, score) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, score))
