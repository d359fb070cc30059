"""Sampling core: the truncated normal itself, slerp, labels, layouts, determinism, files, resolution."""
import os
import time

import numpy as np
import pytest
import torch
from scipy import stats

from gancli.checkpoint import resolve_checkpoint
from gancli.errors import GancliError
from gancli.sampling import (
    SampleRequest,
    load_generator,
    parse_attrs,
    parse_classes,
    sample,
    sample_to_files,
    slerp,
    truncated_normal,
)
from tests.conftest import write_tiny_run


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
    with pytest.raises(GancliError, match="unknown attribute 'Bald'; this model knows: Male, Smiling, Young"):
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
    torch.testing.assert_close(s.images, _direct(gen, s.z, s.labels), rtol=0, atol=1)


def test_same_seed_same_images_and_batch_size_does_not_matter(gen):
    a = sample(gen, SampleRequest(n=10, seed=11, truncation=[0.7]))
    b = sample(gen, SampleRequest(n=10, seed=11, truncation=[0.7]))
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    c = sample(gen, SampleRequest(n=10, seed=12, truncation=[0.7]))
    assert not torch.equal(a.images, c.images)
    d = sample(gen, SampleRequest(n=10, seed=11, truncation=[0.7], batch_size=3))
    torch.testing.assert_close(d.images.int(), a.images.int(), rtol=0, atol=1)
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
    torch.testing.assert_close(torch.cat([images[:, 0], images[:, -1]]), ends, rtol=0, atol=1)
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
    s, written = sample_to_files(gen, SampleRequest(n=5, seed=0), out, npz=tmp_path / "s.npz",
                                 individual=tmp_path / "each")
    from PIL import Image

    assert Image.open(out).size == (3 * 34 + 2, 2 * 34 + 2)  # ceil(sqrt(5)) = 3 per row, 2 rows
    data = np.load(tmp_path / "s.npz")
    assert data["images"].dtype == np.uint8 and data["images"].shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(data["images"], s.images.numpy())
    np.testing.assert_array_equal(data["labels"], s.labels.numpy())
    files = sorted((tmp_path / "each").iterdir())
    assert [f.name for f in files] == [f"000{i}.png" for i in range(5)]
    np.testing.assert_array_equal(np.asarray(Image.open(files[2])), s.images[2].numpy())
    _, written = sample_to_files(gen, SampleRequest(n=2, interp=4), tmp_path / "walk.png")
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
    with pytest.raises(GancliError, match="no such checkpoint file or run directory: .*nowhere"):
        resolve_checkpoint(tmp_path / "nowhere", runs)


def test_written_files_get_the_usual_permissions(gen, tmp_path):
    sample_to_files(gen, SampleRequest(n=1), tmp_path / "g.png", npz=tmp_path / "s.npz")
    mask = os.umask(0)
    os.umask(mask)
    for name in ("g.png", "s.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
