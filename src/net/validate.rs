//! Validation: every invariant the executor, the bounds and the encodings rely on, checked once
//! when a [`Network`] is built. After this, no arithmetic on the network can overflow.

use super::dtype::QType;
use super::ir::{Conv2d, Dense, Input, Layer, Network, Quant, TensorInfo};
use super::requant::{Requant, Rescale};
use thiserror::Error;

/// Largest number of elements in one tensor or weight array (guards memory on hostile input).
pub const MAX_ELEMENTS: usize = 1 << 28;

/// A violated invariant, with the layer it was found in (`None` = the input declaration).
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{}: {message}", match layer { Some((i, kind)) => format!("layer {i} ({kind})"), None => "input".to_string() })]
pub struct ValidationError {
    pub layer: Option<(usize, &'static str)>,
    pub message: String,
}

type Res<T> = Result<T, String>;

fn check_quant(q: &Quant, what: &str) -> Res<()> {
    if !(q.scale.is_finite() && q.scale > 0.0) {
        return Err(format!("{what} scale must be finite and > 0, got {}", q.scale));
    }
    if !q.dtype.contains(q.zero_point) {
        return Err(format!(
            "{what} zero point {} outside {} range [{}, {}]",
            q.zero_point,
            q.dtype,
            q.dtype.min(),
            q.dtype.max()
        ));
    }
    Ok(())
}

fn is_f32(x: f64) -> bool {
    x.is_finite() && f64::from(x as f32) == x
}

fn check_rescale(r: &Rescale, acc: (i64, i64), ch: usize) -> Res<()> {
    let amax = acc.0.unsigned_abs().max(acc.1.unsigned_abs()) as f64;
    let in_i32 = |lo: i64, hi: i64| lo >= i64::from(i32::MIN) && hi <= i64::from(i32::MAX);
    match *r {
        Rescale::Dyadic { m, shift, .. } => {
            if m <= 0 {
                return Err(format!("rescale {ch}: dyadic multiplier m must be > 0, got {m}"));
            }
            if shift > 120 {
                return Err(format!("rescale {ch}: dyadic shift {shift} exceeds 120"));
            }
        }
        Rescale::Float32 { m, bias, .. } => {
            if !(m.is_finite() && m > 0.0) {
                return Err(format!("rescale {ch}: float32 multiplier must be finite and > 0, got {m}"));
            }
            if !is_f32(m) || !is_f32(bias) {
                return Err(format!(
                    "rescale {ch}: float32 multiplier {m} and bias {bias} must be exact binary32 values \
                     (write them as the decimal of the f32, e.g. Python float(np.float32(x)))"
                ));
            }
            if !in_i32(acc.0, acc.1) {
                return Err(format!(
                    "rescale {ch}: accumulator range [{}, {}] exceeds int32, which float32 runtimes accumulate in",
                    acc.0, acc.1
                ));
            }
            // |fl(fl(acc) + bias) · m| stays far below 2^31, so the conversion to int32 is exact.
            if (amax + bias.abs()) * 1.001 * m >= 2f64.powi(31) {
                return Err(format!(
                    "rescale {ch}: float32 rescale can overflow int32 for accumulators in [{}, {}]",
                    acc.0, acc.1
                ));
            }
        }
        Rescale::Q31 { m0, shift } => {
            if m0 <= 0 {
                return Err(format!("rescale {ch}: q31 multiplier m0 must be > 0, got {m0}"));
            }
            if !(-31..=30).contains(&shift) {
                return Err(format!("rescale {ch}: q31 shift must be in [-31, 30], got {shift}"));
            }
            let left = shift.max(0) as u32;
            let lo = i128::from(acc.0) << left;
            let hi = i128::from(acc.1) << left;
            if lo < i128::from(i32::MIN) || hi > i128::from(i32::MAX) {
                return Err(format!(
                    "rescale {ch}: accumulator range [{}, {}] shifted left by {left} exceeds int32 (gemmlowp arithmetic)",
                    acc.0, acc.1
                ));
            }
        }
    }
    Ok(())
}

fn check_requant(r: &Requant, channels: usize, acc: &[(i64, i64)]) -> Res<()> {
    if r.rescale.len() != 1 && r.rescale.len() != channels {
        return Err(format!(
            "requant has {} rescales; expected 1 or {channels} (one per output channel)",
            r.rescale.len()
        ));
    }
    for (c, a) in acc.iter().enumerate() {
        check_rescale(r.rescale_for(c), *a, c)?;
    }
    Ok(())
}

fn check_per_channel(v: &[i64], channels: usize, what: &str, dtype: Option<QType>) -> Res<()> {
    if v.len() != 1 && v.len() != channels {
        return Err(format!("{what} has {} entries; expected 1 or {channels}", v.len()));
    }
    if let Some(t) = dtype {
        if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !t.contains(**x)) {
            return Err(format!("{what}[{i}] = {x} outside {t} range [{}, {}]", t.min(), t.max()));
        }
    }
    Ok(())
}

