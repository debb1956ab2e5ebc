"""Off-policy evaluation on logged feedback: doubly robust, or self-normalised IPS.

Each logged row holds the candidates a recommendation was chosen from, the probability that
the service served the played track first (its propensity: the epsilon-greedy behaviour of
:func:`moodtune.policy.ranking.served_probabilities`) and the reward read from the listener's
HRV afterwards. A policy is evaluated as it would be served (epsilon-greedy on its own scores):

* **doubly robust** (with a reward model ``direct``): per row, the model's expected reward of
  the policy's served distribution over the candidates, plus the importance-weighted error of
  the model on the track actually played, ``pi(track) / p_logged(track) * (r - r_hat)``;
* **SNIPS** (without one): the rewards re-weighted by ``pi(track) / p_logged(track)``.

The effective sample size ``(sum w)^2 / sum w^2`` of the importance weights says how much of
the log the correction rests on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

from moodtune.policy.features import SONG_COLUMNS, ListenerContext
from moodtune.policy.ranking import served_probabilities

# a reward model's expected reward of each candidate of a logged row (None: it cannot say)
Direct = Callable[[Mapping, list[str]], "np.ndarray | None"]


@dataclass(frozen=True)
class OffPolicyEstimate:
    value: float  # estimate of the policy's mean reward
    logged_value: float  # mean reward the logging policy actually got on the same rows
    effective_sample_size: float
    rows: int
    skipped: int  # rows without a usable propensity or candidate features
    estimator: str = "snips"

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


@dataclass(frozen=True)
class _Terms:
    """Per usable row: importance weight, reward, and the reward model's two terms (NaN without one)."""

    weight: np.ndarray
    reward: np.ndarray
    direct: np.ndarray  # sum over candidates of pi(a) * r_hat(a)
    chosen_hat: np.ndarray  # r_hat of the played track
    skipped: int


def _terms(rows: list[Mapping], scorer, exploration: float, direct: Direct | None) -> _Terms:
    w, r, dm, hat, skipped = [], [], [], [], 0
    for row in rows:
        parsed = _candidate_matrix(row.get("candidates") or [])
        p_log = row.get("choice_probability")
        if parsed is None or p_log is None or not p_log > 0 or str(row["track_id"]) not in parsed[0]:
            skipped += 1
            continue
        ids, feats = parsed
        ctx = ListenerContext.parse(row["age"], row["gender"], row["mood"])
        pi = served_probabilities(scorer.scores(feats, ctx), exploration)
        chosen = ids.index(str(row["track_id"]))
        r_hat = direct(row, ids) if direct is not None else None
        w.append(pi[chosen] / float(p_log))
        r.append(float(row["reward"]))
        dm.append(float(pi @ r_hat) if r_hat is not None else np.nan)
        hat.append(float(r_hat[chosen]) if r_hat is not None else np.nan)
    return _Terms(
        np.asarray(w, float), np.asarray(r, float), np.asarray(dm, float), np.asarray(hat, float), skipped
    )


def _values(t: _Terms, idx: np.ndarray | None = None) -> np.ndarray:
    """The estimate on rows ``idx`` (bootstrap draws: one estimate per row of ``idx``)."""
    sel = (lambda a: a) if idx is None else (lambda a: a[idx])
    w, r = sel(t.weight), sel(t.reward)
    if np.isfinite(t.direct).all():
        return (sel(t.direct) + w * (r - sel(t.chosen_hat))).mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * r).sum(axis=-1) / w.sum(axis=-1)


def _estimate(t: _Terms) -> OffPolicyEstimate:
    if not len(t.weight):
        return OffPolicyEstimate(float("nan"), float("nan"), 0.0, 0, t.skipped)
    w = t.weight
    ess = float(w.sum() ** 2 / (w**2).sum()) if (w**2).sum() > 0 else 0.0
    estimator = "doubly robust" if np.isfinite(t.direct).all() else "snips"
    return OffPolicyEstimate(float(_values(t)), float(t.reward.mean()), ess, len(w), t.skipped, estimator)


def estimate(
    rows: Iterable[Mapping], scorer, exploration: float, direct: Direct | None = None
) -> OffPolicyEstimate:
    """``scorer``'s value on logged ``rows`` (mappings with ``age, gender, mood, candidates,
    track_id, choice_probability, reward``); ``scorer``: anything with ``scores(features, ctx)``."""
    return _estimate(_terms(list(rows), scorer, exploration, direct))


