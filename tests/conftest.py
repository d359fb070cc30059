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
