//! QOperator nodes (integer in, integer out: QuantizeLinear, QLinearMatMul, QLinearConv,
//! com.microsoft QGemm, MatMulInteger, ConvInteger, integer Relu/Clip/MaxPool, shape ops) and the
//! DequantizeLinear/QuantizeLinear ends of QDQ graphs. The integer kernels are those of ONNX
//! Runtime's CPU execution provider: `core/providers/cpu/quantization/qlinearconv.cc`,
//! `core/providers/cpu/math/quantize_linear_matmul.cc`, `contrib_ops/cpu/quantization/quant_gemm.cc`,
//! `core/providers/cpu/math/matmul_integer.cc`, `core/providers/cpu/nn/conv_integer.cc`, all on
//! MLAS (see [`super::ort`]).

use super::emit::{
    emit_add, emit_conv, emit_global_avg_pool, emit_matmul, float_clip_bounds, int32_bias, out_of, params, ConvW,
    Kernel, MatMul,
};
use super::graph::{ir_shape, mlas_rescales, qtype_of, window, Attrs, Data, QParams, Tensor};
use super::ort::Rule;
use super::proto::{data_type as dt, NodeProto};
use super::{op_key, refuse, Ctx, Res, Value};
use crate::net::validate::MAX_ELEMENTS;
use crate::net::{Layer, MaxPool2d, QType, Quant};

/// Dispatch a node other than QuantizeLinear, DequantizeLinear and the QDQ float ops.
pub(super) fn node(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    match op_key(n).as_str() {
        "QLinearMatMul" => qlinear_matmul(ctx, n),
        "com.microsoft:QLinearAdd" => qlinear_add(ctx, n),
        "com.microsoft:QLinearGlobalAveragePool" => qlinear_global_avg_pool(ctx, n),
        "com.microsoft:QGemm" => qgemm(ctx, n),
        "QLinearConv" => qlinear_conv(ctx, n),
        "MatMulInteger" => matmul_integer(ctx, n),
        "ConvInteger" => conv_integer(ctx, n),
        "Relu" | "Clip" | "MaxPool" | "Flatten" | "Reshape" | "Identity" => elementwise(ctx, n),
        "Cast" => cast(ctx, n),
        "ConstantOfShape" => constant_of_shape(ctx, n),
        other => Err(format!("operator {other} is not supported").into()),
    }
}

/// A scale with which ONNX Runtime's float QuantizeLinear/DequantizeLinear steps round-trip every
/// integer of a 16-bit type exactly (`fl(fl((x − zp)·s)/s) = x − zp` for `|x − zp| < 2¹⁶`): a
/// normal binary32 number, small enough that `65535·s` is finite.
fn check_scale(s: f32, what: &str) -> Res<()> {
    if !s.is_normal() || s > 1e30 {
        return Err(format!(
            "{what} scale {s:e} is subnormal or too large: ONNX Runtime's float steps with it are not reproduced exactly"
        )
        .into());
    }
    Ok(())
}

pub(super) fn quantize_linear(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let a = Attrs { node: n };
    if a.int("block_size", 0)? != 0 {
        return Err("blocked quantization (block_size) cannot be expressed: the IR input has one scale".into());
    }
    let default = match a.int("output_dtype", 0)? {
        0 => QType::UINT8,
        t => qtype_of(t as i32)
            .ok_or_else(|| format!("output_dtype {} is not a quantized integer type", dt::name(t as i32)))?,
    };
    let p = params(ctx, n, 1, 2, default, "output")?;
    let q = p.quant("QuantizeLinear")?;
    check_scale(p.scale[0], "the output")?;
    match ctx.input(n, 0)?.clone() {
        Value::FloatInput { dims } => {
            ctx.set_input(&dims, q)?;
            ctx.set(n, Value::Int { t: 0, dims })
        }
        Value::Deq { t, dims, scale, .. } => {
            // DequantizeLinear → [shape op, MaxPool, Relu, Clip →] QuantizeLinear with the same
            // parameters: ONNX Runtime drops the pair or computes the op in float on dequantized
            // values, which round-trip exactly (check_scale); the integers pass through.
            ctx.check_chain(t, &n.input[0])?;
            let have = ctx.b.quant(t);
            if have.dtype != q.dtype || have.zero_point != q.zero_point || scale != q.scale as f32 {
                return Err(format!(
                    "requantizes a dequantized tensor to different parameters (scale {} zero point {} {} → scale {} \
                     zero point {} {}); ONNX Runtime computes this in float, which the IR cannot express exactly",
                    scale, have.zero_point, have.dtype, q.scale, q.zero_point, q.dtype
                )
                .into());
            }
            ctx.set(n, Value::Int { t, dims })
        }
        _ => Err("QuantizeLinear is supported on the float graph input and after DequantizeLinear (QDQ); \
                  float values computed by other operators are not"
            .into()),
    }
}

