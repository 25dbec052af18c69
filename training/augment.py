"""Batched augmentation in torch: geometry like a detector's box jitter, plus camera
artefacts (blur, resolution loss, noise, gamma, low light, contrast, JPEG).

Input and output: float tensors (N, 1, 48, 48) in [0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def geometric(x: torch.Tensor, rot_deg: float, shift: float, zoom: float, flip: bool, g: torch.Generator) -> torch.Tensor:
    """Random rotation, shift (fraction of the crop), zoom and horizontal flip."""
    n, d = x.shape[0], x.device
    ang = (torch.rand(n, generator=g, device=d) * 2 - 1) * math.radians(rot_deg)
    # zoom > 1 shows more context (the face shrinks), like a looser detector box
    s = torch.exp((torch.rand(n, generator=g, device=d) * 2 - 1) * math.log(zoom))
    tx = (torch.rand(n, generator=g, device=d) * 2 - 1) * shift * 2
    ty = (torch.rand(n, generator=g, device=d) * 2 - 1) * shift * 2
    fl = torch.where(torch.rand(n, generator=g, device=d) < 0.5, -1.0, 1.0) if flip else torch.ones(n, device=d)
    cos, sin = torch.cos(ang) * s, torch.sin(ang) * s
    theta = torch.stack(
        [torch.stack([cos * fl, -sin, tx], 1), torch.stack([sin * fl, cos, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    r = 3
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t[None] ** 2) / (2 * sigma[:, None] ** 2))
    k = k / k.sum(1, keepdim=True)  # (n, 7)
    n = x.shape[0]
    xp = F.pad(x, (r, r, r, r), mode="replicate").transpose(0, 1)  # (1, n, h, w)
    y = F.conv2d(xp, k.view(n, 1, 1, -1), groups=n)
    y = F.conv2d(y, k.view(n, 1, -1, 1), groups=n)
    return y.transpose(0, 1)


# The JPEG standard's luminance quantisation table (ITU-T T.81, Annex K), quality 50.
JPEG_LUMA = torch.tensor(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=torch.float32,
)


def _dct_matrix(n: int = 8) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float32)
    d = torch.cos(math.pi * (2 * k[None] + 1) * k[:, None] / (2 * n)) * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d


def jpeg(x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """JPEG's lossy step on the gray crop: 8x8 block DCT, quantised with the standard
    luminance table scaled to each image's quality (1..100, libjpeg's scaling), inverse
    DCT, 8-bit rounding. Sides must be multiples of 8 (48x48 crops are)."""
    n, c, h, w = x.shape
    q = quality.clamp(1, 100)
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q)  # libjpeg jpeg_quality_scaling
    table = ((JPEG_LUMA.to(x.device)[None] * scale[:, None, None] + 50) // 100).clamp(1, 255)
    d = _dct_matrix().to(x.device)
    b = (x * 255 - 128).reshape(n, c, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)
    coef = d @ b @ d.T
    t = table.view(n, 1, 1, 1, 8, 8)
    coef = torch.round(coef / t) * t
    y = (d.T @ coef @ d).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)
    return ((y + 128).round().clamp(0, 255)) / 255


def camera(x: torch.Tensor, g: torch.Generator, p: float = 0.3) -> torch.Tensor:
    """Photometric and sensor artefacts of real cameras, each applied with probability p."""
    n, d = x.shape[0], x.device
    dev = lambda: torch.rand(n, 1, 1, 1, generator=g, device=d)  # noqa: E731
    on = lambda: (torch.rand(n, 1, 1, 1, generator=g, device=d) < p).float()  # noqa: E731
    # resolution loss: a small face upscaled by the crop
    m = on()
    if m.any():
        f = 20 + int(torch.randint(0, 20, (1,), generator=g, device=d))
        lo = F.interpolate(x, size=(f, f), mode="area")
        lo = F.interpolate(lo, size=x.shape[-2:], mode="bilinear", align_corners=False)
        x = m * lo + (1 - m) * x
    # defocus / motion blur
    m = on()
    if m.any():
        sigma = 0.3 + 0.7 * torch.rand(n, generator=g, device=d)
        x = m * _blur(x, sigma) + (1 - m) * x
    # gamma, exposure and contrast (low light included)
    gamma = torch.exp((dev() * 2 - 1) * math.log(1.5))
    x = x.clamp(1e-4, 1) ** gamma
    gain = 0.5 + 0.7 * dev()
    m = on()
    x = m * x * gain + (1 - m) * x
    c = 0.75 + 0.5 * dev()
    mean = x.mean((2, 3), keepdim=True)
    x = (x - mean) * c + mean
    # sensor noise, stronger in the dark
    m = on()
    sigma = 0.03 * dev()
    x = x + m * sigma * torch.randn(x.shape, generator=g, device=d)
    # 8-bit quantisation like a real frame
    x = (x.clamp(0, 1) * 255).round() / 255
    # JPEG compression of the crop, quality 15..90 (a streamed or messaged photo)
    m = on()
    if m.any():
        quality = 15 + 75 * torch.rand(n, generator=g, device=d)
        x = m * jpeg(x, quality) + (1 - m) * x
    return x


def normalise(x: torch.Tensor) -> torch.Tensor:
    """The models' input contract: (pixel/255 - 0.5) / 0.5."""
    return (x - 0.5) / 0.5


