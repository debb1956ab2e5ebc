"""Retraining: feedback -> sensor (build_sensor_context) -> job in-process -> gate.

Starts from a weak registered champion, writes real feedback rows for real recommendations
made by that champion, evaluates the sensor, runs the job, and checks that a better
challenger is promoted and a deliberately degraded one is not.
"""

import time

import httpx
import numpy as np
import pandas as pd
import pytest
from dagster import (
    DagsterInstance,
    RunRequest,
    SensorResult,
    SkipReason,
    build_sensor_context,
)

from assets.policy import POLICY_MODEL
from jobs.drill import retraining_definitions, serving_version, wait_for_serving
from jobs.retraining import feedback_retraining_sensor
from moodtune import registry
from moodtune.feedback.reward import reward_for_stress
from moodtune.policy import train
from moodtune.policy.features import SONG_COLUMNS, ListenerContext
from moodtune.policy.package import log_model
from moodtune.policy.ranking import PolicyRanker, rank_with_scores


def _register_weak_champion(stack) -> str:
    """An untrained policy (0 steps), made champion by hand (the test's start): the gate decides
    on a paired interval, so the challenger must be clearly better, not better by noise."""
    s = stack["settings"]
    spec = stack["result"].output_for_node("recommendation_env")
    # the session policy alone (train_policies would also train the bandit and the comparison
    # dynamics in worker processes: ~10 s more on 2 cores for nothing this test reads)
    model, _ = train.train_session_policy(spec, s.policy, timesteps=0, seed=0)
    ranker = PolicyRanker(model, "session")
    with registry.start_run("weak champion", settings=s):
        uri = log_model(ranker.model, "session")
    version = registry.register(uri, POLICY_MODEL, settings=s)
    registry.configure(s).set_registered_model_alias(POLICY_MODEL, s.registry.champion_alias, version.version)
    return str(version.version)


def _log_feedback(stack, n: int, seed: int = 0) -> int:
    """n recommendations by the champion, each with one feedback row (as the service does)."""
    s = stack["settings"]
    spec = stack["result"].output_for_node("recommendation_env")
    store = stack["resources"]["feedback"].store()
    loaded = registry.load_version(registry.POLICY, None, s)
    ranker, version = loaded.obj, loaded.version
    rng = np.random.default_rng(seed)
    last = 0
    for _ in range(n):
        idx = rng.choice(len(spec.track_ids), size=8, replace=False)
        playlist = pd.DataFrame(
            spec.song_features[idx], index=[spec.track_ids[i] for i in idx], columns=list(SONG_COLUMNS)
        )
        ctx = ListenerContext(int(rng.integers(18, 70)), int(rng.integers(0, 2)), float(rng.integers(1, 6)))
        # served as the service serves (epsilon-greedy): the logged propensities are the true ones
        ranked = rank_with_scores(
            playlist, ranker.scores(playlist.to_numpy(), ctx), s.policy.exploration, rng=rng
        )
        candidates = [
            {
                "track_id": r.track_id,
                "score": r.score,
                "probability": r.probability,
                "features": dict(zip(SONG_COLUMNS, playlist.loc[r.track_id].tolist(), strict=True)),
            }
            for r in ranked
        ]
        rec = store.record_recommendation(
            source="catalog",
            age=ctx.age,
            gender="male" if ctx.gender else "female",
            mood=int(ctx.mood),
            k=3,
            candidates=candidates,
            model_versions={POLICY_MODEL: version},
        )
        chosen = ranked[0]  # the listener plays the first track served
        level = ["low", "medium", "high"][int(rng.integers(0, 3))]
        row = store.record_feedback(
            rec, chosen.track_id, stress_level=level, reward=reward_for_stress(level, s.feedback.reward)
        )
        last = row.id
    return last


@pytest.fixture(scope="module")
def retrain_defs(policy_stack):
    return retraining_definitions(policy_stack["resources"])


def test_sensor_requests_one_run_per_batch_and_skips_otherwise(policy_stack, retrain_defs):
    s = policy_stack["settings"]
    _register_weak_champion(policy_stack)
    need = s.retrain.min_new_feedback
    store = policy_stack["resources"]["feedback"].store()
    start = store.latest_feedback_id()
    resources = policy_stack["resources"]
    with DagsterInstance.ephemeral() as instance:
        with build_sensor_context(instance=instance, cursor=str(start), resources=resources) as ctx:
            skipped = feedback_retraining_sensor(ctx)
            seen = ctx.cursor
        # a new count: the skip reason, and an observation on the asset saying the same
        assert isinstance(skipped, SensorResult) and f"waiting for {need}" in skipped.skip_reason.skip_message
        (event,) = skipped.asset_events
        assert event.asset_key.path == ["retrained_policy"] and f"waiting for {need}" in event.description
        assert event.metadata["new_feedback_rows"].value == 0 and event.metadata["waiting_for"].value == need
        assert seen == f"{start}:0"
        with build_sensor_context(instance=instance, cursor=seen, resources=resources) as ctx:
            same = feedback_retraining_sensor(ctx)  # nothing changed: no second observation
        assert isinstance(same, SkipReason) and f"waiting for {need}" in same.skip_message

        last = _log_feedback(policy_stack, need)
        with build_sensor_context(instance=instance, cursor=seen, resources=resources) as ctx:
            request = feedback_retraining_sensor(ctx)
            cursor = ctx.cursor
        assert isinstance(request, RunRequest)
        assert request.run_key == f"feedback-{last}"
        assert request.run_config["ops"]["retrained_policy"]["config"] == {"from_id": start, "to_id": last}
        assert cursor == str(last)

        with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
            again = feedback_retraining_sensor(ctx)
        assert isinstance(again, SensorResult) and "0 new feedback rows" in again.skip_reason.skip_message


