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
        let (inv, lo, hi, shift, scale) =
            (self.inv_scale, self.lo, self.hi, self.shift, self.scale);
        for x in xs {
            let t = *x * inv;
            // tract casts NaN to the zero point, so NaN comes out as 0 (or the shift).
            let t = if t.is_nan() { 0.0 } else { t.clamp(lo, hi) };
            // Clamping to integer bounds before rounding equals clamping after it.
            let t = (t + ROUND_MAGIC) - ROUND_MAGIC;
            *x = (t + shift) * scale;
        }
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
