//! Our extension to tract for the int8 classifier (issue 20): its convolutions (3×3
//! and 1×1) in integer arithmetic.
//!
//! After [`crate::qdq`] the QDQ int8 file runs as f32 convolutions over activations that
//! sit on a uint8 grid: every convolution's input comes out of a [`QdqRound`], and its
//! weights, dequantised once at load, sit on a per-channel int8 grid. tract's f32
//! matrix products over these small maps (24×24 to 6×6 pixels, 24 to 60 channels) were
//! 78 % of the network's time (`emocue bench --profile`), so the int8 file could not be
//! faster than the f32 one. [`QConv`] computes such a convolution as onnxruntime does:
//! the input's grid steps (`x / scale`, exact integers of at most 9 bits) times the
//! weights' int8 steps, summed exactly in 32-bit integers (AVX2 `vpmaddwd`: 16
//! multiply-adds per instruction, twice an f32 FMA's 8), then one multiply by
//! `input scale × weight scale` per output channel and the bias. On x86_64 with AVX2
//! only ([`fast`]); elsewhere tract's own kernels stay.
//!
//! Where the input's steps are known to be 0..=255 (a ReLU's output on a zero-point-0
//! grid: every convolution of the classifier but the stem), the steps go in as bytes,
//! four channels to a 32-bit lane, and `vpmaddubsw` multiplies 32 byte pairs at once
//! ([`Bytes`]), as onnxruntime's u8×s8 kernels do. Its 16-bit pair sums can saturate
//! where onnxruntime's then silently do; here each call first checks the input
//! channels' largest steps against the weights, and runs the 16-bit form where a sum
//! could leave 16 bits, so the result stays the exact sum either way.
//!
//! Results: the exact sum of the products of the dequantised values, rounded once to
//! f32; tract's f32 product rounds at every step, so outputs differ from its own by
//! float rounding only (`tests`), and onnxruntime's integer kernels compute the exact
//! sum too. [`rewrite`] applies it to a convolution only when its input comes from a
//! [`QdqRound`] and every output channel's weights sit on an int8 grid (checked to
//! 1e-6 of the channel's largest weight); f32 and w8 graphs have no such convolution
//! and are left as they are.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::nn::DataFormat;

use crate::cnn_ext::{const_f32, copy_short, nchw1};
use crate::qdq::{QdqRound, ROUND_MAGIC};

/// Output pixels per register block of the product (two AVX2 registers of 8 sums).
const PX: usize = 16;
/// Output channels per register block.
const CO: usize = 4;
/// The deepest patch (input channels × taps) taken; deeper convolutions stay tract's
/// (the classifier's deepest is 60 × 9 = 540). It also bounds an integer sum:
/// 4,096 × 255 × 128 < 2^31.
pub const MAX_DEPTH: usize = 4096;

/// A convolution (NCHW or CHW f32, batch 1, group 1, no dilation) whose input sits on
/// the grid `n · scale` (`|n| ≤ 255`) and whose weights sit on a per-channel int8 grid,
/// computed in integers (see the module docs).
///
/// No patch matrix: the input's steps go into zero-padded planes, split by stride
/// phase (so a stride-2 tap reads every pixel of one phase) and with channels in
/// pairs (`vpmaddwd` multiplies and adds two neighbours). Output pixel `(oy, ox)` is
/// then computed at position `q = oy · WQ + ox` of the phase width `WQ`, and each tap
/// reads its phase plane at `q` plus a fixed offset: a product over contiguous runs.
/// Positions with `ox ≥ OW` are computed and dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct QConv {
    /// Input channels, height, width.
    pub input: (usize, usize, usize),
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Strides (rows, columns).
    pub stride: (usize, usize),
    /// Padding before (top, left).
    pub pad: (usize, usize),
    /// Output channels, height, width.
    pub output: (usize, usize, usize),
    /// Output shape as the graph holds it (`[1, O, OH, OW]` or `[O, OH, OW]`).
    pub out_shape: TVec<usize>,
    /// `1 / scale` of the input grid.
    pub inv_in_scale: f32,
    /// Weight steps `[O', C' · KH · KW, CO, 2]`: blocks of [`CO`] output channels, then
    /// (channel pair, tap), then the pair; missing channels are zero.
    pub weights: Vec<i16>,
    /// Per output channel: input scale × weight scale (padded to a multiple of [`CO`]).
    pub scale: Vec<f32>,
    /// Per output channel bias (padded likewise).
    pub bias: Vec<f32>,
    /// Where the planes put things (from the shapes above).
    layout: Layout,
    /// Start of each (channel pair, tap)'s run in the planes (from the layout).
    offsets: Vec<usize>,
    /// The byte form, where the input's steps are 0..=255 ([`QConv::with_bytes`]).
    bytes: Option<Bytes>,
    /// The [`QdqRound`] that took the output, applied as it is written
    /// ([`QConv::with_round`]): one pass over the output instead of two.
    round: Option<QdqRound>,
    /// A residual block's `Add` of a second input and the [`QdqRound`] after it, taken
    /// in ([`fold_residuals`]): `residual(round(conv) + input 2)`, once the output is
    /// complete.
    residual: Option<QdqRound>,
    /// Where the input is a channel concatenation and the [`QdqRound`] after it, taken
    /// in ([`fold_concats`]): the parts' channel counts and that round. The parts are
    /// read where they are and rounded as they are packed, instead of copied into one
    /// tensor and rounded in a pass of their own.
    concat: Option<(Vec<usize>, QdqRound)>,
}

/// A [`QConv`]'s input as `eval` has it: one tensor, or the parts of a concatenation
/// with the round after it.
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // `hw` and `channel`: the byte form's
struct Input<'a> {
    parts: &'a [&'a [f32]],
    /// Pixels per channel.
    hw: usize,
    round: Option<&'a QdqRound>,
}

impl<'a> Input<'a> {
    fn one(x: &'a [&'a [f32]], hw: usize) -> Self {
        Input {
            parts: x,
            hw,
            round: None,
        }
    }

    /// Channel `c` as it is stored (before the round).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn channel(&self, mut c: usize) -> &'a [f32] {
        for p in self.parts {
            let n = p.len() / self.hw.max(1);
            if c < n {
                return &p[c * self.hw..][..self.hw];
            }
            c -= n;
        }
        unreachable!("a channel past the input (eval checked the sizes)")
    }

    /// The input as one rounded tensor: the tensor itself where it is one, else the
    /// parts joined and rounded into `buf` (the 16-bit and portable forms read it so).
    fn joined<'b>(&self, buf: &'b mut Vec<f32>) -> &'b [f32]
    where
        'a: 'b,
    {
        if let ([x], None) = (self.parts, self.round) {
            return x;
        }
        buf.clear();
        for p in self.parts {
            buf.extend_from_slice(p);
        }
        if let Some(r) = self.round {
            r.run(buf);
        }
        buf
    }
}

/// [`QConv`] over input steps of 0..=255 held as bytes, four channels (a quad) to a
/// 32-bit lane: `vpmaddubsw` multiplies the bytes by the weights' int8 steps and adds
/// neighbours into 16-bit sums, `vpmaddwd` by ones adds those pairs into 32 bits. That
/// is 32 multiply-adds for two instructions where `vpmaddwd` alone gives 16, and the
/// planes and weights are half the size.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // the kernel is AVX2's
struct Bytes {
    /// Weight steps `[O', quads · taps, CO, 4]`; missing channels are zero.
    weights: Vec<i8>,
    /// Start of each (quad, tap)'s run in the byte planes.
    offsets: Vec<usize>,
    /// For each channel pair summed by `vpmaddubsw` (channels 2p and 2p + 1), the
    /// same-sign parts (|w_a|, |w_b|) of its weights over every output channel and tap
    /// that no other such part dominates: the pair's 16-bit sum stays exact while
    /// `max_a · |w_a| + max_b · |w_b| ≤ 32767` for each (`max` the channels' largest
    /// steps in this call).
    frontier: Vec<(u16, u16)>,
    /// Where pair p's points start in `frontier` (one more entry than pairs).
    frontier_at: Vec<usize>,
}

/// Working memory of [`QConv::run`], kept between calls: a fresh allocation this size
/// (up to 80 KB) can be fresh pages from the kernel each call.
#[derive(Debug, Default)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // the byte form is AVX2's
pub struct Scratch {
    /// The input's steps in phase planes (channel pairs or quads per element).
    planes: Vec<u32>,
    /// Each input channel's largest step, for the byte form's check.
    maxima: Vec<u8>,
    /// One channel quad of the byte form, packed before it goes into the planes.
    packed: Vec<u32>,
    /// A concatenated input joined, for the forms that read it whole.
    joined: Vec<f32>,
}

impl Eq for QConv {}

impl std::hash::Hash for QConv {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.input, self.kernel, self.stride, self.pad, self.output).hash(h);
        self.weights.hash(h);
        self.bytes.is_some().hash(h);
        self.concat.as_ref().map(|c| &c.0).hash(h);
        for r in [
            &self.round,
            &self.residual,
            &self.concat.as_ref().map(|c| c.1.clone()),
        ] {
            r.as_ref()
                .map(|r| [r.inv_scale, r.lo, r.hi, r.shift, r.scale].map(f32::to_bits))
                .hash(h);
        }
        self.scale
            .iter()
            .chain(&self.bias)
            .chain([&self.inv_in_scale])
            .for_each(|v| v.to_bits().hash(h));
    }
}

/// The int8 steps and scale of one output channel's weights, if they sit on a grid
/// `q · s` with `|q| ≤ 127` (to 1e-6 of the largest): the finest such grid, found from
/// the largest weight (`s` = largest / m for m = 127, 126, …).
pub fn int8_grid(w: &[f32]) -> Option<(Vec<i16>, f32)> {
    let a = w.iter().fold(0f32, |m, v| m.max(v.abs()));
    if !a.is_finite() {
        return None;
    }
    if a == 0.0 {
        return Some((vec![0; w.len()], 0.0));
    }
    let tol = a * 1e-6;
    (1..=127).rev().find_map(|m| {
        let s = a / m as f32;
        let q: Vec<i16> = w.iter().map(|v| (v / s).round() as i16).collect();
        let fits = q
            .iter()
            .zip(w)
            .all(|(&q, &v)| q.abs() <= 127 && (q as f32 * s - v).abs() <= tol);
        fits.then_some((q, s))
    })
}

