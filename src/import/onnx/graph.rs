//! Decoded ONNX tensors, node attributes, and the network builder shared by the QOperator and
//! QDQ front ends.

use super::proto::{attr_type, data_type as dt, AttributeProto, NodeProto, TensorProto};
use crate::net::geometry::Window;
use crate::net::validate::MAX_ELEMENTS;
use crate::net::{Conv2d, Dense, Layer, QType, Quant, Requant, Rescale, Rounding};

/// Why a `TensorProto` could not be decoded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// A valid tensor the importer does not support (an element type such as FLOAT16, external
    /// data, …).
    #[error("{0}")]
    Unsupported(String),
    /// An inconsistent tensor (data length, value range, …).
    #[error("{0}")]
    Malformed(String),
}

/// A decoded tensor: dims and values (integers widened to `i64`, floats kept as `f32`).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    /// `TensorProto.DataType` code (see [`super::proto::data_type`]).
    pub data_type: i32,
    pub dims: Vec<usize>,
    pub data: Data,
}

/// Tensor values.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Float(Vec<f32>),
    Int(Vec<i64>),
}

impl Tensor {
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Float(v) => v.len(),
            Data::Int(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Float values, or an error naming the tensor.
    pub fn floats(&self) -> Result<&[f32], String> {
        match &self.data {
            Data::Float(v) => Ok(v),
            Data::Int(_) => {
                Err(format!("tensor `{}` has type {}, expected FLOAT", self.name, dt::name(self.data_type)))
            }
        }
    }

    /// Integer values, or an error naming the tensor.
    pub fn ints(&self) -> Result<&[i64], String> {
        match &self.data {
            Data::Int(v) => Ok(v),
            Data::Float(_) => {
                Err(format!("tensor `{}` has type {}, expected an integer type", self.name, dt::name(self.data_type)))
            }
        }
    }

    /// The quantized integer type of this tensor's elements (2..16 bits).
    pub fn qtype(&self) -> Result<QType, String> {
        qtype_of(self.data_type).ok_or_else(|| {
            format!(
                "tensor `{}` has type {}; quantized tensors must be INT2/4/8/16 or UINT2/4/8/16",
                self.name,
                dt::name(self.data_type)
            )
        })
    }
}

/// The [`QType`] of an ONNX integer data type, if it is one the IR can hold.
pub fn qtype_of(t: i32) -> Option<QType> {
    match t {
        dt::UINT8 => Some(QType::UINT8),
        dt::INT8 => Some(QType::INT8),
        dt::UINT16 => QType::new(16, false),
        dt::INT16 => QType::new(16, true),
        dt::UINT4 => QType::new(4, false),
        dt::INT4 => QType::new(4, true),
        dt::UINT2 => QType::new(2, false),
        dt::INT2 => QType::new(2, true),
        _ => None,
    }
}

fn element_count(dims: &[i64], name: &str) -> Result<(Vec<usize>, usize), String> {
    let mut out = Vec::with_capacity(dims.len());
    let mut n: usize = 1;
    for &d in dims {
        let d = usize::try_from(d).map_err(|_| format!("tensor `{name}` has a negative dimension {d}"))?;
        n = n
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| format!("tensor `{name}` has more than {MAX_ELEMENTS} elements (dims {dims:?})"))?;
        out.push(d);
    }
    Ok((out, n))
}

fn len_err(name: &str, what: &str, got: usize, n: usize) -> String {
    format!("tensor `{name}`: {what} holds {got} values, but its dims need {n}")
}

/// Unpack sub-byte elements (`bits` = 2 or 4) stored LSB first in bytes.
fn unpack(bytes: impl Iterator<Item = u8>, bits: u32, signed: bool, n: usize) -> Vec<i64> {
    let per = (8 / bits) as usize;
    let mask = (1u8 << bits) - 1;
    let mut out = Vec::with_capacity(n);
    for b in bytes {
        for k in 0..per {
            if out.len() == n {
                break;
            }
            let v = i64::from((b >> (k as u32 * bits)) & mask);
            let half = 1i64 << (bits - 1);
            out.push(if signed && v >= half { v - 2 * half } else { v });
        }
    }
    out
}

