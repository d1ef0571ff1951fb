//! ONNX Runtime's rules as the importer reproduces them: which QDQ groups the CPU execution
//! provider fuses into integer kernels, which type combinations its integer kernels exist for,
//! and where an integer kernel's result depends on the CPU.
//!
//! The runtime promised is ONNX Runtime 1.32.0 (the version `scripts/requirements-onnx.txt` pins)
//! on x86-64, CPU execution provider, in a default inference session (graph optimization level
//! `ORT_ENABLE_ALL`, no session configuration entries), batch 1. Every rule cites the ONNX Runtime
//! source it comes from (paths relative to the `microsoft/onnxruntime` repository) and is checked
//! against the real runtime by the conformance suite (`scripts/onnx/conformance.py`,
//! `tests/onnx_conformance.rs`): a model the importer accepts must give ONNX Runtime's outputs bit
//! for bit, and ONNX Runtime's optimized graph must not compute it in float.
//!
//! What ONNX Runtime does, in the order it does it (`core/optimizer/graph_transformer_utils.cc`,
//! `GenerateTransformers`):
//! * Level 1: `ReluQuantFusion` / `ClipQuantFusion` drop a Relu/Clip whose range the following
//!   QuantizeLinear already clamps to; `QDQPropagationTransformer` moves Q/DQ pairs through
//!   Reshape/Transpose/Squeeze/Unsqueeze/Slice/MaxPool (not Flatten); `ConstantFolding` keeps
//!   DequantizeLinear nodes.
//! * Level 2: on x86, `QDQIsInt8Allowed()` is false
//!   (`selectors_actions/qdq_selector_action_transformer.h`), so `QDQS8ToU8Transformer`
//!   (`qdq_transformer/qdq_s8_to_u8.cc`) first rewrites int8 QuantizeLinear → DequantizeLinear
//!   pairs to uint8 (`s8_to_u8_pairs`), then `QDQSelectorActionTransformer`
//!   (`selectors_actions/qdq_selector_action_transformer.cc`, selectors in `qdq_selectors.cc`)
//!   replaces DQ → Conv/MatMul/Gemm [→ redundant Relu/Clip] → Q groups by QLinearConv,
//!   QLinearMatMul and com.microsoft QGemm, DQ, DQ → Add → Q by com.microsoft QLinearAdd (8-bit,
//!   scalar parameters) and DQ → GlobalAveragePool → Q by com.microsoft QLinearGlobalAveragePool
//!   (8-bit) (`qdq_actions.cc`). A group that does not match stays
//!   DequantizeLinear → float op → QuantizeLinear, which quiver cannot reproduce (float summation
//!   order): the importer refuses it, naming the node and the rule.
//! * Level 3: `NhwcTransformer` turns QLinearConv/MaxPool into their NHWC forms (the same integer
//!   arithmetic).
//!
//! The fused kernels all end in MLAS's requantization `clamp(nearbyint(fl(float(acc) · scale)) +
//! zp)` ([`super::graph::mlas_rescales`]). Their integer accumulation is exact in int32 except for
//! uint8 × int8 on x86 CPUs without VNNI (`u8s8_saturation`, [`U8S8`]).

use super::proto::NodeProto;
use super::{op_key, Value};
use crate::net::QType;
use std::collections::{HashMap, HashSet};

/// A pattern the importer refuses because ONNX Runtime executes it in a way the IR cannot
/// reproduce bit for bit. [`Rule::id`] is a stable name (reports group refusals by it);
/// [`Rule::source`] says where in ONNX Runtime the behaviour comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// QDQ Gemm with a bias and `alpha ≠ 1`: not fused, float Gemm.
    GemmAlphaWithBias,
    /// QDQ Gemm with a bias and `beta ≠ 1`: not fused, float Gemm.
    GemmBetaWithBias,
    /// A QDQ group whose activation/weight/output types ONNX Runtime does not fuse on x86
    /// (e.g. int8 activations of Conv/MatMul, output type ≠ input type, int8 × uint8).
    TypeCombination,
    /// A QDQ compute group with 16-bit activations or weights: not fused, float op.
    SixteenBit,
    /// A QDQ compute group with 4-bit (or 2-bit) activations or weights: not fused, float op.
    SubByte,
    /// A QDQ bias that is not DequantizeLinear of an INT32 constant: not fused, float op.
    Bias,
    /// DQ → op → Q structure ONNX Runtime does not group (input not straight from a
    /// DequantizeLinear, output not consumed by exactly one QuantizeLinear, …): float op.
    Structure,
    /// A Relu/Clip between the op and its QuantizeLinear that the quantization does not make
    /// redundant: not fused, float op (and float activation).
    Activation,
    /// uint8 × int8 products summed pairwise in int16 with saturation on x86 CPUs without VNNI.
    U8S8Saturation,
    /// The int32 accumulator of the integer kernel could overflow.
    Accumulator,
    /// ONNX Runtime has no CPU kernel for this operator/type combination (or rejects it at run
    /// time).
    NoKernel,
}