/// Where [`QConv`]'s planes put things, for one input size.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    /// Phase plane height and row stride (`WQ`).
    hq: usize,
    wq: usize,
    /// Length of one phase plane in pixels, slack included so that every computed
    /// position's taps stay inside it.
    len: usize,
    /// Output positions computed, `OH · WQ` rounded up to [`PX`].
    q16: usize,
    /// For each padded input row: where it starts in its row phase's plane of the
    /// first plane group (`(py % SH) · SW · len + (py / SH) · WQ`).
    row_at: Vec<usize>,
    /// For each column phase: the first pixel in it, how many, and the plane column
    /// they start at (`x0`, `n`, `(x0 + PL) / SW`). Computed once: the divisions
    /// were an eighth of filling the planes.
    cols: Vec<(usize, usize, usize)>,
}

impl Layout {
    /// The layout for an output `(O, OH, OW)` (OH, OW ≥ 1), kernel, stride, input width
    /// and left padding.
    ///
    /// A plane row is no wider than it must be: the zero columns after one row's pixels
    /// are also the padding before the next row's, so a 3×3 convolution with padding 1
    /// computes `OW + 1` positions a row, not `OW + 2` (positions past `OW` are dropped,
    /// and are 14 % of the work at 12 pixels wide, 8 % with the shared column).
    fn new(
        (_, oh, ow): (usize, usize, usize),
        (kh, kw): (usize, usize),
        (sh, sw): (usize, usize),
        (w, pl): (usize, usize),
    ) -> Self {
        // The zero-padded input every tap reads from, then split into phases.
        let (hp, wp) = ((oh - 1) * sh + kh, (ow - 1) * sw + kw);
        let hq = hp.div_ceil(sh);
        // The padded columns that hold pixels.
        let (lo, hi) = (pl, (pl + w).min(wp));
        let mut wq = ow;
        for ph in 0..sw {
            // In column phase `ph`: the pixels' plane columns [a, b) and the columns a
            // kept output's taps read, [0, reads).
            let first = lo + (ph + sw - lo % sw) % sw;
            let reads = (ph..kw).step_by(sw).map(|c| ow + c / sw).max().unwrap_or(0);
            if first < hi {
                let (a, b) = (first / sw, (hi - 1 - (hi - 1 + sw - ph) % sw) / sw + 1);
                // A row's reads end before the next row's pixels start, and start
                // after the previous row's end.
                wq = wq.max(b).max(reads.saturating_sub(a));
            }
        }
        let q16 = (oh * wq).next_multiple_of(PX);
        let max_offset = ((kh - 1) / sh) * wq + (kw - 1) / sw;
        let len = (hq * wq).max(q16 + max_offset);
        let row_at = (0..hq * sh)
            .map(|py| (py % sh) * sw * len + (py / sh) * wq)
            .collect();
        let cols = (0..sw)
            .map(|ph| {
                let x0 = (ph + sw - pl % sw) % sw;
                let n = wp.saturating_sub(pl).min(w).saturating_sub(x0).div_ceil(sw);
                (x0, n, (x0 + pl) / sw)
            })
            .collect();
        Layout {
            hq,
            wq,
            len,
            q16,
            row_at,
            cols,
        }
    }
}

