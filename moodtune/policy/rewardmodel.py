"""A reward model fitted on logged feedback that recalibrates the simulator's listener response.

Each feedback row says: a listener of this visible context (age, gender, mood) heard this song
first and their body's response read as this stress level (its reward). The simulator predicts
that reward too: the expected stress-level reward after the song, over hidden listeners who
share the row's context (``retrain.draws`` of them). Where the logged rewards depart from the
prediction, the model learns a *stress shift*: per age group, the stress each of the song's
emotions adds (``coefficients``, age groups x GEMS-6), applied to a song through the shares of
its predicted emotions. Ridge regression on the prediction's slope (Gauss-Newton steps) keeps
the shift at 0 (the simulator's prior response) where the feedback says little: for an age
group without rows the shift stays exactly 0. The ridge is chosen by cross-validation on the
rows; when no ridge predicts held-out folds better than the simulator does, nothing is learned
(the feedback agrees with the prior, or is too noisy to say otherwise).

The recalibrated simulator (``EnvSpec.stress_shift``) is what a retrain imitates the planning
oracle in and what the gate's held-out sessions run in; the same model gives the direct-method
part of the doubly robust off-policy estimate (:mod:`moodtune.policy.offpolicy`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from moodtune.emotions import GEMS6
from moodtune.policy.features import ListenerContext
from moodtune.policy.listeners import AGE_GROUPS, age_group, simulate_listeners
from moodtune.policy.pipeline import EnvSpec


def emotion_shares(song_features: np.ndarray) -> np.ndarray:
    """Each song's predicted GEMS-6 probabilities as shares summing to 1 (the first six of the
    ten song features)."""
    emo = np.asarray(song_features, dtype=float)[:, : len(GEMS6)]
    return emo / np.maximum(emo.sum(axis=1, keepdims=True), 1e-9)


def base_stress(mood: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The simulator's starting stress for listeners of these moods (as ``simulate_listeners``)."""
    mood = np.asarray(mood, dtype=float)
    return np.clip(0.8 - 0.1 * (mood - 1) + rng.normal(0, 0.06, len(mood)), 0.05, 0.95)


def context_listeners(
    contexts: Sequence[ListenerContext], spec: EnvSpec, draws: int, seed: int
) -> pd.DataFrame:
    """``draws`` simulated listeners per context: the context's age, gender and mood, hidden
    taste and physiology drawn from the population (rows ``i * draws ... i * draws + draws - 1``)."""
    rng = np.random.default_rng(seed)
    sims = simulate_listeners(len(contexts) * draws, rng, spec.listener_params)
    sims["age"] = np.repeat([c.age for c in contexts], draws)
    sims["gender"] = np.repeat([c.gender for c in contexts], draws)
    sims["mood"] = np.repeat([int(round(c.mood)) for c in contexts], draws)
    sims["base_stress"] = base_stress(sims["mood"].to_numpy(), rng)
    sims["split"] = "train"
    return sims


