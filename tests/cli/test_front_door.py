"""One front door: every command parses its options, calls ``gancli.api`` and formats the result.
So each command's options are the API function's parameters, under the same defaults; what differs
is named here (a flag spelled otherwise, options that only shape the printed output)."""
from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

import gancli.api as api
from gancli.cli.attn_map import attn_map_command
from gancli.cli.compare import compare_command
from gancli.cli.info import info_command
from gancli.cli.plot import plot_command
from gancli.cli.eval import eval_command
from gancli.cli.export import export_command
from gancli.cli.report import report_command
from gancli.cli.sample import sample_command
from gancli.cli.sn_check import sn_check_command
from gancli.cli.train import train_command
from gancli.cli.translate import translate_command
from gancli.config import MODEL_OPTIONS, OWNED_FIELDS, TrainConfig, train_option_names

RUN = {"target": "run"}
#: command, API function, {option: API parameter}, options that only choose how the result is printed
DOORS = [
    (sample_command, api.write_samples, {**RUN, "class_": "classes"}, set()),
    (eval_command, api.evaluate, {**RUN, **{flag: "metrics" for flag in ("fid", "isc", "kid", "prc", "prdc")}},
     {"as_json"}),  # and log: the command appends to metrics.jsonl by default, the API only when asked (API_DEPARTS)
    (attn_map_command, api.write_attention_maps, {**RUN, "point": "points", "image": "images", "class_": "classes"},
     set()),
    (sn_check_command, api.sn_check, RUN, {"as_json", "strict"}),
    (export_command, api.export_generator, RUN, set()),
    (report_command, api.write_report, RUN, set()),
    (translate_command, api.translate_images, RUN, set()),
    (info_command, api.info, RUN, {"as_json"}),
    (plot_command, api.plot, RUN, set()),
    # --print-commands and --collect choose api.compare_commands and api.collect_study instead
    (compare_command, api.compare, {"study_file": "study", "set_": "set_options"}, {"print_commands", "collect_dir"}),
]
#: parameters only an API function has: compare's echo (the command prints the progress lines itself)
API_ONLY = {"echo"}
#: defaults the API departs from on purpose (its docstring says so)
API_DEPARTS = {("eval", "log")}


