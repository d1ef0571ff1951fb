//! QOperator nodes (integer in, integer out) and the layer emitters the QDQ folding shares.

use super::graph::{ir_shape, mlas_rescales, qtype_of, window, Attrs, Data, QParams, Tensor};
use super::proto::{data_type as dt, NodeProto};
use super::{op_key, qdq, Ctx, Res, Value};
use crate::net::validate::MAX_ELEMENTS;
use crate::net::{Conv2d, Dense, Layer, MaxPool2d, QType, Quant, Requant, Rescale};

/// Dispatch one node.
pub(super) fn node(ctx: &mut Ctx, i: usize, n: &NodeProto) -> Res<()> {
    match op_key(n).as_str() {
        "QuantizeLinear" => quantize_linear(ctx, n),
        "DequantizeLinear" => dequantize_linear(ctx, n),
        "QLinearMatMul" => qlinear_matmul(ctx, n),
        "com.microsoft:QGemm" => qgemm(ctx, n),
        "QLinearConv" => qlinear_conv(ctx, n),
        "MatMulInteger" => matmul_integer(ctx, n),
        "ConvInteger" => conv_integer(ctx, n),
        "Relu" | "Clip" | "MaxPool" | "Flatten" | "Reshape" | "Identity" => elementwise(ctx, n),
        "Gemm" | "MatMul" | "Conv" => qdq::fold(ctx, i, n),
        "Cast" => cast(ctx, n),
        "ConstantOfShape" => constant_of_shape(ctx, n),
        other => Err(format!("operator {other} is not supported")),
    }
}

/// The name of the node's (first) output.
pub(super) fn out_of(n: &NodeProto) -> Res<&str> {
    n.output.first().map(String::as_str).filter(|s| !s.is_empty()).ok_or_else(|| "the node has no output".to_string())
}

/// Scale/zero-point pair from inputs `si`, `zi` of `n` (`zi` optional → ONNX default 0 of `default`).
pub(super) fn params(ctx: &Ctx, n: &NodeProto, si: usize, zi: usize, default: QType, what: &str) -> Res<QParams> {
    let s = ctx.const_input(n, si, &format!("{what} scale"))?;
    let z = ctx.opt_const(n, zi, &format!("{what} zero point"))?;
    QParams::read(s, z, default).map_err(|e| format!("{what}: {e}"))
}

fn quantize_linear(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
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
    match ctx.input(n, 0)?.clone() {
        Value::FloatInput { dims } => {
            ctx.set_input(&dims, q)?;
            ctx.set(n, Value::Int { t: 0, dims })
        }
        Value::Deq { t, dims, scale } => {
            ctx.check_chain(t, &n.input[0])?;
            let have = ctx.b.quant(t);
            if have.dtype != q.dtype || have.zero_point != q.zero_point || scale != q.scale as f32 {
                return Err(format!(
                    "requantizes a dequantized tensor to different parameters (scale {} zero point {} {} → scale {} \
                     zero point {} {}); ONNX Runtime computes this in float, which the IR cannot express exactly",
                    scale, have.zero_point, have.dtype, q.scale, q.zero_point, q.dtype
                ));
            }
            ctx.set(n, Value::Int { t, dims })
        }
        _ => Err("QuantizeLinear is supported on the float graph input and after DequantizeLinear (QDQ); \
                  float values computed by other operators are not"
            .into()),
    }
}

fn dequantize_linear(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
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
            ctx.set(n, Value::ConstDeq { q, params: QParams { scale: s, zero_point: z, dtype }, axis })
        }
        v @ (Value::IntInput { .. } | Value::Int { .. }) => {
            let default = match v {
                Value::IntInput { data_type, .. } => qtype_of(data_type).unwrap_or(QType::UINT8),
                Value::Int { t, .. } => ctx.b.quant(t).dtype,
                _ => QType::UINT8,
            };
            let p = params(ctx, n, 1, 2, default, "input")?;
            let q = p.quant("DequantizeLinear of a network tensor")?;
            let (t, dims) = ctx.take_int(n, 0, Some(q))?;
            ctx.set(n, Value::Deq { t, dims, scale: p.scale[0] })
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
        return Err(format!("weight zero point type {} differs from the weight type {wt}", p.dtype));
    }
    Ok(p)
}

