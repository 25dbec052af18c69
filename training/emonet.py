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
# Version 2 (session 10): the same parameter budgets spent differently. Wider 24x24
# stage (parameters are cheap there, spatial detail is not), one residual conv fewer
# at 12x12 and none at 6x6, where each 3x3 conv costs the most parameters.
NANO_B2 = dict(stem=24, s1=40, m1=40, s2=56, m2=64, s3=64, r1=2, r2=1, r3=0)
NANO_A2 = dict(stem=24, s1=48, m1=48, s2=72, m2=80, s3=88, r1=2, r2=2, r3=0)


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


def bilinear_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """The n_out x n_in matrix of a 1-D bilinear resize (align_corners=False), so that
    `A @ X @ A.T` is the 2-D resize of X: two small MatMuls in the ONNX graph, which
    every runtime executes exactly (no Resize op and its runtime-specific modes)."""
    eye = torch.eye(n_in).reshape(n_in, 1, n_in)
    return F.interpolate(eye, size=n_out, mode="linear", align_corners=False)[:, 0, :].T.contiguous()


class EmotionNetNano(nn.Module):
    def __init__(self, plan: dict, n_classes: int = 8, dropout: float = 0.1, upsample: int = 0):
        super().__init__()
        self.plan = plan
        # Optional in-graph upsampling of the 48x48 input (e.g. to 64x64, the FER+
        # paper's input size): the same weights see more spatial positions per stage,
        # at 1.8x the MACs; the input contract stays 1x48x48. Tried in session 12, no
        # gain on FER2013Test (docs/results.md), so the shipped networks do not use it.
        # Not a persistent buffer, so checkpoints trained at 48 load unchanged.
        self.upsample = upsample
        if upsample:
            self.register_buffer("up", bilinear_matrix(48, upsample), persistent=False)
        self.stem = nn.Sequential(conv_bn(1, plan["stem"]), nn.ReLU(inplace=True))
        r1, r2, r3 = plan.get("r1", 2), plan.get("r2", 2), plan.get("r3", 1)
        self.s1 = Stage(plan["stem"], plan["s1"], n_res=r1)  # 48 -> 24
        # mixer 1: dense 1x1 over the stage's 3x3 outputs
        self.m1 = nn.Sequential(
            nn.Conv2d((1 + r1) * plan["s1"], plan["m1"], 1, bias=False),
            nn.BatchNorm2d(plan["m1"]),
            nn.ReLU(inplace=True),
        )
        self.s2 = Stage(plan["m1"], plan["s2"], n_res=r2)  # 24 -> 12
        # mixer 2: dense 1x1 over stage 2's outputs plus mixer 1 (long-range)
        self.m2 = nn.Sequential(
            nn.Conv2d((1 + r2) * plan["s2"] + plan["m1"], plan["m2"], 1, bias=False),
            nn.BatchNorm2d(plan["m2"]),
            nn.ReLU(inplace=True),
        )
        self.s3 = Stage(plan["m2"], plan["s3"], n_res=r3)  # 12 -> 6
        feat = plan["s3"] + plan["m2"] + plan["m1"]
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(feat, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = self.up @ x @ self.up.T
        x = self.stem(x)
        m1 = self.m1(torch.cat(self.s1(x), 1))
        m1_down = F.avg_pool2d(m1, 2)
        m2 = self.m2(torch.cat(self.s2(m1) + [m1_down], 1))
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


PLANS = {"a": NANO_A, "b": NANO_B, "a2": NANO_A2, "b2": NANO_B2}


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.c1 = conv_bn(cin, cout, 3, stride)
        self.c2 = conv_bn(cout, cout, 3, 1)
        self.skip = conv_bn(cin, cout, 1, stride) if (stride != 1 or cin != cout) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.c2(F.relu(self.c1(x))) + self.skip(x))


class Teacher(nn.Module):
    """A ResNet-18-shaped distillation teacher for 48x48 faces (never shipped): four
    stages of two basic blocks at 48, 24, 12 and 6 pixels, widths w, 2w, 4w, 8w."""

    def __init__(self, n_classes: int = 8, width: int = 48, dropout: float = 0.2):
        super().__init__()
        w = width
        self.stem = nn.Sequential(conv_bn(1, w), nn.ReLU(inplace=True))
        layers, cin = [], w
        for i, cout in enumerate((w, 2 * w, 4 * w, 8 * w)):
            layers += [BasicBlock(cin, cout, 1 if i == 0 else 2), BasicBlock(cout, cout, 1)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.body(self.stem(x)).mean((2, 3))))


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
    for name, plan in PLANS.items():
        for n in (7, 8):
            m = EmotionNetNano(plan, n)
            print(f"{name} classes={n} params={count_params(m)} MMAC={count_macs(m)/1e6:.2f}")
    m = EmotionNetNano(NANO_B, 8, upsample=64)
    print(f"b upsample=64 classes=8 params={count_params(m)} MMAC={count_macs(m)/1e6:.2f}")
    t = Teacher(8)
    print(f"teacher params={count_params(t)} MMAC={count_macs(t)/1e6:.2f}")