impl Rule {
    /// A stable identifier.
    pub fn id(self) -> &'static str {
        match self {
            Rule::GemmAlphaWithBias => "qdq-gemm-alpha-with-bias",
            Rule::GemmBetaWithBias => "qdq-gemm-beta-with-bias",
            Rule::TypeCombination => "qdq-type-combination",
            Rule::SixteenBit => "qdq-16-bit",
            Rule::SubByte => "qdq-4-bit",
            Rule::Bias => "qdq-bias",
            Rule::Structure => "qdq-structure",
            Rule::Activation => "qdq-activation",
            Rule::U8S8Saturation => "u8s8-int16-saturation",
            Rule::Accumulator => "int32-accumulator",
            Rule::NoKernel => "no-ort-kernel",
        }
    }

    /// Where ONNX Runtime's behaviour comes from.
    pub fn source(self) -> &'static str {
        match self {
            Rule::GemmAlphaWithBias | Rule::GemmBetaWithBias => {
                "qdq_selectors.cc GemmNodeGroupSelector::Check (alpha and beta must be 1 when a bias is present; \
                 microsoft/onnxruntime#28131)"
            }
            Rule::TypeCombination => {
                "qdq_selectors.cc ConvNodeGroupSelector/MatMulNodeGroupSelector/GemmNodeGroupSelector::Check with \
                 QDQIsInt8Allowed() = false on x86 (qdq_selector_action_transformer.h), after qdq_s8_to_u8.cc"
            }
            Rule::SixteenBit => {
                "qdq_selector_action_transformer.cc ConvQDQRules/MatMulQDQRules/GemmQDQRules (allow_16bit = false)"
            }
            Rule::SubByte => "qdq_selectors.cc (allow_4bit = false for Conv/MatMul/Gemm)",
            Rule::Bias => {
                "qdq_selectors.cc NodeGroupSelector::CheckQDQNodes (every input a DQ) and the INT32 bias check"
            }
            Rule::Structure => {
                "qdq_selectors.cc NodeGroupSelector::GetQDQSelection/CheckQDQNodes (DQ inputs, exactly one Q \
                 consumer); qdq_propagation.cc CanNodePropagate"
            }
            Rule::Activation => "qdq_util.cc IsClipMadeRedundantByQ; relu_quantizelinear.cc; clip_quantizelinear.cc",
            Rule::U8S8Saturation => {
                "MLAS QGEMM/ConvSym u8s8 kernels for AVX2 and AVX-512BW (vpmaddubsw) (mlas/lib/qgemm_kernel_avx2.cpp); \
                 avx2_weight_s8_to_u8.cc runs only with session.x64quantprecision = 1"
            }
            Rule::Accumulator => "MLAS integer kernels accumulate in int32",
            Rule::NoKernel => {
                "CPU kernel registrations (cpu_execution_provider.cc, contrib_ops/cpu/cpu_contrib_kernels.cc); \
                 ConvAttributes::InferPadsAndOutputShape (conv_attributes.h)"
            }
        }
    }
}

/// The default-domain opsets the rules are checked against (the conformance suite generates
/// 13–25; ONNX Runtime 1.32 loads up to 25). Older QuantizeLinear versions (10) behave like 13
/// for the per-tensor 8-bit case and are accepted.
pub const OPSETS: std::ops::RangeInclusive<i64> = 10..=25;

/// The integer kernel CPU the importer assumes for uint8 × int8 products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum U8S8 {
    /// Any x86-64 CPU (the default). On CPUs with AVX2 or AVX-512BW but without VNNI, MLAS's
    /// uint8 × int8 kernels multiply with `vpmaddubsw`, which adds two adjacent products in int16
    /// with saturation; with VNNI/AMX the sum is exact. Such a kernel is imported only when no
    /// pair of products can saturate, so that every x86-64 CPU computes the same result.
    #[default]
    AnyX86,
    /// The model runs on a CPU with AVX-512 VNNI, AVX-VNNI or AMX: uint8 × int8 products are
    /// accumulated exactly in int32 (the CPU that recorded `benchmarks/models/*.ort.vectors.json`).
    Vnni,
}

/// Options of the ONNX import.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The CPU the uint8 × int8 integer kernels run on.
    pub u8s8: U8S8,
}

