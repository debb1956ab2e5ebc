"""The drift drill's listeners: a named scenario (``drill.scenarios`` in params.yaml) of people
whose response to music changed, their traffic, and the before/after scores on their truth.

A scenario's listeners are the simulator's (hidden taste and physiology drawn from the
population) with ages in the scenario's range; under the drift each song adds
``stress_shift[emotion]`` x the song's true share of that emotion to their stress. Their
feedback reaches the service as a real wearable's would: RR intervals simulated at the stress
the song left them in (:func:`moodtune.hrv.simulate.simulate_rr`), read by the service's HRV
model. The control is the same listeners without the drift.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from moodtune.emotions import GEMS6
from moodtune.policy.config import DriftScenario, PolicySettings
from moodtune.policy.listeners import AGE_GROUPS, age_group, simulate_listeners
from moodtune.policy.pipeline import EnvSpec, evaluate_policy

GENDERS = ("female", "male")


def scenario_shift(spec: EnvSpec, scenario: DriftScenario) -> np.ndarray:
    """(age groups x songs): the stress each song adds for the scenario's age groups (its true marks)."""
    marks = spec.truth[list(GEMS6)].to_numpy(dtype=float)
    marks = marks / np.maximum(marks.sum(axis=1, keepdims=True), 1.0)
    effect = marks @ np.array([scenario.stress_shift.get(e, 0.0) for e in GEMS6])
    shift = np.zeros((len(AGE_GROUPS), len(spec.track_ids)))
    lo, hi = scenario.ages
    for g in sorted({age_group(a) for a in range(lo, hi + 1)}):
        shift[g] = effect
    return shift


def scenario_listeners(
    spec: EnvSpec, scenario: DriftScenario, n: int, seed: int, split: str = "test"
) -> pd.DataFrame:
    """``n`` simulated listeners with ages drawn from the scenario's range."""
    rng = np.random.default_rng(seed)
    listeners = simulate_listeners(n, rng, spec.listener_params)
    listeners["age"] = rng.integers(scenario.ages[0], scenario.ages[1] + 1, size=n)
    listeners["split"] = split
    return listeners


def population(
    spec: EnvSpec, scenario: DriftScenario, n: int, seed: int, *, drifted: bool, split: str = "test"
) -> EnvSpec:
    """The scenario's listeners, with (``drifted``) or without the changed response."""
    return dataclasses.replace(
        spec,
        listeners=scenario_listeners(spec, scenario, n, seed, split),
        stress_shift=scenario_shift(spec, scenario) if drifted else None,
    )


class Traffic:
    """Requests from a population's listeners and the feedback their bodies give.

    ``request(i)`` is listener ``i``'s ``/recommend`` body (a random playlist of catalog songs);
    ``feedback(i, answer)`` plays the first track the service served and returns the
    ``/feedback`` body with RR intervals simulated at the stress it left the listener in."""

    def __init__(self, world_spec: EnvSpec, playlist_size: int, seconds: float, seed: int):
        self.world = world_spec.world("train")
        self.track_ids = list(world_spec.track_ids)
        self.position = {t: i for i, t in enumerate(self.track_ids)}
        self.playlist_size = playlist_size
        self.seconds = seconds
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.world.listeners)

    def request(self, i: int) -> dict:
        people = self.world.people
        songs = self.rng.choice(len(self.track_ids), size=self.playlist_size, replace=False)
        return {
            "track_ids": [self.track_ids[s] for s in songs],
            "age": int(people["age"][i]),
            "gender": GENDERS[int(people["gender"][i])],
            "mood": int(people["mood"][i]),
            "k": 3,
        }

    def stress_after(self, i: int, track_id: str) -> float:
        """The listener's hidden stress after hearing ``track_id`` first."""
        return self.world.next_state(i, self.world.start(i), self.position[track_id])[0].stress

    def feedback(self, i: int, answer: dict) -> dict:
        from moodtune.hrv.simulate import simulate_rr

        track = answer["tracks"][0]["track_id"]
        rr = simulate_rr(self.stress_after(i, track), self.seconds, self.rng)
        return {
            "recommendation_id": answer["recommendation_id"],
            "track_id": track,
            "rr": [round(float(x), 1) for x in rr],
        }


@dataclass(frozen=True)
class Scores:
    """Mean session reward of the old champion and the new policy on one population, and the
    95 % paired bootstrap interval of their per-session difference (new - champion)."""

    population: str
    champion: float
    new: float
    difference_ci: tuple[float, float] = (0.0, 0.0)

    @property
    def ratio(self) -> float:
        return self.new / self.champion

    @property
    def worse(self) -> bool:
        """The new policy is worse here beyond the noise (the whole interval below 0)."""
        return self.difference_ci[1] < 0

    def as_dict(self) -> dict:
        return {
            "population": self.population,
            "champion": round(self.champion, 4),
            "new": round(self.new, 4),
            "ratio": round(self.ratio, 4),
            "difference_ci": [round(x, 4) for x in self.difference_ci],
        }


def score(spec: EnvSpec, name: str, champion, new, p: PolicySettings, sessions: int, seed: int) -> Scores:
    """Both policies on the same held-out sessions of ``spec``'s test listeners."""
    from moodtune.registry.gate import paired_bootstrap_ci

    per: dict[str, list[float]] = {}
    table = evaluate_policy(
        spec, {"champion": champion, "new": new}, p.model_copy(update={"eval_sessions": sessions}), seed, per
    ).set_index("policy")["mean_reward"]
    ci = paired_bootstrap_ci(per["new"], per["champion"], samples=2000, confidence=0.95, seed=seed)
    return Scores(name, float(table["champion"]), float(table["new"]), ci)
