//! 2-D convolution over `[C, H, W]` (stride, padding, dilation, groups): one affine row per
//! output value; padded positions hold the input zero point, so they contribute nothing and are
//! simply absent from the rows.

use super::check::{self, per};
use super::out_clamp;
use crate::net::form::{Act, Acts, Affine, Form, Rows};
use crate::net::ir::{Conv2d, TensorInfo};

impl Conv2d {
    pub(super) fn infer(&self, x: &TensorInfo) -> Result<TensorInfo, String> {
        let [cin, h, w] = match x.shape[..] {
            [a, b, c] => [a, b, c],
            _ => return Err(format!("conv2d takes a [C, H, W] input, got shape {:?}", x.shape)),
        };
        if cin != self.in_channels {
            return Err(format!("input has {cin} channels; in_channels = {}", self.in_channels));
        }
        if self.groups == 0
            || !self.in_channels.is_multiple_of(self.groups)
            || !self.out_channels.is_multiple_of(self.groups)
            || self.out_channels == 0
        {
            return Err(format!(
                "groups = {} must divide in_channels = {} and out_channels = {} (both > 0)",
                self.groups, self.in_channels, self.out_channels
            ));
        }
        let [oh, ow] = self.window().output_hw(h, w).ok_or_else(|| {
            format!(
                "kernel {:?} (stride {:?}, padding {:?}, dilation {:?}) does not fit a {h}x{w} input",
                self.kernel, self.stride, self.padding, self.dilation
            )
        })?;
        let cg = self.in_channels / self.groups;
        let per_out = check::len(&[cg, self.kernel[0], self.kernel[1]])?;
        let n = check::len(&[self.out_channels, per_out])?;
        let outputs = check::len(&[self.out_channels, oh, ow])?;
        // The rows hold every in-bounds tap: at most one per weight and output position.
        check::len(&[outputs, per_out])?;
        check::weights(&self.weights, n, self.weight_dtype)?;
        check::per_channel(&self.weight_zero_point, self.out_channels, "weight_zero_point", Some(self.weight_dtype))?;
        if !self.bias.is_empty() && self.bias.len() != self.out_channels {
            return Err(format!("bias has {} entries; expected {} (or none)", self.bias.len(), self.out_channels));
        }
        check::quant(&self.output, "output")?;
        crate::net::validate::requant_shape(&self.requant, self.out_channels)?;
        Ok(TensorInfo { shape: vec![self.out_channels, oh, ow], quant: self.output })
    }

    pub(super) fn lower(&self, x: &TensorInfo, out: &TensorInfo) -> Form {
        let (h, w) = (x.shape[1], x.shape[2]);
        let (oh, ow) = (out.shape[1], out.shape[2]);
        let win = self.window();
        let (cg_in, cg_out) = (self.in_channels / self.groups, self.out_channels / self.groups);
        let [kh, kw] = self.kernel;
        let n_out = self.out_channels * oh * ow;
        let mut ptr = Vec::with_capacity(n_out + 1);
        ptr.push(0);
        let (mut idx, mut coef) = (Vec::new(), Vec::new());
        let mut bias = Vec::with_capacity(n_out);
        for o in 0..self.out_channels {
            let g = o / cg_out;
            let zw = per(&self.weight_zero_point, o);
            let b = self.bias.get(o).copied().unwrap_or(0);
            for oy in 0..oh {
                for ox in 0..ow {
                    for ci in 0..cg_in {
                        let ch = g * cg_in + ci;
                        for (ky, iy) in win.taps(0, oy, h) {
                            for (kx, ix) in win.taps(1, ox, w) {
                                idx.push(((ch * h + iy) * w + ix) as u32);
                                coef.push(self.weights[((o * cg_in + ci) * kh + ky) * kw + kx] - zw);
                            }
                        }
                    }
                    ptr.push(idx.len());
                    bias.push(b);
                }
            }
        }
        let (lo, hi) = out_clamp(out, self.requant.relu);
        let z = out.quant.zero_point;
        let act = |o: usize| Act::Requant { rescale: *self.requant.rescale_for(o), zero_point: z, lo, hi };
        let acts = if self.requant.rescale.len() == 1 {
            Acts::uniform(act(0))
        } else {
            Acts::per_channel((0..self.out_channels).map(act).collect(), oh * ow)
        };
        Form::Affine(Affine {
            rows: Rows::Sparse { ptr, idx, coef },
            zero_point: x.quant.zero_point,
            bias,
            acts,
            accumulator: true,
        })
    }
}
