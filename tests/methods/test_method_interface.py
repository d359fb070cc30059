"""The training-method interface: a method registered from outside the package trains, logs its own
statistics, checkpoints its own state and resumes bit-exactly, and every command loads its networks."""
import json

import pytest
import torch

from gancli.checkpoint import load_checkpoint
from gancli.config import TrainConfig
from gancli.methods import METHODS, Method, load_run_checkpoint
from gancli.models import build_network
from gancli.training import load_resume, resume_config, train


class MeanMatching(Method):
    """A toy method: G alone, trained so that the mean of its images matches the mean of a real
    batch; it keeps a running average of its loss as its own state (like BEGAN's k_t)."""

    name = "mean-matching"
    stat_labels = {"match_loss": "match"}

    @classmethod
    def network_names(cls, model_cfg):
        return ("G",)

    @classmethod
    def build_network(cls, model_cfg, name):
        return build_network(model_cfg, name)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.optimizers = {"g": torch.optim.Adam(self.nets["G"].parameters(), lr=ctx.cfg.lr_g, betas=(0.0, 0.9))}
        self.running = torch.zeros(())

    def train_step(self):
        ctx = self.ctx
        real, _ = ctx.next_batch()
        z = torch.randn(len(real), ctx.model_cfg.z_dim, device=ctx.device)
        fake = self.train_nets["G"](z, ctx.fake_labels(len(real)))
        loss = (fake.mean(0) - real.mean(0)).pow(2).mean()
        ctx.backward_step(loss, self.optimizers["g"])
        self.running = 0.9 * self.running + 0.1 * loss.detach()
        return {"match_loss": loss.detach(), "running": self.running.clone()}

    def state_dict(self):
        return {"running": self.running}

    def load_state_dict(self, state):
        self.running = state["running"].clone()


@pytest.fixture
def toy_method(monkeypatch):
    monkeypatch.setitem(METHODS._items, MeanMatching.name, MeanMatching)
    return MeanMatching


def _cfg(tmp_path, name, **kw):
    return TrainConfig.from_flat({"method": "mean-matching", "ch": 4, "batch_size": 8, "data_size": 64,
                                  "log_every": 1, "sample_every": 3, "ckpt_every": 3, "device": "cpu", "lr_g": 2e-3,
                                  "out": str(tmp_path / name), **kw})


def test_a_registered_method_trains_logs_and_resumes_exactly(tmp_path, toy_method):
    straight = train(_cfg(tmp_path, "straight", steps=6), show_progress=False)
    train(_cfg(tmp_path, "split", steps=3), show_progress=False)
    state, run_dir = load_resume(str(tmp_path / "split"))
    assert state["method"] == "mean-matching" and sorted(state["networks"]) == ["G"]
    assert float(state["method_state"]["running"]) > 0
    resumed = train(resume_config(state, {"steps": 6}), show_progress=False, resume_state=state, resume_dir=run_dir)

    a, b = load_checkpoint(straight.last_checkpoint), load_checkpoint(resumed.last_checkpoint)
    for part in ("networks", "ema"):
        for key, value in a[part]["G"].items():
            torch.testing.assert_close(b[part]["G"][key], value, rtol=0, atol=0)
    assert float(a["method_state"]["running"]) == float(b["method_state"]["running"])
    # the method's own statistics and its one learning rate reach metrics.jsonl, nothing of the GAN's
    lines = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert set(lines[0]) == {"step", "match_loss", "running", "lr_g", "img_s", "time"}
    # running = 0.9 running + 0.1 loss, from 0: the logged values follow the recurrence
    expected = 0.0
    for line in lines:
        expected = 0.9 * expected + 0.1 * line["match_loss"]
        assert line["running"] == pytest.approx(expected, rel=1e-5)
    assert lines[-1]["match_loss"] < lines[0]["match_loss"]


