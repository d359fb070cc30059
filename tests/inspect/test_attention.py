"""``gancli attn-map``: point mapping, key spreading, forced attention, G and D, sizes, errors."""
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gancli.inspect.attention import AttnRequest, attention_map_files, attention_maps
from gancli.cli.main import app
from gancli.errors import GancliError
from gancli.inspect.attention_math import entropy_map, parse_point, query_cell, spread_keys, upsample
from tests.conftest import write_tiny_run
from tests.pictures import assert_rows_named, ink_width, read_rgb, split, width_of

runner = CliRunner()


def test_point_mapping_at_the_grid_edges():
    assert query_cell((0, 0), 32, 16) == (0, 0)
    assert query_cell((1, 1), 32, 16) == (0, 0)
    assert query_cell((2, 1), 32, 16) == (1, 0)
    assert query_cell((31, 31), 32, 16) == (15, 15)
    assert query_cell((31, 0), 128, 64) == (15, 0)
    assert parse_point("31,0", 32) == (31, 0)
    for text in ("32,0", "-1,5", "0,32"):
        with pytest.raises(GancliError, match=r"outside the 32x32 image: x and y must be in 0\.\.31"):
            parse_point(text, 32)
    with pytest.raises(GancliError, match="X,Y"):
        parse_point("16", 32)


def test_a_pooled_key_lights_exactly_its_2x2_area_and_maps_keep_their_sum():
    rows = torch.zeros(1, 16)  # a 4x4 key grid: query grid 8x8
    rows[0, 1 * 4 + 2] = 1.0  # key at column 2, row 1
    m = spread_keys(rows, 8, pooled=True)[0]
    assert m.sum() == pytest.approx(1.0)
    expected = torch.zeros(8, 8)
    expected[2:4, 4:6] = 0.25
    assert torch.equal(m, expected)
    image = upsample(m, 32)  # 4 px per cell
    lit = image.nonzero()
    assert lit[:, 0].min() == 8 and lit[:, 0].max() == 15 and lit[:, 1].min() == 16 and lit[:, 1].max() == 23
    plain = spread_keys(torch.eye(64)[5:6], 8, pooled=False)[0]
    assert plain[0, 5] == 1.0 and plain.sum() == 1.0


def test_entropy_is_zero_for_one_key_and_one_for_uniform():
    beta = torch.zeros(1, 4, 4)
    beta[0, 0, 2] = 1.0
    beta[0, 1:] = 0.25
    e = entropy_map(beta, 2)[0]
    assert e[0, 0] == pytest.approx(0.0, abs=1e-6) and e[1, 1] == pytest.approx(1.0)


@pytest.mark.parametrize("res, pool", [(32, True), (32, False), (64, True), (128, True)])
@pytest.mark.parametrize("net", ["g", "d"])
def test_maps_of_real_models_sum_to_one(tmp_path, res, pool, net):
    from gancli.checkpoint import save_checkpoint
    from gancli.config import ModelConfig
    from gancli.models import build_models, resolve_model

    cfg = resolve_model(ModelConfig(name="sagan", res=res, ch=4, n_classes=3, attn_pool=pool))
    G, D = build_models(cfg)
    for block in list(G.attn.values()) + list(D.attn.values()):
        block.gamma.data.fill_(0.5)
    state = {"model_config": cfg.to_dict(), "step": 1, "networks": {"G": G.state_dict(), "D": D.state_dict()},
             "dataset": {"name": "shapes", "class_names": ["a", "b", "c"], "label_frequencies": [1 / 3] * 3},
             "train_config": {"dataset": "shapes", "data_size": 16}}
    path = save_checkpoint(tmp_path / "c.pt", state)
    result, blocks = attention_maps(path, AttnRequest(points=["0,0", f"{res - 1},{res - 1}"], n=2, net=net, seed=1))
    maps = result.maps.maps
    assert maps.shape == (2, len(blocks), 2, res, res)
    # each map spreads a query's attention (rows of beta sum to 1) over the image's pixels
    assert maps.sum(dim=(-1, -2)).flatten().tolist() == pytest.approx([1.0] * maps[..., 0, 0].numel(), abs=1e-5)
    assert blocks[0].pooled == pool and blocks[0].name.startswith(net.upper())
    assert result.gamma_lines[0].endswith("gamma = +0.5000")


