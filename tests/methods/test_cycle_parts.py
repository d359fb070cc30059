"""CycleGAN's image pool and loss terms against hand-computed values and a reimplementation of
junyanz/pytorch-CycleGAN-and-pix2pix's ``ImagePool.query``."""
import io

import pytest
import torch

from gancli.methods.cycle_losses import cycle_loss, identity_loss, lsgan_d_loss, lsgan_g_loss, lsgan_loss
from gancli.methods.image_pool import ImagePool


def labelled(values) -> torch.Tensor:
    """A batch (N, 1, 2, 2) whose image i is filled with values[i], so an image is known by its value."""
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()


def labels(images: torch.Tensor) -> list[float]:
    return images[:, 0, 0, 0].tolist()


def reference_query(pool: list, pool_size: int, images, generator: torch.Generator) -> list:
    """The reference algorithm on plain lists of labels, the coin and the slot from ``generator``."""
    out = []
    for image in images:
        if len(pool) < pool_size:
            pool.append(image)
            out.append(image)
        elif torch.rand((), generator=generator).item() > 0.5:
            slot = int(torch.randint(pool_size, (), generator=generator))
            out.append(pool[slot])
            pool[slot] = image
        else:
            out.append(image)
    return out


def test_size_zero_returns_the_input():
    x = torch.randn(3, 3, 4, 4)
    assert ImagePool(0).query(x) is x


def test_fills_then_returns_stored_images():
    pool = ImagePool(4, seed=1)
    assert labels(pool.query(labelled([1, 2, 3]))) == [1, 2, 3]
    assert labels(pool.query(labelled([4]))) == [4]
    assert len(pool) == 4
    seen = {1.0, 2.0, 3.0, 4.0}
    for step in range(50):
        value = 100.0 + step
        (returned,) = labels(pool.query(labelled([value])))
        stored = [float(im[0, 0, 0]) for im in pool.images]
        if returned == value:
            assert value not in stored  # kept out of the pool
        else:
            assert returned in seen and value in stored and returned not in stored  # swapped in
        assert len(pool) == 4
        seen.add(value)


def test_filling_crosses_a_batch_boundary():
    pool = ImagePool(3, seed=0)
    out = pool.query(labelled([1, 2, 3, 4, 5]))
    assert labels(out)[:3] == [1, 2, 3]
    assert len(pool) == 3
    # nothing is lost: every image is returned, stored, or both (1-3 were returned when stored)
    assert set(labels(out)) | {float(im[0, 0, 0]) for im in pool.images} == {1, 2, 3, 4, 5}


@pytest.mark.parametrize("seed", [0, 7])
def test_exact_sequence_against_the_reference(seed):
    pool = ImagePool(5, seed=seed)
    ref_pool, ref_gen = [], torch.Generator().manual_seed(seed)
    value = 0
    for batch in [1, 3, 2, 1, 4, 1, 1, 5, 2, 1] * 5:
        values = [float(value + i) for i in range(batch)]
        value += batch
        assert labels(pool.query(labelled(values))) == reference_query(ref_pool, 5, values, ref_gen)
        assert [float(im[0, 0, 0]) for im in pool.images] == ref_pool


def test_half_the_queries_return_a_stored_image():
    pool = ImagePool(50, seed=3)
    pool.query(labelled(range(50)))
    n, swapped = 4000, 0
    for i in range(n):
        value = 1000.0 + i
        swapped += labels(pool.query(labelled([value])))[0] != value
    # binomial(4000, 0.5): sd ~ 32, so +-150 is about 4.7 sd
    assert swapped == pytest.approx(n / 2, abs=150)


def test_returned_images_are_detached_copies():
    pool = ImagePool(2, seed=0)
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    out = pool.query(x * 1)
    assert not out.requires_grad
    with torch.no_grad():
        x.add_(1.0)
    torch.testing.assert_close(pool.images[0], x[0].detach() - 1.0)


