"""Faults of a study: workers that outlive the study's process, an evaluation cut off, runs that
would fail after others trained, a study that grows, wall time over resumes, hostile files."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gancli.checkpoint import load_checkpoint
from gancli.cli.main import app
from gancli.errors import GancliError
from gancli.study import Study, collect, load_study_file, run_study
from gancli.study.report import read_run
from gancli.training.rundir import RunDir
from tests.study.test_compare import TINY

runner = CliRunner()
REPO = Path(__file__).parents[2]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(condition, seconds: float) -> bool:
    end = time.time() + seconds
    while time.time() < end:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _start_study(out: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "gancli", "compare", "dcgan", "--seeds", "2", "--jobs", "2", "--out", str(out),
            "--steps", "100000", "--eval-every", "100000", "--eval-n", "20"]
    for key, value in TINY.items():
        if key not in ("steps", "eval_every", "eval_n", "dataset"):
            args += ["--set", f"{key}={value}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    runs = [out / "runs" / f"dcgan__s{s}" / "checkpoints" / "last.pt" for s in (0, 1)]
    assert _wait(lambda: all(r.is_file() for r in runs), 180), proc.stderr.read() if proc.poll() is not None else ""
    return proc


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_workers_stop_with_the_study_and_save(tmp_path, how):
    """kill -9 of the study: each worker gets SIGTERM (parent-death signal), saves and exits; TERM:
    the study passes it on, waits for the saves and says so in one line. The folders are free again."""
    out = tmp_path / "s"
    proc = _start_study(out)
    workers = _children(proc.pid)
    assert len([w for w in workers if _alive(w)]) >= 2
    proc.send_signal(getattr(signal, how))
    proc.wait(timeout=120)
    assert _wait(lambda: not any(_alive(w) for w in workers), 120), "workers outlived the study"
    for seed in (0, 1):
        run = out / "runs" / f"dcgan__s{seed}"
        assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] > 0
        RunDir(run).lock()  # not held by anyone any more
    stderr = proc.stderr.read()
    if how == "SIGTERM":
        assert proc.returncode == 1 and "Traceback" not in stderr
        assert "study stopped by SIGTERM; saved dcgan__s" in stderr and "interrupted at step" in stderr
        assert "trained" not in stderr.split("to train)")[-1]


def test_a_worker_killed_outright_is_one_line(tmp_path):
    out = tmp_path / "s"
    proc = _start_study(out)
    workers = [w for w in _children(proc.pid) if "resource_tracker" not in Path(f"/proc/{w}/cmdline").read_text()]
    os.kill(workers[0], signal.SIGKILL)
    proc.wait(timeout=180)
    stderr = proc.stderr.read()
    assert proc.returncode == 1 and "Traceback" not in stderr, stderr
    assert "its worker process died" in stderr and stderr.strip().splitlines()[-1].startswith("error: run dcgan__s")
    assert _wait(lambda: not any(_alive(w) for w in workers), 120)


def _tiny(out, seeds=1, **common):
    return Study.from_options(["dcgan"], {**TINY, **common}, seeds=seeds, out=out)


def test_an_evaluation_cut_off_is_redone_and_the_table_says_where_figures_are_from(tmp_path):
    out = tmp_path / "s"
    run_study(_tiny(out), echo=lambda line: None)
    metrics = out / "runs" / "dcgan__s0" / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    final = json.loads(lines[-1])
    assert final["event"] == "eval" and final["step"] == 4
    metrics.write_text("".join(line + "\n" for line in lines[:-1]))  # killed while evaluating step 4
    results = collect(out, real_row=False)
    assert results.notes == ["final figures from an earlier step (the last evaluation is missing; rerun the study "
                             "to redo it): dcgan__s0 (step 2 of 4)"]
    summaries = run_study(_tiny(out), echo=lambda line: None)
    assert [(s["state"], s["from"], s["step"]) for s in summaries] == [("resumed", 4, 4)]
    redone = json.loads(metrics.read_text().splitlines()[-1])
    assert redone["step"] == 4 and redone["fid"] == final["fid"]  # the same seeded evaluation
    assert collect(out, real_row=False).notes == []
    assert run_study(_tiny(out), echo=lambda line: None) == []  # now finished


def test_train_resume_redoes_a_lost_final_evaluation(tmp_path):
    from gancli.api import train

    run = tmp_path / "r"
    train("shapes", out=str(run), **{k: v for k, v in TINY.items() if k != "dataset"})
    metrics = run / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    metrics.write_text("".join(line + "\n" for line in lines[:-1]))
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    assert "redid the evaluation of step 4" in result.stderr
    redone, lost = (json.loads(line) for line in (metrics.read_text().splitlines()[-1], lines[-1]))
    assert {k: v for k, v in redone.items() if k != "seconds"} == {k: v for k, v in lost.items() if k != "seconds"}
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 1 and "already at step 4" in result.stderr


def test_every_run_is_checked_before_the_first_trains(tmp_path):
    # the sagan model under the quick preset reuses fakes; hparams A asks for five D steps
    result = runner.invoke(app, ["compare", "sngan", "sagan", "--hparams", "A,B", "--out", str(tmp_path / "s")])
    assert result.exit_code == 1 and "variant 'sagan' under hparams A: --reuse-fake needs --n-dis 1" in result.stderr
    assert not (tmp_path / "s").exists()
    for args, match in ((["dcgan", "--data", "folder"], "the folder dataset needs a directory"),
                        (["cyclegan"], "variant 'cyclegan'"),
                        (["dcgan", "--hparams", "A,A"], "hparams 'A' is named twice"),
                        (["dcgan", "--seeds", str(10**9)], "--seeds must be between 1 and 1000"),
                        (["dcgan", "--set", "seed=5"], "leave seed out of its options")):
        result = runner.invoke(app, ["compare", *args, "--out", str(tmp_path / "s")])
        assert result.exit_code == 1 and match in result.stderr and result.stderr.count("\n") == 1, result.output
        assert not (tmp_path / "s").exists()


def test_a_study_grows_and_a_started_run_keeps_its_options(tmp_path):
    out = tmp_path / "s"
    run_study(_tiny(out), echo=lambda line: None)
    before = (out / "runs" / "dcgan__s0" / "metrics.jsonl").read_text()
    summaries = run_study(_tiny(out, seeds=2), echo=lambda line: None)  # one seed more
    assert [(s["name"], s["state"]) for s in summaries] == [("dcgan__s1", "trained")]
    assert (out / "runs" / "dcgan__s0" / "metrics.jsonl").read_text() == before
    assert json.loads((out / "study.json").read_text())["runs"] == ["dcgan__s0", "dcgan__s1"]
    with pytest.raises(GancliError, match=r"run dcgan__s0 was trained with other options \(batch_size 8 -> 4\)"):
        run_study(_tiny(out, seeds=2, batch_size=4), echo=lambda line: None)
    summaries = run_study(_tiny(out, seeds=1, steps=6), echo=lambda line: None)  # more steps: train on
    assert [(s["name"], s["from"], s["step"]) for s in summaries] == [("dcgan__s0", 4, 6)]


def test_wall_time_sums_the_processes_of_a_resumed_run(tmp_path):
    run = tmp_path / "runs" / "a__s0"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"train": {"steps": 4, "seed": 0}}))
    records = [{"step": 1, "img_s": 10.0, "time": 3.0}, {"step": 2, "img_s": 10.0, "time": 6.0},
               {"step": 2, "event": "eval", "fid": 9.0},
               {"step": 3, "img_s": 10.0, "time": 2.5}, {"step": 4, "img_s": 10.0, "time": 4.0},
               {"step": 4, "event": "eval", "fid": 8.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert read_run(run).values["wall_min"] == pytest.approx((6.0 + 4.0) / 60)


HOSTILE = ["[" * 500, "[1, 2]", '"text"', '{"event": "eval", "fid": 3.0}', '{"step": "2", "event": "eval", "fid": 1}',
           '{"step": 3, "event": "eval", "fid": "low"}', '{"step": 3, "event": "eval", "fid": NaN}',
           '{"step": 3, "event": "eval", "fid": 5.0, "fid_per_class": [1, 2], "feature_extractor": ["x"]}',
           '{"step": 3, "d_loss": "x", "time": "y", "img_s": [1]}']


def test_hostile_metrics_records_never_raise(tmp_path):
    out = tmp_path / "s"
    run_study(_tiny(out), echo=lambda line: None)
    run = out / "runs" / "dcgan__s0"
    metrics = run / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    metrics.write_text("".join(line + "\n" for line in lines[:-1] + HOSTILE + lines[-1:]))
    results = collect(out, real_row=False)
    assert results.runs[0].values["final_fid"] == json.loads(lines[-1])["fid"]
    for args in (["compare", "--collect", str(out)], ["plot", str(run)], ["info", str(run)],
                 ["report", str(run), "--out", str(tmp_path / "r.html")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and result.exception is None, (args, result.output)
    assert run_study(_tiny(out, steps=6), echo=lambda line: None)[0]["step"] == 6  # resume reads it too
    nan_only = tmp_path / "n" / "runs" / "x__s0"
    nan_only.mkdir(parents=True)
    (nan_only / "config.json").write_text('{"train": {"steps": 1}}')
    (nan_only / "metrics.jsonl").write_text('{"step": 1, "event": "eval", "fid": NaN}\n')
    result = runner.invoke(app, ["compare", "--collect", str(tmp_path / "n")])
    assert result.exit_code == 1 and "holds no finished run with an evaluation" in result.stderr


@pytest.mark.parametrize("text, match", [
    ("a = " + "[" * 500 + "]" * 500, "nests too deeply"),
    ("seeds = 1e23\n[variants.a]\nmodel = 'dcgan'\n", "seeds is a count or a list"),
    ("seeds = 1000000000\n[variants.a]\nmodel = 'dcgan'\n", "--seeds must be between 1 and 1000"),
    ("hparams = 5\n[variants.a]\nmodel = 'dcgan'\n", "hparams is a name or a list of names"),
    ("hparams = [['A']]\n[variants.a]\nmodel = 'dcgan'\n", "hparams is a name or a list of names"),
    ("[variants.a]\nmodel = 'dcgan'\nresume = 'x'\n", "variant 'a': a study places and seeds every run itself"),
    ("variants:\n  a: {model: dcgan}\n", "it looks like YAML"),
])
def test_hostile_study_files_are_one_line(tmp_path, text, match):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(GancliError, match=match.replace("(", r"\(").replace("[", r"\[")):
        load_study_file(path, out=tmp_path / "o")


@pytest.mark.parametrize("flag", ["--study", "--config"])
def test_special_and_deep_option_files_are_one_line(tmp_path, flag):
    command = ["compare", "--out", str(tmp_path / "o")] if flag == "--study" else ["train", "--dry-run"]
    for path, match in (("/dev/zero", "is not a regular file"), (str(tmp_path), "is not a regular file")):
        result = runner.invoke(app, [*command, flag, path])
        assert result.exit_code == 1 and match in result.stderr and result.stderr.count("\n") == 1, result.output
    if flag == "--config":
        deep = tmp_path / "deep.json"
        deep.write_text("[" * 100000)
        result = runner.invoke(app, [*command, flag, str(deep)])
        assert result.exit_code == 1 and "nests too deeply" in result.stderr, result.output
        unknown = tmp_path / "config.json"
        unknown.write_text(json.dumps({"train": {"steps": 3, "color": 1, "model": {}}}))
        result = runner.invoke(app, [*command, flag, str(unknown)])
        assert result.exit_code == 1 and "unknown keys color" in result.stderr, result.output
        unknown.write_text(json.dumps({"train": {"steps": 3}}))
        result = runner.invoke(app, [*command, flag, str(unknown)])
        assert result.exit_code == 1 and "has no model table" in result.stderr, result.output


def test_collect_says_which_planned_runs_are_missing(tmp_path):
    """A study folder's study.json names the runs it planned: --collect counts each setting's runs
    against it ("1 of 2"), gives a planned setting with no finished run its own row, and names what
    is missing and why, in the table's notes, the JSON and on stderr."""
    from gancli.study.report import markdown_table, results_json
    from gancli.study.runner import check_manifest, run_plan

    out = tmp_path / "s"
    study = Study.from_options(["dcgan", "cnn"], TINY, seeds=2, out=out)
    check_manifest(study)  # what gancli compare writes before training
    run_plan(next(plan for plan in study.runs() if plan.name == "dcgan__s0"))
    results = collect(out, real_row=False)
    assert results.missing == {"dcgan__s1": "never started", "cnn__s0": "never started", "cnn__s1": "never started"}
    table = markdown_table(results)
    assert "| dcgan | 1 of 2 |" in table and "| cnn | 0 of 2 | - |" in table
    assert "planned but never started, left out: dcgan__s1, cnn__s0, cnn__s1" in table
    assert results_json(results)["missing"]["cnn__s0"] == "never started"
    result = CliRunner().invoke(app, ["compare", "--collect", str(out)])
    assert result.exit_code == 0, result.output
    assert "missing from the table: dcgan__s1 (never started), cnn__s0 (never started)" in result.stderr


def test_a_study_shows_each_running_runs_step_and_the_time_left(monkeypatch, tmp_path):
    """While a run trains, the study prints its step, rate and time left from its metrics.jsonl,
    and the study's own time left, every PROGRESS_EVERY seconds."""
    import re

    import gancli.study.runner as runner_module

    monkeypatch.setattr(runner_module, "PROGRESS_EVERY", 0.2)
    lines = []
    options = {**TINY, "steps": 40, "log_every": 2, "eval_every": 40, "ckpt_every": 40, "sample_every": 40}
    run_study(Study.from_options(["dcgan"], options, seeds=2, out=tmp_path / "s"), echo=lines.append)
    steps = [line for line in lines if re.fullmatch(r"  dcgan__s[01]: step \d+/40 \(\d+%\)(, [\d.]+ it/s, .+ left)?", line)]
    assert steps, lines
    assert any(re.fullmatch(r"study: [01]/2 runs finished, about .+ left", line) for line in lines), lines
    assert lines[-1].startswith("[2/2] dcgan__s1: trained")
