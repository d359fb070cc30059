"""A method's (or dataset's) own options live in their own registered dataclass
(``gancli.config.owned``), not in TrainConfig; on disk a config keeps them at the top level, in the
order gancli 0.2 wrote, so config.json and checkpoints do not change."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from gancli.config import OWNED_FIELDS, OWNED_OPTIONS, OwnedOptions, TrainConfig, owned_by, train_option_names
from gancli.config.owned import BeganOptions
from gancli.errors import GancliError

#: TrainConfig().to_dict()'s keys as gancli 0.2.0 wrote them (config.json, checkpoints)
KEYS_0_2 = ["preset", "dataset", "data_root", "download", "split", "data_size", "cond", "attrs", "model", "method",
            "loss", "gp_weight", "gamma", "lambda_k", "lr_halving", "margin", "pt_weight", "lambda_cyc", "lambda_id",
            "pool_size", "narrow_b", "augment", "ada_target", "ada_interval", "ada_kimg", "reg", "accumulate",
            "hparams", "steps", "batch_size", "lr_g", "lr_d", "beta1", "beta2", "n_dis", "ema", "ema_decay",
            "ema_start", "lr_decay", "ortho_reg", "reuse_fake", "split_d", "seed", "data_seed", "device", "amp",
            "compile", "sync_bn", "out", "name", "log_every", "sample_every", "ckpt_every", "keep", "eval_every",
            "eval_n", "eval_metrics", "feature_extractor", "inception_weights", "logger", "resume",
            "allow_data_change"]


def test_owned_options_are_stored_where_they_always_were():
    cfg = TrainConfig.from_options({"method": "began", "model": "began", "gamma": 0.7, "pool_size": 3})
    d = cfg.to_dict()
    assert list(d) == KEYS_0_2
    assert (d["gamma"], d["lambda_k"], d["pool_size"], d["narrow_b"]) == (0.7, 0.001, 3, False)
    again = TrainConfig.from_dict(json.loads(json.dumps(d)))
    assert again == cfg and again.of("began") == BeganOptions(gamma=0.7)
    assert again.options()["gamma"] == 0.7


def test_each_owner_holds_its_options_and_flat_names_read_and_write_them():
    cfg = TrainConfig.from_options({"margin": 2.0, "narrow_b": True})
    assert set(cfg.owned) == set(OWNED_OPTIONS) == {"began", "ebgan", "cyclegan", "shapes-pair", "gan"}
    assert cfg.of("gan").accumulate == cfg.accumulate == 1 and cfg.reg == []
    assert cfg.of("ebgan").margin == cfg.margin == 2.0 and cfg.of("shapes-pair").narrow_b is True
    cfg.lambda_cyc = 3.0  # a flat write lands in the owner's set, not beside it
    assert cfg.of("cyclegan").lambda_cyc == 3.0 and "lambda_cyc" not in vars(cfg)
    assert "dataset" not in OWNED_FIELDS and OWNED_FIELDS["pt_weight"] == "ebgan"
    with pytest.raises(AttributeError):
        cfg.no_such_option


@pytest.mark.parametrize("options, message", [
    ({"gamma": -1.0}, "--gamma must be a finite number >= 0, got -1.0"),
    ({"pt_weight": float("nan")}, "--pt-weight must be a finite number >= 0"),
    ({"pool_size": -2}, "--pool-size must be >= 0 (0: no pool), got -2"),
    ({"lr_halving": -1}, "--lr-halving must be >= 0 (0: off), got -1"),
    ({"lambda_id": "x"}, "--lambda-id must be float"),
])
def test_owned_options_are_checked_by_their_set(options, message):
    with pytest.raises(GancliError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig.from_options(options).validate()


def test_a_new_owner_needs_no_change_to_train_config():
    """Registering a set makes its fields train options: parsed, validated, stored and read back."""
    @owned_by("toy-method")
    @dataclass
    class ToyOptions(OwnedOptions):
        toy_weight: float = 0.25

        non_negative = ("toy_weight",)

    try:
        assert "toy_weight" in train_option_names()
        cfg = TrainConfig.from_options({"toy_weight": 2.0})
        assert cfg.of("toy-method").toy_weight == 2.0 == cfg.to_dict()["toy_weight"]
        assert TrainConfig.from_dict(cfg.to_dict()) == cfg
        with pytest.raises(GancliError, match="--toy-weight must be a finite number >= 0"):
            TrainConfig.from_options({"toy_weight": -1.0}).validate()
        with pytest.raises(ValueError, match="registered twice"):
            owned_by("toy-method")(ToyOptions)
    finally:
        del OWNED_OPTIONS["toy-method"], OWNED_FIELDS["toy_weight"]


def test_dry_run_shows_only_the_options_that_apply(tmp_path):
    """--dry-run leaves out other methods' and datasets' options (BEGAN's gamma in a gan run), and
    reads back through --config all the same (they take their defaults)."""
    from typer.testing import CliRunner

    from gancli.cli.main import app

    runner = CliRunner()
    shown = {}
    for args in (["--preset", "quick"], ["--preset", "began"]):
        result = runner.invoke(app, ["train", "--dry-run", "--no-predict", "--data-size", "16", *args])
        assert result.exit_code == 0, result.output
        shown[args[1]] = json.loads(result.stdout)["train"]
    assert not {"gamma", "lambda_k", "margin", "pool_size", "narrow_b"} & set(shown["quick"])
    assert {"gamma", "lambda_k", "lr_halving"} <= set(shown["began"]) and "margin" not in shown["began"]
    assert {"augment", "reg", "accumulate"} <= set(shown["quick"]) and "augment" not in shown["began"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"train": shown["began"], "model": {}}))
    again = runner.invoke(app, ["train", "--dry-run", "--no-predict", "--config", str(path)])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["train"]["gamma"] == shown["began"]["gamma"]
