"""gancli compare: a tiny study end to end (run folders, the table against hand-computed numbers,
resume, refusal of a changed study, printed commands that run as printed, --collect, the HTML),
and bad input."""
import base64
import json
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gancli.checkpoint import load_checkpoint
from gancli.cli.main import app
from gancli.errors import GancliError
from gancli.study import Study, collect, load_study_file, run_study, train_command_line, write_report
from tests.conftest import same_kernels_env
from tests.pictures import assert_rows_named, ink_width, read_rgb, split, width_of

runner = CliRunner()
# shapes-net: 20 samples give a covariance of rank 19 in its 64-d features; in shapes-factor-net's
# 128 dimensions the same FID's matrix square root is so ill-conditioned that the last bits of the
# features (which cache entry, which process) move it by 1e-3, and these tests compare processes
TINY = {"dataset": "shapes", "steps": 4, "eval_every": 2, "eval_n": 20, "data_size": 48, "batch_size": 8,
        "ch": 4, "d_ch": 4, "log_every": 2, "sample_every": 4, "ckpt_every": 2, "device": "cpu",
        "feature_extractor": "shapes-net"}


def tiny_study(out, **common):
    return Study.from_options(["dcgan", "sagan"], {**TINY, **common}, seeds=2, out=out)


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """The tiny study, trained and reported once for the module."""
    out = tmp_path_factory.mktemp("study") / "s"
    study = tiny_study(out)
    summaries = run_study(study, echo=lambda line: None)
    results = collect(out)
    files = write_report(results)
    return study, summaries, results, files


def test_every_run_is_an_ordinary_run_directory(done):
    study, summaries, _, _ = done
    names = ["dcgan__s0", "dcgan__s1", "sagan__s0", "sagan__s1"]
    assert [s["name"] for s in summaries] == names and all(s["state"] == "trained" for s in summaries)
    for name in names:
        run = study.out / "runs" / name
        config = json.loads((run / "config.json").read_text())
        assert config["train"]["seed"] == int(name[-1]) and config["train"]["data_seed"] == 0
        assert config["train"]["eval_metrics"] == ["fid", "is", "kid"]
        assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 4
    manifest = json.loads((study.out / "study.json").read_text())
    assert manifest["runs"] == names and manifest["study"]["seeds"] == [0, 1]
    # every seed saw the same data: the same reference in every evaluation
    references = {json.loads(l)["reference"] for name in names
                  for l in (study.out / "runs" / name / "metrics.jsonl").read_text().splitlines() if '"eval"' in l}
    assert len(references) == 1


def test_table_is_mean_and_sample_std_of_the_runs_numbers(done):
    study, _, results, files = done
    saved = json.loads(files["json"].read_text())
    for variant in ("dcgan", "sagan"):
        best, final = [], []
        for seed in (0, 1):
            evals = [json.loads(l) for l in (study.out / "runs" / f"{variant}__s{seed}" / "metrics.jsonl")
                     .read_text().splitlines() if '"eval"' in l]
            assert [e["step"] for e in evals] == [2, 4]
            best.append(min(e["fid"] for e in evals))
            final.append(evals[-1]["fid"])
        row = next(r for r in saved["rows"] if r["setting"] == variant)
        mean = (best[0] + best[1]) / 2
        assert row["n"] == 2 and row["best_fid"]["mean"] == pytest.approx(mean)
        assert row["best_fid"]["std"] == pytest.approx(abs(best[0] - best[1]) / math.sqrt(2))  # n - 1
        assert row["final_fid"]["mean"] == pytest.approx(sum(final) / 2)
    assert [r["setting"] for r in saved["rows"]] == sorted(["dcgan", "sagan"],
                                                          key=lambda s: next(r for r in saved["rows"] if r["setting"] == s)["best_fid"]["mean"])
    table = files["table"].read_text()
    assert "| setting | n | best FID |" in table and "real data (floor)" in table
    assert saved["real"]["best_fid"] < min(r["best_fid"]["mean"] for r in saved["rows"])
    assert saved["real"]["final_accuracy"] == pytest.approx(1.0)  # shapes-net reads real shapes


