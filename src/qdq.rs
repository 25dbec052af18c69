//! Our extension to tract for QDQ int8 graphs (issue 20): one vectorised op for each
//! `QuantizeLinear → DequantizeLinear` pair.
//!
//! A static int8 file in QDQ form (`models/emotionnet_nano_b.int8.onnx`, what
//! onnxruntime's `quantize_static` writes) puts a `QuantizeLinear` and a
//! `DequantizeLinear` on every activation. Runtimes with fused int8 kernels read the
//! pairs as "this tensor is uint8". tract 0.23 does not fuse them into its integer
//! convolution: it runs the graph as written, f32 convolutions with the weights
//! dequantised once at load, and a quantize and a dequantize pass over every
//! activation. Its `QuantizeLinearU8` is a scalar loop (about 3 ns an element here), so
//! those passes took 58 % of the network's time (`emocue bench --profile`).
//!
//! [`fuse_qdq_pairs`] rewrites each pair, in the typed graph before tract optimises
//! it, into one [`QdqRound`]: the same arithmetic (`x · (1/scale)`, rounded half to
//! even, clamped to the integer range, minus the zero point, times the scale) in a
//! loop the compiler vectorises, in place, with no uint8 tensor in between. The
//! result is bit-identical to tract's two ops for every finite input and for NaN
//! (both give 0; `tests` below compare them; tract's own op overflows on values beyond
//! 2^31 steps, ours saturates), so accuracy does not change. It applies
//! to any model [`crate::onnx::OnnxFile`] loads; an f32 graph has no pairs and is left
//! as it is.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::element_wise::{ElementWiseMiniOp, ElementWiseOp};
use tract_onnx::tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearI8, QuantizeLinearU8};

/// `QuantizeLinear` then `DequantizeLinear` (per tensor) as one f32 → f32 op:
/// `y = (clamp(round_half_even(x · inv_scale), lo, hi) + shift) · scale`, where
/// `lo..=hi` is the integer range minus the quantize zero point and `shift` is the
/// quantize zero point minus the dequantize one (0 for the pairs a quantizer writes).
#[derive(Debug, Clone)]
pub struct QdqRound {
    /// `1/scale` of the `QuantizeLinear`, as tract multiplies by it.
    pub inv_scale: f32,
    /// Lowest integer value minus the quantize zero point.
    pub lo: f32,
    /// Highest integer value minus the quantize zero point.
    pub hi: f32,
    /// Quantize zero point minus dequantize zero point.
    pub shift: f32,
    /// `scale` of the `DequantizeLinear`.
    pub scale: f32,
}

impl PartialEq for QdqRound {
    fn eq(&self, o: &Self) -> bool {
        let bits = |q: &Self| [q.inv_scale, q.lo, q.hi, q.shift, q.scale].map(f32::to_bits);
        bits(self) == bits(o)
    }
}

impl Eq for QdqRound {}

/// Adding then subtracting 1.5 · 2^23 rounds an f32 of magnitude below 2^22 to an
/// integer, half to even (the default rounding mode), in two vectorisable adds on
/// every target (SSE2, NEON), where `f32::round_ties_even` is a library call without
/// SSE4.1.
pub(crate) const ROUND_MAGIC: f32 = 12_582_912.0;

impl QdqRound {
    /// The op equal to tract's `QuantizeLinearU8`/`I8` (`q_scale` is its multiplier,
    /// `1/scale`) followed by its `DequantizeLinearF32`.
    pub fn new(
        q_scale: f32,
        q_zero: i32,
        (min, max): (i32, i32),
        dq: &DequantizeLinearF32,
    ) -> Self {
        QdqRound {
            inv_scale: q_scale,
            lo: (min - q_zero) as f32,
            hi: (max - q_zero) as f32,
            shift: (q_zero - dq.zero_point) as f32,
            scale: dq.scale,
        }
    }

