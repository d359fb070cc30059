"""The six rows of the SNGAN reproducibility report, each trained as ``gancli train mnist
--data-root R --res 28 --preset ROW`` (on a fake MNIST written to disk, tiny widths)."""
import json

import pytest
from typer.testing import CliRunner

from gancli.checkpoint import load_checkpoint
from gancli.cli.main import app

ROWS = {  # preset -> (method, model, loss, D normalisation)
    "sngan": ("gan", "cnn", "ns", "sn"),
    "wgan-gp": ("gan", "cnn", "wgan-gp", "none"),
    "bn": ("gan", "cnn", "ns", "bn"),
    "ln": ("gan", "cnn", "ns", "ln"),
    "began": ("began", "began", None, "none"),
    "ebgan": ("ebgan", "began", None, "none"),
}


@pytest.mark.parametrize("preset", list(ROWS))
def test_each_row_trains_on_mnist_at_28_px(tmp_path, fake_mnist_root, preset):
    root, _ = fake_mnist_root
    run = tmp_path / preset
    result = CliRunner().invoke(app, ["train", "mnist", str(root), "--res", "28", "--preset", preset, "--steps", "2",
                                      "--ch", "4", "--batch-size", "4", "--z-dim", "16", "--log-every", "1",
                                      "--device", "cpu", "--out", str(run)])
    assert result.exit_code == 0, result.output
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    method, model, loss, d_norm = ROWS[preset]
    assert state["method"] == method
    assert state["model_config"]["name"] == model and state["model_config"]["res"] == 28
    assert state["model_config"]["d_norm"] == d_norm and state["model_config"]["channels"] == 1
    config = json.loads((run / "config.json").read_text())["train"]
    if loss:
        assert config["loss"] == loss
    assert config["preset"] == preset and config["hparams"] == "report-A"
    assert (config["n_dis"], config["lr_decay"]) == (5 if preset == "wgan-gp" else 1, 0.0)
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
