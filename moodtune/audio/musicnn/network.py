"""The musicnn network (Pons & Serra, 2019) in torch, with the weights of its TensorFlow checkpoints.

Input: log-mel patches ``(batch, 187 frames, 96 bands)``. Front end: batch norm on the input,
then musically motivated filters — timbral (7 x 38 and 7 x 67 conv2d, 204 filters each, on the
input padded by 3 frames each side) and temporal (128 x 1, 64 x 1, 32 x 1 conv2d, 51 filters
each, TensorFlow "same" padding: the extra padding frame goes after) — each ReLU, batch norm,
max over frequency. Mid end: three 7-tap conv1d with 64 filters over time (ReLU, batch norm),
the last two residual. Back end: max and mean over time of the 753 stacked channels (interleaved
per channel, as TensorFlow flattens them), batch norm, dense 200 (ReLU, batch norm: the
embedding), dense 50 (the tags' logits). Batch norm epsilon is TensorFlow's 1e-3.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

BN_EPS = 1e-3
# log10(10000 x + 1) of the mel power of audio in [-1, 1] stays below ~7.3 (a Hann-windowed
# 512-point STFT bin is at most 256 in magnitude, a Slaney mel band weighs ~1/31 of the bins'
# power); 12 leaves a wide margin (samples ~100x full scale)
LOG_MEL_MAX = 12.0
NEGLIGIBLE = 1e-6  # a front-end filter that cannot move its feature by more is not computed
TIMBRAL = (("conv2d", "batch_normalization_1"), ("conv2d_1", "batch_normalization_2"))
TEMPORAL = (
    ("conv2d_2", "batch_normalization_3"),
    ("conv2d_3", "batch_normalization_4"),
    ("conv2d_4", "batch_normalization_5"),
)
MIDEND = (
    ("conv2d_5", "batch_normalization_6"),
    ("conv2d_6", "batch_normalization_7"),
    ("conv2d_7", "batch_normalization_8"),
)


def _bn(prefix: str, w: Mapping[str, np.ndarray]) -> nn.BatchNorm1d:
    gamma = w[f"{prefix}/gamma"]
    bn = nn.BatchNorm1d(len(gamma), eps=BN_EPS)
    bn.weight.data = torch.from_numpy(gamma.copy())
    bn.bias.data = torch.from_numpy(w[f"{prefix}/beta"].copy())
    bn.running_mean = torch.from_numpy(w[f"{prefix}/moving_mean"].copy())
    bn.running_var = torch.from_numpy(w[f"{prefix}/moving_variance"].copy())
    return bn.eval()


def _conv2d(prefix: str, w: Mapping[str, np.ndarray]) -> nn.Conv2d:
    kernel = w[f"{prefix}/kernel"]  # TF: (kh, kw, in, out)
    kh, kw, cin, cout = kernel.shape
    conv = nn.Conv2d(cin, cout, (kh, kw))
    conv.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    conv.bias.data = torch.from_numpy(w[f"{prefix}/bias"].copy())  # type: ignore[union-attr]  # built with a bias
    return conv


def _conv1d(prefix: str, w: Mapping[str, np.ndarray]) -> nn.Conv1d:
    kernel = w[f"{prefix}/kernel"]  # TF conv2d over (time, channels, 1): (7, in, 1, out)
    taps, cin, _one, cout = kernel.shape
    conv = nn.Conv1d(cin, cout, taps)
    conv.weight.data = torch.from_numpy(np.ascontiguousarray(kernel[:, :, 0, :].transpose(2, 1, 0)))
    conv.bias.data = torch.from_numpy(w[f"{prefix}/bias"].copy())  # type: ignore[union-attr]  # built with a bias
    return conv


def _dense(prefix: str, w: Mapping[str, np.ndarray]) -> nn.Linear:
    kernel = w[f"{prefix}/kernel"]  # (in, out)
    lin = nn.Linear(*kernel.shape)
    lin.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.T))
    lin.bias.data = torch.from_numpy(w[f"{prefix}/bias"].copy())
    return lin


def _affine(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """An eval-mode batch norm as ``x * scale + shift``."""
    running_mean, running_var = (
        cast(torch.Tensor, bn.running_mean),
        cast(torch.Tensor, bn.running_var),
    )  # tracked
    scale = bn.weight / torch.sqrt(running_var + bn.eps)
    return scale, bn.bias - running_mean * scale


def _banks(convs: nn.ModuleList, bns: nn.ModuleList) -> Iterator[tuple[nn.Conv2d, nn.BatchNorm1d]]:
    """The (convolution, batch norm) pairs of a front-end bank's two module lists."""
    return zip(cast("Iterable[nn.Conv2d]", convs), cast("Iterable[nn.BatchNorm1d]", bns), strict=True)


