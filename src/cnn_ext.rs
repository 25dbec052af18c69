//! Our extension to tract for the BlazeFace detector (issue 20): ops tract 0.23 runs
//! slowly on this network, replaced in the typed graph before tract optimises it (and
//! the classifiers' one-channel stem, which tract ran at 3 G MAC/s).
//!
//! `emocue bench --profile --model models/blazeface_full_range.onnx` showed, against
//! onnxruntime's per-node profile of the same file (docs/performance.md, "The detector
//! in tract"):
//!
//! * the stem, a 3×3 stride-2 convolution of the 3-channel input, took 15 % of the
//!   detector at 4 G MAC/s: tract gathers its stride-2 pixels through a lazy im2col.
//!   [`SmallConv`] writes one output row's patches at a time and multiplies them in
//!   register blocks. The classifiers' stem (3×3, stride 1, one input channel: 9
//!   inputs per output) took 8 % of the classifier for the same reason; since session
//!   22 it runs as a [`SmallConv`] too, a quarter of the time.
//! * the depthwise convolutions, 31 %, the stride-2 ones worst: [`DepthWise`] reads
//!   every tap as a contiguous run of a padded, phase-split copy of each channel.
//! * after those, half the time was tract's 1×1 convolutions, a tenth of it packing
//!   each activation tensor for its kernel: [`Pointwise`] reads the rows in place in
//!   the same register blocks as [`SmallConv`] and takes the bias in (session 22).
//! * the 2×2 max pools that `training/tools/blazeface_graph.py` writes as the max of even and
//!   odd rows, then columns (four strided copies and two Maxes each), 9 %:
//!   [`Pool2x2`] does it in one pass, bit-identical.
//!
//! [`rewrite`] applies them to any model [`crate::onnx::OnnxFile`] loads; the patterns
//! are narrow (f32, NCHW or CHW, batch 1, constant weights, a convolution of at least
//! 2 taps with at most [`MAX_IM2COL_DEPTH`] inputs per output, a 1×1 convolution as the
//! `EinSum` tract makes of it, the exact slice pattern of a 2×2 pool); of the
//! classifiers the stem and, in the f32 and w8 files, the two 1×1 mixers match. Convolution results differ from
//! tract's only by float rounding (summation order); `tests` compare them.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, SumPool};
use tract_onnx::tract_core::ops::downsample::Downsample;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::math::{Add, Max};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// The deepest patch (input channels × kernel taps) [`Im2col`] takes over from tract's
/// lazy im2col: a small stem. A deeper one has enough work per gathered value that
/// tract's own path is fine, and its patch matrix would be large.
pub const MAX_IM2COL_DEPTH: usize = 64;

/// The im2col geometry of a convolution of an NCHW f32 batch-1 tensor: patch row
/// `(c·KH + kh)·KW + kw` of output pixel `(oy, ox)` is input pixel
/// `(oy·sh + kh·dh − pt, ox·sw + kw·dw − pl)` of channel `c` (0 outside the input).
/// That is the OIHW kernel's own flattening, so output channel `o` is the dot product
/// of kernel row `o` (`[O, C·KH·KW]`) with the patch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Im2col {
    /// Input channels.
    pub channels: usize,
    /// Input height and width.
    pub input: (usize, usize),
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Strides (rows, columns).
    pub stride: (usize, usize),
    /// Dilations (rows, columns).
    pub dilation: (usize, usize),
    /// Padding before (top, left).
    pub pad: (usize, usize),
    /// Output height and width.
    pub output: (usize, usize),
}

impl Im2col {
    /// Patch depth: `C·KH·KW`.
    pub fn depth(&self) -> usize {
        self.channels * self.kernel.0 * self.kernel.1
    }

    /// Writes the patches of output row `oy` from `x` (`[C, H, W]`): patch row `k` of
    /// output column `ox` at `dst[k·stride + ox]` (`stride` ≥ OW).
    pub fn fill_row(&self, x: &[f32], oy: usize, dst: &mut [f32], stride: usize) {
        let (h, w) = self.input;
        let (kh_n, kw_n) = self.kernel;
        let (sh, sw) = self.stride;
        let (dh, dw) = self.dilation;
        let (pt, pl) = self.pad;
        let ow = self.output.1;
        let mut rows = dst.chunks_mut(stride);
        for c in 0..self.channels {
            let plane = &x[c * h * w..][..h * w];
            for kh in 0..kh_n {
                let iy = (oy * sh + kh * dh).wrapping_sub(pt);
                for kw in 0..kw_n {
                    let Some(drow) = rows.next() else { return };
                    let drow = &mut drow[..ow];
                    if iy >= h {
                        drow.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy * w..][..w];
                    // Output columns whose input column lies inside the row.
                    let off = kw * dw;
                    let lo = pl.saturating_sub(off).div_ceil(sw).min(ow);
                    let hi = (w + pl).saturating_sub(off).div_ceil(sw).clamp(lo, ow);
                    drow[..lo].fill(0.0);
                    drow[hi..].fill(0.0);
                    let n = hi - lo;
                    if n == 0 {
                        continue;
                    }
                    let start = lo * sw + off - pl;
                    if sw == 1 {
                        drow[lo..hi].copy_from_slice(&src[start..start + n]);
                    } else {
                        let src = &src[start..start + (n - 1) * sw + 1];
                        for (i, d) in drow[lo..hi].iter_mut().enumerate() {
                            *d = src[i * sw];
                        }
                    }
                }
            }
        }
    }
}

/// Output pixels per block of [`SmallConv`]'s product (two AVX registers).
const PX: usize = 16;
/// Output channels per block of [`SmallConv`]'s product.
const CO: usize = 4;

/// A convolution with a shallow patch (at most [`MAX_IM2COL_DEPTH`] inputs per output,
/// such as a network's stem), NCHW f32 batch 1: per output row, the patches are
/// written once ([`Im2col::fill_row`]) and multiplied by the kernel in register blocks
/// of [`CO`] channels × [`PX`] pixels, with FMA where the CPU has it. Summation order
/// per output: bias, then the patch in kernel order.
#[derive(Debug, Clone, PartialEq)]
pub struct SmallConv {
    /// The patch geometry.
    pub geo: Im2col,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel `[O', depth, CO]` blocked by [`CO`] output channels (`O'` = O / CO
    /// rounded up; the missing channels have zero weights).
    pub weights: Vec<f32>,
    /// Bias `[O]`, rounded up to a multiple of [`CO`] with zeros.
    pub bias: Vec<f32>,
}

impl Eq for SmallConv {}

impl std::hash::Hash for SmallConv {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (&self.geo, self.out_channels).hash(h);
        self.weights
            .iter()
            .chain(&self.bias)
            .for_each(|v| v.to_bits().hash(h));
    }
}

