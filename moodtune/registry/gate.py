"""The promotion gate, shared by every model family: register -> re-score the champion on the
same held-out data -> decide -> move the aliases -> log the verdict.

A candidate is promoted only if it passes every absolute floor and beats the champion by the
configured margin. When both models give per-item scores on the same held-out items (sessions,
clips, queries), the decision is on the paired difference: the lower end of its bootstrap
confidence interval must clear the margin, so noise does not promote. A champion that cannot be
re-scored is reported in the decision (``rescore_error``); the gate then falls back to the score
recorded on the champion version. Extra checks (``vetoes``, e.g. the policy's off-policy
estimate) can refuse a candidate that passed on the held-out metric.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from moodtune.registry.loader import load
from moodtune.registry.notes import append_note, rounded, tag_value
from moodtune.registry.tracking import configure
from moodtune.registry.versions import SCORE_TAG, champion, register, version_score
from moodtune.settings import Settings


@dataclass(frozen=True)
class Evaluation:
    """A model's held-out result: metrics (holding the gate metric) and, optionally, one value
    per held-out item whose mean is the gate metric (for the paired comparison)."""

    scores: Mapping[str, float]
    per_item: Sequence[float] | None = None


@dataclass(frozen=True)
class Candidate:
    """What a training step hands the gate."""

    name: str
    model_uri: str
    evaluation: Evaluation
    metric: str
    floors: Mapping[str, float]
    margin: float
    # scores a loaded champion (its domain object) on the same held-out data as the candidate
    rescore: Callable[[Any], Evaluation] | None = None
    # each gets the champion's domain object (or None) and returns a refusal reason or None
    vetoes: Sequence[Callable[[Any], str | None]] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PromotionDecision:
    """What the gate decided, with both scores and the reason, as logged to MLflow."""

    name: str
    version: str
    metric: str
    candidate_score: float
    champion_version: str | None
    champion_score: float | None
    promoted: bool
    reason: str
    difference_ci: tuple[float, float] | None = None
    rescore_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def verdict(self) -> str:
        """``promoted`` or ``rejected`` (the ``gate.decision`` tag)."""
        return "promoted" if self.promoted else "rejected"

    def champion_text(self) -> str:
        """The champion compared with, e.g. ``champion v2: 0.8123`` or ``no champion before``."""
        if self.champion_score is None:
            return (
                "no champion before"
                if self.champion_version is None
                else f"champion v{self.champion_version}: no recorded {self.metric}"
            )
        return f"champion v{self.champion_version}: {self.champion_score:.4g}"

    def note(self) -> str:
        """The verdict as a markdown paragraph for the training run's description."""
        return (
            f"**Gate: {self.verdict.upper()}** `{self.name}` v{self.version}: {self.metric} "
            f"{self.candidate_score:.4g} ({self.champion_text()}). {self.reason}"
        )


@dataclass(frozen=True)
class GateReport:
    """A registered candidate and the gate's verdict on it (what an asset shows)."""

    name: str
    version: str
    model_uri: str
    run_id: str | None
    scores: dict[str, float]
    decision: PromotionDecision

    @property
    def promoted(self) -> bool:
        return self.decision.promoted

    @property
    def reason(self) -> str:
        return self.decision.reason

    def metadata(self) -> dict[str, Any]:
        """Plain values for Dagster metadata (numbers stay numbers)."""
        d = self.decision
        meta: dict[str, Any] = {
            "model": self.name,
            "version": self.version,
            "model_uri": self.model_uri,
            "promoted": d.promoted,
            "gate_reason": d.reason,
            "gate_metric": d.metric,
            "candidate_score": round(d.candidate_score, 4),
            "champion_version": d.champion_version or "",
        }
        if d.champion_score is not None:
            meta["champion_score"] = round(d.champion_score, 4)
        if d.difference_ci is not None:
            meta["difference_ci_low"], meta["difference_ci_high"] = (round(x, 4) for x in d.difference_ci)
        if d.rescore_error:
            meta["rescore_error"] = d.rescore_error
        return meta


