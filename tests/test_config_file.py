"""gancli train --config FILE (TOML or a run's config.json), --dry-run's resolved config, and
attribute names matched ignoring case."""
import json

import pytest
from typer.testing import CliRunner

from gancli.api import train_config
from gancli.cli.main import app
from gancli.config import train_options_from_file
from gancli.errors import GancliError
from gancli.registry import closest_names, match_names

runner = CliRunner()


def _dry_run(*args):
    result = runner.invoke(app, ["train", "--dry-run", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_toml_options_and_explicit_ones_win(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.toml").write_text('preset = "sagan"\nsteps = 300\nbatch-size = 16\nattn_res = [16]\nlr_d = 2e-4\n')
    assert train_options_from_file(tmp_path / "exp.toml") == {"preset": "sagan", "steps": 300, "batch_size": 16,
                                                             "attn_res": [16], "lr_d": 2e-4}
    printed = _dry_run("--config", "exp.toml", "--steps", "500", "--data-size", "64")
    train = printed["train"]
    assert (train["preset"], train["steps"], train["batch_size"], train["lr_d"]) == ("sagan", 500, 16, 2e-4)
    assert train["model"]["attn_res"] == [16] and train["lr_g"] == 1e-4  # the sagan preset's, not the file's


def test_a_runs_config_json_trains_it_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = _dry_run("--steps", "77", "--ch", "16", "--lr-g", "3e-4", "--name", "orig", "--data-size", "64")
    (tmp_path / "config.json").write_text(json.dumps(first))
    again = _dry_run("--config", "config.json")
    # the same run, in a new run directory (a run's out and name are not taken over)
    assert {k: v for k, v in again["train"].items() if k not in ("out", "name")} == \
           {k: v for k, v in first["train"].items() if k not in ("out", "name")}
    assert first["train"]["out"] == "runs/orig" and again["train"]["out"].startswith("runs/shapes-sagan-32-")
    assert again["model"] == first["model"]


def test_dry_run_resolves_conditioning_run_directory_and_device(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    printed = _dry_run("--name", "x", "--data-size", "64")
    assert printed["train"]["cond"] is True and printed["train"]["out"] == "runs/x"
    assert printed["train"]["device"] == "cpu" and "dry_run" not in json.dumps(printed)
    assert printed["model"]["n_classes"] == 8
    assert _dry_run("--no-cond", "--data-size", "64")["train"]["cond"] is False


@pytest.mark.parametrize("text, name, message", [
    ("steps = 300\nstpes = 4\n", "a.toml", "--config {p}: unknown train options stpes (did you mean steps?) (the names of gancli train's flags)"),
    ("steps = [", "b.toml", "--config {p} is not valid TOML"),
    ('{"steps": 3}', "c.json", '--config {p}: a JSON config is a run\'s config.json, with a "train" table'),
])
def test_bad_config_files_are_one_line(tmp_path, monkeypatch, text, name, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(text)
    result = runner.invoke(app, ["train", "--config", name, "--steps", "2"])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: " + message.format(p=name))
    assert not (tmp_path / "runs").exists()


def test_config_with_resume_or_missing_file_is_refused(tmp_path):
    with pytest.raises(GancliError, match="does not exist"):
        train_config(config=tmp_path / "none.toml")
    (tmp_path / "a.toml").write_text("steps = 3\n")
    with pytest.raises(GancliError, match="--config starts a run from a file; --resume continues a run"):
        train_config(config=tmp_path / "a.toml", resume="x")


def test_names_match_ignoring_case_and_suggest_the_closest():
    attrs = ["Male", "Smiling", "Young", "Wearing_Hat", "Wearing_Lipstick"]
    assert match_names(["smiling", "MALE", "wearing_hat"], attrs, "attribute") == ["Smiling", "Male", "Wearing_Hat"]
    assert closest_names("wearing_hats", attrs) == ["Wearing_Hat", "Wearing_Lipstick"]
    with pytest.raises(GancliError, match=r"^unknown attributes 'smilling' \(did you mean Smiling\?\), 'Bald'; valid ones: Male, "):
        match_names(["smilling", "Bald", "young"], attrs, "attribute")


def test_celeba_and_sample_take_attribute_names_in_any_case(fake_celeba_root, tmp_path):
    from gancli.data import build_dataset
    from gancli.sampling import load_generator
    from gancli.sampling.generate import parse_attrs
    from tests.conftest import write_tiny_run

    root, _ = fake_celeba_root
    dataset = build_dataset("celeba", root=str(root), cond=True, attrs=["smiling", "MALE"], split="all")
    assert dataset.attr_names == ["Smiling", "Male"]
    gen = load_generator(write_tiny_run(tmp_path / "run", label_kind="attrs"))
    assert parse_attrs("male,-SMILING", gen) == {0: 1.0, 1: 0.0}


def test_toml_module_falls_back_to_the_tomli_backport(monkeypatch):
    """Python 3.10 has no tomllib: the backport (a dependency there) is used instead."""
    import sys
    import types

    from gancli.config import toml_module

    assert toml_module().loads("steps = 3") == {"steps": 3}
    backport = types.ModuleType("tomli")
    monkeypatch.setitem(sys.modules, "tomllib", None)  # import tomllib raises ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "tomli", backport)
    assert toml_module() is backport