    /// Applies the op to `xs` in place.
    pub fn run(&self, xs: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the features `run_avx2` is compiled for.
            unsafe { self.run_avx2(xs) };
            return;
        }
        for x in xs {
            *x = self.apply(*x);
        }
    }

    /// [`QdqRound::run`] 8 values at a time, with the same result bit for bit (the
    /// scalar loop does not vectorise: its NaN rule is a branch).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&self, xs: &mut [f32]) {
        use std::arch::x86_64::*;
        let n = xs.len() / 8 * 8;
        let r = self.lanes();
        // SAFETY (whole body): every load and store is of 8 elements at i < n.
        unsafe {
            for i in (0..n).step_by(8) {
                let p = xs.as_mut_ptr().add(i);
                _mm256_storeu_ps(p, r.apply(_mm256_loadu_ps(p)));
            }
        }
        for x in &mut xs[n..] {
            *x = self.apply(*x);
        }
    }

    /// `xs[i] = apply(xs[i] + add[i])`: a residual sum and the round after it in one
    /// pass, bit for bit tract's `Add` then this op.
    pub fn run_sum(&self, xs: &mut [f32], add: &[f32]) {
        assert_eq!(xs.len(), add.len());
        #[cfg(target_arch = "x86_64")]
        let done = if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the features `run_sum_avx2` is compiled for.
            unsafe { self.run_sum_avx2(xs, add) }
        } else {
            0
        };
        #[cfg(not(target_arch = "x86_64"))]
        let done = 0;
        for (x, &a) in xs[done..].iter_mut().zip(&add[done..]) {
            *x = self.apply(*x + a);
        }
    }

    /// [`QdqRound::run_sum`] on the whole eights of `xs`; returns how many it did.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_sum_avx2(&self, xs: &mut [f32], add: &[f32]) -> usize {
        use std::arch::x86_64::*;
        let n = xs.len().min(add.len()) / 8 * 8;
        let r = self.lanes();
        // SAFETY (whole body): every load and store is of 8 elements at i < n, within
        // both slices.
        unsafe {
            for i in (0..n).step_by(8) {
                let p = xs.as_mut_ptr().add(i);
                let y = _mm256_add_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(add.as_ptr().add(i)));
                _mm256_storeu_ps(p, r.apply(y));
            }
        }
        n
    }

    /// The op on one value (inlined into loops that then vectorise).
    #[inline(always)]
    pub fn apply(&self, x: f32) -> f32 {
        let t = x * self.inv_scale;
        // tract casts NaN to the zero point, so NaN comes out as 0 (or the shift).
        let t = if t.is_nan() {
            0.0
        } else {
            t.clamp(self.lo, self.hi)
        };
        // Clamping to integer bounds before rounding equals clamping after it.
        let t = (t + ROUND_MAGIC) - ROUND_MAGIC;
        (t + self.shift) * self.scale
    }
}

/// A [`QdqRound`]'s constants in AVX2 registers, for applying it 8 values at a time
/// (`QdqRound::run`, and `crate::qconv` as it writes a convolution's output).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Lanes([std::arch::x86_64::__m256; 6]);

#[cfg(target_arch = "x86_64")]
impl QdqRound {
    /// The constants of [`Lanes::apply`].
    #[target_feature(enable = "avx2")]
    pub(crate) fn lanes(&self) -> Lanes {
        use std::arch::x86_64::_mm256_set1_ps;
        let c = [
            self.inv_scale,
            self.lo,
            self.hi,
            self.shift,
            self.scale,
            ROUND_MAGIC,
        ];
        Lanes(c.map(|v| _mm256_set1_ps(v)))
    }
}

#[cfg(target_arch = "x86_64")]
impl Lanes {
    /// [`QdqRound::apply`] on 8 values, bit for bit: the clamp is min then max (each
    /// keeping the value as `f32::clamp` does) and NaN is cleared to 0.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn apply(self, x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        let [inv, lo, hi, shift, scale, magic] = self.0;
        let t = _mm256_mul_ps(x, inv);
        let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(t, t);
        let t = _mm256_max_ps(_mm256_min_ps(t, hi), lo);
        let t = _mm256_andnot_ps(nan, _mm256_sub_ps(_mm256_add_ps(t, magic), magic));
        _mm256_mul_ps(_mm256_add_ps(t, shift), scale)
    }
}

impl ElementWiseMiniOp for QdqRound {
    fn name(&self) -> String {
        "QdqRound".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "1/scale: {} range: {}..={} shift: {} scale: {}",
            self.inv_scale, self.lo, self.hi, self.shift, self.scale
        )])
    }

    fn eval_in_place(&self, t: &mut Tensor, _out_dt: Option<DatumType>) -> TractResult<()> {
        self.run(t.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?);
        Ok(())
    }

    fn eval_out_of_place(&self, t: &Tensor, _out_dt: Option<DatumType>) -> TractResult<Tensor> {
        let mut t = t.clone();
        self.eval_in_place(&mut t, None)?;
        Ok(t)
    }
}

/// The quantize parameters of `node` if it is tract's per-tensor `QuantizeLinear`:
/// `(multiplier, zero point, integer range)`.
fn quantize_params(node: &TypedNode) -> Option<(f32, i32, (i32, i32))> {
    let op = node.op_as::<ElementWiseOp>()?;
    if let Some(q) = op.0.downcast_ref::<QuantizeLinearU8>() {
        Some((q.scale, q.zero_point as i32, (0, 255)))
    } else {
        op.0.downcast_ref::<QuantizeLinearI8>()
            .map(|q| (q.scale, q.zero_point as i32, (-128, 127)))
    }
}

