"""The tag vocabularies of musicnn's two models, in their output order.

MTT: the 50 most frequent MagnaTagATune tags. MSD: the 50 most frequent Last.fm tags of the
Million Song Dataset (it has no "classical"; orchestral music reads there as ambient,
instrumental, even electronic).
"""

MTT_TAGS: tuple[str, ...] = (
    "guitar",
    "classical",
    "slow",
    "techno",
    "strings",
    "drums",
    "electronic",
    "rock",
    "fast",
    "piano",
    "ambient",
    "beat",
    "violin",
    "vocal",
    "synth",
    "female",
    "indian",
    "opera",
    "male",
    "singing",
    "vocals",
    "no vocals",
    "harpsichord",
    "loud",
    "quiet",
    "flute",
    "woman",
    "male vocal",
    "no vocal",
    "pop",
    "soft",
    "sitar",
    "solo",
    "man",
    "classic",
    "choir",
    "voice",
    "new age",
    "dance",
    "male voice",
    "female vocal",
    "beats",
    "harp",
    "cello",
    "no voice",
    "weird",
    "country",
    "metal",
    "female voice",
    "choral",
)

MSD_TAGS: tuple[str, ...] = (
    "rock",
    "pop",
    "alternative",
    "indie",
    "electronic",
    "female vocalists",
    "dance",
    "00s",
    "alternative rock",
    "jazz",
    "beautiful",
    "metal",
    "chillout",
    "male vocalists",
    "classic rock",
    "soul",
    "indie rock",
    "Mellow",
    "electronica",
    "80s",
    "folk",
    "90s",
    "chill",
    "instrumental",
    "punk",
    "oldies",
    "blues",
    "hard rock",
    "ambient",
    "acoustic",
    "experimental",
    "female vocalist",
    "guitar",
    "Hip-Hop",
    "70s",
    "party",
    "country",
    "easy listening",
    "sexy",
    "catchy",
    "funk",
    "electro",
    "heavy metal",
    "Progressive rock",
    "60s",
    "rnb",
    "indie pop",
    "sad",
    "House",
    "happy",
)

EMBEDDING_SIZE = 200


def column(model: str, tag: str) -> str:
    """The feature column of a tag: ``mtt.classical``, ``msd.hip-hop``, ``msd.female_vocalists``."""
    return f"{model}.{tag.lower().replace(' ', '_')}"


MTT_COLUMNS: tuple[str, ...] = tuple(column("mtt", t) for t in MTT_TAGS)
MSD_COLUMNS: tuple[str, ...] = tuple(column("msd", t) for t in MSD_TAGS)
TAG_COLUMNS: tuple[str, ...] = (*MTT_COLUMNS, *MSD_COLUMNS)
EMBEDDING_COLUMNS: tuple[str, ...] = tuple(
    f"{m}.emb_{i:03d}" for m in ("mtt", "msd") for i in range(EMBEDDING_SIZE)
)
TAGGER_COLUMNS: tuple[str, ...] = (*TAG_COLUMNS, *EMBEDDING_COLUMNS)