def mouth_swap(
    x: torch.Tensor,
    y: torch.Tensor,
    p: float,
    beta: float,
    keep: torch.Tensor,
    g: torch.Generator,
    donor: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Give a face another face's mouth, so the network reads the brows and eyes too.

    People talk: while they speak, the mouth opens, shows teeth and moves for reasons that
    have nothing to do with the emotion, and a network trained on still faces reads teeth
    as happiness and an open mouth as surprise. Here a share `p` of the batch gets the
    lower face (mouth and chin, rows below about 62 % of the crop, feathered, with the
    donor's brightness matched to the recipient's) of another face in the batch, and its
    target becomes (1 - beta) x its own + beta x the donor's. Faces whose own target puts
    half or more on the `keep` classes (happiness, contempt: emotions the mouth carries)
    are never recipients. Input: aligned crops (N, 1, S, S) in [0, 1] before geometry;
    soft targets (N, C). `donor` (N indices) fixes who gives whom a mouth; by default a
    random permutation of the batch.
    """
    n, _, h, w = x.shape
    d = x.device
    sel = (torch.rand(n, generator=g, device=d) < p) & (y[:, keep].sum(1) < 0.5)
    if not bool(sel.any()):
        return x, y
    if donor is None:
        donor = torch.randperm(n, generator=g, device=d)
    # the seam: a row between 58 % and 66 % of the height, feathered over 6 % of it;
    # the sides fade out so the cheeks stay the recipient's
    r0 = (0.58 + 0.08 * torch.rand(n, generator=g, device=d)) * h
    rows = torch.arange(h, device=d, dtype=x.dtype)[None, :]
    vert = torch.clamp((rows - r0[:, None]) / (0.06 * h) + 0.5, 0, 1)  # (n, h)
    cols = torch.arange(w, device=d, dtype=x.dtype)
    edge = torch.clamp(torch.minimum(cols - 0.12 * w, 0.88 * w - cols) / (0.08 * w), 0, 1)  # (w,)
    m = (vert[:, :, None] * edge[None, None, :])[:, None]  # (n, 1, h, w)
    src = x[donor]
    # match the donor region's mean and spread to the recipient's, so no seam says "pasted"
    wsum = m.sum((2, 3), keepdim=True).clamp_min(1e-6)
    mu_r = (x * m).sum((2, 3), keepdim=True) / wsum
    mu_d = (src * m).sum((2, 3), keepdim=True) / wsum
    sd_r = (((x - mu_r) ** 2 * m).sum((2, 3), keepdim=True) / wsum).sqrt()
    sd_d = (((src - mu_d) ** 2 * m).sum((2, 3), keepdim=True) / wsum).sqrt().clamp_min(1e-3)
    src = ((src - mu_d) * (sd_r / sd_d).clamp(0.5, 2.0) + mu_r).clamp(0, 1)
    s = sel.to(x.dtype)
    m = m * s[:, None, None, None]
    x = x * (1 - m) + src * m
    y = torch.where(sel[:, None], (1 - beta) * y + beta * y[donor], y)
    return x, y


def erase(
    x: torch.Tensor,
    p: float,
    g: torch.Generator,
    area: tuple[float, float] = (0.02, 0.2),
    aspect: tuple[float, float] = (0.3, 3.3),
) -> torch.Tensor:
    """Random erasing (Zhong et al., AAAI 2020): a share `p` of the faces gets one
    rectangle of random grey noise, covering `area` of the crop at an aspect ratio in
    `aspect` (log-uniform), anywhere in the crop.

    Why: a network that can lean on one cue (teeth for happiness, an open mouth for
    surprise, the brow for anger) reads an unfamiliar face by that cue alone; hiding a
    random part of each face makes it read the rest too (issue 18, session 32). Input
    (N, 1, S, S) in [0, 1].
    """
    n, _, h, w = x.shape
    d = x.device
    sel = torch.rand(n, generator=g, device=d) < p
    if not bool(sel.any()):
        return x
    a = (area[0] + (area[1] - area[0]) * torch.rand(n, generator=g, device=d)) * h * w
    lo, hi = torch.log(torch.tensor(aspect, device=d))
    r = torch.exp(lo + (hi - lo) * torch.rand(n, generator=g, device=d))
    eh = (a * r).sqrt().clamp(1, h)
    ew = (a / r).sqrt().clamp(1, w)
    y0 = torch.rand(n, generator=g, device=d) * (h - eh)
    x0 = torch.rand(n, generator=g, device=d) * (w - ew)
    rows = torch.arange(h, device=d, dtype=x.dtype)[None, :]
    cols = torch.arange(w, device=d, dtype=x.dtype)[None, :]
    inr = (rows >= y0[:, None]) & (rows < (y0 + eh)[:, None])  # (n, h)
    inc = (cols >= x0[:, None]) & (cols < (x0 + ew)[:, None])  # (n, w)
    m = (inr[:, :, None] & inc[:, None, :] & sel[:, None, None])[:, None]
    noise = torch.rand(x.shape, generator=g, device=d, dtype=x.dtype)
    return torch.where(m, noise, x)


def add_mixstyle(model: torch.nn.Module, layers: list[str], p: float, g: torch.Generator,
                 alpha: float = 0.1) -> None:
    """MixStyle (Zhou et al., ICLR 2021): in training, the channel means and spreads of
    the named early layers' feature maps (what a camera, light and skin change) are mixed
    with another face's in the batch, with probability `p` per batch; the content of
    each map is kept. A domain-generalisation method: the network learns to read the
    expression whatever the style (issue 18, session 32). Forward hooks only, so the
    network, its weights and its export are unchanged; inactive in eval mode.
    """
    beta = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha))

    def hook(module, inputs, x):
        if not module.training or float(torch.rand((), generator=g)) >= p:
            return x
        n = x.shape[0]
        mu = x.mean((2, 3), keepdim=True).detach()
        sig = (x.var((2, 3), keepdim=True) + 1e-6).sqrt().detach()
        lam = beta.sample((n, 1, 1, 1)).to(x.device)
        perm = torch.randperm(n, generator=g).to(x.device)
        mu_mix = lam * mu + (1 - lam) * mu[perm]
        sig_mix = lam * sig + (1 - lam) * sig[perm]
        return (x - mu) / sig * sig_mix + mu_mix

    for name in layers:
        model.get_submodule(name).register_forward_hook(hook)


MASK_ROW = 0.62  # where the lower face starts in the app's crop (src/speech.rs measures the mouth below it)


def mouth_mask(x: torch.Tensor, row: float | torch.Tensor = MASK_ROW) -> torch.Tensor:
    """Hide the lower face (mouth and chin) behind the crop's own mean grey.

    While a face talks, its mouth moves for the words, not the emotion: teeth read as
    happiness and a vowel as surprise. The idea (session 23, docs/results.md "Hiding
    the mouth of a talking face"): classify a talking face with this mask on, from the
    brows and eyes; `train.py --mouth-mask P` shows the network a share P of faces
    masked, their labels kept. Measured, not adopted in the app. Rows below `row` x
    height are replaced, feathered over 6 % of the height, with the side columns faded
    out (the cheeks stay). Input (N, 1, S, S) in [0, 1]; `row` may be a per-face tensor
    (N,) for training jitter.
    """
    n, _, h, w = x.shape
    r0 = torch.as_tensor(row, dtype=x.dtype, device=x.device).reshape(-1)[:, None] * h  # (n|1, 1)
    rows = torch.arange(h, device=x.device, dtype=x.dtype)[None, :] + 0.5
    vert = torch.clamp((rows - r0) / (0.06 * h) + 0.5, 0, 1)  # (n|1, h)
    cols = torch.arange(w, device=x.device, dtype=x.dtype) + 0.5
    edge = torch.clamp(torch.minimum(cols - 0.12 * w, 0.88 * w - cols) / (0.08 * w), 0, 1)
    m = (vert[:, :, None] * edge[None, None, :])[:, None]  # (n|1, 1, h, w)
    fill = x.mean((1, 2, 3), keepdim=True)
    return x * (1 - m) + fill * m
