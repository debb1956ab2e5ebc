"""The policy's one path: train -> evaluate on held-out listeners -> log -> register -> gate.

The initial training (:func:`train_and_log` then :func:`evaluate_and_register`) and the
retraining job (:func:`retrain_and_register`) both end in :func:`register_policy`: the
candidate plays the held-out sessions (same listeners, playlists and random streams for every
policy), the shared gate re-scores the champion on those same sessions and decides on the
paired per-session difference (bootstrap interval), and, when logged feedback is given, the
off-policy estimates of both on the same logged rows (doubly robust with the retrain's reward
model) can veto a challenger that is worse there beyond the interval (only when the effective
sample size allows a verdict). A retrain's held-out sessions run in the simulator recalibrated
by the feedback it learned from; its off-policy rows are feedback the reward model never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from moodtune import registry
from moodtune.policy import pipeline, plots
from moodtune.policy.evaluation import RandomRanker
from moodtune.policy.features import ListenerContext
from moodtune.policy.offpolicy import OffPolicyComparison, compare
from moodtune.policy.package import input_example, load_ranker, log_model
from moodtune.policy.ranking import PolicyRanker
from moodtune.policy.retrain import retrain_from_feedback
from moodtune.policy.rewardmodel import direct_method
from moodtune.policy.train import train_policies
from moodtune.settings import Settings

Log = Callable[[str], None]


def held_out(
    spec: pipeline.EnvSpec, ranker, settings: Settings, name: str = "candidate"
) -> registry.Evaluation:
    """``ranker`` on the held-out sessions of the first seed: the gate's scores and per-session rewards."""
    p = settings.policy
    seed = p.seeds[0]
    per: dict[str, list[float]] = {}
    table = pipeline.evaluate_policy(
        spec, {name: ranker, "random": RandomRanker(seed)}, p, seed, per_session=per
    )
    row = table.set_index("policy")
    scores = {
        "mean_reward": float(row.loc[name, "mean_reward"]),
        "reward_lift_over_random": float(row.loc[name, "mean_reward"] - row.loc["random", "mean_reward"]),
        f"hit_rate_at_{p.eval_k}": float(row.loc[name, f"hit_rate_at_{p.eval_k}"]),
        f"ndcg_at_{p.eval_k}": float(row.loc[name, f"ndcg_at_{p.eval_k}"]),
        "stress_reduction": float(row.loc[name, "stress_reduction"]),
    }
    return registry.Evaluation(scores, per[name])