fn qlinear_matmul(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let (a_s, aq) = input_quant(ctx, n, 1, 2)?;
    let w = ctx.const_input(n, 3, "B")?.clone();
    let wp = weight_params(ctx, n, &w, 4, 5)?;
    let (y_s, yq) = out_quant(ctx, n, 6, 7)?;
    let rescales = mlas_rescales(a_s, &wp.scale, y_s, None);
    let (_, xdims) = ctx.take_int(n, 0, Some(aq))?;
    emit_matmul(
        ctx,
        out_of(n)?,
        xdims,
        MatMul { w: &w, trans_b: false, w_zp: wp.zero_point, rescales, out: Some(yq), bias: None, relu: false },
    )
}

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
    let rescales = mlas_rescales(a_s, &wp.scale, y_s, Some(alpha));
    let trans_b = at.int("transB", 0)? != 0;
    let (_, xdims) = ctx.take_int(n, 0, Some(aq))?;
    emit_matmul(
        ctx,
        out_of(n)?,
        xdims,
        MatMul { w: &w, trans_b, w_zp: wp.zero_point, rescales, out: Some(yq), bias, relu: false },
    )
}

/// An int32 bias vector (`C` of QGemm, `B` of QLinearConv).
pub(super) fn int32_bias(c: &Tensor) -> Res<Vec<i64>> {
    if c.data_type != dt::INT32 {
        return Err(format!("bias `{}` has type {}, expected INT32", c.name, dt::name(c.data_type)));
    }
    let rows = if c.dims.len() >= 2 { c.dims[..c.dims.len() - 1].iter().product::<usize>() } else { 1 };
    if rows != 1 {
        return Err(format!("bias `{}` has dims {:?}; only a vector (or 1×N) bias is supported", c.name, c.dims));
    }
    Ok(c.ints()?.to_vec())
}

fn qlinear_conv(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let (x_s, xq) = input_quant(ctx, n, 1, 2)?;
    let w = ctx.const_input(n, 3, "W")?.clone();
    let wp = weight_params(ctx, n, &w, 4, 5)?;
    let (y_s, yq) = out_quant(ctx, n, 6, 7)?;
    let bias = ctx.opt_const(n, 8, "B (bias)")?.map(int32_bias).transpose()?;
    let rescales = mlas_rescales(x_s, &wp.scale, y_s, None);
    let (_, xdims) = ctx.take_int(n, 0, Some(xq))?;
    emit_conv(
        ctx,
        n,
        out_of(n)?,
        xdims,
        xq,
        ConvW { w: &w, w_zp: wp.zero_point, rescales, out: Some(yq), bias, relu: false },
    )
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
    w.qtype()?;
    let w_zp = int_weight_zp(ctx, n, 3)?;
    let (_, xdims) = ctx.take_int(n, 0, Some(aq))?;
    emit_matmul(
        ctx,
        out_of(n)?,
        xdims,
        MatMul { w: &w, trans_b: false, w_zp, rescales: vec![], out: None, bias: None, relu: false },
    )
}

fn conv_integer(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let xq = int_op_quant(ctx, n, 2)?;
    let w = ctx.const_input(n, 1, "W")?.clone();
    w.qtype()?;
    let w_zp = int_weight_zp(ctx, n, 3)?;
    let (_, xdims) = ctx.take_int(n, 0, Some(xq))?;
    let xq = ctx.b.quant(ctx.b.last());
    emit_conv(
        ctx,
        n,
        out_of(n)?,
        xdims,
        xq,
        ConvW { w: &w, w_zp, rescales: vec![], out: None, bias: None, relu: false },
    )
}

/// Parameters of a matrix product `x · B` (or `x · Bᵀ`).
pub(super) struct MatMul<'t> {
    pub w: &'t Tensor,
    pub trans_b: bool,
    /// 1 or N weight zero points.
    pub w_zp: Vec<i64>,
    /// 1 or N rescales (ignored when `out` is `None`).
    pub rescales: Vec<Rescale>,
    /// Output quantization; `None` = the raw int32 accumulator (MatMulInteger).
    pub out: Option<Quant>,
    pub bias: Option<Vec<i64>>,
    pub relu: bool,
}

fn per(v: &[i64], j: usize) -> i64 {
    if v.len() == 1 {
        v[0]
    } else {
        v[j]
    }
}