impl SmallConv {
    /// The op for `geo` with an OIHW kernel `[O, C, KH, KW]` and bias `[O]`.
    pub fn new(geo: Im2col, kernel: &[f32], bias: &[f32]) -> Self {
        let depth = geo.depth();
        let o = bias.len();
        let blocks = o.div_ceil(CO);
        let mut weights = vec![0.0; blocks * depth * CO];
        for oc in 0..o {
            for k in 0..depth {
                weights[((oc / CO) * depth + k) * CO + oc % CO] = kernel[oc * depth + k];
            }
        }
        let mut b = bias.to_vec();
        b.resize(blocks * CO, 0.0);
        SmallConv {
            geo,
            out_channels: o,
            weights,
            bias: b,
        }
    }

    /// Fills `out` (`[O, OH, OW]`) from `x` (`[C, H, W]`); `cols` is scratch.
    pub fn run(&self, x: &[f32], out: &mut [f32], cols: &mut Vec<f32>) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features `run_avx2_fma` is compiled for.
            unsafe { self.run_avx2_fma(x, out, cols) };
            return;
        }
        self.run_with::<{ cfg!(target_arch = "aarch64") }>(x, out, cols);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2_fma(&self, x: &[f32], out: &mut [f32], cols: &mut Vec<f32>) {
        self.run_with::<true>(x, out, cols);
    }

    #[inline(always)]
    fn run_with<const FMA: bool>(&self, x: &[f32], out: &mut [f32], cols: &mut Vec<f32>) {
        let depth = self.geo.depth();
        let (oh, ow) = self.geo.output;
        let stride = ow.next_multiple_of(PX);
        cols.clear();
        cols.resize(depth * stride, 0.0);
        for oy in 0..oh {
            self.geo.fill_row(x, oy, cols, stride);
            for (blk, (wts, bias)) in self
                .weights
                .chunks_exact(depth * CO)
                .zip(self.bias.chunks_exact(CO))
                .enumerate()
            {
                let bias: &[f32; CO] = bias.try_into().expect("CO");
                for p0 in (0..ow).step_by(PX) {
                    let acc = block::<FMA>(wts, bias, cols, stride, p0);
                    let n = PX.min(ow - p0);
                    for (j, a) in acc.iter().enumerate() {
                        let oc = blk * CO + j;
                        if oc < self.out_channels {
                            copy_short(&mut out[(oc * oh + oy) * ow + p0..][..n], &a[..n]);
                        }
                    }
                }
            }
        }
    }

    fn output_shape(&self) -> [usize; 4] {
        [1, self.out_channels, self.geo.output.0, self.geo.output.1]
    }
}

/// One [`CO`]×[`PX`] block of [`SmallConv`]: bias plus the product of the blocked
/// kernel rows `wts` (`[depth, CO]`) with patch columns `p0..p0 + PX` of `cols`
/// (`[depth, stride]`).
#[inline(always)]
fn block<const FMA: bool>(
    wts: &[f32],
    bias: &[f32; CO],
    cols: &[f32],
    stride: usize,
    p0: usize,
) -> [[f32; PX]; CO] {
    let depth = wts.len() / CO;
    assert!(depth > 0 && p0 + PX <= stride && (depth - 1) * stride + stride <= cols.len());
    #[cfg(target_arch = "x86_64")]
    if FMA {
        // SAFETY: FMA is only true on x86_64 inside `run_avx2_fma`, whose CPU has AVX2
        // and FMA; the loads stay within `cols`, as asserted above.
        return unsafe { block_avx2(wts, bias, cols, stride, p0) };
    }
    let mut acc = [[0f32; PX]; CO];
    for (a, b) in acc.iter_mut().zip(bias) {
        *a = [*b; PX];
    }
    for (k, w) in wts.chunks_exact(CO).enumerate() {
        let xs = &cols[k * stride + p0..][..PX];
        for (a, w) in acc.iter_mut().zip(w) {
            for (a, x) in a.iter_mut().zip(xs) {
                *a = madd::<FMA>(*w, *x, *a);
            }
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn block_avx2(
    wts: &[f32],
    bias: &[f32; CO],
    cols: &[f32],
    stride: usize,
    p0: usize,
) -> [[f32; PX]; CO] {
    use std::arch::x86_64::*;
    const _: () = assert!(PX == 16 && CO == 4);
    let depth = wts.len() / CO;
    // SAFETY (whole body): the caller checked that rows 0..depth of `cols`, columns
    // p0..p0 + 16, are in bounds; `wts` holds depth · 4 values.
    unsafe {
        let b = |j: usize| _mm256_set1_ps(bias[j]);
        let mut a = [[b(0); 2], [b(1); 2], [b(2); 2], [b(3); 2]];
        let base = cols.as_ptr().add(p0);
        let w = wts.as_ptr();
        for k in 0..depth {
            let p = base.add(k * stride);
            let x0 = _mm256_loadu_ps(p);
            let x1 = _mm256_loadu_ps(p.add(8));
            for (j, a) in a.iter_mut().enumerate() {
                let wj = _mm256_set1_ps(*w.add(k * CO + j));
                a[0] = _mm256_fmadd_ps(wj, x0, a[0]);
                a[1] = _mm256_fmadd_ps(wj, x1, a[1]);
            }
        }
        let mut out = [[0f32; PX]; CO];
        for (o, a) in out.iter_mut().zip(&a) {
            _mm256_storeu_ps(o.as_mut_ptr(), a[0]);
            _mm256_storeu_ps(o.as_mut_ptr().add(8), a[1]);
        }
        out
    }
}

impl Op for SmallConv {
    fn name(&self) -> StaticName {
        "EmocueSmallConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{:?} → {} channels",
            self.geo, self.out_channels
        )])
    }

    op_as_typed_op!();
}

/// The eval of our one-input f32 ops: checks the input's length, then lets `run` fill
/// an output of `shape` (every op here writes every element, so it starts
/// uninitialised).
fn eval_f32(
    inputs: TVec<TValue>,
    len: usize,
    shape: &[usize],
    name: &str,
    run: impl FnOnce(&[f32], &mut [f32]),
) -> TractResult<TVec<TValue>> {
    let x = args_1!(inputs);
    let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
    ensure!(x.len() == len, "{name}: input size");
    // SAFETY: `run` writes every element before the tensor is read.
    let mut out = unsafe { Tensor::uninitialized::<f32>(shape)? };
    run(x, out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?);
    Ok(tvec!(out.into_tvalue()))
}

impl EvalOp for SmallConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (h, w) = self.geo.input;
        let mut cols = Vec::new();
        eval_f32(
            inputs,
            self.geo.channels * h * w,
            &self.output_shape(),
            "EmocueSmallConv",
            |x, out| self.run(x, out, &mut cols),
        )
    }
}

impl TypedOp for SmallConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(self.output_shape())))
    }

    as_op!();
}

