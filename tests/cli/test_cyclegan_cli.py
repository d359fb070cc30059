"""CycleGAN runs through the CLI: train on pair DIR and shapes-pair, translate (file, folder,
wrong size, non-image), sample's triplet sheet, eval per direction, sn-check on the PatchGANs,
attn-map's refusal, info and plot."""
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from gancli.cli.main import app
from gancli.viz.grid import upscale
from tests.conftest import assert_uint8_images_close
from tests.data.test_pairs import write_cyclegan_dir
from tests.pictures import ink_width, read_rgb, split, width_of

runner = CliRunner()
TINY = ["--res", "32", "--ch", "4", "--g-blocks", "1", "--batch-size", "2", "--pool-size", "2", "--device", "cpu",
        "--log-every", "2", "--sample-every", "2", "--ckpt-every", "100"]


@pytest.fixture(scope="module")
def cycle_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cycle") / "run"
    result = runner.invoke(app, ["train", "shapes-pair", *TINY, "--steps", "4", "--data-size", "40",
                                 "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run


def test_train_pair_dir_from_the_path_argument(tmp_path):
    root = write_cyclegan_dir(tmp_path / "h2z", {"trainA": 5, "trainB": 3, "testA": 2, "testB": 2})
    result = runner.invoke(app, ["train", "pair", str(root), *TINY, "--steps", "2", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["method"] == "cyclegan" and config["train"]["preset"] == "cyclegan"
    assert config["train"]["lr_g"] == 2e-4 and config["train"]["beta1"] == 0.5 and config["train"]["beta2"] == 0.999
    assert config["dataset"]["domains"]["A"]["size"] == 5 and config["dataset"]["domains"]["B"]["size"] == 3


def test_pair_dir_without_test_b_is_one_line_before_anything_is_written(tmp_path):
    root = write_cyclegan_dir(tmp_path / "h2z", {"trainA": 2, "trainB": 2, "testA": 1})
    result = runner.invoke(app, ["train", "pair", str(root), *TINY, "--steps", "2", "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "has no testB/" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_translate_a_file_a_folder_and_a_wrong_size_image(cycle_run, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.new("RGB", (50, 30), (200, 40, 40)).save(inputs / "wide.png")  # not square, not 32 px
    Image.new("RGB", (32, 32), (10, 200, 40)).save(inputs / "b.jpg")
    (inputs / "notes.txt").write_text("not a picture")
    result = runner.invoke(app, ["translate", str(cycle_run), "--input", str(inputs), "--out", str(tmp_path / "out"),
                                 "--sheet", str(tmp_path / "sheet.png")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b.png", "wide.png"]
    assert Image.open(tmp_path / "out" / "wide.png").size == (32, 32)
    assert "skipped 1 not an image (notes.txt)" in result.stderr
    assert Image.open(tmp_path / "sheet.png").size == (2 * (4 * 34 + 2), 2 * (1 * 34 + 2))  # 2 pairs in a row

    # the translation equals G_AB on the centre-cropped, resized input, up to the last bits: the command
    # translates the folder as one batch of 2, the line below one image alone, and the convolution
    # kernels' summation order depends on the batch (and the CPU), so a pixel may move one level
    from gancli.data.base import to_float
    from gancli.data.image_files import load_square
    from gancli.sampling.translation import load_translators
    from gancli.viz.grid import to_uint8

    tr = load_translators(cycle_run)
    expected = to_uint8(tr.nets["G_AB"](to_float(load_square(inputs / "wide.png", 32)[None])))[0].numpy()
    assert_uint8_images_close(np.asarray(Image.open(tmp_path / "out" / "wide.png")), expected)

    one = runner.invoke(app, ["translate", str(cycle_run), "--input", str(inputs / "b.jpg"), "--direction", "b2a",
                              "--out", str(tmp_path / "one")])
    assert one.exit_code == 0 and [p.name for p in (tmp_path / "one").iterdir()] == ["b.png"]


@pytest.mark.parametrize("args, match", [
    (["--input", "{in}/notes.txt"], "is not an image gancli can read (unreadable)"),
    (["--input", "{in}/missing.png"], "does not exist"),
    (["--input", "{in}", "--direction", "sideways"], "unknown --direction 'sideways'"),
    (["--input", "{in}", "--out", "{in}"], "already exists and is not an empty folder"),
])
def test_translate_bad_input_is_one_line_and_writes_nothing(cycle_run, tmp_path, args, match):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "notes.txt").write_text("not a picture")
    args = [a.replace("{in}", str(inputs)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    result = runner.invoke(app, ["translate", str(cycle_run), *args])
    assert result.exit_code == 1 and match in result.stderr
    assert result.stderr.count("error:") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_translate_refuses_a_gan_run(tiny_run, tmp_path):
    Image.new("RGB", (32, 32)).save(tmp_path / "x.png")
    result = runner.invoke(app, ["translate", str(tiny_run), "--input", str(tmp_path / "x.png"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "translating needs a two-domain run" in result.stderr


def test_sample_writes_a_triplet_sheet_and_refuses_gan_options(cycle_run, tmp_path):
    result = runner.invoke(app, ["sample", str(cycle_run), "-n", "3", "--seed", "1", "--out", str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    labelled = read_rgb(tmp_path / "s.png")
    grid, margin, top = split(labelled, 2 * (3 * 34 + 2), 2 * (6 * 34 + 2))  # 32 px tiles drawn at 64 px
    assert margin.size == 0 and top.shape[0] > 0  # the columns named on top, no row names
    widths = [ink_width(top[:, 4 + c * 68: 4 + c * 68 + 64]) for c in range(6)]
    expected = [width_of(name) for name in ("a", "G_AB(a)", "G_BA(G_AB(a))", "b", "G_BA(b)", "G_AB(G_BA(b))")]
    assert all(abs(w - e) <= 1 or (e > 64 and w <= 64) for w, e in zip(widths, expected)), (widths, expected)
    result = runner.invoke(app, ["sample", str(cycle_run), "-n", "3", "--seed", "1", "--no-labels", "--scale", "1",
                                 "--out", str(tmp_path / "bare.png")])
    bare = read_rgb(tmp_path / "bare.png")
    np.testing.assert_array_equal(upscale(bare, 2), grid)  # the same sheet, unlabelled and at its own size
    bad = runner.invoke(app, ["sample", str(cycle_run), "--truncation", "0.5", "--out", str(tmp_path / "t.png")])
    assert bad.exit_code == 1 and "--truncation do not apply to a cyclegan run" in bad.stderr


def test_sample_without_out_writes_the_sheet_into_the_run(cycle_run):
    folder = cycle_run / "samples"
    for name in ("translations-seed5-n2.png", "translations-seed5-n2-2.png"):  # never over an earlier sheet
        result = runner.invoke(app, ["sample", str(cycle_run), "-n", "2", "--seed", "5"])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"wrote {folder / name}: 2 test images per domain")
    assert (folder / "translations-seed5-n2.png").read_bytes() == (folder / "translations-seed5-n2-2.png").read_bytes()
    assert Image.open(folder / "translations-seed5-n2.png").size[0] == 2 * (6 * 34 + 2)


def test_attn_map_refuses_and_sn_check_audits_both_patch_discriminators(cycle_run, tmp_path):
    attn = runner.invoke(app, ["attn-map", str(cycle_run), "--out", str(tmp_path / "a.png")])
    assert attn.exit_code == 1 and "have no self-attention" in attn.stderr
    assert not (tmp_path / "a.png").exists()
    attn = runner.invoke(app, ["attn-map", str(cycle_run)])  # the default name: nothing written either
    assert attn.exit_code == 1 and "have no self-attention" in attn.stderr and not (cycle_run / "attn").exists()
    result = runner.invoke(app, ["sn-check", str(cycle_run), "--net", "d", "--json", "-n", "4"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(report["nets"]) == ["D_A", "D_B"] and report["d_norm"] == "instance"
    for net in report["nets"].values():
        assert len(net["layers"]) == 5 and all(row["exempt"] for row in net["layers"])  # instance norm: no SN by design
        assert set(net["gradient_norms"]) == {"real", "translated", "interpolated"}
        assert any("instance norm" in part for part in net["not_covered"])


def test_sn_check_on_a_fresh_sn_patchgan_matches_torch_linalg():
    result = runner.invoke(app, ["sn-check", "--model", "cyclegan", "--d-norm", "sn", "--ch", "8", "--net", "d",
                                 "--json", "-n", "2", "--warmup", "30"])
    assert result.exit_code == 0, result.output
    rows = [row for net in json.loads(result.stdout)["nets"].values() for row in net["layers"]]
    assert len(rows) == 10 and all(row["normalized"] for row in rows)
    assert all(abs(row["sigma_mat"] - 1) < 0.05 for row in rows)  # W / sigma_hat has unit spectral norm


def test_info_and_plot_show_the_cyclegan_losses(cycle_run, tmp_path):
    info = runner.invoke(app, ["info", str(cycle_run)])
    assert info.exit_code == 0, info.output
    assert "cyclegan" in info.stdout and "G_AB" in info.stdout
    assert "g_blocks" in info.stdout and "z_dim" not in info.stdout
    out = tmp_path / "curves.png"
    plot = runner.invoke(app, ["plot", str(cycle_run), "--out", str(out)])
    assert plot.exit_code == 0, plot.output
    assert Image.open(out).size[0] > 200


def test_eval_reports_both_directions_logs_them_and_refuses_gan_options(cycle_run):
    result = runner.invoke(app, ["eval", str(cycle_run), "-n", "20", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["event"] == "eval" and record["feature_extractor"] == "shapes-pair-net" and record["n"] == 20
    for direction in ("a2b", "b2a"):
        assert record[f"fid_{direction}"] > 0 and 0 <= record[f"l1_{direction}"] <= 1
        assert 0 <= record[f"class_kept_{direction}"] <= 1 and record[f"psnr_{direction}"] > 0
        assert set(record[f"class_kept_{direction}_per_class"]) <= {"circle", "square", "triangle", "ring", "plus",
                                                                    "circle-pair", "triangle-pair", "stripes"}
    logged = [json.loads(l) for l in (cycle_run / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1]["fid_a2b"] == record["fid_a2b"]
    table = runner.invoke(app, ["eval", str(cycle_run), "-n", "20", "--no-log"])
    assert table.exit_code == 0 and "A -> B: class kept" in table.stdout and "translations per direction" in table.stdout
    bad = runner.invoke(app, ["eval", str(cycle_run), "--kid", "-n", "20"])
    assert bad.exit_code == 1 and "does not apply to a translation run" in bad.stderr