/// The narrowest output type for a raw accumulator: int16 if its whole-domain range fits.
fn raw_out(ranges: &[(i64, i64)]) -> Res<Quant> {
    let lo = ranges.iter().map(|r| r.0).min().unwrap_or(0);
    let hi = ranges.iter().map(|r| r.1).max().unwrap_or(0);
    let t = QType::new(16, true).ok_or("int16")?;
    if lo < t.min() || hi > t.max() {
        return Err(format!(
            "the int32 output can take values in [{lo}, {hi}], wider than the IR's 16-bit tensors; \
             an integer-output op is supported only where its range fits int16"
        ));
    }
    Ok(Quant { dtype: t, scale: 1.0, zero_point: 0 })
}

/// Emit a Dense layer for `x · B` on input 0 of `n`. Rows of `x` (all but its last dim) become a
/// block-diagonal Dense over the flattened tensor (off-block weights equal the zero point, so
/// they contribute 0).
pub(super) fn emit_matmul(ctx: &mut Ctx, out_name: &str, xdims: Vec<usize>, m: MatMul) -> Res<()> {
    let k = *xdims.last().ok_or("the data input is a scalar")?;
    let rows: usize = xdims[..xdims.len() - 1].iter().product();
    let wd = &m.w.dims;
    let wv = m.w.ints()?;
    // (batch count of B, N) and an accessor B_b[k][n].
    let (nb, nn) = if m.trans_b {
        match wd[..] {
            [nn, kk] if kk == k => (1, nn),
            _ => return Err(format!("B has dims {wd:?}; expected [N, {k}] (transB = 1)")),
        }
    } else {
        match wd.len() {
            2 if wd[0] == k => (1, wd[1]),
            r if r >= 3 && wd[r - 2] == k && xdims.len() == r && wd[..r - 2] == xdims[..r - 2] => {
                (wd[..r - 2].iter().product(), wd[r - 1])
            }
            _ => return Err(format!("B has dims {wd:?}, which does not match the input dims {xdims:?}")),
        }
    };
    let bval = |b: usize, kk: usize, j: usize| -> i64 {
        if m.trans_b {
            wv[j * k + kk]
        } else {
            wv[(b * k + kk) * nn + j]
        }
    };
    let per_batch_rows = if nb == 1 { rows } else { rows / nb };
    if m.w_zp.len() != 1 && m.w_zp.len() != nn {
        return Err(format!("{} weight zero points for {nn} columns", m.w_zp.len()));
    }
    if m.out.is_some() && m.rescales.len() != 1 && m.rescales.len() != nn {
        return Err(format!("{} weight scales for {nn} columns", m.rescales.len()));
    }
    if let Some(bias) = &m.bias {
        if bias.len() != 1 && bias.len() != nn {
            return Err(format!("bias has {} entries for {nn} columns", bias.len()));
        }
    }
    let (fin, fout) = (rows * k, rows * nn);
    if fin.checked_mul(fout).filter(|&s| s <= MAX_ELEMENTS).is_none() {
        return Err(format!("the block-diagonal weight matrix for {rows} rows would be too large"));
    }
    let mut weights = vec![0i64; fin * fout];
    for r in 0..rows {
        let b = if nb == 1 { 0 } else { r / per_batch_rows };
        for j in 0..nn {
            let row = r * nn + j;
            let zw = per(&m.w_zp, j);
            let dst = &mut weights[row * fin..(row + 1) * fin];
            dst.iter_mut().for_each(|v| *v = zw);
            for kk in 0..k {
                dst[r * k + kk] = bval(b, kk, j);
            }
        }
    }
    let expand = |v: &[i64]| -> Vec<i64> {
        if v.len() == 1 {
            v.to_vec()
        } else {
            (0..fout).map(|j| v[j % nn]).collect()
        }
    };
    let w_zp = expand(&m.w_zp);
    let bias: Vec<i64> = m.bias.as_ref().map(|b| (0..fout).map(|j| per(b, j % nn)).collect()).unwrap_or_default();
    let weight_dtype = m.w.qtype()?;
    ctx.b.flatten();
    let x_t = ctx.b.last();
    let (out, rescale) = match m.out {
        Some(q) => {
            let r = if m.rescales.len() == 1 {
                m.rescales.clone()
            } else {
                (0..fout).map(|j| m.rescales[j % nn]).collect()
            };
            (q, r)
        }
        None => {
            let xq = ctx.b.quant(x_t);
            let ranges: Vec<(i64, i64)> = (0..fout)
                .map(|j| {
                    let zw = per(&w_zp, j);
                    let b = bias.get(j).copied().unwrap_or(0);
                    dot_range(weights[j * fin..(j + 1) * fin].iter().map(|&w| w - zw), xq, b, false)
                })
                .collect();
            (raw_out(&ranges)?, vec![super::graph::identity_rescale()])
        }
    };
    let layer = Layer::Dense(Dense {
        in_features: fin,
        out_features: fout,
        weights,
        weight_dtype,
        weight_zero_point: w_zp,
        bias,
        requant: Requant { rescale, relu: m.relu },
        output: out,
    });
    let mut odims = xdims[..xdims.len() - 1].to_vec();
    odims.push(nn);
    let t = ctx.b.push(layer, vec![fout], out);
    ctx.values.insert(out_name.to_string(), Value::Int { t, dims: odims });
    Ok(())
}

