"""--method began: k_t's update and M_global by hand, a few real steps that log them, exact resume
(networks, optimizers, k_t, the lr-halving state), and the commands that read a BEGAN run."""
import json

import pytest
import torch
from typer.testing import CliRunner

from gancli.checkpoint import load_checkpoint
from gancli.errors import GancliError
from gancli.methods import METHODS, load_run_checkpoint
from gancli.methods.began import BEGANMethod, k_update, m_global, reconstruction_loss, stall_update
from gancli.training import load_resume, resume_config, train
from tests.methods.conftest import assert_same, changed_networks


# ------------------------------------------------------------------ formulas
@pytest.mark.parametrize("k,real,fake,gamma,lambda_k,expected", [
    (0.5, 0.4, 0.1, 0.5, 0.1, 0.51),  # 0.5 + 0.1 (0.5 * 0.4 - 0.1)
    (0.5, 0.4, 0.3, 0.5, 0.1, 0.49),  # 0.5 + 0.1 (0.2 - 0.3)
    (0.999, 1.0, 0.0, 0.5, 1.0, 1.0),  # 1.499 clipped at 1
    (0.0, 0.1, 0.5, 0.5, 0.001, 0.0),  # -0.00045 clipped at 0
    (0.3, 0.2, 0.1, 0.5, 0.0, 0.3),  # lambda_k 0: k stays
])
def test_k_update_by_hand(k, real, fake, gamma, lambda_k, expected):
    assert k_update(k, real, fake, gamma, lambda_k) == pytest.approx(expected, abs=1e-12)
    as_tensor = k_update(torch.tensor(k, dtype=torch.float64), torch.tensor(real, dtype=torch.float64),
                         torch.tensor(fake, dtype=torch.float64), gamma, lambda_k)
    assert as_tensor.shape == () and float(as_tensor) == pytest.approx(expected, abs=1e-12)


def test_m_global_by_hand():
    assert m_global(0.4, 0.1, 0.5) == pytest.approx(0.5)  # 0.4 + |0.2 - 0.1|
    assert m_global(0.4, 0.3, 0.5) == pytest.approx(0.5)  # 0.4 + |0.2 - 0.3|
    assert m_global(0.4, 0.2, 0.5) == pytest.approx(0.4)  # at equilibrium: L(x) alone
    assert float(m_global(torch.tensor(1.0), torch.tensor(0.0), 1.0)) == pytest.approx(2.0)


def test_reconstruction_loss_is_the_mean_absolute_error():
    x = torch.zeros(2, 1, 2, 2)
    recon = torch.tensor([1.0, -2.0, 3.0, -4.0, 0.0, 0.0, 0.0, 2.0]).view(2, 1, 2, 2)
    assert float(reconstruction_loss(x, recon)) == pytest.approx(12.0 / 8)


def test_stall_update_counts_steps_since_the_last_new_low():
    best, since, counts = float("inf"), 0, []
    for value in [1.0, 0.9, 0.95, 0.92, 0.91, 0.8, 0.85]:
        best, since = stall_update(value, best, since)
        counts.append(since)
    assert best == 0.8 and counts == [0, 0, 1, 2, 3, 0, 1]


# ------------------------------------------------------------------ checks
@pytest.mark.parametrize("options,match", [
    ({"model": "dcgan", "d_norm": None}, "needs a model whose D is an autoencoder"),
    ({"cond": True}, "unconditional.*--no-cond"),
    ({"n_dis": 2}, "--n-dis must be 1"),
    ({"reuse_fake": True}, "--reuse-fake is an option of --method gan"),
    ({"ortho_reg": 1e-4}, "--ortho-reg"),
    ({"lr_halving": 100, "lr_decay": 0.5}, "--lr-halving and --lr-decay do not combine"),
])
def test_bad_options_are_one_clear_error_and_write_nothing(ae_cfg, tmp_path, options, match):
    cfg = ae_cfg("began", "bad", **options)
    with pytest.raises(GancliError, match=match):
        METHODS.get("began").check_config(cfg)
    with pytest.raises(GancliError, match=match):
        train(cfg, show_progress=False)
    assert not (tmp_path / "bad").exists()


