import pytest
import torch

# fake on-disk datasets, shared by the data, training and CLI tests
from tests.data.fake_datasets import (  # noqa: F401
    fake_celeba_root,
    fake_cifar_root,
    fake_flat_folder,
    fake_folder,
    fake_mnist_root,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