pub(super) fn dequantize_linear(ctx: &mut Ctx, i: usize, n: &NodeProto) -> Res<()> {
    let a = Attrs { node: n };
    if a.int("block_size", 0)? != 0 {
        return Err("blocked dequantization (block_size) is not supported".into());
    }
    match ctx.input(n, 0)?.clone() {
        Value::Const(q) => {
            // Weights/biases: keep integers and parameters; int32 biases have int32 zero points.
            let s = ctx.const_input(n, 1, "scale")?.floats()?.to_vec();
            let z = match ctx.opt_const(n, 2, "zero point")? {
                Some(z) => z.ints()?.to_vec(),
                None => vec![0],
            };
            q.ints()?;
            let dtype = qtype_of(q.data_type).unwrap_or(QType::INT8);
            let axis = a.int("axis", 1)?;
            let explicit_zp = n.input.get(2).is_some_and(|z| !z.is_empty());
            ctx.set(n, Value::ConstDeq { q, params: QParams { scale: s, zero_point: z, dtype }, axis, explicit_zp })
        }
        v @ (Value::IntInput { .. } | Value::Int { .. }) => {
            let default = match v {
                Value::IntInput { data_type, .. } => qtype_of(data_type).unwrap_or(QType::UINT8),
                Value::Int { t, .. } => ctx.b.quant(t).dtype,
                _ => QType::UINT8,
            };
            let p = params(ctx, n, 1, 2, default, "input")?;
            let q = p.quant("DequantizeLinear of a network tensor")?;
            check_scale(p.scale[0], "the input")?;
            let (t, dims) = ctx.take_int(n, 0, Some(q))?;
            ctx.set(n, Value::Deq { t, dims, scale: p.scale[0], dq: Some(i) })
        }
        _ => Err("DequantizeLinear input must be a constant or an integer network tensor".into()),
    }
}

/// Output quantization from `y_scale`/`y_zero_point` inputs.
fn out_quant(ctx: &Ctx, n: &NodeProto, si: usize, zi: usize) -> Res<(f32, Quant)> {
    let p = params(ctx, n, si, zi, QType::UINT8, "output")?;
    let q = p.quant("the output")?;
    Ok((p.scale[0], q))
}

fn input_quant(ctx: &Ctx, n: &NodeProto, si: usize, zi: usize) -> Res<(f32, Quant)> {
    let p = params(ctx, n, si, zi, QType::UINT8, "input")?;
    let q = p.quant("the input")?;
    Ok((p.scale[0], q))
}

/// Per-column weight parameters (scale list, zero points) of weights `w`.
fn weight_params(ctx: &Ctx, n: &NodeProto, w: &Tensor, si: usize, zi: usize) -> Res<QParams> {
    let wt = w.qtype()?;
    let p = params(ctx, n, si, zi, wt, "weight")?;
    if p.dtype != wt {
        return Err(format!("weight zero point type {} differs from the weight type {wt}", p.dtype).into());
    }
    Ok(p)
}

/// ONNX Runtime's CPU kernels for QLinearMatMul, QLinearConv and com.microsoft QGemm exist for
/// (A, B, Y) = (uint8, uint8, uint8), (uint8, int8, uint8) and (int8, int8, int8) only
/// (`QLinearMatMul`/`QLinearConv` kernel registrations in cpu_execution_provider.cc, `QGemm` in
/// contrib_ops/cpu/quantization/quant_gemm.cc; checked by the conformance suite): anything else
/// fails to load there, so there is no runtime behaviour to reproduce.
fn qlinear_types(op: &str, a: QType, b: QType, y: QType) -> Res<()> {
    let (u8t, s8t) = (QType::UINT8, QType::INT8);
    let ok = (a == u8t && (b == u8t || b == s8t) && y == u8t) || (a == s8t && b == s8t && y == s8t);
    if !ok {
        return refuse(
            op,
            Rule::NoKernel,
            format!(
                "ONNX Runtime has no CPU kernel for {op} with {a} input, {b} weights and {y} output (only uint8 × \
                 uint8 → uint8, uint8 × int8 → uint8 and int8 × int8 → int8)"
            ),
        );
    }
    Ok(())
}

