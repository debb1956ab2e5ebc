"""HRV -> stress level (seed A's reward signal): beats, artefact correction, metrics, the model
and its reader.

Imports stay light: neurokit2, CatBoost and MLflow load when first used.
"""

from moodtune.hrv.constants import LEVELS, METRIC_COLUMNS, UNITS
from moodtune.hrv.metrics import HrvResult, MetricsConfig, analyze, metrics
from moodtune.hrv.reader import StressReader

__all__ = ["LEVELS", "METRIC_COLUMNS", "UNITS", "HrvResult", "MetricsConfig", "analyze", "metrics", "StressReader"]