class ExpectedReward:
    """The simulator's expected first-song reward (and its slope in stress) for contexts."""

    def __init__(self, spec: EnvSpec, contexts: Sequence[ListenerContext], draws: int, seed: int):
        self.spec, self.draws = spec, draws
        self.listeners = context_listeners(contexts, spec, draws, seed)
        world = dataclasses.replace(spec, listeners=self.listeners, stress_shift=None).world("train")
        self._world = world
        grid = spec.bank.grid
        self._grid, self._level = grid, world.expected[0]
        self._slope = np.gradient(self._level, grid)

    def __call__(
        self, row: int, songs: Sequence[int], shift: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Expected reward and d reward / d stress of each of ``songs`` for context ``row``,
        with ``shift`` (age groups x songs) added to the stress after each song."""
        world = self._world
        rewards = np.zeros(len(songs))
        slopes = np.zeros(len(songs))
        for k in range(self.draws):
            li = row * self.draws + k
            start = world.start(li)
            group = world.age_groups[li]
            for j, song in enumerate(songs):
                stress = world.next_state(li, start, int(song))[0].stress
                if shift is not None:
                    stress = min(max(stress + float(shift[group, song]), 0.0), 1.0)
                rewards[j] += np.interp(stress, self._grid, self._level)
                slopes[j] += np.interp(stress, self._grid, self._slope)
        return rewards / self.draws, slopes / self.draws


@dataclass(frozen=True)
class ResponseModel:
    """The learned stress shift: ``coefficients[g, e]`` is the stress a song made entirely of
    emotion ``e`` adds for a listener of age group ``g`` (0 everywhere: the simulator's prior)."""

    coefficients: np.ndarray
    rows: int
    rows_per_group: tuple[int, ...]
    mse_prior: float  # mean squared error of the logged rewards against the simulator's prediction
    mse_fitted: float  # ... and against the recalibrated simulator's (in sample)
    ridge: float | None = None  # the ridge cross-validation chose (None: the prior predicted best)
    cv_mse: dict[float, float] | None = None  # cross-validated error per ridge tried

    def shift(self, song_features: np.ndarray) -> np.ndarray:
        """(age groups x songs) stress added per song."""
        return self.coefficients @ emotion_shares(song_features).T

    def recalibrate(self, spec: EnvSpec) -> EnvSpec:
        """``spec`` with this response (the prior's spec when nothing was learned)."""
        return dataclasses.replace(spec, stress_shift=self.shift(spec.song_features))

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "mse_prior": self.mse_prior,
            "mse_fitted": self.mse_fitted,
            "ridge": self.ridge,
            "cv_mse": {str(k): round(v, 5) for k, v in (self.cv_mse or {}).items()},
            "coefficients": {
                AGE_GROUPS[g][2]: {e: round(float(v), 4) for e, v in zip(GEMS6, row, strict=True)}
                for g, row in enumerate(self.coefficients)
            },
            "rows_per_age_group": {AGE_GROUPS[g][2]: n for g, n in enumerate(self.rows_per_group)},
        }

    def metrics(self) -> dict[str, float]:
        out = {
            "reward_model_rows": float(self.rows),
            "reward_model_mse_prior": self.mse_prior,
            "reward_model_mse_fitted": self.mse_fitted,
            "reward_model_ridge": float("inf") if self.ridge is None else self.ridge,
        }
        for ridge, mse in (self.cv_mse or {}).items():
            out[f"reward_model_cv_mse.ridge_{ridge:g}"] = mse
        for g, row in enumerate(self.coefficients):
            for e, v in zip(GEMS6, row, strict=True):
                if v != 0:
                    out[f"stress_shift.{group_key(g)}.{e}"] = float(v)
        return out


def group_key(g: int) -> str:
    """An age group's name as MLflow accepts it in a metric key (``<20`` -> ``under20``)."""
    return AGE_GROUPS[g][2].replace("<", "under").replace("+", "plus")


def song_rows(feedback: pd.DataFrame, spec: EnvSpec) -> pd.DataFrame:
    """The feedback rows whose played song the simulator knows (catalog tracks), with its index."""
    index = {t: i for i, t in enumerate(spec.track_ids)}
    known = feedback[feedback["track_id"].astype(str).isin(index)].copy()
    known["song"] = [index[str(t)] for t in known["track_id"]]
    return known.reset_index(drop=True)


def contexts_of(rows: pd.DataFrame) -> list[ListenerContext]:
    return [
        ListenerContext.parse(a, g, m)
        for a, g, m in zip(rows["age"], rows["gender"], rows["mood"], strict=True)
    ]


def fit_response(
    feedback: pd.DataFrame,
    spec: EnvSpec,
    *,
    ridges: Sequence[float],
    folds: int,
    draws: int,
    seed: int,
    steps: int = 3,
) -> ResponseModel:
    """Fit the stress shift to ``feedback`` (rows with ``age, gender, mood, track_id, reward``).

    The ridge is chosen by ``folds``-fold cross-validation among ``ridges``; when no ridge
    predicts the held-out folds better than the simulator itself, the shift stays 0 (the prior)."""
    groups, n_emo = len(AGE_GROUPS), len(GEMS6)
    rows = song_rows(feedback, spec)
    zero = np.zeros((groups, n_emo))
    if rows.empty:
        return ResponseModel(zero, 0, (0,) * groups, float("nan"), float("nan"))
    contexts = contexts_of(rows)
    expected = ExpectedReward(spec, contexts, draws, seed)
    shares = emotion_shares(spec.song_features)
    member = np.array([age_group(c.age) for c in contexts])
    reward = rows["reward"].to_numpy(dtype=float)
    songs = rows["song"].to_numpy(dtype=int)

    def predict(c: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shift = c @ shares.T
        out = [expected(i, [songs[i]], shift) for i in idx]
        return np.array([r[0] for r, _ in out]), np.array([s[0] for _, s in out])

    def fit(idx: np.ndarray, ridge: float) -> np.ndarray:
        coef = zero
        for _ in range(steps):  # Gauss-Newton on the ridge objective, the prior (0) as its centre
            fitted, slope = predict(coef, idx)
            x = np.zeros((len(idx), groups * n_emo))
            for row, i in enumerate(idx):
                x[row, member[i] * n_emo : (member[i] + 1) * n_emo] = slope[row] * shares[songs[i]]
            theta = coef.reshape(-1)
            step = np.linalg.solve(
                x.T @ x + ridge * np.eye(groups * n_emo), x.T @ (reward[idx] - fitted) - ridge * theta
            )
            coef = (theta + step).reshape(groups, n_emo)
        return coef

    everyone = np.arange(len(rows))
    prior, _ = predict(zero, everyone)
    fold = np.random.default_rng(seed).permutation(len(rows)) % folds
    cv = {}
    for ridge in ridges:
        errors = np.zeros(len(rows))
        for f in range(folds):
            test = everyone[fold == f]
            errors[test] = (reward[test] - predict(fit(everyone[fold != f], ridge), test)[0]) ** 2
        cv[float(ridge)] = float(errors.mean())
    cv_prior = float(np.mean((reward - prior) ** 2))
    best = min(cv, key=cv.__getitem__)
    coef = fit(everyone, best) if cv[best] < cv_prior else zero
    fitted, _ = predict(coef, everyone)
    per_group = tuple(int((member == g).sum()) for g in range(groups))
    return ResponseModel(
        coef,
        len(rows),
        per_group,
        cv_prior,
        float(np.mean((reward - fitted) ** 2)),
        ridge=best if cv[best] < cv_prior else None,
        cv_mse=cv,
    )


def direct_method(rows: pd.DataFrame, spec: EnvSpec, model: ResponseModel, *, draws: int, seed: int):
    """The reward model as the direct-method part of a doubly robust estimate on ``rows``
    (feedback rows with an ``id``): the recalibrated simulator's expected reward of each
    candidate for the row's context (``None`` when a candidate is not a catalog song)."""
    position = {int(i): n for n, i in enumerate(rows["id"])}
    index = {t: i for i, t in enumerate(spec.track_ids)}
    expected = ExpectedReward(spec, contexts_of(rows), draws, seed) if len(rows) else None
    shift = model.shift(spec.song_features)
    cache: dict[tuple, np.ndarray] = {}

    def direct(row, ids: list[str]) -> np.ndarray | None:
        n = position.get(int(row["id"]))
        if n is None or expected is None or any(t not in index for t in ids):
            return None
        key = (n, tuple(ids))
        if key not in cache:
            cache[key] = expected(n, [index[t] for t in ids], shift)[0]
        return cache[key]

    return direct