def paired_bootstrap_ci(
    candidate: Sequence[float],
    champion_items: Sequence[float],
    *,
    samples: int,
    confidence: float,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean paired difference ``candidate - champion``."""
    a, b = np.asarray(candidate, dtype=float), np.asarray(champion_items, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"paired scores need two equal 1-d arrays of >= 2 items; got {a.shape}, {b.shape}")
    diff = a - b
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(samples, len(diff)))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


_READ = object()  # promote(): read the champion alias itself


def promote(
    name: str,
    version: str | int,
    candidate_score: float | Mapping[str, float],
    floors: Mapping[str, float],
    margin: float,
    *,
    metric: str = "score",
    champion_score: float | None = None,
    difference_ci: tuple[float, float] | None = None,
    vetoed: Sequence[str] = (),
    rescore_error: str | None = None,
    settings: Settings,
    current_champion: Any = _READ,
) -> PromotionDecision:
    """Gate a registered version: set ``challenger``, compare with ``champion``, move it if it wins.

    ``candidate_score`` is the gate metric (a float) or a dict of metrics holding ``metric``;
    every floor must be met (a floor's metric missing from the dict fails it). Without
    ``difference_ci`` the candidate wins when it beats ``champion_score`` (re-measured by the
    caller, else the score recorded on the champion) by at least ``margin``, strictly; with it,
    when the interval's lower end is at least ``margin`` and the mean difference is positive.
    Any reason in ``vetoed`` refuses the candidate. ``current_champion`` is the champion's
    model version as the caller already read it (``None``: there was none), so that the version
    re-scored is the version compared; by default it is read here.
    """
    client = configure(settings)
    version = str(version)
    scores = dict(candidate_score) if isinstance(candidate_score, Mapping) else {metric: candidate_score}
    if metric not in scores:
        raise KeyError(f"candidate scores have no {metric!r}; got {sorted(scores)}")
    candidate = float(scores[metric])
    client.set_model_version_tag(name, version, f"{SCORE_TAG}{metric}", tag_value(candidate))
    client.set_registered_model_alias(name, settings.registry.challenger_alias, version)

    current = champion(name, settings) if current_champion is _READ else current_champion
    if current is not None and str(current.version) == version:
        current = None
    if champion_score is None and current is not None:
        champion_score = version_score(current, metric)
    note = f" (champion not re-scored: {rescore_error}; its recorded score is used)" if rescore_error else ""

    failed = [
        f"{m}={scores.get(m, float('nan')):.4g} below floor {floor:.4g}"
        if m in scores
        else f"{m} missing (floor {floor:.4g})"
        for m, floor in floors.items()
        if m not in scores or not float(scores[m]) >= float(floor)
    ]
    if failed:
        promoted, reason = False, "below floors: " + "; ".join(failed)
    elif vetoed:
        promoted, reason = False, "refused: " + "; ".join(vetoed)
    elif current is None:
        promoted, reason = True, "first version to pass the floors"
    elif champion_score is None:
        promoted, reason = True, f"champion v{current.version} has no recorded {metric}; floors passed"
    elif difference_ci is not None:
        lo, hi = difference_ci
        wins = lo >= margin and candidate > champion_score
        promoted = wins
        reason = (
            f"{metric} {candidate:.4g} vs champion v{current.version} {champion_score:.4g}: paired "
            f"difference CI [{lo:.4g}, {hi:.4g}] {'clears' if wins else 'does not clear'} "
            f"the margin {margin:g}"
        )
    elif candidate > champion_score and candidate - champion_score >= margin:
        promoted, reason = (
            True,
            (
                f"{metric} {candidate:.4g} beats champion v{current.version} "
                f"({champion_score:.4g}) by >= {margin:g}"
            ),
        )
    else:
        promoted, reason = (
            False,
            (
                f"{metric} {candidate:.4g} does not beat champion v{current.version} "
                f"({champion_score:.4g}) by {margin:g}"
            ),
        )
    reason += note

    if promoted:
        client.set_registered_model_alias(name, settings.registry.champion_alias, version)
        client.delete_registered_model_alias(name, settings.registry.challenger_alias)

    decision = PromotionDecision(
        name=name,
        version=version,
        metric=metric,
        candidate_score=candidate,
        champion_version=None if current is None else str(current.version),
        champion_score=champion_score,
        promoted=promoted,
        reason=reason,
        difference_ci=difference_ci,
        rescore_error=rescore_error,
    )
    _log_decision(client, decision)
    return decision


def register_and_gate(
    candidate: Candidate, settings: Settings, log: Callable[[str], None] = lambda _msg: None
) -> GateReport:
    """Register ``candidate.model_uri`` as a new version, re-score the champion on the same
    held-out data, and promote through :func:`promote`. Call inside the training run."""
    ev = candidate.evaluation
    scores = {k: float(v) for k, v in ev.scores.items()}
    version = register(
        candidate.model_uri, candidate.name, scores=scores, tags=candidate.tags, settings=settings
    )
    current = champion(candidate.name, settings)
    champ_obj, champ_eval, error = None, None, None
    if current is not None and str(current.version) != str(version.version):
        try:
            champ_obj = load(candidate.name, current.version, settings)
            if candidate.rescore is not None:
                champ_eval = candidate.rescore(champ_obj)
        except Exception as exc:  # the guard: any failure to re-score is reported, never silent
            error = f"{type(exc).__name__}: {exc}"
            log(f"champion v{current.version} of {candidate.name} not re-scored: {error}")
    champion_score = None
    ci = None
    if champ_eval is not None:
        champion_score = float(champ_eval.scores[candidate.metric])
        if ev.per_item is not None and champ_eval.per_item is not None:
            r = settings.registry
            ci = paired_bootstrap_ci(
                ev.per_item,
                champ_eval.per_item,
                samples=r.bootstrap_samples,
                confidence=r.confidence,
                seed=settings.project.seed,
            )
    vetoed = [reason for veto in candidate.vetoes if (reason := veto(champ_obj))]
    decision = promote(
        candidate.name,
        version.version,
        scores,
        candidate.floors,
        candidate.margin,
        metric=candidate.metric,
        champion_score=champion_score,
        difference_ci=ci,
        vetoed=vetoed,
        rescore_error=error,
        settings=settings,
        current_champion=current,
    )
    active = mlflow.active_run()
    log(
        f"{candidate.name} v{version.version}: {candidate.metric} {scores[candidate.metric]:.4g} -> "
        f"{'promoted' if decision.promoted else 'not promoted'} ({decision.reason})"
    )
    return GateReport(
        candidate.name,
        str(version.version),
        candidate.model_uri,
        active.info.run_id if active else version.run_id,
        scores,
        decision,
    )


def _log_decision(client: MlflowClient, decision: PromotionDecision) -> None:
    """The verdict on the version (tags, description) and on the training run (tags, metrics,
    ``gate/decision.json``, a paragraph appended to its description)."""
    verdict = decision.verdict
    tags = {"gate.decision": verdict, "gate.reason": decision.reason[:5000]}
    if decision.difference_ci is not None:
        tags["gate.difference_ci"] = json.dumps([rounded(x) for x in decision.difference_ci])
    if decision.rescore_error:
        tags["gate.rescore_error"] = decision.rescore_error[:5000]
    for key, value in tags.items():
        client.set_model_version_tag(decision.name, decision.version, key, value)
    client.update_model_version(
        decision.name,
        decision.version,
        description=(
            f"Gate: {verdict.upper()}. {decision.metric} {decision.candidate_score:.4g} ({decision.champion_text()}). "
            f"{decision.reason}"
        ),
    )
    run_id = client.get_model_version(decision.name, decision.version).run_id
    active = mlflow.active_run()
    run_id = active.info.run_id if active is not None else run_id
    if not run_id:
        return
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    client.log_metric(run_id, "gate.candidate_score", decision.candidate_score)
    if decision.champion_score is not None:
        client.log_metric(run_id, "gate.champion_score", decision.champion_score)
    if decision.difference_ci is not None:
        client.log_metric(run_id, "gate.difference_ci_low", decision.difference_ci[0])
        client.log_metric(run_id, "gate.difference_ci_high", decision.difference_ci[1])
    client.log_text(run_id, json.dumps(decision.as_dict(), indent=2), "gate/decision.json")
    append_note(decision.note(), run_id, client=client)
