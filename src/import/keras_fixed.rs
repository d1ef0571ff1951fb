//! The fixed-point Keras QNNs of the AAAI'21 benchmark (Henzinger, Lechner, Žikelić,
//! "Scalable Verification of Quantized Neural Networks") and of QVIP (ASE'22).
//!
//! The `.h5` files hold float "shadow" weights (`…/kernel:0` `[in, out]`, `…/bias:0`); the
//! integer network those tools verify is derived from them with `Q` bits:
//!
//! * input: pixel `p ∈ 0..=255`, read as `p / 256`;
//! * `W = clamp(round(w · 2^(Q−1)), −2^(Q−1), 2^(Q−1)−1)`,
//!   `b = clamp(round(b · 2^(Q−2)), −2^(Q−1), 2^(Q−1)−1)`, round = half up (`floor(x + ½)`);
//! * `y = acc / 2^(f_in+1) + b` with `f_in = 8` for the first layer and `Q − 2` after it;
//! * hidden layers `clamp(round_half_up(y), 0, 2^Q − 1)`; the last layer
//!   `clamp(round_half_up(y), −2^(Q−1), 2^(Q−1) − 1)`; prediction = first-index argmax.
//!
//! In the IR that is a chain of Dense layers with `Dyadic { m: 1, shift: f_in + 1, HalfUp }`
//! and integer bias `b · 2^(f_in+1)` in accumulator units (exact, since adding an integer
//! commutes with rounding).

use super::h5::{FloatDataset, H5File};
use super::ImportError;
use crate::net::{Dense, Input, Layer, Network, QType, Quant, Requant, Rescale, Rounding};
use std::path::Path;

/// `Q` of the AAAI'21 networks (`mnist_mlp.h5`, `fashion-mnist_mlp.h5`).
pub const AAAI21_Q_BITS: u8 = 6;
/// Fractional bits of the input (`p / 256`).
pub const INPUT_FRAC_BITS: u32 = 8;

/// One dense layer's float shadow weights as stored in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatDense {
    /// The HDF5 group holding `kernel:0` and `bias:0`.
    pub group: String,
    pub in_features: usize,
    pub out_features: usize,
    /// Row-major `[in_features, out_features]` (Keras layout).
    pub kernel: Vec<f64>,
    pub bias: Vec<f64>,
}

/// `Q` from the file name: the `_qu_<Q>` suffix of QVIP files, [`AAAI21_Q_BITS`] for the
/// AAAI'21 `*mnist_mlp.h5` files, `None` otherwise.
pub fn infer_q_bits(path: &Path) -> Option<u8> {
    let stem = path.file_stem()?.to_str()?;
    if let Some(pos) = stem.rfind("_qu_") {
        return stem[pos + 4..].parse().ok();
    }
    stem.ends_with("mnist_mlp").then_some(AAAI21_Q_BITS)
}

/// Load a fixed-point Keras QNN. `q_bits` overrides the bit width inferred by
/// [`infer_q_bits`]; it is required when the file name does not give one.
pub fn load(path: &Path, q_bits: Option<u8>) -> Result<Network, ImportError> {
    let q = q_bits.or_else(|| infer_q_bits(path)).ok_or_else(|| ImportError::Unsupported {
        path: path.to_path_buf(),
        message: "cannot infer the quantization bit width from the file name (no `_qu_<Q>` suffix); \
                  give it explicitly (--q-bits)"
            .into(),
    })?;
    let layers = read_dense_layers(path)?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("keras").to_string();
    build(&name, &layers, q, Rounding::HalfUp).map_err(|e| match e {
        ImportError::Unsupported { message, .. } => ImportError::Unsupported { path: path.to_path_buf(), message },
        ImportError::Invalid { error, .. } => ImportError::Invalid { path: path.to_path_buf(), error },
        other => other,
    })
}

