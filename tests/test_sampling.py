"""Sampling core: the truncated normal itself, slerp, labels, layouts, determinism, files, resolution."""
import gc
import os
import time
import weakref
import zipfile

import numpy as np
import pytest
import torch
from scipy import stats

from gancli.checkpoint import resolve_checkpoint
from gancli.errors import GancliError
from gancli.sampling import (
    InPieces,
    SampleRequest,
    TruncatedNormalRows,
    check_grid,
    labels_in_pieces,
    labels_like_data,
    load_generator,
    parse_attrs,
    parse_classes,
    sample,
    sample_to_files,
    save_npz,
    slerp,
    truncated_normal,
)
from tests.conftest import assert_uint8_images_close, write_tiny_run


# ------------------------------------------------------------------------------------ truncated normal
@pytest.mark.parametrize("t", [0.25, 0.5, 1.0, 2.0])
def test_truncated_normal_follows_the_truncated_density(t):
    z = truncated_normal(4000, 50, t, torch.Generator().manual_seed(0)).double().flatten().numpy()
    assert np.abs(z).max() <= t
    truncnorm = stats.truncnorm(-t, t)
    assert stats.kstest(z, truncnorm.cdf).pvalue > 1e-3
    assert np.var(z) == pytest.approx(truncnorm.var(), rel=0.02)
    # not the other distributions a "truncation" is sometimes mistaken for
    if t >= 0.5:  # below that the truncated density is within a few % of flat: uniform is close
        assert stats.kstest(z, stats.uniform(-t, 2 * t).cdf).pvalue < 1e-9
    assert stats.kstest(z, stats.norm(0, t).cdf).pvalue < 1e-9  # z scaled by t
    clamped = np.clip(np.random.default_rng(0).standard_normal(z.size), -t, t)
    assert stats.ks_2samp(z, clamped).pvalue < 1e-9


def test_truncation_keeps_the_entries_already_inside_and_redraws_the_rest():
    t = 1.0
    plain = truncated_normal(64, 128, None, torch.Generator().manual_seed(5))
    assert torch.equal(plain, torch.randn(64, 128, generator=torch.Generator().manual_seed(5)))
    z = truncated_normal(64, 128, t, torch.Generator().manual_seed(5))
    inside = plain.abs() <= t
    assert torch.equal(z[inside], plain[inside])
    assert not torch.equal(z[~inside], plain[~inside].clamp(-t, t))


@pytest.mark.parametrize("t", [0.0, -1.0, float("nan")])
def test_truncation_must_be_positive(t):
    with pytest.raises(GancliError, match="--truncation must be positive"):
        truncated_normal(2, 3, t, torch.Generator())


# ------------------------------------------------------------------------------------ slerp
def test_slerp_endpoints_norm_and_midpoint():
    a = torch.tensor([[3.0, 0.0, 0.0], [1.0, 2.0, 2.0]])
    b = torch.tensor([[0.0, 3.0, 0.0], [1.0, 2.0, 2.0]])  # second row: a == b (parallel)
    out = slerp(a, b, torch.linspace(0, 1, 5))
    assert out.shape == (2, 5, 3)
    torch.testing.assert_close(out[:, 0], a)
    torch.testing.assert_close(out[:, -1], b)
    torch.testing.assert_close(out[0].norm(dim=1), torch.full((5,), 3.0))  # stays on the sphere
    torch.testing.assert_close(out[0, 2], torch.tensor([3.0, 3.0, 0.0]) / 2**0.5)
    torch.testing.assert_close(out[1], a[1].expand(5, 3))


# ------------------------------------------------------------------------------------ generator, labels
@pytest.fixture
def gen(tiny_run):
    return load_generator(tiny_run)


