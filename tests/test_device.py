"""gancli.device: device names, and keep_freed_memory (glibc keeps freed blocks for reuse)."""
import subprocess
import sys
import textwrap

import pytest
import torch

from gancli.device import resolve_device
from gancli.errors import GancliError

# a fresh process: allocates and frees a 64 MiB tensor eight times, before and after the call, and
# prints the call's result and the page faults of each round (each new page is one minor fault)
PROBE = textwrap.dedent("""
    import resource, sys
    import torch
    from gancli.device import keep_freed_memory

    def faults():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(8):
            torch.ones(16 * 2**20).sum()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults()  # the first round also maps the heap
    unset = faults()
    kept = keep_freed_memory()
    faults()
    print(kept, keep_freed_memory(), unset, faults())
""")


def probe(env_value: str | None) -> tuple[str, str, int, int]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "GANCLI_KEEP_MEMORY"}
    if env_value is not None:
        env["GANCLI_KEEP_MEMORY"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True).stdout
    kept, again, unset, after = out.split()
    return kept, again, int(unset), int(after)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keep_freed_memory_stops_refaulting_freed_tensors():
    kept, again, unset, after = probe(None)
    assert (kept, again) == ("True", "True")
    pages = 8 * 64 * 2**20 // 4096  # eight 64 MiB tensors, 4 KiB pages
    assert unset > 0.9 * pages  # glibc's default: each tensor is fresh mmap'd pages
    assert after < 0.02 * pages  # kept: the freed block is reused, no page is touched for the first time


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keep_freed_memory_can_be_switched_off():
    kept, again, unset, after = probe("0")
    assert (kept, again) == ("False", "False")
    assert after > 0.9 * 8 * 64 * 2**20 // 4096


def test_resolve_device_names_and_errors():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(GancliError, match="no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(GancliError, match="unknown device 'gpu'"):
        resolve_device("gpu")
