import os

import numpy as np
import pytest
import torch

# fake on-disk datasets, shared by the data, training and CLI tests
from tests.data.fake_datasets import (  # noqa: F401
    fake_celeba_root,
    fake_cifar_root,
    fake_flat_folder,
    fake_folder,
    fake_mnist_root,
)


def assert_uint8_images_close(actual, expected, max_fraction=0.01):
    """uint8 images (numpy arrays or CPU tensors) made by two *different* float computations of the
    same images: another batch size or composition, another kernel, a traced or exported copy, a
    re-computation in the test. Float results then differ in the last bits (the kernels' summation
    order depends on the batch, the CPU's vector width and the thread count), and a value that lands
    next to a rounding boundary moves one level. So: at most one level apart, on at most
    ``max_fraction`` of the values. Identical computations (same seed, same command twice, resume)
    compare bit for bit instead."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype == np.uint8, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    assert diff.max(initial=0) <= 1, f"values differ by up to {diff.max()} levels (at most 1 allowed)"
    changed = float((diff != 0).mean()) if diff.size else 0.0
    assert changed <= max_fraction, f"{changed:.2%} of the values differ (at most {max_fraction:.2%} allowed)"


def same_kernels_env(threads: int | None = None) -> dict[str, str]:
    """Environment variables for a subprocess whose numbers a test compares bit for bit with this
    process's: the same ATEN_CPU_CAPABILITY (torch's vector kernels; even torch.randn's values depend
    on it) and the same thread count (parallel kernels sum in an order that depends on it). Give
    ``threads`` only where the compared numbers do not depend on the thread count."""
    env = {"OMP_NUM_THREADS": str(torch.get_num_threads() if threads is None else threads)}
    if "ATEN_CPU_CAPABILITY" in os.environ:
        env["ATEN_CPU_CAPABILITY"] = os.environ["ATEN_CPU_CAPABILITY"]
    return env


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def write_tiny_run(run_dir, label_kind="class", model="sagan", step=7, ema=True, seed=0, label_frequencies=None):
    """A run directory with a real (untrained, but not trivial) checkpoint of a tiny 32 px model:
    config.json, metrics.jsonl and checkpoints/last.pt. CBN and projection tables get random values
    so that labels change the images. Returns the checkpoint path."""
    import json
    from pathlib import Path

    from gancli.checkpoint import save_checkpoint
    from gancli.config import ModelConfig
    from gancli.models import build_models, resolve_model

    torch.manual_seed(seed)
    n_classes, attrs = (8, []) if label_kind == "class" else (0, ["Male", "Smiling", "Young"] if label_kind == "attrs" else [])
    cfg = resolve_model(ModelConfig(name=model, res=32, ch=4, n_classes=n_classes, n_attrs=len(attrs)))
    G, D = build_models(cfg)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith((".gain.weight", ".bias.weight")):
                p.normal_(0, 0.5)
    G_ema = None
    if ema:
        G_ema = {k: (v + 0.01 * torch.randn_like(v)) if v.is_floating_point() and "running" not in k else v.clone()
                 for k, v in G.state_dict().items()}
    classes = ["circle", "square", "triangle", "ring", "plus", "circle-pair", "triangle-pair", "stripes"]
    if label_frequencies is None:
        label_frequencies = [1 / 8] * 8 if label_kind == "class" else [0.5] * len(attrs)
    dataset = {"name": "shapes" if label_kind != "attrs" else "celeba", "resolution": 32, "channels": 3,
               "label_kind": label_kind, "n_classes": n_classes,
               "class_names": classes if label_kind == "class" else [], "attr_names": attrs,
               "label_frequencies": label_frequencies if label_kind != "none" else [], "size": 96}
    state = {"gancli_version": "0.1.0", "model_config": cfg.to_dict(), "train_config": {"loss": "hinge", "steps": 10, "dataset": dataset["name"], "split": "train",
                                                                    "data_size": 96, "seed": 0, "res": 32},
             "dataset": dataset, "step": step, "method": "gan", "method_state": {},
             "networks": {"G": G.state_dict(), "D": D.state_dict()}, "ema": {"G": G_ema} if G_ema else {}}
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps({"model": cfg.to_dict(), "dataset": dataset}))
    (run_dir / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "d_loss": 1.5 - 0.1 * s, "g_loss": 0.5}) + "\n" for s in (2, 4, 6, 8)))
    return save_checkpoint(run_dir / "checkpoints" / "last.pt", state)


@pytest.fixture
def tiny_run(tmp_path):
    """A class-conditional tiny run directory (see ``write_tiny_run``)."""
    run = tmp_path / "runs" / "tiny"
    write_tiny_run(run)
    return run