def test_load_generator_prefers_ema_and_can_take_the_raw_weights(tiny_run):
    ema = load_generator(tiny_run)
    raw = load_generator(tiny_run, ema=False)
    assert ema.ema and not raw.ema and ema.step == 7 and ema.how == "run directory"
    key = "linear.parametrizations.weight.original"
    assert not torch.equal(ema.G.state_dict()[key], raw.G.state_dict()[key])
    assert not ema.G.training and not any(p.requires_grad for p in ema.G.parameters())


def test_ema_requested_but_missing(tmp_path):
    write_tiny_run(tmp_path / "run", ema=False)
    assert not load_generator(tmp_path / "run").ema
    with pytest.raises(GancliError, match="no EMA weights"):
        load_generator(tmp_path / "run", ema=True)


def test_parse_classes(gen):
    assert parse_classes("all", gen) == list(range(8))
    assert parse_classes("3", gen) == [3]
    assert parse_classes("ring, 0,stripes", gen) == [3, 0, 7]
    with pytest.raises(GancliError, match=r"class 8 is out of range: the model has 8 classes \(0-7\)"):
        parse_classes("8", gen)
    with pytest.raises(GancliError, match="unknown class 'hexagon'; choose an index 0-7 or a name: circle, square"):
        parse_classes("hexagon", gen)


def test_labels_on_models_that_cannot_take_them(tmp_path):
    write_tiny_run(tmp_path / "plain", label_kind="none")
    write_tiny_run(tmp_path / "celeb", label_kind="attrs")
    plain, celeb = load_generator(tmp_path / "plain"), load_generator(tmp_path / "celeb")
    with pytest.raises(GancliError, match="--class needs a class-conditional model; this one is unconditional"):
        parse_classes("1", plain)
    with pytest.raises(GancliError, match="use --attrs"):
        parse_classes("1", celeb)
    with pytest.raises(GancliError, match="--attrs needs a model conditioned on attributes; this one is unconditional"):
        parse_attrs("Male", plain)
    with pytest.raises(GancliError, match=r"unknown attribute 'Bald'; valid ones: Male, Smiling, Young"):
        parse_attrs("Male,-Bald", celeb)
    assert parse_attrs("Male,-Smiling,+Young", celeb) == {0: 1.0, 1: 0.0, 2: 1.0}


def test_attributes_fixed_and_the_rest_drawn_with_the_data_frequencies(tmp_path):
    write_tiny_run(tmp_path / "celeb", label_kind="attrs", label_frequencies=[0.5, 0.5, 0.2])
    gen = load_generator(tmp_path / "celeb")
    s = sample(gen, SampleRequest(n=2000, attrs="Male,-Smiling", seed=0, batch_size=500))
    assert s.labels.shape == (2000, 3)
    assert torch.all(s.labels[:, 0] == 1) and torch.all(s.labels[:, 1] == 0)
    assert s.labels[:, 2].mean().item() == pytest.approx(0.2, abs=0.03)


def test_classes_drawn_with_the_data_frequencies(tmp_path):
    freq = [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]
    write_tiny_run(tmp_path / "run", label_frequencies=freq)
    s = sample(load_generator(tmp_path / "run"), SampleRequest(n=400, seed=1, batch_size=400))
    assert set(s.labels.tolist()) == {0, 7}
    assert (s.labels == 0).float().mean().item() == pytest.approx(0.5, abs=0.08)


# ------------------------------------------------------------------------------------ layouts
def _direct(gen, z, y):
    with torch.no_grad():
        x = gen.G(z, y)
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)


def test_one_row_per_class_with_the_same_z_down_each_column(gen):
    s = sample(gen, SampleRequest(n=20, classes="all", seed=3))
    assert s.images.shape == (8 * 3, 32, 32, 3) and s.nrow == 3  # ceil(20 / 8) columns
    assert s.labels.tolist() == [k for k in range(8) for _ in range(3)]
    torch.testing.assert_close(s.z[:3], s.z[3:6], rtol=0, atol=0)
    assert not torch.equal(s.images[:3], s.images[3:6])  # the class changes the image
    # G run again here and quantised by the formula above: equal up to float rounding
    assert_uint8_images_close(s.images, _direct(gen, s.z, s.labels))


