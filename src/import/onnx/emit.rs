//! Layer emitters shared by the QOperator nodes and the QDQ folding: a matrix product (QLinearMatMul,
//! QGemm, MatMulInteger, fused QDQ MatMul/Gemm) becomes a Dense layer, a convolution (QLinearConv,
//! ConvInteger, fused QDQ Conv) a Conv2d layer. Both check the integer kernel ONNX Runtime runs
//! for it ([`Kernel`]): the int32 accumulator must not overflow, and uint8 × int8 products must
//! not be able to saturate int16 pairs (see [`super::ort::u8s8_saturation`]).

use super::graph::{window, Attrs, QParams, Tensor};
use super::ort::{self, Rule, U8S8};
use super::proto::{data_type as dt, NodeProto};
use super::{refuse, Ctx, Res, Value};
use crate::net::ops::Operator;
use crate::net::validate::MAX_ELEMENTS;
use crate::net::{
    Add, AddKernel, Conv2d, Dense, GlobalAvgPool, Layer, QType, Quant, Requant, Rescale, Rounding, TensorInfo,
};

/// The name of the node's (first) output.
pub(super) fn out_of(n: &NodeProto) -> Res<&str> {
    n.output.first().map(String::as_str).filter(|s| !s.is_empty()).ok_or_else(|| "the node has no output".into())
}

/// Scale/zero-point pair from inputs `si`, `zi` of `n` (`zi` optional → ONNX default 0 of `default`).
pub(super) fn params(ctx: &Ctx, n: &NodeProto, si: usize, zi: usize, default: QType, what: &str) -> Res<QParams> {
    let s = ctx.const_input(n, si, &format!("{what} scale"))?;
    let z = ctx.opt_const(n, zi, &format!("{what} zero point"))?;
    Ok(QParams::read(s, z, default).map_err(|e| format!("{what}: {e}"))?)
}

/// An int32 bias vector (`C` of QGemm, `B` of QLinearConv, a DequantizeLinear'd QDQ bias).
pub(super) fn int32_bias(c: &Tensor) -> Res<Vec<i64>> {
    if c.data_type != dt::INT32 {
        return Err(format!("bias `{}` has type {}, expected INT32", c.name, dt::name(c.data_type)).into());
    }
    let rows = if c.dims.len() >= 2 { c.dims[..c.dims.len() - 1].iter().product::<usize>() } else { 1 };
    if rows != 1 {
        return Err(format!("bias `{}` has dims {:?}; only a vector (or 1×N) bias is supported", c.name, c.dims).into());
    }
    Ok(c.ints()?.to_vec())
}

/// The float bounds of a Clip on a dequantized tensor: constant scalar inputs `min`/`max`
/// (opset ≥ 11) or attributes (opset < 11); absent bounds are ±∞.
pub(super) fn float_clip_bounds(ctx: &Ctx, n: &NodeProto) -> Res<(f32, f32)> {
    let at = Attrs { node: n };
    let scalar = |i: usize, what: &str, attr: &str, default: f32| -> Res<f32> {
        if let Some(v) = ctx.opt_const(n, i, what)? {
            return match v.floats()? {
                [x] if !x.is_nan() => Ok(*x),
                _ => Err(format!("Clip {what} must be a float scalar").into()),
            };
        }
        let v = at.float(attr, default)?;
        if v.is_nan() {
            return Err(format!("Clip {what} is NaN").into());
        }
        Ok(v)
    };
    Ok((scalar(1, "min", "min", f32::NEG_INFINITY)?, scalar(2, "max", "max", f32::INFINITY)?))
}

/// The integer kernel ONNX Runtime runs for a layer, as far as its exactness depends on it.
#[derive(Clone, Debug)]
pub(super) struct Kernel {
    /// The pattern, for messages: "QLinearConv", "QDQ Gemm", …
    pub pattern: String,
    /// The activation type the kernel multiplies (after ONNX Runtime's int8 → uint8 rewrite of
    /// QDQ pairs, [`ort::s8_to_u8_pairs`]).
    pub a_type: QType,
}

