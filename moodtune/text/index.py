"""Nearest-neighbour recommendation over track emotion vectors (and valence-arousal points).

The search space (``text.index_space``) is the emotion vector, the valence-arousal point, or
both side by side (the VA part scaled by ``text.va_weight``). Equal distances are ordered by
catalog row, so every caller lists the same tracks in the same order.

Track vectors are normalised (L2 by default, or L1) and searched with Euclidean distance in a
k-d tree, which answers a query in ~log n, unlike a brute-force cosine scan. The default is
SciPy's ``cKDTree``: a service query is one point, and scikit-learn's trees (``kd_tree``,
``ball_tree``, the trees behind ``NearestNeighbors``, also available) spend about 90 % of a
one-point query validating the input (~60 µs of ~65 µs on the demo index; cKDTree ~15 µs). The index is built at the granularity its lexicon gives (fine 21 / coarse 7); a
fine query vector (e.g. from a photo) is summed into groups for a coarse index.

Near-identical tracks (the same normalised name and artists: case, width, spaces,
punctuation and bracketed or version suffixes such as （现场）, (Live), Remix, DJ版 ignored)
are returned once, the nearest of them.
"""

from __future__ import annotations

import copy
import logging
import pickle
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.neighbors import BallTree, KDTree

from moodtune import emotions
from moodtune.emotions import EmotionVector
from moodtune.errors import InvalidInput, InvalidText
from moodtune.registry.names import TEXT
from moodtune.text.analysis import AnalyzerOptions, TextAnalyzer, TextEmotion, analyzer_for
from moodtune.text.config import TextSettings
from moodtune.text.lexicon import Lexicon
from moodtune.text.resources import load_resources
from moodtune.text.tables import TextTables

log = logging.getLogger(__name__)

MODEL_NAME = TEXT
# what the index searches by (text.index_space): the emotion vector, the valence-arousal point, or both
SPACES = ("emotion", "va", "both")
# text.index_algorithm -> how to build that tree over (points, leaf size), Euclidean
TREES = {
    "ckd_tree": lambda points, leaf_size: cKDTree(points, leafsize=leaf_size),
    "kd_tree": lambda points, leaf_size: KDTree(points, leaf_size=leaf_size, metric="euclidean"),
    "ball_tree": lambda points, leaf_size: BallTree(points, leaf_size=leaf_size, metric="euclidean"),
}
_BRACKETS = re.compile(r"[(\[（【「『<《].*?[)\]）】」』>》]")
_VERSION = re.compile(
    r"(remix|live|version|ver|伴奏|现场版?|dj版?|抖音版?|翻唱|cover|remastered)", re.IGNORECASE
)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_title(name: str) -> str:
    """A title reduced for near-duplicate detection: NFKC, case-folded, bracketed parts and
    version markers removed, punctuation and spaces removed."""
    text = unicodedata.normalize("NFKC", str(name or "")).casefold()
    text = _BRACKETS.sub(" ", text)
    text = re.split(r"\s[-–—]\s", text)[0]  # "Song - Live at …"
    text = _VERSION.sub(" ", text)
    return _NON_WORD.sub("", text)


def dedupe_key(name: str, artists: str) -> str:
    people = sorted(
        _NON_WORD.sub("", unicodedata.normalize("NFKC", a).casefold())
        for a in re.split(r"[/,、&;]|\bfeat\.?", str(artists or ""))
        if a.strip()
    )
    return normalise_title(name) + "|" + "/".join(people)


