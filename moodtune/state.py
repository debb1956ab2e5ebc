"""One listener state from every input: valence, arousal and stress, with their uncertainty.

Each input the listener gives is an :class:`Observation` of the same hidden state, the
valence-arousal point of :mod:`moodtune.policy.dynamics` (valence -1 unpleasant .. 1 pleasant,
arousal -1 calm .. 1 excited; stress = (arousal + 1) / 2, the simulator's own link):

* the form's mood 1..5 says valence (mood 3 = 0, one step = 0.5), nothing about arousal;
* a Chinese sentence gives the text model's point (its EmoBank ratings of the words found);
* a photo gives the face model's point (its expression probabilities over DLUT categories);
* an HRV reading gives stress, so arousal (its level probabilities over the levels' stress).

:func:`estimate` combines them per axis by precision (inverse variance): each source's spread
is a setting (``state.sources``: the text's is measured on the listener sentences, the
others are documented assumptions, docs/state.md). An axis no input informs keeps the prior
(``state.prior``), and says so. The policy ranks from the state's mood
(:meth:`StateEstimate.policy_mood`), so every path ranks toward calm from one estimate; its
stress as a starting reading (:meth:`StateEstimate.policy_reading`) is only the study's ablation
(the policy was trained without a reading before the first song; docs/state.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from moodtune.hrv.constants import LEVELS

SOURCES = ("form", "text", "photo", "hrv")
MOOD_NAMES = {1: "sad", 2: "low", 3: "neutral", 4: "good", 5: "happy"}


@dataclass(frozen=True)
class Observation:
    """What one input says about the state: a value and spread per axis it informs (``None``:
    says nothing about that axis)."""

    source: str
    valence: float | None = None
    valence_sd: float | None = None
    arousal: float | None = None
    arousal_sd: float | None = None
    detail: str = ""

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"unknown state source {self.source!r}; one of {SOURCES}")
        for axis in ("valence", "arousal"):
            value, sd = getattr(self, axis), getattr(self, f"{axis}_sd")
            if (value is None) != (sd is None):
                raise ValueError(f"{self.source}: give {axis} with its sd, or neither")
            if sd is not None and not (sd > 0 and math.isfinite(sd) and math.isfinite(value)):
                raise ValueError(f"{self.source}: {axis} {value!r} ± {sd!r} must be finite with sd > 0")

    def as_dict(self) -> dict:
        out: dict = {"source": self.source}
        for axis in ("valence", "arousal"):
            value = getattr(self, axis)
            if value is not None:
                out[axis] = round(float(value), 4)
                out[f"{axis}_sd"] = round(float(getattr(self, f"{axis}_sd")), 4)
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class StateEstimate:
    """The combined estimate of the listener's state (see :func:`estimate`; not the simulator's
    hidden :class:`moodtune.policy.dynamics.ListenerState`, which it estimates)."""

    valence: float
    valence_sd: float
    arousal: float
    arousal_sd: float
    observations: tuple[Observation, ...]
    thresholds: tuple[float, float]  # the stress between low/medium/high (``state.stress_thresholds``)
    uninformed: tuple[str, ...] = ()  # axes left at the prior

    @property
    def stress(self) -> float:
        return (self.arousal + 1.0) / 2.0

    @property
    def stress_sd(self) -> float:
        return self.arousal_sd / 2.0

    def level_probabilities(self) -> np.ndarray:
        """P(low), P(medium), P(high) stress: the normal estimate over the levels' thresholds."""
        low, high = self.thresholds
        mu, sd = self.stress, max(self.stress_sd, 1e-6)
        below = _phi((low - mu) / sd)
        above = 1.0 - _phi((high - mu) / sd)
        return np.array([below, max(0.0, 1.0 - below - above), above])

    @property
    def level(self) -> str:
        return LEVELS[int(self.level_probabilities().argmax())]

    def policy_mood(self) -> float:
        """The mood the policy reads (1..5): 3 + 2 × valence, the inverse of the form's rule."""
        return float(min(max(3.0 + 2.0 * self.valence, 1.0), 5.0))

    def logged_mood(self) -> int:
        """The policy's mood as a whole number 1..5 (what a recommendation event stores)."""
        return int(round(self.policy_mood()))

    def policy_reading(self) -> np.ndarray | None:
        """The stress reading the policy starts from: the level probabilities when an input
        informed arousal, else ``None`` (the policy's uniform "no reading yet")."""
        return None if "arousal" in self.uninformed else self.level_probabilities()

    def as_dict(self) -> dict:
        probs = self.level_probabilities()
        return {
            "valence": round(self.valence, 4),
            "valence_sd": round(self.valence_sd, 4),
            "arousal": round(self.arousal, 4),
            "arousal_sd": round(self.arousal_sd, 4),
            "stress": round(self.stress, 4),
            "stress_sd": round(self.stress_sd, 4),
            "stress_level": self.level,
            "stress_probabilities": {lv: round(float(p), 4) for lv, p in zip(LEVELS, probs, strict=True)},
            "mood": round(self.policy_mood(), 3),
            "sources": [o.as_dict() for o in self.observations],
            "from_prior": list(self.uninformed),
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """The state in words, e.g. "unpleasant and tense (stress 0.79 ± 0.17, high)"."""
        feel = "pleasant" if self.valence > 0.2 else "unpleasant" if self.valence < -0.2 else "neutral"
        energy = "tense" if self.arousal > 0.2 else "calm" if self.arousal < -0.2 else "steady"
        used = ", ".join(o.source for o in self.observations) or "no input"
        if "arousal" in self.uninformed:
            return f"{feel} (valence {self.valence:+.2f} ± {self.valence_sd:.2f}; stress not measured) from {used}"
        return (
            f"{feel} and {energy} (valence {self.valence:+.2f} ± {self.valence_sd:.2f}, stress "
            f"{self.stress:.2f} ± {self.stress_sd:.2f}, {self.level}) from {used}"
        )


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def estimate(observations: Iterable[Observation], cfg) -> StateEstimate:
    """The precision-weighted state from ``observations`` (``cfg``: ``settings.state``)."""
    obs = tuple(observations)
    axes, uninformed = {}, []
    for axis in ("valence", "arousal"):
        pairs = [(getattr(o, axis), getattr(o, f"{axis}_sd")) for o in obs if getattr(o, axis) is not None]
        if not pairs:
            axes[axis] = (float(getattr(cfg.prior, axis)), float(cfg.prior.sd))
            uninformed.append(axis)
            continue
        precision = sum(1.0 / sd**2 for _, sd in pairs)
        mean = sum(v / sd**2 for v, sd in pairs) / precision
        axes[axis] = (float(np.clip(mean, -1.0, 1.0)), float(1.0 / math.sqrt(precision)))
    return StateEstimate(
        axes["valence"][0],
        axes["valence"][1],
        axes["arousal"][0],
        axes["arousal"][1],
        obs,
        tuple(cfg.stress_thresholds),
        tuple(uninformed),
    )


# ---------------------------------------------------------------- one observation per input


def from_mood(mood: float, cfg) -> Observation:
    """The form's mood 1..5 as valence (mood 3 = 0, one step = 0.5)."""
    return Observation(
        "form",
        valence=(float(mood) - 3.0) / 2.0,
        valence_sd=float(cfg.sources.form.valence_sd),
        detail=f"mood {mood:g}/5 ({MOOD_NAMES.get(int(round(float(mood))), '')})",
    )


def from_point(source: str, valence: float, arousal: float, cfg, detail: str = "") -> Observation:
    """A text's or a photo's valence-arousal point, with that source's spread."""
    spread = getattr(cfg.sources, source)
    return Observation(
        source,
        valence=float(np.clip(valence, -1, 1)),
        valence_sd=float(spread.valence_sd),
        arousal=float(np.clip(arousal, -1, 1)),
        arousal_sd=float(spread.arousal_sd),
        detail=detail,
    )


def from_reading(probabilities: Mapping[str, float] | Sequence[float], cfg) -> Observation:
    """An HRV reading (P(low), P(medium), P(high)) as arousal: its mean stress over the levels'
    stress (``state.level_stress``), the spread of the levels plus ``sources.hrv.arousal_sd``."""
    p = np.asarray(
        [probabilities[lv] for lv in LEVELS] if isinstance(probabilities, Mapping) else probabilities,
        dtype=float,
    )
    p = p / p.sum()
    centres = np.array([float(getattr(cfg.level_stress, lv)) for lv in LEVELS])
    stress = float(p @ centres)
    spread = float(np.sqrt(p @ (centres - stress) ** 2))
    sd = math.sqrt(float(cfg.sources.hrv.arousal_sd) ** 2 + (2.0 * spread) ** 2)
    return Observation(
        "hrv",
        arousal=2.0 * stress - 1.0,
        arousal_sd=sd,
        detail=f"HRV reads {LEVELS[int(p.argmax())]} stress ({p.max():.0%})",
    )
