#!/usr/bin/env python3
"""One JSON line describing where a benchmark ran: CPU model and cores, load average, threads,
Inkread's commit and device, and the versions of the peer libraries that are installed.

    python3 scripts/bench_machine.py INKREAD_BINARY THREADS DEVICE
"""
import importlib.metadata
import json
import os
import platform
import subprocess
import sys


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def main():
    binary, threads, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    inkread = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    peers = ["rapidocr-onnxruntime", "onnxruntime", "easyocr", "torch", "transformers", "kraken"]
    print(json.dumps({
        "cpu": cpu_model(), "cores": os.cpu_count(), "load": os.getloadavg()[0],
        "threads": threads, "device": device, "commit": commit,
        "inkread": inkread.strip(), "python": platform.python_version(),
        "versions": {p: version(p) for p in peers},
    }))


if __name__ == "__main__":
    main()
