"""Training and held-out evaluation of the audio model.

The held-out split is stratified by genre (and by genre x primary emotion when every such
cell has at least two tracks), drawn with the project seed; it never follows row order.
Loss: binary cross-entropy on the six emotion logits (weighted by each label's imbalance)
plus cross-entropy on the four genre logits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from torch import nn

from moodtune.audio.model import N_EMOTIONS, AudioModel, AudioNet
from moodtune.emotions import GEMS6, GENRES
from moodtune.errors import ConfigError


def labelled(clips: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The clips usable for training: features present, a known genre and all six labels."""
    clips = clips.set_index("track_id")
    ok = clips.index.isin(features.index) & clips["genre"].isin(GENRES) & clips[list(GEMS6)].notna().all(axis=1)
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
    train_ids, test_ids = train_test_split(clips.index.to_numpy(), test_size=test_size, random_state=seed,
                                           stratify=strata.to_numpy())
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
        return _train(x_train, clips_train, hidden=hidden, dropout=dropout, epochs=epochs,
                      batch_size=batch_size, learning_rate=learning_rate, weight_decay=weight_decay,
                      seed=seed, feature_config=feature_config, x_heldout=x_heldout,
                      clips_heldout=clips_heldout, progress=progress)
    finally:
        torch.set_num_threads(threads)


def _train(x_train, clips_train, *, hidden, dropout, epochs, batch_size, learning_rate, weight_decay,
           seed, feature_config, x_heldout, clips_heldout, progress) -> TrainResult:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = x_train.to_numpy(dtype=np.float32)
    y, g = targets(clips_train)
    net = AudioNet(x.shape[1], hidden, dropout)
    net.fit_standardisation(x)
    pos = y.sum(axis=0)
    pos_weight = torch.as_tensor(np.clip((len(y) - pos) / np.maximum(pos, 1.0), 1.0, 20.0), dtype=torch.float32)
    bce = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    ce = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    xt, yt, gt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(g)
    held = None
    if x_heldout is not None and clips_heldout is not None and len(x_heldout):
        yh, gh = targets(clips_heldout)
        held = (torch.from_numpy(x_heldout[x_train.columns].to_numpy(dtype=np.float32)),
                torch.from_numpy(yh), torch.from_numpy(gh))

    def loss_of(logits, yy, gg):
        return bce(logits[:, :N_EMOTIONS], yy) + ce(logits[:, N_EMOTIONS:], gg)

    rows = []
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
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
    model = AudioModel(net, list(x_train.columns), feature_config, hidden=hidden, dropout=dropout,
                       meta={"epochs": epochs, "n_train": len(xt)})
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
    metrics["macro_auc"] = float(np.nanmean(per_label["auc"])) if per_label["auc"].notna().any() else float("nan")
    metrics["macro_f1"] = float(per_label["f1"].mean())
    pred = proba[list(GENRES)].to_numpy().argmax(axis=1)
    metrics["genre_accuracy"] = float(np.mean(pred == g))
    genre_onehot = np.eye(len(GENRES))[g]
    present = genre_onehot.sum(axis=0) > 0
    if present.sum() > 1:
        metrics["genre_macro_auc"] = float(roc_auc_score(genre_onehot[:, present],
                                                         proba[list(GENRES)].to_numpy()[:, present],
                                                         average="macro"))
    metrics["n_heldout"] = float(len(x))
    cm = confusion_matrix(g, pred, labels=list(range(len(GENRES))))
    confusion = pd.DataFrame(cm, index=pd.Index(GENRES, name="true"), columns=pd.Index(GENRES, name="predicted"))
    return Evaluation(metrics, per_label, confusion, proba)


def label_balance(clips: pd.DataFrame) -> pd.DataFrame:
    """Positives and share per emotion, and clips per genre, over labelled clips."""
    rows = []
    for e in GEMS6:
        col = clips[e].dropna()
        rows.append({"label": e, "kind": "emotion", "positives": int(col.sum()), "labelled": len(col),
                     "share": float(col.mean()) if len(col) else float("nan")})
    genres = clips["genre"].dropna()
    for name in GENRES:
        n = int((genres == name).sum())
        rows.append({"label": name, "kind": "genre", "positives": n, "labelled": len(genres),
                     "share": n / len(genres) if len(genres) else float("nan")})
    return pd.DataFrame(rows)