def _run_job(retrain_defs, config: dict):
    job = retrain_defs.resolve_job_def("policy_retraining_job")
    with DagsterInstance.ephemeral() as instance:
        # the upstream recommendation_env is read from the stack's IO manager storage
        result = job.execute_in_process(
            run_config={"ops": {"retrained_policy": {"config": config}}}, instance=instance
        )
    assert result.success
    return result.output_for_node("retrained_policy")


def test_better_challenger_promoted_and_degraded_one_refused(policy_stack, retrain_defs):
    s = policy_stack["settings"]
    weak = _register_weak_champion(policy_stack)
    store = policy_stack["resources"]["feedback"].store()
    start = store.latest_feedback_id()
    last = _log_feedback(policy_stack, s.retrain.min_new_feedback, seed=1)

    better = _run_job(retrain_defs, {"from_id": start, "to_id": last, "timesteps": 8000})
    assert better["promoted"], better["reason"]
    assert better["scores"]["mean_reward"] > better["scores"]["champion_mean_reward"]
    assert better["scores"]["replay_rows"] == s.retrain.min_new_feedback
    assert better["scores"]["ope_effective_sample_size"] > 0
    champion = registry.champion(POLICY_MODEL, s)
    assert str(champion.version) == better["version"] != weak

    worse = _run_job(retrain_defs, {"from_id": start, "to_id": last, "timesteps": 0, "degrade_scale": 2.0})
    assert not worse["promoted"]
    assert str(registry.champion(POLICY_MODEL, s).version) == better["version"]
    # the run shows the data window it used
    run = registry.configure(s).get_run(
        registry.configure(s).get_model_version(POLICY_MODEL, worse["version"]).run_id
    )
    assert run.data.params["window.count"] == str(s.retrain.min_new_feedback)


def test_feedback_through_the_service_retrains_and_the_service_hot_swaps(
    policy_stack, service_stack, retrain_defs
):
    """The whole loop against the running `bentoml serve` (it polls the champion alias)."""
    s = policy_stack["settings"]
    spec = policy_stack["result"].output_for_node("recommendation_env")
    need = s.retrain.min_new_feedback
    weak = _register_weak_champion(policy_stack)
    store = policy_stack["resources"]["feedback"].store()
    start = store.latest_feedback_id()
    rng = np.random.default_rng(5)
    with httpx.Client(base_url=service_stack["url"], timeout=120) as client:
        wait_for_serving(client, POLICY_MODEL, weak)
        for _ in range(need):
            ids = [str(t) for t in rng.choice(spec.track_ids, size=8, replace=False)]
            rec = client.post(
                "/recommend",
                json={
                    "track_ids": ids,
                    "age": int(rng.integers(18, 70)),
                    "gender": ["female", "male"][int(rng.integers(0, 2))],
                    "mood": int(rng.integers(1, 6)),
                    "k": 3,
                },
            )
            assert rec.status_code == 200, rec.text
            rec = rec.json()
            assert rec["model_versions"][POLICY_MODEL] == weak
            chosen = rec["tracks"][int(rng.integers(0, 3))]["track_id"]
            fb = client.post(
                "/feedback",
                json={
                    "recommendation_id": rec["recommendation_id"],
                    "track_id": chosen,
                    "stress_level": ["low", "medium", "high"][int(rng.integers(0, 3))],
                },
            )
            assert fb.status_code == 200, fb.text
        last = store.latest_feedback_id()
        assert last - start == need  # every acknowledged row is in the store

        resources = policy_stack["resources"]
        with DagsterInstance.ephemeral() as instance:
            with build_sensor_context(instance=instance, cursor=str(start), resources=resources) as ctx:
                request = feedback_retraining_sensor(ctx)
                cursor = ctx.cursor
            assert isinstance(request, RunRequest) and request.run_key == f"feedback-{last}"
            with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
                skipped = feedback_retraining_sensor(ctx)
            assert isinstance(skipped, SensorResult) and skipped.skip_reason is not None

        config = {**request.run_config["ops"]["retrained_policy"]["config"], "timesteps": 8000}
        better = _run_job(retrain_defs, config)
        assert better["promoted"], better["reason"]
        assert better["scores"]["replay_rows"] == need
        wait_for_serving(client, POLICY_MODEL, better["version"])  # hot-swapped, no restart

        worse = _run_job(retrain_defs, {**config, "timesteps": 0, "degrade_scale": 2.0})
        assert not worse["promoted"]
        time.sleep(3 * float(service_stack["env"]["MOODTUNE_SERVICE__RELOAD_INTERVAL_SECONDS"]) + 2)
        assert serving_version(client, POLICY_MODEL) == better["version"]
        # and the service still answers with the promoted policy
        ids = [str(t) for t in spec.track_ids[:8]]
        answer = client.post(
            "/recommend", json={"track_ids": ids, "age": 30, "gender": "female", "mood": 2, "k": 3}
        )
        assert (
            answer.status_code == 200 and answer.json()["model_versions"][POLICY_MODEL] == better["version"]
        )
