"""The musicnn port: the checkpoint reader, the torch network against musicnn's own TensorFlow
outputs (stored once in tests/fixtures/musicnn_reference.npz, see musicnn_reference.py),
the preprocessing, batching, the file cache, and that TensorFlow is never imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from moodtune.audio.musicnn import tagger
from moodtune.audio.musicnn.checkpoint import load_checkpoint, read_index
from moodtune.audio.musicnn.network import Musicnn
from moodtune.audio.musicnn.vocab import EMBEDDING_COLUMNS, MSD_COLUMNS, MTT_COLUMNS, TAGGER_COLUMNS
from moodtune.errors import InvalidAudio, ModelNotFound
from moodtune.settings import get_settings

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from musicnn_reference import clips  # noqa: E402  (the reference clips, numpy only)

REFERENCE = np.load(FIXTURES / "musicnn_reference.npz")
# the audio.tagger and audio.decode sections of params.yaml, given to the tagger
TAGGER, LIMITS = get_settings().audio.tagger, get_settings().audio.decode


def tagger_with(**changes):
    return TAGGER.model_copy(update=changes)


def test_checkpoint_reader_finds_every_variable_with_its_shape():
    index = read_index(tagger.checkpoint_prefix("MTT_musicnn") + ".index")
    assert len(index) == 150
    weights = load_checkpoint(tagger.checkpoint_prefix("MTT_musicnn"))
    assert weights["conv2d/kernel"].shape == (7, 38, 1, 204)
    assert weights["conv2d_1/kernel"].shape == (7, 67, 1, 204)
    assert weights["conv2d_2/kernel"].shape == (128, 1, 1, 51)
    assert weights["dense/kernel"].shape == (1506, 200) and weights["dense_1/kernel"].shape == (200, 50)
    real = sum(v.size for k, v in weights.items() if "Adam" not in k and "power" not in k)
    assert 790_000 < real < 795_000
    assert np.all(weights["batch_normalization_9/moving_variance"] > 0)


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "x.index"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(ModelNotFound, match="not a TensorFlow checkpoint"):
        read_index(bad)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "plain"])
@pytest.mark.parametrize("model", tagger.MODELS)
def test_port_matches_tensorflow_within_1e_5(model, fused):
    net = Musicnn(load_checkpoint(tagger.checkpoint_prefix(model)))
    for name in clips():
        mel = REFERENCE[f"{name}/mel"]
        with torch.no_grad():
            tags, emb = (net if fused else net.plain)(torch.from_numpy(mel))
        np.testing.assert_allclose(tags.numpy(), REFERENCE[f"{name}/{model}/tags"], rtol=0, atol=1e-5)
        ref = REFERENCE[f"{name}/{model}/embedding"]
        # the embedding is post-batch-norm (values up to ~4): 1e-5 relative to its scale
        np.testing.assert_allclose(emb.numpy(), ref, rtol=0, atol=1e-5 * np.abs(ref).max())


def test_fused_front_end_negates_the_filters_whose_batch_norm_scale_is_negative():
    net = tagger.network("MTT_musicnn")
    conv, bn = net.timbral[0], net.timbral_bn[0]
    weight, sign, *_ = net._front[0]
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    live = net._live[: len(weight)]  # the first bank's live filters (its channels are the first 204)
    assert (
        0 < int((scale[live] < 0).sum()) < len(live)
    )  # both kinds occur: the min-over-frequency path is exercised
    expected = conv.weight[live] * torch.where(scale[live] < 0, -1.0, 1.0)[:, None, None, None]
    torch.testing.assert_close(weight, expected.transpose(2, 3))  # the timbral filters run transposed
    assert torch.equal(sign[:, 0] < 0, scale[live] < 0)
    x = torch.from_numpy(np.random.default_rng(1).normal(size=(4, 187, 96)).astype(np.float32) * 3)
    with torch.inference_mode():
        for a, b in zip(net(x), net.plain(x), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=2e-5)


def test_sampled_patches_are_evenly_spaced_and_change_the_cache_key():
    mel = np.arange(187 * 10 * 96, dtype=np.float32).reshape(187 * 10, 96)
    every = tagger.patches(mel)
    assert every.shape == (10, 187, 96)
    kept = tagger.patches(mel, 3)
    np.testing.assert_array_equal(kept, every[[0, 4, 9]])  # first, middle, last
    np.testing.assert_array_equal(tagger.patches(mel, 20), every)  # asking for more keeps them all
    np.testing.assert_array_equal(tagger.patches(mel[: 187 * 2], 1), every[:1])
    full, sampled = tagger_with(patches_per_clip=0), tagger_with(patches_per_clip=3)
    assert tagger.tagger_key(full, LIMITS) != tagger.tagger_key(sampled, LIMITS)
    how = tagger_with(patches_per_clip=0, threads=2, workers=1, batch_patches=5)  # how, not what
    assert tagger.tagger_key(full, LIMITS) == tagger.tagger_key(how, LIMITS)
    # the features' sample rate and length are not the tagger's: they change nothing here
    other = LIMITS.model_copy(update={"sample_rate": 8000, "max_seconds": 5.0})
    assert tagger.tagger_key(full, LIMITS) == tagger.tagger_key(full, other)
    assert tagger.tagger_key(full, LIMITS) != tagger.tagger_key(
        full, other.model_copy(update={"min_seconds": 2})
    )
    waves = [clips()["beat"]]  # 6.5 s: two patches; keeping one gives that patch's own tags
    one = tagger.tag_waveforms(waves, tagger_with(patches_per_clip=1))[0]
    np.testing.assert_allclose(one[:50], REFERENCE["beat/MTT_musicnn/tags"][0], atol=1e-5)


def test_preprocessing_matches_the_reference_mel_and_repeat_pads_short_clips():
    for name, y in clips().items():
        np.testing.assert_allclose(
            tagger.patches(tagger.log_mel(y)), REFERENCE[f"{name}/mel"], rtol=0, atol=1e-5
        )
    short = tagger.patches(tagger.log_mel(clips()["melody"]))  # 2.2 s: one patch, repeated frames
    assert short.shape == (1, 187, 96)
    n = len(tagger.log_mel(clips()["melody"]))
    np.testing.assert_array_equal(short[0, n : 2 * n], short[0, : min(n, 187 - n)])
    assert len(tagger.patches(tagger.log_mel(clips()["beat"]))) == 2  # 6.5 s: two whole patches


def test_one_pass_over_many_clips_equals_each_clip_alone_and_averages_patches():
    config = tagger_with(batch_patches=3)
    waves = list(clips().values())
    together = tagger.tag_waveforms(waves, config)
    assert together.shape == (3, len(TAGGER_COLUMNS))
    for i, y in enumerate(waves):
        np.testing.assert_allclose(tagger.tag_waveforms([y], config)[0], together[i], rtol=0, atol=1e-5)
    beat = list(clips()).index("beat")
    ref_mtt = REFERENCE["beat/MTT_musicnn/tags"].mean(axis=0)
    np.testing.assert_allclose(together[beat, :50], ref_mtt, atol=1e-5)
    ref_msd_emb = REFERENCE["beat/MSD_musicnn/embedding"].mean(axis=0)
    np.testing.assert_allclose(together[beat, -200:], ref_msd_emb, atol=1e-4)
    assert len(MTT_COLUMNS) == len(MSD_COLUMNS) == 50 and len(EMBEDDING_COLUMNS) == 400


def test_known_tag_behaviour_on_the_synthetic_clips():
    out = tagger.tag_waveforms(list(clips().values()), TAGGER)
    col = {c: i for i, c in enumerate(TAGGER_COLUMNS)}
    chord, beat, melody = out

    def score(row, *tags):
        return sum(row[col[t]] for t in tags)

    # a sustained sine chord is slow, quiet, ambient; a noise-burst beat on a square bass is techno
    assert score(chord, "mtt.slow", "mtt.quiet", "mtt.ambient") > 3 * score(
        beat, "mtt.slow", "mtt.quiet", "mtt.ambient"
    )
    assert score(beat, "mtt.techno", "mtt.electronic", "mtt.beat") > 3 * score(
        chord, "mtt.techno", "mtt.electronic", "mtt.beat"
    )
    # two pure sine notes: MTT's top tag is flute
    assert max(MTT_COLUMNS, key=lambda c: melody[col[c]]) == "mtt.flute"


def test_tag_batch_caches_by_content_and_lists_bad_files(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, clips()["chord"], 16000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF" + b"\0" * 40)
    first = tagger.tag_batch(
        {"g": good, "b": bad, "missing": tmp_path / "none.wav"}, TAGGER, LIMITS, cache_dir=tmp_path / "c"
    )
    assert list(first.features.index) == ["g"] and first.computed == 1 and first.cache_hits == 0
    assert set(first.failed) == {"b", "missing"} and "bad.wav" in first.failed["b"]
    again = tagger.tag_batch({"g": good}, TAGGER, LIMITS, cache_dir=tmp_path / "c")
    assert again.cache_hits == 1 and again.computed == 0
    np.testing.assert_array_equal(again.features.to_numpy(), first.features.to_numpy())
    one = tagger.tag(good, TAGGER, LIMITS)
    assert one["mtt.piano"] == pytest.approx(first.features.loc["g", "mtt.piano"], abs=1e-6)
    with pytest.raises(InvalidAudio):
        tagger.tag(bad, TAGGER, LIMITS)


@pytest.mark.slow  # starts Python processes of its own: seconds of imports each
def test_tag_batch_in_worker_processes_equals_one_process(tmp_path):
    items = {}
    for name, y in clips().items():
        items[name] = tmp_path / f"{name}.wav"
        sf.write(items[name], y, 16000)
    items["bad"] = tmp_path / "bad.wav"
    items["bad"].write_bytes(b"RIFF" + b"\0" * 40)
    one = tagger.tag_batch(items, tagger_with(workers=1), LIMITS, clips_per_pass=1)
    two = tagger.tag_batch(
        items, tagger_with(workers=2), LIMITS, clips_per_pass=1, cache_dir=tmp_path / "cache"
    )
    assert list(two.features.index) == list(clips()) and set(two.failed) == {"bad"} and two.computed == 3
    np.testing.assert_allclose(two.features.to_numpy(), one.features.to_numpy(), rtol=0, atol=1e-6)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 3  # the parent wrote the workers' results


def test_nothing_imports_tensorflow():
    code = (
        "import sys; import moodtune.audio.musicnn.tagger as t, numpy as np; "
        "from moodtune.settings import get_settings; "
        "t.tag_waveforms([np.sin(np.arange(16000 * 4) / 9.0).astype('float32')], get_settings().audio.tagger); "
        "assert not any(m == 'tensorflow' or m.startswith('tensorflow.') for m in sys.modules), 'tensorflow'; "
        "import importlib.util; assert importlib.util.find_spec('tensorflow') is None, 'installed'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("seconds,keep", [(30.0, 3), (10.0, 2), (7.0, 1), (7.0, 3), (2.0, 3), (9.4, 0)])
def test_the_mel_of_the_kept_patches_alone_equals_the_whole_clips(seconds, keep, monkeypatch):
    rng = np.random.default_rng(int(seconds * 10) + keep)
    y = (0.3 * rng.standard_normal(int(seconds * tagger.SAMPLE_RATE))).astype(np.float32)
    expected = tagger.patches(tagger.log_mel(y), keep)
    frames = []
    real = tagger.log_mel
    monkeypatch.setattr(tagger, "log_mel", lambda y: frames.append(len(y)) or real(y))
    got = tagger.clip_patches(y, keep)
    # the same frames; the mel filterbank's matrix product on another shape may round the last
    # float32 bit differently, by BLAS state (1 ULP in 0.1-0.2 % of the values in a full-suite
    # run on a fresh clone, exact when this module ran alone on the same machine)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0)
    whole = 0 < keep < (1 + len(y) // tagger.HOP) // tagger.PATCH_FRAMES
    assert frames == ([] if whole else [len(y)])  # a sampled clip's whole mel is never computed


def test_a_network_first_asked_for_in_inference_mode_is_still_usable_with_autograd():
    tagger.network.cache_clear()  # the order m9 met: the analysis (inference mode) built it first
    try:
        with torch.inference_mode():
            tagger.network("MTT_musicnn")
        from moodtune.audio.musicnn.network import _affine

        scale, shift = _affine(tagger.network("MTT_musicnn").bn_input)  # running_mean * scale: autograd
        assert scale.requires_grad and shift.requires_grad
    finally:
        tagger.network.cache_clear()
