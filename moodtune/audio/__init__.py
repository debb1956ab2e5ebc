"""Audio: clips -> features -> a genre + emotion classifier (seed A's first model).

* :mod:`moodtune.audio.decode` reads wav/flac/ogg/mp3 (paths or bytes) and rejects bad audio
  with :class:`moodtune.errors.InvalidAudio`;
* :mod:`moodtune.audio.datasets` loads Emotify, any folder of audio files, or writes the
  deterministic demo set (:mod:`moodtune.audio.synth`);
* :mod:`moodtune.audio.features` turns a clip into features from one STFT, cached by content;
* :mod:`moodtune.audio.model` is the multi-label torch network and the MLflow pyfunc
  registered as ``moodtune-audio``; :mod:`moodtune.audio.train` its one train-and-register
  entry point (:func:`~moodtune.audio.train.train_and_register`);
* :mod:`moodtune.audio.musicnn` is the pretrained musicnn tagger (MTT + MSD) without
  TensorFlow, :mod:`moodtune.audio.tagmodel` genre + GEMS-6 from its tags;
* :mod:`moodtune.audio.realset` assembles the real-music validation set from Debian packages
  (``realset.yaml``), :mod:`moodtune.audio.library` analyses ``audio.music_dir`` by shard.

Plain Python: nothing here imports dagster or bentoml.
"""

from moodtune.registry.names import AUDIO as REGISTERED_MODEL

__all__ = ["REGISTERED_MODEL"]
