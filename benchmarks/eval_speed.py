"""Evaluation speed: gancli's streaming path against torch-fidelity on a pre-generated tensor dataset.

    python benchmarks/eval_speed.py RUN_OR_CKPT [-n 10000] [--extractor shapes-net] [--repeats 2]

Prints, for the same generator, the same n images and the same reference features (computed once,
then cached, as in a second ``gancli eval``):
  1. ``gancli eval --fid`` as the library runs it: G -> uint8 -> extractor, batch by batch;
  2. the same images first generated into one uint8 tensor, then ``torch_fidelity.calculate_metrics``
     over a Dataset of that tensor (its own batching and DataLoader), plus the generation time;
and the overhead of (1) against (2) in percent; the FID values of both (they must agree). Also the
one-off time to compute the reference features (20,000 shapes for a shapes run).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch
from torch.utils.data import Dataset

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TensorImages(Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--extractor", default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    from gancli.metrics.evaluate import EvalRequest, evaluate, make_extract, run_reference
    from gancli.metrics.extractors import build_extractor, default_extractor, extractor_spec
    from gancli.metrics.reference import reference_features
    from gancli.sampling import data_labels, load_generator, seeded_generators, truncated_normal
    from gancli.viz.grid import quantize

    os.environ.setdefault("GANCLI_CACHE_DIR", tempfile.mkdtemp(prefix="gancli-bench-cache-"))
    gen = load_generator(args.target)
    name = args.extractor or default_extractor(gen.dataset.get("name"))
    spec = extractor_spec(name)
    print(f"device cpu, {torch.get_num_threads()} threads; {gen.path} (step {gen.step}); extractor {name}; n {args.n}")

    req = EvalRequest(metrics=["fid"], n=args.n, feature_extractor=name, batch_size=args.batch_size)
    started = time.time()
    ref = run_reference(dict(gen.checkpoint.train_config), gen.model_config.res, req)
    extractor = build_extractor(name, [spec.feature_layer, spec.logits_layer])
    ref_feats, cached = reference_features(ref, make_extract(extractor, "cpu"), name, [spec.feature_layer], args.batch_size)
    print(f"reference features: {ref.n} images in {time.time() - started:.1f} s{' (cached)' if cached else ''}")

    stream_times, stream_core, tf_times, gen_times = [], [], [], []
    for _ in range(args.repeats):
        t0 = time.time()
        ours = evaluate(args.target, req, log=False)
        stream_times.append(time.time() - t0)
        stream_core.append(ours.seconds["generated"])

        t0 = time.time()
        z_gen, label_gen = seeded_generators(0)
        z = truncated_normal(args.n, gen.model_config.z_dim, None, z_gen)
        y = data_labels(gen, args.n, label_gen)
        with torch.no_grad():
            images = torch.cat([quantize(gen.G(z[i:i + args.batch_size], None if y is None else y[i:i + args.batch_size]))
                                for i in range(0, args.n, args.batch_size)])
        gen_times.append(time.time() - t0)
        t0 = time.time()
        # torch-fidelity's own dataset path (DataLoader, its batching) over the tensor; the reference
        # side is the same cached features on both sides, as a second `gancli eval` would have it
        from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
        from torch_fidelity.utils import get_featuresdict_from_dataset

        feats = get_featuresdict_from_dataset(TensorImages(images), extractor, args.batch_size, False, True, False)
        fid_tf = fid_statistics_to_metric(fid_features_to_statistics(feats[spec.feature_layer].double()),
                                          fid_features_to_statistics(ref_feats[spec.feature_layer].double()),
                                          False)["frechet_inception_distance"]
        tf_times.append(time.time() - t0)
    stream, core, tf, g = min(stream_times), min(stream_core), min(tf_times), min(gen_times)
    print(f"gancli eval --fid, end to end:              {stream:6.2f} s   FID {ours.metrics['fid']:.4f}")
    print(f"  of which G -> features, streamed:         {core:6.2f} s")
    print(f"pre-generated tensor: generate              {g:6.2f} s")
    print(f"                      torch-fidelity        {tf:6.2f} s   FID {fid_tf:.4f}")
    print(f"                      total                 {g + tf:6.2f} s")
    print(f"streaming vs pre-generated + torch-fidelity: {100 * (core / (g + tf) - 1):+.1f}% (G -> features), "
          f"{100 * (stream / (g + tf) - 1):+.1f}% (end to end, with loading the checkpoint and the data)"
          f"  (best of {args.repeats})")


if __name__ == "__main__":
    main()
