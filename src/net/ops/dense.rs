//! Dense (fully connected): `acc_j = Σ_i (W_ji − zw_j)(x_i − zx) + B_j`, then requantization.

use super::check::{self, per};
use super::out_clamp;
use crate::net::form::{Act, Acts, Affine, Form, Rows};
use crate::net::ir::{Dense, TensorInfo};

impl Dense {
    pub(super) fn infer(&self, x: &TensorInfo) -> Result<TensorInfo, String> {
        if x.shape.len() != 1 || x.shape[0] != self.in_features {
            return Err(format!(
                "input shape {:?} does not match in_features = {} (dense takes a vector; add a flatten layer)",
                x.shape, self.in_features
            ));
        }
        if self.out_features == 0 {
            return Err("out_features must be > 0".into());
        }
        let n = check::len(&[self.out_features, self.in_features])?;
        check::weights(&self.weights, n, self.weight_dtype)?;
        check::per_channel(&self.weight_zero_point, self.out_features, "weight_zero_point", Some(self.weight_dtype))?;
        if !self.bias.is_empty() && self.bias.len() != self.out_features {
            return Err(format!("bias has {} entries; expected {} (or none)", self.bias.len(), self.out_features));
        }
        check::quant(&self.output, "output")?;
        crate::net::validate::requant_shape(&self.requant, self.out_features)?;
        Ok(TensorInfo { shape: vec![self.out_features], quant: self.output })
    }

    pub(super) fn lower(&self, x: &TensorInfo, out: &TensorInfo) -> Form {
        let n = self.in_features;
        let coef = (0..self.out_features)
            .flat_map(|j| {
                let zw = per(&self.weight_zero_point, j);
                self.weights[j * n..(j + 1) * n].iter().map(move |&w| w - zw)
            })
            .collect();
        let (lo, hi) = out_clamp(out, self.requant.relu);
        let z = out.quant.zero_point;
        let act = |j: usize| Act::Requant { rescale: *self.requant.rescale_for(j), zero_point: z, lo, hi };
        let acts = if self.requant.rescale.len() == 1 {
            Acts::uniform(act(0))
        } else {
            Acts::per_channel((0..self.out_features).map(act).collect(), 1)
        };
        let bias = if self.bias.is_empty() { vec![0; self.out_features] } else { self.bias.clone() };
        Form::Affine(Affine {
            rows: Rows::Dense { n_in: n, coef },
            zero_point: x.quant.zero_point,
            bias,
            acts,
            accumulator: true,
        })
    }
}