impl QConv {
    /// The op for an OIHW kernel `[O, C, KH, KW]` of f32 weights on per-channel int8
    /// grids, or `None` if a channel's weights are not on one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        input: (usize, usize, usize),
        kernel: (usize, usize),
        stride: (usize, usize),
        pad: (usize, usize),
        output: (usize, usize, usize),
        out_shape: TVec<usize>,
        in_scale: f32,
        weights: &[f32],
        bias: &[f32],
    ) -> Option<Self> {
        let (c, (kh, kw), o) = (input.0, kernel, output.0);
        let taps = kh * kw;
        let depth = c * taps;
        if depth == 0
            || depth > MAX_DEPTH
            || stride.0 == 0
            || stride.1 == 0
            || output.1 == 0
            || output.2 == 0
            || weights.len() != o * depth
            || bias.len() != o
            || out_shape.iter().product::<usize>() != o * output.1 * output.2
            || !(in_scale.is_finite() && in_scale > 0.0)
        {
            return None;
        }
        let pairs = c.div_ceil(2) * taps;
        let blocks = o.div_ceil(CO);
        let mut packed = vec![0i16; blocks * pairs * CO * 2];
        let mut scale = vec![0f32; blocks * CO];
        let mut b = vec![0f32; blocks * CO];
        for oc in 0..o {
            let (q, s) = int8_grid(&weights[oc * depth..][..depth])?;
            for (k, q) in q.into_iter().enumerate() {
                let (ic, tap) = (k / taps, k % taps);
                let pair = (ic / 2) * taps + tap;
                packed[(((oc / CO) * pairs + pair) * CO + oc % CO) * 2 + ic % 2] = q;
            }
            scale[oc] = in_scale * s;
            b[oc] = bias[oc];
        }
        let layout = Layout::new(output, kernel, stride, (input.2, pad.1));
        let offsets = (0..c.div_ceil(2))
            .flat_map(|cp| {
                (0..taps).map(move |t| {
                    let (r, c) = (t / kw, t % kw);
                    let phase = (cp * stride.0 + r % stride.0) * stride.1 + c % stride.1;
                    phase * layout.len + (r / stride.0) * layout.wq + c / stride.1
                })
            })
            .collect();
        Some(QConv {
            input,
            kernel,
            stride,
            pad,
            output,
            out_shape,
            inv_in_scale: 1.0 / in_scale,
            weights: packed,
            scale,
            bias: b,
            layout,
            offsets,
            bytes: None,
            round: None,
            residual: None,
            concat: None,
        })
    }

    /// Applies `round` to each output as it is written, in place of a [`QdqRound`]
    /// op that would read the whole output again.
    pub fn with_round(mut self, round: QdqRound) -> Self {
        self.round = Some(round);
        self
    }

    /// Adds the byte form ([`Bytes`]): for a caller that knows every input step is
    /// 0..=255 (a larger or negative one would be clamped into that range there).
    pub fn with_bytes(mut self) -> Self {
        let (c, (kh, kw), o) = (self.input.0, self.kernel, self.output.0);
        let (taps, quads) = (kh * kw, c.div_ceil(4));
        let pairs16 = c.div_ceil(2) * taps;
        let blocks = o.div_ceil(CO);
        // The 16-bit form's steps, back out of its packing: step(oc, ic, tap).
        let step = |oc: usize, ic: usize, tap: usize| -> i16 {
            if ic >= c || oc >= o {
                return 0;
            }
            self.weights
                [(((oc / CO) * pairs16 + (ic / 2) * taps + tap) * CO + oc % CO) * 2 + ic % 2]
        };
        let mut weights = vec![0i8; blocks * quads * taps * CO * 4];
        for oc in 0..blocks * CO {
            for ic in 0..quads * 4 {
                for tap in 0..taps {
                    let k = (ic / 4) * taps + tap;
                    // |step| ≤ 127 (int8_grid), so the cast is exact.
                    weights[(((oc / CO) * quads * taps + k) * CO + oc % CO) * 4 + ic % 4] =
                        step(oc, ic, tap) as i8;
                }
            }
        }
        let (mut frontier, mut frontier_at) = (Vec::new(), vec![0]);
        for p in 0..quads * 2 {
            let mut pts: Vec<(u16, u16)> = (0..o)
                .flat_map(|oc| (0..taps).map(move |tap| (oc, tap)))
                .flat_map(|(oc, tap)| {
                    let (a, b) = (step(oc, 2 * p, tap), step(oc, 2 * p + 1, tap));
                    let part =
                        |v: i16, pos: bool| if (v > 0) == pos { v.unsigned_abs() } else { 0 };
                    [
                        (part(a, true), part(b, true)),
                        (part(a, false), part(b, false)),
                    ]
                })
                .collect();
            // Keep the points no other one dominates: by |w_a| descending, each kept
            // point has a larger |w_b| than every one before it.
            pts.sort_unstable_by(|x, y| y.cmp(x));
            let mut best_b = None;
            for (a, b) in pts {
                if (a, b) != (0, 0) && best_b.is_none_or(|m| b > m) {
                    frontier.push((a, b));
                    best_b = Some(b);
                }
            }
            frontier_at.push(frontier.len());
        }
        let lay = &self.layout;
        let (sh, sw) = self.stride;
        let offsets = (0..quads)
            .flat_map(|q| {
                (0..taps).map(move |t| {
                    let (r, c) = (t / kw, t % kw);
                    let phase = (q * sh + r % sh) * sw + c % sw;
                    phase * lay.len + (r / sh) * lay.wq + c / sw
                })
            })
            .collect();
        self.bytes = Some(Bytes {
            weights,
            offsets,
            frontier,
            frontier_at,
        });
        self
    }

    /// Whether the byte form is there (the input's steps are known to be 0..=255).
    pub fn has_bytes(&self) -> bool {
        self.bytes.is_some()
    }

    /// Fills `out` (`[O, OH, OW]`) from `x` (`[C, H, W]`).
    pub fn run(&self, x: &[f32], out: &mut [f32], scratch: &mut Scratch) {
        let (_, h, w) = self.input;
        self.run_on(Input::one(&[x], h * w), out, scratch, vnni());
    }

    /// [`QConv::run`], with the VNNI kernel only where `vnni` says (the tests run both).
    fn run_on(&self, x: Input<'_>, out: &mut [f32], scratch: &mut Scratch, vnni: bool) {
        #[cfg(target_arch = "x86_64")]
        if let (true, Some(bytes)) = (vnni, &self.bytes) {
            // SAFETY: `vnni` is only true where the CPU has what `run_vnni` is compiled
            // for ([`vnni`]).
            unsafe { self.run_vnni(x, out, scratch, bytes) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the features `run_avx2` is compiled for.
            unsafe { self.run_avx2(x, out, scratch) };
            return;
        }
        let _ = vnni;
        let Scratch { planes, joined, .. } = scratch;
        self.run_with::<false>(x.joined(joined), out, planes);
    }

    /// The byte form with AVX-512 VNNI's `vpdpbusd`: four byte products and their sum
    /// added into each 32-bit lane in one instruction, where AVX2 takes three
    /// (`vpmaddubsw`, `vpmaddwd`, `vpaddd`). Its sums are 32 bits all the way, so they
    /// are exact for any steps: no 16-bit form to fall back to.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,avx512vnni,avx512vl")]
    unsafe fn run_vnni(&self, x: Input<'_>, out: &mut [f32], scratch: &mut Scratch, bytes: &Bytes) {
        // SAFETY: this function's CPU has AVX2. Whether 16-bit sums would hold does not
        // matter here.
        let _ = unsafe { self.fill_bytes(x, scratch, bytes) };
        self.finish_bytes(
            out,
            &scratch.planes,
            bytes,
            |w, planes, offsets, q0, acc| {
                // SAFETY: this function's CPU has AVX-512 VNNI and VL; `finish_bytes`
                // checked that every run read is inside `planes`.
                unsafe { block_bytes_vnni(w, planes, offsets, q0, acc) }
            },
        );
    }

    /// The byte form's product over the filled `planes` with `block` (one of the byte
    /// kernels, called only on runs it has checked are inside `planes`), written to
    /// `out`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn finish_bytes(
        &self,
        out: &mut [f32],
        planes: &[u32],
        bytes: &Bytes,
        block: impl Fn(&[i8], &[u32], &[usize], usize, &mut [[i32; PX]; CO]),
    ) {
        let taps = bytes.offsets.len();
        let last = bytes
            .offsets
            .iter()
            .max()
            .map_or(0, |&o| o + self.layout.q16);
        assert!(last <= planes.len() && bytes.weights.len().is_multiple_of(taps * CO * 4));
        let size = taps * CO * 4;
        self.finish::<true>(out, |blk, q0, acc| {
            block(
                &bytes.weights[blk * size..][..size],
                planes,
                &bytes.offsets,
                q0,
                acc,
            )
        });
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&self, x: Input<'_>, out: &mut [f32], scratch: &mut Scratch) {
        if let Some(bytes) = &self.bytes {
            // SAFETY: this function's CPU has AVX2.
            if unsafe { self.fill_bytes(x, scratch, bytes) } {
                self.finish_bytes(
                    out,
                    &scratch.planes,
                    bytes,
                    |w, planes, offsets, q0, acc| {
                        // SAFETY: AVX2 as above; `finish_bytes` checked that every run read
                        // is inside `planes`.
                        unsafe { block_bytes_avx2(w, planes, offsets, q0, acc) }
                    },
                );
                return;
            }
        }
        let Scratch { planes, joined, .. } = scratch;
        self.run_with::<true>(x.joined(joined), out, planes);
    }

    #[inline(always)]
    fn run_with<const AVX2: bool>(&self, x: &[f32], out: &mut [f32], planes: &mut Vec<u32>) {
        let (lay, offsets) = (&self.layout, &self.offsets);
        self.fill_planes::<AVX2>(x, planes, lay);
        let pairs = offsets.len();
        // Every run `block` reads (PX pairs at offset + q0) stays inside `planes`.
        let last = offsets.iter().max().map_or(0, |&o| o + lay.q16);
        assert!(last <= planes.len() && self.weights.len().is_multiple_of(pairs * CO * 2));
        let (planes, size) = (&planes[..], pairs * CO * 2);
        self.finish::<AVX2>(out, |blk, q0, acc| {
            block::<AVX2>(
                &self.weights[blk * size..][..size],
                planes,
                offsets,
                q0,
                acc,
            )
        });
    }

    /// Runs `block(blk, q0, acc)` for every block `blk` of [`CO`] output channels and
    /// position run `q0`, and writes the sums, scaled and biased, to `out`.
    #[inline(always)]
    fn finish<const AVX2: bool>(
        &self,
        out: &mut [f32],
        mut block: impl FnMut(usize, usize, &mut [[i32; PX]; CO]),
    ) {
        let lay = &self.layout;
        let (o, oh, ow) = self.output;
        let mut acc = [[0i32; PX]; CO];
        let mut vals = [[0f32; PX]; CO];
        for (blk, (scale, bias)) in self
            .scale
            .chunks_exact(CO)
            .zip(self.bias.chunks_exact(CO))
            .enumerate()
        {
            let outs = CO.min(o - blk * CO);
            // Output (oy, ox) of position q0; positions with ox ≥ OW are dropped.
            let (mut oy, mut ox) = (0, 0);
            for q0 in (0..lay.q16).step_by(PX) {
                block(blk, q0, &mut acc);
                #[cfg(target_arch = "x86_64")]
                if AVX2 {
                    // SAFETY: AVX2 is only true inside `run_avx2`, whose CPU has it.
                    unsafe { finish_avx2(&acc, scale, bias, self.round.as_ref(), &mut vals) };
                }
                if !AVX2 || cfg!(not(target_arch = "x86_64")) {
                    for ((v, a), (&s, &b)) in vals.iter_mut().zip(&acc).zip(scale.iter().zip(bias))
                    {
                        for (v, &a) in v.iter_mut().zip(a) {
                            let y = a as f32 * s + b;
                            *v = self.round.as_ref().map_or(y, |r| r.apply(y));
                        }
                    }
                }
                let (mut y, mut x, mut i) = (oy, ox, 0);
                while i < PX && y < oh {
                    let n = (PX - i).min(lay.wq - x);
                    let keep = n.min(ow.saturating_sub(x));
                    for (j, v) in vals.iter().enumerate().take(outs) {
                        copy_short(
                            &mut out[((blk * CO + j) * oh + y) * ow + x.min(ow)..][..keep],
                            &v[i..i + keep],
                        );
                    }
                    i += n;
                    x += n;
                    if x == lay.wq {
                        (x, y) = (0, y + 1);
                    }
                }
                ox += PX;
                while ox >= lay.wq {
                    (ox, oy) = (ox - lay.wq, oy + 1);
                }
            }
        }
    }

    /// The byte form's planes (`[C/4, SH, SW, len]`, each element a channel quad, one
    /// byte per channel) and each channel's largest step; false where a 16-bit pair
    /// sum of this input could saturate (the AVX2 kernel must not run then).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn fill_bytes(&self, x: Input<'_>, scratch: &mut Scratch, bytes: &Bytes) -> bool {
        let (c, h, w) = self.input;
        let hw = h * w;
        let lay = &self.layout;
        let (sh, sw) = self.stride;
        let quads = c.div_ceil(4);
        let Scratch {
            planes,
            maxima,
            packed,
            ..
        } = scratch;
        planes.clear();
        planes.resize(quads * sh * sw * lay.len, 0);
        maxima.clear();
        maxima.resize(quads * 4, 0);
        // Without padding or stride the plane of a quad is its packed input as it is.
        let direct = (sh, sw, self.pad, lay.wq) == (1, 1, (0, 0), w) && lay.len >= hw;
        packed.clear();
        packed.resize(if direct { 0 } else { hw }, 0);
        for q in 0..quads {
            // A missing channel of the last quad reads channel 4q with a scale of 0.
            let mut rows = [x.channel(4 * q); 4];
            let mut inv = [self.inv_in_scale; 4];
            for k in 1..4 {
                if 4 * q + k < c {
                    rows[k] = x.channel(4 * q + k);
                } else {
                    inv[k] = 0.0;
                }
            }
            let dst = if direct {
                &mut planes[q * lay.len..][..hw]
            } else {
                &mut packed[..]
            };
            // SAFETY: this function's CPU has AVX2.
            let (done, mut most) = unsafe { pack_bytes_avx2(dst, rows, inv, x.round) };
            for i in done..hw {
                let mut v = 0u32;
                for k in 0..4 {
                    let y = x.round.map_or(rows[k][i], |r| r.apply(rows[k][i]));
                    let t = (y * inv[k]).clamp(0.0, 255.0);
                    v |= (((t + ROUND_MAGIC) - ROUND_MAGIC) as u32) << (8 * k);
                }
                dst[i] = v;
                most = max_bytes(most, v);
            }
            let rows = if direct {
                0
            } else {
                h.min((lay.hq * sh).saturating_sub(self.pad.0))
            };
            for y in 0..rows {
                self.scatter_row(planes, &packed[y * w..][..w], q, y + self.pad.0);
            }
            maxima[4 * q..][..4].copy_from_slice(&most.to_le_bytes());
        }
        // Every pair's 16-bit sum must stay exact for the largest steps seen.
        (0..quads * 2).all(|p| {
            let (ma, mb) = (u32::from(maxima[2 * p]), u32::from(maxima[2 * p + 1]));
            bytes.frontier[bytes.frontier_at[p]..bytes.frontier_at[p + 1]]
                .iter()
                .all(|&(a, b)| ma * u32::from(a) + mb * u32::from(b) <= i16::MAX as u32)
        })
    }

    /// Puts one packed input row (`py` in padded coordinates) of plane group `g` (a
    /// channel pair or quad) into its phase planes: the row's pixels of column phase
    /// `ph` are every `sw`-th from `x0`, consecutive in that phase's plane from column
    /// `(x0 + pl) / sw`.
    #[inline(always)]
    fn scatter_row(&self, planes: &mut [u32], row: &[u32], g: usize, py: usize) {
        let lay = &self.layout;
        let (sh, sw) = self.stride;
        let group = g * sh * sw * lay.len + lay.row_at[py];
        for (ph, &(x0, n, col)) in lay.cols.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let dst = &mut planes[group + ph * lay.len + col..][..n];
            if sw == 1 {
                copy_short(dst, &row[x0..][..n]);
            } else {
                for (d, &v) in dst.iter_mut().zip(row[x0..].iter().step_by(sw)) {
                    *d = v;
                }
            }
        }
    }

    /// The input's grid steps in the phase planes of `lay` (`[C', SH, SW, len]`, each
    /// element a channel pair: the even channel's step in the low 16 bits, the odd
    /// one's in the high 16), zero where the padding is.
    #[inline(always)]
    fn fill_planes<const AVX2: bool>(&self, x: &[f32], planes: &mut Vec<u32>, lay: &Layout) {
        let (c, h, w) = self.input;
        let (sh, sw) = self.stride;
        let pt = self.pad.0;
        let hp = lay.hq * sh;
        planes.clear();
        planes.resize(c.div_ceil(2) * sh * sw * lay.len, 0);
        let inv = self.inv_in_scale;
        let step = |v: f32| {
            // On the grid by construction; clamped so a stray value cannot wrap.
            (((v * inv).clamp(-32767.0, 32767.0) + ROUND_MAGIC) - ROUND_MAGIC) as i32
        };
        let pack = |a: f32, b: f32| (step(a) as u32 & 0xffff) | ((step(b) as u32) << 16);
        let zeros = vec![0f32; w];
        let mut row = vec![0u32; w];
        for (cp, pair) in x.chunks(2 * h * w).enumerate() {
            let (a, b) = pair.split_at(h * w);
            for y in 0..h {
                let py = y + pt;
                if py >= hp {
                    break;
                }
                let ra = &a[y * w..][..w];
                // An odd last channel pairs with zeros.
                let rb = if b.is_empty() {
                    &zeros[..]
                } else {
                    &b[y * w..][..w]
                };
                // The row's steps, packed in channel pairs.
                #[cfg(target_arch = "x86_64")]
                let done = if AVX2 {
                    // SAFETY: AVX2 is only true inside `run_avx2`, whose CPU has it.
                    unsafe { pack_avx2(&mut row, ra, rb, inv) }
                } else {
                    0
                };
                #[cfg(not(target_arch = "x86_64"))]
                let done = 0;
                for ((d, &va), &vb) in row[done..].iter_mut().zip(&ra[done..]).zip(&rb[done..]) {
                    *d = pack(va, vb);
                }
                self.scatter_row(planes, &row, cp, py);
            }
        }
    }
}

