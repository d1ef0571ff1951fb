//! QDQ folding: `DequantizeLinear(x) → Conv/MatMul/Gemm(·, DequantizeLinear(W), DequantizeLinear(B))
//! [→ Relu/Clip] → QuantizeLinear` becomes the integer op ONNX Runtime's CPU execution provider
//! fuses it into (QLinearConv, QLinearMatMul, com.microsoft QGemm; `qdq_actions.cc`), with the
//! same MLAS requantization — exactly when ONNX Runtime's selectors fuse the group
//! (`qdq_selectors.cc`, see [`super::ort`]). Every group they leave in float
//! (DequantizeLinear → float op → QuantizeLinear) is refused by name: quiver cannot reproduce
//! float summation order.

use super::emit::{
    emit_add, emit_conv, emit_global_avg_pool, emit_matmul, float_clip_bounds, int32_bias, out_of, params, ConvW,
    Kernel, MatMul,
};
use super::graph::{mlas_rescales, qtype_of, Attrs, QParams, Tensor};
use super::ort::Rule;
use super::proto::{data_type as dt, NodeProto};
use super::{op_key, refuse, Ctx, Res, Value};
use crate::net::{QType, Quant};

/// A dequantized constant input: integers, parameters, axis. Anything else means ONNX Runtime
/// does not see a QDQ group (`NodeGroupSelector::CheckQDQNodes`: every input must come from a
/// DequantizeLinear) and runs the op in float.
fn const_deq<'v>(
    ctx: &'v Ctx,
    n: &NodeProto,
    i: usize,
    what: &str,
    pattern: &str,
    rule: Rule,
) -> Res<(&'v Tensor, &'v QParams, i64)> {
    match ctx.input(n, i)? {
        Value::ConstDeq { q, params, axis, .. } => Ok((q, params, *axis)),
        Value::Const(_) => refuse(
            pattern,
            rule,
            format!(
                "{what} is a float constant, not DequantizeLinear of an integer one: ONNX Runtime does not fuse the \
                 group and runs {} in float, which quiver cannot reproduce exactly",
                n.op_type
            ),
        ),
        _ => Err(format!("{what} must be a (dequantized) constant").into()),
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
        )
        .into());
    }
    Ok(())
}

/// The integer bias of a fused op: DequantizeLinear of an INT32 constant (`GemmNodeGroupSelector`,
/// `ConvNodeGroupSelector`: `dt_bias == INT32`). ONNX Runtime's fused kernels add these
/// integers to the accumulator as they are (the bias scale is not used).
fn bias(ctx: &Ctx, n: &NodeProto, i: usize, pattern: &str) -> Res<Option<Vec<i64>>> {
    if ctx.opt_input(n, i)?.is_none() {
        return Ok(None);
    }
    let (q, p, _) = const_deq(ctx, n, i, "the bias", pattern, Rule::Bias)?;
    if q.data_type != dt::INT32 {
        return refuse(
            pattern,
            Rule::Bias,
            format!(
                "the bias is DequantizeLinear of a {} constant, not INT32: ONNX Runtime does not fuse the group and \
                 runs {} in float",
                dt::name(q.data_type),
                n.op_type
            ),
        );
    }
    if p.zero_point.iter().any(|&z| z != 0) {
        return Err("the bias has a non-zero zero point".into());
    }
    int32_bias(q).map(Some)
}

/// `ConvNodeGroupSelector::Check` fuses a Conv with a bias only if the bias DequantizeLinear's
/// scale equals input scale × weight scale (per output channel) within 1 % (`CheckConvBiasScale`,
/// microsoft/onnxruntime#28229; QLinearConv uses the int32 bias as if it had that scale). quiver
/// accepts only matches within 0.1 %, safely inside ONNX Runtime's tolerance, and refuses the rest
/// (ONNX Runtime runs those Convs in float, or fuses borderline ones).
fn conv_bias_scale(ctx: &Ctx, n: &NodeProto, a_s: f32, w_s: &[f32], pattern: &str) -> Res<()> {
    let Some(Value::ConstDeq { params, .. }) = ctx.opt_input(n, 2)? else { return Ok(()) };
    let b_s = &params.scale;
    let m = w_s.len().max(b_s.len());
    if (b_s.len() != 1 && b_s.len() != m) || (w_s.len() != 1 && w_s.len() != m) {
        return refuse(pattern, Rule::Bias, format!("{} bias scales for {} weight scales", b_s.len(), w_s.len()));
    }
    for o in 0..m {
        let want = a_s * w_s[if w_s.len() == 1 { 0 } else { o }];
        let have = b_s[if b_s.len() == 1 { 0 } else { o }];
        if (f64::from(have) - f64::from(want)).abs() > 1e-3 * f64::from(want) {
            return refuse(
                pattern,
                Rule::Bias,
                format!(
                    "the bias scale {have} of output channel {o} is not input scale × weight scale ({want}): ONNX \
                     Runtime (CheckConvBiasScale, 1 % tolerance) does not fuse the group and runs Conv in float, which \
                     quiver cannot reproduce exactly"
                ),
            );
        }
    }
    Ok(())
}

