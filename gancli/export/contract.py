"""The JSON contract written beside every exported model: what it takes, what it returns, and how
gancli draws its inputs, so that a program without gancli can use the file as gancli does.

Where it goes: the model's path with its suffix replaced by ``.json`` (``g.pt`` -> ``g.json``,
``out/g.onnx`` -> ``out/g.json``, ``g`` -> ``g.json``). docs/export.md shows a whole one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from gancli import __version__
from gancli.config import MIN_TRUNCATION, ModelConfig
from gancli.export.exportable import Signature, TensorSpec
from gancli.sampling.latents import label_frequencies

CONTRACT_VERSION = "gancli-export/1"

#: gancli's labels generator for ``--seed s`` is seeded with (s + LABEL_SEED_OFFSET) mod 2^63
#: (``gancli.sampling.latents.seeded_generators``)
LABEL_SEED_OFFSET = 1_000_003

#: how gancli turns G's output into the pixels of its PNG and .npz files (``gancli.viz.grid.quantize``)
TO_UINT8 = {
    "formula": "uint8(round((clamp(x, -1, 1) + 1) * 127.5))",
    "rounding": "half to even (torch.round, numpy.rint)",
    "then": "NCHW -> NHWC (images, H, W, channels) for image files; one-channel images are repeated to 3 (RGB)",
    "torch": "((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)",
    "numpy": "np.rint((np.clip(x, -1, 1) + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)",
}

TRUNCATION = {
    "what": "the truncation trick (Brock et al. 2019) as gancli sample --truncation t does it: each component z_i "
            "is drawn from N(0, 1), and every component with |z_i| > t is drawn again from N(0, 1), until all "
            "lie in [-t, t]; z then follows the standard normal truncated to [-t, t] (density proportional to "
            "exp(-z^2 / 2) there)",
    "not": "neither scaled (t * N(0, 1)) nor clamped (clamp(z, -t, t)): G was never shown those",
    "min_t": MIN_TRUNCATION,
    "without": "no truncation: z ~ N(0, I), every component independent",
}


def contract_path(model_path: Path) -> Path:
    """Where the contract of ``model_path`` goes: its suffix replaced by ``.json``."""
    return Path(model_path).with_suffix(".json")


def generator_signature(model_config: ModelConfig) -> Signature:
    """Inputs z (N, z_dim) float32 and, by label kind, class indices int64 (N,) or attributes
    float32 (N, n_attrs); output images float32 (N, C, res, res) in [-1, 1]."""
    about = ("latent vectors; gancli draws them from U[-1, 1] (see sampling)" if model_config.z_dist == "uniform"
             else "latent vectors; gancli draws them from N(0, I), or truncated (see sampling)")
    inputs = [TensorSpec("z", ("N", model_config.z_dim), "float32", about)]
    if model_config.label_kind == "class":
        inputs.append(TensorSpec("labels", ("N",), "int64",
                                 f"class indices 0..{model_config.n_classes - 1} (labels.class_names)"))
    elif model_config.label_kind == "attrs":
        inputs.append(TensorSpec("labels", ("N", model_config.n_attrs), "float32",
                                 "attribute vectors, 1.0 = set, 0.0 = not set, in the order of labels.attr_names"))
    res = model_config.res
    output = TensorSpec("images", ("N", model_config.channels, res, res), "float32",
                        "NCHW images in [-1, 1] (G ends in tanh); to_uint8 gives gancli's pixels")
    return Signature(tuple(inputs), output)


def translator_signature(model_config: ModelConfig, source: str, target: str) -> Signature:
    """Input images of domain ``source``, output their translations to ``target``: float32 NCHW in [-1, 1]."""
    shape = ("N", model_config.channels, model_config.res, model_config.res)
    return Signature(
        (TensorSpec("images", shape, "float32", f"images of domain {source}, NCHW in [-1, 1] (see input_images)"),),
        TensorSpec("translated", shape, "float32", f"the images translated to domain {target}, NCHW in [-1, 1]"))


def labels_section(model_config: ModelConfig, dataset: dict[str, Any], class_names: list[str],
                   attr_names: list[str]) -> dict[str, Any]:
    kind = model_config.label_kind
    freq = label_frequencies(model_config, dataset)
    if kind == "class":
        return {"kind": "class", "n_classes": model_config.n_classes, "class_names": class_names, "frequencies": freq}
    if kind == "attrs":
        return {"kind": "attrs", "n_attrs": model_config.n_attrs, "attr_names": attr_names, "frequencies": freq}
    return {"kind": "none"}


#: z ~ U[-1, 1]^z_dim (BEGAN's prior): no truncation
UNIFORM_PRIOR = {
    "what": "each component z_i is drawn independently from U[-1, 1] (Berthelot et al. 2017's prior)",
    "truncation": "none: the truncation trick resamples Gaussian z; gancli refuses --truncation for this model",
}


def sampling_section(label_kind: str, z_dist: str = "normal") -> dict[str, Any]:
    """The prior and truncation rule, and how ``gancli sample --seed s`` draws z and labels, as lines
    of plain torch (tests/test_export.py runs them in a process without gancli and gets gancli's z and
    labels bit for bit, and so its images)."""
    labels = {
        "class": ["freq = torch.tensor(contract['labels']['frequencies'], dtype=torch.float64)",
                  "labels = torch.multinomial(freq, n, replacement=True, generator=g_labels)"],
        "attrs": ["freq = torch.tensor(contract['labels']['frequencies'], dtype=torch.float64)",
                  "labels = (torch.rand(n, len(freq), generator=g_labels, dtype=torch.float64) < freq).float()"],
        "none": ["labels = None"],
    }[label_kind]
    if z_dist == "uniform":
        prior = {"prior": "uniform", "uniform": UNIFORM_PRIOR}
        draw = ["z = torch.rand(n, contract['z_dim'], generator=g_z) * 2 - 1  # U[-1, 1]; no truncation"]
        inputs = "contract (this JSON as a dict), seed, n"
    else:
        prior = {"prior": "normal", "truncation": TRUNCATION}
        draw = ["z = torch.randn(n, contract['z_dim'], generator=g_z)",
                "if t is not None:  # the truncation trick: redraw what lies outside [-t, t]",
                "    outside = z.abs() > t",
                "    while outside.any():",
                "        z[outside] = torch.randn(int(outside.sum()), generator=g_z)",
                "        outside = z.abs() > t"]
        inputs = "contract (this JSON as a dict), seed, n, t (None: no truncation)"
    return {
        **prior,
        "gancli_sample_seed": {
            "about": "the z and labels gancli sample --seed seed -n n [--truncation t] feeds G, in image order "
                     "(without --class, --attrs, --interp or a truncation sweep): two CPU torch.Generators, one "
                     "for z, one for labels",
            "inputs": inputs,
            "label_seed_offset": LABEL_SEED_OFFSET,
            "python": [
                "import torch",
                "g_z = torch.Generator().manual_seed(seed)",
                f"g_labels = torch.Generator().manual_seed((seed + {LABEL_SEED_OFFSET}) % 2**63)",
                *draw,
                *labels,
            ],
        },
    }


def generator_contract(*, fmt: str, file: str, usage: str, signature: Signature, model_config: ModelConfig,
                       source: dict[str, Any], labels: dict[str, Any], facts: dict[str, Any],
                       verified: dict[str, Any], baked_in: list[str]) -> dict[str, Any]:
    return {
        "contract": CONTRACT_VERSION,
        "kind": "generator",
        **_common(fmt, file, usage, signature, model_config, source, facts),
        "z_dim": model_config.z_dim,
        "labels": labels,
        "to_uint8": TO_UINT8,
        "sampling": sampling_section(labels["kind"], model_config.z_dist or "normal"),
        "baked_in": baked_in,
        "verified": verified,
    }


def translator_contract(*, fmt: str, file: str, usage: str, signature: Signature, model_config: ModelConfig,
                        source: dict[str, Any], direction: str, facts: dict[str, Any], verified: dict[str, Any],
                        baked_in: list[str]) -> dict[str, Any]:
    return {
        "contract": CONTRACT_VERSION,
        "kind": "translator",
        "direction": direction,
        **_common(fmt, file, usage, signature, model_config, source, facts),
        "input_images": {
            "from_uint8": "x = uint8 / 127.5 - 1, NHWC -> NCHW (gancli.data.base.to_float)",
            "how_gancli_reads_files": "RGB, the centre square of the short side, Lanczos-resized to resolution",
            "size": "the resolution it was trained at; the network is fully convolutional, but the export "
                    "fixes H and W",
        },
        "to_uint8": TO_UINT8,
        "baked_in": baked_in,
        "verified": verified,
    }


def _common(fmt: str, file: str, usage: str, signature: Signature, model_config: ModelConfig,
            source: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": fmt,
        "file": file,
        "usage": usage,
        "gancli_version": __version__,
        **facts,  # torch_version, opset (ONNX)
        "source": source,
        "model": model_config.name,
        "resolution": model_config.res,
        "channels": model_config.channels,
        "inputs": [spec.to_dict() for spec in signature.inputs],
        "output": {**signature.output.to_dict(), "layout": "NCHW", "range": [-1.0, 1.0]},
        "batch": "dynamic: N is any size >= 1, the first axis of every input and of the output",
        "device": "CPU, float32",
    }