/// com.microsoft QLinearAdd (contrib_ops/cpu/quantization/qlinear_binary_op.cc → MlasQLinearAdd):
/// on x86-64 with AVX2 the MLAS kernel [`AddKernel::MlasAvx2`], whose binary32 arithmetic the
/// IR's Add reproduces exactly (`src/net/ops/add.rs`). Operands of equal shape only: a
/// broadcast runs other code paths (a scalar operand is folded into the fixed part first).
fn qlinear_add(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let (a_s, aq) = input_quant(ctx, n, 1, 2)?;
    let (b_s, bq) = input_quant(ctx, n, 4, 5)?;
    let (_, cq) = out_quant(ctx, n, 6, 7)?;
    let eight = aq.dtype == QType::UINT8 || aq.dtype == QType::INT8;
    if !eight || bq.dtype != aq.dtype || cq.dtype != aq.dtype {
        return refuse(
            "QLinearAdd",
            Rule::NoKernel,
            format!(
                "ONNX Runtime's QLinearAdd takes operands and output of one 8-bit type; got {}, {} -> {}",
                aq.dtype, bq.dtype, cq.dtype
            ),
        );
    }
    let (ta, adims) = ctx.take_int(n, 0, Some(aq))?;
    let (tb, bdims) = ctx.take_int(n, 3, Some(bq))?;
    if adims != bdims {
        return Err(format!(
            "QLinearAdd operands have shapes {adims:?} and {bdims:?}; broadcasting runs other MLAS code paths, \
             which are not modelled"
        )
        .into());
    }
    let t = emit_add(ctx, "QLinearAdd", ta, tb, a_s, b_s, cq)?;
    ctx.set(n, Value::Int { t, dims: adims })
}

/// com.microsoft QLinearGlobalAveragePool (contrib_ops/cpu/quantization/qlinear_global_average_pool.cc
/// → MLAS, see [`emit_global_avg_pool`]); NCHW input (`channels_last = 0`) only.
fn qlinear_global_avg_pool(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let channels_last = Attrs { node: n }.int("channels_last", 0)?;
    if channels_last != 0 {
        return Err("channels_last = 1 (an NHWC input) is not supported".into());
    }
    let (x_s, xq) = input_quant(ctx, n, 1, 2)?;
    let (y_s, yq) = out_quant(ctx, n, 3, 4)?;
    let (t, dims) = ctx.take_int(n, 0, Some(xq))?;
    let (t2, odims) = emit_global_avg_pool(ctx, "QLinearGlobalAveragePool", t, &dims, x_s, y_s, yq)?;
    ctx.set(n, Value::Int { t: t2, dims: odims })
}

/// MatMulInteger and ConvInteger: ONNX Runtime's kernels take 8-bit inputs and weights.
fn integer_types(op: &str, a: QType, b: QType) -> Res<()> {
    let eight = |t: QType| t == QType::UINT8 || t == QType::INT8;
    if !eight(a) || !eight(b) {
        return refuse(
            op,
            Rule::NoKernel,
            format!("ONNX Runtime has no CPU kernel for {op} with {a} input and {b} weights (8-bit only)"),
        );
    }
    Ok(())
}

fn qlinear_matmul(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let (a_s, aq) = input_quant(ctx, n, 1, 2)?;
    let w = ctx.const_input(n, 3, "B")?.clone();
    let wp = weight_params(ctx, n, &w, 4, 5)?;
    let (y_s, yq) = out_quant(ctx, n, 6, 7)?;
    qlinear_types("QLinearMatMul", aq.dtype, wp.dtype, yq.dtype)?;
    let rescales = mlas_rescales(a_s, &wp.scale, y_s, None);
    let (_, xdims) = ctx.take_int(n, 0, Some(aq))?;
    let kernel = Kernel { pattern: "QLinearMatMul".into(), a_type: aq.dtype };
    let m =
        MatMul { w: &w, trans_b: false, w_zp: wp.zero_point, rescales, out: Some(yq), bias: None, relu: false, kernel };
    emit_matmul(ctx, out_of(n)?, xdims, m)
}