def test_labelled_data_with_cond_on_auto_is_refused_or_trained_unconditionally(ae_cfg, tmp_path):
    """The shapes data has classes and --cond defaults to on: either the run is made unconditional
    (training.prepare asking the method) or it stops, before writing, asking for --no-cond."""
    cfg = ae_cfg("began", "auto", cond=None, steps=1)
    try:
        result = train(cfg, show_progress=False)
    except GancliError as err:
        assert "--no-cond" in str(err) and not (tmp_path / "auto").exists()
    else:
        assert load_checkpoint(result.last_checkpoint)["model_config"]["n_classes"] == 0


# ------------------------------------------------------------------ training
@pytest.mark.parametrize("res", [28, 32])
def test_one_step_changes_g_and_d(ae_cfg, res):
    assert changed_networks(ae_cfg("began", "step", res=res)) == {"G", "D"}


@pytest.mark.parametrize("res", [28, 32])
def test_trains_and_logs_k_t_and_m_global_as_the_paper_defines_them(ae_cfg, tmp_path, res):
    cfg = ae_cfg("began", f"run{res}", res=res, lambda_k=0.05)
    assert (cfg.gamma, cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2, cfg.ema) == (0.5, 1e-3, 1e-3, 0.5, 0.9, False)
    train(cfg, show_progress=False)
    lines = [json.loads(line) for line in (tmp_path / f"run{res}" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4]
    assert set(lines[0]) == {"step", "d_loss", "g_loss", "k_t", "m_global", "loss_real", "loss_fake",
                             "lr_g", "lr_d", "img_s", "time"}
    k = 0.0  # k_0
    for line in lines:
        assert line["d_loss"] == pytest.approx(line["loss_real"] - k * line["loss_fake"], rel=1e-5, abs=1e-7)
        k = min(max(k + 0.05 * (0.5 * line["loss_real"] - line["g_loss"]), 0.0), 1.0)
        assert line["k_t"] == pytest.approx(k, rel=1e-4, abs=1e-7)
        assert line["m_global"] == pytest.approx(line["loss_real"] + abs(0.5 * line["loss_real"] - line["g_loss"]),
                                                 rel=1e-5)
    assert lines[-1]["k_t"] > 0


def test_resume_is_bit_exact_with_k_t_and_lr_halving(ae_cfg, tmp_path):
    options = {"steps": 6, "ckpt_every": 3, "lr_halving": 1, "lambda_k": 0.05}
    straight = train(ae_cfg("began", "straight", **options), show_progress=False)
    train(ae_cfg("began", "split", **{**options, "steps": 3}), show_progress=False)
    state, run_dir = load_resume(str(tmp_path / "split"))
    assert state["method"] == "began" and float(state["method_state"]["k_t"]) > 0
    resumed = train(resume_config(state, {"steps": 6}), show_progress=False, resume_state=state, resume_dir=run_dir)

    a, b = load_checkpoint(straight.last_checkpoint), load_checkpoint(resumed.last_checkpoint)
    for part in ("networks", "optimizers", "method_state"):
        assert_same(a[part], b[part], part)
    assert sorted(a["networks"]) == ["D", "G"] and a["ema"] == {}
    # the lr a step used, by step: halved at the start of each step that follows one without a new
    # low of the running M_global (with --lr-halving 1), and equal for G and D
    lines = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    best, since, lr = float("inf"), 0, 1e-3
    running = None
    for line in lines:
        if since >= 1:
            lr, since = lr / 2, 0
        assert line["lr_g"] == line["lr_d"] == pytest.approx(lr, rel=1e-12)
        running = line["m_global"] if running is None else 0.99 * running + 0.01 * line["m_global"]
        best, since = stall_update(running, best, since)
    assert lines[-1]["lr_g"] < 1e-3  # it did halve in this run


def test_lr_halving_may_change_on_resume(ae_cfg, tmp_path):
    train(ae_cfg("began", "run", steps=2, ckpt_every=2), show_progress=False)
    state, run_dir = load_resume(str(tmp_path / "run"))
    cfg = resume_config(state, {"steps": 4, "lr_halving": 1})
    assert cfg.lr_halving == 1
    train(cfg, show_progress=False, resume_state=state, resume_dir=run_dir)


# ------------------------------------------------------------------ commands on a BEGAN run
def test_sample_plot_and_sn_check_read_a_began_run(ae_cfg, tmp_path):
    from gancli.cli.main import app
    from gancli.config import SnRequest
    from gancli.inspect.run_info import plot_run
    from gancli.inspect.sn_check import sn_check

    train(ae_cfg("began", "run", steps=2), show_progress=False)
    ckpt = load_run_checkpoint(tmp_path / "run")
    assert ckpt.method is BEGANMethod and ckpt.network_names == ("G", "D")
    D, _ = ckpt.network("D")
    assert D.encode(torch.zeros(1, 3, 32, 32)).shape == (1, 64)

    runner = CliRunner()
    result = runner.invoke(app, ["sample", str(tmp_path / "run"), "-n", "4", "--out", str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s.png").is_file()

    _, drawn = plot_run(tmp_path / "run")
    assert {"k_t", "m_global", "d_loss", "loss_real"} <= set(drawn)

    report = sn_check(tmp_path / "run", SnRequest(n=4, iters=20))
    d = report["nets"]["D"]
    # no SN anywhere in D: each row says so (as "not normalized", or exempt: no SN by design)
    assert d["layers"] and not any(row["normalized"] for row in d["layers"]) and report["drifted"] == []
    assert all(row["exempt"] or row["name"] in report["not_normalized"] for row in d["layers"])
    assert "autoencoder D" in d["not_covered"][0] and any("upsampling" in part for part in d["not_covered"])
    assert set(d["gradient_norms"]) == {"real", "generated", "interpolated"}
    assert all(0 < value < float("inf") for value in d["gradient_norms"].values())
    result = runner.invoke(app, ["sn-check", str(tmp_path / "run"), "--net", "d", "-n", "2", "--iters", "5"])
    assert result.exit_code == 0, result.output
    assert "D.encoder.fc" in result.stdout or "encoder.fc" in result.stdout


@pytest.mark.parametrize("preset", ["began", "ebgan"])
def test_training_draws_z_from_the_uniform_prior(ae_cfg, preset):
    """Berthelot et al. 2017 (and EBGAN's reference code) draw z ~ U[-1, 1]: every z G sees in a step."""
    from gancli.training import Trainer

    trainer = Trainer(ae_cfg(preset, "z"), show_progress=False)
    assert trainer.model_cfg.z_dist == "uniform" and trainer.model_cfg.revision == 2
    seen = []
    trainer.method.nets["G"].register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    trainer.train_step()
    z = torch.cat(seen)
    assert len(seen) == 2 and z.shape[1] == 64  # the D step's fakes and the G step's
    assert z.min() >= -1.0 and z.max() <= 1.0  # N(0, 1) would put a third of 1,024 values outside
    assert z.std().item() == pytest.approx((1 / 3) ** 0.5, abs=0.05)  # U[-1, 1]: variance 1/3


def test_sampling_a_began_run_uses_its_prior_and_refuses_truncation(ae_cfg, tmp_path):
    from gancli.cli.main import app
    from gancli.config import SampleRequest
    from gancli.sampling import draw_latents, load_generator, sample, seeded_generators

    train(ae_cfg("began", "run", steps=2), show_progress=False)
    gen = load_generator(tmp_path / "run")
    samples = sample(gen, SampleRequest(n=6, seed=3, batch_size=4))
    expected = draw_latents(6, gen.model_config, None, seeded_generators(3)[0])
    torch.testing.assert_close(samples.z, expected, rtol=0, atol=0)  # the same draw, in pieces of 4
    assert samples.z.min() >= -1.0 and samples.z.max() <= 1.0
    result = CliRunner().invoke(app, ["sample", str(tmp_path / "run"), "--truncation", "0.5", "--out",
                                      str(tmp_path / "t.png")])
    assert result.exit_code == 1 and "z ~ U[-1, 1]" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "t.png").exists()