impl Kernel {
    /// Refuse uint8 × int8 weights whose pairwise products could saturate int16 (unless the
    /// import targets a VNNI CPU), and accumulators that could leave int32.
    fn check(
        &self,
        ctx: &Ctx,
        w_type: QType,
        channels: impl Iterator<Item = Vec<i64>>,
        acc_ranges: &[(i64, i64)],
    ) -> Res<()> {
        if self.a_type == QType::UINT8 && w_type == QType::INT8 && ctx.options.u8s8 == U8S8::AnyX86 {
            if let Some((j, a, b)) = ort::u8s8_saturation(channels) {
                return refuse(
                    &self.pattern,
                    Rule::U8S8Saturation,
                    format!(
                        "uint8 activations × int8 weights: ONNX Runtime's result depends on the CPU (on x86-64 without \
                         VNNI — AVX2, AVX-512BW — MLAS adds pairs of uint8 × int8 products in int16 with saturation, \
                         vpmaddubsw; with VNNI it does not), and output channel {j} has weights {a} and {b}, whose \
                         products with inputs of 255 leave int16. Quantize with 7-bit weights \
                         (onnxruntime.quantization reduce_range=True) or uint8 weights, or, if the model runs on a CPU with VNNI, import it for that CPU \
                         (quiver --ort-cpu vnni)"
                    ),
                );
            }
        }
        let lo = acc_ranges.iter().map(|r| r.0).min().unwrap_or(0);
        let hi = acc_ranges.iter().map(|r| r.1).max().unwrap_or(0);
        if lo < i64::from(i32::MIN) || hi > i64::from(i32::MAX) {
            return refuse(
                &self.pattern,
                Rule::Accumulator,
                format!(
                    "the accumulator can take values in [{lo}, {hi}], beyond ONNX Runtime's int32 accumulator \
                     (which wraps around)"
                ),
            );
        }
        Ok(())
    }
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
    pub kernel: Kernel,
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
        )
        .into());
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
            _ => return Err(format!("B has dims {wd:?}; expected [N, {k}] (transB = 1)").into()),
        }
    } else {
        match wd.len() {
            2 if wd[0] == k => (1, wd[1]),
            r if r >= 3 && wd[r - 2] == k && xdims.len() == r && wd[..r - 2] == xdims[..r - 2] => {
                (wd[..r - 2].iter().product(), wd[r - 1])
            }
            _ => return Err(format!("B has dims {wd:?}, which does not match the input dims {xdims:?}").into()),
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
        return Err(format!("{} weight zero points for {nn} columns", m.w_zp.len()).into());
    }
    if m.out.is_some() && m.rescales.len() != 1 && m.rescales.len() != nn {
        return Err(format!("{} weight scales for {nn} columns", m.rescales.len()).into());
    }
    if let Some(bias) = &m.bias {
        if bias.len() != 1 && bias.len() != nn {
            return Err(format!("bias has {} entries for {nn} columns", bias.len()).into());
        }
    }
    let (fin, fout) = (rows * k, rows * nn);
    if fin.checked_mul(fout).filter(|&s| s <= MAX_ELEMENTS).is_none() {
        return Err(format!("the block-diagonal weight matrix for {rows} rows would be too large").into());
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
    let xq = ctx.b.quant(ctx.b.cur);
    // Whole-domain accumulator range of each column (over the batches of B; rows share weights).
    let ranges: Vec<(i64, i64)> = (0..nn)
        .map(|j| {
            let zw = per(&m.w_zp, j);
            let b = m.bias.as_ref().map_or(0, |b| per(b, j));
            (0..nb)
                .map(|bb| dot_range((0..k).map(|kk| bval(bb, kk, j) - zw), xq, b, false))
                .fold((i64::MAX, i64::MIN), |a, r| (a.0.min(r.0), a.1.max(r.1)))
        })
        .collect();
    let columns = (0..nn).map(|j| (0..nb).flat_map(|bb| (0..k).map(move |kk| bval(bb, kk, j))).collect());
    m.kernel.check(ctx, weight_dtype, columns, &ranges)?;
    ctx.b.flatten();
    let (out, rescale) = match m.out {
        Some(q) => {
            let r = if m.rescales.len() == 1 {
                m.rescales.clone()
            } else {
                (0..fout).map(|j| m.rescales[j % nn]).collect()
            };
            (q, r)
        }
        None => (raw_out(&ranges)?, vec![super::graph::identity_rescale()]),
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
    pub kernel: Kernel,
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
    let t = ctx.b.cur;
    let [cin, h, w] = match xdims[..] {
        [1, a, b, d] => [a, b, d],
        _ => return Err(format!("input dims {xdims:?}; only 2-D convolution with batch 1 is supported").into()),
    };
    if ctx.b.shape(t).len() != 3 {
        return Err("the input was flattened earlier; the IR cannot restore an image shape".into());
    }
    let [m, cg, kh, kw] = match c.w.dims[..] {
        [a, b, d, e] => [a, b, d, e],
        _ => return Err(format!("W has dims {:?}; only 2-D kernels are supported", c.w.dims).into()),
    };
    let at = Attrs { node: n };
    let groups = usize::try_from(at.int("group", 1)?).map_err(|_| "negative group")?;
    if groups == 0 || cg * groups != cin || m % groups != 0 {
        return Err(format!("W dims {:?} and group {groups} do not match {cin} input channels", c.w.dims).into());
    }
    let win = window(&at, [kh, kw], [h, w], true)?;
    let auto_pad = at.string("auto_pad")?.unwrap_or_default();
    if auto_pad.starts_with("SAME") && win.dilation != [1, 1] {
        // ConvAttributes::InferPadsAndOutputShape (core/providers/cpu/nn/conv_attributes.h)
        return refuse(
            &c.kernel.pattern,
            Rule::NoKernel,
            format!(
                "auto_pad {auto_pad} with dilations {:?}: ONNX Runtime's convolution kernels reject it at run time \
                 (\"Dilation not supported for AutoPadType::SAME_UPPER or AutoPadType::SAME_LOWER\")",
                win.dilation
            ),
        );
    }
    let [oh, ow] = win.output_hw(h, w).ok_or("the kernel does not fit the input")?;
    if c.w_zp.len() != 1 && c.w_zp.len() != m {
        return Err(format!("{} weight zero points for {m} output channels", c.w_zp.len()).into());
    }
    let weights = c.w.ints()?.to_vec();
    let bias = c.bias.clone().unwrap_or_default();
    if !bias.is_empty() && bias.len() != m {
        return Err(format!("bias has {} entries for {m} output channels", bias.len()).into());
    }
    let per_out = cg * kh * kw;
    let ranges: Vec<(i64, i64)> = (0..m)
        .map(|o| {
            let zw = per(&c.w_zp, o);
            let b = bias.get(o).copied().unwrap_or(0);
            dot_range(weights[o * per_out..(o + 1) * per_out].iter().map(|&w| w - zw), xq, b, true)
        })
        .collect();
    let channels = (0..m).map(|o| weights[o * per_out..(o + 1) * per_out].to_vec());
    c.kernel.check(ctx, c.w.qtype()?, channels, &ranges)?;
    let (out, rescale) = match c.out {
        Some(q) => (q, c.rescales.clone()),
        None => (raw_out(&ranges)?, vec![super::graph::identity_rescale()]),
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

/// An element-wise sum of IR tensors `ta` and `tb` read with scales `a_s`, `b_s` (their own
/// zero points), requantized to `cq`: what ONNX Runtime's QLinearAdd kernel computes (the
/// com.microsoft operator, or a QDQ Add it fused into one), as the IR's [`Add`] layer with MLAS's
/// AVX2 arithmetic. `what` names the operator in errors.
pub(super) fn emit_add(ctx: &mut Ctx, what: &str, ta: usize, tb: usize, a_s: f32, b_s: f32, cq: Quant) -> Res<usize> {
    let shape = ctx.b.shape(ta).to_vec();
    if ctx.b.shape(tb) != shape.as_slice() {
        return Err(format!(
            "{what} operands have IR shapes {:?} and {:?}; broadcasting runs other MLAS code paths, which are not \
             modelled",
            shape,
            ctx.b.shape(tb)
        )
        .into());
    }
    let layer =
        Layer::Add(Add { kernel: AddKernel::MlasAvx2, a_scale: f64::from(a_s), b_scale: f64::from(b_s), output: cq });
    // The exact lowering's own limits (scale ratios, the binary32 grid), reported on this node.
    let info = |t: usize| TensorInfo { shape: ctx.b.shape(t).to_vec(), quant: ctx.b.quant(t) };
    Operator::infer(&layer, &[&info(ta), &info(tb)])?;
    Ok(ctx.b.push_node(layer, vec![ta, tb], shape, cq))
}

/// Global average pooling of IR tensor `t` (ONNX dims `[1, C, H, W]`) as ONNX Runtime's
/// `QLinearGlobalAveragePool` computes it (com.microsoft, or a QDQ GlobalAveragePool it fused into
/// one): MLAS `MlasQLinearGlobalAveragePoolNchw` (`mlas/lib/qlgavgpool.cpp`, SSE2 path on x86-64)
/// sums each channel's `H·W` integers in int32, adds the bias `−x_zp·H·W`, and requantizes with
/// `MlasRequantizeOutput`: `clamp(nearbyint(fl(float(acc) · scale)) + y_zp)` where
/// `scale = fl(x_scale / fl(y_scale · float(H·W)))` — the IR's [`GlobalAvgPool`] with a
/// `float32` rescale. MLAS throws (no output) when `H·W ≥ 2^24` or the scale is outside
/// `[2^-32, 256)` (`CheckQLinearGlobalAveragePoolScaleAndSize`): refused by name. Returns the new
/// tensor and its ONNX dims `[1, C, 1, 1]` (IR shape `[C]`, like a flattened vector).
pub(super) fn emit_global_avg_pool(
    ctx: &mut Ctx,
    what: &str,
    t: usize,
    dims: &[usize],
    x_s: f32,
    y_s: f32,
    yq: Quant,
) -> Res<(usize, Vec<usize>)> {
    let [c, h, w] = match dims[..] {
        [1, c, h, w] if ctx.b.shape(t).len() == 3 => [c, h, w],
        _ => return Err(format!("input dims {dims:?}; only a [1, C, H, W] image is supported").into()),
    };
    let xq = ctx.b.quant(t);
    if xq.dtype != yq.dtype || xq.dtype.bits() != 8 {
        return refuse(
            what,
            Rule::NoKernel,
            format!(
                "ONNX Runtime's QLinearGlobalAveragePool takes input and output of one 8-bit type; got {} -> {}",
                xq.dtype, yq.dtype
            ),
        );
    }
    let n = h * w;
    if n >= 1 << 24 || (n as i64) * 255 >= i64::from(i32::MAX) {
        return refuse(
            what,
            Rule::NoKernel,
            format!("a {h}x{w} image is too large for MLAS's int32 window sums (it rejects H·W ≥ 2^24)"),
        );
    }
    let scale = x_s / (y_s * n as f32);
    if !(scale >= 2f32.powi(-32) && scale < 256.0) {
        return refuse(
            what,
            Rule::NoKernel,
            format!(
                "the rescale x_scale / (y_scale · H·W) = {scale:e} is outside [2^-32, 256): ONNX Runtime's MLAS kernel \
                 rejects it at run time (\"QLinearGlobalAveragePool parameter out of computation range\")"
            ),
        );
    }
    let requant = Requant {
        rescale: vec![Rescale::Float32 { m: f64::from(scale), bias: 0.0, rounding: Rounding::HalfEven }],
        relu: false,
    };
    let t2 = ctx.b.push_node(Layer::GlobalAvgPool(GlobalAvgPool { requant, output: yq }), vec![t], vec![c], yq);
    Ok((t2, vec![1, c, 1, 1]))
}
