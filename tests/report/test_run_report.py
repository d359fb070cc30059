"""gancli report: the run page holds the run's config, its last evaluation as metrics.jsonl has it,
sn-check's figures, embedded images that decode to the expected sizes, nothing fetched; missing
parts are notes; a CycleGAN run gets its translation sheet; CLI errors write nothing; Chromium draws it."""
import base64
import html
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from gancli.cli.main import app
from gancli.config import SnRequest
from gancli.report import RunReportRequest, write_run_report
from tests.conftest import write_tiny_run

runner = CliRunner()
IMG = re.compile(r"<img alt='([^']*)'(?: width='(\d+)')? src='data:([a-z/]+);base64,([A-Za-z0-9+/=]+)'>")
EVAL = {"step": 6, "event": "eval", "fid": 12.3456, "is_mean": 3.21, "is_std": 0.12, "kid_mean": 0.0123,
        "kid_std": 0.001, "kid_subset_size": 50, "class_accuracy": 0.875,
        "class_accuracy_per_class": {"circle": 1.0, "square": 0.75}, "n": 100, "feature_extractor": "shapes-net",
        "reference": "shapes train, 96 images at 32px", "reference_n": 96}


def images(page: str) -> dict[str, tuple[str, bytes, str | None]]:
    """alt text -> (mime type, bytes, width attribute) of every embedded image."""
    return {alt: (mime, base64.b64decode(data), width) for alt, width, mime, data in IMG.findall(page)}


def section(page: str, anchor: str) -> str:
    """The HTML of one section: from its heading to the next one."""
    start = page.index(f"<h2 id='{anchor}'>")
    end = page.find("<h2 id=", start + 1)
    return page[start: end if end > 0 else len(page)]