/// Whole-domain range of `Σ w·(x − zx) + b` (with 0 included when `pad`).
fn dot_range(ws: impl Iterator<Item = i64>, xq: Quant, b: i64, pad: bool) -> (i64, i64) {
    let (mut xlo, mut xhi) = (xq.dtype.min() - xq.zero_point, xq.dtype.max() - xq.zero_point);
    if pad {
        xlo = xlo.min(0);
        xhi = xhi.max(0);
    }
    let (mut lo, mut hi) = (i128::from(b), i128::from(b));
    for w in ws {
        let (a, c) = (i128::from(w) * i128::from(xlo), i128::from(w) * i128::from(xhi));
        lo += a.min(c);
        hi += a.max(c);
    }
    (lo.clamp(i64::MIN.into(), i64::MAX.into()) as i64, hi.clamp(i64::MIN.into(), i64::MAX.into()) as i64)
}

/// Parameters of a 2-D convolution.
pub(super) struct ConvW<'t> {
    pub w: &'t Tensor,
    pub w_zp: Vec<i64>,
    pub rescales: Vec<Rescale>,
    pub out: Option<Quant>,
    pub bias: Option<Vec<i64>>,
    pub relu: bool,
}

/// Emit a Conv2d layer for node `n` (its attributes) on the newest tensor `t` with ONNX dims
/// `xdims`, whose input quantization is `xq`; the result is named `out_name`.
pub(super) fn emit_conv(
    ctx: &mut Ctx,
    n: &NodeProto,
    out_name: &str,
    xdims: Vec<usize>,
    xq: Quant,
    c: ConvW,
) -> Res<()> {
    let t = ctx.b.last();
    let [cin, h, w] = match xdims[..] {
        [1, a, b, d] => [a, b, d],
        _ => return Err(format!("input dims {xdims:?}; only 2-D convolution with batch 1 is supported")),
    };
    if ctx.b.shape(t).len() != 3 {
        return Err("the input was flattened earlier; the IR cannot restore an image shape".into());
    }
    let [m, cg, kh, kw] = match c.w.dims[..] {
        [a, b, d, e] => [a, b, d, e],
        _ => return Err(format!("W has dims {:?}; only 2-D kernels are supported", c.w.dims)),
    };
    let at = Attrs { node: n };
    let groups = usize::try_from(at.int("group", 1)?).map_err(|_| "negative group")?;
    if groups == 0 || cg * groups != cin || m % groups != 0 {
        return Err(format!("W dims {:?} and group {groups} do not match {cin} input channels", c.w.dims));
    }
    let win = window(&at, [kh, kw], [h, w], true)?;
    let [oh, ow] = win.output_hw(h, w).ok_or("the kernel does not fit the input")?;
    if c.w_zp.len() != 1 && c.w_zp.len() != m {
        return Err(format!("{} weight zero points for {m} output channels", c.w_zp.len()));
    }
    let weights = c.w.ints()?.to_vec();
    let bias = c.bias.clone().unwrap_or_default();
    if !bias.is_empty() && bias.len() != m {
        return Err(format!("bias has {} entries for {m} output channels", bias.len()));
    }
    let per_out = cg * kh * kw;
    let (out, rescale) = match c.out {
        Some(q) => (q, c.rescales.clone()),
        None => {
            let ranges: Vec<(i64, i64)> = (0..m)
                .map(|o| {
                    let zw = per(&c.w_zp, o);
                    let b = bias.get(o).copied().unwrap_or(0);
                    dot_range(weights[o * per_out..(o + 1) * per_out].iter().map(|&w| w - zw), xq, b, true)
                })
                .collect();
            (raw_out(&ranges)?, vec![super::graph::identity_rescale()])
        }
    };
    let layer = Layer::Conv2d(Conv2d {
        in_channels: cin,
        out_channels: m,
        kernel: [kh, kw],
        stride: win.stride,
        padding: win.padding,
        dilation: win.dilation,
        groups,
        weights,
        weight_dtype: c.w.qtype()?,
        weight_zero_point: c.w_zp.clone(),
        bias,
        requant: Requant { rescale, relu: c.relu },
        output: out,
    });
    let t = ctx.b.push(layer, vec![m, oh, ow], out);
    ctx.values.insert(out_name.to_string(), Value::Int { t, dims: vec![1, m, oh, ow] });
    Ok(())
}

