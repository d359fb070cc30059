"""Training methods by name: how one iteration trains, and which networks a checkpoint holds.

``gan`` is one G/D pair with a per-logit loss (hinge, ns, wgan-gp, ls). A new system (BEGAN,
EBGAN, CycleGAN) is one new file here plus a registry entry: docs/architecture.md, "Adding a
method".
"""
from gancli.methods.base import METHODS, Method, TrainContext

# Imported for their @METHODS.register side effect; the order is the order --help lists.
from gancli.methods import gan as _gan, began as _began, ebgan as _ebgan, cyclegan as _cyclegan  # noqa: E402,F401,I001
from gancli.methods.loading import LoadedCheckpoint, load_run_checkpoint

__all__ = ["METHODS", "Method", "TrainContext", "LoadedCheckpoint", "load_run_checkpoint"]