/// Read the dense layers of a Keras weight file, in network order.
///
/// Every group holding a 2-D `kernel:0` is one layer, with the 1-D `bias:0` beside it. The order
/// is Keras's root attribute `layer_names` (layers without weights skipped); without it, the
/// layers must form a unique chain by shape (each layer's `in` is the previous layer's `out`);
/// anything ambiguous is an error rather than a guess. An `optimizer_weights` subtree is ignored.
pub fn read_dense_layers(path: &Path) -> Result<Vec<FloatDense>, ImportError> {
    let file = H5File::open(path)?;
    let sets: Vec<FloatDataset> = file.float_datasets(|name| {
        !name.starts_with("/optimizer_weights/") && (name.ends_with("/kernel:0") || name.ends_with("/bias:0"))
    })?;
    let unsupported = |message: String| ImportError::Unsupported { path: path.to_path_buf(), message };
    let mut layers = Vec::new();
    for k in sets.iter().filter(|d| d.name.ends_with("/kernel:0")) {
        let group = &k.name[..k.name.len() - "/kernel:0".len()];
        let [n_in, n_out] = k.shape[..] else {
            return Err(unsupported(format!(
                "{} has shape {:?}; only dense (2-D) kernels are supported",
                k.name, k.shape
            )));
        };
        let bias_name = format!("{group}/bias:0");
        let b = sets
            .iter()
            .find(|d| d.name == bias_name)
            .ok_or_else(|| unsupported(format!("{} has no bias {bias_name}", k.name)))?;
        if b.shape != [n_out] {
            return Err(unsupported(format!("{bias_name} has shape {:?}, expected [{n_out}]", b.shape)));
        }
        if let Some(v) = k.values.iter().chain(&b.values).find(|v| !v.is_finite()) {
            return Err(unsupported(format!("layer {group} has a non-finite weight {v}")));
        }
        layers.push(FloatDense {
            group: group.to_string(),
            in_features: n_in,
            out_features: n_out,
            kernel: k.values.clone(),
            bias: b.values.clone(),
        });
    }
    if layers.is_empty() {
        return Err(unsupported("no dense layer (`…/kernel:0` dataset) found".into()));
    }
    let order = match file.root_string_attribute("layer_names")? {
        Some(names) => order_by_names(&layers, &names).map_err(unsupported)?,
        None => order_by_shape(&layers).map_err(unsupported)?,
    };
    Ok(order.into_iter().map(|i| layers[i].clone()).collect())
}

/// Order by Keras's `layer_names`: layer `name` owns the weights under `/name/`.
fn order_by_names(layers: &[FloatDense], names: &[String]) -> Result<Vec<usize>, String> {
    let mut order = Vec::new();
    for name in names {
        let prefix = format!("/{name}/");
        let owned: Vec<usize> =
            (0..layers.len()).filter(|&i| format!("{}/", layers[i].group).starts_with(&prefix)).collect();
        match owned[..] {
            [] => {}
            [i] if !order.contains(&i) => order.push(i),
            _ => return Err(format!("layer `{name}` owns {} dense kernels; expected one", owned.len())),
        }
    }
    if let Some(l) = layers.iter().enumerate().find(|(i, _)| !order.contains(i)).map(|(_, l)| l) {
        return Err(format!("dense kernel in {} belongs to no layer listed in the `layer_names` attribute", l.group));
    }
    Ok(order)
}

/// Order by shape: the unique chain in which each layer's `in` is the previous layer's `out`.
fn order_by_shape(layers: &[FloatDense]) -> Result<Vec<usize>, String> {
    let first: Vec<usize> =
        (0..layers.len()).filter(|&i| !layers.iter().any(|l| l.out_features == layers[i].in_features)).collect();
    let [start] = first[..] else {
        return Err(format!(
            "cannot order the {} dense layers by shape (no `layer_names` attribute): {} candidates for the first layer",
            layers.len(),
            first.len()
        ));
    };
    let mut order = vec![start];
    while order.len() < layers.len() {
        let prev = &layers[order[order.len() - 1]];
        let next: Vec<usize> =
            (0..layers.len()).filter(|i| !order.contains(i) && layers[*i].in_features == prev.out_features).collect();
        let [n] = next[..] else {
            return Err(format!(
                "cannot order the dense layers by shape (no `layer_names` attribute): {} candidates follow {} ({} outputs)",
                next.len(),
                prev.group,
                prev.out_features
            ));
        };
        order.push(n);
    }
    Ok(order)
}

/// `clamp(round(v · 2^frac_bits), −2^(q−1), 2^(q−1)−1)`. Exact: `v · 2^k` is exact in `f64`
/// (for normal values), and so are `floor` and `x − floor(x)`.
fn quantize(v: f64, frac_bits: u32, q: u8, rounding: Rounding) -> i64 {
    let x = v * f64::from(1u32 << frac_bits);
    let fl = x.floor();
    let up = match (x - fl).partial_cmp(&0.5) {
        Some(std::cmp::Ordering::Greater) => true,
        Some(std::cmp::Ordering::Less) | None => false,
        Some(std::cmp::Ordering::Equal) => match rounding {
            Rounding::HalfUp => true,
            Rounding::HalfEven => fl.rem_euclid(2.0) == 1.0,
            Rounding::HalfAwayFromZero => fl >= 0.0,
        },
    };
    let lim = 1i64 << (q - 1);
    // `as` saturates; the clamp brings the value into int<q>.
    ((if up { fl + 1.0 } else { fl }) as i64).clamp(-lim, lim - 1)
}