/// The integer type ONNX Runtime's fusion rules see for the tensor named `name` (a QuantizeLinear
/// output) of declared type `t`: uint8 where `QDQS8ToU8Transformer` rewrote the int8 pair.
fn ort_type(ctx: &Ctx, name: &str, t: QType) -> QType {
    if t == QType::INT8 && ctx.s8_to_u8.contains(name) {
        QType::UINT8
    } else {
        t
    }
}

/// Bit widths ONNX Runtime does not fuse for Conv/MatMul/Gemm (`allow_16bit = false`,
/// `allow_4bit = false` in `ConvQDQRules`/`MatMulQDQRules`/`GemmQDQRules`).
fn check_widths(pattern: &str, op: &str, types: &[(&str, QType)]) -> Res<()> {
    for (what, t) in types {
        let bits = t.bits();
        if bits == 16 {
            return refuse(
                pattern,
                Rule::SixteenBit,
                format!(
                    "{what} is {t}: ONNX Runtime 1.32 does not fuse 16-bit QDQ {op} groups and runs {op} in float \
                     (DequantizeLinear → {op} → QuantizeLinear), which quiver cannot reproduce exactly"
                ),
            );
        }
        if bits < 8 {
            return refuse(
                pattern,
                Rule::SubByte,
                format!(
                    "{what} is {t}: ONNX Runtime 1.32 does not fuse {bits}-bit QDQ {op} groups and runs {op} in float, \
                     which quiver cannot reproduce exactly"
                ),
            );
        }
    }
    Ok(())
}

/// Input `i` of the float node `n` of a QDQ group, which must come straight from a
/// DequantizeLinear of a network tensor: its tensor, ONNX dims, scale and the DequantizeLinear
/// node. ONNX Runtime groups nothing else (`NodeGroupSelector::CheckQDQNodes`); the float op then
/// runs in float, which is refused by name.
fn dq_input(ctx: &mut Ctx, n: &NodeProto, i: usize, pattern: &str) -> Res<(usize, Vec<usize>, f32, usize)> {
    let op = n.op_type.as_str();
    let (t, dims, scale, dq) = match ctx.input(n, i)?.clone() {
        Value::Deq { t, dims, scale, dq } => (t, dims, scale, dq),
        Value::FloatInput { .. } => {
            return Err(format!("{op} on the float graph input: the model is not quantized here (float-only)").into())
        }
        _ => {
            return Err(format!(
                "{op} is a float operator; it is supported only as DequantizeLinear → {op} → QuantizeLinear (QDQ)"
            )
            .into())
        }
    };
    let Some(dq) = dq else {
        // ONNX Runtime moves Q/DQ pairs through Reshape, Transpose, Squeeze, Unsqueeze, Slice and
        // MaxPool-12 (qdq_propagation.cc CanNodePropagate) and may then fuse; through any other op
        // (Flatten, Relu, Clip, …) the group stays in float. quiver models neither: refused.
        let producer = ctx.nodes.iter().find(|p| p.output.first() == n.input.get(i)).map(op_key).unwrap_or_default();
        let propagates =
            matches!(producer.as_str(), "Reshape" | "Transpose" | "Squeeze" | "Unsqueeze" | "Slice" | "MaxPool");
        let what = if propagates {
            format!(
                "ONNX Runtime may fuse it after moving the QuantizeLinear/DequantizeLinear pair through the {producer} \
                 (QDQ propagation), which quiver does not model; place the {producer} between QuantizeLinear and \
                 DequantizeLinear"
            )
        } else {
            format!(
                "ONNX Runtime does not fuse such a group and runs {op} in float, which quiver cannot reproduce exactly"
            )
        };
        return refuse(
            pattern,
            Rule::Structure,
            format!(
                "its input `{}` is computed by a float {producer} from a DequantizeLinear, not by the DequantizeLinear \
                 itself: {what}",
                n.input[i]
            ),
        );
    };
    ctx.check_chain(t, &n.input[i])?;
    Ok((t, dims, scale, dq))
}

