"""Images from a checkpoint: latents (truncated by resampling) and labels (``latents``), the
layout a request asks for drawn a batch at a time (``generate``), and the output files
(``files``). The public names are re-exported here."""
from gancli.sampling.files import (MAX_GRID_IMAGES, MAX_GRID_PIXELS, MAX_GRID_SIDE, NpzWriter, SampleOutputs,
                                   check_grid, check_writable, grid_picture, grid_scale, save_grid_png, save_individual, save_npz,
                                   sample_to_files)
from gancli.sampling.generate import (LoadedGenerator, SampleBatch, SamplePlan, Samples, data_labels, iter_samples,
                                      load_generator, parse_attrs, parse_classes, plan_samples, run_generator, sample)
from gancli.sampling.latents import (InPieces, finite_output, TruncatedNormalRows, UniformRows, check_prior_truncation,
                                     draw_latents, interpolate, labels_in_pieces, labels_like_data, latent_rows,
                                     normals_in_pieces, seeded_generators, slerp, truncated_normal)
from gancli.config import SampleRequest

__all__ = ["truncated_normal", "draw_latents", "latent_rows", "check_prior_truncation", "interpolate", "UniformRows",
           "slerp", "load_generator", "LoadedGenerator", "SampleRequest", "Samples", "sample",
           "run_generator", "sample_to_files", "parse_classes", "parse_attrs", "data_labels",
           "labels_like_data", "seeded_generators", "save_npz", "save_individual",
           "save_grid_png", "grid_picture", "grid_scale", "check_writable", "check_grid", "plan_samples", "iter_samples", "SamplePlan",
           "SampleBatch", "SampleOutputs", "NpzWriter", "InPieces", "TruncatedNormalRows", "labels_in_pieces",
           "normals_in_pieces", "finite_output", "MAX_GRID_IMAGES", "MAX_GRID_SIDE", "MAX_GRID_PIXELS"]
