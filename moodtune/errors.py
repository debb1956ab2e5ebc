"""Typed domain errors. Each carries a message for a person: what is wrong and what to do.

The service maps them to 4xx responses, the CLI to a one-line error and exit code 2.
"""


class MoodtuneError(Exception):
    """Base of every error moodtune raises on purpose."""

    status_code = 400


class ConfigError(MoodtuneError):
    """Settings or params that cannot be used."""


class InvalidInput(MoodtuneError):
    """A request or file that cannot be processed; the message says what to fix."""

    status_code = 422


class TooMuchInput(InvalidInput):
    """An input over a work budget (RR intervals, rows, samples, seconds of audio): refused
    before the work starts; the message names the cap."""

    status_code = 413


class InvalidAudio(InvalidInput):
    """An audio file that is corrupt, empty, silent, too short or not audio."""


class InvalidHRV(InvalidInput):
    """RR intervals or HRV metrics that are missing, too short or implausible."""


class TooMuchHRV(TooMuchInput, InvalidHRV):
    """An HRV upload over its work budget (RR intervals, metrics rows, signal samples or seconds): 413."""


class InvalidText(InvalidInput):
    """Text that is empty, too long or carries no emotion."""


class InvalidImage(InvalidInput):
    """An image that cannot be decoded, is too large, or shows nobody."""


class InvalidFeedback(InvalidInput):
    """A recommendation or feedback row that cannot be stored: unknown recommendation, a track
    that was not among its candidates, an invalid stress level, mood or metric."""


class ModelNotFound(MoodtuneError):
    """A registered model (or its champion) that does not exist yet."""

    status_code = 503
