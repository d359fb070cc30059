"""``gancli plot``: one PNG with a panel per curve found in metrics.jsonl."""
import json

from PIL import Image
from typer.testing import CliRunner

from gancli.cli.main import app

runner = CliRunner()


def test_plot_draws_losses_and_eval_metrics(tiny_run):
    with open(tiny_run / "metrics.jsonl", "a") as f:
        for step, fid in ((4, 30.0), (8, 12.5)):
            f.write(json.dumps({"step": step, "event": "eval", "fid": fid, "class_accuracy": step / 10}) + "\n")
        f.write('{"step": 9, "d_lo')  # a line cut short by a crash is skipped
    result = runner.invoke(app, ["plot", str(tiny_run)])
    assert result.exit_code == 0, result.output
    assert "d_loss (4 points)" in result.stdout and "fid (2 points)" in result.stdout
    assert "class_accuracy (2 points)" in result.stdout and "d_real" not in result.stdout
    image = Image.open(tiny_run / "curves.png")
    assert image.size[1] > image.size[0] > 400  # three panels stacked: losses, FID, accuracy (no D outputs logged)


def test_plot_errors(tmp_path, tiny_run):
    result = runner.invoke(app, ["plot", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no such checkpoint file, run directory or run name" in result.stderr
    result = runner.invoke(app, ["plot", str(tiny_run), "--out", str(tmp_path / "x.jpg")])
    assert result.exit_code == 1 and "give a .png path" in result.stderr
    (tiny_run / "metrics.jsonl").write_text("")
    result = runner.invoke(app, ["plot", str(tiny_run)])
    assert result.exit_code == 1 and "holds no metrics" in result.stderr
    (tiny_run / "metrics.jsonl").write_bytes(b'{"step": 1, "lr_g": 0.1}\n\xff\xfe\n')  # nothing to draw, not UTF-8
    result = runner.invoke(app, ["plot", str(tiny_run)])
    assert result.exit_code == 1 and "no losses or evaluation metrics" in result.stderr
