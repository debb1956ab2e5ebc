"""moodtune.threads: one thread for the native pools around small numeric work."""

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from moodtune import threads


def _openmp_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"}


def test_inside_every_pool_has_one_thread_and_after_it_has_its_own_again():
    import sklearn.ensemble  # noqa: F401  (loads sklearn's OpenMP runtime)

    with threadpool_limits(limits=2):  # the suite runs with one (scripts/test.sh): start from two
        with threads.one_thread():
            assert {p["num_threads"] for p in threadpool_info()} == {1}
        assert {p["num_threads"] for p in threadpool_info()} == {2}


def test_a_pool_loaded_after_the_first_use_is_limited_too(monkeypatch):
    monkeypatch.setattr(threads, "_found", None)
    with threads.one_thread():
        pass
    first = threads._found
    monkeypatch.setitem(__import__("sys").modules, "moodtune_test_new_module", object())
    with threads.one_thread():
        pass
    second = threads._found
    assert second is not first  # rescanned after an import
    with threads.one_thread():
        pass
    assert threads._found is second  # and not again without one


def test_the_supervised_baseline_predicts_with_one_openmp_thread():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from moodtune.policy.evaluation import SupervisedRanker

    seen = []

    class Spy(HistGradientBoostingClassifier):
        def predict_proba(self, X):
            seen.append(_openmp_threads())
            return super().predict_proba(X)

    ranker = SupervisedRanker()
    rng = np.random.default_rng(0)
    ranker.model = Spy(max_iter=5).fit(rng.normal(size=(200, 17)), rng.integers(0, 2, 200))
    from moodtune.policy.features import ListenerContext

    listener = ListenerContext(age=30, gender=0, mood=3)
    with threadpool_limits(limits=2, user_api="openmp"):  # as outside the suite (scripts/test.sh sets 1)
        out = ranker.scores(rng.uniform(size=(6, 10)), listener)
    assert out.shape == (6,) and seen == [{1}]
