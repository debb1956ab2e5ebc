"""Serving logic: the catalog the service recommends from, the champions it holds, and what
each endpoint does (plain Python; ``bento/service.py`` is a thin BentoML layer over it).

* :mod:`moodtune.recommend.catalog`: every known track with its audio-derived genre and
  emotion profile and, where it has texts, its text-derived emotion (the ``catalog`` asset);
* :mod:`moodtune.recommend.models`: the champions as one :class:`~moodtune.recommend.models.ModelSet`
  held by a :class:`~moodtune.recommend.models.ModelHolder` and swapped atomically;
* :mod:`moodtune.recommend.eventlog`: recommendation events committed to the feedback store
  in groups (one transaction, one fsync, for every request waiting);
* :mod:`moodtune.recommend.engine`: the endpoints' logic, input limits and answers.
"""