def test_same_seed_same_images_and_batch_size_does_not_matter(gen):
    a = sample(gen, SampleRequest(n=10, seed=11, truncation=[0.7]))
    b = sample(gen, SampleRequest(n=10, seed=11, truncation=[0.7]))
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    c = sample(gen, SampleRequest(n=10, seed=12, truncation=[0.7]))
    assert not torch.equal(a.images, c.images)
    d = sample(gen, SampleRequest(n=10, seed=11, truncation=[0.7], batch_size=3))
    # the same z, but G in batches of 3: the kernels sum in another order, so a rare pixel moves a level
    assert_uint8_images_close(d.images, a.images)
    assert torch.equal(d.z, a.z)


def test_truncation_sweep_rows_share_their_base_z(gen):
    s = sample(gen, SampleRequest(n=6, classes="2", seed=4, truncation=[2.0, 0.5]))
    assert s.images.shape[0] == 12 and s.nrow == 6
    assert torch.all(s.labels == 2)
    base = torch.randn(6, gen.model_config.z_dim, generator=torch.Generator().manual_seed(4))
    for row, t in ((s.z[:6], 2.0), (s.z[6:], 0.5)):
        assert row.abs().max() <= t
        inside = base.abs() <= t
        assert torch.equal(row[inside], base[inside])
    with pytest.raises(GancliError, match="truncation sweep takes one class"):
        sample(gen, SampleRequest(n=6, classes="1,2", truncation=[2.0, 0.5]))


def test_soft_one_hot_labels_equal_class_indices(gen):
    z = torch.randn(8, gen.model_config.z_dim)
    y = torch.arange(8)
    with torch.no_grad():
        torch.testing.assert_close(gen.G(z, torch.nn.functional.one_hot(y, 8).float()), gen.G(z, y))


def test_interpolation_runs_from_one_z_and_class_to_the_other(gen):
    s = sample(gen, SampleRequest(n=3, interp=5, classes="1,6", seed=2))
    assert s.images.shape == (15, 32, 32, 3) and s.nrow == 5 and len(s.frames) == 5
    y = s.labels.view(3, 5, 8)
    torch.testing.assert_close(y[:, 0], torch.nn.functional.one_hot(torch.tensor([1, 1, 1]), 8).float())
    torch.testing.assert_close(y[:, -1], torch.nn.functional.one_hot(torch.tensor([6, 6, 6]), 8).float())
    torch.testing.assert_close(y[:, 2, [1, 6]], torch.full((3, 2), 0.5))
    z = s.z.view(3, 5, -1)
    torch.testing.assert_close(z[:, 2], slerp(z[:, 0], z[:, -1], torch.tensor([0.5]))[:, 0])
    ends = _direct(gen, torch.cat([z[:, 0], z[:, -1]]), torch.tensor([1, 1, 1, 6, 6, 6]))
    images = s.images.view(3, 5, 32, 32, 3)
    assert_uint8_images_close(torch.cat([images[:, 0], images[:, -1]]), ends)  # a batch of 6, not of 15
    with pytest.raises(GancliError, match="give one or two with --class"):
        sample(gen, SampleRequest(n=3, interp=5, classes="1,2,3"))


@pytest.mark.parametrize("req,message", [
    (SampleRequest(n=0), "-n must be positive, got 0"),
    (SampleRequest(n=-3), "-n must be positive, got -3"),
    (SampleRequest(truncation=[0.0]), "--truncation must be positive, got 0"),
    (SampleRequest(truncation=[1.0, -2.0]), "--truncation must be positive, got -2"),
    (SampleRequest(batch_size=0), "--batch-size must be positive"),
    (SampleRequest(interp=1), "--interp needs at least 2 steps"),
    (SampleRequest(classes="1", attrs="Male"), "give --class or --attrs, not both"),
])
def test_bad_requests(gen, req, message):
    with pytest.raises(GancliError, match=message):
        sample(gen, req)


