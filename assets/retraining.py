"""The ``retraining`` group: feedback -> continued training -> held-out + off-policy -> gate."""


import tempfile
from pathlib import Path

import mlflow as mlflow_lib
from dagster import AssetExecutionContext, Config, MetadataValue, asset

from assets.policy import POLICY_MODEL
from assets.resources import FeedbackStoreResource, MlflowResource, SettingsResource
from moodtune import registry
from moodtune.policy import pipeline
from moodtune.policy.packaging import PolicyPyfunc
from moodtune.policy.retrain import retrain


class RetrainConfig(Config):
    """The feedback window (``from_id`` < id <= ``to_id``; -1 = latest) and training budget."""

    from_id: int = 0
    to_id: int = -1
    timesteps: int = -1  # -1 -> retrain.timesteps
    degrade_scale: float = 0.0  # > 0 adds noise to the weights: a drill that must be rejected


@asset(group_name="retraining", compute_kind="stable-baselines3")
def retrained_policy(context: AssetExecutionContext, config: RetrainConfig, settings: SettingsResource,
                     mlflow: MlflowResource, feedback: FeedbackStoreResource,
                     recommendation_env: pipeline.EnvSpec) -> dict:
    """Continue training the champion policy on the feedback window plus the simulator, then
    gate it on held-out mean reward (champion re-measured on the same sessions)."""
    s = settings.get()
    p = s.policy
    store = feedback.store()
    to_id = store.latest_feedback_id() if config.to_id < 0 else config.to_id
    window = store.window(config.from_id, to_id)
    rows = store.feedback_since(config.from_id)
    rows = rows[rows["id"] <= to_id]
    loaded = registry.load_version(registry.POLICY, None, s)
    champion, champion_version = loaded.obj, loaded.version
    timesteps = s.retrain.timesteps if config.timesteps < 0 else config.timesteps
    result = retrain(recommendation_env, champion, rows, p, timesteps=timesteps, seed=p.seeds[0],
                     degrade_scale=config.degrade_scale)
    scores = result.scores()
    with mlflow.run(context, run_name=f"retrain feedback {window.first_id}-{window.last_id}") as run:
        registry.log_params({
            "window": {k: str(v) for k, v in window.as_dict().items()},
            "champion_version": champion_version,
            "timesteps": timesteps,
            "degrade_scale": config.degrade_scale,
        })
        registry.log_metrics(scores)
        registry.log_dataframe(result.held_out, "retrain/held_out.csv")
        registry.log_json({"challenger": result.challenger_ope.as_dict(), "champion": result.champion_ope.as_dict()},
                          "retrain/off_policy.json")
        with tempfile.TemporaryDirectory() as tmp:
            zip_path = Path(tmp) / "session_retrained.zip"
            result.model.save(zip_path)
            meta = pipeline.write_meta(Path(tmp) / "meta.json", "session", p.temperature,
                                       {"retrained_from": champion_version, **recommendation_env.model_versions})
            info = mlflow_lib.pyfunc.log_model(name="policy", python_model=PolicyPyfunc(),
                                               artifacts={"policy": str(zip_path), "meta": str(meta)})
        version = registry.register(info.model_uri, POLICY_MODEL, scores=scores, settings=s,
                                    tags={"source_run": run.info.run_id, "retrained_from": champion_version,
                                          "feedback_window": f"{window.cursor_from}-{to_id}"})
        decision = registry.promote(POLICY_MODEL, version.version, scores, p.gate_floors, p.gate_margin,
                                    metric="mean_reward", champion_score=scores["champion_mean_reward"], settings=s)
    context.log.info(f"gate: {decision.reason}")
    context.add_output_metadata({
        "feedback_window": MetadataValue.json({k: str(v) for k, v in window.as_dict().items()}),
        "held_out": MetadataValue.md(result.held_out.round(3).to_markdown(index=False)),
        "ope_value": scores["ope_value"],
        "ope_effective_sample_size": scores["ope_effective_sample_size"],
        "registered_version": str(version.version),
        "promoted": decision.promoted,
        "gate_reason": decision.reason,
    })
    return {"version": str(version.version), "promoted": decision.promoted, "scores": scores,
            "reason": decision.reason}