/// Depthwise convolution (one filter per channel) of an NCHW f32 batch-1 tensor (or
/// CHW, as tract's decluttered graph holds it), any kernel size, stride and padding,
/// no dilation. Per channel it copies the zero-padded plane once into a scratch split
/// by column phase (`stride` phases, so that every tap reads a contiguous run), then
/// computes each output row in one pass, all taps of an output in registers: a loop
/// the compiler vectorises, with FMA where the CPU has it (chosen at run time on
/// x86_64). Summation order per output: bias, then the taps row by row; tract's own op
/// sums in another order, so results differ from it only by float rounding.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthWise {
    /// Channels.
    pub channels: usize,
    /// Input height and width.
    pub input: (usize, usize),
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Strides (rows, columns).
    pub stride: (usize, usize),
    /// Padding before and after (top, left) and (bottom, right).
    pub pad: ((usize, usize), (usize, usize)),
    /// Output height and width.
    pub output: (usize, usize),
    /// Weights `[C, KH, KW]`.
    pub weights: Vec<f32>,
    /// Bias `[C]`.
    pub bias: Vec<f32>,
    /// Whether the tensors are `[C, H, W]` rather than `[1, C, H, W]`.
    pub chw: bool,
}

impl Eq for DepthWise {}

impl std::hash::Hash for DepthWise {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (
            self.channels,
            self.input,
            self.kernel,
            self.stride,
            self.pad,
            self.output,
        )
            .hash(h);
        self.weights
            .iter()
            .chain(&self.bias)
            .for_each(|v| v.to_bits().hash(h));
    }
}

/// `w · x + acc`, fused when `FMA`.
#[inline(always)]
fn madd<const FMA: bool>(w: f32, x: f32, acc: f32) -> f32 {
    if FMA { w.mul_add(x, acc) } else { acc + w * x }
}

/// One output row of a `KH`×`KW` depthwise kernel with column stride `S`: `taps[k]` is
/// the input run tap `k` (row-major) reads, each at least `out.len()` long.
#[inline(always)]
fn dw_row<const FMA: bool, const K: usize>(
    out: &mut [f32],
    bias: f32,
    w: &[f32; K],
    taps: [&[f32]; K],
) {
    let n = out.len();
    for t in &taps {
        assert!(t.len() >= n);
    }
    for (i, o) in out.iter_mut().enumerate() {
        let mut acc = bias;
        for k in 0..K {
            // SAFETY: i < n <= taps[k].len(), asserted above.
            acc = madd::<FMA>(w[k], unsafe { *taps[k].get_unchecked(i) }, acc);
        }
        *o = acc;
    }
}

impl DepthWise {
    /// Padded width of one column phase of the scratch plane.
    fn phase_width(&self) -> usize {
        let (_, w) = self.input;
        let ((_, pl), (_, pr)) = self.pad;
        (w + pl + pr).div_ceil(self.stride.1)
    }

    /// Fills `out` (`[C, OH, OW]`) from `x` (`[C, H, W]`); `scratch` is reused.
    pub fn run(&self, x: &[f32], out: &mut [f32], scratch: &mut Vec<f32>) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features `run_avx2_fma` is compiled for.
            unsafe { self.run_avx2_fma(x, out, scratch) };
            return;
        }
        // aarch64 has fused multiply-add in its base instruction set.
        self.run_with::<{ cfg!(target_arch = "aarch64") }>(x, out, scratch);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2_fma(&self, x: &[f32], out: &mut [f32], scratch: &mut Vec<f32>) {
        self.run_with::<true>(x, out, scratch);
    }

    #[inline(always)]
    fn run_with<const FMA: bool>(&self, x: &[f32], out: &mut [f32], scratch: &mut Vec<f32>) {
        match (self.kernel, self.stride.1) {
            ((3, 3), 1) => self.run_k::<FMA, 3, 3, 9>(x, out, scratch, 1),
            ((3, 3), 2) => self.run_k::<FMA, 3, 3, 9>(x, out, scratch, 2),
            ((5, 5), 1) => self.run_k::<FMA, 5, 5, 25>(x, out, scratch, 1),
            ((5, 5), 2) => self.run_k::<FMA, 5, 5, 25>(x, out, scratch, 2),
            _ => self.run_any::<FMA>(x, out, scratch),
        }
    }

    /// Copies channel `c` of `x` into the zero-padded phase scratch: padded row r,
    /// phase p, column j at `scratch[(r·sw + p)·pw + j]` = padded[r][j·sw + p].
    #[inline(always)]
    fn fill_scratch(&self, x: &[f32], c: usize, scratch: &mut [f32]) {
        let (h, w) = self.input;
        let sw = self.stride.1;
        let ((pt, pl), _) = self.pad;
        let pw = self.phase_width();
        let plane = &x[c * h * w..][..h * w];
        for (iy, src) in plane.chunks_exact(w).enumerate() {
            let row = &mut scratch[(iy + pt) * sw * pw..][..sw * pw];
            if sw == 1 {
                row[pl..pl + w].copy_from_slice(src);
            } else if sw == 2 {
                // Padded column j = ix + pl: phase (j % 2), index j / 2.
                let (even, odd) = row.split_at_mut(pw);
                let (first, second) = if pl % 2 == 0 {
                    (even, odd)
                } else {
                    (odd, even)
                };
                let (o1, o2) = (pl / 2, pl.div_ceil(2));
                for (i, pair) in src.chunks_exact(2).enumerate() {
                    first[o1 + i] = pair[0];
                    second[o2 + i] = pair[1];
                }
                if w % 2 == 1 {
                    first[o1 + w / 2] = src[w - 1];
                }
            } else {
                for (ix, v) in src.iter().enumerate() {
                    let j = ix + pl;
                    row[(j % sw) * pw + j / sw] = *v;
                }
            }
        }
    }

    #[inline(always)]
    fn run_k<const FMA: bool, const KH: usize, const KW: usize, const K: usize>(
        &self,
        x: &[f32],
        out: &mut [f32],
        scratch: &mut Vec<f32>,
        sw: usize,
    ) {
        let (h, _) = self.input;
        let sh = self.stride.0;
        let ((pt, _), (pb, _)) = self.pad;
        let (oh, ow) = self.output;
        let pw = self.phase_width();
        let plane = (h + pt + pb) * sw * pw;
        scratch.clear();
        scratch.resize(plane, 0.0);
        if (sh, sw) == (1, 1) {
            // Stride 1: the outputs of all rows in one run over the padded plane, taps at
            // fixed offsets (`pw − ow` junk columns per row, dropped when copied out).
            let run = (oh - 1) * pw + ow;
            scratch.resize(plane + oh * pw, 0.0);
            let (padded, flat) = scratch.split_at_mut(plane);
            for c in 0..self.channels {
                self.fill_scratch(x, c, padded);
                let w: &[f32; K] = self.weights[c * K..][..K].try_into().expect("K = KH·KW");
                let taps: [&[f32]; K] =
                    std::array::from_fn(|k| &padded[(k / KW) * pw + k % KW..][..run]);
                dw_row::<FMA, K>(&mut flat[..run], self.bias[c], w, taps);
                let oplane = &mut out[c * oh * ow..][..oh * ow];
                for (orow, frow) in oplane.chunks_exact_mut(ow).zip(flat.chunks(pw)) {
                    orow.copy_from_slice(&frow[..ow]);
                }
            }
            return;
        }
        for c in 0..self.channels {
            self.fill_scratch(x, c, scratch);
            let w: &[f32; K] = self.weights[c * K..][..K].try_into().expect("K = KH·KW");
            let bias = self.bias[c];
            let oplane = &mut out[c * oh * ow..][..oh * ow];
            for (oy, orow) in oplane.chunks_exact_mut(ow).enumerate() {
                let taps: [&[f32]; K] = std::array::from_fn(|k| {
                    let (ky, kx) = (k / KW, k % KW);
                    let row = &scratch[((oy * sh + ky) * sw + kx % sw) * pw..][..pw];
                    &row[kx / sw..]
                });
                dw_row::<FMA, K>(orow, bias, w, taps);
            }
        }
        let _ = KH;
    }

    /// Any kernel size: each tap's weighted row added to the output row.
    #[inline(always)]
    fn run_any<const FMA: bool>(&self, x: &[f32], out: &mut [f32], scratch: &mut Vec<f32>) {
        let (h, _) = self.input;
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.stride;
        let ((pt, _), (pb, _)) = self.pad;
        let (oh, ow) = self.output;
        let pw = self.phase_width();
        scratch.clear();
        scratch.resize((h + pt + pb) * sw * pw, 0.0);
        for c in 0..self.channels {
            self.fill_scratch(x, c, scratch);
            let wts = &self.weights[c * kh * kw..][..kh * kw];
            let oplane = &mut out[c * oh * ow..][..oh * ow];
            for (oy, orow) in oplane.chunks_exact_mut(ow).enumerate() {
                orow.fill(self.bias[c]);
                for ky in 0..kh {
                    let row = &scratch[(oy * sh + ky) * sw * pw..][..sw * pw];
                    for kx in 0..kw {
                        let run = &row[(kx % sw) * pw + kx / sw..][..ow];
                        let wt = wts[ky * kw + kx];
                        for (o, v) in orow.iter_mut().zip(run) {
                            *o = madd::<FMA>(wt, *v, *o);
                        }
                    }
                }
            }
        }
    }

    fn output_shape(&self) -> TVec<usize> {
        let (oh, ow) = self.output;
        if self.chw {
            tvec!(self.channels, oh, ow)
        } else {
            tvec!(1, self.channels, oh, ow)
        }
    }
}