def register_policy(
    settings: Settings,
    spec: pipeline.EnvSpec,
    ranker: PolicyRanker,
    *,
    meta: dict | None = None,
    tags: dict | None = None,
    extra_scores: dict | None = None,
    feedback: pd.DataFrame | None = None,
    direct=None,
    original: pipeline.EnvSpec | None = None,
    log: Log = lambda _m: None,
) -> registry.ModelReport:
    """Evaluate ``ranker``, log it as the policy pyfunc in the active run, register and gate it.
    The report's output is the held-out table (candidate, and the champion re-scored); its
    metadata the scores and the off-policy verdict; ``extra`` holds the ``scores`` (the gate's,
    the champion's, the off-policy estimates), the ``table`` and the ``ope`` comparison.
    ``feedback``: logged rows for the off-policy check; ``direct``: a reward model for them
    (:func:`moodtune.policy.rewardmodel.direct_method`: a doubly robust estimate; else SNIPS).
    ``original``: when ``spec``'s held-out listeners include the feedback's, the spec of the
    population the policy was built for alone: a challenger worse there beyond the paired
    interval is refused, whatever it gains on the others."""
    p = settings.policy
    evaluation = held_out(spec, ranker, settings)
    scores = {**evaluation.scores, **(extra_scores or {})}
    found: dict[str, OffPolicyComparison] = {}
    rows = [] if feedback is None else feedback.to_dict("records")

    def ope_veto(champion) -> str | None:
        if champion is None or not rows:
            return None
        r = settings.registry
        found["ope"] = compare(
            rows,
            ranker,
            champion,
            p.exploration,
            samples=r.bootstrap_samples,
            confidence=r.confidence,
            min_ess=p.ope_min_ess,
            seed=settings.project.seed,
            direct=direct,
        )
        return found["ope"].refusal()

    def original_veto(champion) -> str | None:
        if champion is None or original is None:
            return None
        r = settings.registry
        new, old = held_out(original, ranker, settings), held_out(original, champion, settings, "champion")
        assert new.per_item is not None and old.per_item is not None  # held_out keeps per-session rewards
        lo, hi = registry.paired_bootstrap_ci(
            new.per_item,
            old.per_item,
            samples=r.bootstrap_samples,
            confidence=r.confidence,
            seed=settings.project.seed,
        )
        scores.update(
            original_mean_reward=new.scores["mean_reward"],
            original_champion_mean_reward=old.scores["mean_reward"],
            original_difference_ci_low=lo,
            original_difference_ci_high=hi,
        )
        if hi >= 0:
            return None
        return (
            f"worse on the original population's held-out listeners: {new.scores['mean_reward']:.4g} vs the "
            f"champion's {old.scores['mean_reward']:.4g} (paired difference CI [{lo:.4g}, {hi:.4g}])"
        )

    n = min(p.playlist_size, len(spec.track_ids))
    example = input_example(spec.song_features[:n], spec.track_ids[:n], ListenerContext(30, 0, 2.0))
    uri = log_model(ranker.model, ranker.kind, {**spec.model_versions, **(meta or {})}, example)
    gate = registry.register_and_gate(
        registry.Candidate(
            name=registry.POLICY,
            model_uri=uri,
            evaluation=registry.Evaluation(scores, evaluation.per_item),
            metric="mean_reward",
            floors=dict(p.gate_floors),
            margin=p.gate_margin,
            rescore=lambda champion: held_out(spec, champion, settings, "champion"),
            vetoes=[ope_veto, original_veto],
            tags={k: str(v) for k, v in (tags or {}).items()},
        ),
        settings,
        log=log,
    )
    ope = found.get("ope")
    if gate.decision.champion_score is not None:
        scores["champion_mean_reward"] = gate.decision.champion_score
    if ope is not None:
        scores.update(ope.scores())
        registry.log_json(
            {
                "challenger": ope.challenger.as_dict(),
                "champion": ope.champion.as_dict(),
                "difference_ci": ope.difference_ci,
                "min_ess": ope.min_ess,
                "verdict": ope.verdict(),
                "refusal": ope.refusal(),
            },
            "gate/off_policy.json",
        )
        client = registry.configure(settings)
        for key, value in ope.scores().items():
            client.set_model_version_tag(
                registry.POLICY, gate.version, f"gate.{key}", registry.tag_value(value)
            )
    registry.log_metrics(scores)
    rows_out = [{"policy": "candidate", **evaluation.scores}]
    if gate.decision.champion_score is not None:
        rows_out.append(
            {
                "policy": f"champion v{gate.decision.champion_version}",
                "mean_reward": gate.decision.champion_score,
            }
        )
    table = pd.DataFrame(rows_out)
    metadata = {
        **{k: round(float(v), 4) for k, v in scores.items()},
        "ope_verdict": "no logged feedback" if ope is None else ope.verdict(),
    }
    return registry.ModelReport(gate, table, metadata, {"scores": scores, "table": table, "ope": ope})


