"""The one table of defaults: every model field is a ``gancli train`` option, configs from before
TrainConfig held a ModelConfig still load, and values are checked once."""
import dataclasses

import pytest
import typer.main

from gancli.config import MODEL_OPTIONS, OWNED_FIELDS, ModelConfig, TrainConfig
from gancli.errors import GancliError


def _train_options() -> set[str]:
    from gancli.cli.main import app

    command = typer.main.get_command(app).commands["train"]
    return {p.name for p in command.params}


def test_every_config_field_is_a_train_option():
    options = _train_options()
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)} - {"name", "channels", "n_classes", "n_attrs", "revision"}
    assert model_fields <= options, model_fields - options
    assert "model" in options  # ModelConfig.name
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"model", "owned"}
    assert train_fields <= options, train_fields - options
    assert set(OWNED_FIELDS) <= options
    assert set(MODEL_OPTIONS) <= options


def test_help_shows_defaults_read_from_the_dataclasses_and_presets():
    from typer.testing import CliRunner

    from gancli.cli.main import app

    output = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "300"}).stdout
    text = " ".join(output.replace("│", " ").split())  # rich may wrap a help text inside its box
    assert "Channel multiplier [sagan: 64, quick: 8, began: 32, ebgan: 32, cyclegan-quick: 16]" in text
    assert "Latent size [sagan: 128, began: 64, ebgan: 64]" in text
    assert "Spectral norm in D (the same as --d-norm sn / none) [on]" in text
    assert "Keep an EMA of G's weights [sagan: on, sngan-resnet: off," in text
    assert "[sagan: 100000, quick: 1600, cyclegan: 200000, cyclegan-quick: 1800]" in text


def test_model_options_round_trip_through_flat_options():
    cfg = TrainConfig.from_options({"model": "dcgan", "cond_mode": "concat", "sn_g": False, "init": "normal",
                                    "attn_pool": False, "sn_target": 2.0, "shared_dim": 64, "hier": False,
                                    "lr_g": 2e-4})
    assert cfg.preset == "quick" and cfg.model.name == "dcgan" and cfg.model.ch == 8 and cfg.model.d_ch == 24
    assert (cfg.model.cond_mode, cfg.model.sn_g, cfg.model.init, cfg.model.attn_pool) == ("concat", False, "normal", False)
    assert TrainConfig.from_flat(cfg.options()) == cfg
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(GancliError, match="unknown training options: colour"):
        TrainConfig.from_flat({"colour": "red"})


def test_a_flat_train_config_from_gancli_0_1_loads():
    old = {"preset": "quick", "dataset": "shapes", "model": "sagan", "res": 32, "ch": 8, "d_ch": 24, "z_dim": 128,
           "attn_res": None, "loss": "hinge", "steps": 1600, "dry_run": False}
    cfg = TrainConfig.from_dict(old)
    assert cfg.model == ModelConfig(name="sagan", res=32, ch=8, d_ch=24, z_dim=128, revision=1)
    assert cfg.steps == 1600 and cfg.method == "gan"


def test_a_model_config_with_the_removed_extra_field_loads():
    assert ModelConfig.from_dict({"name": "sngan", "extra": {}}).name == "sngan"
    with pytest.raises(GancliError, match="unknown fields: colour"):
        ModelConfig.from_dict({"colour": 1})


@pytest.mark.parametrize("options, message", [
    ({"sn_target": 0.0}, "--sn-target must be a positive number"),
    ({"shared_dim": 0}, "--shared-dim must be positive"),
    ({"res": 48}, "unsupported resolution 48"),
    ({"gp_weight": -1.0}, "--gp-weight must be >= 0"),
    ({"eval_metrics": []}, "--eval-metrics takes a comma list"),
])
def test_bad_values_are_refused_once(options, message):
    with pytest.raises(GancliError, match=message):
        TrainConfig.from_options(options).validate()


def test_bad_names_are_refused_by_their_registries():
    from gancli.training import check_names

    for options, message in (({"method": "began2"}, "unknown method 'began2'; choose one of: gan"),
                             ({"loss": "hing"}, "unknown loss 'hing'"),
                             ({"model": "sagn"}, "unknown model 'sagn'"),
                             ({"eval_metrics": ["fid", "isc"]}, "unknown metric 'isc'; choose one of: fid, is, kid, prc")):
        with pytest.raises(GancliError, match=message):
            check_names(TrainConfig.from_options(options).validate())


def test_init_and_cond_mode_are_checked_against_the_model():
    from gancli.models import resolve_model

    with pytest.raises(GancliError, match="unknown init 'glorot'"):
        resolve_model(ModelConfig(init="glorot"))
    with pytest.raises(GancliError, match="model sagan supports cond_mode proj, not 'concat'"):
        resolve_model(ModelConfig(n_classes=3, cond_mode="concat"))