/// [`QConv::fill_planes`]'s packing of two rows, 8 pixels at a time: `dst[i]` = the
/// grid steps of `a[i]` (low 16 bits) and `b[i]` (high), rounded half to even and
/// clamped to ±32767 as the scalar code does (NaN gives 0 in both). Returns how many
/// it wrote (a multiple of 8; the caller does the rest).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn pack_avx2(dst: &mut [u32], a: &[f32], b: &[f32], inv: f32) -> usize {
    use std::arch::x86_64::*;
    let n = dst.len().min(a.len()).min(b.len()) / 8 * 8;
    // SAFETY (whole body): every load and store is of 8 elements at i < n, within
    // all three slices.
    unsafe {
        let (inv, hi, lo) = (
            _mm256_set1_ps(inv),
            _mm256_set1_ps(32767.0),
            _mm256_set1_ps(-32767.0),
        );
        // min/max return their second operand when one is NaN: NaN stays NaN and
        // converts to 0x8000_0000, whose low 16 bits are 0.
        let step = |p: *const f32| {
            let v = _mm256_mul_ps(_mm256_loadu_ps(p), inv);
            _mm256_cvtps_epi32(_mm256_max_ps(lo, _mm256_min_ps(hi, v)))
        };
        let mask = _mm256_set1_epi32(0xffff);
        for i in (0..n).step_by(8) {
            let (sa, sb) = (step(a.as_ptr().add(i)), step(b.as_ptr().add(i)));
            let v = _mm256_or_si256(_mm256_and_si256(sa, mask), _mm256_slli_epi32(sb, 16));
            _mm256_storeu_si256(dst.as_mut_ptr().add(i) as *mut __m256i, v);
        }
    }
    n
}

/// One [`CO`]×[`PX`] block of integer sums into `acc`: weight block `w` (`[pairs, CO,
/// 2]`) times the runs of `planes` at `offsets[k] + q0`, [`PX`] pairs each.
#[inline(always)]
fn block<const AVX2: bool>(
    w: &[i16],
    planes: &[u32],
    offsets: &[usize],
    q0: usize,
    acc: &mut [[i32; PX]; CO],
) {
    debug_assert!(w.len() == offsets.len() * CO * 2);
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        // SAFETY: AVX2 is only true inside `run_avx2`, whose CPU has it; `run_with`,
        // the only caller, asserted that every run read is inside `planes`, and `w`
        // is one block of its weights.
        unsafe { block_avx2(w, planes, offsets, q0, acc) };
        return;
    }
    *acc = [[0; PX]; CO];
    for (k, &off) in offsets.iter().enumerate() {
        let xs = &planes[off + q0..][..PX];
        let ws = &w[k * CO * 2..][..CO * 2];
        for (a, wj) in acc.iter_mut().zip(ws.chunks_exact(2)) {
            for (a, &x) in a.iter_mut().zip(xs) {
                let (lo, hi) = (x as u16 as i16, (x >> 16) as u16 as i16);
                *a += lo as i32 * wj[0] as i32 + hi as i32 * wj[1] as i32;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn block_avx2(
    w: &[i16],
    planes: &[u32],
    offsets: &[usize],
    q0: usize,
    acc: &mut [[i32; PX]; CO],
) {
    use std::arch::x86_64::*;
    const _: () = assert!(PX == 16 && CO == 4);
    // SAFETY (whole body): the caller checked that each run of 16 pairs at
    // offsets[k] + q0 is inside `planes`; `w` holds offsets.len() · 4 pairs.
    unsafe {
        let z = _mm256_setzero_si256();
        let mut a = [[z; 2]; CO];
        let base = planes.as_ptr().add(q0);
        let wp = w.as_ptr() as *const i32;
        for (k, &off) in offsets.iter().enumerate() {
            let p = base.add(off) as *const __m256i;
            let x0 = _mm256_loadu_si256(p);
            let x1 = _mm256_loadu_si256(p.add(1));
            for (j, a) in a.iter_mut().enumerate() {
                let wj = _mm256_set1_epi32(wp.add(k * CO + j).read_unaligned());
                a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(x0, wj));
                a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(x1, wj));
            }
        }
        for (o, a) in acc.iter_mut().zip(&a) {
            _mm256_storeu_si256(o.as_mut_ptr() as *mut __m256i, a[0]);
            _mm256_storeu_si256(o.as_mut_ptr().add(8) as *mut __m256i, a[1]);
        }
    }
}

/// [`QConv::finish`]'s conversion of one block of sums, 8 at a time: `vals[j][i] =
/// round(acc[j][i] · scale[j] + bias[j])` with the same result bit for bit as the
/// scalar code (a multiply then an add, no fused multiply-add; [`QdqRound::apply`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn finish_avx2(
    acc: &[[i32; PX]; CO],
    scale: &[f32],
    bias: &[f32],
    round: Option<&QdqRound>,
    vals: &mut [[f32; PX]; CO],
) {
    use std::arch::x86_64::*;
    // SAFETY (whole body): each row of `acc` and `vals` is PX = 16 values, read and
    // written 8 at a time at 0 and 8.
    unsafe {
        let r = round.map(|r| r.lanes());
        for ((v, a), (&s, &b)) in vals.iter_mut().zip(acc).zip(scale.iter().zip(bias)) {
            let (s, b) = (_mm256_set1_ps(s), _mm256_set1_ps(b));
            for h in [0, 8] {
                let x = _mm256_cvtepi32_ps(_mm256_loadu_si256(a.as_ptr().add(h) as *const __m256i));
                let mut y = _mm256_add_ps(_mm256_mul_ps(x, s), b);
                if let Some(r) = r {
                    y = r.apply(y);
                }
                _mm256_storeu_ps(v.as_mut_ptr().add(h), y);
            }
        }
    }
}

/// Bytewise maximum of two packed quads.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn max_bytes(a: u32, b: u32) -> u32 {
    u32::from_le_bytes(std::array::from_fn(|k| {
        a.to_le_bytes()[k].max(b.to_le_bytes()[k])
    }))
}

/// [`QConv::fill_bytes`]'s packing of four channels, 8 pixels at a time: `dst[i]` holds
/// the grid steps of `rows[k][i] · inv[k]` in byte k, rounded half to even and clamped
/// to 0..=255 as the scalar code does (NaN gives 0). Returns how many it wrote (a
/// multiple of 8; the caller does the rest) and the bytewise maxima of what it wrote.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn pack_bytes_avx2(
    dst: &mut [u32],
    rows: [&[f32]; 4],
    inv: [f32; 4],
    round: Option<&QdqRound>,
) -> (usize, u32) {
    use std::arch::x86_64::*;
    let n = rows.iter().fold(dst.len(), |n, r| n.min(r.len())) / 8 * 8;
    // SAFETY (whole body): every load and store is of 8 elements at i < n, within
    // all five slices.
    unsafe {
        let hi = _mm256_set1_ps(255.0);
        let inv = [
            _mm256_set1_ps(inv[0]),
            _mm256_set1_ps(inv[1]),
            _mm256_set1_ps(inv[2]),
            _mm256_set1_ps(inv[3]),
        ];
        // Within each 128-bit half, bytes [channel k, pixel p] (k · 4 + p) to pixel-major
        // order (p · 4 + k).
        let to_pixels = _mm256_setr_epi8(
            0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6,
            10, 14, 3, 7, 11, 15,
        );
        let mut most = _mm256_setzero_si256();
        // One loop per case, so that neither tests for the round inside.
        macro_rules! pack {
            ($load:expr) => {
                for i in (0..n).step_by(8) {
                    // Rounded, then saturated to 0..=255 by the packs, which equals
                    // clamping first: min(hi, NaN) is NaN, which converts to i32::MIN and
                    // packs to 0, as does anything below -0.5.
                    let step = |k: usize| {
                        let y = $load(_mm256_loadu_ps(rows[k].as_ptr().add(i)));
                        _mm256_cvtps_epi32(_mm256_min_ps(hi, _mm256_mul_ps(y, inv[k])))
                    };
                    let (s01, s23) = (
                        _mm256_packus_epi32(step(0), step(1)),
                        _mm256_packus_epi32(step(2), step(3)),
                    );
                    let v = _mm256_shuffle_epi8(_mm256_packus_epi16(s01, s23), to_pixels);
                    most = _mm256_max_epu8(most, v);
                    _mm256_storeu_si256(dst.as_mut_ptr().add(i) as *mut __m256i, v);
                }
            };
        }
        match round.map(|r| r.lanes()) {
            Some(r) => pack!(|y| r.apply(y)),
            None => pack!(|y| y),
        }
        let mut lanes = [0u32; 8];
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, most);
        (n, lanes.into_iter().fold(0, max_bytes))
    }
}

/// [`block_bytes_avx2`] with `vpdpbusd` (see [`QConv::run_vnni`]): exact for any
/// steps. The two differ only in the multiply-add; each is written out so that it
/// compiles whole under its own target features.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
#[inline]
unsafe fn block_bytes_vnni(
    w: &[i8],
    planes: &[u32],
    offsets: &[usize],
    q0: usize,
    acc: &mut [[i32; PX]; CO],
) {
    use std::arch::x86_64::*;
    const _: () = assert!(PX == 16 && CO == 4);
    debug_assert!(w.len() == offsets.len() * CO * 4);
    // SAFETY (whole body): the caller checked that each run of 16 quads at
    // offsets[k] + q0 is inside `planes`; `w` holds offsets.len() · 4 quads.
    unsafe {
        let z = _mm256_setzero_si256();
        let mut a = [[z; 2]; CO];
        let base = planes.as_ptr().add(q0);
        let wp = w.as_ptr() as *const i32;
        for (k, &off) in offsets.iter().enumerate() {
            let p = base.add(off) as *const __m256i;
            let x0 = _mm256_loadu_si256(p);
            let x1 = _mm256_loadu_si256(p.add(1));
            for (j, a) in a.iter_mut().enumerate() {
                let wj = _mm256_set1_epi32(wp.add(k * CO + j).read_unaligned());
                a[0] = _mm256_dpbusd_epi32(a[0], x0, wj);
                a[1] = _mm256_dpbusd_epi32(a[1], x1, wj);
            }
        }
        for (o, a) in acc.iter_mut().zip(&a) {
            _mm256_storeu_si256(o.as_mut_ptr() as *mut __m256i, a[0]);
            _mm256_storeu_si256(o.as_mut_ptr().add(8) as *mut __m256i, a[1]);
        }
    }
}