/// com.microsoft QGemm (contrib_ops/cpu/quantization/quant_gemm.cc): `alpha` enters the output
/// scale ([`mlas_rescales`]), the int32 `C` is added to the accumulator unscaled.
fn qgemm(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let at = Attrs { node: n };
    if at.int("transA", 0)? != 0 {
        return Err("transA = 1 is not supported".into());
    }
    let alpha = at.float("alpha", 1.0)?;
    let (a_s, aq) = input_quant(ctx, n, 1, 2)?;
    let w = ctx.const_input(n, 3, "B")?.clone();
    let wp = weight_params(ctx, n, &w, 4, 5)?;
    let bias = ctx.opt_const(n, 6, "C (bias)")?.map(int32_bias).transpose()?;
    if ctx.opt_input(n, 7)?.is_none() {
        return Err("QGemm without y_scale has a float output, which the IR cannot represent".into());
    }
    let (y_s, yq) = out_quant(ctx, n, 7, 8)?;
    qlinear_types("QGemm", aq.dtype, wp.dtype, yq.dtype)?;
    let rescales = mlas_rescales(a_s, &wp.scale, y_s, Some(alpha));
    let trans_b = at.int("transB", 0)? != 0;
    let (_, xdims) = ctx.take_int(n, 0, Some(aq))?;
    let kernel = Kernel { pattern: "QGemm".into(), a_type: aq.dtype };
    let m = MatMul { w: &w, trans_b, w_zp: wp.zero_point, rescales, out: Some(yq), bias, relu: false, kernel };
    emit_matmul(ctx, out_of(n)?, xdims, m)
}

fn qlinear_conv(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let (x_s, xq) = input_quant(ctx, n, 1, 2)?;
    let w = ctx.const_input(n, 3, "W")?.clone();
    let wp = weight_params(ctx, n, &w, 4, 5)?;
    let (y_s, yq) = out_quant(ctx, n, 6, 7)?;
    qlinear_types("QLinearConv", xq.dtype, wp.dtype, yq.dtype)?;
    let bias = ctx.opt_const(n, 8, "B (bias)")?.map(int32_bias).transpose()?;
    let rescales = mlas_rescales(x_s, &wp.scale, y_s, None);
    let (_, xdims) = ctx.take_int(n, 0, Some(xq))?;
    let kernel = Kernel { pattern: "QLinearConv".into(), a_type: xq.dtype };
    let c = ConvW { w: &w, w_zp: wp.zero_point, rescales, out: Some(yq), bias, relu: false, kernel };
    emit_conv(ctx, n, out_of(n)?, xdims, xq, c)
}

/// Zero point of an integer op's data input (scale 1: the op has no real interpretation).
fn int_op_quant(ctx: &Ctx, n: &NodeProto, zi: usize) -> Res<Quant> {
    let dtype = match ctx.input(n, 0)? {
        Value::IntInput { data_type, .. } => {
            qtype_of(*data_type).ok_or_else(|| format!("input type {} is not supported", dt::name(*data_type)))?
        }
        Value::Int { t, .. } => ctx.b.quant(*t).dtype,
        _ => return Err("the data input must be an integer tensor".into()),
    };
    let zp = match ctx.opt_const(n, zi, "input zero point")? {
        Some(z) => {
            let v = z.ints()?;
            match v {
                [z] => *z,
                _ => return Err("per-row input zero points are not supported".into()),
            }
        }
        None => 0,
    };
    let scale = match ctx.input(n, 0)? {
        Value::Int { t, .. } => ctx.b.quant(*t).scale,
        _ => 1.0,
    };
    Ok(Quant { dtype, scale, zero_point: zp })
}

fn int_weight_zp(ctx: &Ctx, n: &NodeProto, zi: usize) -> Res<Vec<i64>> {
    Ok(match ctx.opt_const(n, zi, "weight zero point")? {
        Some(z) => z.ints()?.to_vec(),
        None => vec![0],
    })
}