/// Replaces every `DequantizeLinear` whose input is a per-tensor `QuantizeLinear` of
/// an f32 tensor by one [`QdqRound`] on that f32 tensor (see the module docs); a
/// quantize left without consumers is removed. Returns the number of pairs fused.
pub fn fuse_qdq_pairs(model: &mut TypedModel) -> TractResult<usize> {
    let mut fused = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(dq) = node.op_as::<DequantizeLinearF32>() else {
            continue;
        };
        let q_node = model.node(node.inputs[0].node);
        let Some((q_scale, q_zero, range)) = quantize_params(q_node) else {
            continue;
        };
        let source = q_node.inputs[0];
        if model.outlet_fact(source)?.datum_type != f32::datum_type() {
            continue;
        }
        let op = ElementWiseOp(Box::new(QdqRound::new(q_scale, q_zero, range, dq)), None);
        let name = format!("{}.qdq_round", node.name);
        let mut patch = TypedModelPatch::new("fuse QuantizeLinear → DequantizeLinear");
        let tap = patch.tap_model(model, source)?;
        let wire = patch.wire_node(name, op, &[tap])?[0];
        patch.shunt_outside(model, OutletId::new(id, 0), wire)?;
        patch.apply(model)?;
        fused += 1;
    }
    if fused > 0 {
        model.compact()?;
    }
    Ok(fused)
}

