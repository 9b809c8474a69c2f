#!/usr/bin/env python3
"""One convolution with random weights in PyTorch (CPU), timed: the peer of `inkread bench
conv`, same arguments, one JSON line. Run by scripts/bench_conv.sh."""
import argparse
import json
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    for name, default in (("in", 64), ("out", 64), ("kernel", 3), ("stride", 1),
                          ("height", 320), ("width", 240), ("repeats", 3), ("threads", 2)):
        ap.add_argument(f"--{name}", type=int, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    conv = torch.nn.Conv2d(getattr(a, "in"), a.out, a.kernel, a.stride, a.kernel // 2)
    x = torch.rand(1, getattr(a, "in"), a.height, a.width)
    seconds = []
    with torch.inference_mode():
        for i in range(a.repeats + 1):
            started = time.perf_counter()
            conv(x)
            if i:
                seconds.append(time.perf_counter() - started)
    out_h = (a.height + 2 * (a.kernel // 2) - a.kernel) // a.stride + 1
    out_w = (a.width + 2 * (a.kernel // 2) - a.kernel) // a.stride + 1
    gmacs = out_h * out_w * a.out * getattr(a, "in") * a.kernel ** 2 / 1e9
    median = statistics.median(seconds)
    print(json.dumps({"device": "cpu", "threads": a.threads, "torch": torch.__version__,
                      "shape": [1, getattr(a, "in"), a.height, a.width], "out_channels": a.out,
                      "kernel": a.kernel, "stride": a.stride, "gmacs": gmacs,
                      "seconds": seconds, "seconds_median": median,
                      "gmacs_per_second": gmacs / median}))


if __name__ == "__main__":
    main()
