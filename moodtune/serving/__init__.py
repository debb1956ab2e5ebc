"""Serving logic: the catalog the service recommends from, the champions it holds, and what
each endpoint does (plain Python; ``bento/service.py`` is a thin BentoML layer over it).

* :mod:`moodtune.serving.catalog`: every known track with its audio-derived genre and
  emotion profile and, where it has texts, its text-derived emotion (the ``catalog`` asset);
* :mod:`moodtune.serving.models`: the champions as one :class:`~moodtune.serving.models.ModelSet`
  held by a :class:`~moodtune.serving.models.ModelHolder` and swapped atomically;
* :mod:`moodtune.serving.eventlog`: recommendation events committed to the feedback store
  in groups (one transaction, one fsync, for every request waiting);
* :mod:`moodtune.serving.engine`: the endpoints' logic, input limits and answers;
* :mod:`moodtune.serving.cli`, :mod:`moodtune.serving.text_cli`: the service's endpoints as
  ``moodtune`` commands (``recommend``, ``feedback``, ``recommend-text``, ...).
"""
