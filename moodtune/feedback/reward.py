"""The one place the stress -> reward rule lives.

A recommendation is rewarded by how the listener's body responded to it: the HRV stress level
read after listening maps to a reward through ``params.yaml`` ``feedback.reward``
(``low: 1.0, medium: 0.5, high: 0.0`` by default). The feedback store and the policy
environments both call :func:`reward_for_stress`, so the rule cannot drift between them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from moodtune.errors import InvalidFeedback
from moodtune.hrv.constants import LEVELS as STRESS_LEVELS


def normalise_level(level: Any) -> str:
    """``"Low "`` -> ``"low"``; anything that is not low/medium/high is :class:`InvalidFeedback`."""
    if isinstance(level, str):
        name = level.strip().lower()
        if name in STRESS_LEVELS:
            return name
    raise InvalidFeedback(f"stress level must be one of {', '.join(STRESS_LEVELS)}; got {level!r}")


def reward_table(rewards: Mapping[str, float] | Any) -> dict[str, float]:
    """The stress -> reward mapping as a plain dict, from a mapping or the typed
    ``settings.feedback.reward``."""
    if hasattr(rewards, "model_dump"):
        rewards = rewards.model_dump()
    if not isinstance(rewards, Mapping):
        raise TypeError(f"rewards must map {STRESS_LEVELS} to numbers, got {type(rewards).__name__}")
    missing = [level for level in STRESS_LEVELS if level not in rewards]
    if missing:
        raise ValueError(f"rewards has no value for {missing}; set feedback.reward in params.yaml")
    table = {level: float(rewards[level]) for level in STRESS_LEVELS}
    bad = {level: value for level, value in table.items() if not math.isfinite(value)}
    if bad:
        raise ValueError(f"rewards must be finite numbers, got {bad}")
    return table


def reward_for_stress(level: str, rewards: Mapping[str, float] | Any) -> float:
    """The reward for a listener's stress ``level`` (low / medium / high, case-insensitive) under
    ``rewards`` (``settings.feedback.reward``, or a mapping of the three levels)."""
    return reward_table(rewards)[normalise_level(level)]
