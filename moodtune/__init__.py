"""moodtune: an emotion-aware music recommender (domain core; imports neither dagster nor bentoml)."""

__version__ = "0.1.0"
