"""Genre and emotion on real music, measured as the ``audio_emotion_model`` asset measures them
(issue #28; docs/audio.md "Emotion on real music").

Assembles the real set (genre packages, ``moodtune/audio/realset.yaml``, and scene-titled
packages, ``moodtune/audio/scenes.yaml``) with the project's own code, analyses it (features and
tags cached by content, as every build), runs :func:`moodtune.audio.train.train_and_register` into
a throwaway MLflow store and prints the held-out figures: genre accuracy (mapping, head, served),
arousal and valence AUC per emotion candidate (mapping, scene head, blend), per-class means of
the served valence-arousal point, and the gate's decision.

``--reading`` also answers "does reading more of a long track change the figures?": every track
(genre and scene sets) read as 1, 3 and 5 clips of 15 s from evenly spaced points (the heads
retrained on each; a track's genre is the mean of its clips' probabilities, its point the mean of
its clips' points); and the scene tracks read as the catalog reads a track (the tagger on its
first 30 s) and as 10 patches spread over the whole track (the genre set as in params.yaml; in the
last reading its clips are tagged with 10 patches too).

    nice -n 10 .venv/bin/python scripts/audio_real_check.py [--reading]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from moodtune import registry
from moodtune.audio import scenes
from moodtune.audio.analysis import analyse
from moodtune.audio.scenes import CLASSES, assemble_all
from moodtune.audio.train import train_and_register
from moodtune.settings import load_settings


def measure(overrides: dict, reading: str, store: Path, log=print) -> dict:
    """One build's figures on a fresh MLflow store; ``reading``: 'clips' (the set's clips) or
    'file' (the scene rows read from their whole files, as the tagger settings say)."""
    base = {
        "mlflow": {
            "tracking_uri": f"sqlite:///{store / 'mlflow.db'}",
            "artifact_root": str(store / "artifacts"),
        }
    }
    s = load_settings(overrides={**base, **overrides})
    real = assemble_all(s)
    if real.unavailable:
        raise SystemExit(f"no real set: {real.unavailable}")
    clips = real.clips.copy()
    if reading == "file":  # one row per scene track, its whole file
        scene = clips["set"] == "scenes"
        whole = clips[scene].drop_duplicates("file").copy()
        whole["track_id"] = whole["track_id"].str.rsplit(":", n=1).str[0] + ":file"
        whole["path"] = whole["file"]
        clips = pd.concat([clips[~scene], whole], ignore_index=True)
    start = time.perf_counter()
    analysed = analyse(s, dict(zip(clips["track_id"], clips["path"], strict=True)))
    log(
        f"  analysed {len(clips)} clips in {time.perf_counter() - start:.0f} s ({len(analysed.failed)} failed)"
    )
    empty = pd.DataFrame(columns=["track_id", "genre"])
    with registry.start_run("audio-real-check", settings=s):
        report = train_and_register(
            s,
            empty,
            pd.DataFrame(),
            real_clips=clips,
            real_features=analysed.features,
            log=lambda m: log(f"  {m}"),
        )
    m = report.extra["evaluation"].metrics
    scene = clips[(clips["set"] == "scenes") & (clips["side"] == "heldout")]
    if reading == "clips" and len(scene):  # the served model on the held-out tracks as the catalog reads them
        files = scene.drop_duplicates("file")
        ids = files["track_id"].str.rsplit(":", n=1).str[0] + ":file"
        whole = analyse(s, dict(zip(ids, files["file"], strict=True))).features
        model = registry.load(registry.AUDIO, report.gate.version, s)
        catalog, _table = scenes.scene_metrics(
            model.predict_proba(whole), pd.Series(files["scene"].to_numpy(), index=ids)
        )
        m.update({f"catalog_reading.{k}": v for k, v in catalog.items()})
    m["gate.promoted"] = float(report.gate.decision.promoted)
    m["gate.reason"] = report.gate.decision.reason
    m["n_scene_clips"] = float((clips["set"] == "scenes").sum())
    return m


def show(name: str, m: dict) -> None:
    print(f"== {name}")
    print(
        f"  genre accuracy over {m['n_tracks']:.0f} held-out tracks: served {m['genre_accuracy']:.3f}, mapping "
        f"{m['zero_shot.genre_accuracy']:.3f}, head {m['head.genre_accuracy']:.3f}; per genre "
        + ", ".join(f"{k.split('.')[-1]} {v:.3f}" for k, v in m.items() if k.startswith("genre_accuracy."))
        + f"; per clip: served {m['clips.genre_accuracy']:.3f}, mapping {m['zero_shot.clips.genre_accuracy']:.3f}, "
        f"head {m['head.clips.genre_accuracy']:.3f}"
    )
    if "scenes.arousal_auc" in m:
        print(
            f"  scene clips {m['n_scene_clips']:.0f}; held-out tracks "
            + ", ".join(f"{c} {m[f'scenes.tracks.{c}']:.0f}" for c in CLASSES)
        )
        for cand in ("base", "head", "blend"):
            print(
                f"  {cand:5s}: arousal AUC {m[f'scenes.{cand}.arousal_auc']:.3f}, "
                f"valence AUC {m[f'scenes.{cand}.valence_auc']:.3f}; mean (valence, arousal) "
                + ", ".join(
                    f"{c} ({m[f'scenes.{cand}.valence.{c}']:+.3f}, {m[f'scenes.{cand}.arousal.{c}']:+.3f})"
                    for c in CLASSES
                )
            )
        print(
            f"  served: arousal AUC {m['scenes.arousal_auc']:.3f}, valence AUC {m['scenes.valence_auc']:.3f} "
            f"(training packages: {m['scenes.train.arousal_auc']:.3f} / {m['scenes.train.valence_auc']:.3f})"
        )
        print(
            f"  95% bootstrap intervals (tracks resampled within class): arousal "
            f"[{m['scenes.arousal_auc_ci_low']:.3f}, {m['scenes.arousal_auc_ci_high']:.3f}], valence "
            f"[{m['scenes.valence_auc_ci_low']:.3f}, {m['scenes.valence_auc_ci_high']:.3f}]"
        )
        if "catalog_reading.arousal_auc" in m:
            print(
                f"  the served model on the held-out tracks read as the catalog reads them (first 30 s): arousal AUC "
                f"{m['catalog_reading.arousal_auc']:.3f}, valence AUC {m['catalog_reading.valence_auc']:.3f}"
            )
        for c in CLASSES:
            print(
                f"    mean point of held-out {c:4s} tracks: valence {m[f'scenes.valence.{c}']:+.3f}, "
                f"arousal {m[f'scenes.arousal.{c}']:+.3f}"
            )
    else:
        print("  no scene figures")
    print(f"  gate: {'promoted' if m['gate.promoted'] else 'not promoted'} ({m['gate.reason']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reading", action="store_true", help="compare how much of each scene track is read")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    readings = [("served settings (params.yaml)", {}, "clips")]
    if args.reading:
        clips = {
            n: {"audio": {"real_set": {"clips_per_track": n, "scenes": {"clips_per_track": n}}}}
            for n in (1, 3, 5)
        }
        readings += [(f"{n} clip(s) of 15 s per track", clips[n], "clips") for n in (1, 3, 5)]
        readings += [
            ("first 30 s of each scene track (as the catalog reads a track)", {}, "file"),
            (
                "10 patches over the whole scene track",
                {"audio": {"tagger": {"max_seconds": 1200.0, "patches_per_clip": 10}}},
                "file",
            ),
        ]
    for name, overrides, reading in readings:
        with tempfile.TemporaryDirectory(prefix="audio-real-check-") as tmp:
            start = time.perf_counter()
            m = measure(overrides, reading, Path(tmp))
            show(f"{name} ({time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.2f})", m)


if __name__ == "__main__":
    main()
