#!/usr/bin/python3
"""Exports the TorchScript test fixtures with Python PyTorch (Debian's python3-torch).

tests/fixtures/tiny_cnn.pt      a small CNN for 1x28x28 inputs, 10 classes, scripted
tests/fixtures/tiny_mlp_traced.pt  an MLP for 16 features -> 4 outputs, traced
tests/fixtures/state_dict.pt    a plain torch.save() of weights: NOT TorchScript,
                                for the "not a TorchScript file" error test
tests/fixtures/tiny_token_lm.pt a next-token model taking int64 token ids [B, T]
                                (vocabulary 32) to logits [B, T, 32], scripted:
                                for --data npy with integer token arrays
tests/fixtures/tiny_seq_classifier.pt  token ids [B, T] of any length T (vocabulary 64)
                                -> 2 classes: embedding, conv1d, mean over time; for
                                variable-length data (an .npz with `lengths`)
tests/fixtures/tiny_detector.pt a detector that computes its own loss (--loss model):
                                forward(images [B,1,16,16], targets [B,5] = class,
                                box x0 y0 x1 y1) -> cross entropy + smooth L1, scripted

Run: /usr/bin/python3 scripts/make_fixtures.py  (the files are committed; rerun
only to change them; --token-lm writes tiny_token_lm.pt alone, --detector
tiny_detector.pt alone).

python3 scripts/make_fixtures.py --torch2x    (run under PyTorch 2.x, e.g. Debian 13's
    python3-torch 2.6 in the scripts/check-debian13 chroot)
tests/fixtures/torch26_mlp_scripted.pt   an MLP 16 -> 32 -> 4, scripted by PyTorch 2.6:
                                   the tests train it in Debian 12's LibTorch 1.13
tests/fixtures/torch26_mlp_exported.pt2  the same module through torch.export: not
                                   TorchScript, for the ".pt2 is not TorchScript" error

/usr/bin/python3 scripts/make_fixtures.py --resnet18 PATH
    torchvision's ResNet-18 for 3x32x32 inputs and 10 classes, scripted: the
    textbook model a new user brings (45 MB, so the tests export it at build
    time instead of committing it; needs Debian's python3-torchvision).
"""
import os

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


class TinyCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 13 * 13, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.conv(x)))
        x = torch.max_pool2d(x, 2)
        return self.fc(torch.flatten(x, 1))


class Mlp16(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


def export_torch2x():
    """The fixtures a PyTorch 2.x user brings (needs torch.export)."""
    torch.manual_seed(0)
    m = Mlp16()
    torch.jit.script(m).save(os.path.join(OUT, "torch26_mlp_scripted.pt"))
    program = torch.export.export(m, (torch.randn(2, 16),))
    torch.export.save(program, os.path.join(OUT, "torch26_mlp_exported.pt2"))


class TinyTokenLm(nn.Module):
    """Embedding and a linear read-out: the smallest model that eats int64 token ids."""

    def __init__(self, vocab: int = 32, width: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.out = nn.Linear(width, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.embed(tokens)))


class TinyDetector(nn.Module):
    """A CNN body with two heads, class logits and a box, whose forward takes
    the targets and returns the training loss, as detection models do."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classes = nn.Linear(16, classes)
        self.box = nn.Linear(16, 4)

    def forward(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        features = self.body(images)
        labels = targets[:, 0].long()
        boxes = targets[:, 1:]
        return nn.functional.cross_entropy(self.classes(features), labels) + \
            nn.functional.smooth_l1_loss(self.box(features), boxes)


class TinySeqClassifier(nn.Module):
    def __init__(self, vocab: int = 64, width: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.conv = nn.Conv1d(width, 32, 5, padding=2)
        self.head = nn.Linear(32, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(self.embed(tokens).transpose(1, 2)))
        return self.head(h.mean(dim=2))


def seq_classifier():
    torch.manual_seed(0)
    torch.jit.script(TinySeqClassifier()).save(os.path.join(OUT, "tiny_seq_classifier.pt"))


def detector():
    torch.manual_seed(0)
    torch.jit.script(TinyDetector()).save(os.path.join(OUT, "tiny_detector.pt"))


def token_lm():
    torch.manual_seed(0)
    torch.jit.script(TinyTokenLm()).save(os.path.join(OUT, "tiny_token_lm.pt"))


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    cnn = TinyCnn()
    torch.jit.script(cnn).save(os.path.join(OUT, "tiny_cnn.pt"))

    mlp = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 4))
    torch.jit.trace(mlp, torch.randn(2, 16)).save(os.path.join(OUT, "tiny_mlp_traced.pt"))

    torch.save(cnn.state_dict(), os.path.join(OUT, "state_dict.pt"))
    token_lm()
    detector()
    seq_classifier()
    print("wrote fixtures to", os.path.normpath(OUT), "with torch", torch.__version__)


def resnet18(path):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    torch.jit.script(model).save(path)
    print("wrote", path, "with torch", torch.__version__, "torchvision", torchvision.__version__)


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--resnet18":
        resnet18(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "--torch2x":
        export_torch2x()
    elif sys.argv[1:] == ["--token-lm"]:
        token_lm()  # only this one: the others stay byte for byte as committed
    elif sys.argv[1:] == ["--detector"]:
        detector()
    elif sys.argv[1:] == ["--seq-classifier"]:
        seq_classifier()
    else:
        main()
