"""The Python API against the commands: same defaults, same results, nothing printed or written."""
import inspect
import json

import numpy as np
import pytest
import torch
import typer.main
from typer.testing import CliRunner

import gancli
from gancli import api
from gancli.cli.main import app

runner = CliRunner()

#: API function -> command; options the function names differently or leaves out on purpose
PAIRS = {"train": "train", "sample": "sample", "evaluate": "eval", "attention_maps": "attn-map", "sn_check": "sn-check",
         "translate": "translate"}
RENAMED = {("sample", "class_"): "classes", ("attention_maps", "class_"): "classes", ("attention_maps", "point"): "points",
           ("attention_maps", "image"): "images", ("sn_check", "target"): "run", ("sample", "target"): "run",
           ("evaluate", "target"): "run", ("attention_maps", "target"): "run"}
#: by design (docs/api.md): evaluate does not append to metrics.jsonl unless asked
DIFFERENT_DEFAULT = {("evaluate", "log")}


def _command_params(name):
    command = typer.main.get_command(app).commands[name]
    return {p.name: p for p in command.params}


@pytest.mark.parametrize("function", [f for f in PAIRS if f != "train"])
def test_functions_take_the_commands_options_with_their_defaults(function):
    signature = inspect.signature(getattr(api, function))
    compared = 0
    for name, param in _command_params(PAIRS[function]).items():
        py_name = RENAMED.get((function, name), name)
        if py_name not in signature.parameters or (function, py_name) in DIFFERENT_DEFAULT:
            continue
        default = signature.parameters[py_name].default
        if isinstance(default, tuple):
            default = list(default)
        cli_default = param.default if param.default not in ((), []) else None
        assert (default if default not in ((), [], None) else None) == cli_default, f"{function}({py_name})"
        compared += 1
    assert compared >= 3


def test_train_takes_every_train_option():
    command = set(_command_params("train")) - {"dry_run"}
    signature = inspect.signature(api.train_config)
    cfg, _, _ = api.train_config(**{k: None for k in command})  # every option, none given
    assert cfg.preset == "quick" and set(signature.parameters) >= {"dataset", "path"}


def test_the_top_level_names_are_the_api():
    for name in ("train", "load", "sample", "translate", "evaluate", "attention_maps", "sn_check"):
        assert getattr(gancli, name) is getattr(api, name)


def test_sample_equals_the_command_and_prints_nothing(tiny_run, tmp_path, capsys):
    samples = gancli.sample(str(tiny_run), n=12, classes="circle,ring", truncation=0.7, seed=5)
    assert capsys.readouterr() == ("", "")
    result = runner.invoke(app, ["sample", str(tiny_run), "-n", "12", "--class", "circle,ring", "--truncation", "0.7",
                                 "--seed", "5", "--npz", str(tmp_path / "s.npz")])
    assert result.exit_code == 0, result.output
    saved = np.load(tmp_path / "s.npz")
    assert np.array_equal(samples.images.numpy(), saved["images"])
    assert samples.labels.tolist() == saved["labels"].tolist() == [0] * 6 + [3] * 6
    assert samples.seed == 5 and samples.z.abs().max() <= 0.7
    drawn = gancli.sample(str(tiny_run), n=2)
    assert drawn.seed is not None and torch.equal(gancli.sample(str(tiny_run), n=2, seed=drawn.seed).images, drawn.images)


def test_load_gives_every_network_and_the_ema_generator(tiny_run):
    from gancli.checkpoint import load_checkpoint

    run = gancli.load(str(tiny_run))
    state = load_checkpoint(tiny_run / "checkpoints" / "last.pt")
    assert (run.step, run.method, sorted(run.networks), sorted(run.ema)) == (7, "gan", ["D", "G"], ["G"])
    assert run.generator is run.ema["G"] and not run.generator.training
    for key, value in state["ema"]["G"].items():
        assert torch.equal(run.generator.state_dict()[key], value)
    assert run.class_names[:2] == ["circle", "square"] and run.train_config.loss == "hinge"
    z, y = torch.randn(3, run.model_config.z_dim), torch.tensor([0, 1, 2])
    with torch.no_grad():
        assert run.generator(z, y).shape == (3, 3, 32, 32)


def test_sn_check_equals_the_commands_json(tiny_run):
    audit = gancli.sn_check(str(tiny_run), iters=50)
    printed = runner.invoke(app, ["sn-check", str(tiny_run), "--iters", "50", "--json"])
    assert printed.exit_code == 0
    assert json.loads(json.dumps(audit)) == json.loads(printed.stdout)


