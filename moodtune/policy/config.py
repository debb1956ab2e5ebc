"""The policy domain's sections of params.yaml, composed by :mod:`moodtune.settings`:
``policy:`` (:class:`PolicySettings`), ``retrain:`` (:class:`RetrainSettings`) and ``drill:``
(:class:`DrillSettings`).

The policy code receives its part explicitly: the environments and trainers the
:class:`PolicySettings` (the iso dynamics their :class:`IsoSettings`), a retrain the
:class:`RetrainSettings` beside it, the drill a :class:`DriftScenario`. No field has a default:
every value is in params.yaml (tests/test_params_settings.py). This module imports pydantic and
:mod:`moodtune.section` only, and :mod:`moodtune.emotions` when a scenario is checked
(``settings.py`` imports it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from moodtune.section import Section


class BankSettings(Section):
    """The HRV response bank: simulated recordings per stress grid point, read once by the
    champion stress model (:class:`moodtune.policy.response.ResponseBank`)."""

    grid: int  # stress grid points ...
    per_point: int  # ... x simulated recordings each
    seconds: float  # length of each simulated response recording


class A2cSettings(Section):
    """The candidate-aware policy (:mod:`moodtune.policy.network`) and its A2C training."""

    hidden: int  # hidden units of the shared slot scorer and the critic
    lr_decay: bool  # true: the learning rate falls linearly to 0 over the training run
    args: dict[str, float | int]  # extra stable-baselines3 A2C arguments


class SeedBanditSettings(Section):
    """Seed A's bandit policy (:class:`moodtune.policy.envs.SeedBanditEnv`)."""

    episode_length: int  # steps per episode
    timesteps: int  # A2C timesteps


class IsoSettings(Section):
    """Effect sizes of the iso dynamics (:func:`moodtune.policy.dynamics.taste_step`) and the
    heuristics that aim at calm; docs/policy.md gives the sources."""

    reach: float  # VA distance at which the listener follows a song with weight 1/e
    entrainment: float  # share of the way toward a followed song's point the listener moves
    tolerance: float  # VA distance a song may be from the listener without mismatch stress
    mismatch_gain: float  # stress added per unit of distance beyond the tolerance
    coupling: float  # share of the gap to the arousal-implied stress closed per song
    taste_share: float  # weight of the utility (taste) effect on stress
    calm_point: tuple[float, float]  # valence, arousal the heuristics aim at
    point_jitter: float  # per-song spread of true points around their emotion's point
    point_seed: int
    heuristic_step: float  # the iso heuristic's step toward calm per song


class CompareSettings(Section):
    """Other session dynamics the session policy is also trained and evaluated under."""

    dynamics: tuple[str, ...]
    seeds: tuple[int, ...]


class WarmStartSettings(Section):
    """Before A2C, the actor imitates the planning oracle (:func:`moodtune.policy.train.behaviour_cloning`)."""

    method: Literal["none", "oracle"]
    sessions: int  # sessions of training listeners the oracle plans
    beam: int  # the oracle's beam on them
    epochs: int
    lr: float
    a2c_lr: float  # A2C's starting learning rate after a warm start (decays as a2c.lr_decay says)


class HeldOutCurveSettings(Section):
    """The held-out learning curve of a session policy's A2C phase."""

    points: int = Field(ge=0)  # held-out evaluations over the A2C phase (0: none)
    sessions: int = Field(ge=1)  # held-out sessions per evaluation


class PolicySettings(Section):
    """Listeners, the listening-session environment, the policies and their evaluation
    (see moodtune.policy and docs/policy.md)."""

    listeners_csv: str | None  # Emotify data.csv; null -> simulated listeners
    n_listeners: int
    test_share: float
    taste_noise: float
    song_noise: float
    like_threshold: float
    neutral_utility: float
    sensitivity: tuple[float, float]
    mood_gain: float
    bank: BankSettings
    playlist_size: int
    session_length: int
    calm_weight: float
    timesteps: int
    n_envs: int
    workers: int = Field(ge=1)  # processes that train the seeds' policies side by side
    seeds: tuple[int, ...]
    a2c: A2cSettings
    seed_bandit: SeedBanditSettings
    exploration: float = Field(
        ge=0.0, le=1.0
    )  # share of served first tracks drawn uniformly (epsilon-greedy)
    exploration_seed: int | None  # seeds each service worker's exploration stream; None: unseeded
    eval_sessions: int
    eval_k: int
    gate_floors: dict[str, float]
    gate_margin: float
    ope_min_ess: float
    # listening-session dynamics (moodtune.policy.dynamics; sources in docs/policy.md)
    dynamics: Literal["iso", "taste"]
    iso: IsoSettings
    real_truth_noise: float = Field(ge=0)  # the real catalog's truth: profile + a per-song offset of this sd
    oracle_beam: int
    compare: CompareSettings
    warm_start: WarmStartSettings
    held_out_curve: HeldOutCurveSettings


class DriftScenario(Section):
    """Listeners whose response to music changed: those aged ``ages`` (inclusive) get
    ``stress_shift[emotion]`` x the song's share of that emotion added to their stress per song."""

    ages: tuple[int, int]
    stress_shift: dict[str, float]

    @field_validator("stress_shift")
    @classmethod
    def _emotions(cls, value: dict[str, float]) -> dict[str, float]:
        from moodtune.emotions import GEMS6

        unknown = sorted(set(value) - set(GEMS6))
        if unknown:
            raise ValueError(f"stress_shift names {unknown}; the emotions are {list(GEMS6)}")
        return value


class DrillSettings(Section):
    """The drift drill (scripts/drift_drill.py): traffic of a scenario's listeners through the
    service until the sensor fires, then the retrained policy judged on the scenario's truth."""

    scenario: str  # a key of ``scenarios``
    scenarios: dict[str, DriftScenario]
    feedback_rows: int = Field(ge=1, le=300)  # the sensor's threshold during the drill
    playlist_size: int = Field(ge=2)
    seeds: tuple[int, ...]
    eval_listeners: int = Field(ge=1)  # held-out listeners of each population the drill scores on
    eval_sessions: int = Field(ge=1)
    drifted_over_champion: float  # the retrained policy's floor on the drifted population ...
    original_over_champion: float  # ... and on the original one (ratios of mean session reward)

    @model_validator(mode="after")
    def _known_scenario(self) -> DrillSettings:
        if self.scenario not in self.scenarios:
            raise ValueError(f"drill.scenario {self.scenario!r} is not one of {sorted(self.scenarios)}")
        return self


class RetrainSettings(Section):
    """The feedback retraining sensor (how many new rows trigger a run, how often it looks) and
    how a retrain learns from the logged outcomes (docs/policy.md, "Learning from feedback")."""

    min_new_feedback: int = Field(ge=1)
    sensor_interval_seconds: int = Field(ge=1)
    timesteps: int = Field(ge=0)  # A2C timesteps after the imitation, per retrain run
    learning_rate: float = Field(gt=0)  # A2C's (constant) rate in a retrain
    holdout_share: float = Field(
        gt=0, lt=1
    )  # rows kept out of the reward model for the gate's off-policy check
    ridges: tuple[float, ...] = Field(
        min_length=1
    )  # the prior's weights tried (cross-validated): shifts shrink to 0
    folds: int = Field(ge=2)  # cross-validation folds that choose the ridge
    draws: int = Field(ge=1)  # hidden listeners simulated per logged context for the expected reward
    imitation_sessions: int = Field(ge=0)  # oracle sessions on the recalibrated simulator the copy imitates
    imitation_beam: int = Field(ge=1)
    imitation_epochs: int = Field(ge=0)
