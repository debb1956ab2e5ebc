"""Training and held-out evaluation of the audio model.

The held-out split is stratified by genre (and by genre x primary emotion when every such
cell has at least two tracks), drawn with the project seed; it never follows row order.
Loss: binary cross-entropy on the six emotion logits (weighted by each label's imbalance)
plus cross-entropy on the four genre logits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from torch import nn

from moodtune import registry
from moodtune.audio.model import N_EMOTIONS, OUTPUT_COLUMNS, AudioModel, AudioNet
from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import ConfigError

if TYPE_CHECKING:
    from moodtune.audio.tagmodel import TaggedAudioModel


def labelled(clips: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The clips usable for training: features present, a known genre and all six labels."""
    clips = clips.set_index("track_id")
    ok = (
        clips.index.isin(features.index)
        & clips["genre"].isin(GENRES)
        & clips[list(GEMS6)].notna().all(axis=1)
    )
    return clips[ok]


def split(clips: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.Index, pd.Index]:
    """Train and held-out track ids (``clips`` indexed by track id)."""
    if not 0 < test_size < 1:
        raise ConfigError(f"audio.model.test_size must be between 0 and 1, got {test_size}")
    primary = clips[list(GEMS6)].idxmax(axis=1).where(clips[list(GEMS6)].sum(axis=1) > 0, "none")
    cells = clips["genre"].astype(str) + "|" + primary
    n_test = int(np.ceil(test_size * len(clips)))
    strata = cells if cells.value_counts().min() >= 2 and n_test >= cells.nunique() else clips["genre"]
    if strata.value_counts().min() < 2:
        raise ConfigError("every genre needs at least two labelled clips for a stratified held-out split")
    train_ids, test_ids = train_test_split(
        clips.index.to_numpy(), test_size=test_size, random_state=seed, stratify=strata.to_numpy()
    )
    return pd.Index(train_ids, name="track_id"), pd.Index(test_ids, name="track_id")


