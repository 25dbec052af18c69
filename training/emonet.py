"""EmotionNet Nano-A / Nano-B: our own layer graph following the paper's principles.

Lee, Wang, Wong (2020) publish the principles but not the machine-generated graph, so
this is a hand design that keeps to them:

* residual 3x3 blocks in three stages, at 24x24, 12x12 and 6x6;
* heterogeneous channel counts that grow as the feature maps shrink;
* two densely connected 1x1 convolutions ("mixers"), each fed by the outputs of
  several 3x3 convolutions of a stage, whose outputs feed later layers;
* selective long-range links: mixer 1 (24x24) reaches mixer 2 and the classifier,
  mixer 2 reaches the classifier, skipping the last stage;
* global average pooling and a linear classifier (softmax at inference).

Input: 1x48x48 grayscale, pixel/255 then (x - 0.5) / 0.5.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# Channel plans. Each stage: (down-sampling conv width, residual width).
NANO_B = dict(stem=16, s1=24, m1=32, s2=46, m2=52, s3=60)
NANO_A = dict(stem=16, s1=24, m1=32, s2=56, m2=68, s3=90)


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)
    )


class Stage(nn.Module):
    """Strided 3x3 conv, then two residual 3x3 convs; returns all three outputs."""

    def __init__(self, cin: int, cout: int, stride: int = 2, n_res: int = 2):
        super().__init__()
        self.down = conv_bn(cin, cout, 3, stride)
        self.res = nn.ModuleList([conv_bn(cout, cout) for _ in range(n_res)])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        y = F.relu(self.down(x))
        outs = [y]
        for conv in self.res:
            y = F.relu(conv(y) + y)
            outs.append(y)
        return outs


class EmotionNetNano(nn.Module):
    def __init__(self, plan: dict, n_classes: int = 8, dropout: float = 0.1):
        super().__init__()
        self.plan = plan
        self.stem = nn.Sequential(conv_bn(1, plan["stem"]), nn.ReLU(inplace=True))
        self.s1 = Stage(plan["stem"], plan["s1"])  # 48 -> 24
        # mixer 1: dense 1x1 over the stage's three 3x3 outputs
        self.m1 = nn.Sequential(
            nn.Conv2d(3 * plan["s1"], plan["m1"], 1, bias=False),
            nn.BatchNorm2d(plan["m1"]),
            nn.ReLU(inplace=True),
        )
        self.s2 = Stage(plan["m1"], plan["s2"])  # 24 -> 12
        # mixer 2: dense 1x1 over stage 2's outputs plus mixer 1 (long-range)
        self.m2 = nn.Sequential(
            nn.Conv2d(3 * plan["s2"] + plan["m1"], plan["m2"], 1, bias=False),
            nn.BatchNorm2d(plan["m2"]),
            nn.ReLU(inplace=True),
        )
        self.s3 = Stage(plan["m2"], plan["s3"], n_res=1)  # 12 -> 6
        feat = plan["s3"] + plan["m2"] + plan["m1"]
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(feat, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        d1, a1, b1 = self.s1(x)
        m1 = self.m1(torch.cat([d1, a1, b1], 1))
        d2, a2, b2 = self.s2(m1)
        m1_down = F.avg_pool2d(m1, 2)
        m2 = self.m2(torch.cat([d2, a2, b2, m1_down], 1))
        s3 = self.s3(m2)[-1]
        # global average pooling of the last stage and the two long-range mixers
        g = torch.cat([s3.mean((2, 3)), m2.mean((2, 3)), m1.mean((2, 3))], 1)
        return g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.features(x)))


def nano_b(n_classes: int = 8) -> EmotionNetNano:
    return EmotionNetNano(NANO_B, n_classes)


def nano_a(n_classes: int = 8) -> EmotionNetNano:
    return EmotionNetNano(NANO_A, n_classes)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, size: int = 48) -> int:
    """Multiply-accumulates of convolutions and linear layers for one 1x48x48 input."""
    macs = 0

    def conv_hook(m, inp, out):
        nonlocal macs
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        macs += out.numel() // out.shape[0] * k

    def fc_hook(m, inp, out):
        nonlocal macs
        macs += m.in_features * m.out_features

    hooks = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(fc_hook))
    was = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, size, size))
    model.train(was)
    for h in hooks:
        h.remove()
    return macs


if __name__ == "__main__":
    for name, fn in [("nano_a", nano_a), ("nano_b", nano_b)]:
        for n in (7, 8):
            m = fn(n)
            print(f"{name} classes={n} params={count_params(m)} MMAC={count_macs(m)/1e6:.2f}")