@dataclass(frozen=True)
class OffPolicyComparison:
    """A challenger's and the champion's estimates on the same logged rows, with a bootstrap
    interval of their difference (rows resampled together for both)."""

    challenger: OffPolicyEstimate
    champion: OffPolicyEstimate
    difference_ci: tuple[float, float] | None
    min_ess: float  # the smaller effective sample size must reach this for a verdict

    @property
    def has_verdict(self) -> bool:
        return (
            self.difference_ci is not None
            and min(self.challenger.effective_sample_size, self.champion.effective_sample_size)
            >= self.min_ess
        )

    def refusal(self) -> str | None:
        """A reason to refuse the challenger: its estimate is below the champion's beyond the interval."""
        ci = self.difference_ci
        if not self.has_verdict or ci is None or ci[1] >= 0:  # (a verdict has its interval)
            return None
        lo, hi = ci
        return (
            f"off-policy estimate ({self.challenger.estimator}) {self.challenger.value:.4g} is below the "
            f"champion's {self.champion.value:.4g} (difference CI [{lo:.4g}, {hi:.4g}], "
            f"ESS {self.challenger.effective_sample_size:.1f}/{self.champion.effective_sample_size:.1f})"
        )

    def verdict(self) -> str:
        return self.refusal() or (
            "no worse than the champion" if self.has_verdict else "too few effective samples for a verdict"
        )

    def scores(self) -> dict[str, float]:
        out = {
            "ope_value": self.challenger.value,
            "ope_champion_value": self.champion.value,
            "ope_logged_value": self.challenger.logged_value,
            "ope_rows": float(self.challenger.rows),
            "ope_effective_sample_size": self.challenger.effective_sample_size,
            "ope_champion_effective_sample_size": self.champion.effective_sample_size,
        }
        if self.difference_ci is not None:
            out["ope_difference_ci_low"], out["ope_difference_ci_high"] = self.difference_ci
        return out


def _difference_ci(
    a: _Terms, b: _Terms, samples: int, confidence: float, seed: int
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``a``'s estimate minus ``b``'s, rows resampled together."""
    n = len(a.weight)
    if n < 2:
        return None
    idx = np.random.default_rng(seed).integers(0, n, size=(samples, n))
    diffs = _values(a, idx) - _values(b, idx)
    diffs = diffs[np.isfinite(diffs)]
    if not len(diffs):
        return None
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(diffs, tail)), float(np.quantile(diffs, 1.0 - tail))


def compare(
    rows: Iterable[Mapping],
    challenger,
    champion,
    exploration: float,
    *,
    samples: int,
    confidence: float,
    min_ess: float,
    seed: int = 0,
    direct: Direct | None = None,
) -> OffPolicyComparison:
    """Both policies' estimates on ``rows`` and a paired bootstrap interval of the difference."""
    rows = list(rows)
    a, b = _terms(rows, challenger, exploration, direct), _terms(rows, champion, exploration, direct)
    return OffPolicyComparison(
        _estimate(a), _estimate(b), _difference_ci(a, b, samples, confidence, seed), min_ess
    )


def shadow_comparison(
    rows, *, samples: int, confidence: float, min_ess: float, seed: int = 0
) -> OffPolicyComparison:
    """The shadow challenger against the champion on the rows logged while it ran in shadow:
    its SNIPS value from the logged ``shadow_probability`` of each played track (its own served
    distribution, exactly), against the rewards the champion's served choices got (on policy);
    a paired bootstrap interval of the difference."""
    frame = rows[rows["shadow_probability"].notna() & (rows["choice_probability"] > 0)]
    w = (frame["shadow_probability"] / frame["choice_probability"]).to_numpy(dtype=float)
    r = frame["reward"].to_numpy(dtype=float)
    terms = _Terms(w, r, np.full(len(w), np.nan), np.full(len(w), np.nan), len(rows) - len(frame))
    logged = _Terms(np.ones(len(w)), r, terms.direct, terms.chosen_hat, terms.skipped)
    ci = _difference_ci(terms, logged, samples, confidence, seed)
    return OffPolicyComparison(_estimate(terms), _estimate(logged), ci, min_ess)