/// Decode a `TensorProto`, from `raw_data` (little-endian) or the typed fields.
pub fn decode_tensor(t: &TensorProto) -> Result<Tensor, TensorError> {
    use TensorError::{Malformed, Unsupported};
    let name = if t.name.is_empty() { "<unnamed>".to_string() } else { t.name.clone() };
    if t.data_location == 1 || !t.external_data.is_empty() {
        return Err(Unsupported(format!(
            "tensor `{name}` stores its data in an external file, which is not supported"
        )));
    }
    if t.segment.is_some() {
        return Err(Unsupported(format!("tensor `{name}` is a segment of a larger tensor, which is not supported")));
    }
    let (dims, n) = element_count(&t.dims, &name).map_err(Malformed)?;
    let raw = &t.raw_data;
    let has_raw = !raw.is_empty();
    let int = |v: Vec<i64>| -> Result<Data, TensorError> { Ok(Data::Int(v)) };
    let data = match t.data_type {
        dt::FLOAT => {
            let v: Vec<f32> = if has_raw {
                if raw.len() != 4 * n {
                    return Err(Malformed(len_err(&name, "raw_data (FLOAT)", raw.len() / 4, n)));
                }
                raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            } else {
                t.float_data.clone()
            };
            if v.len() != n {
                return Err(Malformed(len_err(&name, "float_data", v.len(), n)));
            }
            Data::Float(v)
        }
        dt::UINT8 | dt::INT8 | dt::UINT16 | dt::INT16 | dt::INT32 | dt::BOOL => {
            let (w, lo, hi): (usize, i64, i64) = match t.data_type {
                dt::UINT8 => (1, 0, 255),
                dt::INT8 => (1, -128, 127),
                dt::UINT16 => (2, 0, 65535),
                dt::INT16 => (2, -32768, 32767),
                dt::BOOL => (1, 0, 1),
                _ => (4, i64::from(i32::MIN), i64::from(i32::MAX)),
            };
            let v: Vec<i64> = if has_raw {
                if raw.len() != w * n {
                    return Err(Malformed(len_err(&name, "raw_data", raw.len() / w, n)));
                }
                raw.chunks_exact(w)
                    .map(|c| match (t.data_type, w) {
                        (dt::INT8, _) => i64::from(c[0] as i8),
                        (_, 1) => i64::from(c[0]),
                        (dt::INT16, _) => i64::from(i16::from_le_bytes([c[0], c[1]])),
                        (_, 2) => i64::from(u16::from_le_bytes([c[0], c[1]])),
                        _ => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    })
                    .collect()
            } else {
                t.int32_data.iter().map(|&x| i64::from(x)).collect()
            };
            if v.len() != n {
                return Err(Malformed(len_err(&name, "int32_data", v.len(), n)));
            }
            if let Some(x) = v.iter().find(|x| !(lo..=hi).contains(*x)) {
                return Err(Malformed(format!(
                    "tensor `{name}`: value {x} is out of range for {}",
                    dt::name(t.data_type)
                )));
            }
            int(v)?
        }
        dt::INT64 => {
            let v: Vec<i64> = if has_raw {
                if raw.len() != 8 * n {
                    return Err(Malformed(len_err(&name, "raw_data (INT64)", raw.len() / 8, n)));
                }
                raw.chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect()
            } else {
                t.int64_data.clone()
            };
            if v.len() != n {
                return Err(Malformed(len_err(&name, "int64_data", v.len(), n)));
            }
            int(v)?
        }
        dt::UINT4 | dt::INT4 | dt::UINT2 | dt::INT2 => {
            let bits = if matches!(t.data_type, dt::UINT4 | dt::INT4) { 4 } else { 2 };
            let signed = matches!(t.data_type, dt::INT4 | dt::INT2);
            let nbytes = n.div_ceil((8 / bits) as usize);
            let v = if has_raw {
                if raw.len() != nbytes {
                    return Err(Malformed(len_err(&name, "packed raw_data (bytes)", raw.len(), nbytes)));
                }
                unpack(raw.iter().copied(), bits, signed, n)
            } else {
                if t.int32_data.len() != nbytes {
                    return Err(Malformed(len_err(&name, "packed int32_data (entries)", t.int32_data.len(), nbytes)));
                }
                if let Some(x) = t.int32_data.iter().find(|x| !(0..=255).contains(*x)) {
                    return Err(Malformed(format!("tensor `{name}`: packed int32_data entry {x} is not a byte")));
                }
                unpack(t.int32_data.iter().map(|&x| x as u8), bits, signed, n)
            };
            int(v)?
        }
        other => {
            return Err(Unsupported(format!(
                "tensor `{name}` has element type {}, which quiver does not support (supported: FLOAT, INT8/UINT8, \
                 INT16/UINT16, INT4/UINT4, INT2/UINT2, INT32, INT64, BOOL)",
                dt::name(other)
            )))
        }
    };
    Ok(Tensor { name, data_type: t.data_type, dims, data })
}