fn check_weights(w: &[i64], expected: usize, t: QType) -> Res<()> {
    if w.len() != expected {
        return Err(format!("weights have {} entries; expected {expected}", w.len()));
    }
    if let Some((i, x)) = w.iter().enumerate().find(|(_, x)| !t.contains(**x)) {
        return Err(format!("weight [{i}] = {x} outside {t} range [{}, {}]", t.min(), t.max()));
    }
    Ok(())
}

fn checked_len(dims: &[usize]) -> Res<usize> {
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| format!("shape {dims:?} has more than {MAX_ELEMENTS} elements"))
}

/// Range of `Σ_i w_i (x_i − zx)` over `x_i ∈ [lo, hi]`, plus `b`, in i128.
fn dot_range(ws: impl Iterator<Item = i128>, xlo: i128, xhi: i128, b: i128) -> (i128, i128) {
    let (mut lo, mut hi) = (b, b);
    for w in ws {
        let (a, c) = (w * xlo, w * xhi);
        lo += a.min(c);
        hi += a.max(c);
    }
    (lo, hi)
}

fn to_i64_range((lo, hi): (i128, i128), ch: usize) -> Res<(i64, i64)> {
    match (i64::try_from(lo), i64::try_from(hi)) {
        (Ok(l), Ok(h)) => Ok((l, h)),
        _ => Err(format!("accumulator of channel {ch} can overflow i64 (range [{lo}, {hi}])")),
    }
}

fn validate_dense(d: &Dense, x: &TensorInfo) -> Res<(TensorInfo, Vec<(i64, i64)>)> {
    if x.shape.len() != 1 || x.shape[0] != d.in_features {
        return Err(format!(
            "input shape {:?} does not match in_features = {} (dense takes a vector; add a flatten layer)",
            x.shape, d.in_features
        ));
    }
    if d.out_features == 0 {
        return Err("out_features must be > 0".into());
    }
    let n = checked_len(&[d.out_features, d.in_features])?;
    check_weights(&d.weights, n, d.weight_dtype)?;
    check_per_channel(&d.weight_zero_point, d.out_features, "weight_zero_point", Some(d.weight_dtype))?;
    if !d.bias.is_empty() && d.bias.len() != d.out_features {
        return Err(format!("bias has {} entries; expected {} (or none)", d.bias.len(), d.out_features));
    }
    check_quant(&d.output, "output")?;
    let zx = i128::from(x.quant.zero_point);
    let (xlo, xhi) = (i128::from(x.quant.dtype.min()) - zx, i128::from(x.quant.dtype.max()) - zx);
    let mut acc = Vec::with_capacity(d.out_features);
    for j in 0..d.out_features {
        let zw = i128::from(d.weight_zero_point[if d.weight_zero_point.len() == 1 { 0 } else { j }]);
        let row = &d.weights[j * d.in_features..(j + 1) * d.in_features];
        let b = d.bias.get(j).copied().unwrap_or(0);
        acc.push(to_i64_range(dot_range(row.iter().map(|&w| i128::from(w) - zw), xlo, xhi, i128::from(b)), j)?);
    }
    check_requant(&d.requant, d.out_features, &acc)?;
    Ok((TensorInfo { shape: vec![d.out_features], quant: d.output }, acc))
}

