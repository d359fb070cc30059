"""--method ebgan: the energy, the margin loss and the pulling-away term by hand; a few real steps
that log them; exact resume."""
import json
import math

import pytest
import torch

from gancli.checkpoint import load_checkpoint
from gancli.errors import GancliError
from gancli.methods import METHODS, load_run_checkpoint
from gancli.methods.ebgan import EBGANMethod, energy, margin_d_loss, pulling_away
from gancli.training import load_resume, resume_config, train
from tests.methods.conftest import assert_same, changed_networks


def test_energy_is_the_per_sample_mean_squared_error():
    x = torch.zeros(2, 1, 2, 2)
    recon = torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, -2.0]).view(2, 1, 2, 2)
    assert energy(x, recon).tolist() == pytest.approx([30 / 4, 4 / 4])


@pytest.mark.parametrize("margin,expected", [
    (1.0, 0.2 + (0.5 + 0.0) / 2),  # [1 - 0.5]+ = 0.5, [1 - 1.5]+ = 0
    (2.0, 0.2 + (1.5 + 0.5) / 2),
    (0.0, 0.2),  # margin 0: fakes add nothing
])
def test_margin_loss_on_hand_made_energies(margin, expected):
    real, fake = torch.tensor([0.1, 0.3]), torch.tensor([0.5, 1.5])
    assert float(margin_d_loss(real, fake, margin)) == pytest.approx(expected)


@pytest.mark.parametrize("s,expected", [
    (torch.diag(torch.tensor([1.0, 2.0, 3.0])), 0.0),  # orthogonal
    (torch.tensor([[1.0, 1.0], [2.0, 2.0], [0.5, 0.5]]), 1.0),  # parallel (any length)
    (torch.tensor([[1.0, 0.0], [math.cos(math.pi / 3), math.sin(math.pi / 3)]]), 0.25),  # 60 degrees: cos^2
    (torch.tensor([[1.0, 0.0], [-3.0, 0.0]]), 1.0),  # opposite: cos^2 = 1
    (torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), 1 / 3),  # pairs 0, 1/2, 1/2, twice each, over 3 * 2
])
def test_pulling_away_on_embeddings_with_known_angles(s, expected):
    assert float(pulling_away(s)) == pytest.approx(expected, abs=1e-6)


def test_pulling_away_is_zero_for_one_sample_and_differentiable():
    assert float(pulling_away(torch.ones(1, 4))) == 0.0
    s = torch.randn(5, 3, requires_grad=True)
    pulling_away(s).backward()
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0


@pytest.mark.parametrize("options,match", [
    ({"model": "sagan", "d_norm": None}, "needs a model whose D is an autoencoder"),
    ({"cond": True}, "unconditional"),
    ({"split_d": True}, "--split-d"),
])
def test_bad_options_are_one_clear_error(ae_cfg, options, match):
    with pytest.raises(GancliError, match=match):
        METHODS.get("ebgan").check_config(ae_cfg("ebgan", "bad", **options))


@pytest.mark.parametrize("res", [28, 32])
def test_one_step_changes_g_and_d(ae_cfg, res):
    assert changed_networks(ae_cfg("ebgan", "step", res=res)) == {"G", "D"}


@pytest.mark.parametrize("res", [28, 32])
def test_trains_and_logs_energies_and_the_pulling_away_term(ae_cfg, tmp_path, res):
    cfg = ae_cfg("ebgan", f"run{res}", res=res)
    assert (cfg.margin, cfg.pt_weight, cfg.lr_g, cfg.beta1, cfg.beta2, cfg.ema) == (1.0, 0.1, 1e-3, 0.5, 0.9, False)
    train(cfg, show_progress=False)
    lines = [json.loads(line) for line in (tmp_path / f"run{res}" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4]
    assert set(lines[0]) == {"step", "d_loss", "g_loss", "energy_real", "energy_fake", "pt", "lr_g", "lr_d",
                             "img_s", "time"}
    for line in lines:
        # L_D = mean D(x) + mean [m - D(G(z))]+ >= D(x) + [m - mean D(G(z))]+ (Jensen), equal while all are below m
        assert line["d_loss"] >= line["energy_real"] + max(1.0 - line["energy_fake"], 0.0) - 1e-6
        assert 0.0 <= line["pt"] <= 1.0 and line["g_loss"] > 0
    ckpt = load_run_checkpoint(tmp_path / f"run{res}")
    assert ckpt.method is EBGANMethod and ckpt.state["method_state"] == {}


def test_g_loss_is_the_fake_energy_plus_the_weighted_pulling_away_term(ae_cfg):
    """Same seed, same first step up to G's loss: only lambda_PT * f_PT differs."""
    from gancli.training import Trainer

    stats = {w: Trainer(ae_cfg("ebgan", f"pt{w}", pt_weight=w), show_progress=False).train_step() for w in (0.0, 0.5)}
    assert float(stats[0.0]["pt"]) == pytest.approx(float(stats[0.5]["pt"]), rel=1e-6) and float(stats[0.0]["pt"]) > 0
    assert float(stats[0.5]["g_loss"] - stats[0.0]["g_loss"]) == pytest.approx(0.5 * float(stats[0.0]["pt"]), rel=1e-4)
    assert float(stats[0.0]["d_loss"]) == float(stats[0.5]["d_loss"])


def test_resume_is_bit_exact(ae_cfg, tmp_path):
    straight = train(ae_cfg("ebgan", "straight", steps=6, ckpt_every=3), show_progress=False)
    train(ae_cfg("ebgan", "split", steps=3, ckpt_every=3), show_progress=False)
    state, run_dir = load_resume(str(tmp_path / "split"))
    resumed = train(resume_config(state, {"steps": 6}), show_progress=False, resume_state=state, resume_dir=run_dir)
    a, b = load_checkpoint(straight.last_checkpoint), load_checkpoint(resumed.last_checkpoint)
    for part in ("networks", "optimizers", "method_state"):
        assert_same(a[part], b[part], part)