def reach(weight: torch.Tensor, scale: torch.Tensor, x_max: float) -> torch.Tensor:
    """Per filter of a front-end bank, the most its feature ``bn(relu(max_f conv + b))`` can move
    from ``bn(relu(b))`` for inputs within ``[-x_max, x_max]``: ReLU is 1-Lipschitz, so by at
    most ``|scale| * max |conv| <= |scale| * L1(weights) * x_max``."""
    return weight.flatten(1).abs().sum(dim=1) * scale.abs() * x_max


class Musicnn(nn.Module):
    """One musicnn model (MTT or MSD); :meth:`forward` gives (tag probabilities, embedding).

    :meth:`plain` runs the layers as written (conv, ReLU, batch norm, max over frequency: the
    straightforward port, the benchmark's reference). :meth:`forward` gives the same numbers
    with far less work on the front end:

    * per filter, ``max_f bn(relu(z_f + b)) = bn(relu(max_f z_f + b))`` when the batch norm's
      scale is positive, and ``min`` instead of ``max`` when it is negative, so the filters
      whose scale is negative are negated at load and one ``amax`` serves all; bias, ReLU and
      batch norm then touch ``(batch, filters, time)`` only;
    * the filters that cannot move their feature by more than :data:`NEGLIGIBLE` for any input
      (:func:`reach`) are not computed: their feature is the constant ``bn(relu(b))``. Training
      left many filters dead, most with weights ~1e-28 (L1 norm), the rest below 1e-5: 86 + 122
      of MTT's 408 timbral filters and 181 + 190 of MSD's, 30 and 126 of the 153 temporal ones
      (tests/test_musicnn_live_filters.py).

    The timbral convolutions run on the transposed input and the temporal ones channels-last
    (the faster of the layouts measured for each with oneDNN's kernels, one thread).
    """

    def __init__(self, weights: Mapping[str, np.ndarray]):
        super().__init__()
        self.bn_input = _bn("batch_normalization", weights)
        self.timbral = nn.ModuleList(_conv2d(c, weights) for c, _ in TIMBRAL)
        self.timbral_bn = nn.ModuleList(_bn(b, weights) for _, b in TIMBRAL)
        self.temporal = nn.ModuleList(_conv2d(c, weights) for c, _ in TEMPORAL)
        self.temporal_bn = nn.ModuleList(_bn(b, weights) for _, b in TEMPORAL)
        self.midend = nn.ModuleList(_conv1d(c, weights) for c, _ in MIDEND)
        self.midend_bn = nn.ModuleList(_bn(b, weights) for _, b in MIDEND)
        self.bn_pool = _bn("batch_normalization_9", weights)
        self.dense = _dense("dense", weights)
        self.bn_dense = _bn("batch_normalization_10", weights)
        self.output = _dense("dense_1", weights)
        self.eval()
        # per front-end filter bank, its live filters': (signed weight, sign, bias, scale, shift)
        self._front: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
        live: list[torch.Tensor] = []
        const: list[torch.Tensor] = []
        with torch.no_grad():
            s_in, t_in = _affine(self.bn_input)
            x_max = float((s_in.abs() * LOG_MEL_MAX + t_in.abs()).max())
            for conv, bn in (
                *_banks(self.timbral, self.timbral_bn),
                *_banks(self.temporal, self.temporal_bn),
            ):
                scale, shift = _affine(bn)
                bias = cast(torch.Tensor, conv.bias)  # _conv2d builds it with one
                keep = reach(conv.weight, scale, x_max) > NEGLIGIBLE
                live.append(torch.nonzero(keep)[:, 0] + sum(len(c) for c in const))
                const.append(F.relu(bias) * scale + shift)  # a dead filter's feature, whatever the input
                sign = torch.where(scale < 0, -1.0, 1.0)[keep]
                weight = conv.weight[keep] * sign[:, None, None, None]
                weight = (
                    weight.transpose(2, 3).contiguous()
                    if len(self._front) < len(TIMBRAL)  # see forward
                    else weight.contiguous(memory_format=torch.channels_last)
                )
                self._front.append(
                    (weight, sign[:, None], bias[keep, None], scale[keep, None], shift[keep, None])
                )
            self._live = torch.cat(live)  # the live filters' channels among the front end's 561 features
            self._const = torch.cat(const)[
                None, :, None
            ]  # (1, 561, 1): every filter's feature if it were dead

    @staticmethod
    def _freq_max(x: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
        """(B, C, T, F) after ReLU -> batch norm per channel -> max over F: (B, C, T)."""
        b, c, t, f = x.shape
        x = bn(x.reshape(b, c, t * f)).reshape(b, c, t, f)
        return x.amax(dim=3)

    def _input(self, mel: torch.Tensor) -> torch.Tensor:
        b, t, f = mel.shape
        return self.bn_input(mel.reshape(b, 1, t * f)).reshape(b, 1, t, f)

    @staticmethod
    def _same(x: torch.Tensor, k: int) -> torch.Tensor:
        return F.pad(x, (0, 0, (k - 1) // 2, k - 1 - (k - 1) // 2))  # TF "same": the odd frame after

    def plain(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network layer by layer as TensorFlow runs it (plain channels-first layout)."""
        x = self._input(mel)
        padded = F.pad(x, (0, 0, 3, 3))
        front = [
            self._freq_max(F.relu(conv(padded)), bn) for conv, bn in _banks(self.timbral, self.timbral_bn)
        ]
        for conv, bn in _banks(self.temporal, self.temporal_bn):
            front.append(self._freq_max(F.relu(conv(self._same(x, conv.kernel_size[0]))), bn))
        return self._back(torch.cat(front, dim=1))

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._input(mel)
        # the timbral filters run on the transposed input, (frequency, time): faster here, and the max over
        # frequency then reduces over a leading axis of contiguous rows; the temporal ones channels-last
        inputs = [F.pad(x, (0, 0, 3, 3)).transpose(2, 3).contiguous()] * len(TIMBRAL) + [
            self._same(x, c.kernel_size[0]).contiguous(memory_format=torch.channels_last)
            for c in cast("Iterable[nn.Conv2d]", self.temporal)
        ]
        live = []
        for i, (inp, (weight, sign, bias, scale, shift)) in enumerate(zip(inputs, self._front, strict=True)):
            if len(weight):
                z = F.conv2d(inp, weight).amax(dim=2 if i < len(TIMBRAL) else 3)
                live.append(F.relu(z * sign + bias) * scale + shift)
        front = self._const.expand(x.shape[0], -1, x.shape[2]).clone()
        return self._back(front.index_copy_(1, self._live, torch.cat(live, dim=1)))

    def _back(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mid end and back end from the front end's (B, 561, T) features."""
        b = h.shape[0]
        layers = [h]
        prev = None
        for i, (conv, bn) in enumerate(zip(self.midend, self.midend_bn, strict=True)):
            out = bn(F.relu(conv(F.pad(layers[-1] if i else h, (3, 3)))))
            if prev is not None:
                out = out + prev
            layers.append(out)
            prev = out
        feats = torch.cat(layers, dim=1)  # (B, 753, T)
        pooled = torch.stack([feats.amax(dim=2), feats.mean(dim=2)], dim=2).reshape(b, -1)
        emb = self.bn_dense(F.relu(self.dense(self.bn_pool(pooled))))
        return torch.sigmoid(self.output(emb)), emb
