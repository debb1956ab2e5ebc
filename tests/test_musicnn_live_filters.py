"""The tagger's fast forward pass (``Musicnn.forward``: dead front-end filters skipped, the
timbral convolutions transposed) against the plain network layer by layer (``Musicnn.plain``):
the same tags and embeddings within float noise, on synthetic clips, on real music (a Debian
game soundtrack), and on the extremes of the input range the dead-filter bound assumes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from moodtune.audio.musicnn import tagger
from moodtune.audio.musicnn.network import LOG_MEL_MAX, NEGLIGIBLE, _affine, reach

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from musicnn_reference import clips  # noqa: E402  (the reference clips, numpy only)

TOLERANCE = 1e-5  # the issue allows 1e-4; float noise here is ~1e-6


def _agree(mel: np.ndarray) -> tuple[float, float]:
    """Worst |fast - plain| over both models' tags and embeddings for a stack of patches."""
    worst_t = worst_e = 0.0
    x = torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32))
    with torch.inference_mode():
        for model in tagger.MODELS:
            net = tagger.network(model)
            (tf, ef), (tp, ep) = net(x), net.plain(x)
            worst_t = max(worst_t, float((tf - tp).abs().max()))
            worst_e = max(worst_e, float((ef - ep).abs().max()))
    return worst_t, worst_e


def test_the_dead_filters_are_those_the_bound_calls_negligible_and_there_are_many():
    live_counts = {}
    for model in tagger.MODELS:
        net = tagger.network(model)
        s_in, t_in = (t.detach() for t in _affine(net.bn_input))
        x_max = float((s_in.abs() * LOG_MEL_MAX + t_in.abs()).max())
        banks = [
            *zip(net.timbral, net.timbral_bn, strict=True),
            *zip(net.temporal, net.temporal_bn, strict=True),
        ]
        offset, counts = 0, []
        for (conv, bn), (weight, *_rest) in zip(banks, net._front, strict=True):
            r = reach(conv.weight, _affine(bn)[0], x_max).detach()
            live = net._live[(net._live >= offset) & (net._live < offset + len(r))] - offset
            assert torch.equal(live, torch.nonzero(r > NEGLIGIBLE)[:, 0])
            assert len(weight) == len(live)
            dead = torch.ones(len(r), dtype=torch.bool)
            dead[live] = False
            assert bool((r[dead] <= NEGLIGIBLE).all())
            counts.append(len(live))
            offset += len(r)
        assert offset == 561 and len(net._live) == sum(counts)
        live_counts[model] = counts
    assert live_counts == {"MTT_musicnn": [118, 82, 39, 37, 47], "MSD_musicnn": [23, 14, 3, 7, 17]}


def test_a_dead_filters_feature_is_the_constant_whatever_the_input():
    net = tagger.network("MSD_musicnn")
    x = torch.from_numpy(
        np.random.default_rng(3).uniform(0, LOG_MEL_MAX, size=(2, 187, 96)).astype(np.float32)
    )
    with torch.inference_mode():
        h = net._input(x)
        padded = torch.nn.functional.pad(h, (0, 0, 3, 3))
        conv, bn = net.timbral[0], net.timbral_bn[0]
        plain = net._freq_max(torch.relu(conv(padded)), bn)  # (2, 204, 187)
    dead = torch.ones(204, dtype=torch.bool)
    dead[net._live[net._live < 204]] = False
    assert int(dead.sum()) == 204 - 23
    const = net._const[0, :204, 0]
    assert float((plain[:, dead] - const[dead, None]).abs().max()) <= NEGLIGIBLE


@pytest.mark.parametrize("name", list(clips()))
def test_fast_forward_equals_the_plain_network_on_the_reference_clips(name):
    mel = tagger.patches(tagger.log_mel(clips()[name]))
    tags, emb = _agree(mel)
    assert tags < TOLERANCE and emb < TOLERANCE


def test_fast_forward_equals_the_plain_network_at_the_extremes_of_the_input_range():
    rng = np.random.default_rng(7)
    for mel in (
        np.zeros((1, 187, 96)),
        np.full((1, 187, 96), LOG_MEL_MAX),
        rng.uniform(0, LOG_MEL_MAX, (3, 187, 96)),
        rng.uniform(0, 1, (2, 187, 96)) ** 4 * 8,
    ):  # silence, the bound, noise, sparse peaks
        tags, emb = _agree(mel)
        assert tags < TOLERANCE and emb < 10 * TOLERANCE  # embeddings reach ~10 on these inputs


def test_the_tagger_on_real_music_equals_the_plain_network(real_music_files):
    from moodtune.audio.decode import decode
    from moodtune.settings import get_settings

    audio = get_settings().audio
    limits = tagger.tagger_limits(audio.tagger, audio.decode)
    for path in real_music_files[:4]:  # seahorse-adventures' soundtrack (tests/conftest.py)
        y, _sr = decode(path, limits)
        tags, emb = _agree(tagger.clip_patches(y, audio.tagger.patches_per_clip))
        assert tags < TOLERANCE and emb < TOLERANCE, path.name
