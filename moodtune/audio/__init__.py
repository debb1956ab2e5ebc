"""Audio: clips -> features -> a genre + emotion classifier (seed A's first model).

* :mod:`moodtune.audio.decode` reads wav/flac/ogg/mp3 (paths or bytes) and rejects bad audio
  with :class:`moodtune.errors.InvalidAudio`;
* :mod:`moodtune.audio.datasets` loads Emotify, any folder of audio files, or writes the
  deterministic demo set (:mod:`moodtune.audio.synth`);
* :mod:`moodtune.audio.features` turns a clip into features from one STFT, cached by content;
* :mod:`moodtune.audio.model` is the multi-label torch network, its training, evaluation and
  the MLflow pyfunc registered as ``moodtune-audio``.

Plain Python: nothing here imports dagster or bentoml.
"""

REGISTERED_MODEL = "moodtune-audio"