def targets(clips: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Emotion 0/1 matrix (n, 6) and genre indices (n,)."""
    y = clips[list(GEMS6)].to_numpy(dtype=np.float32)
    g = clips["genre"].map({name: i for i, name in enumerate(GENRES)}).to_numpy(dtype=np.int64)
    return y, g


@dataclass
class TrainResult:
    model: AudioModel
    history: pd.DataFrame  # epoch, train_loss, heldout_loss


def train(
    x_train: pd.DataFrame,
    clips_train: pd.DataFrame,
    *,
    hidden,
    dropout: float,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    seed: int,
    feature_config: dict,
    x_heldout: pd.DataFrame | None = None,
    clips_heldout: pd.DataFrame | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Fit an :class:`AudioNet`; the held-out loss is recorded for the training curve only
    (it selects nothing)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small network: one thread is faster than contended many
    try:
        return _train(
            x_train,
            clips_train,
            hidden=hidden,
            dropout=dropout,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            seed=seed,
            feature_config=feature_config,
            x_heldout=x_heldout,
            clips_heldout=clips_heldout,
            progress=progress,
        )
    finally:
        torch.set_num_threads(threads)


def _train(
    x_train,
    clips_train,
    *,
    hidden,
    dropout,
    epochs,
    batch_size,
    learning_rate,
    weight_decay,
    seed,
    feature_config,
    x_heldout,
    clips_heldout,
    progress,
) -> TrainResult:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = x_train.to_numpy(dtype=np.float32)
    y, g = targets(clips_train)
    net = AudioNet(x.shape[1], hidden, dropout)
    net.fit_standardisation(x)
    pos = y.sum(axis=0)
    pos_weight = torch.as_tensor(
        np.clip((len(y) - pos) / np.maximum(pos, 1.0), 1.0, 20.0), dtype=torch.float32
    )
    bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    ce = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    xt, yt, gt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(g)
    held = None
    if x_heldout is not None and clips_heldout is not None and len(x_heldout):
        yh, gh = targets(clips_heldout)
        held = (
            torch.from_numpy(x_heldout[x_train.columns].to_numpy(dtype=np.float32)),
            torch.from_numpy(yh),
            torch.from_numpy(gh),
        )

    def loss_of(logits, yy, gg):
        return bce(logits[:, :N_EMOTIONS], yy) + ce(logits[:, N_EMOTIONS:], gg)

    rows = []
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad()
            loss = loss_of(net(xt[idx]), yt[idx], gt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        row = {"epoch": epoch, "train_loss": total / len(xt)}
        if held is not None:
            net.eval()
            with torch.no_grad():
                row["heldout_loss"] = float(loss_of(net(held[0]), held[1], held[2]))
        rows.append(row)
        if progress:
            progress(epoch, row["train_loss"])
    net.eval()
    model = AudioModel(
        net,
        list(x_train.columns),
        feature_config,
        hidden=hidden,
        dropout=dropout,
        meta={"epochs": epochs, "n_train": len(xt)},
    )
    return TrainResult(model, pd.DataFrame(rows, columns=["epoch", "train_loss", "heldout_loss"]))


@dataclass
class Evaluation:
    metrics: dict[str, float]  # macro_auc, macro_f1, genre_accuracy, auc.<label>, f1.<label>, ...
    per_label: pd.DataFrame  # label, positives, auc, f1
    confusion: pd.DataFrame  # true genre x predicted genre counts
    probabilities: pd.DataFrame


def evaluate(model: AudioModel, x: pd.DataFrame, clips: pd.DataFrame, threshold: float = 0.5) -> Evaluation:
    """Per-label ROC-AUC and F1 (emotions), their macro averages, genre accuracy and the
    genre confusion matrix on held-out clips. An emotion with one class only in the held-out
    set has no AUC (NaN) and is left out of the macro AUC."""
    proba = model.predict_proba(x)
    y, g = targets(clips.loc[x.index])
    rows, metrics = [], {}
    for j, label in enumerate(GEMS6):
        truth = y[:, j]
        score = proba[label].to_numpy()
        auc = float(roc_auc_score(truth, score)) if 0 < truth.sum() < len(truth) else float("nan")
        f1 = float(f1_score(truth, score >= threshold, zero_division=0))
        rows.append({"label": label, "positives": int(truth.sum()), "auc": auc, "f1": f1})
        metrics[f"auc.{label}"] = auc
        metrics[f"f1.{label}"] = f1
    per_label = pd.DataFrame(rows)
    metrics["macro_auc"] = (
        float(np.nanmean(per_label["auc"])) if per_label["auc"].notna().any() else float("nan")
    )
    metrics["macro_f1"] = float(per_label["f1"].mean())
    pred = proba[list(GENRES)].to_numpy().argmax(axis=1)
    metrics["genre_accuracy"] = float(np.mean(pred == g))
    genre_onehot = np.eye(len(GENRES))[g]
    present = genre_onehot.sum(axis=0) > 0
    if present.sum() > 1:
        metrics["genre_macro_auc"] = float(
            roc_auc_score(
                genre_onehot[:, present], proba[list(GENRES)].to_numpy()[:, present], average="macro"
            )
        )
    metrics["n_heldout"] = float(len(x))
    cm = confusion_matrix(g, pred, labels=list(range(len(GENRES))))
    confusion = pd.DataFrame(
        cm, index=pd.Index(GENRES, name="true"), columns=pd.Index(GENRES, name="predicted")
    )
    return Evaluation(metrics, per_label, confusion, proba)


def label_balance(clips: pd.DataFrame) -> pd.DataFrame:
    """Positives and share per emotion, and clips per genre, over labelled clips."""
    rows = []
    for e in GEMS6:
        col = clips[e].dropna()
        rows.append(
            {
                "label": e,
                "kind": "emotion",
                "positives": int(col.sum()),
                "labelled": len(col),
                "share": float(col.mean()) if len(col) else float("nan"),
            }
        )
    genres = clips["genre"].dropna()
    for name in GENRES:
        n = int((genres == name).sum())
        rows.append(
            {
                "label": name,
                "kind": "genre",
                "positives": n,
                "labelled": len(genres),
                "share": n / len(genres) if len(genres) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


# --- train -> evaluate -> log -> register -> gate -------------------------------------------


# the held-out metrics an audio model's asset shows (those its evaluation has)
SHOWN_METRICS = (
    "macro_auc",
    "macro_f1",
    "genre_accuracy",
    "zero_shot.genre_accuracy",
    "scenes.arousal_auc",
    "scenes.valence_auc",
    "catalogue.macro_auc",
    "catalogue.genre_accuracy",
)


def _report(
    gate: registry.GateReport,
    ev: Evaluation,
    train_ids: list[str],
    heldout_ids: list[str],
    floors: dict[str, float],
) -> registry.ModelReport:
    """The gate's report with the held-out evaluation: its stored output holds the metrics, the
    floors, the verdict and the split (no run id, which is in the metadata, so that the same
    build stores the same bytes for DVC); ``extra["evaluation"]`` is the :class:`Evaluation`."""
    d = gate.decision
    output = {
        "model": gate.name,
        "version": gate.version,
        "model_uri": f"models:/{gate.name}/{gate.version}",
        "metrics": {k: float(v) for k, v in ev.metrics.items()},
        "floors": dict(floors),
        "promoted": d.promoted,
        "reason": d.reason,
        "champion_score": d.champion_score,
        "train_ids": train_ids,
        "heldout_ids": heldout_ids,
    }
    metadata = {
        **{k: float(ev.metrics[k]) for k in SHOWN_METRICS if k in ev.metrics},
        "per_label": registry.Markdown(ev.per_label.head(20).to_markdown(index=False, floatfmt=".3f")),
        "genre_confusion": registry.Markdown(ev.confusion.to_markdown()),
    }
    return registry.ModelReport(gate, output, metadata, extra={"evaluation": ev})


def train_and_register(
    settings,
    clips: pd.DataFrame,
    features: pd.DataFrame,
    real_clips: pd.DataFrame | None = None,
    real_features: pd.DataFrame | None = None,
    *,
    log: Callable[[str], None] = lambda _msg: None,
) -> registry.ModelReport:
    """Build the audio model, evaluate it on held-out clips, log params, metrics, plots and
    tables to the active MLflow run, register it as ``moodtune-audio`` and gate it against the
    champion re-scored on the same held-out clips.

    With the real-music set (``real_clips`` with their ``real_features``, tagger columns
    included): the tag model (zero-shot mapping + a genre head trained on the set's training
    packages), gated on genre accuracy over the held-out packages (:func:`_tagged`). Without
    it: the network over hand-made features, trained and gated on the demo/Emotify clips.
    """
    if real_clips is not None and real_features is not None and len(real_clips) and len(real_features):
        return _tagged(settings, clips, features, real_clips, real_features, log)
    from moodtune.audio.features import feature_config, feature_key, feature_names
    from moodtune.audio.package import log_model
    from moodtune.audio.plots import confusion_figure, per_label_figure, training_curve_figure

    s, m = settings, settings.audio.model
    labelled_clips = labelled(clips, features)
    if len(labelled_clips) < 8:
        raise ConfigError(
            f"only {len(labelled_clips)} labelled clips with features; the audio model needs "
            "labelled data (the demo set, or Emotify)"
        )
    train_ids, test_ids = split(labelled_clips, m.test_size, s.project.seed)
    key = feature_key(s.audio.features, s.audio.decode)
    # the hand-made features (the table may hold tagger columns too)
    names = set(feature_names(s.audio.features))
    columns = [c for c in features.columns if c in names]
    x_train, x_test = features.loc[train_ids, columns], features.loc[test_ids, columns]
    held = labelled_clips.loc[test_ids]
    log(f"training on {len(train_ids)} clips, holding out {len(test_ids)} (stratified by genre)")
    registry.log_params(
        {
            "audio": s.audio.model_dump(mode="json", exclude={"emotify_dir", "music_dir"}),
            "project.seed": s.project.seed,
            "n_train": len(train_ids),
            "n_heldout": len(test_ids),
            "n_features": len(columns),
            "feature_key": key,
            "sources": ",".join(sorted(labelled_clips["source"].unique())),
        }
    )
    every = max(1, m.epochs // 10)
    result = train(
        x_train,
        labelled_clips.loc[train_ids],
        hidden=m.hidden,
        dropout=m.dropout,
        epochs=m.epochs,
        batch_size=m.batch_size,
        learning_rate=m.learning_rate,
        weight_decay=m.weight_decay,
        seed=s.project.seed,
        feature_config=feature_config(s.audio.features, s.audio.decode),
        x_heldout=x_test,
        clips_heldout=held,
        progress=lambda epoch, loss: (
            log(f"epoch {epoch}/{m.epochs}: train loss {loss:.4f}") if epoch % every == 0 else None
        ),
    )
    for row in result.history.itertuples():
        registry.log_metrics({"train_loss": row.train_loss, "heldout_loss": row.heldout_loss}, step=row.epoch)
    ev = evaluate(result.model, x_test, held, m.decision_threshold)
    registry.log_metrics(ev.metrics)
    registry.log_figure(confusion_figure(ev.confusion), "plots/genre_confusion.png")
    registry.log_figure(training_curve_figure(result.history), "plots/training_curve.png")
    registry.log_figure(per_label_figure(ev.per_label), "plots/per_label_scores.png")
    registry.log_dataframe(ev.per_label, "evaluation/per_label.csv")
    registry.log_dataframe(ev.confusion.reset_index(), "evaluation/genre_confusion.csv")
    registry.log_dataframe(label_balance(labelled_clips), "evaluation/label_balance.csv")
    registry.log_dataframe(ev.probabilities.reset_index(), "evaluation/heldout_predictions.csv")
    model_uri = log_model(result.model, x_train.head(20))
    scores = {"macro_auc": ev.metrics["macro_auc"], "genre_accuracy": ev.metrics["genre_accuracy"]}
    gate = registry.register_and_gate(
        registry.Candidate(
            name=registry.AUDIO,
            model_uri=model_uri,
            evaluation=registry.Evaluation(scores),
            metric="macro_auc",
            floors=dict(s.audio.gate_floors),
            margin=s.audio.gate_margin,
            rescore=lambda champion: registry.Evaluation(
                {
                    k: evaluate(champion, features.loc[test_ids], held, m.decision_threshold).metrics[k]
                    for k in scores
                }
            ),
            tags={"feature_key": key},
        ),
        s,
        log=log,
    )
    return _report(
        gate, ev, [str(t) for t in train_ids], [str(t) for t in test_ids], dict(s.audio.gate_floors)
    )


def genre_report(
    proba: pd.DataFrame, truth: pd.Series
) -> tuple[dict[str, float], pd.DataFrame, pd.DataFrame]:
    """Genre accuracy per track (overall and per true genre), the confusion matrix and a per-track
    table. A track's probabilities are the mean of its clips' (clip ids ``...:<k>``, see
    :func:`moodtune.audio.realset.track_of`); ``clips.genre_accuracy`` is the accuracy per clip."""
    from moodtune.audio.realset import track_of

    clip_correct = proba[list(GENRES)].idxmax(axis=1) == truth.loc[proba.index]
    tracks = track_of(proba.index)
    truth = truth.loc[proba.index].groupby(tracks, sort=False).first()
    proba = proba.groupby(tracks, sort=False).mean()
    pred = proba[list(GENRES)].idxmax(axis=1)
    correct = (pred == truth.loc[proba.index]).astype(float)
    metrics = {
        "genre_accuracy": float(correct.mean()),
        "clips.genre_accuracy": float(clip_correct.mean()),
        "n_tracks": float(len(proba)),
    }
    for g in GENRES:
        mask = truth.loc[proba.index] == g
        if mask.any():
            metrics[f"genre_accuracy.{g}"] = float(correct[mask].mean())
    confusion = pd.crosstab(
        pd.Categorical(truth.loc[proba.index], GENRES),
        pd.Categorical(pred, GENRES),
        rownames=["true"],
        colnames=["predicted"],
        dropna=False,
    )
    table = proba.assign(true=truth.loc[proba.index], predicted=pred, correct=correct)
    return metrics, confusion, table


def _catalogue_side(settings, clips: pd.DataFrame, features: pd.DataFrame, exclude: pd.Index):
    """The catalogue's labelled clips (demo or Emotify) that carry tagger columns, less any in
    ``exclude`` (the real set's), split as the network's are: (labelled clips, train ids,
    held-out ids); empty ids when they are too few."""
    from moodtune.audio.musicnn.vocab import TAGGER_COLUMNS

    empty = pd.Index([], name="track_id")
    if not set(TAGGER_COLUMNS) <= set(features.columns):
        return pd.DataFrame(), empty, empty
    cat = labelled(clips, features)
    cat = cat[~cat.index.isin(exclude)]
    try:
        train_ids, test_ids = split(cat, settings.audio.model.test_size, settings.project.seed)
    except (ConfigError, ValueError):  # too few clips for a stratified split
        return cat, empty, empty
    return cat, train_ids, test_ids


def _tagged(settings, clips, features, real_clips, real_features, log) -> registry.ModelReport:
    from moodtune.audio.musicnn.tagger import tagger_config as tagger_dict
    from moodtune.audio.package import log_model
    from moodtune.audio.plots import confusion_figure
    from moodtune.audio.realset import labels_table, track_of
    from moodtune.audio.scenes import SET as SCENE_SET
    from moodtune.audio.tagmodel import LinearHead, TaggedAudioModel, base_rates

    s, r = settings, settings.audio.real_set
    every = real_clips.set_index("track_id").loc[lambda d: d.index.isin(real_features.index)]
    in_scenes = every["set"] == SCENE_SET if "set" in every.columns else pd.Series(False, index=every.index)
    real, scene_rows = every[~in_scenes], every[in_scenes]
    train_ids, test_ids = real.index[real["side"] == "train"], real.index[real["side"] == "heldout"]
    if not len(train_ids) or not len(test_ids):
        raise ConfigError(
            "the real-music set needs packages on both sides of the split (moodtune/audio/realset.yaml)"
        )
    truth = real["genre"]
    base = base_rates(real_features.loc[train_ids])
    # the catalogue's labelled training clips teach both heads as well; its held-out clips
    # decide whether the emotion head replaces the mapping's emotions
    cat, cat_train, cat_test = _catalogue_side(s, clips, features, every.index)
    cat_truth = cat["genre"] if len(cat_test) else pd.Series(dtype=str)
    head = LinearHead.fit(
        pd.concat([real_features.loc[train_ids], features.loc[cat_train]]),
        pd.concat([truth.loc[train_ids], cat_truth.loc[cat_train]]),
        c=r.head_c,
        seed=s.project.seed,
    )
    marks = cat.loc[cat_train, list(GEMS6)] if len(cat_test) else pd.DataFrame()
    emotion_head = (
        LinearHead.fit_labels(features.loc[cat_train], marks, c=r.head_c, seed=s.project.seed)
        if len(marks) and (marks.nunique() == 2).all()
        else None
    )
    meta: dict[str, Any] = {
        "train_packages": sorted(real.loc[train_ids, "package"].unique()),
        "heldout_packages": sorted(real.loc[test_ids, "package"].unique()),
        "n_train": len(train_ids),
        "n_catalogue_train": len(cat_train),
    }
    tagger_config = tagger_dict(s.audio.tagger, s.audio.decode)
    with_head = TaggedAudioModel(base, head, meta, tagger_config, head_weight=r.head_weight)
    mapping = TaggedAudioModel(base, None, meta, tagger_config)
    held = real_features.loc[test_ids]
    head_metrics, head_confusion, head_table = genre_report(with_head.predict_proba(held), truth)
    zs_metrics, zs_confusion, zs_table = genre_report(mapping.predict_proba(held), truth)

    def on_catalogue(candidate) -> Evaluation:  # on the catalogue's held-out clips
        return evaluate(
            candidate, features.loc[cat_test], cat.loc[cat_test], s.audio.model.decision_threshold
        )

    cat_metrics = {}
    if len(cat_test):
        zs_cat = on_catalogue(mapping).metrics
        cat_metrics = {
            "catalogue.zero_shot.genre_accuracy": zs_cat["genre_accuracy"],
            "catalogue.head.genre_accuracy": on_catalogue(with_head).metrics["genre_accuracy"],
            "catalogue.zero_shot.macro_auc": zs_cat["macro_auc"],
        }  # this order: the stored output's bytes
        if emotion_head is not None:
            cat_metrics["catalogue.head.macro_auc"] = on_catalogue(
                TaggedAudioModel(base, None, meta, tagger_config, emotion_head=emotion_head)
            ).metrics["macro_auc"]
    # the genre head serves when it loses nothing on the real held-out packages and beats the
    # mapping by the margin there or on the catalogue's held-out clips; the emotion head when it
    # beats the mapping's macro AUC on the catalogue's held-out clips by the margin. (Choosing on
    # held-out data makes the served figures slightly optimistic; every candidate's is logged.)
    margin = s.audio.gate_margin
    use_head = head_metrics["genre_accuracy"] >= zs_metrics["genre_accuracy"] and (
        head_metrics["genre_accuracy"] >= zs_metrics["genre_accuracy"] + margin
        or cat_metrics.get("catalogue.head.genre_accuracy", 0.0)
        >= cat_metrics.get("catalogue.zero_shot.genre_accuracy", 1.0) + margin
    )
    use_emotions = emotion_head is not None and (
        cat_metrics["catalogue.head.macro_auc"] >= cat_metrics["catalogue.zero_shot.macro_auc"] + margin
    )
    model = TaggedAudioModel(
        base,
        head if use_head else None,
        meta,
        tagger_config,
        head_weight=r.head_weight,
        emotion_head=emotion_head if use_emotions else None,
    )
    metrics, confusion, table = (
        (dict(head_metrics), head_confusion, head_table)
        if use_head
        else (dict(zs_metrics), zs_confusion, zs_table)
    )
    model.meta["genre"] = "head + mapping" if use_head else "zero-shot mapping (the head did not beat it)"
    model.meta["emotions"] = (
        "emotion head (catalogue labels)"
        if use_emotions
        else "zero-shot mapping" + ("" if emotion_head is None else " (the head did not beat it)")
    )
    scene = _scene_emotions(s, model, scene_rows, real_features, log) if len(scene_rows) else None
    if scene is not None:
        model = scene.model
    metrics["zero_shot.genre_accuracy"] = zs_metrics["genre_accuracy"]
    metrics["head.genre_accuracy"] = head_metrics["genre_accuracy"]
    metrics["zero_shot.clips.genre_accuracy"] = zs_metrics["clips.genre_accuracy"]
    metrics["head.clips.genre_accuracy"] = head_metrics["clips.genre_accuracy"]
    metrics.update({f"head.{k}": v for k, v in head_metrics.items() if k.startswith("genre_accuracy.")})
    metrics["train.genre_accuracy"] = genre_report(model.predict_proba(real_features.loc[train_ids]), truth)[
        0
    ]["genre_accuracy"]
    metrics.update(cat_metrics)
    if scene is not None:
        metrics.update(scene.metrics)
    per_label = pd.DataFrame(columns=["label", "positives", "auc", "f1"])
    if len(cat_test):  # the served model on the catalogue's held-out clips
        cat_ev = on_catalogue(model)
        per_label = cat_ev.per_label
        metrics.update(
            {f"catalogue.{k}": v for k, v in cat_ev.metrics.items() if k in ("macro_auc", "genre_accuracy")}
        )
        metrics["macro_auc"] = cat_ev.metrics["macro_auc"]
    if scene is not None:
        log(f"scene set: {scene.summary}")
    log(
        f"real set: {len(train_ids)} training clips ({', '.join(meta['train_packages'])}), {len(test_ids)} held out "
        f"({', '.join(meta['heldout_packages'])}); genre accuracy {metrics['genre_accuracy']:.3f} "
        f"(zero-shot mapping {zs_metrics['genre_accuracy']:.3f}, head {head_metrics['genre_accuracy']:.3f}; "
        f"serving: {model.meta['genre']}); emotions: {model.meta['emotions']}, catalogue held-out macro AUC "
        f"{metrics.get('catalogue.macro_auc', float('nan')):.3f}"
    )
    registry.log_params(
        {
            "audio.kind": "musicnn-tags",
            "audio.real_set": r.model_dump(mode="json"),
            "audio.tagger": tagger_config,
            "project.seed": s.project.seed,
            "n_train": len(train_ids),
            "n_heldout": len(test_ids),
            **{f"packages.{k}": ",".join(v) for k, v in meta.items() if isinstance(v, list)},
        }
    )
    registry.log_metrics(metrics)
    registry.log_figure(confusion_figure(confusion), "plots/genre_confusion.png")
    registry.log_figure(confusion_figure(zs_confusion), "plots/zero_shot_genre_confusion.png")
    registry.log_figure(confusion_figure(head_confusion), "plots/head_genre_confusion.png")
    registry.log_dataframe(confusion.reset_index(), "evaluation/genre_confusion.csv")
    registry.log_dataframe(zs_confusion.reset_index(), "evaluation/zero_shot_genre_confusion.csv")
    about = real[[c for c in ("package", "title") if c in real.columns]]
    registry.log_dataframe(
        table.join(about.groupby(track_of(about.index)).first()).reset_index(names="track"),
        "evaluation/heldout_tracks.csv",
    )
    registry.log_dataframe(labels_table(), "evaluation/real_set_labels.csv")
    if scene is not None:
        registry.log_dataframe(scene.tracks.reset_index(names="track"), "evaluation/scene_heldout_tracks.csv")
        registry.log_dataframe(scene.candidates, "evaluation/scene_candidates.csv")
    model_uri = log_model(model, held.head(20))
    per_item = table["correct"].to_list()
    scores = {
        k: v
        for k, v in metrics.items()
        if k in ("genre_accuracy", "zero_shot.genre_accuracy", "head.genre_accuracy", *SCENE_SCORES)
    }
    floors = dict(r.gate_floors)
    if scene is not None:  # emotion on real music: gated only where the scene set was assembled
        floors.update({f"scenes.{k}": v for k, v in r.scenes.gate_floors.items()})

    def rescore(champion) -> registry.Evaluation:
        m, _c, t = genre_report(champion.predict_proba(held), truth)
        return registry.Evaluation({"genre_accuracy": m["genre_accuracy"]}, t["correct"].to_list())

    gate = registry.register_and_gate(
        registry.Candidate(
            name=registry.AUDIO,
            model_uri=model_uri,
            evaluation=registry.Evaluation(scores, per_item),
            metric="genre_accuracy",
            floors=floors,
            margin=s.audio.gate_margin,
            rescore=rescore,
            tags={
                "kind": "musicnn-tags",
                "heldout": "real packages",
                "genre": model.meta["genre"],
                "emotions": model.meta["emotions"],
            },
        ),
        s,
        log=log,
    )
    if len(per_label):
        registry.log_dataframe(per_label, "evaluation/catalogue_per_label.csv")
    ev = Evaluation(metrics, per_label, confusion, table[list(OUTPUT_COLUMNS)])
    return _report(gate, ev, [str(t) for t in train_ids], [str(t) for t in test_ids], floors)


# --- emotion on real music: the scene set (moodtune.audio.scenes) ------------------------------

SCENE_SCORES = ("scenes.arousal_auc", "scenes.valence_auc")


@dataclass
class SceneResult:
    model: TaggedAudioModel  # the one that serves (its emotions chosen here)
    metrics: dict[str, float]  # scenes.* (served), scenes.<candidate>.*, per-class means, train side
    tracks: pd.DataFrame  # held-out tracks: valence, arousal, scene (served candidate)
    candidates: pd.DataFrame  # candidate, side, arousal_auc, valence_auc
    summary: str


def _scene_emotions(
    settings, model, scene_rows: pd.DataFrame, real_features: pd.DataFrame, log: Callable[[str], None]
) -> SceneResult | None:
    """Emotions checked (and, where the mapping loses, trained) on real music labelled by the scene
    its title names. Candidates, each read through the product's valence-arousal point:

    * ``base``: the emotions chosen so far (the zero-shot mapping, or the catalogue's head);
    * ``head``: logistic heads trained on the training packages' scene labels (the GEMS-6 labels
      each class stands for, ``scenes.yaml``), replacing those labels' values;
    * ``blend``: the head and the mapping, ``audio.real_set.head_weight`` each (as genre).

    The one with the best mean of the two held-out AUCs serves (the base unless another beats it
    by ``audio.gate_margin``); every candidate's figures are logged. None when one side of the
    split lacks a class."""
    from moodtune.audio import scenes
    from moodtune.audio.tagmodel import LinearHead, TaggedAudioModel

    s, r = settings, settings.audio.real_set
    scene_rule = scenes.rule()
    train = scene_rows.index[scene_rows["side"] == "train"]
    held = scene_rows.index[scene_rows["side"] == "heldout"]
    need = set(scenes.CLASSES)
    if set(scene_rows.loc[train, "scene"]) != need or set(scene_rows.loc[held, "scene"]) != need:
        log(f"scene set: a side lacks one of {sorted(need)}: emotion on real music not measured")
        return None
    head = LinearHead.fit_labels(
        real_features.loc[train],
        scenes.marks(scene_rows.loc[train, "scene"], scene_rule),
        c=r.scenes.head_c,
        seed=s.project.seed,
    )

    def variant(emotion_head, weight=1.0):
        return TaggedAudioModel(
            model.base,
            model.head,
            dict(model.meta),
            model.tagger_config,
            head_weight=model.head_weight,
            emotion_head=emotion_head,
            emotion_weight=weight,
        )

    candidates = {"base": model, "head": variant(head), "blend": variant(head, r.head_weight)}
    rows, held_tables, metrics = [], {}, {}
    for name, candidate in candidates.items():
        for side, ids in (("heldout", held), ("train", train)):
            m, table = scenes.scene_metrics(
                candidate.predict_proba(real_features.loc[ids]), scene_rows.loc[ids, "scene"]
            )
            rows.append({"candidate": name, "side": side, **m})
            if side == "heldout":
                held_tables[name] = table
                metrics.update(
                    {
                        f"scenes.{name}.{k}": v
                        for k, v in m.items()
                        if k.endswith("_auc") or k.startswith(("valence.", "arousal."))
                    }
                )
    table = pd.DataFrame(rows)
    held_rows = table[table["side"] == "heldout"].set_index("candidate")
    mean_auc = held_rows[["arousal_auc", "valence_auc"]].mean(axis=1)
    best = str(mean_auc.idxmax())
    chosen = best if mean_auc[best] >= mean_auc["base"] + s.audio.gate_margin else "base"
    served = candidates[chosen]
    served.meta["emotions"] = {
        "base": model.meta["emotions"],
        "head": "scene head (title-labelled real music)",
        "blend": f"scene head x {r.head_weight:g} + zero-shot mapping",
    }[chosen]
    served.meta["scene_train_packages"] = sorted(scene_rows.loc[train, "package"].unique())
    served.meta["scene_heldout_packages"] = sorted(scene_rows.loc[held, "package"].unique())
    mine = held_rows.loc[chosen]
    metrics.update({f"scenes.{k}": float(v) for k, v in mine.items() if k != "side"})
    metrics.update(
        {
            f"scenes.{k}": v
            for k, v in scenes.auc_intervals(
                held_tables[chosen],
                samples=s.registry.bootstrap_samples,
                confidence=s.registry.confidence,
                seed=s.project.seed,
            ).items()
        }
    )
    train_row = table[(table["side"] == "train") & (table["candidate"] == chosen)].iloc[0]
    metrics.update({f"scenes.train.{k}": float(train_row[k]) for k in ("arousal_auc", "valence_auc")})
    summary = (
        f"{len(train)} training clips ({', '.join(served.meta['scene_train_packages'])}), {len(held)} held out "
        f"({', '.join(served.meta['scene_heldout_packages'])}); held-out arousal AUC / valence AUC: "
        + "; ".join(
            f"{n} {held_rows.loc[n, 'arousal_auc']:.3f} / {held_rows.loc[n, 'valence_auc']:.3f}"
            for n in candidates
        )
        + f"; serving: {served.meta['emotions']}"
    )
    return SceneResult(served, metrics, held_tables[chosen], table, summary)
