"""The feature table an audio model reads: one check for every model (columns, finite values)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from moodtune.errors import InvalidInput


def feature_matrix(
    features: pd.DataFrame, columns: Sequence[str], made_by: str, dtype=np.float64
) -> np.ndarray:
    """``features[columns]`` as a finite array; :class:`InvalidInput` naming what is wrong and
    ``made_by``, the function that makes such a table."""
    if not isinstance(features, pd.DataFrame):
        raise InvalidInput("audio features must be a DataFrame with one column per feature")
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise InvalidInput(
            f"audio features lack {len(missing)} columns the model needs, e.g. "
            f"{', '.join(missing[:5])}; {made_by}"
        )
    x = features[list(columns)].to_numpy(dtype=dtype)
    if not np.all(np.isfinite(x)):
        raise InvalidInput("audio features contain NaN or infinite values")
    return x