impl Op for DepthWise {
    fn name(&self) -> StaticName {
        "EmocueDepthWise".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "channels {} input {:?} kernel {:?} stride {:?} pad {:?}",
            self.channels, self.input, self.kernel, self.stride, self.pad
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for DepthWise {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (h, w) = self.input;
        let mut scratch = Vec::new();
        eval_f32(
            inputs,
            self.channels * h * w,
            &self.output_shape(),
            "EmocueDepthWise",
            |x, out| self.run(x, out, &mut scratch),
        )
    }
}

impl TypedOp for DepthWise {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(self.output_shape())))
    }

    as_op!();
}

/// What a [`Pool2x2`] takes of each window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// The largest value (the detector's pools, from row then column `Max`es).
    Max,
    /// The mean (the classifier's long-range connection from stage 1 to stage 2).
    Average,
}

/// 2×2 pool, stride 2, no padding, of an NCHW f32 tensor with even height and width,
/// in one pass with the operand order of the graph it replaces (bit-identical). The
/// detector's max pools are two `Max`es of strided slices; tract's average pool
/// visits each window through an iterator (1.4 ns an input value, 5 % of the int8
/// classifier).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pool2x2 {
    /// The input shape.
    pub shape: [usize; 4],
    /// Max or average.
    pub kind: PoolKind,
}

impl Pool2x2 {
    /// Fills `out` (`[N, C, H/2, W/2]`) from `x` (`[N, C, H, W]`).
    pub fn run(&self, x: &[f32], out: &mut [f32]) {
        let w = self.shape[3];
        let ow = w / 2;
        for (orow, rows) in out.chunks_exact_mut(ow).zip(x.chunks_exact(2 * w)) {
            let (top, bottom) = rows.split_at(w);
            let windows = orow
                .iter_mut()
                .zip(top.chunks_exact(2))
                .zip(bottom.chunks_exact(2));
            match self.kind {
                // Rows first, then columns, as the slice graph does.
                PoolKind::Max => {
                    windows.for_each(|((o, t), b)| *o = t[0].max(b[0]).max(t[1].max(b[1])))
                }
                // tract's order: a sum from 0 over the window row by row, then × 1/4.
                PoolKind::Average => {
                    windows.for_each(|((o, t), b)| *o = (0.0 + t[0] + t[1] + b[0] + b[1]) * 0.25)
                }
            }
        }
    }

    fn output_shape(&self) -> [usize; 4] {
        let [n, c, h, w] = self.shape;
        [n, c, h / 2, w / 2]
    }

    fn op_name(&self) -> &'static str {
        match self.kind {
            PoolKind::Max => "EmocueMaxPool2x2",
            PoolKind::Average => "EmocueAvgPool2x2",
        }
    }
}

impl Op for Pool2x2 {
    fn name(&self) -> StaticName {
        self.op_name().into()
    }

    op_as_typed_op!();
}

impl EvalOp for Pool2x2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        eval_f32(
            inputs,
            self.shape.iter().product(),
            &self.output_shape(),
            self.op_name(),
            |x, out| self.run(x, out),
        )
    }
}

impl TypedOp for Pool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(self.output_shape())))
    }

    as_op!();
}

/// The average [`Pool2x2`] for `node` if it is a 2×2, stride-2, unpadded averaging
/// pool of a rank-4 batch-1 NCHW tensor with even sides.
fn avg_pool_for(model: &TypedModel, node: &TypedNode) -> TractResult<Option<Pool2x2>> {
    let Some(pool) = node.op_as::<SumPool>() else {
        return Ok(None);
    };
    let ps = &pool.pool_spec;
    let unpadded = match &ps.padding {
        PaddingSpec::Valid => true,
        PaddingSpec::Explicit(a, b) => a.iter().chain(b).all(|&p| p == 0),
        _ => false,
    };
    if !pool.normalize
        || !unpadded
        || ps.data_format != DataFormat::NCHW
        || ps.kernel_shape.as_slice() != [2, 2]
        || (0..2).any(|i| ps.stride(i) != 2 || ps.dilation(i) != 1)
        || model.outlet_fact(node.inputs[0])?.rank() != 4
    {
        return Ok(None);
    }
    Ok(nchw1(model, node.inputs[0])?
        .filter(|s| s[2] % 2 == 0 && s[3] % 2 == 0)
        .map(|shape| Pool2x2 {
            shape,
            kind: PoolKind::Average,
        }))
}

/// A 1×1 convolution of an NCHW (or CHW) f32 batch-1 tensor, read in place: output
/// channels in blocks of [`CO`] times [`PX`] pixels of every input channel's row, the
/// same register blocks as [`SmallConv`], with no packing of the activations (tract
/// packs every activation tensor into its kernel's panel layout first, 10 % of the
/// detector's time). Pixels outer, channel blocks inner, so the [`PX`] columns of all
/// input channels stay in L1 while every block reads them. Summation order per
/// output: bias, then the input channels in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Pointwise {
    /// Input channels.
    pub channels: usize,
    /// Pixels per channel (H·W).
    pub pixels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Output shape as the graph holds it.
    pub out_shape: TVec<usize>,
    /// Kernel `[O', C, CO]` blocked by [`CO`] output channels (zeros past O).
    pub weights: Vec<f32>,
    /// Bias `[O]`, rounded up to a multiple of [`CO`] with zeros.
    pub bias: Vec<f32>,
}