/// Removes each ReLU (`max(x, 0)`) whose only reader is a [`QdqRound`] that clamps
/// at or above 0: the round gives the same values without it (a negative `x` and its
/// ReLU's 0 both become the lower bound; NaN gives 0 either way). The int8
/// classifier's stem has one, a full pass over 48×48×16 values. Run on a
/// decluttered graph, where a ReLU is a `Max` with a scalar 0. Returns how many.
pub fn drop_relus_before_rounds(model: &mut TypedModel) -> TractResult<usize> {
    use tract_onnx::tract_core::ops::binary::TypedBinOp;
    use tract_onnx::tract_core::ops::math::Max;
    let mut dropped = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(round) = node
            .op_as::<ElementWiseOp>()
            .and_then(|op| op.0.downcast_ref::<QdqRound>())
        else {
            continue;
        };
        let relu = model.node(node.inputs[0].node);
        let is_max = relu
            .op_as::<TypedBinOp>()
            .is_some_and(|b| b.0.downcast_ref::<Max>().is_some() && b.1.is_none());
        if round.lo < 0.0 || !is_max || model.outlet_successors(node.inputs[0]).len() != 1 {
            continue;
        }
        let zero = |i: usize| -> TractResult<bool> {
            let fact = model.outlet_fact(relu.inputs[i])?;
            Ok(fact.datum_type == f32::datum_type()
                && fact.konst.as_ref().is_some_and(|k| {
                    k.len() == 1
                        && k.try_as_plain_ram()
                            .is_ok_and(|r| r.as_slice::<f32>().is_ok_and(|v| v[0] == 0.0))
                }))
        };
        let x = match (zero(0)?, zero(1)?) {
            (false, true) => relu.inputs[0],
            (true, false) => relu.inputs[1],
            _ => continue,
        };
        if model.outlet_fact(x)?.shape != model.outlet_fact(node.inputs[0])?.shape {
            continue;
        }
        let op = ElementWiseOp(Box::new(round.clone()), None);
        let mut patch = TypedModelPatch::new("drop a ReLU before a QdqRound");
        let tap = patch.tap_model(model, x)?;
        let wire = patch.wire_node(format!("{}.no_relu", node.name), op, &[tap])?[0];
        patch.shunt_outside(model, OutletId::new(id, 0), wire)?;
        patch.apply(model)?;
        dropped += 1;
    }
    if dropped > 0 {
        model.compact()?;
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::quant::{quantize_linear_i8, quantize_linear_u8};

    /// tract's own two ops, evaluated one after the other.
    fn tract_pair(q: ElementWiseOp, dq: &DequantizeLinearF32, xs: &[f32]) -> Vec<f32> {
        use tract_onnx::tract_core::ops::EvalOp;
        let ctx = tract_onnx::tract_core::plan::EvalContext::out_of_plan();
        let x = tensor1(xs).into_tvalue();
        let q = q.eval(&ctx, tvec!(x)).unwrap();
        let y = dq.eval(&ctx, q).unwrap().remove(0);
        y.try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec()
    }

    fn inputs(scale: f32) -> Vec<f32> {
        let mut xs = vec![0.0, -0.0, f32::NAN, 1e6, -1e6, f32::MIN_POSITIVE];
        // Every half step (the ties) and a spread of values around the range.
        for k in -700..700 {
            xs.push(k as f32 * 0.5 * scale);
            xs.push(k as f32 * 0.37 * scale);
            xs.push((k as f32 * 0.5 + 1e-3) * scale);
        }
        xs
    }

    fn same(a: &[f32], b: &[f32]) {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(x.to_bits(), y.to_bits(), "element {i}: {x} vs {y}");
        }
    }

    #[test]
    fn bit_identical_to_tracts_pair_u8() {
        for (scale, zero) in [(0.0123f32, 0u8), (0.047, 131), (1.0, 255), (0.5, 3)] {
            let dq = DequantizeLinearF32::new(scale, zero as i32);
            let xs = inputs(scale);
            let want = tract_pair(quantize_linear_u8(scale.recip(), zero), &dq, &xs);
            let mut got = xs.clone();
            QdqRound::new(scale.recip(), zero as i32, (0, 255), &dq).run(&mut got);
            same(&got, &want);
        }
    }

    #[test]
    fn the_vectorised_run_is_the_scalar_rule() {
        for (scale, zero, range) in [
            (0.0123f32, 0, (0, 255)),
            (0.047, 131, (0, 255)),
            (0.1, -17, (-128, 127)),
        ] {
            let q = QdqRound::new(
                scale.recip(),
                zero,
                range,
                &DequantizeLinearF32::new(scale, zero),
            );
            let xs = inputs(scale);
            let mut got = xs.clone();
            q.run(&mut got);
            let want: Vec<f32> = xs.iter().map(|&x| q.apply(x)).collect();
            same(&got, &want);
            // With a residual added first (`run_sum`), on a length with a tail.
            let add: Vec<f32> = xs.iter().rev().map(|&x| 0.5 * x).collect();
            let n = xs.len() - 3;
            let mut got = xs[..n].to_vec();
            q.run_sum(&mut got, &add[..n]);
            let want: Vec<f32> = xs
                .iter()
                .zip(&add)
                .take(n)
                .map(|(&x, &a)| q.apply(x + a))
                .collect();
            same(&got, &want);
        }
    }

    #[test]
    fn a_relu_before_a_round_that_clamps_at_zero_goes() {
        use tract_onnx::tract_core::ops::binary::TypedBinOp;
        use tract_onnx::tract_core::ops::math::Max;
        for (zero, goes) in [(0u8, true), (20, false)] {
            let scale = 0.05f32;
            let dq = DequantizeLinearF32::new(scale, zero as i32);
            let round = QdqRound::new(scale.recip(), zero as i32, (0, 255), &dq);
            let mut m = TypedModel::default();
            let x = m.add_source("x", f32::fact([inputs(scale).len()])).unwrap();
            let z = m.add_const("zero", tensor0(0f32)).unwrap();
            let z = m
                .wire_node(
                    "zero.bc",
                    tract_onnx::tract_core::ops::change_axes::AxisOp::Add(0),
                    &[z],
                )
                .unwrap()[0];
            let r = m
                .wire_node("relu", TypedBinOp(Box::new(Max), None), &[x, z])
                .unwrap();
            let y = m
                .wire_node("round", ElementWiseOp(Box::new(round), None), &r)
                .unwrap();
            m.select_output_outlets(&y).unwrap();
            let run = |m: TypedModel| -> Vec<f32> {
                let out = m
                    .into_runnable()
                    .unwrap()
                    .run(tvec!(tensor1(&inputs(scale)).into_tvalue()))
                    .unwrap();
                out[0]
                    .try_as_plain_ram()
                    .unwrap()
                    .as_slice::<f32>()
                    .unwrap()
                    .to_vec()
            };
            let mut ours = m.clone().into_decluttered().unwrap();
            assert_eq!(
                drop_relus_before_rounds(&mut ours).unwrap(),
                usize::from(goes),
                "zero point {zero}"
            );
            same(&run(ours), &run(m));
        }
    }

    #[test]
    fn bit_identical_to_tracts_pair_i8() {
        for (scale, zero) in [(0.02f32, 0i8), (0.1, -17), (0.3, 100)] {
            let dq = DequantizeLinearF32::new(scale, zero as i32);
            let xs = inputs(scale);
            let want = tract_pair(quantize_linear_i8(scale.recip(), zero), &dq, &xs);
            let mut got = xs.clone();
            QdqRound::new(scale.recip(), zero as i32, (-128, 127), &dq).run(&mut got);
            same(&got, &want);
        }
    }
}
