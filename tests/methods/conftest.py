"""Tiny BEGAN / EBGAN runs on the built-in shapes data."""
import pytest
import torch

from gancli.config import TrainConfig


@pytest.fixture
def ae_cfg(tmp_path, monkeypatch):
    """``ae_cfg(preset, name, **options) -> TrainConfig``: a 4-step, width-8 run of the preset on
    64 shapes images, on the CPU, into tmp_path/name. The shapes data has classes; both methods are
    unconditional, so the automatic --cond leaves them out, and the model's D norm defaults to none."""
    import gancli.data.base as data_base

    if 28 not in data_base.VALID_RESOLUTIONS:  # the shapes renderer draws 28 px; the data layer's list lacks it
        monkeypatch.setattr(data_base, "VALID_RESOLUTIONS", tuple(sorted({*data_base.VALID_RESOLUTIONS, 28})))

    def make(preset, name, **options):
        return TrainConfig.from_options({"preset": preset, "dataset": "shapes", "res": 32, "steps": 4, "data_size": 64,
                                         "batch_size": 8, "ch": 8, "device": "cpu",
                                         "log_every": 1, "sample_every": 100, "ckpt_every": 100,
                                         "out": str(tmp_path / name), **options})
    return make


def assert_same(a, b, where="state"):
    """Nested dicts / lists of tensors and plain values are bit-identical."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        torch.testing.assert_close(b, a, rtol=0, atol=0, msg=where)
    else:
        assert a == b, where


def changed_networks(cfg):
    """Names of the method's networks whose weights one train step changes."""
    from gancli.training import Trainer

    trainer = Trainer(cfg, show_progress=False)
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in trainer.method.nets.items()}
    trainer.train_step()
    return {name for name, net in trainer.method.nets.items()
            if any(not torch.equal(p, q) for p, q in zip(net.parameters(), before[name]))}
