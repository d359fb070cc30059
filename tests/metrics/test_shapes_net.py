"""The shipped ``shapes-net`` classifier: loads safely, classifies held-out shapes, fails clearly."""
import pytest
import torch

from gancli.data.base import to_float
from gancli.data.shapes import SHAPE_CLASSES, render_shapes, sample_params
from gancli.errors import GancliError
from gancli.metrics.shapes_net import FEATURE_DIM, WEIGHTS_PATH, load_shapes_net


def test_shipped_weights_classify_held_out_shapes_at_32_and_64_px():
    net = load_shapes_net()
    stored = torch.load(WEIGHTS_PATH, weights_only=True)
    assert stored["classes"] == list(SHAPE_CLASSES) and WEIGHTS_PATH.stat().st_size < 300_000
    params = sample_params(400, 5, 1)  # a seed and stream it never trained on
    labels = torch.from_numpy(params.labels)
    for res in (32, 64):
        x = to_float(torch.from_numpy(render_shapes(params, res)))
        with torch.no_grad():
            assert (net(x).argmax(1) == labels).float().mean() >= 0.99
            features = net.features(x[:5])
        assert features.shape == (5, FEATURE_DIM)


def test_an_empty_image_has_features_unlike_any_shape():
    net = load_shapes_net()
    params = sample_params(80, 6, 1)
    x = to_float(torch.from_numpy(render_shapes(params, 32)))
    with torch.no_grad():
        real = net.features(x)
        empty = net.features(torch.zeros(1, 3, 32, 32))
    assert torch.cdist(empty, real).min() > 0.1 * torch.cdist(real, real).mean()


def test_missing_weights_name_the_rebuild_command(tmp_path):
    with pytest.raises(GancliError, match="train_shapes_net"):
        load_shapes_net(tmp_path / "none.pt")