def test_state_roundtrip_continues_bit_exactly():
    pool = ImagePool(6, seed=11)
    torch.manual_seed(0)
    batches = [torch.randn(2, 3, 8, 8) for _ in range(12)]
    for b in batches[:6]:
        pool.query(b)
    buffer = io.BytesIO()
    torch.save(pool.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state["count"] == 6 and state["images"].shape == (6, 3, 8, 8)

    resumed = ImagePool(6, seed=999)  # a different seed: the state must override it
    resumed.load_state_dict(state)
    for b in batches[6:]:
        assert torch.equal(pool.query(b), resumed.query(b))
    assert torch.equal(pool.state_dict()["images"], resumed.state_dict()["images"])
    assert torch.equal(pool.generator.get_state(), resumed.generator.get_state())


def test_state_of_an_empty_and_a_partly_filled_pool():
    pool = ImagePool(4, seed=2)
    state = pool.state_dict()
    assert state["count"] == 0 and state["images"].numel() == 0
    pool.query(labelled([5, 6]))
    resumed = ImagePool(4, seed=0)
    resumed.load_state_dict(pool.state_dict())
    assert len(resumed) == 2
    xs = labelled([7, 8, 9, 10, 11])
    assert torch.equal(pool.query(xs), resumed.query(xs))


def test_state_of_another_size_is_refused():
    with pytest.raises(ValueError, match="pool of 4"):
        ImagePool(3).load_state_dict(ImagePool(4).state_dict())


# losses

def test_cycle_loss_by_hand():
    a = torch.tensor([[1.0, -1.0], [0.5, 0.0]]).view(1, 1, 2, 2)
    rec = torch.tensor([[0.5, -1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    # |diffs| = 0.5, 0, 0.5, 1 -> mean 0.5
    assert cycle_loss(rec, a, lambda_cyc=1.0).item() == pytest.approx(0.5)
    assert cycle_loss(rec, a).item() == pytest.approx(5.0)  # lambda_cyc = 10


def test_identity_loss_by_hand():
    b = torch.zeros(2, 1, 1, 2)
    mapped = torch.tensor([0.2, -0.2, 0.4, 0.0]).view(2, 1, 1, 2)
    # mean |.| = 0.8 / 4 = 0.2; weight 10 * 0.5 = 5
    assert identity_loss(mapped, b).item() == pytest.approx(1.0)
    assert identity_loss(mapped, b, lambda_cyc=4.0, lambda_id=0.25).item() == pytest.approx(0.2)


def test_lsgan_terms_by_hand():
    real = torch.tensor([1.0, 0.0, 2.0, 0.5]).view(1, 1, 2, 2)  # patch logits
    fake = torch.tensor([0.0, 1.0, -1.0, 0.5]).view(1, 1, 2, 2)
    # (real - 1)^2 = 0, 1, 1, 0.25 -> 0.5625;  fake^2 = 0, 1, 1, 0.25 -> 0.5625
    assert lsgan_loss(real, True).item() == pytest.approx(0.5625)
    assert lsgan_loss(fake, False).item() == pytest.approx(0.5625)
    assert lsgan_d_loss(real, fake).item() == pytest.approx(0.5 * (0.5625 + 0.5625))
    # (fake - 1)^2 = 1, 0, 4, 0.25 -> 1.3125
    assert lsgan_g_loss(fake).item() == pytest.approx(1.3125)


def test_lsgan_averages_over_every_patch_and_image():
    logits = torch.zeros(2, 1, 30, 30)
    logits[0] = 1.0
    assert lsgan_loss(logits, False).item() == pytest.approx(0.5)
    assert lsgan_loss(logits, True).item() == pytest.approx(0.5)


def test_losses_carry_gradients():
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)
    (cycle_loss(x, torch.ones(1, 1, 2, 2), lambda_cyc=2.0) + lsgan_g_loss(x)).backward()
    # d/dx of 2 * mean|x - 1| = -2/4; of mean (x - 1)^2 = 2 (x - 1) / 4 = -0.5
    torch.testing.assert_close(x.grad, torch.full((1, 1, 2, 2), -1.0))