/// [`block_avx2`] for the byte form: weight block `w` (`[quads · taps, CO, 4]`) times
/// the runs of byte `planes` at `offsets[k] + q0`, [`PX`] quads each. Exact where
/// [`QConv::fill_bytes`] found no pair sum that can leave 16 bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn block_bytes_avx2(
    w: &[i8],
    planes: &[u32],
    offsets: &[usize],
    q0: usize,
    acc: &mut [[i32; PX]; CO],
) {
    use std::arch::x86_64::*;
    const _: () = assert!(PX == 16 && CO == 4);
    debug_assert!(w.len() == offsets.len() * CO * 4);
    // SAFETY (whole body): the caller checked that each run of 16 quads at
    // offsets[k] + q0 is inside `planes`; `w` holds offsets.len() · 4 quads.
    unsafe {
        let z = _mm256_setzero_si256();
        let ones = _mm256_set1_epi16(1);
        let mut a = [[z; 2]; CO];
        let base = planes.as_ptr().add(q0);
        let wp = w.as_ptr() as *const i32;
        for (k, &off) in offsets.iter().enumerate() {
            let p = base.add(off) as *const __m256i;
            let x0 = _mm256_loadu_si256(p);
            let x1 = _mm256_loadu_si256(p.add(1));
            for (j, a) in a.iter_mut().enumerate() {
                let wj = _mm256_set1_epi32(wp.add(k * CO + j).read_unaligned());
                let (s0, s1) = (_mm256_maddubs_epi16(x0, wj), _mm256_maddubs_epi16(x1, wj));
                a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(s0, ones));
                a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(s1, ones));
            }
        }
        for (o, a) in acc.iter_mut().zip(&a) {
            _mm256_storeu_si256(o.as_mut_ptr() as *mut __m256i, a[0]);
            _mm256_storeu_si256(o.as_mut_ptr().add(8) as *mut __m256i, a[1]);
        }
    }
}

impl Op for QConv {
    fn name(&self) -> StaticName {
        "EmocueQConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{:?} → {:?}, kernel {:?} stride {:?} pad {:?}",
            self.input, self.output, self.kernel, self.stride, self.pad
        )])
    }

    op_as_typed_op!();
}

thread_local! {
    /// [`QConv::run`]'s working memory, kept between calls.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

impl EvalOp for QConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (c, h, w) = self.input;
        let (parts, round) = match &self.concat {
            Some((channels, round)) => (&channels[..], Some(round)),
            None => (&[c][..], None),
        };
        ensure!(
            inputs.len() == parts.len() + usize::from(self.residual.is_some()),
            "EmocueQConv: inputs"
        );
        let xs = inputs[..parts.len()]
            .iter()
            .zip(parts)
            .map(|(t, &n)| {
                let x = t.try_as_plain_ram()?.as_slice::<f32>()?;
                ensure!(x.len() == n * h * w, "EmocueQConv: input size");
                Ok(x)
            })
            .collect::<TractResult<TVec<&[f32]>>>()?;
        let x = Input {
            parts: &xs,
            hw: h * w,
            round,
        };
        // SAFETY: `run` writes every element before the tensor is read.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&self.out_shape)? };
        SCRATCH.with(|s| -> TractResult<()> {
            let scratch = &mut *s.borrow_mut();
            let mut out = out.try_as_plain_ram_mut()?;
            let out = out.as_slice_mut::<f32>()?;
            self.run_on(x, out, scratch, vnni());
            if let (Some(r), Some(add)) = (&self.residual, inputs.get(parts.len())) {
                let add = add.try_as_plain_ram()?.as_slice::<f32>()?;
                ensure!(add.len() == out.len(), "EmocueQConv: residual size");
                r.run_sum(out, add);
            }
            Ok(())
        })?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for QConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(&*self.out_shape)))
    }

    as_op!();
}

/// The grid scale of `outlet` if a [`QdqRound`] produces it (alone or inside a
/// [`QConv`]), and whether its steps are all 0..=255 (the byte form applies).
fn grid_scale(model: &TypedModel, outlet: OutletId) -> Option<(f32, bool)> {
    let node = model.node(outlet.node);
    // A QdqRound op, or one a QConv before has taken in.
    let q = match node.op_as::<QConv>() {
        Some(conv) => conv.residual.as_ref().or(conv.round.as_ref())?,
        None => node
            .op_as::<ElementWiseOp>()?
            .0
            .downcast_ref::<QdqRound>()?,
    };
    let (lo, hi) = (q.lo + q.shift, q.hi + q.shift);
    // Steps of at most 9 bits: what an i16 pair sum of the product holds exactly.
    (lo >= -255.0 && hi <= 255.0).then_some((q.scale, lo >= 0.0))
}

/// The [`QConv`] replacing `node`, a convolution of a grid input with grid weights.
fn qconv_for(model: &TypedModel, node: &TypedNode) -> TractResult<Option<QConv>> {
    let Some(conv) = node.op_as::<Conv>() else {
        return Ok(None);
    };
    let ps = &conv.pool_spec;
    if conv.q_params.is_some()
        || conv.group != 1
        || conv.kernel_fmt != KernelFormat::OIHW
        || !matches!(ps.data_format, DataFormat::NCHW | DataFormat::CHW)
        || ps.kernel_shape.len() != 2
        || ps.dilation(0) != 1
        || ps.dilation(1) != 1
        || node.inputs.len() != 3
        || matches!(ps.padding, PaddingSpec::ExplicitOnnxPool(..))
    {
        return Ok(None);
    }
    let Some((in_scale, bytes)) = grid_scale(model, node.inputs[0]) else {
        return Ok(None);
    };
    let Some([_, c, h, w]) = nchw1(model, node.inputs[0])? else {
        return Ok(None);
    };
    let Some(out_shape) = model
        .outlet_fact(OutletId::new(node.id, 0))?
        .shape
        .as_concrete()
        .map(TVec::from)
    else {
        return Ok(None);
    };
    let (kh, kw) = (ps.kernel_shape[0], ps.kernel_shape[1]);
    let o = ps.output_channels;
    let (Some(kernel), Some(bias)) = (
        const_f32(model, node.inputs[1])?,
        const_f32(model, node.inputs[2])?,
    ) else {
        return Ok(None);
    };
    let bias = match bias.len() {
        1 => vec![bias[0]; o],
        n if n == o => bias,
        _ => return Ok(None),
    };
    let stride = (ps.stride(0), ps.stride(1));
    let rows = ps.padding.compute_one(0, &h, kh, 1, stride.0);
    let cols = ps.padding.compute_one(1, &w, kw, 1, stride.1);
    let (oh, ow) = (rows.convoluted, cols.convoluted);
    if oh == 0 || ow == 0 || out_shape.iter().product::<usize>() != o * oh * ow {
        return Ok(None);
    }
    Ok(QConv::new(
        (c, h, w),
        (kh, kw),
        stride,
        (rows.pad_before, cols.pad_before),
        (o, oh, ow),
        out_shape,
        in_scale,
        &kernel,
        &bias,
    )
    .map(|op| if bytes { op.with_bytes() } else { op }))
}

/// The [`QConv`] replacing `node`, a 1×1 convolution of a grid input with grid
/// weights as tract's decluttered graph holds it ([`crate::cnn_ext::pointwise_parts`]),
/// and the outlet it replaces (its bias `Add`'s).
fn pointwise_for(model: &TypedModel, node: &TypedNode) -> TractResult<Option<(QConv, OutletId)>> {
    let Some(pw) = crate::cnn_ext::pointwise_parts(model, node)? else {
        return Ok(None);
    };
    let Some((in_scale, bytes)) = grid_scale(model, node.inputs[0]) else {
        return Ok(None);
    };
    let (c, h, w) = pw.input;
    let o = pw.bias.len();
    Ok(QConv::new(
        (c, h, w),
        (1, 1),
        (1, 1),
        (0, 0),
        (o, h, w),
        pw.out_shape,
        in_scale,
        &pw.kernel,
        &pw.bias,
    )
    .map(|op| (if bytes { op.with_bytes() } else { op }, pw.end)))
}

/// `op` with the [`QdqRound`] that is `end`'s only reader folded in, and the outlet
/// the pair replaces; `op` and `end` as they are where there is none.
fn take_round(model: &TypedModel, op: QConv, end: OutletId) -> (QConv, OutletId) {
    match round_after(model, end) {
        Some((q, out)) => (op.with_round(q.clone()), out),
        None => (op, end),
    }
}

/// The [`QdqRound`] that is `end`'s only reader (`end` not a model output), and its
/// output.
fn round_after(model: &TypedModel, end: OutletId) -> Option<(&QdqRound, OutletId)> {
    let [reader] = model.outlet_successors(end) else {
        return None;
    };
    if model.output_outlets().is_ok_and(|o| o.contains(&end)) {
        return None;
    }
    let node = model.node(reader.node);
    as_round(node).map(|q| (q, OutletId::new(node.id, 0)))
}

/// The node's op if it is a [`QdqRound`] (as [`crate::qdq`] wires one: no output type).
fn as_round(node: &TypedNode) -> Option<&QdqRound> {
    match node.op_as::<ElementWiseOp>()? {
        ElementWiseOp(mini, None) => mini.downcast_ref::<QdqRound>(),
        _ => None,
    }
}

/// Whether [`QConv`] runs its byte form with AVX-512 VNNI ([`QConv::run_vnni`]): where
/// the CPU has it (and AVX2), unless `EMOCUE_NO_VNNI` is set (to time the AVX2 kernel
/// on the same CPU). Asked once.
pub fn vnni() -> bool {
    static VNNI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *VNNI.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        return std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("avx512vnni")
            && std::is_x86_feature_detected!("avx512vl")
            && std::env::var_os("EMOCUE_NO_VNNI").is_none();
        #[cfg(not(target_arch = "x86_64"))]
        return false;
    })
}