# ------------------------------------------------------------------------------------ files
def test_files_npz_individual_and_gif(gen, tmp_path):
    out = tmp_path / "out" / "grid.png"
    written = sample_to_files(gen, SampleRequest(n=5, seed=0), out, npz=tmp_path / "s.npz",
                              individual=tmp_path / "each")
    s = written.samples
    assert written.n_images == 5 and written.image_size == (32, 32)
    from PIL import Image

    # ceil(sqrt(5)) = 3 per row, 2 rows; 32 px tiles drawn at 64 px; nothing to name: no margin
    assert Image.open(out).size == (3 * 68 + 4, 2 * 68 + 4)
    data = np.load(tmp_path / "s.npz")
    assert data["images"].dtype == np.uint8 and data["images"].shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(data["images"], s.images.numpy())
    np.testing.assert_array_equal(data["labels"], s.labels.numpy())
    files = sorted((tmp_path / "each").iterdir())
    assert [f.name for f in files] == [f"000{i}.png" for i in range(5)]
    np.testing.assert_array_equal(np.asarray(Image.open(files[2])), s.images[2].numpy())
    written = sample_to_files(gen, SampleRequest(n=2, interp=4), tmp_path / "walk.png")
    gif = Image.open(written.gif)
    assert written.gif == tmp_path / "walk.gif" and gif.n_frames == 6  # 4 there, 2 back