def test_report_html_holds_the_table_and_the_images(done):
    _, _, _, files = done
    page = files["html"].read_text()
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page and "dcgan" in page and "sagan" in page
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 2
    assert base64.b64decode(images[0]) == files["curves"].read_bytes()
    assert base64.b64decode(images[1]) == files["samples"].read_bytes()
    assert "src='http" not in page and "href=" not in page and "<script" not in page  # nothing fetched: offline


def test_samples_png_names_its_rows_and_columns_unless_told_not_to(done, tmp_path):
    _, _, results, files = done
    bare = read_rgb(write_report(results, tmp_path / "bare", labels=False)["samples"])
    assert bare.shape == (3 * 68 + 4, 8 * 68 + 4, 3)  # dcgan, sagan, real data; 8 columns; 32 px drawn at 64
    grid, margin, top = split(read_rgb(files["samples"]), *bare.shape[:2])
    np.testing.assert_array_equal(grid, bare)
    assert_rows_named(margin, ["dcgan", "sagan", "real data"], pitch=68, pad=4)
    # class-conditional rows: each column's class on top (same z, class k in column k)
    offset = margin.shape[1]
    classes = ["circle", "square", "triangle", "ring", "plus", "circle-pair", "triangle-pair", "stripes"]
    widths = [ink_width(top[:, offset + 2 + c * 68: offset + 2 + (c + 1) * 68]) for c in range(8)]
    assert all(abs(w - width_of(name)) <= 1 or width_of(name) > 66 for w, name in zip(widths, classes)), widths


def test_rerun_skips_finished_runs_and_resumes_an_interrupted_one_bit_exactly(done, tmp_path):
    study, _, _, _ = done
    before = {p.name: (p / "metrics.jsonl").read_text() for p in (study.out / "runs").iterdir()}
    lines = []
    assert run_study(tiny_study(study.out), echo=lines.append) == []
    assert lines == [f"study {study.out}: 4 runs (4 finished, 0 to train)"]
    assert {p.name: (p / "metrics.jsonl").read_text() for p in (study.out / "runs").iterdir()} == before
    # interrupt one run at step 2: its last.pt goes back to the step-2 checkpoint
    run = study.out / "runs" / "sagan__s1"
    final = load_checkpoint(run / "checkpoints" / "last.pt")
    (run / "checkpoints" / "last.pt").write_bytes((run / "checkpoints" / "step-2.pt").read_bytes())
    summaries = run_study(tiny_study(study.out), echo=lines.append)
    assert [(s["name"], s["state"], s["from"], s["step"]) for s in summaries] == [("sagan__s1", "resumed", 2, 4)]
    resumed = load_checkpoint(run / "checkpoints" / "last.pt")
    for key, value in final["networks"]["G"].items():
        torch.testing.assert_close(resumed["networks"]["G"][key], value, rtol=0, atol=0)


def test_a_changed_run_is_refused_with_the_differences(done):
    study, _, _, _ = done
    with pytest.raises(GancliError, match=r"run dcgan__s0 was trained with other options \(model.ch 4 -> 8\)"):
        run_study(tiny_study(study.out, ch=8), echo=lambda line: None)


