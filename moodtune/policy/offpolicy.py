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


@dataclass(frozen=True)
class OffPolicyComparison:
    """A challenger's and the champion's SNIPS estimates on the same logged rows, with a
    bootstrap interval of their difference (rows resampled together for both)."""

    challenger: OffPolicyEstimate
    champion: OffPolicyEstimate
    difference_ci: tuple[float, float] | None
    min_ess: float  # the smaller effective sample size must reach this for a verdict

    @property
    def has_verdict(self) -> bool:
        return self.difference_ci is not None and min(
            self.challenger.effective_sample_size, self.champion.effective_sample_size) >= self.min_ess

    def refusal(self) -> str | None:
        """A reason to refuse the challenger: its estimate is below the champion's beyond the interval."""
        if not self.has_verdict or self.difference_ci[1] >= 0:
            return None
        lo, hi = self.difference_ci
        return (f"off-policy estimate {self.challenger.value:.4g} is below the champion's "
                f"{self.champion.value:.4g} (difference CI [{lo:.4g}, {hi:.4g}], "
                f"ESS {self.challenger.effective_sample_size:.1f}/{self.champion.effective_sample_size:.1f})")

    def scores(self) -> dict[str, float]:
        out = {"ope_value": self.challenger.value, "ope_champion_value": self.champion.value,
               "ope_logged_value": self.challenger.logged_value,
               "ope_effective_sample_size": self.challenger.effective_sample_size,
               "ope_champion_effective_sample_size": self.champion.effective_sample_size}
        if self.difference_ci is not None:
            out["ope_difference_ci_low"], out["ope_difference_ci_high"] = self.difference_ci
        return out


def _weights(rows: list[Mapping], scorer, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """Importance weights and rewards of the usable rows (NaN weight: unusable)."""
    w, r = [], []
    for row in rows:
        parsed = _candidate_matrix(row.get("candidates") or [])
        p_log = row.get("choice_probability")
        if parsed is None or p_log is None or not p_log > 0 or row["track_id"] not in parsed[0]:
            w.append(np.nan)
            r.append(np.nan)
            continue
        ids, feats = parsed
        ctx = ListenerContext.parse(row["age"], row["gender"], row["mood"])
        w.append(softmax(scorer.scores(feats, ctx), temperature)[ids.index(row["track_id"])] / float(p_log))
        r.append(float(row["reward"]))
    return np.asarray(w, dtype=float), np.asarray(r, dtype=float)


def compare(rows: Iterable[Mapping], challenger, champion, temperature: float, *, samples: int,
            confidence: float, min_ess: float, seed: int = 0) -> OffPolicyComparison:
    """SNIPS of both policies on ``rows`` and a paired bootstrap interval of the difference."""
    rows = list(rows)
    a, b = snips(rows, challenger, temperature), snips(rows, champion, temperature)
    wa, r = _weights(rows, challenger, temperature)
    wb, _ = _weights(rows, champion, temperature)
    ok = np.isfinite(wa) & np.isfinite(wb)
    wa, wb, r = wa[ok], wb[ok], r[ok]
    ci = None
    if len(r) >= 2:
        idx = np.random.default_rng(seed).integers(0, len(r), size=(samples, len(r)))
        with np.errstate(invalid="ignore", divide="ignore"):
            diffs = (wa[idx] * r[idx]).sum(1) / wa[idx].sum(1) - (wb[idx] * r[idx]).sum(1) / wb[idx].sum(1)
        diffs = diffs[np.isfinite(diffs)]
        if len(diffs):
            tail = (1.0 - confidence) / 2.0
            ci = (float(np.quantile(diffs, tail)), float(np.quantile(diffs, 1.0 - tail)))
    return OffPolicyComparison(a, b, ci, min_ess)