def query_tree(tree, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(distances, rows)`` of the ``k`` nearest points to each of ``points``, nearest first,
    each of shape ``(len(points), k)``, whichever of :data:`TREES` built it."""
    if isinstance(tree, cKDTree):
        dist, idx = tree.query(points, k=k)
        return dist.reshape(len(points), k), idx.reshape(len(points), k)  # k=1 comes back squeezed
    return tree.query(points, k=k, return_distance=True, sort_results=True)


@dataclass(frozen=True)
class Hit:
    track_id: str
    name: str
    artists: str
    distance: float

    def as_dict(self) -> dict[str, object]:
        return {
            "track_id": self.track_id,
            "name": self.name,
            "artists": self.artists,
            "distance": self.distance,
        }


@dataclass(frozen=True)
class TextRecommendation:
    """What :meth:`EmotionIndex.recommend_text` found: the text's emotion (raw, with the
    keywords that produced it), the normalised query vector, and the tracks."""

    emotion: TextEmotion
    vector: EmotionVector
    hits: list[Hit]

    @property
    def keywords(self) -> list[str]:
        return [k.word for k in self.emotion.keywords]

    def as_dict(self) -> dict[str, object]:
        va = self.emotion.va
        return {
            "emotion": self.vector.as_dict(),
            "top": self.vector.top(3),
            "keywords": self.keywords,
            "negated": list(self.emotion.negated),
            "hits": [h.as_dict() for h in self.hits],
            "valence_arousal": {"valence": va[0], "arousal": va[1]} if va is not None else None,
        }


class EmotionIndex:
    """Tracks and their emotion vectors in a nearest-neighbour tree, plus the lexicon and
    analyzer options needed to read a listener's text the way the tracks were read."""

    def __init__(
        self,
        tracks: pd.DataFrame,
        vectors: np.ndarray,
        lexicon: Lexicon,
        options: AnalyzerOptions | None = None,
        *,
        norm: str = "l2",
        algorithm: str = "ckd_tree",
        leaf_size: int = 40,
        overfetch: int = 3,
        max_query_chars: int = 2000,
        va: np.ndarray | None = None,
        space: str = "emotion",
        va_weight: float = 0.5,
    ):
        vectors = np.asarray(vectors, dtype=float)
        if len(tracks) != len(vectors):
            raise ValueError(f"{len(tracks)} tracks but {len(vectors)} vectors")
        if len(tracks) == 0:
            raise InvalidText(
                "no track has an emotion: cannot build an index; check the track texts and the lexicon"
            )
        if vectors.shape[1] != len(lexicon.codes):
            raise ValueError(
                f"vectors have {vectors.shape[1]} columns, the {lexicon.granularity} lexicon "
                f"{len(lexicon.codes)}"
            )
        if norm not in ("l1", "l2"):
            raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
        self.lexicon = lexicon
        self.granularity = lexicon.granularity
        self.options = options or AnalyzerOptions()
        # the rule lexicons travel with the index: where it is loaded needs no cntext
        self.resources = load_resources(tuple(self.options.polarity_lexicons)) if self.options.rules else None
        self.norm = norm
        self.overfetch = overfetch
        self.max_query_chars = max_query_chars
        if space not in SPACES:
            raise ValueError(f"space must be one of {', '.join(SPACES)}, got {space!r}")
        if algorithm not in TREES:
            raise ValueError(f"algorithm must be one of {sorted(TREES)}, got {algorithm!r}")
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.va_weight = float(va_weight)
        self._place(tracks, vectors, va, space)

    def _place(self, tracks: pd.DataFrame, vectors: np.ndarray, va: np.ndarray | None, space: str) -> None:
        """Index ``tracks`` at their (raw) emotion vectors and VA points."""
        self.tracks = tracks[["track_id", "name", "artists", "popularity"]].reset_index(drop=True).copy()
        self.tracks["track_id"] = self.tracks["track_id"].astype(str)
        self.emotion_points = self._normalise(vectors)
        va = None if va is None else np.asarray(va, dtype=float).reshape(len(vectors), 2)
        if va is not None and not np.all(np.isfinite(va)):
            va = np.where(np.isfinite(va), va, self._design_va(self.emotion_points))
        # without rated words (rules off) a track has no VA point: search by emotion only
        self.space = space if va is not None else "emotion"
        self.va = va
        self.points = self._space_points(self.emotion_points, va)
        self.tree = TREES[self.algorithm](self.points, getattr(self, "leaf_size", 40))
        keys = [dedupe_key(n, a) for n, a in zip(self.tracks["name"], self.tracks["artists"], strict=True)]
        self.group_ids = pd.factorize(pd.Series(keys))[0]
        self._ids = self.tracks["track_id"].to_numpy()
        self._names = self.tracks["name"].astype(str).to_numpy()
        self._artists = self.tracks["artists"].astype(str).to_numpy()

    def over(
        self,
        tracks: pd.DataFrame,
        vectors: np.ndarray,
        va: np.ndarray | None = None,
        space: str | None = None,
    ) -> EmotionIndex:
        """This index's reading of text (lexicon, rules, search space) over other tracks
        (``track_id``, ``name``, ``artists``, ``popularity``) with their emotion vectors at this
        index's granularity: the catalog's real tracks, most without texts of their own."""
        vectors = np.asarray(vectors, dtype=float)
        if vectors.shape != (len(tracks), len(self.codes)):
            raise ValueError(f"expected {len(tracks)} x {len(self.codes)} vectors, got {vectors.shape}")
        out = copy.copy(self)
        out._place(tracks, vectors, va, space or self.space)
        return out

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_table(
        cls,
        table: pd.DataFrame,
        lexicon: Lexicon,
        text: TextSettings | None = None,
        *,
        tables: TextTables | None = None,
        **kwargs,
    ) -> EmotionIndex:
        """Build from a ``track_text_emotions`` table (tracks without emotion are left out); with
        the ``text`` section, the index and the text it reads follow it (the learned text ``tables``
        beside)."""
        found = table[table["found"]]
        codes = list(lexicon.codes)
        missing = [c for c in codes if c not in found.columns]
        if missing:
            raise ValueError(
                f"track emotions lack columns {missing}: built with another lexicon granularity?"
            )
        if text is not None:
            kwargs = {
                "norm": text.index_norm,
                "algorithm": text.index_algorithm,
                "leaf_size": text.leaf_size,
                "overfetch": text.dedupe_overfetch,
                "max_query_chars": text.max_query_chars,
                "space": text.index_space,
                "va_weight": text.va_weight,
                **kwargs,
            }
            kwargs.setdefault("options", AnalyzerOptions.from_settings(text, tables))
        if "valence" in found.columns and "va" not in kwargs:
            kwargs["va"] = found[["valence", "arousal"]].to_numpy(dtype=float)
        return cls(found, found[codes].to_numpy(dtype=float), lexicon, **kwargs)

    def __setstate__(self, state: dict) -> None:
        # indexes pickled before the valence-arousal space searched by emotion only
        state.setdefault("space", "emotion")
        state.setdefault("resources", None)
        state.setdefault("va", None)
        state.setdefault("va_weight", 0.0)
        state.setdefault("emotion_points", state.get("points"))
        options = state.get("options")
        if options is not None and "tables" not in vars(options) and options.needs_tables:
            # pickled while the learned layer and the ambiguous words were Python modules: they
            # are gone, so this index reads without them until a rebuilt one is promoted
            log.warning(
                "text index pickled before the learned text tables were an input: reading without the "
                "learned layer and the ambiguous words; rebuild the text group (make build) to restore them"
            )
            state["options"] = replace(options, drop_ambiguous=False, learned_lexicon=False, tables=None)
        self.__dict__.update(state)

    def _design_va(self, points: np.ndarray) -> np.ndarray:
        """The VA point of emotion vectors from the categories' design points (for a query
        that carries no rated words, e.g. a photo)."""
        w = np.atleast_2d(points)
        w = w / w.sum(axis=1, keepdims=True)
        return w @ emotions.va_points(self.granularity)

    def _space_points(self, emotion_points: np.ndarray, va: np.ndarray | None) -> np.ndarray:
        """Index-space points: the normalised emotion vector, the VA point (-1..1 each), or
        both side by side with the VA part scaled by ``va_weight``."""
        if self.space == "emotion":
            return emotion_points
        assert va is not None
        if self.space == "va":
            return np.atleast_2d(va)
        return np.hstack([emotion_points, self.va_weight * np.atleast_2d(va)])

    def _normalise(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.atleast_2d(np.asarray(vectors, dtype=float))
        order = 1 if self.norm == "l1" else 2
        norms = np.linalg.norm(vectors, ord=order, axis=1, keepdims=True)
        if np.any(norms <= 0) or not np.all(np.isfinite(vectors)):
            raise InvalidText("an empty emotion vector cannot be searched: no emotion was found")
        return vectors / norms

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def codes(self) -> tuple[str, ...]:
        return self.lexicon.codes

    @property
    def analyzer(self) -> TextAnalyzer:
        return analyzer_for(self.lexicon, self.options, self.resources)

    # -- search -----------------------------------------------------------------------------
    def _check_k(self, k: int) -> int:
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise InvalidInput(f"k must be a positive whole number, got {k!r}")
        return int(min(k, len(self)))

    def search(self, points: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Nearest distinct tracks for each (normalised) point: ``[[(row, distance), …], …]``."""
        k = self._check_k(k)
        n = len(self)
        fetch = min(n, k * self.overfetch)
        results: list[list[tuple[int, float]] | None] = [None] * len(points)
        todo = np.arange(len(points))
        while len(todo):
            dist, idx = query_tree(self.tree, points[todo], fetch)
            groups = self.group_ids
            again = []
            for row, q in enumerate(todo):
                seen: set[int] = set()
                hits: list[tuple[int, float]] = []
                rows = idx[row].tolist()  # Python ints and floats: cheaper to loop over than NumPy scalars
                ds = dist[row].tolist()
                if len(set(ds)) < len(ds):  # equal distances: the catalog's order decides, every time
                    order = sorted(range(len(rows)), key=lambda j: (ds[j], rows[j]))
                    rows, ds = [rows[j] for j in order], [ds[j] for j in order]
                for i, d, g in zip(rows, ds, groups[rows].tolist(), strict=True):
                    if g in seen:
                        continue
                    seen.add(g)
                    hits.append((i, d))
                    if len(hits) == k:
                        break
                if len(hits) < k and fetch < n:
                    again.append(q)
                else:
                    results[q] = hits
            todo = np.array(again, dtype=int)
            fetch = min(n, fetch * 4)
        return results  # type: ignore[return-value]

    def search_popular(self, k: int) -> list[int]:
        """Rows of the ``k`` most popular distinct tracks (the popularity baseline)."""
        order = np.argsort(-self.tracks["popularity"].to_numpy(dtype=float), kind="stable")
        seen: set[int] = set()
        out: list[int] = []
        for i in order:
            if self.group_ids[i] not in seen:
                seen.add(self.group_ids[i])
                out.append(int(i))
                if len(out) == k:
                    break
        return out

    def _hits(self, found: list[tuple[int, float]]) -> list[Hit]:
        return [Hit(str(self._ids[i]), str(self._names[i]), str(self._artists[i]), d) for i, d in found]

    def prepare(self, vec: EmotionVector, va: tuple[float, float] | None = None) -> np.ndarray:
        """The index-space point of an emotion vector (fine -> coarse for a coarse index) and,
        for a VA or combined index, its valence-arousal point (``va``, else the categories'
        design points)."""
        if not isinstance(vec, EmotionVector):
            raise InvalidInput(f"expected an EmotionVector, got {type(vec).__name__}")
        if vec.granularity != self.granularity:
            if self.granularity == "coarse":
                vec = vec.to_coarse()
            else:
                raise InvalidInput(
                    "this index is fine (21 DLUT categories): a coarse 7-group vector "
                    "cannot be spread back over categories; query with a fine vector"
                )
        if vec.is_empty():
            raise InvalidText("the emotion vector is empty: no emotion was found, so nothing can match it")
        point = self._normalise(vec.values)
        if self.space == "emotion":
            return point
        point_va = np.atleast_2d(va) if va is not None else self._design_va(point)
        return self._space_points(point, point_va)

    def query_vector(
        self, vec: EmotionVector, k: int = 10, va: tuple[float, float] | None = None
    ) -> list[Hit]:
        """The ``k`` nearest distinct tracks to an emotion vector (any strength; fine vectors
        are converted for a coarse index), with its VA point when it has one."""
        return self._hits(self.search(self.prepare(vec, va), k)[0])

    def emotion(self, text: str) -> TextEmotion:
        if isinstance(text, str) and len(text) > self.max_query_chars:
            raise InvalidText(f"the text has {len(text)} characters; keep it under {self.max_query_chars}")
        return self.analyzer.analyse(text)

    def recommend_text(self, text: str, k: int = 10) -> TextRecommendation:
        """Tracks for a listener's Chinese text, with the emotion and the keywords behind it.

        :class:`InvalidText` when the text is empty, too long, or has no emotion words (the
        message says which, and what to write instead)."""
        emotion, vector = self.read_text(text)
        return TextRecommendation(emotion, vector, self.query_vector(vector, k, emotion.va))

    def read_text(self, text: str) -> tuple[TextEmotion, EmotionVector]:
        """The text's emotion (with its keywords) and its normalised vector, without searching
        tracks; :class:`InvalidText` as :meth:`recommend_text`."""
        emotion = self.emotion(text)
        if not emotion.found:
            raise InvalidText(emotion.message)
        return emotion, emotion.normalised()

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @staticmethod
    def load(path: str | Path) -> EmotionIndex:
        # Our own artifact from our own registry; never a path a client names.
        with Path(path).open("rb") as fh:
            obj = pickle.load(fh)
        if not isinstance(obj, EmotionIndex):
            raise ValueError(f"{path} does not hold an EmotionIndex")
        return obj


# --- the held-out check ------------------------------------------------------------------
def dominant_codes(vectors: np.ndarray, codes: Sequence[str]) -> np.ndarray:
    return np.asarray(codes, dtype=object)[np.argmax(vectors, axis=1)]


def query_label_of(emotion: str, granularity: str) -> str:
    """For data without ground truth: the dominant category (or group) a GEMS-6 query means."""
    vec = emotions.to_dlut("gems6", {emotion: 1.0})
    if granularity == "coarse":
        vec = vec.to_coarse()
    return vec.top(1)[0][0]


def precision_at_k(
    index: EmotionIndex,
    queries: pd.DataFrame,
    track_labels: Mapping[str, str],
    k: int,
    *,
    query_labels: Sequence[str] | None = None,
) -> dict[str, object]:
    """Mean precision@k of query texts: the share of each query's ``k`` results whose label
    equals the query's (``queries.emotion`` unless ``query_labels`` is given). A query with no
    emotion scores 0 (it is counted, not skipped). Also reports a random-ranking baseline
    and a popularity baseline on the same queries."""
    labels = list(query_labels) if query_labels is not None else list(queries["emotion"])
    k = index._check_k(k)
    ids = index.tracks["track_id"].to_numpy()
    track_label = np.array([track_labels.get(t) for t in ids], dtype=object)
    no_emotion = 0
    points, rows = [], []
    for i, text in enumerate(queries["text"]):
        emo = index.emotion(text)
        if not emo.found:
            no_emotion += 1
            continue
        points.append(index.prepare(emo.normalised(), emo.va)[0])
        rows.append(i)
    per_query = np.zeros(len(labels))
    if points:
        for row, hits in zip(rows, index.search(np.vstack(points), k), strict=True):
            per_query[row] = np.mean([track_label[i] == labels[row] for i, _ in hits])
    precisions = per_query.tolist()
    popular = index.search_popular(k)
    pop_p = [float(np.mean([track_label[i] == lab for i in popular])) for lab in labels]
    rand_p = [float(np.mean(track_label == lab)) for lab in labels]
    by_label = pd.Series(precisions).groupby(pd.Series(labels)).mean().to_dict()
    return {
        "precision_at_k": float(np.mean(precisions)) if precisions else 0.0,
        "baseline_random_precision_at_k": float(np.mean(rand_p)) if rand_p else 0.0,
        "baseline_popularity_precision_at_k": float(np.mean(pop_p)) if pop_p else 0.0,
        "queries": len(labels),
        "queries_without_emotion": no_emotion,
        "k": k,
        "per_label": {str(key): float(v) for key, v in by_label.items()},
        "per_query": precisions,
    }