fn matmul_integer(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let aq = int_op_quant(ctx, n, 2)?;
    let w = ctx.const_input(n, 1, "B")?.clone();
    integer_types("MatMulInteger", aq.dtype, w.qtype()?)?;
    let w_zp = int_weight_zp(ctx, n, 3)?;
    let (_, xdims) = ctx.take_int(n, 0, Some(aq))?;
    let kernel = Kernel { pattern: "MatMulInteger".into(), a_type: aq.dtype };
    let m = MatMul { w: &w, trans_b: false, w_zp, rescales: vec![], out: None, bias: None, relu: false, kernel };
    emit_matmul(ctx, out_of(n)?, xdims, m)
}

fn conv_integer(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let xq = int_op_quant(ctx, n, 2)?;
    let w = ctx.const_input(n, 1, "W")?.clone();
    integer_types("ConvInteger", xq.dtype, w.qtype()?)?;
    let w_zp = int_weight_zp(ctx, n, 3)?;
    let (_, xdims) = ctx.take_int(n, 0, Some(xq))?;
    let xq = ctx.b.quant(ctx.b.cur);
    let kernel = Kernel { pattern: "ConvInteger".into(), a_type: xq.dtype };
    let c = ConvW { w: &w, w_zp, rescales: vec![], out: None, bias: None, relu: false, kernel };
    emit_conv(ctx, n, out_of(n)?, xdims, xq, c)
}

/// Relu, Clip, MaxPool, Flatten, Reshape, Identity on an integer tensor (QOperator) or on a
/// dequantized one (QDQ). On a dequantized tensor ONNX Runtime either drops the DQ/Q pair around
/// the op (`DropQDQNodesRules` in qdq_selector_action_transformer.cc, for 8-bit MaxPool, Reshape,
/// Flatten, …) or computes the op in float; both equal the op on the integers, because DQ with a
/// positive scale is monotone, DQ(zp) = 0 and QuantizeLinear with the same parameters
/// round-trips exactly. The result is no longer "straight from a DequantizeLinear" (except
/// through Identity, which ONNX Runtime eliminates), so a compute op after it is not a QDQ group.
fn elementwise(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let op = n.op_type.as_str();
    let (t, dims, deq) = match ctx.input(n, 0)?.clone() {
        Value::Deq { t, dims, scale, dq } => {
            ctx.check_chain(t, &n.input[0])?;
            (t, dims, Some((scale, dq)))
        }
        Value::Int { .. } | Value::IntInput { .. } => {
            let (t, d) = ctx.take_int(n, 0, None)?;
            (t, d, None)
        }
        Value::FloatInput { dims } if matches!(op, "Flatten" | "Reshape" | "Identity") => {
            // shape-only ops before the input's QuantizeLinear change only its dims
            let nd = if op == "Identity" { dims } else { reshape_dims(ctx, n, &dims)? };
            return ctx.set(n, Value::FloatInput { dims: nd });
        }
        Value::FloatInput { .. } => {
            return Err(format!("{op} on the float input: quantize first (the IR starts at QuantizeLinear)").into())
        }
        _ => return Err(format!("{op} on a constant is not supported").into()),
    };
    let wrap = |t: usize, dims: Vec<usize>| match deq {
        Some((scale, dq)) => Value::Deq { t, dims, scale, dq: if op == "Identity" { dq } else { None } },
        None => Value::Int { t, dims },
    };
    let q = ctx.b.quant(t);
    let new_t = match op {
        "Identity" => t,
        "Relu" => {
            if deq.is_some() {
                // ONNX Runtime 1.32's ReluQuantFusion (relu_quantizelinear.cc) removes a Relu before
                // a QuantizeLinear with a 4-bit zero point whatever its value (measured:
                // scripts/onnx/probe_qdq_fusion.py), so it computes no Relu there unless the zero
                // point is the type's minimum (where the Relu changes nothing).
                if q.dtype.bits() < 8 && q.zero_point != q.dtype.min() {
                    return refuse(
                        "QDQ Relu",
                        Rule::Activation,
                        format!(
                            "a Relu on a dequantized {} tensor with zero point {} (not the type's minimum): ONNX \
                             Runtime 1.32 drops such a Relu before a QuantizeLinear with a sub-byte zero point \
                             (ReluQuantFusion) and computes no Relu at all, which quiver does not reproduce",
                            q.dtype, q.zero_point
                        ),
                    );
                }
                // relu(DQ(x)) = DQ(max(x, zp)) exactly: DQ is monotone and DQ(zp) = 0.
                let shape = ctx.b.shape(t).to_vec();
                ctx.b.push(Layer::Relu, shape, q)
            } else {
                // ONNX Relu on an integer tensor is max(x, 0) on the integer values.
                ctx.b.clamp(0, i64::MAX)?
            }
        }
        "Clip" => match deq {
            Some((scale, _)) => {
                // Q(clip(DQ(x), lo, hi)) = clamp(x, Q(lo), Q(hi)) for the monotone Q of the
                // QuantizeLinear that must follow with the same parameters (checked there).
                let (lo, hi) = float_clip_bounds(ctx, n)?;
                let quant = |v: f32| -> i64 {
                    let r = f64::from(v / scale).round_ties_even();
                    (r.clamp(-1e18, 1e18) as i64).saturating_add(q.zero_point).clamp(q.dtype.min(), q.dtype.max())
                };
                ctx.b.clamp(quant(lo), quant(hi))?
            }
            None => {
                let bound = |i: usize, what: &str| -> Res<Option<i64>> {
                    match ctx.opt_const(n, i, what)? {
                        None => Ok(None),
                        Some(v) => match v.ints()? {
                            [x] => Ok(Some(*x)),
                            _ => Err(format!("Clip {what} must be a scalar").into()),
                        },
                    }
                };
                let at = Attrs { node: n };
                let has = |k: &str| at.float(k, f32::NAN).map(|v| !v.is_nan()).unwrap_or(true);
                if has("min") || has("max") {
                    return Err(
                        "Clip with min/max attributes (opset < 11) on an integer tensor is not supported".into()
                    );
                }
                let lo = bound(1, "min")?.unwrap_or(i64::MIN);
                let hi = bound(2, "max")?.unwrap_or(i64::MAX);
                ctx.b.clamp(lo, hi)?
            }
        },
        "MaxPool" => return max_pool(ctx, n, t, dims, deq.map(|d| d.0)),
        "Flatten" | "Reshape" => {
            let nd = reshape_dims(ctx, n, &dims)?;
            let new_shape = ir_shape(&nd);
            let cur = ctx.b.shape(t).to_vec();
            let t2 = if new_shape == cur {
                t
            } else if new_shape.len() == 1 {
                ctx.b.flatten()
            } else {
                return Err(format!(
                    "reshaping {dims:?} to {nd:?} cannot be expressed (the IR only flattens images to vectors)"
                )
                .into());
            };
            return ctx.set(n, wrap(t2, nd));
        }
        _ => return Err(format!("operator {op} is not supported").into()),
    };
    ctx.set(n, wrap(new_t, dims))
}