/// Are the scale and zero point (inputs 1 and 2) of the QuantizeLinear/DequantizeLinear `q`
/// rank-0 constants (an absent zero point counts as one)?
fn rank0_params(ctx: &Ctx, q: &NodeProto) -> bool {
    let rank0 = |k: usize| match q.input.get(k).filter(|s| !s.is_empty()) {
        None => k == 2,
        Some(name) => matches!(ctx.values.get(name), Some(Value::Const(t)) if t.dims.is_empty()),
    };
    rank0(1) && rank0(2)
}

/// The QuantizeLinear that alone consumes the output of the float node `n` (which must not be a
/// graph output): its node index, output name, quantization and scale. An activation in between
/// is refused: for Add and GlobalAveragePool quiver does not model ONNX Runtime's
/// redundant-activation rule (the QLinear kernels have no fused activation).
fn sole_q(ctx: &Ctx, n: &NodeProto, pattern: &str) -> Res<(usize, String, Quant, f32)> {
    let op = n.op_type.as_str();
    let qi = match ctx.sole_consumer(out_of(n)?) {
        Some(j) if op_key(&ctx.nodes[j]) == "QuantizeLinear" => j,
        Some(j) if matches!(op_key(&ctx.nodes[j]).as_str(), "Relu" | "Clip") => {
            return refuse(
                pattern,
                Rule::Activation,
                format!(
                    "a {} between {op} and its QuantizeLinear: ONNX Runtime fuses such a group only if the \
                     quantization makes the activation redundant, a rule quiver does not model for {op}; put the \
                     activation after the QuantizeLinear (QDQ around it) or fold it into the output range",
                    ctx.nodes[j].op_type
                ),
            )
        }
        _ => {
            return refuse(
                pattern,
                Rule::Structure,
                format!(
                "the output of {op} must feed exactly one QuantizeLinear and no graph output; otherwise ONNX Runtime \
                     does not fuse the group and runs {op} in float, which quiver cannot reproduce exactly"
            ),
            )
        }
    };
    let (out, yq, y_s) = q_output(ctx, qi)?;
    Ok((qi, out, yq, y_s))
}

/// The output of QuantizeLinear node `qi` that closes a QDQ group: its name, quantization and
/// scale (an unset `output_dtype` and zero point mean uint8, as in ONNX).
fn q_output(ctx: &Ctx, qi: usize) -> Res<(String, Quant, f32)> {
    let qn = &ctx.nodes[qi];
    let qa = Attrs { node: qn };
    if qa.int("block_size", 0)? != 0 {
        return Err("the QuantizeLinear after it is blocked".into());
    }
    let default = match qa.int("output_dtype", 0)? {
        0 => QType::UINT8,
        t => qtype_of(t as i32).ok_or("unsupported output_dtype")?,
    };
    let yp = params(ctx, qn, 1, 2, default, "output")?;
    let yq: Quant = yp.quant("the output QuantizeLinear")?;
    Ok((out_of(qn)?.to_string(), yq, yp.scale[0]))
}

