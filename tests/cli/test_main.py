import subprocess
import sys

import pytest
from typer.testing import CliRunner

from gancli import __version__
from gancli.cli.main import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"gancli {__version__}"


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ["train", "sample", "eval", "attn-map", "sn-check"]:
        assert name in result.stdout


def test_help_order_does_not_depend_on_import_order():
    code = ("import gancli.cli.plot, gancli.cli.eval; import typer.main; from gancli.cli.main import app; "
            "print(','.join(typer.main.get_command(app).commands))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "train,sample,translate,eval,attn-map,sn-check,export,report,compare,info,plot"


def test_help_does_not_import_torch():
    code = "import sys; from gancli.cli.main import app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("command", ["train", "eval", "sample"])
def test_a_command_help_does_not_import_torch(command):
    """The root callback (keep_freed_memory) runs before a subcommand's --help: it must stay torch-free."""
    code = ("import sys; from typer.main import get_command; from gancli.cli.main import app\n"
            f"get_command(app).main(['{command}', '--help'], standalone_mode=False)\n"
            "print('torch' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "False"
