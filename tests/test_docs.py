"""What README.md and docs/ show must work as written: every file of this repository they name
exists (a study file ignored by .gitignore once broke README's demo), every link and picture they
point to is there, and every ``gancli ...`` line in their code blocks parses (options, values,
choices), without running it."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from gancli.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: a path into this repository, as the pages write them in text or code
REPO_PATH = re.compile(r"(?<![\w/.~-])((?:gancli|docs|benchmarks|tests|\.ci)/[\w./-]*[\w-](?:\.(?:py|md|toml|json|png|gif|txt)|/))")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _named_paths():
    for page in PAGES:
        text = page.read_text()
        for path in sorted({m.group(1) for m in REPO_PATH.finditer(text)
                            if not re.match(r"`? \(new\)", text[m.end():])}):  # a recipe's file to be written
            yield pytest.param(page, ROOT / path, id=f"{page.name}:{path}")
        for link in sorted(set(LINK.findall(text))):
            if not re.match(r"[a-z]+:", link):  # not http(s):, mailto:
                yield pytest.param(page, (page.parent / link).resolve(), id=f"{page.name}->{link}")


@pytest.mark.parametrize("page, path", list(_named_paths()))
def test_every_file_the_pages_name_is_in_the_repository(page, path):
    assert path.exists(), f"{page.relative_to(ROOT)} names {path.relative_to(ROOT)}, which is not in the repository"


def _command_lines():
    for page in PAGES:
        for block in re.findall(r"```(?:bash|sh|shell|console)?\n(.*?)```", page.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                match = re.match(r"^\s*(?:\$ )?(?:\S*/)?gancli (.*)$", line)
                if match:
                    yield pytest.param(match.group(1), id=f"{page.name}: gancli {match.group(1)[:60]}")


def _args(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    args = []
    for token in lexer:
        if token and set(token) <= set("|&;<>"):  # a pipe or a redirection: the command ends here
            break
        args.append(token)
    return args


def _parse(line: str) -> None:
    """Parses ``gancli LINE`` as the command line would (options, their types), running nothing."""
    args = _args(line)
    if args[:1] == ["--install-completion"]:
        return
    commands = typer.main.get_command(app).commands
    if args[0] not in commands:
        raise ValueError(f"no command {args[0]!r}")
    commands[args[0]].make_context(args[0], args[1:])


@pytest.mark.parametrize("line", list(_command_lines()))
def test_every_command_the_pages_show_parses(line):
    try:
        _parse(line)
    except Exception as err:  # typer's own click: a usage error, a bad value
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        pytest.fail(f"gancli {line}: {message}")


@pytest.mark.parametrize("line", ["train --stepz 10", "sample -n many", "evaluate --fid", "eval --fid --chunks x"])
def test_a_line_that_would_fail_does_not_parse(line):
    with pytest.raises(Exception):
        _parse(line)


def test_the_pages_show_commands_and_name_files():
    assert len(list(_command_lines())) > 80 and len(list(_named_paths())) > 40