/// Relu, Clip, MaxPool, Flatten, Reshape, Identity on an integer tensor (QOperator) or on a
/// dequantized one (QDQ: the op commutes exactly with a per-tensor DequantizeLinear).
fn elementwise(ctx: &mut Ctx, n: &NodeProto) -> Res<()> {
    let op = n.op_type.as_str();
    let (t, dims, deq) = match ctx.input(n, 0)?.clone() {
        Value::Deq { t, dims, scale } => {
            ctx.check_chain(t, &n.input[0])?;
            (t, dims, Some(scale))
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
            return Err(format!("{op} on the float input: quantize first (the IR starts at QuantizeLinear)"))
        }
        _ => return Err(format!("{op} on a constant is not supported")),
    };
    let wrap = |t: usize, dims: Vec<usize>| match deq {
        Some(scale) => Value::Deq { t, dims, scale },
        None => Value::Int { t, dims },
    };
    let q = ctx.b.quant(t);
    let new_t = match op {
        "Identity" => t,
        "Relu" => {
            if deq.is_some() {
                // relu(DQ(x)) = DQ(max(x, zp)) exactly: DQ is monotone and DQ(zp) = 0.
                let shape = ctx.b.shape(t).to_vec();
                ctx.b.push(Layer::Relu, shape, q)
            } else {
                // ONNX Relu on an integer tensor is max(x, 0) on the integer values.
                ctx.b.clamp(0, i64::MAX)?
            }
        }
        "Clip" => {
            if deq.is_some() {
                return Err("Clip between DequantizeLinear and QuantizeLinear is not supported".into());
            }
            let bound = |i: usize, what: &str| -> Res<Option<i64>> {
                match ctx.opt_const(n, i, what)? {
                    None => Ok(None),
                    Some(v) => match v.ints()? {
                        [x] => Ok(Some(*x)),
                        _ => Err(format!("Clip {what} must be a scalar")),
                    },
                }
            };
            let at = Attrs { node: n };
            let has = |k: &str| at.float(k, f32::NAN).map(|v| !v.is_nan()).unwrap_or(true);
            if has("min") || has("max") {
                return Err("Clip with min/max attributes (opset < 11) on an integer tensor is not supported".into());
            }
            let lo = bound(1, "min")?.unwrap_or(i64::MIN);
            let hi = bound(2, "max")?.unwrap_or(i64::MAX);
            ctx.b.clamp(lo, hi)?
        }
        "MaxPool" => return max_pool(ctx, n, t, dims, deq),
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
                ));
            };
            return ctx.set(n, wrap(t2, nd));
        }
        _ => return Err(format!("operator {op} is not supported")),
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
            return Err(format!("axis out of range for rank {r}"));
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
            _ => return Err(format!("invalid target shape {shape:?}")),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || (total / known) * known != total {
            return Err(format!("cannot infer -1 in {shape:?} for {total} elements"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!("target shape {shape:?} does not have {total} elements"));
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
        _ => return Err(format!("input dims {dims:?}; only 2-D pooling with batch 1 is supported")),
    };
    let ks = at.ints("kernel_shape")?.ok_or("kernel_shape is required")?;
    let kernel = match ks[..] {
        [a, b] if a >= 1 && b >= 1 => [a as usize, b as usize],
        _ => return Err(format!("kernel_shape {ks:?} must be two positive integers")),
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
            Some(scale) => Value::Deq { t: t2, dims: odims, scale },
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
                            None => return Err(format!("Cast to {} is not supported", dt::name(t))),
                        },
                    };
                    if v.iter().any(|x| !(lo..=hi).contains(x)) {
                        return Err(format!("Cast of constant `{}` to {} would wrap around", t.name, dt::name(to)));
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
                ));
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
        shape.iter().map(|&d| usize::try_from(d).map_err(|_| "negative dimension".to_string())).collect::<Res<_>>()?;
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