fn validate_conv(c: &Conv2d, x: &TensorInfo) -> Res<(TensorInfo, Vec<(i64, i64)>)> {
    let [cin, h, w] = match x.shape[..] {
        [a, b, c] => [a, b, c],
        _ => return Err(format!("conv2d takes a [C, H, W] input, got shape {:?}", x.shape)),
    };
    if cin != c.in_channels {
        return Err(format!("input has {cin} channels; in_channels = {}", c.in_channels));
    }
    if c.groups == 0
        || !c.in_channels.is_multiple_of(c.groups)
        || !c.out_channels.is_multiple_of(c.groups)
        || c.out_channels == 0
    {
        return Err(format!(
            "groups = {} must divide in_channels = {} and out_channels = {} (both > 0)",
            c.groups, c.in_channels, c.out_channels
        ));
    }
    let win = c.window();
    let [oh, ow] = win.output_hw(h, w).ok_or_else(|| {
        format!(
            "kernel {:?} (stride {:?}, padding {:?}, dilation {:?}) does not fit a {h}x{w} input",
            c.kernel, c.stride, c.padding, c.dilation
        )
    })?;
    let cg = c.in_channels / c.groups;
    let per_out = checked_len(&[cg, c.kernel[0], c.kernel[1]])?;
    let n = checked_len(&[c.out_channels, per_out])?;
    checked_len(&[c.out_channels, oh, ow])?;
    check_weights(&c.weights, n, c.weight_dtype)?;
    check_per_channel(&c.weight_zero_point, c.out_channels, "weight_zero_point", Some(c.weight_dtype))?;
    if !c.bias.is_empty() && c.bias.len() != c.out_channels {
        return Err(format!("bias has {} entries; expected {} (or none)", c.bias.len(), c.out_channels));
    }
    check_quant(&c.output, "output")?;
    let zx = i128::from(x.quant.zero_point);
    // Padding contributes 0, which lies inside [xlo, xhi], so the full-window range bounds every position.
    let (xlo, xhi) = (i128::from(x.quant.dtype.min()) - zx, i128::from(x.quant.dtype.max()) - zx);
    let (xlo, xhi) = (xlo.min(0), xhi.max(0));
    let mut acc = Vec::with_capacity(c.out_channels);
    for o in 0..c.out_channels {
        let zw = i128::from(c.weight_zero_point[if c.weight_zero_point.len() == 1 { 0 } else { o }]);
        let ws = &c.weights[o * per_out..(o + 1) * per_out];
        let b = c.bias.get(o).copied().unwrap_or(0);
        acc.push(to_i64_range(dot_range(ws.iter().map(|&w| i128::from(w) - zw), xlo, xhi, i128::from(b)), o)?);
    }
    check_requant(&c.requant, c.out_channels, &acc)?;
    Ok((TensorInfo { shape: vec![c.out_channels, oh, ow], quant: c.output }, acc))
}

fn pool_output(win: super::geometry::Window, x: &TensorInfo, need_valid: bool) -> Res<TensorInfo> {
    let [ch, h, w] = match x.shape[..] {
        [a, b, c] => [a, b, c],
        _ => return Err(format!("pooling takes a [C, H, W] input, got shape {:?}", x.shape)),
    };
    if win.kernel.contains(&0) || win.stride.contains(&0) || win.dilation.contains(&0) {
        return Err("kernel, stride and dilation must be > 0".into());
    }
    let [oh, ow] = win
        .output_hw(h, w)
        .ok_or_else(|| format!("window {:?} (padding {:?}) does not fit a {h}x{w} input", win.kernel, win.padding))?;
    if need_valid {
        for oy in 0..oh {
            for ox in 0..ow {
                if win.in_bounds(oy, ox, h, w) == 0 {
                    return Err(format!("window at output ({oy}, {ox}) covers only padding"));
                }
            }
        }
    }
    Ok(TensorInfo { shape: vec![ch, oh, ow], quant: x.quant })
}

/// Per-output accumulator ranges `(lo, hi)` of a Dense/Conv layer.
type AccRanges = Vec<(i64, i64)>;

/// Check one layer against its input tensor; returns its output tensor and accumulator ranges.
fn validate_layer(layer: &Layer, x: &TensorInfo) -> Res<(TensorInfo, Option<AccRanges>)> {
    Ok(match layer {
        Layer::Dense(d) => {
            let (t, a) = validate_dense(d, x)?;
            (t, Some(a))
        }
        Layer::Conv2d(c) => {
            let (t, a) = validate_conv(c, x)?;
            (t, Some(a))
        }
        Layer::MaxPool2d(p) => (pool_output(p.window(), x, true)?, None),
        Layer::AvgPool2d(p) => (pool_output(p.window(), x, true)?, None),
        Layer::Flatten => (TensorInfo { shape: vec![x.len()], quant: x.quant }, None),
        Layer::Relu => (x.clone(), None),
    })
}

impl Network {
    /// Build a network, checking every invariant (see the module documentation).
    pub fn new(name: impl Into<String>, input: Input, layers: Vec<Layer>) -> Result<Network, ValidationError> {
        let in_err = |message: String| ValidationError { layer: None, message };
        if input.shape.is_empty() || input.shape.contains(&0) {
            return Err(in_err(format!("shape {:?} must be non-empty with every dimension > 0", input.shape)));
        }
        checked_len(&input.shape).map_err(in_err)?;
        check_quant(&input.quant(), "input").map_err(in_err)?;
        let mut tensors = vec![TensorInfo { shape: input.shape.clone(), quant: input.quant() }];
        let mut acc_ranges = Vec::with_capacity(layers.len());
        for (i, layer) in layers.iter().enumerate() {
            let x = tensors.last().expect("non-empty");
            let (t, acc) = validate_layer(layer, x)
                .map_err(|message| ValidationError { layer: Some((i, layer.kind())), message })?;
            tensors.push(t);
            acc_ranges.push(
                acc.map(|a| (a.iter().map(|r| r.0).min().unwrap_or(0), a.iter().map(|r| r.1).max().unwrap_or(0))),
            );
        }
        Ok(Network { name: name.into(), input, layers, tensors, acc_ranges })
    }
}