/// Build the integer network from float layers with `q` bits; `weight_rounding` rounds the
/// shadow weights (the published networks use [`Rounding::HalfUp`]).
pub fn build(name: &str, layers: &[FloatDense], q: u8, weight_rounding: Rounding) -> Result<Network, ImportError> {
    let unsupported = |message: String| ImportError::Unsupported { path: name.into(), message };
    if !(2..=16).contains(&q) {
        return Err(unsupported(format!("quantization bit width {q} is not supported (2..=16)")));
    }
    let (w_t, u_t) = (
        QType::new(q, true).ok_or_else(|| unsupported("bad bit width".into()))?,
        QType::new(q, false).ok_or_else(|| unsupported("bad bit width".into()))?,
    );
    let frac = u32::from(q) - 2;
    let act_scale = 1.0 / f64::from(1u32 << frac);
    let input = Input {
        shape: vec![layers.first().map_or(0, |l| l.in_features)],
        dtype: QType::UINT8,
        scale: 1.0 / 256.0,
        zero_point: 0,
        quantize: Default::default(),
    };
    let mut ir = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        let last = i + 1 == layers.len();
        let f_in = if i == 0 { INPUT_FRAC_BITS } else { frac };
        let shift = f_in + 1;
        if l.kernel.len() != l.in_features * l.out_features || l.bias.len() != l.out_features {
            return Err(unsupported(format!("layer {} has inconsistent array lengths", l.group)));
        }
        if let Some(v) = l.kernel.iter().chain(&l.bias).find(|v| !v.is_finite()) {
            return Err(unsupported(format!("layer {} has a non-finite weight {v}", l.group)));
        }
        // Keras stores [in, out]; the IR wants row-major [out, in].
        let mut weights = vec![0i64; l.kernel.len()];
        for r in 0..l.in_features {
            for c in 0..l.out_features {
                weights[c * l.in_features + r] =
                    quantize(l.kernel[r * l.out_features + c], u32::from(q) - 1, q, weight_rounding);
            }
        }
        let bias = l.bias.iter().map(|&b| quantize(b, frac, q, weight_rounding) << shift).collect();
        ir.push(Layer::Dense(Dense {
            in_features: l.in_features,
            out_features: l.out_features,
            weights,
            weight_dtype: w_t,
            weight_zero_point: vec![0],
            bias,
            requant: Requant {
                rescale: vec![Rescale::Dyadic { m: 1, shift, rounding: Rounding::HalfUp }],
                relu: !last,
            },
            output: Quant { dtype: if last { w_t } else { u_t }, scale: act_scale, zero_point: 0 },
        }));
    }
    Network::new(name, input, ir).map_err(|error| ImportError::Invalid { path: name.into(), error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_rounds_and_saturates() {
        use Rounding::*;
        // 0.0625 · 2^3 = 0.5, a tie.
        assert_eq!(quantize(0.0625, 3, 4, HalfUp), 1);
        assert_eq!(quantize(0.0625, 3, 4, HalfEven), 0);
        assert_eq!(quantize(-0.0625, 3, 4, HalfUp), 0);
        assert_eq!(quantize(-0.0625, 3, 4, HalfAwayFromZero), -1);
        assert_eq!(quantize(0.1875, 3, 4, HalfEven), 2);
        assert_eq!(quantize(f64::from(-0.3f32), 3, 4, HalfUp), -2);
        assert_eq!(quantize(2.0, 3, 4, HalfUp), 7);
        assert_eq!(quantize(-2.0, 3, 4, HalfUp), -8);
        assert_eq!(quantize(1e300, 9, 10, HalfUp), 511);
        assert_eq!(quantize(-1e300, 9, 10, HalfUp), -512);
    }

    #[test]
    fn build_rejects_bad_layers() {
        let l = FloatDense {
            group: "/d".into(),
            in_features: 2,
            out_features: 1,
            kernel: vec![0.1, f64::NAN],
            bias: vec![0.0],
        };
        let e = build("n", std::slice::from_ref(&l), 4, Rounding::HalfUp).unwrap_err().to_string();
        assert!(e.contains("non-finite"), "{e}");
        let short = FloatDense { kernel: vec![0.1], ..l.clone() };
        assert!(build("n", &[short], 4, Rounding::HalfUp).unwrap_err().to_string().contains("inconsistent"));
        let ok = FloatDense { kernel: vec![0.1, 0.2], ..l };
        assert!(build("n", std::slice::from_ref(&ok), 17, Rounding::HalfUp)
            .unwrap_err()
            .to_string()
            .contains("bit width 17"));
        let net = build("n", &[ok], 4, Rounding::HalfUp).unwrap();
        assert_eq!(net.output_len(), 1);
    }

    #[test]
    fn order_by_shape_needs_a_unique_chain() {
        let d = |g: &str, i, o| FloatDense {
            group: g.into(),
            in_features: i,
            out_features: o,
            kernel: vec![0.0; i * o],
            bias: vec![0.0; o],
        };
        assert_eq!(order_by_shape(&[d("b", 3, 2), d("a", 4, 3)]).unwrap(), [1, 0]);
        assert!(order_by_shape(&[d("a", 4, 3), d("b", 3, 3), d("c", 3, 2)]).unwrap_err().contains("2 candidates"));
        let names = ["x".to_string(), "c".into(), "a".into(), "b".into()];
        let layers = [d("/a/a", 4, 3), d("/b/b", 3, 3), d("/c/c", 3, 2)];
        assert_eq!(
            order_by_names(&layers, &names[..2]).unwrap_err(),
            "dense kernel in /a/a belongs to no layer listed in the `layer_names` attribute"
        );
        assert_eq!(order_by_names(&layers, &names).unwrap(), [2, 0, 1]);
    }
}
