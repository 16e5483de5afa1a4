#!/usr/bin/python3
"""The Python half of bench/cnn_vs_python.sh: the same `cnn` (the PyTorch
MNIST example without dropout), the same Fashion-MNIST standardisation, SGD
with momentum, eager PyTorch, one thread count. Prints one JSON line per batch
size: mean and median step seconds (compute, after 2 warm-up steps) and
samples/s of the mean (batchtune's step clock).

Usage: cnn_python.py THREADS STEPS BATCH [BATCH ...]
"""
import gzip
import json
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

DIR = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = torch.flatten(F.max_pool2d(x, 2), 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def main():
    threads, steps = int(sys.argv[1]), int(sys.argv[2])
    sizes = [int(b) for b in sys.argv[3:]]
    torch.set_num_threads(threads)
    images = torch.from_numpy(idx(f"{DIR}/train-images-idx3-ubyte.gz").copy()).float().div_(255).unsqueeze(1)
    labels = torch.from_numpy(idx(f"{DIR}/train-labels-idx1-ubyte.gz").astype(np.int64))
    images = (images - images.mean()) / images.std()
    for batch in sizes:
        torch.manual_seed(0)
        model = Cnn()
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        gen = torch.Generator().manual_seed(0)
        order = torch.randperm(images.shape[0], generator=gen)
        times = []
        for step in range(steps):
            idx_ = order[(step * batch) % (images.shape[0] - batch):][:batch]
            x, y = images.index_select(0, idx_), labels.index_select(0, idx_)
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loss.item()
            if step >= 2:
                times.append(time.perf_counter() - t0)
        median = statistics.median(times)
        mean = statistics.fmean(times)
        print(json.dumps({"batch": batch, "mean_step_seconds": mean, "median_step_seconds": median,
                          "samples_per_s": batch / mean, "median_samples_per_s": batch / median}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