/// DequantizeLinear, DequantizeLinear → Add → QuantizeLinear, which ONNX Runtime fuses into
/// com.microsoft QLinearAdd (`BinaryNodeGroupSelector` in qdq_selectors.cc, `BinaryReplaceWithQLinear`
/// in qdq_actions.cc) when both operands and the output have one 8-bit type and every scale and
/// zero point is a rank-0 scalar (an absent zero point counts as one). With a 1-element vector
/// anywhere ONNX Runtime 1.32 keeps the float Add (measured: `scripts/onnx/probe_qdq_fusion.py`);
/// refused by name.
pub(super) fn fold_add(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let pattern = "QDQ Add";
    let (ta, adims, a_s, dqa) = dq_input(ctx, n, 0, pattern)?;
    let (tb, bdims, b_s, dqb) = dq_input(ctx, n, 1, pattern)?;
    let (qi, q_out, yq, _) = sole_q(ctx, n, pattern)?;
    let (aq, bq) = (ctx.b.quant(ta), ctx.b.quant(tb));
    check_widths(
        pattern,
        "Add",
        &[("the first operand", aq.dtype), ("the second operand", bq.dtype), ("the output", yq.dtype)],
    )?;
    if aq.dtype != bq.dtype || aq.dtype != yq.dtype {
        return refuse(
            pattern,
            Rule::TypeCombination,
            format!(
                "operands {} and {} with output {}: ONNX Runtime fuses only groups of one type and runs Add in float, \
                 which quiver cannot reproduce exactly",
                aq.dtype, bq.dtype, yq.dtype
            ),
        );
    }
    // QDQS8ToU8Transformer shifts rewritten int8 pairs to uint8 (zero points + 128); QLinearAdd's
    // binary32 arithmetic is not invariant under that shift, and quiver does not model it.
    let rewritten = [(dqa, 0), (dqb, 0)]
        .iter()
        .map(|&(d, k)| ctx.nodes[d].input[k].clone())
        .chain(std::iter::once(q_out.clone()))
        .any(|name| ort_type(ctx, &name, QType::INT8) != QType::INT8);
    if aq.dtype == QType::INT8 && rewritten {
        return refuse(
            pattern,
            Rule::TypeCombination,
            "int8 operands or output that ONNX Runtime first rewrites to uint8 (QDQS8ToU8Transformer, zero points \
             shifted by 128): the fused QLinearAdd then computes in float on the shifted values, which quiver does not \
             model; quantize the activations as uint8",
        );
    }
    for (node, what) in
        [(dqa, "first operand's DequantizeLinear"), (dqb, "second operand's DequantizeLinear"), (qi, "QuantizeLinear")]
    {
        if !rank0_params(ctx, &ctx.nodes[node]) {
            return refuse(
                pattern,
                Rule::Structure,
                format!(
                    "the {what} has a scale or zero point that is not a rank-0 scalar: ONNX Runtime 1.32 fuses \
                     DequantizeLinear → Add → QuantizeLinear into QLinearAdd only with scalar parameters and otherwise \
                     adds in float, which quiver cannot reproduce exactly"
                ),
            );
        }
    }
    if adims != bdims {
        return Err(format!(
            "Add operands have shapes {adims:?} and {bdims:?}; broadcasting runs other MLAS code paths, which are not \
             modelled"
        )
        .into());
    }
    let t = emit_add(ctx, pattern, ta, tb, a_s, b_s, yq)?;
    ctx.skip.insert(qi);
    ctx.values.insert(q_out, Value::Int { t, dims: adims });
    Ok(())
}

/// DequantizeLinear → GlobalAveragePool → QuantizeLinear, which ONNX Runtime fuses into
/// com.microsoft QLinearGlobalAveragePool (`UnaryNodeGroupSelector`: input and output of one type,
/// not 16-bit, not 4-bit; `UnaryReplaceWithQLinear`), with the DequantizeLinear's and the
/// QuantizeLinear's parameters (per-tensor, scalars or 1-element vectors alike).
pub(super) fn fold_global_avg_pool(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let pattern = "QDQ GlobalAveragePool";
    let (t, dims, x_s, dq) = dq_input(ctx, n, 0, pattern)?;
    let (qi, q_out, yq, y_s) = sole_q(ctx, n, pattern)?;
    let xq = ctx.b.quant(t);
    check_widths(pattern, "GlobalAveragePool", &[("the input", xq.dtype), ("the output", yq.dtype)])?;
    let (xt, yt) = (ort_type(ctx, &ctx.nodes[dq].input[0], xq.dtype), ort_type(ctx, &q_out, yq.dtype));
    if xt != yt || xq.dtype != yq.dtype {
        return refuse(
            pattern,
            Rule::TypeCombination,
            format!(
                "its input is {xt} but its output {yt} (as ONNX Runtime sees them): ONNX Runtime fuses only groups of \
                 one type and runs GlobalAveragePool in float, which quiver cannot reproduce exactly"
            ),
        );
    }
    let (t2, odims) = emit_global_avg_pool(ctx, pattern, t, &dims, x_s, y_s, yq)?;
    ctx.skip.insert(qi);
    ctx.values.insert(q_out, Value::Int { t: t2, dims: odims });
    Ok(())
}