def test_hparams_set_lr_betas_n_dis_and_decay_and_explicit_options_win():
    from gancli.config import HPARAMS, hparams_options

    assert hparams_options("D") == {"lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5, "beta2": 0.9, "n_dis": 5, "lr_decay": 0.0}
    assert hparams_options("report-C") == {"lr_g": 2e-3, "lr_d": 2e-3, "beta1": 0.5, "beta2": 0.999, "n_dis": 1,
                                           "lr_decay": 0.0}
    assert set(HPARAMS) == {"A", "B", "C", "D", "E", "F", "report-A", "report-B", "report-C"}
    cfg = TrainConfig.from_options({"preset": "sagan", "hparams": "F", "beta2": 0.99})
    assert (cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2, cfg.n_dis) == (1e-3, 1e-3, 0.9, 0.99, 5)
    assert cfg.to_dict()["hparams"] == "F"  # config.json records the setting and the values
    # a preset's own setting, overridden by --hparams
    assert TrainConfig.from_options({"preset": "bn"}).lr_g == 1e-3
    assert TrainConfig.from_options({"preset": "bn", "hparams": "B"}).lr_g == 1e-4
    # a setting replaces a preset's optimiser whole: n_dis and the decay included
    resnet = TrainConfig.from_options({"preset": "sngan-resnet", "hparams": "report-A"})
    assert (resnet.lr_g, resnet.beta1, resnet.beta2, resnet.n_dis, resnet.lr_decay) == (1e-3, 0.5, 0.9, 1, 0.0)
    # ... but WGAN-GP keeps its n_critic 5 (pinned by the preset), unless --n-dis says otherwise
    assert TrainConfig.from_options({"preset": "wgan-gp", "hparams": "B"}).n_dis == 5
    assert TrainConfig.from_options({"preset": "wgan-gp", "hparams": "B", "n_dis": 2}).n_dis == 2
    with pytest.raises(GancliError, match="unknown hparams 'Z'; choose one of: A, B"):
        TrainConfig.from_options({"hparams": "Z"})


def test_the_report_rows_share_one_footing():
    """The six rows of the SNGAN reproducibility report: report-A (lr 1e-3, betas (0.5, 0.9), constant
    lr), no EMA, one D step but WGAN-GP's five; the gan rows on the standard CNN with the standard loss."""
    rows = {name: TrainConfig.from_options({"preset": name}) for name in ("sngan", "wgan-gp", "bn", "ln", "began", "ebgan")}
    for name, cfg in rows.items():
        assert (cfg.hparams, cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2, cfg.lr_decay, cfg.ema) == (
            "report-A", 1e-3, 1e-3, 0.5, 0.9, 0.0, False), name
        assert cfg.n_dis == (5 if name == "wgan-gp" else 1), name
    for name in ("sngan", "bn", "ln"):
        assert (rows[name].model.name, rows[name].loss, rows[name].batch_size) == ("cnn", "ns", 64)
    assert [rows[n].model.d_norm for n in ("sngan", "wgan-gp", "bn", "ln")] == ["sn", "none", "bn", "ln"]


def test_paper_presets():
    sngan = TrainConfig.from_options({"preset": "sngan-resnet"})
    assert (sngan.lr_g, sngan.lr_d, sngan.beta1, sngan.beta2, sngan.n_dis, sngan.lr_decay, sngan.batch_size) == (
        2e-4, 2e-4, 0.0, 0.9, 5, 1.0, 64)
    assert (sngan.model.name, sngan.loss) == ("sngan", "hinge")
    biggan = TrainConfig.from_options({"preset": "biggan"})
    assert (biggan.beta2, biggan.n_dis, biggan.ema_decay, biggan.ema_start, biggan.ortho_reg) == (
        0.999, 2, 0.9999, 20000, 1e-4)
    assert biggan.model.name == "biggan"


def test_ema_start_copies_g_until_then():
    import torch
    from torch import nn

    from gancli.training.ema import EMA

    net = nn.Linear(2, 2)
    ema = EMA(net, decay=0.9, start=3)
    for step in range(3):
        with torch.no_grad():
            net.weight.add_(1.0)
        ema.update(net, step)
        torch.testing.assert_close(ema.model.weight, net.weight, rtol=0, atol=0)
    before = ema.model.weight.clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net, 3)  # d = min(0.9, 4 / 13)
    d = 4 / 13
    torch.testing.assert_close(ema.model.weight, d * before + (1 - d) * net.weight)


def test_no_sn_d_wins_over_a_preset_s_d_norm():
    assert TrainConfig.from_options({"preset": "sngan", "sn_d": False}).model.d_norm == "none"
    assert TrainConfig.from_options({"preset": "bn", "sn_d": True}).model.d_norm == "sn"
    assert TrainConfig.from_options({"preset": "bn", "sn_d": False, "d_norm": "ln"}).model.d_norm == "ln"


def test_biggan_without_sn_in_g_reloads_its_own_weights():
    from gancli.models import build_network, resolve_model

    cfg = resolve_model(ModelConfig(name="biggan", res=32, ch=4, n_classes=3, sn_g=False))
    build_network(cfg, "G").load_state_dict(build_network(cfg, "G").state_dict())