/// Whether this CPU has the vectorised product ([`QConv`] on x86_64 with AVX2). On
/// others (the aarch64 wearable) the portable loop would be slower than tract's own
/// f32 kernels, so [`rewrite`] leaves the graph to tract there until a NEON kernel
/// has been measured on the device.
pub fn fast() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// Where [`fast`] holds, replaces each convolution of a [`QdqRound`]'s output with
/// int8-grid weights (3×3 and the like as `Conv`, 1×1 as the `EinSum` tract makes of
/// them) by a [`QConv`] (see the module docs); returns how many.
pub fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    if fast() { rewrite_all(model) } else { Ok(0) }
}

/// [`rewrite`] on any CPU (the tests check the portable product this way).
pub fn rewrite_all(model: &mut TypedModel) -> TractResult<usize> {
    let done = rewrite_convs(model)?;
    if done > 0 {
        fold_residuals(model)?;
        fold_concats(model)?;
        model.compact()?;
    }
    Ok(done)
}

/// [`rewrite_all`] without [`fold_residuals`].
fn rewrite_convs(model: &mut TypedModel) -> TractResult<usize> {
    let mut done = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let (op, end) = match qconv_for(model, node)? {
            Some(op) => (op, OutletId::new(id, 0)),
            None => match pointwise_for(model, node)? {
                Some(found) => found,
                None => continue,
            },
        };
        let (op, end) = take_round(model, op, end);
        let (input, name) = (node.inputs[0], node.name.clone());
        crate::cnn_ext::swap_in(model, input, end, &name, "emocue_qconv", op)?;
        done += 1;
    }
    if done > 0 {
        model.compact()?;
    }
    Ok(done)
}

/// Takes each residual block's `Add` of a [`QConv`]'s output (with no round of its
/// own) and another tensor of its shape, and the [`QdqRound`] after it, into the
/// convolution: one pass over the output instead of two, and two fewer nodes. The sum
/// and the round are tract's, so the result is the same bit for bit. Returns how many.
pub fn fold_residuals(model: &mut TypedModel) -> TractResult<usize> {
    use tract_onnx::tract_core::ops::binary::TypedBinOp;
    use tract_onnx::tract_core::ops::math::Add;
    let mut done = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(conv) = node.op_as::<QConv>() else {
            continue;
        };
        let here = OutletId::new(id, 0);
        let outputs = model.output_outlets()?.to_vec();
        let [next] = &node.outputs[0].successors[..] else {
            continue;
        };
        let add = model.node(next.node);
        let is_add = add
            .op_as::<TypedBinOp>()
            .is_some_and(|b| b.0.downcast_ref::<Add>().is_some());
        let sum = OutletId::new(add.id, 0);
        if conv.residual.is_some() || !is_add || add.inputs.len() != 2 || outputs.contains(&here) {
            continue;
        }
        let other = add.inputs[1 - next.slot.min(1)];
        let shape = &model.outlet_fact(here)?.shape;
        if model.outlet_fact(other)?.shape != *shape || model.outlet_fact(sum)?.shape != *shape {
            continue;
        }
        let Some((residual, end)) = round_after(model, sum) else {
            continue;
        };
        let op = QConv {
            residual: Some(residual.clone()),
            ..conv.clone()
        };
        let (input, name) = (node.inputs[0], node.name.clone());
        let mut patch = TypedModelPatch::new("emocue_residual");
        let x = patch.tap_model(model, input)?;
        let r = patch.tap_model(model, other)?;
        let y = patch.wire_node(format!("{name}.residual"), op, &[x, r])?[0];
        patch.shunt_outside(model, end, y)?;
        patch.apply(model)?;
        done += 1;
    }
    Ok(done)
}