impl Eq for Pointwise {}

impl std::hash::Hash for Pointwise {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.channels, self.pixels, self.out_channels).hash(h);
        self.weights
            .iter()
            .chain(&self.bias)
            .for_each(|v| v.to_bits().hash(h));
    }
}

impl Pointwise {
    /// The op for weights `[O, C]` and bias `[O]`.
    pub fn new(
        channels: usize,
        pixels: usize,
        out_shape: TVec<usize>,
        kernel: &[f32],
        bias: &[f32],
    ) -> Self {
        let o = bias.len();
        let blocks = o.div_ceil(CO);
        let mut weights = vec![0.0; blocks * channels * CO];
        for oc in 0..o {
            for k in 0..channels {
                weights[((oc / CO) * channels + k) * CO + oc % CO] = kernel[oc * channels + k];
            }
        }
        let mut b = bias.to_vec();
        b.resize(blocks * CO, 0.0);
        Pointwise {
            channels,
            pixels,
            out_channels: o,
            out_shape,
            weights,
            bias: b,
        }
    }

    /// Fills `out` (`[O, P]`) from `x` (`[C, P]`); `tail` is scratch for the last
    /// pixels when P is not a multiple of [`PX`].
    pub fn run(&self, x: &[f32], out: &mut [f32], tail: &mut Vec<f32>) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features `run_avx2_fma` is compiled for.
            unsafe { self.run_avx2_fma(x, out, tail) };
            return;
        }
        self.run_with::<{ cfg!(target_arch = "aarch64") }>(x, out, tail);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2_fma(&self, x: &[f32], out: &mut [f32], tail: &mut Vec<f32>) {
        self.run_with::<true>(x, out, tail);
    }

    #[inline(always)]
    fn run_with<const FMA: bool>(&self, x: &[f32], out: &mut [f32], tail: &mut Vec<f32>) {
        let (c, p, o) = (self.channels, self.pixels, self.out_channels);
        let blocks = || {
            self.weights
                .chunks_exact(c * CO)
                .zip(self.bias.chunks_exact(CO))
                .enumerate()
        };
        let write = |out: &mut [f32], blk: usize, acc: &[[f32; PX]; CO], p0: usize, n: usize| {
            for (j, a) in acc.iter().enumerate().take(o - blk * CO) {
                out[(blk * CO + j) * p + p0..][..n].copy_from_slice(&a[..n]);
            }
        };
        let full = p / PX * PX;
        for p0 in (0..full).step_by(PX) {
            for (blk, (wts, bias)) in blocks() {
                let bias: &[f32; CO] = bias.try_into().expect("CO");
                write(out, blk, &block::<FMA>(wts, bias, x, p, p0), p0, PX);
            }
        }
        if full < p {
            let n = p - full;
            tail.clear();
            tail.resize(c * PX, 0.0);
            for (ch, t) in tail.chunks_exact_mut(PX).enumerate() {
                t[..n].copy_from_slice(&x[ch * p + full..][..n]);
            }
            for (blk, (wts, bias)) in blocks() {
                let bias: &[f32; CO] = bias.try_into().expect("CO");
                write(out, blk, &block::<FMA>(wts, bias, tail, PX, 0), full, n);
            }
        }
    }
}

impl Op for Pointwise {
    fn name(&self) -> StaticName {
        "EmocuePointwise".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} channels × {} pixels → {} channels",
            self.channels, self.pixels, self.out_channels
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for Pointwise {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut tail = Vec::new();
        eval_f32(
            inputs,
            self.channels * self.pixels,
            &self.out_shape,
            "EmocuePointwise",
            |x, out| self.run(x, out, &mut tail),
        )
    }
}

impl TypedOp for Pointwise {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(&*self.out_shape)))
    }

    as_op!();
}

/// What [`rewrite`] replaced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    /// Convolutions with a shallow patch now run as [`SmallConv`].
    pub small_convs: usize,
    /// Row/column max pools now run as one [`Pool2x2`].
    pub max_pools: usize,
    /// 2×2 average pools now run as our [`Pool2x2`].
    pub avg_pools: usize,
    /// Depthwise convolutions now run as our [`DepthWise`].
    pub depthwise: usize,
    /// 1×1 convolutions now run as our [`Pointwise`].
    pub pointwise: usize,
}

/// The concrete f32 NCHW batch-1 shape of `outlet`, if it has one (a rank-3 tensor, as
/// tract's decluttered graph holds a CHW one, counts as batch 1).
pub(crate) fn nchw1(model: &TypedModel, outlet: OutletId) -> TractResult<Option<[usize; 4]>> {
    let fact = model.outlet_fact(outlet)?;
    if fact.datum_type != f32::datum_type() {
        return Ok(None);
    }
    Ok(fact.shape.as_concrete().and_then(|s| match *s {
        [1, c, h, w] => Some([1, c, h, w]),
        [c, h, w] => Some([1, c, h, w]),
        _ => None,
    }))
}

/// The [`SmallConv`] replacing `node`, a convolution with a shallow patch.
fn small_conv_for(model: &TypedModel, node: &TypedNode) -> TractResult<Option<SmallConv>> {
    let Some(conv) = node.op_as::<Conv>() else {
        return Ok(None);
    };
    let ps = &conv.pool_spec;
    if conv.q_params.is_some()
        || conv.group != 1
        || conv.kernel_fmt != KernelFormat::OIHW
        || ps.data_format != DataFormat::NCHW
        || ps.kernel_shape.len() != 2
        || node.inputs.len() != 3
        || matches!(ps.padding, PaddingSpec::ExplicitOnnxPool(..))
    {
        return Ok(None);
    }
    let Some([_, c, h, w]) = nchw1(model, node.inputs[0])? else {
        return Ok(None);
    };
    let (kh, kw) = (ps.kernel_shape[0], ps.kernel_shape[1]);
    let stride = (ps.stride(0), ps.stride(1));
    if c * kh * kw > MAX_IM2COL_DEPTH || kh * kw < 2 {
        return Ok(None);
    }
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
    if kernel.len() != o * c * kh * kw {
        return Ok(None);
    }
    let dilation = (ps.dilation(0), ps.dilation(1));
    let rows = ps.padding.compute_one(0, &h, kh, dilation.0, stride.0);
    let cols = ps.padding.compute_one(1, &w, kw, dilation.1, stride.1);
    if rows.convoluted == 0 || cols.convoluted == 0 {
        return Ok(None);
    }
    let geo = Im2col {
        channels: c,
        input: (h, w),
        kernel: (kh, kw),
        stride,
        dilation,
        pad: (rows.pad_before, cols.pad_before),
        output: (rows.convoluted, cols.convoluted),
    };
    Ok(Some(SmallConv::new(geo, &kernel, &bias)))
}

