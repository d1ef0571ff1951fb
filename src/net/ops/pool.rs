//! Max and average pooling over `[C, H, W]`; quantization passes through.

use super::out_clamp;
use crate::net::form::{Act, Acts, Affine, Form, Rows, Windows};
use crate::net::geometry::Window;
use crate::net::ir::{AvgPool2d, GlobalAvgPool, MaxPool2d, TensorInfo};

pub(super) fn infer(win: Window, x: &TensorInfo) -> Result<TensorInfo, String> {
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
    for oy in 0..oh {
        for ox in 0..ow {
            if win.in_bounds(oy, ox, h, w) == 0 {
                return Err(format!("window at output ({oy}, {ox}) covers only padding"));
            }
        }
    }
    super::check::len(&[ch, oh, ow, win.kernel[0], win.kernel[1]])?;
    Ok(TensorInfo { shape: vec![ch, oh, ow], quant: x.quant })
}

/// The in-bounds input indices of every window, C-order over `(channel, out y, out x)`.
fn windows(win: Window, x: &TensorInfo, out: &TensorInfo) -> Windows {
    let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2]);
    let (oh, ow) = (out.shape[1], out.shape[2]);
    let mut ptr = Vec::with_capacity(c * oh * ow + 1);
    ptr.push(0);
    let mut idx = Vec::new();
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                for (_, iy) in win.taps(0, oy, h) {
                    for (_, ix) in win.taps(1, ox, w) {
                        idx.push(((ch * h + iy) * w + ix) as u32);
                    }
                }
                ptr.push(idx.len());
            }
        }
    }
    Windows { ptr, idx }
}

/// Max pooling; padded positions are ignored (as if −∞).
pub(super) fn lower_max(p: &MaxPool2d, x: &TensorInfo, out: &TensorInfo) -> Form {
    Form::Max(windows(p.window(), x, out))
}

/// `y = clamp(round(Σ (x − z) / n) + z)`: an affine sum with coefficients 1 and an
/// [`Act::Average`] per window (`n` = the kernel size, or the in-bounds count).
pub(super) fn lower_avg(p: &AvgPool2d, x: &TensorInfo, out: &TensorInfo) -> Form {
    let Windows { ptr, idx } = windows(p.window(), x, out);
    let n_out = ptr.len() - 1;
    let z = out.quant.zero_point;
    let t = out.quant.dtype;
    let area = (p.kernel[0] * p.kernel[1]) as i64;
    let act = |n: i64| Act::Average { n, rounding: p.rounding, zero_point: z, lo: t.min(), hi: t.max() };
    let acts = if p.count_include_pad {
        Acts::uniform(act(area))
    } else {
        Acts::per_channel((0..n_out).map(|k| act((ptr[k + 1] - ptr[k]) as i64)).collect(), 1)
    };
    let coef = vec![1; idx.len()];
    Form::Affine(Affine {
        rows: Rows::Sparse { ptr, idx, coef },
        zero_point: x.quant.zero_point,
        bias: vec![0; n_out],
        acts,
        accumulator: false,
    })
}

impl GlobalAvgPool {
    pub(super) fn infer(&self, x: &TensorInfo) -> Result<TensorInfo, String> {
        let [c, _, _] = match x.shape[..] {
            [a, b, c] => [a, b, c],
            _ => return Err(format!("global average pooling takes a [C, H, W] input, got shape {:?}", x.shape)),
        };
        super::check::quant(&self.output, "output")?;
        crate::net::validate::requant_shape(&self.requant, c)?;
        Ok(TensorInfo { shape: vec![c], quant: self.output })
    }

    /// One row per channel summing its plane of `(x − zx)`, then the requantization.
    pub(super) fn lower(&self, x: &TensorInfo, out: &TensorInfo) -> Form {
        let (c, plane) = (x.shape[0], x.shape[1] * x.shape[2]);
        let ptr = (0..=c).map(|k| k * plane).collect();
        let idx = (0..(c * plane) as u32).collect();
        let (lo, hi) = out_clamp(out, self.requant.relu);
        let z = out.quant.zero_point;
        let act = |k: usize| Act::Requant { rescale: *self.requant.rescale_for(k), zero_point: z, lo, hi };
        let acts = if self.requant.rescale.len() == 1 {
            Acts::uniform(act(0))
        } else {
            Acts::per_channel((0..c).map(act).collect(), 1)
        };
        Form::Affine(Affine {
            rows: Rows::Sparse { ptr, idx, coef: vec![1; c * plane] },
            zero_point: x.quant.zero_point,
            bias: vec![0; c],
            acts,
            accumulator: true,
        })
    }
}