def add_run_files(run):
    """An earlier and a newer evaluation, two sample grids (step 10 is newer than step 6), a real grid, a GIF."""
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({**EVAL, "step": 4, "fid": 30.0}) + "\n" + json.dumps(EVAL) + "\n")
    (run / "samples").mkdir()
    for name, size in (("step-6.png", (20, 20)), ("step-10.png", (50, 40)), ("real.png", (30, 30))):
        Image.fromarray(np.full((size[1], size[0], 3), len(name), np.uint8)).save(run / "samples" / name)
    frames = [Image.fromarray(np.full((20, 30, 3), v, np.uint8)) for v in (0, 200)]
    frames[0].save(run / "progress.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A tiny SAGAN run with every file a page can show, and its page."""
    run = tmp_path_factory.mktemp("full") / "runs" / "tiny"
    write_tiny_run(run)
    add_run_files(run)
    written = write_run_report(run, RunReportRequest(seed=0))
    return run, written, written.path.read_text()


def test_page_is_written_to_the_run_with_every_section(full):
    run, written, page = full
    assert written.path == run / "report.html" and written.size == len(page.encode())
    assert written.notes == {}  # every part could be made
    assert page.startswith("<!DOCTYPE html>") and "gancli run tiny: sagan, step 7" in page
    for anchor in ("overview", "config", "curves", "samples", "eval", "truncation", "attention", "sn"):
        assert f"<h2 id='{anchor}'>" in page and f"href='#{anchor}'" in page
    assert not list(run.glob(".report.html.*"))  # the temporary file was renamed


def test_page_holds_the_config_values(full):
    _, _, page = full
    config = section(page, "config")
    for key, value in (("name", "sagan"), ("ch", "4"), ("res", "32"), ("n_classes", "8"), ("attn_res", "16"),
                       ("loss", "hinge"), ("steps", "10"), ("data_size", "96"), ("label_kind", "class"),
                       ("class_names", "circle, square, triangle, ring, plus, circle-pair, triangle-pair, stripes")):
        assert f"<tr><td>{key}</td><td>{value}</td></tr>" in config, key
    assert "<tr><td>step</td><td>7 of 10</td></tr>" in section(page, "overview")


def test_last_evaluation_is_the_newest_record_as_metrics_jsonl_has_it(full):
    _, _, page = full
    block = section(page, "eval")
    for metric, value in (("FID", "12.35"), ("IS", "3.21 ± 0.12"), ("KID", "0.0123 ± 0.001"),
                          ("class accuracy", "87.5%")):
        assert f"<tr><td>{metric}</td><td>{value}</td></tr>" in block
    assert "<tr><td>square</td><td>75.0%</td></tr>" in block
    assert html.escape(json.dumps(EVAL, indent=2)) in block  # the record itself, every digit
    assert "Step 6: FID 12.35" in block and "<td>30</td>" not in block  # not the earlier one
    assert "1 earlier evaluation in the curves" in block


def test_sn_check_figures_are_those_of_sn_check(full):
    from gancli.inspect.sn_check import sn_check

    run, _, page = full
    expected = sn_check(run / "checkpoints" / "last.pt", SnRequest(n=8, seed=0))
    block = section(page, "sn")

    def f(value):
        return "-" if value is None else f"{value:.4f}"

    for name, net in expected["nets"].items():
        start = block.index(f"<summary>{name}: ")
        part = block[start: block.index("</details>", start)]
        for row in net["layers"]:
            cells = [row["name"].split(".", 1)[1], row["kind"], "x".join(map(str, row["input_shape"] or [])) or "-",
                     f(row["sigma_hat"]), f(row["sigma_mat_raw"]), f(row["sigma_mat"]), f(row["sigma_op"])]
            assert "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) in part, row["name"]
    bound = expected["nets"]["D"]["lipschitz_bound"]
    assert f"bound {bound:.4g}</summary>" in block and f"D: {len(expected['nets']['D']['layers'])} layers" in block


def test_embedded_images_decode_to_the_expected_sizes(full):
    run, _, page = full
    found = images(page)
    assert found["samples at step 10"] == ("image/png", (run / "samples" / "step-10.png").read_bytes(), "100")
    assert found["real images"][1] == (run / "samples" / "real.png").read_bytes()
    mime, gif, _ = found["training progress"]
    assert mime == "image/gif" and gif == (run / "progress.gif").read_bytes()
    assert Image.open(io.BytesIO(gif)).n_frames == 2
    sizes = {alt: Image.open(io.BytesIO(data)).size for alt, (_, data, _) in found.items()}
    assert sizes["training curves"][0] == 700  # gancli plot's figure: 7 in at 100 dpi
    for t in ("2", "1", "0.5", "0.25"):  # 8 tiles of 32 + 2 px padding, 3x enlarged
        assert sizes[f"truncation {t}"] == (3 * (8 * 34 + 2), 3 * 36)
    assert sizes["attention maps"] == (5 * 130 + 2, 2 * 130 + 2)  # image, 3 points, entropy; 2 images x 1 block


def test_sweep_rows_are_sample_with_the_same_seed(full):
    import torch

    from gancli.sampling import SampleRequest, load_generator, sample
    from gancli.viz.grid import tile

    run, _, page = full
    result = sample(load_generator(run), SampleRequest(n=8, truncation=[2.0, 1.0, 0.5, 0.25], seed=0))
    row = np.asarray(Image.open(io.BytesIO(images(page)["truncation 0.5"][1])).convert("RGB"))[::3, ::3]
    assert np.array_equal(row, tile(result.images[16:24], nrow=8))
    assert not torch.equal(result.images[:8], result.images[16:24])  # rows differ: t matters


def test_nothing_is_fetched(full):
    _, _, page = full
    links = re.findall(r"(?:src|href)\s*=\s*['\"]?([^'\" >]*)", page)
    assert links and all(link.startswith(("data:", "#")) for link in links)
    assert "<script" not in page and "http://" not in page and "https://" not in page and "url(" not in page


def test_html_parts_escape_text_and_embed_bytes():
    from gancli.viz import html as h

    table = h.table(["a<b"], [["<script>x</script>", h.Raw("<b>ok</b>")]], cls="kv")
    assert table == ("<table class='kv'><thead><tr><th>a&lt;b</th></tr></thead><tbody><tr>"
                     "<td>&lt;script&gt;x&lt;/script&gt;</td><td><b>ok</b></td></tr></tbody></table>")
    tag = h.image(b"GIF89a", "it's <here>", "image/gif", width=64)
    data = base64.b64encode(b"GIF89a").decode()
    assert tag == f"<img alt='it&#x27;s &lt;here&gt;' width='64' src='data:image/gif;base64,{data}'>"
    assert h.note("x < y") == "<p class='note'>x &lt; y</p>"
    assert h.page("t", "h1 & co", "<p>body</p>").startswith("<!DOCTYPE html><html><head><meta charset='utf-8'><title>t")


def test_missing_parts_are_notes(tmp_path):
    run = tmp_path / "runs" / "plain"
    write_tiny_run(run, model="dcgan")
    written = write_run_report(run)
    page = written.path.read_text()
    assert set(written.notes) == {"Samples", "Last evaluation", "Attention maps"}
    notes = re.findall(r"<p class='note'>([^<]*)</p>", page)
    assert f"No evaluation in {run / 'metrics.jsonl'} yet: run gancli eval {run} (it appends one), or train with " \
           "--eval-every N." in notes
    assert any(n.startswith("No sample grid yet") and "no progress.gif yet" in n for n in notes)
    assert any(n.startswith("Not shown: this dcgan model has no self-attention blocks") for n in notes)
    assert "t = 0.25" in section(page, "truncation")  # what does apply is there
    (run / "progress.gif").write_bytes(b"GIF89a, cut short")  # a damaged file is a note too
    notes = write_run_report(run).notes
    assert f"cannot read {run / 'progress.gif'} as an image" in notes["Samples"]
    # a checkpoint file on its own: the run's files are notes, the page goes beside it
    alone = tmp_path / "alone" / "x.pt"
    alone.parent.mkdir()
    shutil.copy(run / "checkpoints" / "last.pt", alone)
    written = write_run_report(alone)
    assert written.path == alone.parent / "report.html"
    assert {"Training curves", "Samples", "Last evaluation"} <= set(written.notes)
    assert "is not in a run directory" in written.notes["Training curves"]


@pytest.fixture(scope="module")
def cycle_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cycle") / "run"
    result = runner.invoke(app, ["train", "shapes-pair", "--res", "32", "--ch", "4", "--g-blocks", "1", "--batch-size",
                                 "2", "--pool-size", "2", "--device", "cpu", "--log-every", "1", "--sample-every", "1",
                                 "--ckpt-every", "100", "--steps", "2", "--data-size", "40", "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run


def test_cyclegan_run_gets_its_translation_sheet(cycle_run):
    from gancli.sampling.translation import load_translators, translation_sheet
    from gancli.viz.grid import grid_array
    from gancli.viz.html import png_bytes

    written = write_run_report(cycle_run)
    page = written.path.read_text()
    sheet = translation_sheet(load_translators(cycle_run), 4, 0)
    assert images(page)["translations"][1] == png_bytes(grid_array(sheet, nrow=6), 3)
    assert f"{len(sheet) // 6} test images per domain" in section(page, "translations")
    assert "id='truncation'" not in page and "training progress" in images(page)
    assert written.notes["Attention maps"].startswith("not shown: a cyclegan run's networks")
    assert written.notes["Last evaluation"].endswith("or train with --eval-every N")
    block = section(page, "sn")
    assert "<summary>D_A: 5 layers (5 no SN by design)" in block and "<summary>D_B: " in block


def test_cli_writes_the_page_and_prints_one_line(tiny_run):
    result = runner.invoke(app, ["report", str(tiny_run), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    out = tiny_run / "report.html"
    size = out.stat().st_size
    assert result.stdout == f"wrote {out} ({size / 1024:.0f} KB)\n" and result.stderr == ""


def test_cli_hands_its_options_to_the_core(monkeypatch, tmp_path):
    """The command goes through gancli.api.write_report to the core (a fake here that writes a
    3 MiB file), and prints the size of what was written."""
    import gancli.api
    import gancli.report

    seen = {}

    def fake(target, req, out, device):
        seen.update(target=target, req=req, out=out, device=str(device))
        with open(tmp_path / "r.html", "wb") as f:
            f.truncate(3 * 2**20)
        return gancli.report.WrittenReport(tmp_path / "r.html", 3 * 2**20, {})

    monkeypatch.setattr(gancli.api, "write_run_report", fake)
    result = runner.invoke(app, ["report", "runs/x", "--points", "8,8; 16,24", "--seed", "3", "--out",
                                 str(tmp_path / "r.html"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {tmp_path / 'r.html'} (3.0 MB)\n"
    assert seen == {"target": "runs/x", "req": RunReportRequest(points=["8,8", "16,24"], seed=3),
                    "out": tmp_path / "r.html", "device": "cpu"}


@pytest.mark.parametrize("args, message", [
    (["{missing}"], "no such checkpoint file, run directory or run name"),
    (["{run}", "--out", "{blocker}/r.html"], "is not a directory"),
    (["{run}", "--out", "{tmp}/r.png"], "give a .html path"),
    (["{run}", "--points", "8;8"], "--points takes X,Y pixel pairs separated by ';'"),
    (["{run}", "--points", "8,8;40,2"], "--point 40,2 is outside the 32x32 image"),
])
def test_cli_errors_are_one_line_and_write_nothing(tiny_run, tmp_path, args, message):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    names = {"missing": tmp_path / "missing", "run": tiny_run, "blocker": blocker, "tmp": tmp_path}
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = runner.invoke(app, ["report", *(a.format(**names) for a in args)])
    assert result.exit_code == 1 and message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no report.html, no temporary file


@pytest.mark.skipif(not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")),
                    reason="no headless Chromium here (apt-get install chromium)")
def test_page_renders_in_headless_chromium(full, tmp_path):
    _, written, _ = full
    browser = next(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b))
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,3000", written.path.as_uri()], capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape == (3000, 1200)
    # the page drew something: dark text and table lines on white, and the embedded images' colours
    assert (pixels < 100).mean() > 0.005 and pixels.std() > 20
    assert (pixels[2000:] < 250).mean() > 0.01  # not only a header: the lower part is drawn too


def test_precision_recall_on_shapes_net_carry_their_caveat(tmp_path, full):
    _, _, page = full
    assert "coarse" not in section(page, "eval")  # no precision / recall in that record
    run = tmp_path / "runs" / "prc"
    write_tiny_run(run)
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({**EVAL, "precision": 0.8, "recall": 0.6}) + "\n")
    block = section(write_run_report(run, RunReportRequest(seed=0)).path.read_text(), "eval")
    assert "Note: precision / recall on shapes-net&#x27;s 64-d features are coarse" in block or \
        "Note: precision / recall on shapes-net's 64-d features are coarse" in block