/// The values of a constant f32 input.
pub(crate) fn const_f32(model: &TypedModel, outlet: OutletId) -> TractResult<Option<Vec<f32>>> {
    let Some(t) = model.outlet_fact(outlet)?.konst.clone() else {
        return Ok(None);
    };
    if t.datum_type() != f32::datum_type() {
        return Ok(None);
    }
    Ok(Some(t.try_as_plain_ram()?.as_slice::<f32>()?.to_vec()))
}

/// A 1×1 convolution as tract's decluttered graph holds it: an `EinSum` of a batch-1
/// `[1, C, H, W]` or `[C, H, W]` input and `[O, C]` weights into `[1, O, H, W]` or
/// `[O, H, W]` (the same memory either way), with its bias, found by
/// [`pointwise_parts`].
pub(crate) struct PointwiseParts {
    /// Input channels, height, width.
    pub input: (usize, usize, usize),
    /// Weights `[O, C]`.
    pub kernel: Vec<f32>,
    /// Bias `[O]` (zeros if the product has none).
    pub bias: Vec<f32>,
    /// The product's output shape.
    pub out_shape: TVec<usize>,
    /// The outlet a replacement takes over: the bias `Add`'s, or the product's own.
    pub end: OutletId,
}

/// `node` as a [`PointwiseParts`], if it is one. Its bias is the `Add` of an
/// `[.., O, 1, 1]` constant that is the product's only consumer.
pub(crate) fn pointwise_parts(
    model: &TypedModel,
    node: &TypedNode,
) -> TractResult<Option<PointwiseParts>> {
    let Some(einsum) = node.op_as::<EinSum>() else {
        return Ok(None);
    };
    let axes = einsum.axes.to_string();
    if einsum.q_params.is_some()
        || einsum.operating_dt != f32::datum_type()
        || !matches!(
            axes.as_str(),
            "NIHW,OI->NOHW" | "NIHW,OI->OHW" | "IHW,OI->NOHW" | "IHW,OI->OHW"
        )
        || node.inputs.len() != 2
    {
        return Ok(None);
    }
    let Some([_, c, h, w]) = nchw1(model, node.inputs[0])? else {
        return Ok(None);
    };
    let Some(kernel) = const_f32(model, node.inputs[1])? else {
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
    if c == 0 || !kernel.len().is_multiple_of(c) {
        return Ok(None);
    }
    let o = kernel.len() / c;
    if out_shape.iter().product::<usize>() != o * h * w || out_shape.iter().rev().nth(2) != Some(&o)
    {
        return Ok(None);
    }
    let mut bias = vec![0.0; o];
    let mut end = OutletId::new(node.id, 0);
    if let [next] = &node.outputs[0].successors[..] {
        let add = model.node(next.node);
        let is_add = add
            .op_as::<TypedBinOp>()
            .is_some_and(|b| b.0.downcast_ref::<Add>().is_some());
        if is_add && add.inputs.len() == 2 {
            let other = add.inputs[1 - next.slot.min(1)];
            if let Some(b) = const_f32(model, other)? {
                let shape = model.outlet_fact(other)?.shape.clone();
                let per_channel = shape.as_concrete().is_some_and(|s| {
                    s.len() >= 3 && s[s.len() - 3] == o && s[s.len() - 2..] == [1, 1]
                });
                if b.len() == o
                    && per_channel
                    && model.outlet_fact(OutletId::new(add.id, 0))?.shape
                        == model.outlet_fact(end)?.shape
                {
                    bias = b;
                    end = OutletId::new(add.id, 0);
                }
            }
        }
    }
    Ok(Some(PointwiseParts {
        input: (c, h, w),
        kernel,
        bias,
        out_shape,
        end,
    }))
}

/// The [`DepthWise`] replacing `node`, a depthwise `Conv` with constant weights.
fn depthwise_for(model: &TypedModel, node: &TypedNode) -> TractResult<Option<DepthWise>> {
    let Some(conv) = node.op_as::<Conv>() else {
        return Ok(None);
    };
    let ps = &conv.pool_spec;
    let chw = ps.data_format == DataFormat::CHW;
    let Some([_, c, h, w]) = nchw1(model, node.inputs[0])? else {
        return Ok(None);
    };
    if conv.q_params.is_some()
        || conv.group != c
        || ps.input_channels != c
        || ps.output_channels != c
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
    let (kh, kw) = (ps.kernel_shape[0], ps.kernel_shape[1]);
    let (Some(weights), Some(bias)) = (
        const_f32(model, node.inputs[1])?,
        const_f32(model, node.inputs[2])?,
    ) else {
        return Ok(None);
    };
    let bias = match bias.len() {
        1 => vec![bias[0]; c],
        n if n == c => bias,
        _ => return Ok(None),
    };
    if weights.len() != c * kh * kw {
        return Ok(None);
    }
    let stride = (ps.stride(0), ps.stride(1));
    let rows = ps.padding.compute_one(0, &h, kh, 1, stride.0);
    let cols = ps.padding.compute_one(1, &w, kw, 1, stride.1);
    let op = DepthWise {
        channels: c,
        input: (h, w),
        kernel: (kh, kw),
        stride,
        pad: (
            (rows.pad_before, cols.pad_before),
            (rows.pad_after, cols.pad_after),
        ),
        output: (rows.convoluted, cols.convoluted),
        weights,
        bias,
        chw,
    };
    // Every tap of every output must fall inside the padded plane.
    let (oh, ow) = op.output;
    let ok = oh > 0
        && ow > 0
        && (oh - 1) * stride.0 + kh <= h + rows.pad_before + rows.pad_after
        && (ow - 1) + (kw - 1) / stride.1 < op.phase_width()
        && (ow - 1) * stride.1 + kw <= w + cols.pad_before + cols.pad_after;
    Ok(ok.then_some(op))
}

/// `x` if `node` is a `Max` of the even and odd (`stride 2`) slices of `x` along `axis`.
fn even_odd_max(model: &TypedModel, node: &TypedNode, axis: usize) -> Option<OutletId> {
    let bin = node.op_as::<TypedBinOp>()?;
    bin.0.downcast_ref::<Max>()?;
    let slice = |i: usize| {
        let n = model.node(node.inputs[i].node);
        let d = n.op_as::<Downsample>()?;
        (d.axis == axis && d.stride == 2).then_some((n.inputs[0], d.modulo))
    };
    let (a, ma) = slice(0)?;
    let (b, mb) = slice(1)?;
    (a == b && ma + mb == 1).then_some(a)
}

/// Replaces the outlet `end` of `model` by `op` applied to `input` (a one-input op of
/// ours), named after `node_name` with `suffix`: every rewrite here and in
/// [`crate::qconv`] is this patch.
pub(crate) fn swap_in(
    model: &mut TypedModel,
    input: OutletId,
    end: OutletId,
    node_name: &str,
    suffix: &str,
    op: impl Into<Box<dyn TypedOp>>,
) -> TractResult<()> {
    let mut patch = TypedModelPatch::new(suffix);
    let x = patch.tap_model(model, input)?;
    let y = patch.wire_node(format!("{node_name}.{suffix}"), op, &[x])?[0];
    patch.shunt_outside(model, end, y)?;
    patch.apply(model)
}

/// Replaces, in a typed graph, each convolution with a shallow patch by a
/// [`SmallConv`], each depthwise convolution by a [`DepthWise`], and each 2×2 max pool written as row then column `Max`es of strided
/// slices by one [`Pool2x2`] (see the module docs).
pub fn rewrite(model: &mut TypedModel) -> TractResult<Rewritten> {
    let mut done = Rewritten::default();
    for id in model.eval_order()? {
        let node = model.node(id);
        let (name, here) = (node.name.clone(), OutletId::new(id, 0));
        // Every pattern here has an input (a source has none).
        let Some(&input) = node.inputs.first() else {
            continue;
        };
        if let Some(op) = small_conv_for(model, node)? {
            swap_in(model, input, here, &name, "emocue_conv", op)?;
            done.small_convs += 1;
            continue;
        }
        if let Some(op) = depthwise_for(model, node)? {
            swap_in(model, input, here, &name, "emocue_dw", op)?;
            done.depthwise += 1;
            continue;
        }
        if let Some(op) = avg_pool_for(model, node)? {
            swap_in(model, input, here, &name, "emocue_avgpool", op)?;
            done.avg_pools += 1;
            continue;
        }
        if let Some(pw) = pointwise_parts(model, node)? {
            let (c, h, w) = pw.input;
            let op = Pointwise::new(c, h * w, pw.out_shape, &pw.kernel, &pw.bias);
            swap_in(model, input, pw.end, &name, "emocue_pw", op)?;
            done.pointwise += 1;
            continue;
        }
        // The column max of a row max of the same tensor: a 2×2 pool.
        let Some(rows) = even_odd_max(model, node, 3) else {
            continue;
        };
        let Some(x) = even_odd_max(model, model.node(rows.node), 2) else {
            continue;
        };
        let Some(shape) = nchw1(model, x)?.filter(|s| s[2] % 2 == 0 && s[3] % 2 == 0) else {
            continue;
        };
        if model.outlet_fact(x)?.rank() != 4 {
            continue;
        }
        let op = Pool2x2 {
            shape,
            kind: PoolKind::Max,
        };
        swap_in(model, x, here, &name, "emocue_pool", op)?;
        done.max_pools += 1;
    }
    if done != Rewritten::default() {
        model.compact()?;
    }
    Ok(done)
}

/// `dst = src` for the short runs the convolutions write (a row of at most a few dozen
/// values): fixed-size moves the compiler inlines, where `copy_from_slice` of an
/// unknown length is a call to `memcpy` (thousands per image: 7 % of the int8
/// classifier's time before).
#[inline(always)]
pub(crate) fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    /// The first and last `N` of `src` (`N ≤ len ≤ 2N`, so the two cover it).
    #[inline(always)]
    fn ends<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) {
        if let (Some(d), Some(s)) = (dst.first_chunk_mut::<N>(), src.first_chunk::<N>()) {
            *d = *s;
        }
        if let (Some(d), Some(s)) = (dst.last_chunk_mut::<N>(), src.last_chunk::<N>()) {
            *d = *s;
        }
    }
    assert_eq!(dst.len(), src.len());
    let (mut dst, mut src) = (dst, src);
    while dst.len() > 16 {
        let (d, rest) = dst.split_at_mut(8);
        ends::<T, 8>(d, &src[..8]);
        (dst, src) = (rest, &src[8..]);
    }
    match dst.len() {
        8.. => ends::<T, 8>(dst, src),
        4.. => ends::<T, 4>(dst, src),
        _ => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::PoolSpec;

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 * 0.7311 + seed).sin() * 43758.547).fract() - 0.5)
            .collect()
    }

    /// One convolution (NCHW, OIHW, constant kernel and bias) of an `[1, c, h, w]` input.
    #[allow(clippy::too_many_arguments)]
    fn conv_model(
        (c, h, w): (usize, usize, usize),
        o: usize,
        group: usize,
        (kh, kw): (usize, usize),
        stride: (usize, usize),
        (before, after): ((usize, usize), (usize, usize)),
    ) -> TypedModel {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([1, c, h, w])).unwrap();
        let kernel = Tensor::from_shape(
            &[o, c / group, kh, kw],
            &values(o * c / group * kh * kw, 1.0),
        );
        let k = model.add_const("k", kernel.unwrap()).unwrap();
        let b = model
            .add_const("b", Tensor::from_shape(&[o], &values(o, 2.0)).unwrap())
            .unwrap();
        let pool_spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec!(kh, kw),
            padding: PaddingSpec::Explicit(tvec!(before.0, before.1), tvec!(after.0, after.1)),
            dilations: None,
            strides: Some(tvec!(stride.0, stride.1)),
            input_channels: c,
            output_channels: o,
        };
        let conv = Conv {
            pool_spec,
            kernel_fmt: KernelFormat::OIHW,
            group,
            q_params: None,
        };
        let y = model.wire_node("conv", conv, &[x, k, b]).unwrap();
        model.select_output_outlets(&y).unwrap();
        model
    }

    /// Runs `model` as tract optimises it, and after [`rewrite`]; returns both outputs
    /// and what was rewritten.
    fn both(model: TypedModel, input: &[usize]) -> (Vec<f32>, Vec<f32>, Rewritten) {
        let x = Tensor::from_shape(input, &values(input.iter().product(), 3.0)).unwrap();
        let run = |m: TypedModel| -> Vec<f32> {
            let out = m
                .into_runnable()
                .unwrap()
                .run(tvec!(x.clone().into_tvalue()))
                .unwrap();
            out[0]
                .to_plain_array_view::<f32>()
                .unwrap()
                .iter()
                .copied()
                .collect()
        };
        let plain = run(model.clone().into_optimized().unwrap());
        let mut ours = model.into_decluttered().unwrap();
        let done = rewrite(&mut ours).unwrap();
        (plain, run(ours.into_optimized().unwrap()), done)
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + x.abs()),
                "element {i}: {x} vs {y}"
            );
        }
    }

    #[test]
    fn depthwise_matches_tract() {
        type Case = (
            (usize, usize, usize),
            (usize, usize),
            (usize, usize),
            ((usize, usize), (usize, usize)),
        );
        let cases: [Case; 7] = [
            ((32, 12, 12), (3, 3), (1, 1), ((1, 1), (1, 1))),
            // BlazeFace's stride-2 blocks: TF "SAME", the extra row and column at the end.
            ((16, 12, 12), (3, 3), (2, 2), ((0, 0), (1, 1))),
            ((8, 7, 9), (3, 3), (2, 2), ((1, 1), (1, 1))),
            ((8, 6, 6), (5, 5), (1, 1), ((2, 2), (2, 2))),
            ((4, 11, 10), (5, 5), (2, 2), ((1, 2), (2, 1))),
            ((4, 9, 8), (3, 1), (1, 1), ((1, 0), (1, 0))),
            ((3, 10, 10), (2, 3), (3, 2), ((0, 1), (1, 0))),
        ];
        for (shape, k, s, pad) in cases {
            let model = conv_model(shape, shape.0, shape.0, k, s, pad);
            let (plain, ours, done) = both(model, &[1, shape.0, shape.1, shape.2]);
            assert_eq!(done.depthwise, 1, "{shape:?} {k:?} {s:?}");
            close(&plain, &ours);
        }
    }

    #[test]
    fn small_conv_matches_tract() {
        // BlazeFace's stem, smaller; then odd sizes, channels not a multiple of 4,
        // symmetric padding, a 5x5 kernel, rows wider than one 16-pixel block.
        let cases = [
            ((3, 24, 24), 32, (3, 3), (2, 2), ((0, 0), (1, 1))),
            ((3, 13, 37), 6, (3, 3), (2, 2), ((1, 1), (1, 1))),
            ((2, 15, 11), 5, (5, 5), (2, 1), ((2, 2), (2, 2))),
            ((1, 9, 40), 3, (3, 2), (1, 3), ((0, 0), (0, 1))),
        ];
        for (shape, o, k, s, pad) in cases {
            let model = conv_model(shape, o, 1, k, s, pad);
            let (plain, ours, done) = both(model, &[1, shape.0, shape.1, shape.2]);
            assert_eq!(done.small_convs, 1, "{shape:?} {k:?} {s:?}");
            close(&plain, &ours);
        }
        // Stride 1, as the classifiers' stem (one channel, 48x48).
        let model = conv_model((1, 48, 48), 16, 1, (3, 3), (1, 1), ((1, 1), (1, 1)));
        let (plain, ours, done) = both(model, &[1, 1, 48, 48]);
        assert_eq!(done.small_convs, 1);
        close(&plain, &ours);
        // A deep patch: tract's own path.
        let model = conv_model((8, 8, 8), 4, 1, (3, 3), (2, 2), ((1, 1), (1, 1)));
        assert_eq!(both(model, &[1, 8, 8, 8]).2, Rewritten::default());
    }

    #[test]
    fn pointwise_matches_tract() {
        // BlazeFace's first 1x1 (32 -> 8), at 32x32; pixels not a multiple of 16 and
        // output channels not of 4; fewer pixels than one block; more outputs than
        // inputs.
        for (shape, o) in [
            ((32, 32, 32), 8),
            ((13, 5, 7), 6),
            ((3, 3, 3), 17),
            ((24, 12, 12), 96),
        ] {
            let model = conv_model(shape, o, 1, (1, 1), (1, 1), ((0, 0), (0, 0)));
            let (plain, ours, done) = both(model, &[1, shape.0, shape.1, shape.2]);
            let want = Rewritten {
                pointwise: 1,
                ..Rewritten::default()
            };
            assert_eq!(done, want, "{shape:?} -> {o}");
            close(&plain, &ours);
        }
        // A strided 1x1: tract's declutter subsamples first, then the same product.
        let model = conv_model((8, 8, 8), 4, 1, (1, 1), (2, 2), ((0, 0), (0, 0)));
        let (plain, ours, done) = both(model, &[1, 8, 8, 8]);
        assert_eq!(done.pointwise, 1);
        close(&plain, &ours);
    }

    #[test]
    fn max_pool_is_bit_identical_to_the_slice_graph() {
        // training/tools/blazeface_graph.py's form: max of even and odd rows, then columns.
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([1, 5, 8, 6])).unwrap();
        let mut pool = |x: OutletId, axis: usize, name: &str| {
            let even = model.wire_node(format!("{name}0"), Downsample::new(axis, 2, 0), &[x]);
            let odd = model.wire_node(format!("{name}1"), Downsample::new(axis, 2, 1), &[x]);
            let op = TypedBinOp(Box::new(Max), None);
            model
                .wire_node(name, op, &[even.unwrap()[0], odd.unwrap()[0]])
                .unwrap()[0]
        };
        let rows = pool(x, 2, "rows");
        let y = pool(rows, 3, "cols");
        model.select_output_outlets(&[y]).unwrap();
        let (plain, ours, done) = both(model, &[1, 5, 8, 6]);
        assert_eq!(done.max_pools, 1);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&plain), bits(&ours));
    }

    #[test]
    fn avg_pool_is_bit_identical_to_tracts() {
        use tract_onnx::tract_core::ops::cnn::PoolSpec;
        for (shape, stride, fits) in [([1, 5, 8, 6], 2, true), ([1, 3, 4, 4], 1, false)] {
            let mut model = TypedModel::default();
            let x = model.add_source("x", f32::fact(shape)).unwrap();
            let spec = PoolSpec {
                data_format: DataFormat::NCHW,
                kernel_shape: tvec!(2, 2),
                padding: PaddingSpec::Valid,
                dilations: None,
                strides: Some(tvec!(stride, stride)),
                input_channels: shape[1],
                output_channels: shape[1],
            };
            let y = model
                .wire_node("pool", SumPool::new(spec, true, true), &[x])
                .unwrap();
            model.select_output_outlets(&y).unwrap();
            let (plain, ours, done) = both(model, &shape);
            assert_eq!(done.avg_pools, usize::from(fits), "stride {stride}");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&plain), bits(&ours));
        }
    }

    #[test]
    fn the_detector_runs_our_ops_with_its_outputs_unchanged() {
        let path = crate::bundled_path("models/blazeface_full_range.onnx");
        let file = crate::onnx::OnnxFile::load(&path, "").unwrap();
        let shape = [1usize, 3, 192, 192];
        let mut typed = file
            .model
            .clone()
            .with_input_fact(0, f32::fact(shape).into())
            .unwrap()
            .into_typed()
            .unwrap()
            .into_decluttered()
            .unwrap();
        let plain = typed
            .clone()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap();
        let done = rewrite(&mut typed).unwrap();
        // On aarch64 tract's decluttering lays 16 of the 40 depthwise convolutions out
        // channel-last (HWC), which its own kernels run, and with them 32 of the 46 1x1
        // convolutions; ours take the channel-first ones.
        let (depthwise, pointwise) = if cfg!(target_arch = "aarch64") {
            (24, 14)
        } else {
            (40, 46)
        };
        assert_eq!(
            done,
            Rewritten {
                small_convs: 1,
                max_pools: 4,
                avg_pools: 0,
                depthwise,
                pointwise,
            }
        );
        let ours = typed.into_optimized().unwrap().into_runnable().unwrap();
        let x = Tensor::from_shape(&shape, &values(shape.iter().product(), 4.0)).unwrap();
        let a = plain.run(tvec!(x.clone().into_tvalue())).unwrap();
        let b = ours.run(tvec!(x.into_tvalue())).unwrap();
        for (a, b) in a.iter().zip(&b) {
            let (a, b) = (
                a.to_plain_array_view::<f32>().unwrap(),
                b.to_plain_array_view::<f32>().unwrap(),
            );
            let worst = a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            // Regressors are in input pixels (up to a few hundred), scores are logits.
            assert!(worst < 1e-3, "max difference {worst}");
        }
    }
}
