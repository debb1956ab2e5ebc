"""Retraining from feedback: learn the listeners' response from the logged outcomes, then teach
a copy of the champion in the simulator recalibrated by it (:mod:`moodtune.policy.registration`
then evaluates, registers and gates the copy).

1. The feedback rows are split (``retrain.holdout_share``): most fit the reward model
   (:mod:`moodtune.policy.rewardmodel`), the rest are held out for the gate's off-policy check.
2. The reward model recalibrates the simulator: a stress shift per age group and emotion,
   0 (the prior) where feedback says nothing.
3. The copy imitates the planning oracle planning in the recalibrated simulator (the recipe
   that made the champion, on its training listeners plus one simulated listener per logged
   context), then A2C fine-tunes it there at ``retrain.learning_rate``.
4. The gate's held-out sessions run in the recalibrated simulator on its held-out listeners
   plus one simulated listener per held-out feedback row (never trained on): the people the
   feedback came from weigh in as well as the population the policy was built for. On that
   population's own held-out listeners the copy must not be worse beyond the paired interval
   (a veto: a gain on the feedback's listeners does not buy a loss on everyone else).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from moodtune.policy.config import PolicySettings, RetrainSettings
from moodtune.policy.envs import ListeningSessionEnv, World
from moodtune.policy.pipeline import EnvSpec
from moodtune.policy.ranking import PolicyRanker
from moodtune.policy.rewardmodel import ResponseModel, context_listeners, contexts_of, fit_response
from moodtune.policy.train import LearningCurve, behaviour_cloning, train_a2c


def replay_listeners(feedback: pd.DataFrame, spec: EnvSpec, seed: int) -> pd.DataFrame:
    """One simulated listener per logged feedback row, with the row's visible context."""
    if feedback.empty:
        return spec.listeners.iloc[0:0]
    sims = context_listeners(contexts_of(feedback), spec, 1, seed)
    sims["listener_id"] = [f"R{int(i):07d}" for i in feedback["id"]]
    return sims


def training_world(spec: EnvSpec, feedback: pd.DataFrame, seed: int) -> World:
    train = spec.listeners[spec.listeners["split"] == "train"]
    listeners = pd.concat([train, replay_listeners(feedback, spec, seed)], ignore_index=True)
    return dataclasses.replace(spec, listeners=listeners).world("train")  # every one of them is "train"


def split_feedback(
    feedback: pd.DataFrame, holdout_share: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows the reward model fits, rows held out for the gate): a seeded draw per row, by id."""
    if feedback.empty:
        return feedback, feedback
    keys = np.random.default_rng(seed).random(int(feedback["id"].max()) + 1)
    held = keys[feedback["id"].to_numpy(dtype=int)] < holdout_share
    return feedback[~held].reset_index(drop=True), feedback[held].reset_index(drop=True)


@dataclass
class Retrained:
    """A retrained copy of the champion and what it learned from."""

    model: object  # the SB3 A2C
    curve: LearningCurve
    response: ResponseModel
    spec: EnvSpec  # the simulator recalibrated by ``response``, its test listeners joined by the held-out
    # rows' contexts (the gate's held-out sessions: the population the feedback came from counts)
    fitted: pd.DataFrame  # feedback rows the reward model fitted
    held_out: pd.DataFrame  # feedback rows kept for the off-policy check
    imitation_accuracy: float | None
    original: EnvSpec  # the recalibrated simulator on the population's own held-out listeners only


def degrade(model, scale: float, seed: int) -> None:
    """Add Gaussian noise to every policy weight (a drill: a challenger made worse on purpose)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.policy.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * scale)


def retrain_from_feedback(
    spec: EnvSpec,
    champion: PolicyRanker,
    feedback: pd.DataFrame,
    p: PolicySettings,
    r: RetrainSettings,
    *,
    timesteps: int,
    seed: int,
    degrade_scale: float = 0.0,
) -> Retrained:
    """A copy of the champion taught in the simulator recalibrated by ``feedback`` (the serving
    champion object is never modified); ``degrade_scale`` > 0 adds weight noise after (a drill)."""
    import io

    from stable_baselines3 import A2C

    fitted, held_out = split_feedback(feedback, r.holdout_share, seed)
    response = fit_response(fitted, spec, ridges=r.ridges, folds=r.folds, draws=r.draws, seed=seed)
    recalibrated = response.recalibrate(spec)
    world = training_world(recalibrated, fitted, seed)

    buffer = io.BytesIO()
    champion.model.save(buffer)
    buffer.seek(0)
    model = A2C.load(buffer, device="cpu")
    model.set_random_seed(seed)
    accuracy = None
    if r.imitation_sessions > 0 and r.imitation_epochs > 0:
        teacher = dataclasses.replace(recalibrated, listeners=world.listeners)
        accuracy = behaviour_cloning(
            model,
            teacher,
            p.model_copy(
                update={
                    "warm_start": p.warm_start.model_copy(
                        update={
                            "sessions": r.imitation_sessions,
                            "beam": r.imitation_beam,
                            "epochs": r.imitation_epochs,
                        }
                    )
                }
            ),
            seed,
        )
    # a constant rate (a decaying schedule saved with the champion would have reached ~0)
    model.learning_rate = r.learning_rate
    model._setup_lr_schedule()

    def make_env():
        return ListeningSessionEnv(world, p.playlist_size, p.session_length, p.calm_weight)

    model, curve = train_a2c(make_env, timesteps=timesteps, seed=seed, n_envs=p.n_envs, model=model)
    if degrade_scale > 0:
        degrade(model, degrade_scale, seed)
    judged = replay_listeners(held_out, spec, seed + 1).assign(split="test")
    gate_spec = dataclasses.replace(
        recalibrated, listeners=pd.concat([spec.listeners, judged], ignore_index=True)
    )
    return Retrained(model, curve, response, gate_spec, fitted, held_out, accuracy, recalibrated)
