"""Where files land and what eval / plot / info say: default names in the run's folder (never over
an earlier file), the eval log line, plot's series and scales, info's preset, options and times."""
import json
import shutil

import pytest
from PIL import Image
from typer.testing import CliRunner

from gancli.cli.main import app

runner = CliRunner()


def _sample(*args):
    result = runner.invoke(app, ["sample", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


# --------------------------------------------------------------------------------------- sample
@pytest.mark.parametrize("args, name", [
    (["-n", "4"], "sample-seed3-n4.png"),
    (["-n", "4", "--truncation", "0.5"], "sample-seed3-n4-t0.5.png"),
    (["-n", "4", "--truncation", "2,1,0.5"], "sample-seed3-n4-t2,1,0.5.png"),
    (["-n", "8", "--class", "all"], "sample-seed3-n8-all-classes.png"),
    (["-n", "2", "--class", "ring,3"], "sample-seed3-n2-class-ring,3.png"),
    (["-n", "4", "--no-ema"], "sample-seed3-n4-no-ema.png"),
])
def test_sample_names_its_grid_after_the_options_in_the_run(tiny_run, tmp_path, monkeypatch, args, name):
    monkeypatch.chdir(tmp_path)
    result = _sample(tiny_run, "--seed", "3", *args)
    path = tiny_run / "samples" / name
    assert result.stdout.startswith(f"wrote {path}: ") and result.stdout.rstrip().endswith("seed 3")
    assert Image.open(path).format == "PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing in the working directory


def test_a_default_name_never_replaces_an_earlier_file(tiny_run):
    folder = tiny_run / "samples"
    folder.mkdir()
    (folder / "sample-seed3-n4.png").write_bytes(b"an earlier grid")
    for expected in ("sample-seed3-n4-2.png", "sample-seed3-n4-3.png"):
        result = _sample(tiny_run, "-n", "4", "--seed", "3")
        assert result.stdout.startswith(f"wrote {folder / expected}: 4 images, 32x32")
    assert (folder / "sample-seed3-n4.png").read_bytes() == b"an earlier grid"
    # the same seed: the same images, in two files
    assert (folder / "sample-seed3-n4-2.png").read_bytes() == (folder / "sample-seed3-n4-3.png").read_bytes()


def test_interpolation_grid_and_gif_share_one_free_name(tiny_run):
    folder = tiny_run / "samples"
    folder.mkdir()
    (folder / "interp-seed3-n2-k3.gif").write_bytes(b"an earlier gif")  # taken, though its PNG is not
    result = _sample(tiny_run, "-n", "2", "--interp", "3", "--seed", "3")
    stem = folder / "interp-seed3-n2-k3-2"
    assert result.stdout.startswith(f"wrote {stem}.png, {stem}.gif: ")
    assert Image.open(folder / "interp-seed3-n2-k3-2.gif").n_frames == 4  # 3 steps there and back
    assert (folder / "interp-seed3-n2-k3.gif").read_bytes() == b"an earlier gif"
    assert not (folder / "interp-seed3-n2-k3.png").exists()


def test_a_checkpoint_other_than_last_pt_adds_its_step(tiny_run):
    shutil.copy(tiny_run / "checkpoints" / "last.pt", tiny_run / "checkpoints" / "step-7.pt")
    result = _sample(tiny_run / "checkpoints" / "step-7.pt", "-n", "4", "--seed", "3")
    assert result.stdout.startswith(f"wrote {tiny_run / 'samples' / 'sample-step7-seed3-n4.png'}: ")


def test_a_loose_checkpoint_writes_the_same_names_into_the_current_folder(tiny_run, tmp_path, monkeypatch):
    loose = tmp_path / "downloads" / "model.pt"
    loose.parent.mkdir()
    shutil.copy(tiny_run / "checkpoints" / "last.pt", loose)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for expected in ("sample-step7-seed3-n4.png", "sample-step7-seed3-n4-2.png"):
        result = _sample(loose, "-n", "4", "--seed", "3")
        assert result.stdout.startswith(f"wrote {expected}: 4 images")
    assert sorted(p.name for p in work.iterdir()) == ["sample-step7-seed3-n4-2.png", "sample-step7-seed3-n4.png"]
    assert sorted(p.name for p in loose.parent.iterdir()) == ["model.pt"]


def test_an_explicit_out_is_replaced_as_before(tiny_run, tmp_path):
    out = tmp_path / "grid.png"
    out.write_bytes(b"old")
    result = _sample(tiny_run, "-n", "4", "--seed", "3", "--out", out)
    assert result.stdout.startswith(f"wrote {out}: 4 images")
    assert Image.open(out).size == (2 * 68 + 4, 2 * 68 + 4)  # 32 px tiles drawn at 64 px
    assert not (tiny_run / "samples").exists()


# ------------------------------------------------------------------------------------- attn-map
def _attn(*args):
    result = runner.invoke(app, ["attn-map", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_attn_map_writes_into_the_run_s_attn_folder(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tiny_run / "attn"
    first = _attn(tiny_run, "-n", "1", "--seed", "1")  # the default point: the centre of the 32 px image
    assert first.stdout.startswith(f"wrote {folder / 'attn-g-seed1-n1-16,16.png'}: 1 rows x 2 columns")
    again = _attn(tiny_run, "-n", "1", "--seed", "1", "--point", "16,16")
    assert again.stdout.startswith(f"wrote {folder / 'attn-g-seed1-n1-16,16-2.png'}: ")
    two = _attn(tiny_run, "-n", "2", "--seed", "1", "--point", "3,4", "--point", "20,8", "--entropy", "--raw",
                "--truncation", "0.5", "--class", "ring", "--layer", "0")
    stem = folder / "attn-g-seed1-n2-3,4+20,8-layer-0-class-ring-t0.5-entropy"
    assert two.stdout.startswith(f"wrote {stem}.png, {stem}.npy: 2 rows x 4 columns")
    d = _attn(tiny_run, "--net", "d", "--generated", "-n", "1", "--seed", "2", "--point", "4,28", "--no-ema")
    assert d.stdout.startswith(f"wrote {folder / 'attn-d-generated-seed2-n1-4,28-no-ema.png'}: ")
    real = _attn(tiny_run, "--net", "d", "-n", "1", "--seed", "2", "--no-ema")  # real images: G's weights unused
    assert real.stdout.startswith(f"wrote {folder / 'attn-d-real-seed2-n1-16,16.png'}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_attn_map_on_an_image_file_names_it_and_a_loose_checkpoint_uses_the_current_folder(tiny_run, tmp_path,
                                                                                          monkeypatch):
    import numpy as np

    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "my cat.png")
    shutil.copy(tiny_run / "checkpoints" / "last.pt", tmp_path / "model.pt")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = _attn(tmp_path / "model.pt", "--net", "d", "--image", tmp_path / "my cat.png", "--image",
                   tmp_path / "my cat.png", "--point", "8,8")
    assert result.stdout.startswith("wrote attn-d-step7-my_cat+1-8,8.png: 2 rows")
    assert (work / "attn-d-step7-my_cat+1-8,8.png").is_file()


def test_attn_map_explicit_out_is_replaced_and_bad_input_writes_nothing(tiny_run, tmp_path):
    out = tmp_path / "m.png"
    out.write_bytes(b"old")
    result = _attn(tiny_run, "-n", "1", "--seed", "1", "--out", out)
    assert result.stdout.startswith(f"wrote {out}: ") and Image.open(out).format == "PNG"
    bad = runner.invoke(app, ["attn-map", str(tiny_run), "--point", "40,1"])
    assert bad.exit_code == 1 and "outside the 32x32 image" in bad.stderr
    assert not (tiny_run / "attn").exists()


# ------------------------------------------------------------------------------------------ eval
@pytest.fixture
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCLI_CACHE_DIR", str(tmp_path / "cache"))


def test_eval_ends_with_the_log_line_or_nothing(tiny_run, _cache):
    metrics = tiny_run / "metrics.jsonl"
    table = runner.invoke(app, ["eval", str(tiny_run), "-n", "8", "--ref-n", "8"])
    assert table.exit_code == 0, table.output
    assert table.stdout.rstrip().splitlines()[-1] == f"appended to {metrics} (gancli eval --no-log to skip)"
    assert json.loads(metrics.read_text().splitlines()[-1])["event"] == "eval"
    as_json = runner.invoke(app, ["eval", str(tiny_run), "-n", "8", "--ref-n", "8", "--json"])
    assert json.loads(as_json.stdout)["n"] == 8  # stdout stays one JSON object; the line goes to stderr
    assert as_json.stderr.rstrip().splitlines()[-1] == f"appended to {metrics} (gancli eval --no-log to skip)"
    before = metrics.read_text()
    quiet = runner.invoke(app, ["eval", str(tiny_run), "-n", "8", "--ref-n", "8", "--no-log"])
    assert quiet.exit_code == 0 and "appended" not in quiet.output and metrics.read_text() == before
    assert quiet.stdout.rstrip().splitlines()[-1].endswith(" s")  # the timing line is last


def test_eval_of_a_loose_checkpoint_says_nothing_of_a_log(tiny_run, tmp_path, _cache):
    shutil.copy(tiny_run / "checkpoints" / "last.pt", tmp_path / "model.pt")
    result = runner.invoke(app, ["eval", str(tmp_path / "model.pt"), "-n", "8", "--ref-n", "8"])
    assert result.exit_code == 0, result.output
    assert "appended" not in result.output


def test_precision_recall_on_shapes_net_carry_a_caveat_in_the_table_only(tiny_run, _cache):
    table = runner.invoke(app, ["eval", str(tiny_run), "--prc", "-n", "8", "--ref-n", "8", "--no-log",
                                "--feature-extractor", "shapes-net"])
    assert table.exit_code == 0, table.output
    assert ("note: precision / recall on shapes-net's 64-d features are coarse (k-NN manifolds, k = 3, in a "
            "small feature space)") in " ".join(table.stdout.split())
    as_json = runner.invoke(app, ["eval", str(tiny_run), "--prc", "-n", "8", "--ref-n", "8", "--no-log", "--json",
                                  "--feature-extractor", "shapes-net"])
    assert "coarse" not in as_json.output and "precision" in json.loads(as_json.stdout)
    fid_only = runner.invoke(app, ["eval", str(tiny_run), "-n", "8", "--ref-n", "8", "--no-log"])
    assert "coarse" not in fid_only.output


def test_caveats_follow_the_extractor():
    from gancli.metrics.registry import caveats

    record = {"precision": 0.5, "recall": 0.4}
    assert caveats({**record, "feature_extractor": "shapes-net"}) == [
        "precision / recall on shapes-net's 64-d features are coarse (k-NN manifolds, k = 3, in a small feature space)"]
    assert caveats({**record, "feature_extractor": "inception"}) == []
    assert caveats({"fid": 3.0, "feature_extractor": "shapes-net"}) == []


# ------------------------------------------------------------------------------------------ plot
def _evals(run, records):
    with open(run / "metrics.jsonl", "a") as f:
        for record in records:
            f.write(json.dumps({"event": "eval", **record}) + "\n")


def _capture_figure(monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    return figures


def test_plot_draws_each_evaluation_setting_as_its_own_series(tiny_run, monkeypatch):
    shapes = {"feature_extractor": "shapes-net", "reference": "shapes train, 96 images at 32px"}
    _evals(tiny_run, [
        {"step": 2, "fid": 300.0, "n": 2000, **shapes, "class_accuracy": 0.2},
        {"step": 4, "fid": 12.0, "n": 2000, **shapes, "class_accuracy": 0.8},
        {"step": 6, "fid": 8.0, "n": 2000, **shapes, "class_accuracy": 0.9},
        {"step": 6, "fid": 9.5, "n": 500, **shapes, "class_accuracy": 0.85},
        {"step": 8, "fid": 40.0, "n": 2000, "feature_extractor": "inception", "reference": shapes["reference"]},
    ])
    figures = _capture_figure(monkeypatch)
    result = runner.invoke(app, ["plot", str(tiny_run)])
    assert result.exit_code == 0, result.output
    for text in ("fid [shapes-net, n=2000] (3 points)", "fid [shapes-net, n=500] (1 points)",
                 "fid [inception, n=2000] (1 points)", "class_accuracy [shapes-net, n=2000] (3 points)"):
        assert text in result.stdout
    (fig,) = figures
    losses, fid, accuracy = fig.axes
    assert fid.get_yscale() == "log"  # 300 at step 2 does not flatten 8-12
    assert fid.get_legend_handles_labels()[1] == [
        "FID (shapes-net, n=2000)", "FID (shapes-net, n=500)", "FID (inception, n=2000)"]
    assert accuracy.get_ylabel() == "class accuracy (%)" and accuracy.get_ylim() == pytest.approx((-2, 102))
    assert list(accuracy.lines[0].get_ydata()) == pytest.approx([20, 80, 90])  # stored 0..1, drawn in percent
    assert losses.get_yscale() == "linear"


def test_plot_keeps_truncated_and_non_ema_evaluations_apart(tiny_run, monkeypatch):
    shapes = {"feature_extractor": "shapes-net", "reference": "shapes train, 96 images at 32px", "n": 2000}
    _evals(tiny_run, [
        {"step": 4, "fid": 12.0, **shapes, "truncation": None, "ema": True},
        {"step": 6, "fid": 8.0, **shapes},  # a record of an older gancli: no truncation / ema fields
        {"step": 6, "fid": 15.0, **shapes, "truncation": 0.5, "ema": True},
        {"step": 6, "fid": 11.0, **shapes, "truncation": None, "ema": False},
    ])
    figures = _capture_figure(monkeypatch)
    result = runner.invoke(app, ["plot", str(tiny_run)])
    assert result.exit_code == 0, result.output
    (fig,) = figures
    assert fig.axes[1].get_legend_handles_labels()[1] == [
        "FID (shapes-net, n=2000)", "FID (shapes-net, n=2000, t=0.5)", "FID (shapes-net, n=2000, no EMA)"]
    assert [list(line.get_ydata()) for line in fig.axes[1].lines] == [[12.0, 8.0], [15.0], [11.0]]


def test_plot_names_the_reference_only_when_references_differ(tiny_run, monkeypatch):
    _evals(tiny_run, [{"step": 4, "fid": 9.0, "n": 100, "feature_extractor": "shapes-net",
                       "reference": "shapes train, 96 images at 32px", "is_mean": 2.0},
                      {"step": 8, "fid": 7.0, "n": 100, "feature_extractor": "shapes-net",
                       "reference": "folder x/, 30 images at 32px", "is_mean": 2.5}])
    figures = _capture_figure(monkeypatch)
    result = runner.invoke(app, ["plot", str(tiny_run)])
    assert result.exit_code == 0, result.output
    assert "fid [shapes-net, n=100, ref shapes train, 96 images] (1 points)" in result.stdout
    assert "fid [shapes-net, n=100, ref folder x/, 30 images] (1 points)" in result.stdout
    assert "is_mean [shapes-net, n=100] (2 points)" in result.stdout  # IS reads no reference: one series
    assert len(figures[0].axes) == 3


def test_plot_scales_training_panels_to_their_bulk_and_says_what_is_cut(tiny_run, monkeypatch):
    records = [{"step": s, "d_loss": 1.0 + 0.01 * (s % 7), "g_loss": 0.5} for s in range(1, 101)]
    records[0]["d_loss"] = 500.0  # one early spike
    (tiny_run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    figures = _capture_figure(monkeypatch)
    assert runner.invoke(app, ["plot", str(tiny_run)]).exit_code == 0
    ax = figures[0].axes[0]
    low, high = ax.get_ylim()
    assert 0.3 < low < 0.6 and 1.0 < high < 1.2  # g_loss 0.5 and d_loss 1.0-1.06 fill the panel
    assert [t.get_text() for t in ax.texts] == ["1 point beyond the range (1st-99th percentile shown)"]


def test_a_few_training_points_are_not_clipped(tiny_run, monkeypatch):
    figures = _capture_figure(monkeypatch)
    assert runner.invoke(app, ["plot", str(tiny_run)]).exit_code == 0  # 4 points per curve
    ax = figures[0].axes[0]
    low, high = ax.get_ylim()
    assert list(ax.texts) == [] and low < 0.5 and high > 1.3  # d_loss 1.3 ... 0.7 and g_loss 0.5 all shown


# ------------------------------------------------------------------------------------------ info
def _with_preset_and_times(run):
    from gancli.checkpoint import load_checkpoint, save_checkpoint

    path = run / "checkpoints" / "last.pt"
    state = load_checkpoint(path)
    state["train_config"]["preset"] = "quick"
    save_checkpoint(path, state)
    records = [{"step": 2, "d_loss": 1.0, "g_loss": 0.5, "img_s": 1234.5, "time": 60.0},
               {"step": 4, "d_loss": 1.0, "g_loss": 0.5, "img_s": 1234.5, "time": 120.0},
               {"step": 6, "d_loss": 1.0, "g_loss": 0.5, "img_s": 1000.0, "time": 30.0},  # resumed: a new clock
               {"step": 6, "event": "eval", "fid": 12.5, "n": 2000, "feature_extractor": "shapes-net",
                "precision": 0.25, "recall": 0.5, "seconds": 14.23},
               {"step": 8, "d_loss": 1.0, "g_loss": 0.5, "time": 141.3}]  # past the checkpoint (step 7)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_info_shows_preset_changed_options_and_times_with_units(tiny_run):
    _with_preset_and_times(tiny_run)
    info = json.loads(runner.invoke(app, ["info", str(tiny_run), "--json"]).stdout)
    assert info["preset"] == "quick"
    assert info["model_changes"] == {"ch": {"value": 4, "default": 64}}
    assert info["train_seconds"] == pytest.approx(150.0)  # 120 s, then 30 s after the resume
    result = runner.invoke(app, ["info", str(tiny_run)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {line.strip("│ ").split("│")[0].strip(): line.strip("│ ").split("│")[-1].strip()
            for line in result.stdout.splitlines() if line.count("│") == 3}
    assert rows["preset"] == "quick"
    assert rows["non-default model options"] == "ch 4 (default 64)"
    assert rows["training wall time"] == "2 min 30 s"
    assert rows["last img_s"] == "1,000 img/s" and "last time" not in rows
    assert rows["eval (step 6, shapes-net)"] == ("FID 12.5, precision 0.250, recall 0.500 (n=2,000; 14.2 s)")
    assert "note: precision / recall on shapes-net's 64-d features are coarse" in result.stdout


def test_info_names_every_changed_model_option(tmp_path):
    from tests.conftest import write_tiny_run
    from gancli.checkpoint import load_checkpoint, save_checkpoint
    from gancli.config import ModelConfig
    from gancli.models import build_models, resolve_model

    path = write_tiny_run(tmp_path / "run")
    state = load_checkpoint(path)
    cfg = resolve_model(ModelConfig(name="sagan", res=32, ch=4, d_ch=8, n_classes=8, attn_res=[8], d_norm="bn"))
    G, D = build_models(cfg)
    state.update(model_config=cfg.to_dict(), networks={"G": G.state_dict(), "D": D.state_dict()}, ema={})
    save_checkpoint(path, state)
    info = json.loads(runner.invoke(app, ["info", str(tmp_path / "run"), "--json"]).stdout)
    assert info["model_changes"] == {"ch": {"value": 4, "default": 64}, "d_ch": {"value": 8, "default": 4},
                                     "attn_res": {"value": [8], "default": [16]},
                                     "d_norm": {"value": "bn", "default": "sn"}}
    assert info["preset"] is None and info["train_seconds"] is None
    table = runner.invoke(app, ["info", str(tmp_path / "run")], env={"COLUMNS": "250"})
    assert "ch 4 (default 64), d_ch 8 (default as ch), attn_res 8 (default 16), d_norm bn (default sn)" in table.stdout
    assert "preset" not in table.stdout


def test_seconds_read_with_units():
    from gancli.viz.units import format_seconds

    assert [format_seconds(s) for s in (None, 0.04, 14.23, 59.96, 261.3, 3600, 7523)] == [
        "-", "0.0 s", "14.2 s", "1 min 0 s", "4 min 21 s", "1 h 0 min", "2 h 5 min"]
