"""--help teaches: every option shows its default (per preset where a preset sets it), and every
command's help ends with examples that name real options."""
import re

import pytest
import typer.main
from typer.testing import CliRunner

from gancli.cli.main import COMMANDS, app

runner = CliRunner()
COMMAND = typer.main.get_command(app)


def _help(name: str) -> str:
    result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"})
    assert result.exit_code == 0
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", result.stdout))


@pytest.mark.parametrize("name", list(COMMAND.commands))
def test_every_option_shows_its_default(name):
    text = _help(name)
    for param in COMMAND.commands[name].params:
        if param.name == "help":
            continue
        helptext = re.sub(r"\s+", " ", param.help or "")
        bracket = re.search(r"(\[[^\[\]]*\])\.?$", helptext.strip())
        if bracket:
            assert bracket.group(1) in text, f"{name} --{param.name}: {bracket.group(1)} not shown"
        else:
            assert param.default is not None and param.default is not False, f"{name} --{param.name}: no default shown"
            shown = param.default
            if getattr(param, "secondary_opts", None):  # --cache/--no-cache shows the flag that is on
                shown = (param.opts if param.default else param.secondary_opts)[0].lstrip("-")
            assert f"[default: {shown}]" in text, f"{name} --{param.name}"
    assert " . " not in text and "  ." not in text  # no default erased by markup


def test_preset_defaults_say_which_preset_sets_them():
    text = _help("train")
    assert "[sagan: 100000, quick: 1600, cyclegan: 200000, cyclegan-quick: 1800]" in text
    assert "[sagan: 64, quick: 24, began: 16, cyclegan: 1, cyclegan-quick: 4]" in text  # presets that keep 64 say nothing


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.command_name)
def test_help_ends_with_examples_of_real_options(command):
    name = command.command_name
    text = _help(name)
    assert "Examples" in text and text.rindex("Examples") > text.rindex("--help")
    assert 2 <= len(command.examples) <= 3
    options = {opt for p in COMMAND.commands[name].params for opt in [*p.opts, *getattr(p, "secondary_opts", [])]}
    for line, what in command.examples:
        assert line.startswith(f"gancli {name}") and what and f"{line}: {what}" in text
        for flag in re.findall(r"(?<=\s)(--?[a-z][a-z0-9-]*)", line):
            assert flag in options, f"{line}: {flag} is no option of gancli {name}"


@pytest.mark.parametrize("name", list(COMMAND.commands))
def test_types_read_as_plain_metavars(name):
    text = _help(name)
    assert not re.search(r"<(bool|str|int|float|list\[[a-zA-Z]+\]|path)>", text)
    assert "[[" not in text.split("Usage:")[1].split("  ")[0]


def test_train_options_are_grouped_in_panels():
    text = _help("train")
    panels = ["Data", "Method and loss", "Model", "Optimisation", "Performance and devices", "Run directory and cadence",
              "Evaluation during training"]
    positions = [text.index(f" {panel} ") for panel in panels]
    assert positions == sorted(positions)
    flags = {name: text.index(name + " ") for name in ("--data-size", "--loss", "--attn-res", "--lr-d", "--amp",
                                                      "--name", "--eval-every")}
    bounds = positions[1:] + [len(text)]
    for (panel, start, end), flag in zip(zip(panels, positions, bounds), ["--data-size", "--loss", "--attn-res",
                                                                          "--lr-d", "--amp", "--name", "--eval-every"]):
        assert start < flags[flag] < end, f"{flag} not in the {panel} panel"


@pytest.mark.parametrize("name", [None, *(command.command_name for command in COMMANDS)])
def test_help_is_whole_at_80_columns(name):
    """No help text is cut off with an ellipsis in an 80-column terminal (a long unbreakable word,
    such as a path pattern, would be)."""
    args = [name, "--help"] if name else ["--help"]
    output = CliRunner().invoke(app, args, env={"COLUMNS": "80"}).stdout
    assert "…" not in output, [line for line in output.splitlines() if "…" in line]
    assert max(len(line) for line in output.splitlines()) <= 80
