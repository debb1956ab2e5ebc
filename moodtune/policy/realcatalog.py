"""The policy on the real catalog: the listening-session simulator over real songs.

The simulator needs each song's *true* emotion (the listener responds to it) beside what the
audio model *hears* (what the policy sees). Real songs carry no emotion labels, so the truth is
defined as the champion's GEMS-6 profile plus a fixed, seeded per-song offset
(``policy.real_truth_noise`` per emotion, clipped to 0..1), and the genre as the package's label
where it has one, else the genre the model hears. What this implies: the policy sees the
profile, the listener answers to profile + offset, so the model's error on real music is
modelled as noise of a chosen size, not measured; a policy that does well here does well if the
audio model hears real music about that well (issue 28 measures it).

Everything else — listeners, HRV response bank, rewards, dynamics, baselines, oracle — is the
demo pipeline's, so the two tables compare like with like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from moodtune import registry
from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import InvalidInput
from moodtune.policy import pipeline
from moodtune.policy.features import SONG_COLUMNS
from moodtune.policy.train import train_policies


def catalog_truth(catalog: pd.DataFrame, seed: int, noise: float) -> pd.DataFrame:
    """``track_id``, ``genre`` and soft GEMS-6 marks: the profile plus a fixed per-song offset."""
    probs = catalog[list(GEMS6)].to_numpy(dtype=float)
    offset = np.random.default_rng(seed).normal(0.0, noise, size=probs.shape)
    marks = np.clip(probs + offset, 0.0, 1.0)
    heard = np.asarray(GENRES)[catalog[list(GENRES)].to_numpy(dtype=float).argmax(axis=1)]
    label = catalog["label_genre"].astype(object) if "label_genre" in catalog else pd.Series([None] * len(catalog))
    genre = [lab if isinstance(lab, str) and lab in GENRES else h for lab, h in zip(label, heard, strict=True)]
    truth = pd.DataFrame(marks, columns=list(GEMS6))
    truth.insert(0, "genre", genre)
    truth.insert(0, "track_id", catalog["track_id"].astype(str).to_numpy())
    return truth


def real_env_spec(settings, catalog: pd.DataFrame, demo: pipeline.EnvSpec) -> pipeline.EnvSpec:
    """The demo spec's listeners model, HRV bank and rewards over the catalog's songs."""
    p = settings.policy
    if len(catalog) < p.playlist_size:
        raise InvalidInput(f"the catalog has {len(catalog)} tracks; the sessions need {p.playlist_size}")
    truth = catalog_truth(catalog, settings.project.seed, p.real_truth_noise)
    listeners = pipeline.simulated_listener_ratings(truth, p, settings.project.seed)["listeners"]
    predicted = catalog.set_index(catalog["track_id"].astype(str))[list(SONG_COLUMNS)]
    versions = {**demo.model_versions, "catalog": str(len(catalog))}
    return pipeline.build_env_spec(truth, predicted, listeners, demo.bank, demo.rewards, p, versions)


def train_and_evaluate(settings, catalog: pd.DataFrame, demo: pipeline.EnvSpec, out_dir: Path,
                       log=lambda _m: None) -> dict:
    """A2C trained on the real catalog per seed and evaluated with every baseline and the oracle
    on held-out listeners (the configured dynamics only); logged to the active MLflow run."""
    p = settings.policy.model_copy(update={"compare_dynamics": ()})
    spec = real_env_spec(settings, catalog, demo)
    log(f"real catalog: {len(spec.track_ids)} songs, {len(spec.listeners)} simulated listeners")
    trained = train_policies(spec, p, out_dir)
    table = pipeline.evaluation_table(spec, trained, p)
    summary = pipeline.summarise(table)
    goals = pipeline.targets(summary)
    registry.log_params({"real_catalog": {"songs": len(spec.track_ids), "truth_noise": p.real_truth_noise,
                                          "seeds": list(p.seeds), "timesteps": p.timesteps}})
    registry.log_dataframe(table, "real_catalog/per_seed.csv")
    registry.log_text(summary.to_markdown(index=False), "real_catalog/summary.md")
    registry.log_json(goals, "real_catalog/targets.json")
    registry.log_metrics({f"real_catalog.{k}": v for k, v in goals.items() if isinstance(v, float)})
    return {"table": table, "summary": summary, "targets": goals, "songs": len(spec.track_ids),
            "train_seconds": trained["train_seconds"]}


__all__ = ["catalog_truth", "real_env_spec", "train_and_evaluate"]