/// Attribute accessors with errors that name the node.
pub struct Attrs<'a> {
    pub node: &'a NodeProto,
}

impl<'a> Attrs<'a> {
    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    fn check(&self, a: &AttributeProto, want: i32, what: &str) -> Result<(), String> {
        if !a.ref_attr_name.is_empty() {
            return Err(format!("attribute `{}` refers to a function attribute, which is not supported", a.name));
        }
        // Type 0 (UNDEFINED) appears in some old writers; accept it when the field is present.
        if a.r#type != want && a.r#type != 0 {
            return Err(format!("attribute `{}` must be {what}", a.name));
        }
        Ok(())
    }

    pub fn int(&self, name: &str, default: i64) -> Result<i64, String> {
        match self.get(name) {
            None => Ok(default),
            Some(a) => self.check(a, attr_type::INT, "an integer").map(|_| a.i),
        }
    }

    pub fn float(&self, name: &str, default: f32) -> Result<f32, String> {
        match self.get(name) {
            None => Ok(default),
            Some(a) => self.check(a, attr_type::FLOAT, "a float").map(|_| a.f),
        }
    }

    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => self.check(a, attr_type::INTS, "a list of integers").map(|_| Some(a.ints.clone())),
        }
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => {
                self.check(a, attr_type::STRING, "a string")?;
                Ok(Some(String::from_utf8_lossy(&a.s).into_owned()))
            }
        }
    }

    pub fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => self.check(a, attr_type::TENSOR, "a tensor").map(|_| a.t.as_ref()),
        }
    }
}

/// A per-tensor or per-channel quantization parameter pair of an operator.
#[derive(Clone, Debug, PartialEq)]
pub struct QParams {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    /// The zero point's type (the quantized tensor's type).
    pub dtype: QType,
}

impl QParams {
    /// Read a scale/zero-point pair; `zp = None` means the ONNX default (0 of type `default`).
    pub fn read(scale: &Tensor, zp: Option<&Tensor>, default: QType) -> Result<QParams, String> {
        let s = scale.floats()?.to_vec();
        if s.is_empty() {
            return Err(format!("scale `{}` is empty", scale.name));
        }
        if let Some(x) = s.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
            return Err(format!("scale `{}` contains {x}; scales must be finite and > 0", scale.name));
        }
        let (z, dtype) = match zp {
            Some(z) => (z.ints()?.to_vec(), z.qtype()?),
            None => (vec![0], default),
        };
        if z.len() != s.len() && z.len() != 1 {
            return Err(format!("scale `{}` has {} entries but zero point has {}", scale.name, s.len(), z.len()));
        }
        Ok(QParams { scale: s, zero_point: z, dtype })
    }

    pub fn is_per_tensor(&self) -> bool {
        self.scale.len() == 1 && self.zero_point.len() == 1
    }

    /// The single scale and zero point, or an error saying per-tensor parameters are needed.
    pub fn per_tensor(&self, what: &str) -> Result<(f32, i64), String> {
        if !self.is_per_tensor() {
            return Err(format!(
                "{what} has per-axis quantization ({} scales); only per-tensor quantization is supported here",
                self.scale.len()
            ));
        }
        Ok((self.scale[0], self.zero_point[0]))
    }

    pub fn quant(&self, what: &str) -> Result<Quant, String> {
        let (s, z) = self.per_tensor(what)?;
        Ok(Quant { dtype: self.dtype, scale: f64::from(s), zero_point: z })
    }
}

/// ONNX Runtime's (MLAS) requantization: `output_scale = fl(fl(a_scale · b_scale) / y_scale)`
/// (QLinearMatMul, QLinearConv; QGemm multiplies by `alpha` first), then
/// `y = clamp(nearbyint(fl(float(acc + int_bias) · output_scale)) + y_zp)`. The integer bias
/// goes into the layer's `bias`; the rescale's float bias is 0.
pub fn mlas_rescales(a_scale: f32, b_scales: &[f32], y_scale: f32, alpha: Option<f32>) -> Vec<Rescale> {
    b_scales
        .iter()
        .map(|&b| {
            let ab = match alpha {
                Some(al) => (al * a_scale) * b,
                None => a_scale * b,
            };
            Rescale::Float32 { m: f64::from(ab / y_scale), bias: 0.0, rounding: Rounding::HalfEven }
        })
        .collect()
}

/// Exact identity rescale (for integer ops whose output is the raw accumulator).
pub fn identity_rescale() -> Rescale {
    Rescale::Dyadic { m: 1, shift: 0, rounding: Rounding::HalfEven }
}

/// The IR shape of an ONNX tensor: `[N=1, C, H, W]` → `[C, H, W]`; anything else is a C-order
/// vector (the importer tracks the ONNX dims separately).
pub fn ir_shape(dims: &[usize]) -> Vec<usize> {
    if dims.len() == 4 && dims[0] == 1 {
        dims[1..].to_vec()
    } else {
        vec![dims.iter().product()]
    }
}

/// Build the network graph while walking the ONNX graph.
#[derive(Debug, Default)]
pub struct Builder {
    pub layers: Vec<Layer>,
    /// The tensors each layer reads.
    pub inputs: Vec<Vec<usize>>,
    /// IR shape and quantization of every tensor; `[0]` is the input (once set).
    pub tensors: Vec<(Vec<usize>, Quant)>,
    /// The tensor the next [`Builder::push`] reads: the newest one, unless the ONNX node being
    /// imported reads an earlier tensor (a branch or a skip connection).
    pub cur: usize,
    /// The ONNX node each layer was emitted for (index into the graph's nodes), so that an error
    /// the network's validation finds in a layer names that node.
    pub origin: Vec<usize>,
}

impl Builder {
    /// Index of the newest IR tensor.
    pub fn last(&self) -> usize {
        self.tensors.len().saturating_sub(1)
    }

    pub fn quant(&self, t: usize) -> Quant {
        self.tensors[t].1
    }

    pub fn shape(&self, t: usize) -> &[usize] {
        &self.tensors[t].0
    }

    /// Append a layer reading the current tensor ([`Builder::cur`]); its output tensor gets
    /// `shape`/`quant` and becomes the current one. Returns the new tensor index.
    pub fn push(&mut self, layer: Layer, shape: Vec<usize>, quant: Quant) -> usize {
        let cur = self.cur;
        self.push_node(layer, vec![cur], shape, quant)
    }

    /// Append a layer reading `inputs`; its output becomes the current tensor.
    pub fn push_node(&mut self, layer: Layer, inputs: Vec<usize>, shape: Vec<usize>, quant: Quant) -> usize {
        self.layers.push(layer);
        self.inputs.push(inputs);
        self.tensors.push((shape, quant));
        self.cur = self.last();
        self.cur
    }

    /// The built graph as nodes (named `n0`, `n1`, …) for [`crate::net::Network::graph`].
    pub fn into_nodes(self) -> Vec<crate::net::Node> {
        let inputs = self.inputs;
        self.layers
            .into_iter()
            .zip(inputs)
            .enumerate()
            .map(|(i, (op, inputs))| crate::net::Node { name: format!("n{i}"), op, inputs })
            .collect()
    }

    /// Make the current tensor a vector (insert a Flatten layer if it is an image).
    pub fn flatten(&mut self) -> usize {
        let t = self.cur;
        if self.shape(t).len() != 1 {
            let n = self.shape(t).iter().product();
            let q = self.quant(t);
            return self.push(Layer::Flatten, vec![n], q);
        }
        t
    }

    /// Clamp the newest tensor's integer values to `[lo, hi]` (ONNX `Clip`/`Relu` on an integer
    /// tensor), exactly, with ±1 identity layers (Dense, or depthwise 1×1 Conv for images):
    /// `max(x, lo)` is an identity whose output zero point is `lo` with a fused ReLU, and
    /// `min(x, hi) = −max(−x, −hi)`. A last identity restores the tensor's quantization.
    pub fn clamp(&mut self, lo: i64, hi: i64) -> Result<usize, String> {
        let q = self.quant(self.cur);
        let t = q.dtype;
        let (lo, hi) = (lo.max(t.min()), hi.min(t.max()));
        if lo > hi {
            return Err(format!("clip bounds [{lo}, {hi}] are empty within {t}"));
        }
        if lo == t.min() && hi == t.max() {
            return Ok(self.cur);
        }
        let wide = QType::new(16, true).ok_or("int16 type")?;
        if t.max() > wide.max() {
            return Err(format!("clipping a {t} tensor is not supported (needs a type wider than int16)"));
        }
        let quant = |dtype, zero_point| Quant { dtype, scale: q.scale, zero_point };
        if lo > t.min() {
            self.unit_layer(1, quant(wide, lo), true)?;
        }
        if hi < t.max() {
            self.unit_layer(-1, quant(wide, -hi), true)?;
            self.unit_layer(-1, quant(wide, 0), false)?;
        }
        self.unit_layer(1, q, false)
    }

    /// A ±1 identity layer on the newest tensor: `y = w·x` in integer values (then the output
    /// clamp, raised to `out.zero_point` if `relu`). With `acc = w·(x − zx) + b` and
    /// `y = acc + z_out`, the bias is `b = w·zx − z_out`.
    fn unit_layer(&mut self, w: i64, out: Quant, relu: bool) -> Result<usize, String> {
        let t = self.cur;
        let shape = self.shape(t).to_vec();
        let bias_v = w * self.quant(t).zero_point - out.zero_point;
        let requant = Requant { rescale: vec![identity_rescale()], relu };
        let wt = QType::new(2, true).ok_or("int2 type")?;
        let layer = if shape.len() == 3 {
            let c = shape[0];
            Layer::Conv2d(Conv2d {
                in_channels: c,
                out_channels: c,
                kernel: [1, 1],
                stride: [1, 1],
                padding: [0; 4],
                dilation: [1, 1],
                groups: c,
                weights: vec![w; c],
                weight_dtype: wt,
                weight_zero_point: vec![0],
                bias: vec![bias_v; c],
                requant,
                output: out,
            })
        } else {
            let n = shape.iter().product::<usize>();
            if n > 4096 {
                return Err(format!("clipping a {n}-element vector would need an {n}x{n} identity layer"));
            }
            let mut weights = vec![0; n * n];
            for i in 0..n {
                weights[i * n + i] = w;
            }
            Layer::Dense(Dense {
                in_features: n,
                out_features: n,
                weights,
                weight_dtype: wt,
                weight_zero_point: vec![0],
                bias: vec![bias_v; n],
                requant,
                output: out,
            })
        };
        Ok(self.push(layer, shape, out))
    }
}

/// Conv/pool window attributes of a node, for a 2-D `[H, W]` input.
pub fn window(attrs: &Attrs, kernel: [usize; 2], hw: [usize; 2], with_dilation: bool) -> Result<Window, String> {
    let two = |v: Option<Vec<i64>>, default: usize, what: &str| -> Result<[usize; 2], String> {
        match v {
            None => Ok([default; 2]),
            Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 1) => Ok([v[0] as usize, v[1] as usize]),
            Some(v) => Err(format!("{what} {v:?} must be two positive integers (2-D only)")),
        }
    };
    let stride = two(attrs.ints("strides")?, 1, "strides")?;
    let dilation = if with_dilation { two(attrs.ints("dilations")?, 1, "dilations")? } else { [1, 1] };
    if let Some(ks) = attrs.ints("kernel_shape")? {
        if ks.len() != 2 || ks[0] as usize != kernel[0] || ks[1] as usize != kernel[1] {
            return Err(format!("kernel_shape {ks:?} does not match the kernel {kernel:?}"));
        }
    }
    let auto_pad = attrs.string("auto_pad")?.unwrap_or_else(|| "NOTSET".into());
    let padding = match auto_pad.as_str() {
        "NOTSET" => match attrs.ints("pads")? {
            None => [0; 4],
            Some(p) if p.len() == 4 && p.iter().all(|&x| x >= 0) => {
                // ONNX order: [top, left, bottom, right] = [x1_begin, x2_begin, x1_end, x2_end]
                [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]
            }
            Some(p) => return Err(format!("pads {p:?} must be four non-negative integers")),
        },
        "VALID" => [0; 4],
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut pads = [0usize; 4];
            for ax in 0..2 {
                let out = hw[ax].div_ceil(stride[ax]);
                let span = dilation[ax] * (kernel[ax] - 1) + 1;
                let total = ((out - 1) * stride[ax] + span).saturating_sub(hw[ax]);
                let (small, big) = (total / 2, total - total / 2);
                let (begin, end) = if auto_pad == "SAME_UPPER" { (small, big) } else { (big, small) };
                pads[ax] = begin;
                pads[ax + 2] = end;
            }
            pads
        }
        other => return Err(format!("auto_pad `{other}` is not supported")),
    };
    Ok(Window { kernel, stride, padding, dilation })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{exec, Input, Network};

    fn tp(data_type: i32, dims: Vec<i64>) -> TensorProto {
        TensorProto { name: "t".into(), data_type, dims, ..Default::default() }
    }

    #[test]
    fn raw_and_typed_fields_agree() {
        let v = [1.5f32, -0.25, 3.0e-8];
        let mut a = tp(dt::FLOAT, vec![3]);
        a.raw_data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        let mut b = tp(dt::FLOAT, vec![3]);
        b.float_data = v.to_vec();
        assert_eq!(decode_tensor(&a).unwrap().data, Data::Float(v.to_vec()));
        assert_eq!(decode_tensor(&a).unwrap(), decode_tensor(&b).unwrap());
        let mut c = tp(dt::INT8, vec![2, 2]);
        c.raw_data = vec![0x80, 0x7f, 0xff, 0];
        let mut d = tp(dt::INT8, vec![2, 2]);
        d.int32_data = vec![-128, 127, -1, 0];
        assert_eq!(decode_tensor(&c).unwrap().data, Data::Int(vec![-128, 127, -1, 0]));
        assert_eq!(decode_tensor(&c).unwrap(), decode_tensor(&d).unwrap());
        let mut e = tp(dt::INT16, vec![2]);
        e.raw_data = vec![0x00, 0x80, 0x01, 0x00];
        assert_eq!(decode_tensor(&e).unwrap().data, Data::Int(vec![-32768, 1]));
    }

    #[test]
    fn sub_byte_packing_low_nibble_first() {
        let mut a = tp(dt::UINT4, vec![3]);
        a.raw_data = vec![0x21, 0x03];
        assert_eq!(decode_tensor(&a).unwrap().data, Data::Int(vec![1, 2, 3]));
        let mut b = tp(dt::INT4, vec![4]);
        b.int32_data = vec![0x8f, 0x71];
        assert_eq!(decode_tensor(&b).unwrap().data, Data::Int(vec![-1, -8, 1, 7]));
        let mut c = tp(dt::INT2, vec![5]);
        c.raw_data = vec![0b11_10_01_00, 0b01];
        assert_eq!(decode_tensor(&c).unwrap().data, Data::Int(vec![0, 1, -2, -1, 1]));
    }

    #[test]
    fn bad_tensors_are_errors() {
        let mut a = tp(dt::FLOAT, vec![3]);
        a.raw_data = vec![0; 11];
        assert!(decode_tensor(&a).unwrap_err().to_string().contains("dims need 3"));
        let mut b = tp(dt::UINT8, vec![1]);
        b.int32_data = vec![256];
        assert!(decode_tensor(&b).unwrap_err().to_string().contains("out of range"));
        let mut c = tp(dt::FLOAT, vec![1]);
        c.data_location = 1;
        assert!(decode_tensor(&c).unwrap_err().to_string().contains("external"));
        let d = tp(dt::FLOAT, vec![-1]);
        assert!(decode_tensor(&d).unwrap_err().to_string().contains("negative"));
        let e = tp(dt::FLOAT, vec![1 << 20, 1 << 20]);
        assert!(decode_tensor(&e).unwrap_err().to_string().contains("more than"));
        let f = tp(8, vec![1]);
        assert!(matches!(decode_tensor(&f), Err(TensorError::Unsupported(m)) if m.contains("STRING")));
    }

    /// `clamp` on an image (depthwise 1×1 conv path) and on a vector, exhaustively over uint8.
    #[test]
    fn clamp_is_exact() {
        for shape in [vec![256], vec![4, 8, 8]] {
            for (lo, hi) in [(3, 200), (0, 255), (-5, 10), (250, 400), (9, 9)] {
                let q = Quant { dtype: QType::UINT8, scale: 0.5, zero_point: 7 };
                let mut b = Builder::default();
                b.tensors.push((shape.clone(), q));
                b.clamp(lo, hi).unwrap();
                let input = Input {
                    shape: shape.clone(),
                    dtype: q.dtype,
                    scale: q.scale,
                    zero_point: q.zero_point,
                    quantize: Default::default(),
                };
                let net = Network::new("c", input, b.layers).unwrap();
                let x: Vec<i64> = (0..256).collect();
                let want: Vec<i64> = x.iter().map(|v| (*v).clamp(lo.max(0), hi.min(255))).collect();
                assert_eq!(exec::run(&net, &x).unwrap(), want, "{shape:?} [{lo}, {hi}]");
                assert_eq!(net.output_info().quant, q);
            }
        }
        let mut b = Builder::default();
        b.tensors.push((vec![2], Quant { dtype: QType::INT8, scale: 1.0, zero_point: 0 }));
        assert!(b.clamp(5, 4).is_err());
    }

    /// MLAS's output scale: `fl(fl(a · b) / y)`, not `a · (b / y)` or a float64 product.
    #[test]
    fn mlas_scale_order() {
        let (a, b, y) = (0.003_921_569_f32, 0.006_560_46_f32, 0.071_267_02_f32);
        let Rescale::Float32 { m, .. } = mlas_rescales(a, &[b], y, None)[0] else { panic!() };
        assert_eq!(m, f64::from((a * b) / y));
        let Rescale::Float32 { m: m2, .. } = mlas_rescales(a, &[b], y, Some(1.0))[0] else { panic!() };
        assert_eq!(m, m2);
    }
}
