//! QDQ folding: `DequantizeLinear(x) → Gemm/MatMul/Conv(· , DequantizeLinear(W), DequantizeLinear(B))
//! [→ Relu] → QuantizeLinear` becomes the integer op ONNX Runtime's CPU execution provider fuses
//! it into (QGemm, QLinearMatMul, QLinearConv), with the same MLAS requantization. Anything else
//! around a float op is refused, naming the node: ONNX Runtime would run it in float, which the
//! IR cannot express exactly.

use super::graph::{mlas_rescales, QParams, Tensor};
use super::proto::{data_type as dt, NodeProto};
use super::qoperator::{emit_conv, emit_matmul, out_of, ConvW, MatMul};
use super::{op_key, Ctx, Res, Value};
use crate::net::{QType, Quant};

/// A dequantized constant input: integers, parameters, axis.
fn const_deq<'v>(ctx: &'v Ctx, n: &NodeProto, i: usize, what: &str) -> Res<(&'v Tensor, &'v QParams, i64)> {
    match ctx.input(n, i)? {
        Value::ConstDeq { q, params, axis } => Ok((q, params, *axis)),
        Value::Const(_) => Err(format!(
            "{what} is a float constant, not DequantizeLinear of an integer one; ONNX Runtime runs this node in \
             float, which the IR cannot express exactly"
        )),
        _ => Err(format!("{what} must be a (dequantized) constant")),
    }
}

/// Check that per-channel parameters run along `want_axis` of a tensor of rank `rank`.
fn check_axis(p: &QParams, axis: i64, rank: usize, want_axis: usize, what: &str) -> Res<()> {
    if p.scale.len() <= 1 && p.zero_point.len() <= 1 {
        return Ok(());
    }
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a != want_axis as i64 {
        return Err(format!(
            "{what} is quantized per axis {axis}; only per-output-channel (axis {want_axis}) is supported"
        ));
    }
    Ok(())
}

/// The integer bias of a fused op: DequantizeLinear of an INT32 constant. ONNX Runtime's fused
/// kernels add these integers to the accumulator as they are (the bias scale is not used).
fn bias(ctx: &Ctx, n: &NodeProto, i: usize) -> Res<Option<Vec<i64>>> {
    if ctx.opt_input(n, i)?.is_none() {
        return Ok(None);
    }
    let (q, p, _) = const_deq(ctx, n, i, "the bias")?;
    if q.data_type != dt::INT32 {
        return Err(format!("the bias has type {}, expected INT32", dt::name(q.data_type)));
    }
    if p.zero_point.iter().any(|&z| z != 0) {
        return Err("the bias has a non-zero zero point".into());
    }
    super::qoperator::int32_bias(q).map(Some)
}

/// Fold the float node `n` (node index `i`) with its QuantizeLinear.
pub(super) fn fold(ctx: &mut Ctx, i: usize, n: &NodeProto) -> Res<()> {
    let op = n.op_type.as_str();
    let (t, xdims, a_s) = match ctx.input(n, 0)?.clone() {
        Value::Deq { t, dims, scale } => (t, dims, scale),
        Value::FloatInput { .. } => {
            return Err(format!("{op} on the float graph input: the model is not quantized here (float-only)"))
        }
        _ => {
            return Err(format!(
                "{op} is a float operator; it is supported only as DequantizeLinear → {op} → QuantizeLinear (QDQ)"
            ))
        }
    };
    ctx.check_chain(t, &n.input[0])?;
    let xq = ctx.b.quant(t);

    // The consumer chain: [Relu →] QuantizeLinear.
    let out = out_of(n)?.to_string();
    let mut skip = Vec::new();
    let mut relu = false;
    let mut cur = out.clone();
    let mut next = ctx.sole_consumer(&cur);
    if let Some(j) = next {
        if op_key(&ctx.nodes[j]) == "Relu" {
            relu = true;
            skip.push(j);
            cur = out_of(&ctx.nodes[j])?.to_string();
            next = ctx.sole_consumer(&cur);
        }
    }
    let qi = match next {
        Some(j) if op_key(&ctx.nodes[j]) == "QuantizeLinear" => j,
        _ => {
            return Err(format!(
                "the output of {op} must feed exactly one QuantizeLinear (optionally through Relu); otherwise ONNX \
                 Runtime runs it in float, which the IR cannot express exactly"
            ))
        }
    };
    skip.push(qi);
    let qn = &ctx.nodes[qi];
    let qa = super::graph::Attrs { node: qn };
    if qa.int("block_size", 0)? != 0 {
        return Err("the QuantizeLinear after it is blocked".into());
    }
    let default = match qa.int("output_dtype", 0)? {
        0 => QType::UINT8,
        t => super::graph::qtype_of(t as i32).ok_or("unsupported output_dtype")?,
    };
    let yp = super::qoperator::params(ctx, qn, 1, 2, default, "output")?;
    let yq: Quant = yp.quant("the output QuantizeLinear")?;
    let y_s = yp.scale[0];
    if relu && yq.zero_point != yq.dtype.min() {
        return Err(format!(
            "Relu before a QuantizeLinear whose zero point {} is not the type's minimum: ONNX Runtime keeps the Relu \
             and runs {op} in float, which the IR cannot express exactly",
            yq.zero_point
        ));
    }
    let q_out = out_of(qn)?.to_string();

    match op {
        "Gemm" | "MatMul" => {
            let (trans_b, alpha) = if op == "Gemm" {
                let a = super::graph::Attrs { node: n };
                if a.int("transA", 0)? != 0 {
                    return Err("transA = 1 is not supported".into());
                }
                if ctx.opt_input(n, 2)?.is_some() && a.float("beta", 1.0)? != 1.0 {
                    return Err("beta ≠ 1 is not supported (ONNX Runtime's QGemm adds the bias unscaled)".into());
                }
                (a.int("transB", 0)? != 0, Some(a.float("alpha", 1.0)?))
            } else {
                (false, None)
            };
            let (w, wp, axis) = const_deq(ctx, n, 1, "the weight")?;
            let (w, wp) = (w.clone(), wp.clone());
            w.qtype()?;
            check_axis(
                &wp,
                axis,
                w.dims.len(),
                if trans_b { 0 } else { w.dims.len().saturating_sub(1) },
                "the weight",
            )?;
            let b = if op == "Gemm" { bias(ctx, n, 2)? } else { None };
            let rescales = mlas_rescales(a_s, &wp.scale, y_s, alpha);
            emit_matmul(
                ctx,
                &q_out,
                xdims,
                MatMul { w: &w, trans_b, w_zp: wp.zero_point.clone(), rescales, out: Some(yq), bias: b, relu },
            )?;
        }
        "Conv" => {
            let (w, wp, axis) = const_deq(ctx, n, 1, "the weight")?;
            let (w, wp) = (w.clone(), wp.clone());
            w.qtype()?;
            check_axis(&wp, axis, w.dims.len(), 0, "the weight")?;
            let b = bias(ctx, n, 2)?;
            let rescales = mlas_rescales(a_s, &wp.scale, y_s, None);
            emit_conv(
                ctx,
                n,
                &q_out,
                xdims,
                xq,
                ConvW { w: &w, w_zp: wp.zero_point.clone(), rescales, out: Some(yq), bias: b, relu },
            )?;
        }
        _ => return Err(format!("{op} cannot be folded")),
    }
    let _ = i;
    ctx.skip.extend(skip);
    Ok(())
}