fn reshape_dims(ctx: &Ctx, n: &NodeProto, dims: &[usize]) -> Res<Vec<usize>> {
    let total: usize = dims.iter().product();
    if n.op_type == "Flatten" {
        let r = dims.len() as i64;
        let mut axis = Attrs { node: n }.int("axis", 1)?;
        if axis < 0 {
            axis += r;
        }
        if !(0..=r).contains(&axis) {
            return Err(format!("axis out of range for rank {r}").into());
        }
        let a: usize = dims[..axis as usize].iter().product();
        return Ok(vec![a, total / a.max(1)]);
    }
    let shape = ctx.const_input(n, 1, "shape")?.ints()?.to_vec();
    let allowzero = Attrs { node: n }.int("allowzero", 0)? != 0;
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &s) in shape.iter().enumerate() {
        match s {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*dims.get(i).ok_or("shape 0 refers to a missing dimension")?),
            s if s >= 1 => out.push(s as usize),
            _ => return Err(format!("invalid target shape {shape:?}").into()),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || (total / known) * known != total {
            return Err(format!("cannot infer -1 in {shape:?} for {total} elements").into());
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!("target shape {shape:?} does not have {total} elements").into());
    }
    Ok(out)
}

fn max_pool(ctx: &mut Ctx, n: &NodeProto, t: usize, dims: Vec<usize>, deq: Option<f32>) -> Res<()> {
    if n.output.len() > 1 && !n.output[1].is_empty() {
        return Err("MaxPool's Indices output is not supported".into());
    }
    let at = Attrs { node: n };
    if at.int("ceil_mode", 0)? != 0 {
        return Err("ceil_mode = 1 is not supported".into());
    }
    if at.int("storage_order", 0)? != 0 {
        return Err("storage_order = 1 is not supported".into());
    }
    let [c, h, w] = match dims[..] {
        [1, a, b, d] => [a, b, d],
        _ => return Err(format!("input dims {dims:?}; only 2-D pooling with batch 1 is supported").into()),
    };
    let ks = at.ints("kernel_shape")?.ok_or("kernel_shape is required")?;
    let kernel = match ks[..] {
        [a, b] if a >= 1 && b >= 1 => [a as usize, b as usize],
        _ => return Err(format!("kernel_shape {ks:?} must be two positive integers").into()),
    };
    let win = window(&at, kernel, [h, w], true)?;
    let [oh, ow] = win.output_hw(h, w).ok_or("the window does not fit the input")?;
    if ctx.b.shape(t).len() != 3 {
        return Err("the input was flattened earlier".into());
    }
    let q = ctx.b.quant(t);
    let layer = Layer::MaxPool2d(MaxPool2d {
        kernel: win.kernel,
        stride: win.stride,
        padding: win.padding,
        dilation: win.dilation,
    });
    let t2 = ctx.b.push(layer, vec![c, oh, ow], q);
    let odims = vec![1, c, oh, ow];
    ctx.set(
        n,
        match deq {
            Some(scale) => Value::Deq { t: t2, dims: odims, scale, dq: None },
            None => Value::Int { t: t2, dims: odims },
        },
    )
}

