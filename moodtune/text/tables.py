"""The learned text tables: the learned lexicon layer and the ambiguous words, a pipeline artefact.

Both are made from the validation corpus's tuning split (never the held-out split) by
:func:`moodtune.text.validation.make_tables`, which the ``learned_text_tables`` asset runs: it
stores them as a DVC output (``<data_dir>/text/learned_tables.json``, :func:`tables_path`), and
the text index's MLflow run logs them (``text/learned_tables.json`` and ``text.tables.*``
params). The analyser reads them as an input (``AnalyzerOptions.tables``), so an index carries the
tables it was built with into the registry, where the service and the CLI load it.

* ``learned``: words no lexicon holds, with their log-odds of a positive against a negative
  review (> 0 praise, < 0 blame); the stack gives them that polarity (``text.rules.learned_lexicon``);
* ``ambiguous``: stack words the tuning reviews contradict, left out of the stack
  (``text.rules.drop_ambiguous``);
* ``made``: how they were made (corpus, split, the ``text.validation`` numbers, counts).

:func:`load_tables` is the one way to read a stored table file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_NAME = "learned_tables.json"
FORMAT = 1


def _digest(learned: Mapping[str, float], ambiguous: Iterable[str]) -> str:
    body = json.dumps(
        {"learned": sorted(learned.items()), "ambiguous": sorted(ambiguous)},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class TextTables:
    """The learned layer and the ambiguous words. Equal (and hashed) by content digest, so an
    analyser cached per options is shared by equal tables and hashing stays cheap."""

    learned: Mapping[str, float] = field(repr=False)
    ambiguous: tuple[str, ...] = field(repr=False)
    made: Mapping[str, Any] = field(default_factory=dict, repr=False)
    digest: str = ""

    def __post_init__(self) -> None:
        learned = {str(w): float(v) for w, v in sorted(self.learned.items())}
        ambiguous = tuple(sorted({str(w) for w in self.ambiguous}))
        object.__setattr__(self, "learned", learned)
        object.__setattr__(self, "ambiguous", ambiguous)
        object.__setattr__(self, "made", dict(self.made))
        object.__setattr__(self, "digest", _digest(learned, ambiguous))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextTables) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return (
            f"TextTables(learned={len(self.learned)}, ambiguous={len(self.ambiguous)}, digest={self.digest})"
        )

    @property
    def dropped(self) -> frozenset[str]:
        """The ambiguous words as a set (what the stack leaves out)."""
        return frozenset(self.ambiguous)

    def replace(
        self, *, learned: Mapping[str, float] | None = None, ambiguous: Iterable[str] | None = None
    ) -> TextTables:
        """A copy with other entries (same ``made``): e.g. one learned word's sign flipped."""
        return TextTables(
            self.learned if learned is None else learned,
            tuple(self.ambiguous if ambiguous is None else ambiguous),
            self.made,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "digest": self.digest,
            "made": dict(self.made),
            "learned": dict(self.learned),
            "ambiguous": list(self.ambiguous),
        }

    def to_json(self) -> str:
        """Sorted, indented JSON: the same tables give the same bytes on every machine."""
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextTables:
        if data.get("format") != FORMAT:
            raise ValueError(
                f"learned text tables of format {data.get('format')!r}; this code reads {FORMAT}"
            )
        return cls(data["learned"], tuple(data["ambiguous"]), data.get("made", {}))


def tables_path(settings) -> Path:
    """Where the ``learned_text_tables`` asset stores the tables (a DVC output of stage ``text``)."""
    return settings.data_path("text", FILE_NAME)


def save_tables(tables: TextTables, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tables.to_json(), encoding="utf-8")
    return path


def load_tables(path: str | Path) -> TextTables:
    """The learned text tables stored at ``path`` (by the asset, or an MLflow run's artefact)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no learned text tables; build them with "
            "`dagster asset materialize -m definitions --select learned_text_tables` (make build)"
        )
    return TextTables.from_dict(json.loads(path.read_text(encoding="utf-8")))