def train_and_log(settings: Settings, spec: pipeline.EnvSpec, out_dir=None, *, compare: bool = False) -> dict:
    """Train the session policy per seed and seed A's bandit (with ``compare``, also per seed of
    ``policy.compare.seeds`` under each of ``policy.compare.dynamics``); log params, learning
    curves, training time and seed A's score to the active run."""
    p = settings.policy
    if not compare:
        p = p.model_copy(update={"compare": p.compare.model_copy(update={"dynamics": ()})})
    registry.log_params(
        {
            "policy": p.model_dump(exclude={"gate_floors"}),
            "songs": len(spec.track_ids),
            "listeners": len(spec.listeners),
        }
    )
    trained = train_policies(spec, p, out_dir or settings.data_path("policy", "models"))
    registry.log_metrics(
        {
            k: float(trained[k])
            for k in (
                "seed_score",
                "train_seconds",
                "train_cpu_seconds",
                "total_train_seconds",
                "total_train_cpu_seconds",
            )
        }
    )
    registry.log_figure(plots.learning_curves(trained["curves"]), "policy/learning_curve.png")
    registry.log_json(trained["curves"], "policy/learning_curves.json")
    for name, curve in trained["curves"].items():
        for step, value in curve[:: max(1, len(curve) // 200)]:
            registry.log_metrics({f"curve.{name}": value}, step=int(step))
    for name, points in trained["held_out_curves"].items():  # the same held-out sessions at each point
        for step, value in points:
            registry.log_metrics({f"held_out_curve.{name}": value}, step=int(step))
        registry.log_metrics({f"a2c_phase_gain.{name}": points[-1][1] - points[0][1]})
    if trained["held_out_curves"]:
        registry.log_json(trained["held_out_curves"], "policy/held_out_curves.json")
    return trained


def curve_summary(curves: dict, points: int = 12) -> dict[str, list[list[float]]]:
    """A few (timestep, smoothed episode reward) points per curve, for Dagster metadata."""
    return {
        name: [[int(t), round(float(r), 3)] for t, r in c[:: max(1, len(c) // points)]]
        for name, c in curves.items()
        if c
    }


def evaluate_and_log(settings: Settings, spec: pipeline.EnvSpec, trained: dict) -> dict:
    """Every policy on the held-out listeners per seed, under the configured dynamics and each
    dynamics ``trained`` has policies for; tables, summaries, plots and targets logged to the
    active run (with the evaluation's params, so runs compare column by column)."""
    p = settings.policy
    registry.log_params(
        {
            "evaluation": {
                "songs": len(spec.track_ids),
                "seeds": list(p.seeds),
                "eval_sessions": p.eval_sessions,
                "eval_k": p.eval_k,
                "playlist_size": p.playlist_size,
                "session_length": p.session_length,
                "dynamics": p.dynamics,
                "oracle_beam": p.oracle_beam,
                "timesteps": trained["timesteps"],
                **spec.model_versions,
            }
        }
    )
    tables = {p.dynamics: pipeline.evaluation_table(spec, trained, p)}
    for dynamics in trained.get("compare", {}):
        tables[dynamics] = pipeline.evaluation_table(spec, trained, p, dynamics)
    summaries = {d: pipeline.summarise(t) for d, t in tables.items()}
    goals = {d: pipeline.targets(summary) for d, summary in summaries.items()}
    for d, table in tables.items():
        prefix = "evaluation" if d == p.dynamics else f"evaluation/{d}_dynamics"
        registry.log_dataframe(table, f"{prefix}/per_seed.csv")
        registry.log_text(summaries[d].to_markdown(index=False), f"{prefix}/summary.md")
        registry.log_figure(plots.policy_bars(summaries[d], p.eval_k), f"{prefix}/policies.png")
        registry.log_json(goals[d], f"{prefix}/targets.json")
        registry.log_metrics(
            {(k if d == p.dynamics else f"{d}.{k}"): v for k, v in goals[d].items() if isinstance(v, float)}
        )
    return {"tables": tables, "summaries": summaries, "targets": goals}


def evaluate_and_register(
    settings: Settings, spec: pipeline.EnvSpec, trained: dict, log: Log = lambda _m: None
) -> registry.ModelReport:
    """:func:`evaluate_and_log`, then the first seed's A2C is registered and gated. The report's
    output is the evaluation table under ``policy.dynamics`` (per seed and policy); its metadata
    adds each dynamics' summary, the targets and the learning curves."""
    p = settings.policy
    evaluated = evaluate_and_log(settings, spec, trained)
    seed = p.seeds[0]
    ranker = load_ranker(trained["session"][seed], {"kind": "session"})
    report = register_policy(
        settings,
        spec,
        ranker,
        meta={"seed": seed, "timesteps": trained["timesteps"], "songs": len(spec.track_ids)},
        tags={
            "kind": "candidate-aware listening-session A2C",
            "dynamics": p.dynamics,
            "timesteps": trained["timesteps"],
            "songs": len(spec.track_ids),
        },
        extra_scores={"seed_score": float(trained["seed_score"])},
        log=log,
    )
    report.output = evaluated["tables"][p.dynamics]
    targets = evaluated["targets"]
    report.metadata.update(
        {
            **{
                f"summary_{d}_dynamics": registry.Markdown(t.round(3).to_markdown(index=False))
                for d, t in evaluated["summaries"].items()
            },
            "targets": targets,
            # plain numbers too, so Dagster's Plots tab draws the targets across materializations
            **{k: v for k, v in targets[p.dynamics].items() if isinstance(v, float)},
            "learning_curves": curve_summary(trained["curves"]),
            "registered_version": report.version,
        }
    )
    report.extra.update(summaries=evaluated["summaries"], targets=targets)
    return report


def retrain_and_register(
    settings: Settings,
    spec: pipeline.EnvSpec,
    champion: registry.Loaded,
    feedback: pd.DataFrame,
    *,
    timesteps: int,
    degrade_scale: float = 0.0,
    window: dict | None = None,
    log: Log = lambda _m: None,
) -> registry.ModelReport:
    """Learn the listeners' response from ``feedback``, teach a copy of the champion in the
    recalibrated simulator, then gate it: held-out reward against the champion re-scored on the
    same sessions of that simulator, and the doubly robust off-policy veto on held-out rows.
    The report's output is the verdict (version, promoted, scores, reason); its metadata adds
    the feedback window, the held-out table and the reward model."""
    p, r = settings.policy, settings.retrain
    window = {k: str(v) for k, v in (window or {}).items()}
    seed = p.seeds[0]
    registry.log_params(
        {
            "window": window,
            "champion_version": champion.version,
            "timesteps": timesteps,
            "degrade_scale": degrade_scale,
            "retrain": r.model_dump(exclude={"min_new_feedback", "sensor_interval_seconds"}),
            "exploration": p.exploration,
        }
    )
    done = retrain_from_feedback(
        spec, champion.obj, feedback, p, r, timesteps=timesteps, seed=seed, degrade_scale=degrade_scale
    )
    log(
        f"reward model on {done.response.rows} feedback rows: mean squared error {done.response.mse_prior:.4f} "
        f"(simulator) -> {done.response.mse_fitted:.4f} (recalibrated); {len(done.held_out)} rows held out"
    )
    registry.log_json(done.response.as_dict(), "retrain/reward_model.json")
    for step, value in done.curve.smoothed()[:: max(1, len(done.curve.points) // 200)]:
        registry.log_metrics({"curve.retrain": value}, step=int(step))
    ranker = PolicyRanker(done.model, "session")
    direct = direct_method(done.held_out, spec, done.response, draws=r.draws, seed=seed + 1)
    registry.log_metrics(done.response.metrics())
    extra = {"replay_rows": float(len(feedback)), "held_out_feedback_rows": float(len(done.held_out))}
    if done.imitation_accuracy is not None:
        extra["imitation_accuracy"] = done.imitation_accuracy
    report = register_policy(
        settings,
        done.spec,
        ranker,
        meta={"retrained_from": champion.version},
        tags={
            "retrained_from": champion.version,
            "feedback_window": f"{window.get('cursor_from')}-{window.get('cursor_to')}",
        },
        extra_scores=extra,
        feedback=done.held_out,
        direct=direct,
        original=done.original,
        log=log,
    )
    reward_model = done.response.as_dict()
    report.output = {
        "version": report.version,
        "promoted": report.promoted,
        "scores": report.extra["scores"],
        "reason": report.reason,
    }
    report.metadata.update(
        {
            "feedback_window": window,
            "held_out": registry.Markdown(report.extra["table"].round(3).to_markdown(index=False)),
            "reward_model": reward_model,
        }
    )
    report.extra.update(timesteps=timesteps, reward_model=reward_model)
    return report


def shadow_rows(feedback: pd.DataFrame, version: str) -> pd.DataFrame:
    """The feedback rows whose recommendation the challenger ``version`` ranked in shadow."""
    if feedback.empty:
        return feedback
    ran = feedback["recommendation_model_versions"].map(
        lambda v: str((v or {}).get(registry.SHADOW)) == version
    )
    return feedback[ran.to_numpy(dtype=bool)]


def gate_shadow(settings: Settings, feedback: pd.DataFrame, log: Log = lambda _m: None) -> dict[str, Any]:
    """The policy challenger running in shadow (apprentice mode), judged on the rows logged
    beside the champion's: its running off-policy estimate against the champion's rewards,
    logged to the active MLflow run and as tags on its version; promoted through the gate when
    the effective sample size allows a verdict and the difference's interval clears the margin."""
    from moodtune.policy.offpolicy import shadow_comparison

    p, r = settings.policy, settings.registry
    challenger = registry.get_alias(registry.POLICY, r.challenger_alias, settings)
    if challenger is None:
        return {"challenger": None, "verdict": "no challenger registered: nothing runs in shadow"}
    version = str(challenger.version)
    rows = shadow_rows(feedback, version)
    ope = shadow_comparison(
        rows,
        samples=r.bootstrap_samples,
        confidence=r.confidence,
        min_ess=p.ope_min_ess,
        seed=settings.project.seed,
    )
    scores = {f"shadow_{k.removeprefix('ope_')}": v for k, v in ope.scores().items()}
    registry.log_params({"challenger_version": version, "exploration": p.exploration})
    registry.log_metrics({k: v for k, v in scores.items() if v == v})
    client = registry.configure(settings)
    for key, value in scores.items():
        client.set_model_version_tag(registry.POLICY, version, f"shadow.{key}", registry.tag_value(value))
    out: dict[str, Any] = {"challenger": version, "rows": len(rows), **scores, "promoted": False}
    ci = ope.difference_ci  # set where there is a verdict
    clears = ope.has_verdict and ci is not None and ci[0] >= p.gate_margin
    if not ope.has_verdict:
        out["verdict"] = (
            f"running in shadow: effective sample size {ope.challenger.effective_sample_size:.1f} "
            f"of {p.ope_min_ess:g} needed for a verdict"
        )
    elif not clears:
        assert ci is not None
        out["verdict"] = (
            f"running in shadow: difference CI [{ci[0]:.4g}, {ci[1]:.4g}] "
            f"does not clear the margin {p.gate_margin:g}"
        )
    else:
        recorded = {m: registry.version_score(challenger, m) for m in p.gate_floors}  # its held-out floors
        decision = registry.promote(
            registry.POLICY,
            version,
            {"shadow_value": ope.challenger.value, **{m: v for m, v in recorded.items() if v is not None}},
            dict(p.gate_floors),
            p.gate_margin,
            metric="shadow_value",
            champion_score=ope.champion.value,
            difference_ci=ope.difference_ci,
            settings=settings,
        )
        out.update(promoted=decision.promoted, verdict=decision.reason)
    log(f"shadow challenger v{version}: {out['verdict']}")
    return out