def test_every_command_loads_the_method_s_networks(tmp_path, toy_method):
    from gancli.config import SampleRequest
    from gancli.inspect.run_info import checkpoint_info, plot_run
    from gancli.sampling import load_generator, sample

    train(_cfg(tmp_path, "run", steps=3), show_progress=False)
    ckpt = load_run_checkpoint(tmp_path / "run")
    assert ckpt.method is MeanMatching and ckpt.network_names == ("G",)
    with pytest.raises(Exception, match="has no network 'D'"):
        ckpt.network("D")
    gen = load_generator(tmp_path / "run")
    assert gen.ema and gen.step == 3
    images = sample(gen, SampleRequest(n=4, seed=0)).images
    assert images.shape == (4, 32, 32, 3) and images.dtype == torch.uint8
    info = checkpoint_info(tmp_path / "run")
    assert info["method"] == "mean-matching" and "params_G" in info and "params_D" not in info
    _, drawn = plot_run(tmp_path / "run")
    assert drawn == {"match_loss": 3, "running": 3}


def test_the_progress_line_shows_a_method_s_statistics():
    from gancli.training.progress import format_stats

    record = {"step": 5, "match_loss": 0.25, "running": 0.5, "lr_g": 1e-4, "img_s": 120.0, "time": 3.0}
    assert format_stats(record, MeanMatching.stat_labels) == "120 img/s  match 0.250  running 0.500"
    gan = {"d_loss": 1.5, "g_loss": 0.25, "d_real": 0.123, "d_fake": -0.456, "lr_g": 1e-4, "img_s": 97.0}
    from gancli.methods.gan import GANMethod

    assert (format_stats(gan, GANMethod.stat_labels, GANMethod.stat_formats)
            == "97 img/s  D 1.500  G 0.250  D(x) +0.12  D(G(z)) -0.46")


def test_a_checkpoint_of_an_unknown_method_is_one_clear_error(tmp_path, tiny_run):
    from gancli.checkpoint import save_checkpoint
    from gancli.errors import GancliError

    state = load_checkpoint(tiny_run / "checkpoints" / "last.pt")
    state["method"] = "stylegan9"
    save_checkpoint(tmp_path / "x.pt", state)
    with pytest.raises(GancliError, match="unknown method 'stylegan9'; choose one of: gan"):
        load_run_checkpoint(tmp_path / "x.pt")


def test_the_gan_method_runs_no_second_power_iteration_for_the_penalty(tmp_path, monkeypatch):
    """WGAN-GP's extra D forward (on interpolates) reuses the step's u, v: per iteration D's SN
    layers iterate exactly as often as under the hinge loss (once in the D step, once in G's)."""
    from torch.nn.utils.parametrizations import _SpectralNorm

    from gancli.training import Trainer

    calls = {"n": 0}
    original = _SpectralNorm._power_method

    def counting(self, *args, **kwargs):
        calls["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_SpectralNorm, "_power_method", counting)
    counts = {}
    for loss in ("hinge", "wgan-gp"):
        trainer = Trainer(TrainConfig.from_flat({"ch": 4, "batch_size": 4, "data_size": 16, "device": "cpu",
                                                 "loss": loss, "ema": False}), show_progress=False)
        d_layers = sum(isinstance(p, _SpectralNorm) for m in trainer.method.nets["D"].modules()
                       for plist in getattr(getattr(m, "parametrizations", None) or {}, "values", lambda: [])()
                       for p in plist)
        g_layers = sum(isinstance(p, _SpectralNorm) for m in trainer.method.nets["G"].modules()
                       for plist in getattr(getattr(m, "parametrizations", None) or {}, "values", lambda: [])()
                       for p in plist)
        calls["n"] = 0
        trainer.train_step()
        counts[loss] = calls["n"]
    # D step: G forward (G's layers) + one D forward; G step: G forward + D forward
    assert counts["hinge"] == 2 * g_layers + 2 * d_layers
    assert counts["wgan-gp"] == counts["hinge"]