def test_forced_attention_on_one_key_lights_that_key_in_the_picture(tiny_run, tmp_path, monkeypatch):
    from gancli.layers.attention import SelfAttention

    def one_key(q, k):  # every query looks only at key 5 (column 1, row 1 of the 4x4 key grid)
        beta = torch.zeros(q.shape[0], q.shape[1], k.shape[1])
        beta[..., 5] = 1.0
        return beta

    monkeypatch.setattr(SelfAttention, "_softmax_attention", staticmethod(one_key))
    out = tmp_path / "a.png"
    result = attention_map_files(tiny_run, AttnRequest(points=["3,3"], n=1, seed=0, raw=True), out)
    maps = np.load(out.with_suffix(".npy"))
    assert maps.shape == (1, 1, 1, 32, 32)
    block = result.block_names[0]
    assert block == "G.attn1"  # the 16x16 block of a 32 px SAGAN: keys 8x8 after pooling
    lit = np.argwhere(maps[0, 0, 0] > 0)  # key 5 of the 8x8 key grid: column 5, row 0 -> query cells 10-11, 0-1
    assert lit[:, 0].min() == 0 and lit[:, 0].max() == 3 and lit[:, 1].min() == 20 and lit[:, 1].max() == 23
    assert maps.sum() == pytest.approx(1.0)  # 4 query cells of 0.25, each shared by its 2x2 pixels
    assert np.unique(maps[maps > 0]) == pytest.approx([1 / 16])
    tile = 128 + 2
    png = read_rgb(out)
    grid, margin, top = split(png, tile + 2, 2 * tile + 2)  # one row, the image and one overlay; labelled
    assert_rows_named(margin, ["image 1, G.attn1"], pitch=tile, pad=2)
    assert ink_width(top[:, margin.shape[1] + tile:]) == pytest.approx(width_of("query 3,3"), abs=1)


def test_model_without_attention_is_refused(tmp_path):
    ckpt = write_tiny_run(tmp_path / "run", model="dcgan")
    with pytest.raises(GancliError, match="has no self-attention blocks"):
        attention_maps(ckpt, AttnRequest())


def test_cli_end_to_end_and_errors(tiny_run, tmp_path):
    out = tmp_path / "m.png"
    result = runner.invoke(app, ["attn-map", str(tiny_run), "--point", "5,5", "--point", "10,10", "-n", "2",
                                 "--seed", "3", "--entropy", "--out", str(out)])
    assert result.exit_code == 0, result.output
    import re

    assert re.search(r"G\.attn1 \(16x16 queries, 8x8 keys\): gamma = [+-]0\.00\d\d - barely used", result.stderr)
    assert "2 rows x 4 columns" in result.stdout
    labelled = read_rgb(out)
    assert_rows_named(split(labelled, 2 * 130 + 2, 4 * 130 + 2)[1], ["image 1, G.attn1", "image 2, G.attn1"],
                      pitch=130, pad=2)
    result = runner.invoke(app, ["attn-map", str(tiny_run), "--point", "5,5", "--point", "10,10", "-n", "2",
                                 "--seed", "3", "--entropy", "--no-labels", "--out", str(tmp_path / "bare.png")])
    bare = read_rgb(tmp_path / "bare.png")
    assert bare.shape == (2 * 130 + 2, 4 * 130 + 2, 3)
    np.testing.assert_array_equal(split(labelled, *bare.shape[:2])[0], bare)  # the same tiles, margin or not
    result = runner.invoke(app, ["attn-map", str(tiny_run), "--net", "d", "--point", "16,16", "-n", "2",
                                 "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output  # D on images of the run's own training data
    assert "D.attn0 (16x16 queries, 8x8 keys)" in result.stderr
    for args, message in ((["--point", "32,1"], "must be in 0..31"), (["--layer", "G.attn9"], "choose a block name"),
                          (["--net", "x"], "--net is g or d"), (["--image", "x.png"], "add --net d"),
                          (["--out", str(tmp_path / "m.jpg")], "give a .png path"),
                          (["--net", "d", "--class", "ring"], "add --generated"),
                          (["--truncation", "1e-9"], "at least 0.01")):
        result = runner.invoke(app, ["attn-map", str(tiny_run), *args])
        assert result.exit_code == 1, args
        assert message in result.stderr and "Traceback" not in result.output


def test_d_on_an_image_file(tiny_run, tmp_path):
    picture = np.zeros((48, 48, 3), np.uint8)
    picture[10:30, 10:30] = 255
    Image.fromarray(picture).save(tmp_path / "p.png")
    result, blocks = attention_maps(tiny_run, AttnRequest(points=["16,16"], net="d", images=[tmp_path / "p.png"]))
    assert result.maps.images.shape == (1, 32, 32, 3) and blocks[0].name.startswith("D.")
    assert result.maps.images[0, 10, 10].tolist() == [255, 255, 255]  # the file, centre-cropped and resized to 32
