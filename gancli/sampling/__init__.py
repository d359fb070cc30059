"""Images from a checkpoint: latents (truncated by resampling), labels, interpolation, output files.

The truncation trick (Brock et al. 2019): draw z from N(0, I) and *redraw* every entry with
|z_i| > t until all lie in [-t, t]; z then follows the normal truncated to [-t, t] (density
proportional to exp(-z^2 / 2) there). Scaling z by t, or clamping it, gives other distributions
(a narrower normal; point masses at +-t) that G was never shown.

Everything random is drawn from CPU ``torch.Generator``s seeded from ``seed`` (one for z, one for
labels), so the same seed gives the same z and labels on any device, and bit-identical images on
the same device.

Nothing here needs all n images, or all n latents, at once: ``iter_samples`` draws z and labels a batch
at a time (the same values, bit for bit, as one draw of all n) and hands back one batch of images at a
time, which ``sample_to_files`` writes to the .npz and the PNG folder before making the next.
"""
from gancli.sampling.files import (MAX_GRID_IMAGES, MAX_GRID_PIXELS, MAX_GRID_SIDE, NpzWriter, SampleOutputs,
                                   check_grid, check_writable, save_grid_png, save_individual, save_npz,
                                   sample_to_files)
from gancli.sampling.generate import (LoadedGenerator, SampleBatch, SamplePlan, Samples, data_labels, iter_samples,
                                      load_generator, parse_attrs, parse_classes, plan_samples, run_generator, sample)
from gancli.sampling.latents import (InPieces, finite_output, TruncatedNormalRows, labels_in_pieces, labels_like_data,
                                     normals_in_pieces, seeded_generators, slerp, truncated_normal)
from gancli.config import SampleRequest

__all__ = ["truncated_normal", "slerp", "load_generator", "LoadedGenerator", "SampleRequest", "Samples", "sample",
           "run_generator", "sample_to_files", "parse_classes", "parse_attrs", "data_labels",
           "labels_like_data", "seeded_generators", "save_npz", "save_individual",
           "save_grid_png", "check_writable", "check_grid", "plan_samples", "iter_samples", "SamplePlan",
           "SampleBatch", "SampleOutputs", "NpzWriter", "InPieces", "TruncatedNormalRows", "labels_in_pieces",
           "normals_in_pieces", "finite_output", "MAX_GRID_IMAGES", "MAX_GRID_SIDE", "MAX_GRID_PIXELS"]
