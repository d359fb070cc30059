"""The shipped ``shapes-factor-net``: reads class and every factor of held-out shapes, at 32 and 64 px."""
import pytest
import torch

from gancli.data.base import to_float
from gancli.data.shapes import SHAPE_CLASSES, render_shapes, sample_params
from gancli.errors import GancliError
from gancli.metrics.shapes_factor_net import FACTORS, FEATURE_DIM, WEIGHTS_PATH, load_shapes_factor_net


@pytest.mark.parametrize("res", [32, 64])
def test_shipped_weights_read_class_and_factors_of_held_out_shapes(res):
    net = load_shapes_factor_net()
    stored = torch.load(WEIGHTS_PATH, weights_only=True)
    assert stored["classes"] == list(SHAPE_CLASSES) and stored["factors"] == list(FACTORS)
    assert WEIGHTS_PATH.stat().st_size < 400_000
    params = sample_params(400, 5, 1)  # a seed and stream it never trained on
    x = to_float(torch.from_numpy(render_shapes(params, res)))
    logits, factors = net.predict(x)
    assert (logits.argmax(1) == torch.from_numpy(params.labels)).float().mean() >= 0.99
    error = (factors - torch.cat([torch.from_numpy(params.foreground), torch.from_numpy(params.background),
                                  torch.from_numpy(params.centers), torch.from_numpy(params.radii)[:, None]], 1)).abs()
    # benchmarks/train_shapes_factor_net.py measured 3.6 / 1.3 levels, 0.09 / 0.07 px on 4,000 shapes
    assert 255 * error[:, 0:3].mean() < 8 and 255 * error[:, 3:6].mean() < 4  # colour levels of 255
    assert 32 * error[:, 6:8].mean() < 0.25 and 32 * error[:, 8].mean() < 0.2  # px at 32 px
    assert net.features(x[:3]).shape == (3, FEATURE_DIM)


def test_features_move_with_position_unlike_shapes_net():
    """The reason for the network: the same shape moved across the image changes its features
    about as much as a change of class does; shapes-net's pooled features hardly move."""
    from gancli.metrics.shapes_net import load_shapes_net

    params = sample_params(200, 7, 1)
    moved = params.take(torch.arange(200).numpy())
    moved.centers[:] = 1.0 - params.centers  # mirrored positions, all else equal
    a = to_float(torch.from_numpy(render_shapes(params, 32)))
    b = to_float(torch.from_numpy(render_shapes(moved, 32)))
    ratios = []
    for net in (load_shapes_factor_net(), load_shapes_net()):
        with torch.no_grad():
            fa, fb = net.features(a), net.features(b)
        ratios.append(float((fa - fb).norm(dim=1).mean() / torch.cdist(fa, fa).mean()))
    factor_net, class_net = ratios
    assert factor_net > 0.3 and factor_net > 2 * class_net


def test_missing_weights_name_the_rebuild_command(tmp_path):
    with pytest.raises(GancliError, match="train_shapes_factor_net"):
        load_shapes_factor_net(tmp_path / "none.pt")