/// Names of the int8 tensors (QuantizeLinear outputs) that ONNX Runtime converts to uint8 on x86:
/// `QDQS8ToU8Transformer` (qdq_s8_to_u8.cc, `QDQ_S8_to_U8`) rewrites a QuantizeLinear whose only
/// consumer is a DequantizeLinear (`CheckOutputEdges(graph, q, 1)`: one edge, not a graph
/// output) when both have an explicit zero point that is a constant INT8 tensor of one element,
/// and the two zero points are equal; the pair becomes uint8 with zero point + 128 (exactly the
/// same values, shifted). The fusion rules then see uint8 where the model says int8.
pub(crate) fn s8_to_u8_pairs(
    nodes: &[NodeProto],
    values: &HashMap<String, Value>,
    consumers: &HashMap<String, Vec<usize>>,
    graph_outputs: &HashSet<String>,
) -> HashSet<String> {
    let int8_zp = |n: &NodeProto| -> Option<i64> {
        let name = n.input.get(2).filter(|s| !s.is_empty())?;
        match values.get(name) {
            Some(Value::Const(t)) if t.data_type == super::proto::data_type::INT8 && t.len() == 1 => {
                t.ints().ok().map(|v| v[0])
            }
            _ => None,
        }
    };
    let mut out = HashSet::new();
    for q in nodes.iter().filter(|n| op_key(n) == "QuantizeLinear") {
        let Some(qo) = q.output.first() else { continue };
        if graph_outputs.contains(qo) || q.input.len() != 3 {
            continue;
        }
        let dq = match consumers.get(qo).map(Vec::as_slice) {
            Some([c]) => &nodes[*c],
            _ => continue,
        };
        if op_key(dq) != "DequantizeLinear" || dq.input.len() != 3 || dq.input[0] != *qo {
            continue;
        }
        match (int8_zp(q), int8_zp(dq)) {
            (Some(a), Some(b)) if a == b => {
                out.insert(qo.clone());
            }
            _ => {}
        }
    }
    out
}

/// `IsClipMadeRedundantByQ` (qdq_util.cc) for a Clip with constant bounds before a
/// QuantizeLinear of scale `scale`, zero point `zp`, type `t`: `rint(bound / scale) + zp`, in
/// float then int32, must cover the whole type range. `None` where the x86 conversion of an
/// out-of-range value would decide the answer (quiver then refuses).
pub(crate) fn clip_redundant(min: f32, max: f32, scale: f32, zp: i64, t: QType) -> Option<bool> {
    let q = |b: f32| -> Option<i64> {
        let r = f64::from(b / scale).round_ties_even();
        (r.is_finite() && r >= f64::from(i32::MIN) && r <= f64::from(i32::MAX)).then_some(r as i64 + zp)
    };
    Some(q(min)? <= t.min() && q(max)? >= t.max())
}

/// The uint8 × int8 pair-saturation check: can `a_0·w_0 + a_1·w_1` leave int16 for some uint8
/// activations `a` (0..=255: MLAS multiplies the raw bytes and corrects for the zero points
/// afterwards) and two int8 weights of one output channel? The pairs MLAS forms depend on its
/// packing (adjacent elements along K, im2col order for convolutions), so this takes the two
/// largest positive and the two most negative weights of the channel: if they cannot saturate,
/// no pair can. Returns the first offending channel and its two weights.
pub(crate) fn u8s8_saturation(channels: impl Iterator<Item = Vec<i64>>) -> Option<(usize, i64, i64)> {
    for (j, ws) in channels.enumerate() {
        let (mut p1, mut p2, mut n1, mut n2) = (0i64, 0i64, 0i64, 0i64);
        for &w in &ws {
            if w > p1 {
                p2 = p1;
                p1 = w;
            } else if w > p2 {
                p2 = w;
            }
            if w < n1 {
                n2 = n1;
                n1 = w;
            } else if w < n2 {
                n2 = w;
            }
        }
        if 255 * (p1 + p2) > i64::from(i16::MAX) {
            return Some((j, p1, p2));
        }
        if 255 * (n1 + n2) < i64::from(i16::MIN) {
            return Some((j, n1, n2));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_redundancy_follows_rint_of_the_bounds() {
        let u8t = QType::UINT8;
        // [0, 255·s] with zp 0 covers uint8 exactly
        assert_eq!(clip_redundant(0.0, 25.5, 0.1, 0, u8t), Some(true));
        assert_eq!(clip_redundant(0.0, 6.0, 0.1, 0, u8t), Some(false));
        assert_eq!(clip_redundant(0.06, 1e3, 0.1, 0, u8t), Some(false)); // rint(0.6) = 1 > 0
        assert_eq!(clip_redundant(0.05, 1e3, 0.1, 0, u8t), Some(true)); // rint(0.5) = 0 (ties to even)
        assert_eq!(clip_redundant(0.0, 1e9, 0.1, 0, u8t), None); // 1e10 is beyond int32: x86 would give INT_MIN
        assert_eq!(clip_redundant(f32::MIN, f32::MAX, 0.1, 0, u8t), None);
    }

    #[test]
    fn u8s8_pairs() {
        assert_eq!(u8s8_saturation([vec![64, 64, -64, -64]].into_iter()), None);
        assert_eq!(u8s8_saturation([vec![64, 65]].into_iter()), Some((0, 65, 64)));
        assert_eq!(u8s8_saturation([vec![1, 2], vec![-128, 0, -1]].into_iter()), Some((1, -128, -1)));
        assert_eq!(u8s8_saturation([vec![127]].into_iter()), None);
        assert_eq!(u8s8_saturation([vec![-128, -128]].into_iter()), Some((0, -128, -128)));
        assert_eq!(u8s8_saturation([vec![-64, -64]].into_iter()), None);
    }
}
