"""``gancli eval`` from the command line: table, --json, metrics.jsonl, errors as one clear message."""
import json

import pytest
from typer.testing import CliRunner

from gancli.cli.main import app
from tests.conftest import write_tiny_run

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCLI_CACHE_DIR", str(tmp_path / "cache"))


def test_json_on_stdout_and_a_line_in_metrics_jsonl(tiny_run):
    result = runner.invoke(app, ["eval", str(tiny_run), "--fid", "--kid", "-n", "20", "--ref-n", "30", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["step"] == 7 and record["n"] == 20 and record["reference_n"] == 30
    assert record["feature_extractor"] == "shapes-factor-net" and record["fid"] > 0 and "kid_mean" in record
    # the spread of each factor of the data, generated over real (an untrained G: far from 1)
    assert set(record["factor_spread"]) == {"shape_colour", "background", "position", "size"}
    logged = json.loads((tiny_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert logged["fid"] == pytest.approx(record["fid"]) and logged["event"] == "eval"


def test_the_record_says_what_was_scored(tiny_run):
    """Truncation, EMA and seed go into the record (and the title), so a truncated or non-EMA FID
    in metrics.jsonl is not read as the plain one."""
    plain = json.loads(runner.invoke(app, ["eval", str(tiny_run), "-n", "20", "--ref-n", "30", "--json"]).stdout)
    assert (plain["truncation"], plain["ema"], plain["seed"]) == (None, True, 0)
    args = ["eval", str(tiny_run), "-n", "20", "--ref-n", "30", "--truncation", "0.5", "--no-ema", "--seed", "3"]
    other = json.loads(runner.invoke(app, args + ["--json"]).stdout)
    assert (other["truncation"], other["ema"], other["seed"]) == (0.5, False, 3)
    assert other["fid"] != pytest.approx(plain["fid"])
    logged = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()][-2:]
    assert [(r["truncation"], r["ema"]) for r in logged] == [(None, True), (0.5, False)]
    table = runner.invoke(app, args + ["--no-log"])
    assert "G without EMA, z truncated to ±0.5" in " ".join(table.stdout.split())
    assert "G without EMA" not in runner.invoke(app, ["eval", str(tiny_run), "-n", "20", "--ref-n", "30",
                                                      "--no-log"]).stdout


def test_table_names_each_metric_and_class(tiny_run):
    result = runner.invoke(app, ["eval", str(tiny_run), "--fid", "--is", "--prc", "-n", "16", "--ref-n", "24",
                                 "--per-class", "--chunks", "2", "--no-log"])
    assert result.exit_code == 0, result.output
    for text in ("FID", "IS", "precision", "recall", "FID, 2 chunks of 8", "class accuracy", "triangle-pair"):
        assert text in result.stdout
    assert len((tiny_run / "metrics.jsonl").read_text().splitlines()) == 4  # --no-log: nothing appended


def test_newest_run_by_default(tmp_path, monkeypatch):
    write_tiny_run(tmp_path / "runs" / "only", step=12)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["eval", "-n", "8", "--ref-n", "8", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["step"] == 12


@pytest.mark.parametrize("args, message", [
    (["-n", "1"], "-n must be at least 2"),
    (["--chunks", "1"], "--chunks must be at least 2"),
    (["-n", "6", "--chunks", "4"], "fewer than 2"),
    (["--ref", "NOWHERE"], "not a readable directory"),
    (["--ref", "x.npz", "--data", "shapes"], "not both"),
    (["--feature-extractor", "vgg"], "unknown feature extractor 'vgg'"),
    (["-n", "4", "--data", "cifar10", "--data-root", "NOWHERE"], "cifar"),
    (["-n", "3", "--prc"], "--prc needs -n of at least 4"),
    (["-n", "5", "--is"], "--is needs -n of at least 10"),
    (["--truncation", "1e-9"], "--truncation 1e-09 is too small; use at least 0.01"),
    (["--feature-extractor", "shapes-net", "--inception-weights", "w.pth"], "applies to --feature-extractor inception"),
    (["-n", "4", "--ref", "ONE"], "has 1 image; FID needs at least 2"),
    (["-n", "4", "--ref", "BAD.npz"], "cannot read reference"),
    (["-n", "4", "--feature-extractor", "shapes-pair-net"], "shapes-pair-net was trained on shapes-pair images only; "
                                                             "for shapes use shapes-factor-net"),
    (["-n", "4", "--data", "cifar10", "--feature-extractor", "shapes-net"], "its features of cifar10 images measure "
                                                                             "nothing: use inception"),
])
def test_bad_input_is_one_clear_line(tiny_run, tmp_path, args, message):
    before = (tiny_run / "metrics.jsonl").read_text()
    import numpy as np
    from PIL import Image

    (tmp_path / "one").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "one" / "a.png")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    args = [a.replace("NOWHERE", str(tmp_path / "nowhere")).replace("ONE", str(tmp_path / "one"))
            .replace("BAD.npz", str(tmp_path / "bad.npz")) for a in args]
    result = runner.invoke(app, ["eval", str(tiny_run), *args])
    assert result.exit_code == 1
    assert message.lower() in result.stderr.lower()
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    assert (tiny_run / "metrics.jsonl").read_text() == before


def test_missing_inception_weights_explained_on_stderr(tiny_run, monkeypatch, tmp_path):
    import urllib.error

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", offline)
    result = runner.invoke(app, ["eval", str(tiny_run), "--feature-extractor", "inception", "-n", "4"])
    assert result.exit_code == 1
    assert "weights-inception-2015-12-05-6726825d.pth" in result.stderr and "--inception-weights" in result.stderr
    assert "Traceback" not in result.output


def test_a_torn_last_line_does_not_swallow_the_record_and_a_read_only_log_only_warns(tiny_run):
    import os

    metrics = tiny_run / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + '{"step": 9, "d_lo')  # a crash cut this line short
    result = runner.invoke(app, ["eval", str(tiny_run), "-n", "8", "--ref-n", "8"])
    assert result.exit_code == 0, result.output
    last = json.loads(metrics.read_text().splitlines()[-1])
    assert last["event"] == "eval" and last["step"] == 7
    if os.geteuid() != 0:  # root ignores file permissions
        metrics.chmod(0o444)
        result = runner.invoke(app, ["eval", str(tiny_run), "-n", "8", "--ref-n", "8"])
        assert result.exit_code == 0 and "could not append" in result.stderr and "FID" in result.stdout