/// Takes the channel `Concat` before a [`QConv`] and the [`QdqRound`] after it into
/// the convolution (the densely connected 1×1 convolutions of the classifier read
/// such): the parts are packed where they lie, rounded as they are read, so neither
/// the joined tensor nor the pass of the round is made. Bit for bit the same. Returns
/// how many.
pub fn fold_concats(model: &mut TypedModel) -> TractResult<usize> {
    use tract_onnx::tract_core::ops::array::TypedConcat;
    let mut done = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(conv) = node.op_as::<QConv>() else {
            continue;
        };
        let outputs = model.output_outlets()?.to_vec();
        let only_reader =
            |o: OutletId| model.outlet_successors(o).len() == 1 && !outputs.contains(&o);
        let round_node = model.node(node.inputs[0].node);
        let Some(round) = as_round(round_node) else {
            continue;
        };
        let Some(&joined) = round_node.inputs.first() else {
            continue;
        };
        if conv.concat.is_some() || !only_reader(node.inputs[0]) {
            continue;
        }
        // A concatenation read only here. (Taking in a round of one tensor, the stem's,
        // measured no faster: its pass is as cheap as the work it adds to the packing.)
        let concat = model.node(joined.node);
        let (parts, axis) = match concat.op_as::<TypedConcat>() {
            Some(op) if only_reader(joined) => (&concat.inputs[..], op.axis),
            _ => continue,
        };
        // Concatenated along the channels, each part of the convolution's size.
        let (c, h, w) = conv.input;
        let mut channels = Vec::new();
        for &part in parts {
            let shape = model
                .outlet_fact(part)?
                .shape
                .as_concrete()
                .map(<[usize]>::to_vec);
            match shape.as_deref() {
                Some([1, n, ph, pw]) | Some([n, ph, pw])
                    if (*ph, *pw) == (h, w) && axis + 3 == shape.as_ref().map_or(0, Vec::len) =>
                {
                    channels.push(*n)
                }
                _ => break,
            }
        }
        if channels.len() != parts.len() || channels.iter().sum::<usize>() != c {
            continue;
        }
        let folded = QConv {
            concat: Some((channels, round.clone())),
            ..conv.clone()
        };
        let mut patch = TypedModelPatch::new("emocue_concat");
        let mut taps = parts
            .iter()
            .map(|&o| patch.tap_model(model, o))
            .collect::<TractResult<TVec<_>>>()?;
        if let Some(&r) = node.inputs.get(1) {
            taps.push(patch.tap_model(model, r)?);
        }
        let y = patch.wire_node(format!("{}.concat", node.name), folded, &taps)?[0];
        patch.shunt_outside(model, OutletId::new(id, 0), y)?;
        patch.apply(model)?;
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::binary::TypedBinOp;
    use tract_onnx::tract_core::ops::cnn::PoolSpec;
    use tract_onnx::tract_core::ops::math::Add;

    /// Deterministic values in [0, 1).
    fn unit(n: usize, seed: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 * 0.7311 + seed).sin() * 43758.547).fract().abs())
            .collect()
    }

    /// Integer steps in -127..=127.
    fn steps(n: usize, seed: f32) -> Vec<i32> {
        unit(n, seed)
            .iter()
            .map(|u| (u * 254.999) as i32 - 127)
            .collect()
    }

    const IN_SCALE: f32 = 0.037;
    const IN_ZERO: i32 = 10;

    fn qdq_round() -> ElementWiseOp {
        let q = QdqRound {
            inv_scale: 1.0 / IN_SCALE,
            lo: -IN_ZERO as f32,
            hi: (255 - IN_ZERO) as f32,
            shift: 0.0,
            scale: IN_SCALE,
        };
        ElementWiseOp(Box::new(q), None)
    }

    struct Case {
        input: (usize, usize, usize),
        out: usize,
        kernel: (usize, usize),
        stride: (usize, usize),
        pad: ((usize, usize), (usize, usize)),
    }

    /// `x → [QdqRound] → Conv` with weights `q · s[o]` on int8 grids (or `off_grid`),
    /// batch 1 NCHW (or CHW); also returns the exact result in f64.
    fn model(
        case: &Case,
        grid_input: bool,
        off_grid: bool,
        chw: bool,
    ) -> (TypedModel, Vec<f32>, Vec<f64>) {
        let (c, h, w) = case.input;
        let (kh, kw) = case.kernel;
        let o = case.out;
        let depth = c * kh * kw;
        let q = steps(o * depth, 1.0);
        let wscale: Vec<f32> = unit(o, 2.0).iter().map(|u| 0.001 + u * 0.01).collect();
        let mut kernel: Vec<f32> = q
            .iter()
            .enumerate()
            .map(|(i, &q)| q as f32 * wscale[i / depth])
            .collect();
        if off_grid {
            kernel[depth / 2] += wscale[0] * 0.3;
        }
        let bias: Vec<f32> = unit(o, 3.0).iter().map(|u| u - 0.5).collect();
        // Inputs: grid steps (minus the zero point) times the scale, a little off the
        // grid so that the QdqRound has something to do.
        let n_in: Vec<i32> = steps(c * h * w, 4.0)
            .into_iter()
            .map(|s| s.clamp(-IN_ZERO, 120))
            .collect();
        let x: Vec<f32> = n_in.iter().map(|&n| (n as f32 + 0.2) * IN_SCALE).collect();

        let mut m = TypedModel::default();
        let shape: TVec<usize> = if chw {
            tvec!(c, h, w)
        } else {
            tvec!(1, c, h, w)
        };
        let src = m.add_source("x", f32::fact(&*shape)).unwrap();
        let src = if grid_input {
            m.wire_node("round", qdq_round(), &[src]).unwrap()[0]
        } else {
            src
        };
        let k = m
            .add_const("k", Tensor::from_shape(&[o, c, kh, kw], &kernel).unwrap())
            .unwrap();
        let b = m
            .add_const("b", Tensor::from_shape(&[o], &bias).unwrap())
            .unwrap();
        let ((pt, pl), (pb, pr)) = case.pad;
        let pool_spec = PoolSpec {
            data_format: if chw {
                DataFormat::CHW
            } else {
                DataFormat::NCHW
            },
            kernel_shape: tvec!(kh, kw),
            padding: PaddingSpec::Explicit(tvec!(pt, pl), tvec!(pb, pr)),
            dilations: None,
            strides: Some(tvec!(case.stride.0, case.stride.1)),
            input_channels: c,
            output_channels: o,
        };
        let conv = Conv {
            pool_spec,
            kernel_fmt: KernelFormat::OIHW,
            group: 1,
            q_params: None,
        };
        let y = m.wire_node("conv", conv, &[src, k, b]).unwrap();
        m.select_output_outlets(&y).unwrap();

        // The exact convolution of the rounded input.
        let (sh, sw) = case.stride;
        let oh = (h + pt + pb - kh) / sh + 1;
        let ow = (w + pl + pr - kw) / sw + 1;
        let mut exact = vec![0f64; o * oh * ow];
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0i64;
                    for ic in 0..c {
                        for r in 0..kh {
                            for s in 0..kw {
                                let (iy, ix) = (
                                    (oy * sh + r) as isize - pt as isize,
                                    (ox * sw + s) as isize - pl as isize,
                                );
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let xin = n_in[(ic * h + iy as usize) * w + ix as usize] as i64;
                                acc += xin * q[((oc * c + ic) * kh + r) * kw + s] as i64;
                            }
                        }
                    }
                    exact[(oc * oh + oy) * ow + ox] =
                        acc as f64 * f64::from(IN_SCALE) * f64::from(wscale[oc])
                            + f64::from(bias[oc]);
                }
            }
        }
        (m, x, exact)
    }

    fn run(m: TypedModel, x: &[f32], shape: &[usize]) -> Vec<f32> {
        let out = m
            .into_runnable()
            .unwrap()
            .run(tvec!(Tensor::from_shape(shape, x).unwrap().into_tvalue()))
            .unwrap();
        out[0]
            .to_plain_array_view::<f32>()
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    fn cases() -> Vec<Case> {
        let case = |input, out, kernel, stride, pad| Case {
            input,
            out,
            kernel,
            stride,
            pad,
        };
        vec![
            // The classifier's residual 3x3 and strided one, at a quarter of the
            // size (the tests run under QEMU too).
            case((24, 12, 12), 24, (3, 3), (1, 1), ((1, 1), (1, 1))),
            case((16, 24, 24), 24, (3, 3), (2, 2), ((1, 1), (1, 1))),
            // Odd channels in and out, odd sizes, a 5x5 with uneven padding, a
            // rectangular kernel and stride, no padding at all.
            case((5, 7, 9), 6, (3, 3), (1, 1), ((1, 1), (1, 1))),
            case((3, 11, 10), 5, (5, 5), (2, 2), ((1, 2), (2, 1))),
            case((4, 9, 8), 3, (3, 1), (1, 1), ((1, 0), (1, 0))),
            case((6, 10, 13), 7, (2, 3), (3, 2), ((0, 1), (1, 0))),
            case((2, 5, 5), 1, (3, 3), (1, 1), ((0, 0), (0, 0))),
            // 1x1: unpadded (the byte form packs straight into its plane), and strided.
            case((9, 6, 7), 5, (1, 1), (1, 1), ((0, 0), (0, 0))),
            case((5, 7, 6), 3, (1, 1), (2, 2), ((0, 0), (0, 0))),
        ]
    }

    #[test]
    fn integer_conv_is_the_exact_product_and_agrees_with_tract() {
        for chw in [false, true] {
            for case in cases() {
                let (m, x, exact) = model(&case, true, false, chw);
                let (c, h, w) = case.input;
                let shape: Vec<usize> = if chw { vec![c, h, w] } else { vec![1, c, h, w] };
                let plain = run(m.clone().into_optimized().unwrap(), &x, &shape);
                let mut ours = m.into_decluttered().unwrap();
                assert_eq!(rewrite_all(&mut ours).unwrap(), 1, "{:?}", case.input);
                let ours = run(ours.into_optimized().unwrap(), &x, &shape);
                assert_eq!(ours.len(), exact.len());
                let big = exact.iter().fold(1f64, |m, v| m.max(v.abs()));
                for (i, ((&a, &e), &p)) in ours.iter().zip(&exact).zip(&plain).enumerate() {
                    // One rounding of the exact sum; tract's f32 sum rounds at each step.
                    assert!(
                        (f64::from(a) - e).abs() <= 1e-6 * big,
                        "{:?} {i}: {a} vs exact {e}",
                        case.input
                    );
                    assert!(
                        (a - p).abs() <= 1e-4 * big as f32,
                        "{:?} {i}: {a} vs tract {p}",
                        case.input
                    );
                }
            }
        }
    }

    #[test]
    fn the_portable_product_equals_the_vectorised_one() {
        let signed = steps(1 << 16, 6.0);
        for case in cases() {
            let (op, _, n) = op_case(&case, &|i| signed[i % signed.len()]);
            let (c, h, w) = case.input;
            let x: Vec<f32> = steps(c * h * w, 7.0)
                .iter()
                .map(|&n| n as f32 * IN_SCALE)
                .collect();
            let (mut a, mut b) = (vec![0f32; n], vec![1f32; n]);
            op.run(&x, &mut a, &mut Scratch::default());
            op.run_with::<false>(&x, &mut b, &mut Vec::new());
            assert_eq!(a, b, "{:?}", case.input);
        }
    }

    /// Each case as a [`QConv`] with weight steps `w_step` (scale 0.01) and bias 0.5:
    /// (the op, a zero input, its output size).
    fn op_case(case: &Case, w_step: &dyn Fn(usize) -> i32) -> (QConv, Vec<f32>, usize) {
        let (c, h, w) = case.input;
        let (kh, kw) = case.kernel;
        let (sh, sw) = case.stride;
        let ((pt, pl), (pb, pr)) = case.pad;
        let (oh, ow) = ((h + pt + pb - kh) / sh + 1, (w + pl + pr - kw) / sw + 1);
        let o = case.out;
        let weights: Vec<f32> = (0..o * c * kh * kw)
            .map(|i| w_step(i) as f32 * 0.01)
            .collect();
        let op = QConv::new(
            case.input,
            case.kernel,
            case.stride,
            (pt, pl),
            (o, oh, ow),
            tvec!(o, oh, ow),
            IN_SCALE,
            &weights,
            &vec![0.5; o],
        )
        .unwrap();
        (op, vec![0.0; c * h * w], o * oh * ow)
    }

    /// [`op_case`] with the byte form, and inputs of steps 0..=`x_max`.
    fn byte_case(
        case: &Case,
        w_step: &dyn Fn(usize) -> i32,
        x_max: i32,
    ) -> (QConv, Vec<f32>, usize) {
        let (op, x, n) = op_case(case, w_step);
        let x: Vec<f32> = unit(x.len(), 8.0)
            .iter()
            .map(|u| (u * (x_max as f32 + 0.999)).floor() * IN_SCALE)
            .collect();
        (op.with_bytes(), x, n)
    }

    #[test]
    fn the_byte_form_is_the_exact_product_or_stands_aside() {
        let mixed = steps(1 << 16, 9.0);
        let mixed = |i: usize| mixed[i % mixed.len()];
        let large = |i: usize| 100 + (i % 28) as i32;
        // Any int8 weights with steps up to 120: a pair sums to at most 120 · 254, inside
        // 16 bits. Weights of one sign near 127 with steps up to 255: past 16 bits, so
        // the byte form must step aside.
        type Weights<'a> = &'a dyn Fn(usize) -> i32;
        let runs: [(Weights, i32, bool); 2] = [(&mixed, 120, true), (&large, 255, false)];
        for (w_step, x_max, may_use_bytes) in runs {
            for case in cases() {
                let (op, x, n) = byte_case(&case, w_step, x_max);
                let mut b = vec![1f32; n];
                op.run_with::<false>(&x, &mut b, &mut Vec::new());
                // The AVX2 kernels, and VNNI's where this CPU has it.
                for with_vnni in [false, vnni()] {
                    let mut a = vec![0f32; n];
                    let hw = case.input.1 * case.input.2;
                    op.run_on(
                        Input::one(&[&x], hw),
                        &mut a,
                        &mut Scratch::default(),
                        with_vnni,
                    );
                    assert_eq!(a, b, "{:?} up to {x_max}, VNNI {with_vnni}", case.input);
                }
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") {
                    let bytes = op.bytes.as_ref().unwrap();
                    // SAFETY: the CPU has AVX2.
                    let parts = [&x[..]];
                    let x = Input::one(&parts, case.input.1 * case.input.2);
                    let used = unsafe { op.fill_bytes(x, &mut Scratch::default(), bytes) };
                    assert_eq!(used, may_use_bytes, "{:?} up to {x_max}", case.input);
                }
                #[cfg(not(target_arch = "x86_64"))]
                let _ = may_use_bytes;
            }
        }
    }

    #[test]
    fn a_taken_in_round_is_the_round_after_the_conv() {
        let round = match qdq_round().0.downcast_ref::<QdqRound>() {
            Some(q) => q.clone(),
            None => unreachable!("qdq_round() makes a QdqRound"),
        };
        for case in cases() {
            let (op, x, n) = byte_case(&case, &|i| steps(1 << 16, 9.0)[i % (1 << 16)], 120);
            let (mut a, mut b) = (vec![0f32; n], vec![1f32; n]);
            op.run(&x, &mut a, &mut Scratch::default());
            round.run(&mut a);
            op.with_round(round.clone())
                .run(&x, &mut b, &mut Scratch::default());
            assert_eq!(a, b, "{:?}", case.input);
        }
        // In a graph: the round after a rewritten convolution goes into it, and the
        // next convolution still finds its grid there.
        let case = &cases()[0];
        let (m, ..) = model(case, true, false, false);
        let mut m = m.into_decluttered().unwrap();
        let out = m.output_outlets().unwrap()[0];
        let r = m.wire_node("round2", qdq_round(), &[out]).unwrap();
        m.select_output_outlets(&r).unwrap();
        assert_eq!(rewrite_all(&mut m).unwrap(), 1);
        let rounds = m
            .nodes()
            .iter()
            .filter(|n| n.op_as::<ElementWiseOp>().is_some())
            .count();
        assert_eq!(rounds, 1, "only the round before the convolution stays");
        let conv = m.nodes().iter().find_map(|n| n.op_as::<QConv>()).unwrap();
        assert!(conv.round.is_some());
        assert_eq!(
            grid_scale(&m, m.output_outlets().unwrap()[0]),
            Some((IN_SCALE, false))
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_byte_packing_is_the_scalar_rule() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let special = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            -0.4,
            -0.6,
            0.5,
            1.5,
            127.5,
            128.5,
            254.5,
            255.4,
            255.6,
            1e10,
            -1e10,
        ];
        let vals: Vec<f32> = (0..64)
            .map(|i| special.get(i).copied().unwrap_or(i as f32 * 4.37 - 20.0))
            .collect();
        let rows: [Vec<f32>; 4] =
            std::array::from_fn(|k| vals.iter().cycle().skip(5 * k).take(64).copied().collect());
        let inv = [1.0, 0.5, 3.0, 0.0];
        let mut got = vec![0u32; 64];
        // SAFETY: the CPU has AVX2.
        let (done, most) =
            unsafe { pack_bytes_avx2(&mut got, std::array::from_fn(|k| &rows[k][..]), inv, None) };
        assert_eq!(done, 64);
        let want: Vec<u32> = (0..64)
            .map(|i| {
                (0..4).fold(0u32, |v, k| {
                    let t = (rows[k][i] * inv[k]).clamp(0.0, 255.0);
                    v | ((((t + ROUND_MAGIC) - ROUND_MAGIC) as u32) << (8 * k))
                })
            })
            .collect();
        assert_eq!(got, want);
        assert_eq!(most, want.iter().copied().fold(0, max_bytes));
    }

    #[test]
    fn a_residual_sum_and_its_round_go_into_the_conv_bit_for_bit() {
        // x → round → conv → round → + (the first round's output) → round2, where
        // round2 has another grid, so the next convolution's grid must be round2's.
        let round2 = QdqRound {
            inv_scale: 0.5 / IN_SCALE,
            lo: 0.0,
            hi: 255.0,
            shift: 0.0,
            scale: 2.0 * IN_SCALE,
        };
        for chw in [false, true] {
            let case = &cases()[0];
            let (c, h, w) = case.input;
            assert_eq!((c, h, w), (case.out, h, w), "a shape-keeping case");
            let (m, x, _) = model(case, true, false, chw);
            let mut m = m.into_decluttered().unwrap();
            let conv_out = m.output_outlets().unwrap()[0];
            let grid_in = m.node(conv_out.node).inputs[0];
            let r = m.wire_node("round1", qdq_round(), &[conv_out]).unwrap();
            let sum = m
                .wire_node("add", TypedBinOp(Box::new(Add), None), &[r[0], grid_in])
                .unwrap();
            let op = ElementWiseOp(Box::new(round2.clone()), None);
            let y = m.wire_node("round2", op, &sum).unwrap();
            m.select_output_outlets(&y).unwrap();
            let shape: Vec<usize> = if chw { vec![c, h, w] } else { vec![1, c, h, w] };
            let mut apart = m.clone();
            assert_eq!(rewrite_convs(&mut apart).unwrap(), 1);
            let mut folded = m;
            assert_eq!(rewrite_all(&mut folded).unwrap(), 1);
            let conv = folded
                .nodes()
                .iter()
                .find_map(|n| n.op_as::<QConv>())
                .unwrap();
            assert_eq!(conv.residual.as_ref(), Some(&round2));
            assert!(
                conv.round.is_some(),
                "the round before the sum stays taken in"
            );
            let adds = |m: &TypedModel| {
                m.nodes()
                    .iter()
                    .filter(|n| n.op_as::<TypedBinOp>().is_some())
                    .count()
            };
            assert_eq!((adds(&apart), adds(&folded)), (1, 0));
            assert_eq!(
                grid_scale(&folded, folded.output_outlets().unwrap()[0]),
                Some((2.0 * IN_SCALE, true))
            );
            let a = run(apart.into_optimized().unwrap(), &x, &shape);
            let b = run(folded.into_optimized().unwrap(), &x, &shape);
            assert!(a.iter().any(|&v| v != 0.0));
            assert_eq!(a, b);
        }
    }

    #[test]
    fn a_concatenation_and_its_round_go_into_the_conv_bit_for_bit() {
        use tract_onnx::tract_core::ops::array::TypedConcat;
        use tract_onnx::tract_core::ops::source::TypedSource;
        // Two parts (7 and 5 channels, so that a channel quad straddles them), off the
        // grid, concatenated and rounded onto a 0..=255 grid. Every kernel (VNNI where
        // there, AVX2, the 16-bit form where weights force it, the portable loop)
        // reads the parts as the joined, rounded tensor.
        let round = QdqRound {
            inv_scale: 1.0 / IN_SCALE,
            lo: 0.0,
            hi: 255.0,
            shift: 0.0,
            scale: IN_SCALE,
        };
        let mixed = steps(1 << 16, 9.0);
        let large = |i: usize| 100 + (i % 28) as i32;
        for kernel in [(1, 1), (3, 3)] {
            let pad = (kernel.0 / 2, kernel.1 / 2);
            let case = Case {
                input: (12, 6, 9),
                out: 5,
                kernel,
                stride: (1, 1),
                pad: (pad, pad),
            };
            let hw = 6 * 9;
            let a: Vec<f32> = unit(7 * hw, 10.0)
                .iter()
                .map(|u| (u * 200.0 - 20.0) * IN_SCALE)
                .collect();
            let b: Vec<f32> = unit(5 * hw, 11.0)
                .iter()
                .map(|u| u * 300.0 * IN_SCALE)
                .collect();
            let mut joined = [a.clone(), b.clone()].concat();
            round.run(&mut joined);
            let weights: [&dyn Fn(usize) -> i32; 2] = [&|i| mixed[i % mixed.len()], &large];
            for w_step in weights {
                let (op, _, n) = byte_case(&case, w_step, 255);
                let mut want = vec![0f32; n];
                op.run_with::<false>(&joined, &mut want, &mut Vec::new());
                let folded = QConv {
                    concat: Some((vec![7, 5], round.clone())),
                    ..op.clone()
                };
                let parts = [&a[..], &b[..]];
                let x = Input {
                    parts: &parts,
                    hw,
                    round: Some(&round),
                };
                for with_vnni in [false, vnni()] {
                    let mut got = vec![1f32; n];
                    folded.run_on(x, &mut got, &mut Scratch::default(), with_vnni);
                    assert_eq!(got, want, "{kernel:?}, VNNI {with_vnni}");
                }
                let (mut got, mut buf) = (vec![1f32; n], Vec::new());
                folded.run_with::<false>(x.joined(&mut buf), &mut got, &mut Vec::new());
                assert_eq!(got, want, "{kernel:?}, portable");
            }
        }
        // In a graph: two sources, Concat, round, then the test model's convolution
        // (spliced in for its source); the Concat and the round go into the
        // convolution.
        let case = &cases()[0];
        let (c, h, w) = case.input;
        let (conv_model, x, _) = model(case, false, false, false);
        let mut m = TypedModel::default();
        let p1 = m.add_source("p1", f32::fact([1, 4, h, w])).unwrap();
        let p2 = m.add_source("p2", f32::fact([1, c - 4, h, w])).unwrap();
        let cat = m
            .wire_node("cat", TypedConcat { axis: 1 }, &[p1, p2])
            .unwrap();
        let r = m
            .wire_node("r", ElementWiseOp(Box::new(round.clone()), None), &cat)
            .unwrap();
        let mut map = std::collections::HashMap::new();
        for id in conv_model.eval_order().unwrap() {
            let node = conv_model.node(id);
            if node.op_as::<TypedSource>().is_some() {
                map.insert(OutletId::new(id, 0), r[0]);
                continue;
            }
            let ins: TVec<OutletId> = node.inputs.iter().map(|i| map[i]).collect();
            let outs = m.wire_node(&node.name, node.op.clone(), &ins).unwrap();
            for (i, o) in outs.into_iter().enumerate() {
                map.insert(OutletId::new(id, i), o);
            }
        }
        let y = map[&conv_model.output_outlets().unwrap()[0]];
        m.select_output_outlets(&[y]).unwrap();
        let m = m.into_decluttered().unwrap();
        let mut apart = m.clone();
        assert_eq!(rewrite_convs(&mut apart).unwrap(), 1);
        let mut folded = m;
        assert_eq!(rewrite_all(&mut folded).unwrap(), 1);
        let concats = |m: &TypedModel| {
            m.nodes()
                .iter()
                .filter(|n| {
                    n.op_as::<TypedConcat>().is_some() || n.op_as::<ElementWiseOp>().is_some()
                })
                .count()
        };
        assert_eq!((concats(&apart), concats(&folded)), (2, 0));
        let run2 = |m: TypedModel| -> Vec<f32> {
            let inputs = tvec!(
                Tensor::from_shape(&[1, 4, h, w], &x[..4 * h * w])
                    .unwrap()
                    .into_tvalue(),
                Tensor::from_shape(&[1, c - 4, h, w], &x[4 * h * w..])
                    .unwrap()
                    .into_tvalue()
            );
            let out = m
                .into_optimized()
                .unwrap()
                .into_runnable()
                .unwrap()
                .run(inputs)
                .unwrap();
            out[0]
                .to_plain_array_view::<f32>()
                .unwrap()
                .iter()
                .copied()
                .collect()
        };
        let (a, b) = (run2(apart), run2(folded));
        assert!(a.iter().any(|&v| v != 0.0));
        assert_eq!(a, b);
    }

    #[test]
    fn the_byte_form_keeps_only_undominated_weight_pairs() {
        // One input channel pair, three output channels, one tap: weights (a, b) per
        // output channel of (127, 20), (50, 127) and (-127, -10), whose same-sign
        // parts (127, 10) the first dominates.
        let w = [127.0, 20.0, 50.0, 127.0, -127.0, -10.0];
        let op = QConv::new(
            (2, 1, 1),
            (1, 1),
            (1, 1),
            (0, 0),
            (3, 1, 1),
            tvec!(3, 1, 1),
            1.0,
            &w,
            &[0.0; 3],
        )
        .unwrap()
        .with_bytes();
        let b = op.bytes.unwrap();
        assert_eq!(b.frontier_at, vec![0, 2, 2]);
        assert_eq!(b.frontier, vec![(127, 20), (50, 127)]);
    }

    #[test]
    fn only_grid_inputs_with_grid_weights_are_rewritten() {
        let case = &cases()[2];
        let (mut m, ..) = model(case, false, false, false);
        m = m.into_decluttered().unwrap();
        assert_eq!(rewrite_all(&mut m).unwrap(), 0, "input not from a QdqRound");
        let (mut m, ..) = model(case, true, true, false);
        m = m.into_decluttered().unwrap();
        assert_eq!(rewrite_all(&mut m).unwrap(), 0, "weights off their grid");
    }

    #[test]
    fn int8_grid_finds_the_steps() {
        let q = steps(200, 5.0);
        for s in [0.003f32, 1.7e-5, 0.25] {
            let w: Vec<f32> = q.iter().map(|&q| q as f32 * s).collect();
            let (found, fs) = int8_grid(&w).unwrap();
            for ((f, &q), &v) in found.iter().zip(&q).zip(&w) {
                assert_eq!(*f as i32, q);
                assert!((*f as f32 * fs - v).abs() <= v.abs() * 1e-6 + 1e-12);
            }
        }
        assert_eq!(int8_grid(&[0.0; 4]), Some((vec![0; 4], 0.0)));
        assert_eq!(int8_grid(&[0.1, 0.1 / 3.0, 0.1 / 7.0, 0.1 / 300.0]), None);
        assert_eq!(int8_grid(&[f32::NAN, 1.0]), None);
    }
}
