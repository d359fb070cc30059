"""docs/api.md is one Python session: its code blocks run here, top to bottom, in an empty folder."""
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_page_has_a_session():
    blocks = code_blocks(PAGE.read_text())
    assert len(blocks) >= 8 and "gancli.train(" in blocks[0]


@pytest.mark.slow
def test_api_page_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for number, block in enumerate(code_blocks(PAGE.read_text()), 1):
        try:
            exec(compile(block, f"docs/api.md block {number}", "exec"), namespace)
        except Exception as err:  # name the block that failed
            raise AssertionError(f"docs/api.md code block {number} failed: {err!r}\n{block}") from err
    printed = capsys.readouterr().out
    assert "runs/demo 60" in printed
    assert (tmp_path / "runs" / "demo" / "checkpoints" / "last.pt").is_file()
    assert not (tmp_path / "runs" / "demo" / "metrics.jsonl").read_text().count('"event": "eval"')