def _params(fn) -> dict[str, inspect.Parameter]:
    return {name: p for name, p in inspect.signature(fn).parameters.items()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


@pytest.mark.parametrize("command, function, renamed, printing", DOORS, ids=lambda x: getattr(x, "__name__", ""))
def test_a_commands_options_are_its_api_functions_parameters(command, function, renamed, printing):
    options = _params(command)
    parameters = _params(function)
    assert {renamed.get(name, name) for name in options} - printing == set(parameters) - API_ONLY
    for name, option in options.items():
        if name in printing or name in renamed or (command.command_name, name) in API_DEPARTS:
            continue
        expected = parameters[name].default
        default = option.default
        if expected is inspect.Parameter.empty or default is ...:  # required on both sides
            assert default is ... and expected is inspect.Parameter.empty, name
            continue
        if isinstance(expected, tuple):  # the API's immutable empty list
            expected = list(expected)
        assert default == expected or (default is None and expected in ((), [])), (command.command_name, name)


def test_train_options_are_train_configs_options():
    """``gancli train``'s options are TrainConfig's (and its model's) by name, plus the data location,
    the option file and the dry run; gancli.train takes the same names (``from_flat`` refuses others)."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"model", "owned"}
    options = set(_params(train_command))
    assert options == fields | set(OWNED_FIELDS) | set(MODEL_OPTIONS) | {"path", "config", "dry_run", "predict"}
    assert options - {"path", "config", "dry_run", "predict"} == train_option_names()
    api_named = set(_params(api.train_config)) | set(_params(api.train))
    assert {"dataset", "path", "config"} <= api_named


def test_the_commands_call_the_api(monkeypatch, tmp_path):
    """Each command hands its options to the API function (and nothing else builds the request):
    replaced by a recorder, the API function sees the command's values under its own names."""
    from typer.testing import CliRunner

    from gancli.cli.main import app

    seen = {}

    class Stop(Exception):
        pass

    def recorder(name):
        def record(*args, **kwargs):
            seen[name] = (args, kwargs)
            raise Stop
        return record

    for _, function, _, _ in DOORS:
        monkeypatch.setattr(api, function.__name__, recorder(function.__name__))
    runner = CliRunner()
    calls = {
        "write_samples": ["sample", "r1", "-n", "5", "--class", "cat", "--seed", "3", "--truncation", "2,1"],
        "evaluate": ["eval", "r1", "--kid", "--prdc", "--nn", "-n", "100", "--no-log"],
        "write_attention_maps": ["attn-map", "r1", "--point", "4,4", "--image", "a.png", "--class", "2"],
        "sn_check": ["sn-check", "r1", "--tol", "0.5", "--strict"],
        "export_generator": ["export", "r1", "--format", "onnx", "--force"],
        "write_report": ["report", "r1", "--points", "8,8;4,2", "--seed", "7"],
        "translate_images": ["translate", "r1", "--input", str(tmp_path), "--out", str(tmp_path / "o")],
    }
    for name, argv in calls.items():
        result = runner.invoke(app, argv)
        assert isinstance(result.exception, Stop), (name, result.output)
    assert seen["write_samples"][0][:2] == ("r1", 5)
    assert seen["write_samples"][1]["classes"] == "cat" and seen["write_samples"][1]["truncation"] == [2.0, 1.0]
    assert seen["write_samples"][1]["seed"] == 3
    assert seen["evaluate"][0][1] == ["kid", "prdc"] and seen["evaluate"][1]["nn"] is True
    assert seen["evaluate"][1]["log"] is False and seen["evaluate"][0][2] == 100
    assert seen["write_attention_maps"][0][1] == ["4,4"] and seen["write_attention_maps"][1]["images"] == [Path("a.png")]
    assert seen["write_attention_maps"][1]["classes"] == "2"
    assert seen["sn_check"][1]["tol"] == 0.5
    assert seen["export_generator"][1]["format"] == "onnx" and seen["export_generator"][1]["force"] is True
    assert seen["write_report"][1]["points"] == ["8,8", "4,2"] and seen["write_report"][1]["seed"] == 7
    assert seen["translate_images"][1]["input"] == tmp_path


def test_a_run_is_validated_once_and_a_dry_run_reads_its_data_once(monkeypatch, tmp_path):
    """Through the front door a config is validated once (the API's train_config; the loop trusts
    it), and --dry-run builds its data once for both the printed config and the cost."""
    from typer.testing import CliRunner

    import gancli.training.setup as setup
    from gancli.cli.main import app

    counts = {"validate": 0, "data": 0}
    validate, build = TrainConfig.validate, setup.build_dataset

    def counted_validate(self):
        counts["validate"] += 1
        return validate(self)

    def counted_build(*args, **kwargs):
        counts["data"] += 1
        return build(*args, **kwargs)

    monkeypatch.setattr(TrainConfig, "validate", counted_validate)
    monkeypatch.setattr(setup, "build_dataset", counted_build)
    tiny = ["--data-size", "32", "--ch", "4", "--batch-size", "8", "--device", "cpu"]
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--dry-run", *tiny])
    assert result.exit_code == 0, result.output
    assert counts == {"validate": 1, "data": 1} and "predicted: about" in result.stderr
    counts.update(validate=0, data=0)
    result = runner.invoke(app, ["train", *tiny, "--steps", "1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert counts == {"validate": 1, "data": 1} and "trained 1 steps" in result.stdout


def test_compares_other_doors_take_the_same_study():
    """--print-commands and --collect go through their own API functions: the first takes the same
    study options as gancli.compare (less what only running and drawing need), the second only the folder
    and how to draw."""
    assert set(_params(api.compare_commands)) == set(_params(api.compare)) - {"jobs", "echo", "labels"}
    assert set(_params(api.collect_study)) == {"folder", "labels"}