def test_attention_maps_are_distributions_at_the_asked_points(tiny_run):
    maps = gancli.attention_maps(str(tiny_run), points=[(3, 5), "20,9"], n=2, seed=0)
    assert maps.points == [(3, 5), (20, 9)] and maps.maps.shape == (2, len(maps.blocks), 2, 32, 32)
    torch.testing.assert_close(maps.maps.sum(dim=(-2, -1)), torch.ones(2, len(maps.blocks), 2))


def test_evaluate_writes_nothing_unless_asked(tiny_run):
    before = (tiny_run / "metrics.jsonl").read_text()
    result = gancli.evaluate(str(tiny_run), metrics=["fid"], n=64, cache=False)
    assert (tiny_run / "metrics.jsonl").read_text() == before
    assert result.metrics["fid"] > 0 and result.n == 64
    again = gancli.evaluate(str(tiny_run), metrics=["fid"], n=64, cache=False, log=True)
    assert again.metrics["fid"] == pytest.approx(result.metrics["fid"], rel=1e-9)
    logged = json.loads((tiny_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert logged["event"] == "eval" and logged["fid"] == pytest.approx(result.metrics["fid"], rel=1e-9)


def test_errors_are_gancli_errors_with_the_commands_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(gancli.GancliError, match="-n must be positive, got 0"):
        gancli.sample("x", n=0)
    with pytest.raises(gancli.GancliError, match="no runs with checkpoints under runs/"):
        gancli.load()
    with pytest.raises(gancli.GancliError, match="unknown model 'sagn'"):
        gancli.train(model="sagn")


@pytest.mark.parametrize("call, message", [
    (lambda: gancli.sample(n="4"), "gancli.sample: n must be int, got '4'"),
    (lambda: gancli.sample(truncation="0.5"), "gancli.sample: truncation must be float, a list of (float) or None, got '0.5'"),
    (lambda: gancli.sample(seed=1.5), "gancli.sample: seed must be int or None, got 1.5"),
    (lambda: gancli.sample(run=123), "gancli.sample: run must be str or Path or None, got 123"),
    (lambda: gancli.sample(n=True), "gancli.sample: n must be int, got True"),
    (lambda: gancli.attention_maps(points=[16]), "points must be a list of (str or (int, int)), got [16]"),
    (lambda: gancli.write_report(points=[(1,)]), "points must be a list of (str or (int, int))"),
    (lambda: gancli.evaluate(metrics=3), "gancli.evaluate: metrics must be a list of (str), got 3"),
    (lambda: gancli.sn_check(tol="x"), "gancli.sn_check: tol must be float, got 'x'"),
    (lambda: gancli.load(run=[1]), "gancli.load: run must be str or Path or None"),
    (lambda: gancli.translate(None, images=[1]), "gancli.translate: images must be torch.Tensor, got [1]"),
    (lambda: gancli.export_generator(force="yes"), "gancli.export_generator: force must be bool, got 'yes'"),
    (lambda: gancli.train(steps="4"), "--steps must be int, got '4'"),
    (lambda: gancli.sample(nope=1), "gancli.sample: got an unexpected keyword argument 'nope'"),
])
def test_wrong_types_are_one_gancli_error_naming_the_argument(call, message):
    with pytest.raises(gancli.GancliError) as caught:
        call()
    assert message in str(caught.value)


def test_one_name_where_a_list_is_taken_is_a_list_of_one(monkeypatch, tmp_path):
    """metrics="kid", points="8,8", images="a.png": the single value, as a list of one."""
    from pathlib import Path

    import gancli.api as api

    image = tmp_path / "a.png"
    image.write_bytes(b"")
    seen = {}
    monkeypatch.setattr(api, "score", lambda run, req, **kw: seen.update(metrics=req.metrics))
    monkeypatch.setattr(api, "compute_attention", lambda run, req, **kw: (seen.update(points=req.points,
                                                                                      images=req.images), None))
    gancli.evaluate("r", metrics="kid")
    with pytest.raises(AttributeError):  # the fake returns no result to read the maps of
        gancli.attention_maps("r", points="8,8", images=str(image), net="d")
    assert seen == {"metrics": ["kid"], "points": ["8,8"], "images": [Path(image)]}