def test_unwritable_destinations_write_nothing(gen, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for kwargs in (dict(out=blocker / "grid.png"), dict(out=tmp_path), dict(out=None, individual=blocker),
                   dict(out=tmp_path / "ok.png", npz=blocker / "x.npz")):
        with pytest.raises(GancliError, match="cannot write"):
            sample_to_files(gen, SampleRequest(n=2), **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "runs"]


# ------------------------------------------------------------------------------------ streaming
def _random_pieces(total, seed):
    rng, sizes = np.random.default_rng(seed), []
    while sum(sizes) < total:
        sizes.append(min(int(rng.integers(1, 40)), total - sum(sizes)))
    return sizes


FREQ = torch.tensor([0.1, 0.0, 0.3, 0.6], dtype=torch.float64)


@pytest.mark.parametrize("draw,unit,min_last", [
    (lambda size, g: torch.randn(size, generator=g), 16, 16),
    (lambda size, g: torch.multinomial(FREQ, size, replacement=True, generator=g), 2, 2),
    (lambda size, g: torch.rand(size, generator=g, dtype=torch.float64), 1, 1),
], ids=["randn", "multinomial", "rand"])
@pytest.mark.parametrize("total", [1, 2, 15, 16, 17, 33, 1000, 4099])
def test_a_draw_in_pieces_equals_the_one_draw(draw, unit, min_last, total):
    whole = draw(total, torch.Generator().manual_seed(3))
    for trial in range(4):  # pieces of 1 included: randn and multinomial take other paths for them
        drawn = InPieces(draw, total, torch.Generator().manual_seed(3), unit, min_last)
        assert torch.equal(torch.cat([drawn.take(k) for k in _random_pieces(total, trial)]), whole)


@pytest.mark.parametrize("n,dim,t", [(50, 128, None), (50, 128, 2.0), (50, 128, 0.5), (20, 120, 0.05),
                                     (2, 7, 0.5), (9, 3, 1.0)])
def test_truncated_rows_in_pieces_equal_truncated_normal(n, dim, t):
    whole = truncated_normal(n, dim, t, torch.Generator().manual_seed(7))
    generator = torch.Generator().manual_seed(7)
    rows = TruncatedNormalRows(n, dim, t, generator)
    assert torch.equal(torch.cat([rows.take(k) for k in _random_pieces(n, n)]), whole)
    assert torch.equal(generator.get_state(), torch.Generator().manual_seed(7).get_state())  # not advanced


@pytest.mark.parametrize("n,dim", [(50, 64), (1, 16), (9, 3)])
def test_uniform_rows_in_pieces_equal_the_one_draw(n, dim):
    from gancli.config import ModelConfig
    from gancli.sampling import draw_latents, latent_rows

    cfg = ModelConfig(name="began", z_dim=dim, z_dist="uniform")
    whole = draw_latents(n, cfg, None, torch.Generator().manual_seed(7))
    assert torch.equal(whole, torch.rand(n, dim, generator=torch.Generator().manual_seed(7)) * 2 - 1)
    rows = latent_rows(n, cfg, None, torch.Generator().manual_seed(7))
    assert torch.equal(torch.cat([rows.take(k) for k in _random_pieces(n, n)]), whole)
    with pytest.raises(GancliError, match="resamples Gaussian z"):
        latent_rows(n, cfg, 0.5, torch.Generator())


def test_uniform_z_walks_in_a_straight_line():
    from gancli.sampling import interpolate

    a, b = torch.rand(3, 8) * 2 - 1, torch.rand(3, 8) * 2 - 1
    t = torch.linspace(0, 1, 5)
    walk = interpolate(a, b, t, "uniform")
    torch.testing.assert_close(walk[:, 2], (a + b) / 2)  # the midpoint of the segment, inside the cube
    assert walk.abs().max() <= 1.0
    torch.testing.assert_close(interpolate(a, b, t, "normal"), slerp(a, b, t), rtol=0, atol=0)


@pytest.mark.parametrize("label_kind", ["class", "attrs", "none"])
def test_labels_in_pieces_equal_labels_like_data(tmp_path, label_kind):
    write_tiny_run(tmp_path / "run", label_kind=label_kind,
                   label_frequencies={"class": [0.2, 0, 0, 0.1, 0.3, 0, 0, 0.4], "attrs": [0.5, 0.1, 0.9]}.get(label_kind))
    g = load_generator(tmp_path / "run")
    whole = labels_like_data(g.model_config, g.dataset, 101, torch.Generator().manual_seed(5))
    take = labels_in_pieces(g.model_config, g.dataset, 101, torch.Generator().manual_seed(5))
    parts = [take(k) for k in _random_pieces(101, 1)]
    if label_kind == "none":
        assert whole is None and all(p is None for p in parts)
    else:
        assert torch.equal(torch.cat(parts), whole) and torch.cat(parts).dtype == whole.dtype


@pytest.mark.parametrize("label_kind,req", [
    ("class", SampleRequest(n=23, seed=5, batch_size=5, truncation=[0.7])),
    ("class", SampleRequest(n=21, seed=6, batch_size=4, classes="all")),  # 8 rows of 3
    ("class", SampleRequest(n=3, seed=2, batch_size=4, interp=5)),  # soft one-hot labels
    ("attrs", SampleRequest(n=13, seed=8, batch_size=6, attrs="Male")),
    ("none", SampleRequest(n=11, seed=9, batch_size=3, truncation=[1.0, 0.3])),
])
def test_streamed_npz_and_folder_equal_the_images_in_memory(tmp_path, label_kind, req):
    write_tiny_run(tmp_path / "run", label_kind=label_kind)
    g = load_generator(tmp_path / "run")
    in_memory = sample(g, req)
    save_npz(tmp_path / "savez.npz", in_memory)  # np.savez of all images at once, as before streaming
    written = sample_to_files(g, req, None, npz=tmp_path / "s.npz", individual=tmp_path / "each")
    assert written.samples is None and written.grid is None  # nothing kept, no grid
    assert written.n_images == len(in_memory.images) and written.image_size == (32, 32)
    data = np.load(tmp_path / "s.npz")
    assert data["images"].dtype == np.uint8 and data["images"].shape == (len(in_memory.images), 32, 32, 3)
    np.testing.assert_array_equal(data["images"], in_memory.images.numpy())
    if in_memory.labels is None:
        assert data.files == ["images"]
    else:
        assert data["labels"].dtype == in_memory.labels.numpy().dtype
        np.testing.assert_array_equal(data["labels"], in_memory.labels.numpy())
    with zipfile.ZipFile(tmp_path / "s.npz") as ours, zipfile.ZipFile(tmp_path / "savez.npz") as theirs:
        assert ours.namelist() == theirs.namelist()
        for name in ours.namelist():  # the very bytes np.save writes, header included
            assert ours.read(name) == theirs.read(name)
    from PIL import Image

    pngs = sorted((tmp_path / "each").iterdir())
    assert len(pngs) == len(in_memory.images)
    for i in (0, len(pngs) // 2, len(pngs) - 1):
        np.testing.assert_array_equal(np.asarray(Image.open(pngs[i])), in_memory.images[i].numpy())


class CountingG(torch.nn.Module):
    """Wraps G: records each batch size, how many image batches made earlier are still alive when the
    next is asked for, and raises on call ``fail_at``."""

    def __init__(self, G, alive, fail_at=None):
        super().__init__()
        self.G, self.alive, self.fail_at = G, alive, fail_at
        self.sizes, self.alive_at_call = [], []

    def forward(self, z, y):
        gc.collect()
        self.alive_at_call.append(sum(ref() is not None for ref in self.alive))
        self.sizes.append(len(z))
        if len(self.sizes) == self.fail_at:
            raise RuntimeError("CUDA out of memory (pretend)")
        return self.G(z, y)


@pytest.fixture
def counted(gen, monkeypatch):
    """``gen`` with a CountingG, every uint8 batch tracked, and every randn / multinomial size recorded."""
    import gancli.viz.grid as grid

    alive, draws = [], []

    def tracked_to_uint8(x):
        images = to_uint8(x)
        alive.append(weakref.ref(images))
        return images

    def recorded(fn):
        def draw(*args, **kwargs):
            out = fn(*args, **kwargs)
            draws.append(out.numel())
            return out
        return draw

    to_uint8 = grid.to_uint8
    monkeypatch.setattr(grid, "to_uint8", tracked_to_uint8)
    monkeypatch.setattr(torch, "randn", recorded(torch.randn))
    monkeypatch.setattr(torch, "multinomial", recorded(torch.multinomial))
    monkeypatch.setattr(gen, "G", CountingG(gen.G, alive))
    return gen, draws


@pytest.mark.parametrize("truncation", [None, [0.5]])
def test_npz_and_folder_are_written_one_batch_at_a_time(counted, tmp_path, truncation):
    gen, draws = counted
    n, batch = 530, 40  # 530 x 128 z values: more than the 65,536 a truncation's counting pass draws at once
    written = sample_to_files(gen, SampleRequest(n=n, seed=1, batch_size=batch, truncation=truncation), None,
                              npz=tmp_path / "s.npz", individual=tmp_path / "each")
    assert gen.G.sizes == [batch] * (n // batch) + [n % batch]  # never more than a batch asked of G
    assert gen.G.alive_at_call == [0] * len(gen.G.sizes)  # and no earlier batch held while it makes the next
    z_values = batch * gen.model_config.z_dim
    assert max(draws) <= (z_values + 15 if truncation is None else 1 << 16)  # z and labels drawn piece by piece
    assert written.n_images == n and np.load(tmp_path / "s.npz")["images"].shape == (n, 32, 32, 3)
    assert len(list((tmp_path / "each").iterdir())) == n


def test_a_failure_midway_leaves_no_npz_and_no_folder(counted, tmp_path):
    gen, _ = counted
    gen.G.fail_at = 3
    (tmp_path / "out").mkdir()
    with pytest.raises(RuntimeError, match="out of memory"):
        sample_to_files(gen, SampleRequest(n=20, batch_size=4), None, npz=tmp_path / "out" / "s.npz",
                        individual=tmp_path / "out" / "each")
    assert gen.G.sizes == [4, 4, 4]  # it failed on the third batch, after two were written
    assert list((tmp_path / "out").iterdir()) == []  # no npz, no temporary file, no half folder
    (tmp_path / "out" / "s.npz").write_bytes(b"earlier")
    (tmp_path / "out" / "each").mkdir()
    gen.G.sizes = []
    with pytest.raises(RuntimeError, match="out of memory"):
        sample_to_files(gen, SampleRequest(n=20, batch_size=4), None, npz=tmp_path / "out" / "s.npz",
                        individual=tmp_path / "out" / "each")
    assert (tmp_path / "out" / "s.npz").read_bytes() == b"earlier"  # the old file, untouched
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["each", "s.npz"]
    assert list((tmp_path / "out" / "each").iterdir()) == []


def test_a_grid_too_large_is_refused_before_anything_is_made(counted, tmp_path):
    gen, _ = counted
    for req, size in ((SampleRequest(n=5000), "2416x2416 px"), (SampleRequest(n=10, nrow=1000), "34002x36 px"),
                      (SampleRequest(n=1_000_000, classes="all"), "4250002x274 px")):
        with pytest.raises(GancliError, match=f"a grid of {req.n if req.classes is None else 1_000_000} images "
                                              f"\\({size}\\) is too large to be a picture \\(at most 4096 images, "
                                              "16384 px a side\\); write them with --npz or --individual instead "
                                              "of a grid, or lower -n$"):
            sample_to_files(gen, req, tmp_path / "grid.png", npz=tmp_path / "s.npz")
    assert gen.G.sizes == [] and sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    check_grid(4096, 64, 32, 32)  # the largest grid allowed at 32 px: 64 x 64 images, 2178 px a side
    with pytest.raises(GancliError, match="a grid of 256 images \\(16418x16418 px\\)"):
        check_grid(256, 16, 1024, 1024)  # few images, but too many pixels a side
    with pytest.raises(GancliError, match="a grid of 100 images \\(10242x10242 px\\)"):
        check_grid(100, 10, 1022, 1022)  # under 16384 a side, but 105M pixels: more than PIL opens without a warning


# ------------------------------------------------------------------------------------ which checkpoint
def test_resolution_rule(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(GancliError, match="no runs with checkpoints under"):
        resolve_checkpoint(None, runs)
    old = write_tiny_run(runs / "old")
    new = write_tiny_run(runs / "new")
    os.utime(old, (time.time() + 60, time.time() + 60))  # "old" was written last
    assert resolve_checkpoint(None, runs) == (old, f"newest run under {runs}")
    assert resolve_checkpoint(runs / "new", runs) == (new, "run directory")
    assert resolve_checkpoint(runs / "new" / "checkpoints", runs) == (new, "run directory")
    assert resolve_checkpoint(new, runs) == (new, "checkpoint file")
    (runs / "new" / "checkpoints" / "last.pt").rename(runs / "new" / "checkpoints" / "step-40.pt")
    (runs / "new" / "checkpoints" / "step-5.pt").write_bytes(b"")
    assert resolve_checkpoint(runs / "new", runs)[0] == runs / "new" / "checkpoints" / "step-40.pt"
    (runs / "empty").mkdir()
    with pytest.raises(GancliError, match="is a directory without checkpoints"):
        resolve_checkpoint(runs / "empty", runs)
    with pytest.raises(GancliError, match="no such checkpoint file, run directory or run name: .*nowhere"):
        resolve_checkpoint(tmp_path / "nowhere", runs)


def test_written_files_get_the_usual_permissions(gen, tmp_path):
    sample_to_files(gen, SampleRequest(n=1), tmp_path / "g.png", npz=tmp_path / "s.npz")
    mask = os.umask(0)
    os.umask(mask)
    for name in ("g.png", "s.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