/// `Cast`: folded on constants; on a network tensor only as a no-op (same integer type), as
/// PyTorch's exporter writes after QuantizeLinear.
fn cast(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let to = Attrs { node: n }.int("to", 0)? as i32;
    match ctx.input(n, 0)?.clone() {
        Value::Const(mut t) => {
            match (&t.data, to) {
                (Data::Int(v), dt::FLOAT) => t.data = Data::Float(v.iter().map(|&x| x as f32).collect()),
                (Data::Int(v), _) => {
                    let (lo, hi) = match to {
                        dt::INT32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
                        dt::INT64 => (i64::MIN, i64::MAX),
                        t => match qtype_of(t) {
                            Some(q) => (q.min(), q.max()),
                            None => return Err(format!("Cast to {} is not supported", dt::name(t)).into()),
                        },
                    };
                    if v.iter().any(|x| !(lo..=hi).contains(x)) {
                        return Err(
                            format!("Cast of constant `{}` to {} would wrap around", t.name, dt::name(to)).into()
                        );
                    }
                }
                (Data::Float(_), dt::FLOAT) => {}
                (Data::Float(_), _) => {
                    return Err("Cast of a float constant to an integer type is not supported".into())
                }
            }
            t.data_type = to;
            ctx.set(n, Value::Const(t))
        }
        v @ (Value::Int { .. } | Value::IntInput { .. }) => {
            let same = match &v {
                Value::Int { t, .. } => qtype_of(to) == Some(ctx.b.quant(*t).dtype),
                Value::IntInput { data_type, .. } => *data_type == to,
                _ => false,
            };
            if !same {
                return Err(format!(
                    "Cast of a network tensor to {} (a different type) is not supported",
                    dt::name(to)
                )
                .into());
            }
            ctx.set(n, v)
        }
        _ => Err("Cast is supported on constants and as a no-op on integer tensors".into()),
    }
}

/// `ConstantOfShape` with a constant shape: folded.
fn constant_of_shape(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let shape = ctx.const_input(n, 0, "shape")?.ints()?.to_vec();
    let dims: Vec<usize> =
        shape.iter().map(|&d| usize::try_from(d).map_err(|_| "negative dimension".into())).collect::<Res<_>>()?;
    let count =
        dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).filter(|&c| c <= MAX_ELEMENTS).ok_or("too large")?;
    let at = Attrs { node: n };
    let (data_type, data) = match at.tensor("value")? {
        None => (dt::FLOAT, Data::Float(vec![0.0; count])),
        Some(tp) => {
            let v = super::graph::decode_tensor(tp)?;
            let data = match &v.data {
                Data::Float(x) if x.len() == 1 => Data::Float(vec![x[0]; count]),
                Data::Int(x) if x.len() == 1 => Data::Int(vec![x[0]; count]),
                _ => return Err("ConstantOfShape value must have one element".into()),
            };
            (v.data_type, data)
        }
    };
    let name = out_of(n)?.to_string();
    ctx.set(n, Value::Const(Tensor { name, data_type, dims, data }))
}
