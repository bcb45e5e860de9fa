#!/usr/bin/python3
"""PyTorch side of `finetune bench train`: the Kim (2014) CNN-rand model trained
for one epoch over the exact batches our loader produced (same order, padding,
hyperparameters: Adam 1e-3, dropout 0.5). Prints one JSON line.

Usage: /usr/bin/python3 bench/torch_train.py BATCHES.bin THREADS VOCAB CLASSES
BATCHES.bin: int32 little-endian records [B, L, ids (B*L), labels (B)].
"""
import json
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class TextCNN(nn.Module):
    def __init__(self, vocab, classes):
        super().__init__()
        self.emb = nn.Embedding(vocab, 300, padding_idx=0)
        self.convs = nn.ModuleList([nn.Conv1d(300, 100, k) for k in (3, 4, 5)])
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(300, classes)

    def forward(self, ids):
        x = self.emb(ids).transpose(1, 2)
        h = [F.relu(c(x)).max(dim=2).values for c in self.convs]
        return self.fc(self.drop(torch.cat(h, 1)))


def main():
    path, threads, vocab, classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    raw = np.fromfile(path, dtype="<i4")
    batches, at = [], 0
    while at < raw.size:
        b, l = int(raw[at]), int(raw[at + 1])
        at += 2
        ids = torch.from_numpy(raw[at:at + b * l].astype(np.int64).reshape(b, l))
        at += b * l
        labels = torch.from_numpy(raw[at:at + b].astype(np.int64))
        at += b
        batches.append((ids, labels))
    model = TextCNN(vocab, classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step(ids, labels):
        opt.zero_grad()
        loss = F.cross_entropy(model(ids), labels)
        loss.backward()
        opt.step()
        return loss

    for ids, labels in batches[:3]:  # warm-up, as ours
        step(ids, labels)
    start = time.perf_counter()
    n = 0
    for ids, labels in batches:
        step(ids, labels)
        n += ids.shape[0]
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "examples": n, "examplesPerSecond": n / seconds, "maxRssMB": rss, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