def test_printed_commands_run_as_printed_and_collect_rebuilds_the_table(done, tmp_path):
    study, _, results, files = done
    commands = [train_command_line(plan) for plan in tiny_study(tmp_path / "printed").runs()]
    assert len(commands) == 4 and commands[0].startswith("gancli train shapes --data-seed 0 ")
    args = shlex.split(commands[0])
    # with this process's thread count and CPU kernels, the printed command is the study's computation
    # (another thread count or ISA may change the last bits: see the --jobs test below)
    subprocess.run([sys.executable, "-m", "gancli", *args[1:]], check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin", **same_kernels_env()})
    printed_run = tmp_path / "printed" / "runs" / "dcgan__s0"
    original = study.out / "runs" / "dcgan__s0"
    evals = [[json.loads(l)["fid"] for l in (r / "metrics.jsonl").read_text().splitlines() if '"eval"' in l]
             for r in (printed_run, original)]
    assert evals[0] == evals[1]  # the printed command trains exactly the study's run
    result = runner.invoke(app, ["compare", "--collect", str(study.out)])
    assert result.exit_code == 0, result.output
    assert files["table"].read_text() == (study.out / "table.md").read_text()
    assert "real data" in result.stdout and "best FID" in result.stdout


def test_printed_commands_are_what_is_left_and_each_is_safe_to_rerun(tmp_path):
    """--print-commands prints a line per unfinished run; a line starts its run, or resumes it when
    the run has a checkpoint (a job cut off by a time limit is run again as it is); a finished
    run is not printed."""
    import os
    import subprocess
    import sys

    out = tmp_path / "s"
    study = ["compare", "dcgan", "sngan", "--steps", "2", "--set", "ch=4", "--set", "batch_size=4",
             "--set", "data_size=16", "--set", "device=cpu", "--eval-every", "2", "--eval-n", "10", "--out", str(out)]
    lines = runner.invoke(app, [*study, "--print-commands"]).stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("if [ -e ") for line in lines)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    first = out / "runs" / "dcgan__s0"
    # a run cut off after one step: the start line's own command, with fewer steps
    start = lines[0].split("; else ", 1)[1].removesuffix("; fi").replace("--steps 2", "--steps 1")
    assert subprocess.run(start, shell=True, env=env, capture_output=True).returncode == 0
    rerun = subprocess.run(["bash", "-c", lines[0]], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "trained 1 steps (steps 1 -> 2)" in rerun.stdout
    assert [json.loads(line)["step"] for line in (first / "metrics.jsonl").read_text().splitlines()
            if "event" in line][-1] == 2
    result = runner.invoke(app, [*study, "--print-commands"])
    assert result.stdout.strip().splitlines() == [lines[1]]
    assert "# finished, not printed: dcgan__s0" in result.stderr


def test_cli_prints_commands_without_writing(tmp_path):
    result = runner.invoke(app, ["compare", "dcgan", "sngan", "--steps", "10", "--seeds", "2", "--print-commands",
                                 "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4 and "--preset sngan" in lines[2] and "--model dcgan" in lines[0]
    assert "--seed 1" in lines[1] and f"--out {tmp_path}/s/runs/dcgan__s1" in lines[1]
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("args, match", [
    (["dcgna"], "unknown variant 'dcgna': a variant is a preset or a model"),
    ([], "name at least one variant"),
    (["dcgan", "dcgan"], "variant 'dcgan' is named twice"),
    (["dcgan", "--set", "stepz=3"], "variant 'dcgan': unknown training options: stepz (did you mean steps?)"),
    (["dcgan", "--hparams", "Z"], "unknown hparams 'Z'"),
    (["--collect", "{tmp}/nowhere"], "is not a study folder"),
])
def test_bad_input_is_one_line(tmp_path, args, match):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = runner.invoke(app, ["compare", *args, "--out", str(tmp_path / "s")] if "--collect" not in args
                           else ["compare", *args])
    assert result.exit_code == 1 and match in result.stderr, result.output
    assert result.stderr.count("\n") == 1 and not (tmp_path / "s").exists()


def test_study_file_with_unknown_keys_or_no_variants(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('seeds = 2\nvariant = "dcgan"\n')
    with pytest.raises(GancliError, match="unknown keys variant"):
        load_study_file(bad)
    bad.write_text("seeds = 2\n[common]\nsteps = 3\n")
    with pytest.raises(GancliError, match="defines no variants"):
        load_study_file(bad)
    bad.write_text('[variants.a]\nmodel = "dcgan"\nwidth = 3\n')
    with pytest.raises(GancliError, match="variant 'a': unknown training options: width"):
        load_study_file(bad)
    good = tmp_path / "good.toml"
    good.write_text('seeds = [3, 5]\nhparams = "report-B"\n[common]\nsteps = 3\n[variants.small]\nmodel = "dcgan"\nch = 4\n')
    study = load_study_file(good, out=tmp_path / "o")
    assert [p.name for p in study.runs()] == ["small__report-B__s3", "small__report-B__s5"]
    assert study.runs()[0].options["hparams"] == "report-B" and study.runs()[0].options["ch"] == 4


def test_unwritable_study_folder_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # (permission bits would not stop root; a file in the path stops anyone)
    result = runner.invoke(app, ["compare", "dcgan", "--steps", "2", "--out", str(blocker / "s")])
    assert result.exit_code == 1 and "cannot write the study folder" in result.stderr
    assert result.stderr.count("\n") == 1 and blocker.read_text() == "not a folder"


@pytest.mark.skipif(not any(__import__("shutil").which(b) for b in ("chromium", "chromium-browser", "google-chrome")),
                    reason="no headless Chromium here (apt-get install chromium)")
def test_report_renders_in_headless_chromium(done, tmp_path):
    import shutil

    from PIL import Image

    _, _, _, files = done
    browser = next(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b))
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,1400", files["html"].as_uri()], capture_output=True, timeout=120, check=True)
    pixels = torch.from_numpy(__import__("numpy").asarray(Image.open(shot).convert("L"), dtype="float32"))
    assert pixels.shape == (1400, 1200)
    # the page drew something: dark text and table lines on white, and the embedded images' colours
    assert (pixels < 100).float().mean() > 0.005 and pixels.std() > 20


def test_collect_leaves_unfinished_runs_out_and_says_so(done, tmp_path):
    import shutil

    study, _, _, _ = done
    for name in ("dcgan__s0", "sagan__s0"):
        shutil.copytree(study.out / "runs" / name, tmp_path / "runs" / name)
    metrics = tmp_path / "runs" / "sagan__s0" / "metrics.jsonl"
    metrics.write_text("".join(l + "\n" for l in metrics.read_text().splitlines() if json.loads(l)["step"] <= 2))
    results = collect(tmp_path, real_row=False)
    assert [r.setting for r in results.rows] == ["dcgan"]
    assert results.notes == ["still training or stopped, left out: sagan__s0 (step 2 of 4)"]


def test_jobs_two_trains_in_worker_processes_like_one_process(done, tmp_path):
    study, _, _, _ = done
    lines = []
    parallel = Study.from_options(["dcgan"], TINY, seeds=2, out=tmp_path / "p")
    summaries = run_study(parallel, jobs=2, echo=lines.append)
    assert sorted(s["name"] for s in summaries) == ["dcgan__s0", "dcgan__s1"]
    for name in ("dcgan__s0", "dcgan__s1"):
        fids = [[json.loads(l)["fid"] for l in (root / "runs" / name / "metrics.jsonl").read_text().splitlines()
                 if '"eval"' in l] for root in (tmp_path / "p", study.out)]
        assert fids[0] == pytest.approx(fids[1], rel=1e-4)  # the same run, whatever the process


def test_the_shipped_study_files_load_and_check():
    """docs/compare.md's demo runs as documented: every study file under docs/studies/ is in the
    repository, parses, and plans valid runs (the .gitignore rule for studies/ once hid it)."""
    files = sorted((Path(__file__).parents[2] / "docs" / "studies").glob("*.toml"))
    assert [f.name for f in files] == ["shapes-4.toml", "small-data.toml"]
    study = load_study_file(files[0])
    study.check()
    assert sorted({plan.name.split("__")[0] for plan in study.runs()}) == ["dcgan", "sagan", "sngan", "wgan-gp"]
    assert len(study.runs()) == 8
    small = load_study_file(files[1])
    sizes = {plan.options["data_size"] for plan in small.runs()}
    assert sizes == {250, 1000, 20000} and len(small.runs()) == 15