/// Fold the float node `n` with its DequantizeLinear inputs and QuantizeLinear output.
pub(super) fn fold(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let op = n.op_type.as_str();
    let pattern = format!("QDQ {op}");
    let (t, xdims, a_s, dq) = dq_input(ctx, n, 0, &pattern)?;
    ctx.check_chain(t, &n.input[0])?;
    let xq = ctx.b.quant(t);
    let a_type = ort_type(ctx, &ctx.nodes[dq].input[0], xq.dtype);

    // The consumer chain: [Relu | Clip →] QuantizeLinear (GetQDQSelection, CheckQDQNodes).
    let out = out_of(n)?.to_string();
    let mut skip = Vec::new();
    let mut act: Option<usize> = None;
    let mut next = ctx.sole_consumer(&out);
    if let Some(j) = next {
        if matches!(op_key(&ctx.nodes[j]).as_str(), "Relu" | "Clip") {
            act = Some(j);
            skip.push(j);
            next = ctx.sole_consumer(out_of(&ctx.nodes[j])?);
        }
    }
    let qi = match next {
        Some(j) if op_key(&ctx.nodes[j]) == "QuantizeLinear" => j,
        _ => {
            return refuse(
                &pattern,
                Rule::Structure,
                format!(
                    "the output of {op} must feed exactly one QuantizeLinear (optionally through Relu/Clip) and no \
                     graph output; otherwise ONNX Runtime does not fuse the group into an integer kernel with an \
                     integer output ({op} runs in float, or QGemm produces float), which quiver cannot reproduce exactly"
                ),
            )
        }
    };
    skip.push(qi);
    let (q_out, yq, y_s) = q_output(ctx, qi)?;
    let qn = &ctx.nodes[qi];
    let y_type = ort_type(ctx, &q_out, yq.dtype);

    // Weights (and bias) must be DequantizeLinear of constants.
    let (w, wp, axis) = const_deq(ctx, n, 1, "the weight", &pattern, Rule::Structure)?;
    let (w, wp) = (w.clone(), wp.clone());
    let w_type = w.qtype()?;

    // Types (ConvNodeGroupSelector, MatMulNodeGroupSelector, GemmNodeGroupSelector::Check).
    check_widths(&pattern, op, &[("the input", xq.dtype), ("the weight", w_type), ("the output", yq.dtype)])?;
    if a_type != y_type {
        return refuse(
            &pattern,
            Rule::TypeCombination,
            format!(
                "its input is {a_type} but its output {y_type} (as ONNX Runtime sees them after its int8 → uint8 \
                 rewrite of QuantizeLinear → DequantizeLinear pairs): ONNX Runtime fuses only groups whose input and \
                 output types agree and runs {op} in float, which quiver cannot reproduce exactly"
            ),
        );
    }
    if a_type == QType::INT8 && op != "Gemm" {
        return refuse(
            &pattern,
            Rule::TypeCombination,
            format!(
                "its input is int8 (not rewritten to uint8 by ONNX Runtime: the DequantizeLinear's input does not come \
                 from a QuantizeLinear with the same explicit int8 zero point): on x86 ONNX Runtime does not fuse \
                 int8 {op} groups (QDQIsInt8Allowed() is false) and runs {op} in float, which quiver cannot reproduce \
                 exactly"
            ),
        );
    }
    if a_type == QType::INT8 && w_type != QType::INT8 {
        return refuse(
            &pattern,
            Rule::TypeCombination,
            format!(
                "int8 input with {w_type} weights: ONNX Runtime fuses int8 inputs only with int8 weights and runs {op} \
                 in float, which quiver cannot reproduce exactly"
            ),
        );
    }

    // Relu/Clip: only when the QuantizeLinear makes it redundant. ONNX Runtime drops it either in
    // `ReluQuantFusion` (relu_quantizelinear.cc: an explicit one-element uint8/int8 zero point at
    // the type's minimum) or in the selector's `IsClipMadeRedundantByQ` (qdq_util.cc: a rank-0
    // float scale, a rank-0 or absent zero point, and for Clip `rint(bound / scale) + zp` beyond
    // the type's range); otherwise the group stays in float.
    let mut relu = false;
    if let Some(j) = act {
        let an = &ctx.nodes[j];
        let scalars = rank0_params(ctx, qn);
        let explicit_8bit_zp = qn.input.get(2).is_some_and(|z| !z.is_empty()) && yq.dtype.bits() == 8;
        if an.op_type == "Relu" {
            if yq.zero_point != yq.dtype.min() || !(scalars || explicit_8bit_zp) {
                return refuse(
                    &pattern,
                    Rule::Activation,
                    format!(
                        "Relu before a QuantizeLinear (zero point {} of {}) that ONNX Runtime does not find to make it \
                         redundant (the zero point must be the type's minimum, and the scale and zero point scalars \
                         or the zero point an explicit 8-bit one): ONNX Runtime keeps the Relu and runs {op} in float, \
                         which quiver cannot reproduce exactly",
                        yq.zero_point, yq.dtype
                    ),
                );
            }
            relu = true;
        } else {
            let (lo, hi) = float_clip_bounds(ctx, an)?;
            if !scalars || super::ort::clip_redundant(lo, hi, y_s, yq.zero_point, yq.dtype) != Some(true) {
                return refuse(
                    &pattern,
                    Rule::Activation,
                    format!(
                        "Clip [{lo}, {hi}] before a QuantizeLinear (scale {y_s}, zero point {}) that ONNX Runtime does \
                         not find to make it redundant (the Clip narrows the range, or the scale and zero point are not \
                         scalars): ONNX Runtime keeps the Clip and runs {op} in float, which quiver cannot reproduce \
                         exactly",
                        yq.zero_point
                    ),
                );
            }
        }
    }

    let kernel = Kernel { pattern: pattern.clone(), a_type };
    match op {
        "Gemm" | "MatMul" => {
            let (trans_b, alpha) = if op == "Gemm" {
                let a = Attrs { node: n };
                let has_bias = ctx.opt_input(n, 2)?.is_some();
                let (alpha, beta) = (a.float("alpha", 1.0)?, a.float("beta", 1.0)?);
                if has_bias && beta != 1.0 {
                    return refuse(
                        &pattern,
                        Rule::GemmBetaWithBias,
                        format!(
                            "beta = {beta} ≠ 1 with a bias is executed in float by ONNX Runtime (QGemm adds the bias \
                             unscaled); quiver cannot reproduce float GEMM summation order"
                        ),
                    );
                }
                if has_bias && alpha != 1.0 {
                    return refuse(
                        &pattern,
                        Rule::GemmAlphaWithBias,
                        format!(
                            "alpha = {alpha} ≠ 1 with a bias is executed in float by ONNX Runtime (QGemm would scale \
                             the bias by alpha too); quiver cannot reproduce float GEMM summation order"
                        ),
                    );
                }
                if a.int("transA", 0)? != 0 {
                    return Err("transA = 1 is not supported".into());
                }
                // QGemm takes a_zero_point and b_zero_point as inputs: GemmNodeGroupSelector::Check
                // does not fuse DequantizeLinear nodes without one (microsoft/onnxruntime#28714).
                let a_zp = ctx.nodes[dq].input.get(2).is_some_and(|z| !z.is_empty());
                let b_zp = matches!(ctx.input(n, 1)?, Value::ConstDeq { explicit_zp: true, .. });
                if !a_zp || !b_zp {
                    return refuse(
                        &pattern,
                        Rule::Structure,
                        format!(
                            "the DequantizeLinear of its {} has no zero-point input: ONNX Runtime's QGemm fusion needs \
                             explicit zero points, so it runs Gemm in float, which quiver cannot reproduce exactly",
                            if a_zp { "weight" } else { "input" }
                        ),
                    );
                }
                (a.int("transB", 0)? != 0, Some(alpha))
            } else {
                (false, None)
            };
            check_axis(
                &wp,
                axis,
                w.dims.len(),
                if trans_b { 0 } else { w.dims.len().saturating_sub(1) },
                "the weight",
            )?;
            let b = if op == "Gemm" { bias(ctx, n, 2, &pattern)? } else { None };
            let rescales = mlas_rescales(a_s, &wp.scale, y_s, alpha);
            let m =
                MatMul { w: &w, trans_b, w_zp: wp.zero_point.clone(), rescales, out: Some(yq), bias: b, relu, kernel };
            emit_matmul(ctx, &q_out, xdims, m)?;
        }
        "Conv" => {
            check_axis(&wp, axis, w.dims.len(), 0, "the weight")?;
            let b = bias(ctx, n, 2, &pattern)?;
            if b.is_some() {
                conv_bias_scale(ctx, n, a_s, &wp.scale, &pattern)?;
            }
            let rescales = mlas_rescales(a_s, &wp.scale, y_s, None);
            let c = ConvW { w: &w, w_zp: wp.zero_point.clone(), rescales, out: Some(yq), bias: b, relu, kernel };
            emit_conv(ctx, n, &q_out, xdims, xq, c)?;
        }
        _ => return Err(format!("{op} cannot be folded").into()),
    }
    ctx.skip.extend(skip);
    Ok(())
}
