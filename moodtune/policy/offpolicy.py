"""Off-policy evaluation on logged feedback: self-normalised inverse propensity scoring.

Each logged row holds the candidates a recommendation was chosen from, the probability the
serving policy gave the track that was played (its propensity) and the reward read from the
listener's HRV afterwards. A new policy's value is estimated by re-weighting those rewards by
``pi_new(track) / pi_logged(track)``; the effective sample size says how much of the log the
estimate really rests on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

from moodtune.policy.features import SONG_COLUMNS, ListenerContext
from moodtune.policy.ranking import softmax


@dataclass(frozen=True)
class OffPolicyEstimate:
    value: float  # self-normalised IPS estimate of the new policy's mean reward
    logged_value: float  # mean reward the logging policy actually got
    effective_sample_size: float
    rows: int
    skipped: int  # rows without a usable propensity or candidate features

    def as_dict(self) -> dict:
        return asdict(self)


def _candidate_matrix(candidates: list[Mapping]) -> tuple[list[str], np.ndarray] | None:
    ids, rows = [], []
    for c in candidates:
        feats = c.get("features") or {}
        if not all(col in feats for col in SONG_COLUMNS):
            return None
        ids.append(str(c["track_id"]))
        rows.append([float(feats[col]) for col in SONG_COLUMNS])
    return ids, np.asarray(rows)


def snips(rows: Iterable[Mapping], scorer, temperature: float) -> OffPolicyEstimate:
    """Estimate ``scorer``'s value on logged rows.

    ``rows``: mappings with ``age, gender, mood, candidates, track_id, choice_probability,
    reward``; ``scorer``: any object with ``scores(features, ListenerContext)`` (a ranker).
    """
    weights, rewards, logged, skipped = [], [], [], 0
    for row in rows:
        parsed = _candidate_matrix(row.get("candidates") or [])
        p_log = row.get("choice_probability")
        if parsed is None or p_log is None or not p_log > 0 or row["track_id"] not in parsed[0]:
            skipped += 1
            continue
        ids, feats = parsed
        ctx = ListenerContext.parse(row["age"], row["gender"], row["mood"])
        p_new = softmax(scorer.scores(feats, ctx), temperature)[ids.index(row["track_id"])]
        weights.append(p_new / float(p_log))
        rewards.append(float(row["reward"]))
        logged.append(float(row["reward"]))
    if not weights:
        return OffPolicyEstimate(float("nan"), float("nan"), 0.0, 0, skipped)
    w = np.asarray(weights)
    r = np.asarray(rewards)
    value = float((w * r).sum() / w.sum()) if w.sum() > 0 else float("nan")
    ess = float(w.sum() ** 2 / (w**2).sum()) if (w**2).sum() > 0 else 0.0
    return OffPolicyEstimate(value, float(np.mean(logged)), ess, len(w), skipped)
