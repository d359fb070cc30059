"""Runs by name (--name NAME -> runs/NAME; every command takes NAME) and shell completion."""
import json

import pytest
from typer.testing import CliRunner

from gancli.checkpoint import resolve_checkpoint, run_names
from gancli.cli.main import app
from gancli.errors import GancliError
from tests.conftest import write_tiny_run

runner = CliRunner()
TINY = ["--ch", "8", "--batch-size", "8", "--data-size", "96", "--log-every", "2", "--sample-every", "2",
        "--ckpt-every", "2", "--device", "cpu"]


def test_train_by_name_then_every_command_takes_the_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "--steps", "2", "--name", "first", *TINY])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "first" / "checkpoints" / "last.pt").is_file()
    sampled = runner.invoke(app, ["sample", "first", "-n", "4", "--seed", "1", "--out", "s.png"])
    assert sampled.exit_code == 0, sampled.output
    assert "using runs/first/checkpoints/last.pt (run first under runs; step 2" in sampled.stderr
    info = runner.invoke(app, ["info", "first", "--json"])
    assert info.exit_code == 0 and json.loads(info.stdout)["step"] == 2
    resumed = runner.invoke(app, ["train", "--resume", "first", "--steps", "4"])
    assert resumed.exit_code == 0, resumed.output
    assert "(steps 2 -> 4)" in resumed.stdout
    again = runner.invoke(app, ["train", "--steps", "2", "--name", "first", *TINY])
    assert again.exit_code == 1 and "runs/first already holds a run; pass --resume runs/first" in again.stderr


@pytest.mark.parametrize("args, message", [
    (["--name", "a/b"], "--name takes a plain name (the folder under runs/), got 'a/b'; give a path with --out instead"),
    (["--name", "a", "--out", "b"], "give the run directory once: --name NAME (runs/NAME) or --out DIR"),
])
def test_bad_names_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "--steps", "2", *args])
    assert result.exit_code == 1 and result.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "runs").exists() and not (tmp_path / "b").exists()


def test_an_unknown_name_suggests_the_closest_runs(tmp_path):
    for name in ("sagan-long", "sagan-short", "dcgan"):
        write_tiny_run(tmp_path / "runs" / name)
    (tmp_path / "runs" / "empty").mkdir()
    assert run_names(tmp_path / "runs") == ["dcgan", "sagan-long", "sagan-short"]
    path, how = resolve_checkpoint("dcgan", tmp_path / "runs")
    assert path == tmp_path / "runs" / "dcgan" / "checkpoints" / "last.pt" and how.startswith("run dcgan under")
    with pytest.raises(GancliError, match=r"run name: sagan-lng; runs under .*/runs/: sagan-long, sagan-short$"):
        resolve_checkpoint("sagan-lng", tmp_path / "runs")
    with pytest.raises(GancliError, match="run empty .* has no checkpoints yet"):
        resolve_checkpoint("empty", tmp_path / "runs")


def _complete(words: str, monkeypatch) -> list[str]:
    """What bash completion offers for the command line ``words`` (the last word being typed)."""
    parts = words.split(" ")
    env = {"_GANCLI_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}
    result = runner.invoke(app, [], env=env, prog_name="gancli")
    return result.stdout.split()


def test_completion_of_names(monkeypatch):
    assert _complete("gancli train --model s", monkeypatch) == ["sngan", "sagan"]
    assert _complete("gancli train --preset cyc", monkeypatch) == ["cyclegan", "cyclegan-quick"]
    assert _complete("gancli train --loss w", monkeypatch) == ["wgan-gp"]
    assert _complete("gancli train --method e", monkeypatch) == ["ebgan"]
    assert _complete("gancli train shapes", monkeypatch) == ["shapes", "shapes-pair"]
    assert _complete("gancli train --eval-metrics fid,k", monkeypatch) == ["fid,kid"]
    assert _complete("gancli train --logger t", monkeypatch) == ["tensorboard"]
    assert _complete("gancli train --feature-extractor shapes-", monkeypatch) == ["shapes-factor-net", "shapes-net",
                                                                                 "shapes-pair-net"]


def test_completion_of_runs_and_checkpoints(tmp_path, monkeypatch):
    write_tiny_run(tmp_path / "runs" / "alpha")
    write_tiny_run(tmp_path / "runs" / "beta")
    (tmp_path / "g.pt").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    monkeypatch.chdir(tmp_path)
    assert _complete("gancli sample a", monkeypatch) == ["alpha"]
    assert _complete("gancli eval ", monkeypatch) == ["alpha", "beta", "g.pt", "runs/"]
    assert _complete("gancli train --resume runs/b", monkeypatch) == ["runs/beta/"]
    assert _complete("gancli sn-check runs/alpha/checkpoints/l", monkeypatch) == ["runs/alpha/checkpoints/last.pt"]


def test_install_completion_is_offered():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout
