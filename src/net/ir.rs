//! The quantized-network IR: a sequence of integer layers with explicit shapes and quantization.
//!
//! Every tensor between layers is an integer tensor with a [`QType`] range and a real
//! interpretation `real = scale · (q − zero_point)` ([`Quant`]). The zero point is semantic (it is
//! subtracted inside Dense/Conv and is the ReLU threshold); the scale is only for reporting and for
//! mapping real-valued specifications. Shapes are `[C, H, W]` for images (no batch dimension) and
//! `[N]` for vectors; flattening is C-order.

use super::dtype::QType;
use super::form::Form;
use super::requant::{Requant, Rounding};
use serde::{Deserialize, Serialize};

/// Quantization of a tensor: its integer type and the affine map to reals.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quant {
    pub dtype: QType,
    pub scale: f64,
    pub zero_point: i64,
}

impl Quant {
    pub fn dequantize(&self, q: i64) -> f64 {
        self.scale * (q - self.zero_point) as f64
    }
}

/// How a runtime maps a real input to the integer grid. Both are monotone in `x`, so a real box
/// maps to an integer box exactly; they differ only near rounding ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InputQuantize {
    /// `clamp(round_half_even(fl32(x / fl32(scale))) + zero_point)`: ONNX `QuantizeLinear`.
    #[default]
    Divide,
    /// `clamp(round_half_even(fl32(x · fl32(1 / fl32(scale)))) + zero_point)`: PyTorch/FBGEMM
    /// `quantize_per_tensor` (see `docs/pytorch-fbgemm.md`).
    MultiplyReciprocal,
}

/// The network's input: shape and quantization. The real→integer map ([`InputQuantize`]) is
/// only used for real-valued specifications (VNN-LIB over reals, real ε).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub shape: Vec<usize>,
    pub dtype: QType,
    pub scale: f64,
    pub zero_point: i64,
    #[serde(default, skip_serializing_if = "is_default_quantize")]
    pub quantize: InputQuantize,
}

fn is_default_quantize(q: &InputQuantize) -> bool {
    *q == InputQuantize::Divide
}

impl Input {
    pub fn quant(&self) -> Quant {
        Quant { dtype: self.dtype, scale: self.scale, zero_point: self.zero_point }
    }
}

/// `acc_j = Σ_i (W_ji − zw_j)(x_i − zx) + B_j`, then requantization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dense {
    pub in_features: usize,
    pub out_features: usize,
    /// Row-major `[out_features, in_features]`.
    pub weights: Vec<i64>,
    /// Weight type (range check only; weights are stored as plain integers).
    pub weight_dtype: QType,
    /// One zero point for all rows, or one per output feature.
    pub weight_zero_point: Vec<i64>,
    /// Integer bias in accumulator units, one per output feature (empty = no bias).
    #[serde(default)]
    pub bias: Vec<i64>,
    pub requant: Requant,
    pub output: Quant,
}

/// 2-D convolution over `[C, H, W]`; padded positions hold the input zero point (contribute 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2d {
    pub in_channels: usize,
    pub out_channels: usize,
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    #[serde(default = "ones")]
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    #[serde(default)]
    pub padding: [usize; 4],
    #[serde(default = "ones")]
    pub dilation: [usize; 2],
    #[serde(default = "one")]
    pub groups: usize,
    /// `[out_channels, in_channels / groups, kh, kw]`, C-order.
    pub weights: Vec<i64>,
    pub weight_dtype: QType,
    /// One zero point, or one per output channel.
    pub weight_zero_point: Vec<i64>,
    /// Integer bias in accumulator units, one per output channel (empty = no bias).
    #[serde(default)]
    pub bias: Vec<i64>,
    pub requant: Requant,
    pub output: Quant,
}

fn ones() -> [usize; 2] {
    [1, 1]
}
fn one() -> usize {
    1
}

/// Max pooling; padded positions are ignored (as if −∞). Quantization passes through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxPool2d {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    #[serde(default)]
    pub padding: [usize; 4],
    #[serde(default = "ones")]
    pub dilation: [usize; 2],
}

/// Average pooling: `y = clamp(round(Σ (x − z) / n) + z)` over the window, where `n` is the
/// kernel size, or the number of in-bounds positions if `count_include_pad` is false. Padded
/// positions contribute 0. Quantization passes through (same scale and zero point).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvgPool2d {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    #[serde(default)]
    pub padding: [usize; 4],
    #[serde(default = "yes")]
    pub count_include_pad: bool,
    pub rounding: Rounding,
}

fn yes() -> bool {
    true
}

/// Global average pooling `[C, H, W] → [C]` with a requantization of the window sum:
/// `y_c = requant(Σ_{h,w} (x_chw − zx))` (ONNX Runtime's `QLinearGlobalAveragePool` rescales
/// the integer sum by `x_scale / (y_scale · H·W)` in binary32: a `float32` rescale).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalAvgPool {
    pub requant: Requant,
    pub output: Quant,
}

/// Concatenation of several tensors of equal quantization along `axis` (of the shape without a
/// batch dimension: 0 is the channel axis of `[C, H, W]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concat {
    pub axis: usize,
}

/// Permutation of the axes: output axis `i` is input axis `perm[i]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transpose {
    pub perm: Vec<usize>,
}

/// C-order reshape to `shape` (same number of elements).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reshape {
    pub shape: Vec<usize>,
}

/// Constant padding with the zero point (a real 0): `pads` holds the elements added before
/// each axis, then after each axis (ONNX order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pad {
    pub pads: Vec<usize>,
}

/// `clamp(x, lo, hi)` on the integers (ReLU6, hardtanh and Clip on the quantized grid).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clip {
    pub lo: i64,
    pub hi: i64,
}

/// An elementwise integer function given by its table: `y = table[x − offset]` (quantized
/// sigmoid, hardswish, leaky ReLU, a change of scale …, as the runtime tabulates it). Every
/// value of the input type must have an entry; the output has its own quantization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lut {
    pub table: Vec<i64>,
    pub offset: i64,
    pub output: Quant,
}

/// One operator: integer tensors in, an integer tensor out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Layer {
    Dense(Dense),
    Conv2d(Conv2d),
    MaxPool2d(MaxPool2d),
    AvgPool2d(AvgPool2d),
    GlobalAvgPool(GlobalAvgPool),
    /// C-order reshape to a vector.
    Flatten,
    /// `max(x, zero_point)`.
    Relu,
    Clip(Clip),
    Lut(Lut),
    Concat(Concat),
    Transpose(Transpose),
    Reshape(Reshape),
    Pad(Pad),
}

impl Layer {
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Dense(_) => "dense",
            Layer::Conv2d(_) => "conv2d",
            Layer::MaxPool2d(_) => "max_pool2d",
            Layer::AvgPool2d(_) => "avg_pool2d",
            Layer::GlobalAvgPool(_) => "global_avg_pool",
            Layer::Flatten => "flatten",
            Layer::Relu => "relu",
            Layer::Clip(_) => "clip",
            Layer::Lut(_) => "lut",
            Layer::Concat(_) => "concat",
            Layer::Transpose(_) => "transpose",
            Layer::Reshape(_) => "reshape",
            Layer::Pad(_) => "pad",
        }
    }
}

/// Shape and quantization of one tensor of the network.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub shape: Vec<usize>,
    pub quant: Quant,
}

impl TensorInfo {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A validated network: a graph of integer tensors computed by nodes in topological order.
/// Construct it with [`crate::net::format::load`], [`Network::new`] (a sequence of layers) or
/// [`Network::graph`], which check every invariant the executor and the encodings rely on.
///
/// Tensor 0 is the input; node `i` computes tensor `i + 1` from the tensors it reads
/// ([`Network::node_inputs`]); the last tensor is the output.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub(crate) name: String,
    pub(crate) input: Input,
    pub(crate) layers: Vec<Layer>,
    /// The tensors each node reads, in order.
    pub(crate) inputs: Vec<Vec<usize>>,
    /// Each node's name (also the name of its output tensor).
    pub(crate) names: Vec<String>,
    /// `tensors[0]` is the input, `tensors[i + 1]` the output of node `i`.
    pub(crate) tensors: Vec<TensorInfo>,
    /// Each node's arithmetic as a [`Form`], lowered once at validation.
    pub(crate) forms: Vec<Form>,
    /// For Dense/Conv nodes, the accumulator range over every input the types allow
    /// (proven at validation: no i64 overflow, and within i32 where the rescale needs it).
    pub(crate) acc_ranges: Vec<Option<(i64, i64)>>,
}

impl Network {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn input(&self) -> &Input {
        &self.input
    }
    /// The operator of every node, in topological order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
    /// The tensors node `i` reads.
    pub fn node_inputs(&self, i: usize) -> &[usize] {
        &self.inputs[i]
    }
    /// Node `i`'s name.
    pub fn node_name(&self, i: usize) -> &str {
        &self.names[i]
    }
    /// Node `i`'s lowered arithmetic.
    pub fn form(&self, i: usize) -> &Form {
        &self.forms[i]
    }
    /// Every node's lowered arithmetic, in topological order.
    pub fn forms(&self) -> &[Form] {
        &self.forms
    }
    /// Whether every node reads the previous node's output (a plain sequence of layers).
    pub fn is_sequential(&self) -> bool {
        self.inputs.iter().enumerate().all(|(i, v)| v.as_slice() == [i])
    }
    /// `tensors()[0]` is the input, `tensors()[i + 1]` the output of node `i`.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
    pub fn input_info(&self) -> &TensorInfo {
        &self.tensors[0]
    }
    pub fn output_info(&self) -> &TensorInfo {
        self.tensors.last().expect("a network has at least its input tensor")
    }
    pub fn input_len(&self) -> usize {
        self.input_info().len()
    }
    pub fn output_len(&self) -> usize {
        self.output_info().len()
    }
    /// Whole-domain accumulator range of node `i` (Dense/Conv only).
    pub fn acc_range(&self, i: usize) -> Option<(i64, i64)> {
        self.acc_ranges.get(i).copied().flatten()
    }

    /// Number of integer parameters (weights and biases).
    pub fn parameter_count(&self) -> usize {
        self.layers
            .iter()
            .map(|l| match l {
                Layer::Dense(d) => d.weights.len() + d.bias.len(),
                Layer::Conv2d(c) => c.weights.len() + c.bias.len(),
                Layer::Lut(l) => l.table.len(),
                _ => 0,
            })
            .sum()
    }
}

impl Conv2d {
    pub fn window(&self) -> super::geometry::Window {
        super::geometry::Window {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
        }
    }
}

impl MaxPool2d {
    pub fn window(&self) -> super::geometry::Window {
        super::geometry::Window {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
        }
    }
}

impl AvgPool2d {
    pub fn window(&self) -> super::geometry::Window {
        super::geometry::Window { kernel: self.kernel, stride: self.stride, padding: self.padding, dilation: [1, 1] }
    }
}
