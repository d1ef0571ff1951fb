//! ONNX import: the official ONNX operator conformance vectors, ONNX Runtime's own outputs on
//! ORT-quantized MNIST MLPs (QOperator and QDQ), and malformed inputs.

use quiver::import::onnx::graph::{Data, Tensor};
use quiver::import::onnx::proto::{ModelProto, TensorProto};
use quiver::import::onnx::{
    from_bytes, from_bytes_with, from_bytes_with_inputs, load, load_with, read_tensor, ImportOptions, OnnxError, Rule,
    U8S8,
};
use quiver::net::exec;
use quiver::net::requant::round_f32;
use quiver::net::{Layer, Rescale, Rounding};
use quiver::spec::real::quantize_input;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/external/<sub>`, or `None` (skip) only if QUIVER_ALLOW_MISSING_SHARED=1.
fn shared(sub: &str) -> Option<PathBuf> {
    let p = root().join("..").join("shared").join("external").join(sub);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("QUIVER_ALLOW_MISSING_SHARED").as_deref() == Ok("1") {
        eprintln!("skipping: {} is absent (QUIVER_ALLOW_MISSING_SHARED=1)", p.display());
        return None;
    }
    panic!(
        "{} is absent: the ONNX conformance vectors live in the shared checkout next to the repository \
         (set QUIVER_ALLOW_MISSING_SHARED=1 to skip these tests)",
        p.display()
    );
}

struct Case {
    name: String,
    model: Vec<u8>,
    inputs: Vec<Tensor>,
    outputs: Vec<Tensor>,
}

fn case(name: &str) -> Option<Case> {
    let dir = shared("onnx-backend-node-tests")?.join(name);
    let model = std::fs::read(dir.join("model.onnx")).unwrap_or_else(|e| panic!("{name}: {e}"));
    let read_all = |prefix: &str| -> Vec<Tensor> {
        (0..)
            .map(|k| dir.join("test_data_set_0").join(format!("{prefix}_{k}.pb")))
            .take_while(|p| p.exists())
            .map(|p| read_tensor(&std::fs::read(&p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
            .collect()
    };
    Some(Case { name: name.to_string(), model, inputs: read_all("input"), outputs: read_all("output") })
}

fn ints(t: &Tensor) -> Vec<i64> {
    match &t.data {
        Data::Int(v) => v.clone(),
        Data::Float(_) => panic!("tensor {} is float", t.name),
    }
}

fn floats(t: &Tensor) -> Vec<f32> {
    match &t.data {
        Data::Float(v) => v.clone(),
        Data::Int(_) => panic!("tensor {} is integer", t.name),
    }
}

/// Import with graph input 0 as the network input and every other input bound to its .pb tensor.
fn import_case(c: &Case) -> Result<quiver::net::Network, OnnxError> {
    let bound: Vec<Option<Tensor>> =
        c.inputs.iter().enumerate().map(|(k, t)| if k == 0 { None } else { Some(t.clone()) }).collect();
    from_bytes_with_inputs(&c.model, &c.name, &bound)
}

/// Run the imported single-node model on input 0 and return the integer output.
fn run_case(c: &Case) -> Vec<i64> {
    let net = import_case(c).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    exec::run(&net, &ints(&c.inputs[0])).unwrap_or_else(|e| panic!("{}: {e}", c.name))
}

#[test]
fn conformance_qlinearmatmul_uint8() {
    for name in ["test_qlinearmatmul_2D_uint8_float32", "test_qlinearmatmul_3D_uint8_float32"] {
        let Some(c) = case(name) else { return };
        assert_eq!(run_case(&c), ints(&c.outputs[0]), "{name}");
    }
}

/// The int8 QLinearMatMul vectors in this copy of the ONNX tests contain int8 wrap-around
/// instead of saturation (onnx/onnx #6169, #7835; fixed by PR #7868, after the copy was taken;
/// `../shared/external/SOURCES.md` §4). We assert the spec-correct (saturated) values, and that
/// they differ from the file exactly where the file wrapped around.
#[test]
fn conformance_qlinearmatmul_int8_spec_correct() {
    let cases: [(&str, Vec<i64>, Vec<usize>); 2] = [
        ("test_qlinearmatmul_2D_int8_float32", vec![41, -12, -9, 1, -75, -128], vec![5]),
        (
            "test_qlinearmatmul_3D_int8_float32",
            vec![-86, -128, -128, 115, 39, -121, -86, -128, -128, 115, 39, -121],
            vec![1, 2, 7, 8],
        ),
    ];
    for (name, spec_correct, wrapped_at) in cases {
        let Some(c) = case(name) else { return };
        let got = run_case(&c);
        assert_eq!(got, spec_correct, "{name}");
        let file = ints(&c.outputs[0]);
        let differ: Vec<usize> = (0..file.len()).filter(|&i| file[i] != got[i]).collect();
        assert_eq!(differ, wrapped_at, "{name}: the known-bad entries");
    }
}

#[test]
fn conformance_qlinearconv() {
    let Some(c) = case("test_qlinearconv") else { return };
    assert_eq!(run_case(&c), ints(&c.outputs[0]));
}

#[test]
fn conformance_matmulinteger_and_convinteger() {
    for name in ["test_matmulinteger", "test_convinteger_with_padding", "test_convinteger_without_padding"] {
        let Some(c) = case(name) else { return };
        let net = import_case(&c).unwrap();
        // the int32 output is represented as int16: its whole-domain range fits
        assert_eq!(net.output_info().quant.dtype.to_string(), "int16", "{name}");
        assert_eq!(run_case(&c), ints(&c.outputs[0]), "{name}");
    }
}

#[test]
fn conformance_quantizelinear_per_tensor() {
    for name in ["test_quantizelinear", "test_quantizelinear_int16", "test_quantizelinear_uint16"] {
        let Some(c) = case(name) else { return };
        let net = import_case(&c).unwrap();
        assert!(net.layers().is_empty(), "{name}");
        let x = floats(&c.inputs[0]);
        let q: Vec<i64> = x.iter().map(|&v| quantize_input(net.input(), v)).collect();
        assert_eq!(q, ints(&c.outputs[0]), "{name}");
        assert_eq!(exec::run(&net, &q).unwrap(), q);
    }
}

#[test]
fn conformance_quantizelinear_not_expressible() {
    // per-axis and blocked input quantization: the IR input has one scale and zero point
    for (name, needle) in [
        ("test_quantizelinear_axis", "per-axis"),
        ("test_quantizelinear_int4", "per-axis"),
        ("test_quantizelinear_uint4", "per-axis"),
        ("test_quantizelinear_blocked_asymmetric", "blocked"),
        ("test_quantizelinear_blocked_symmetric", "blocked"),
        ("test_dequantizelinear_axis", "per-axis"),
        ("test_dequantizelinear_blocked", "blocked"),
    ] {
        let Some(c) = case(name) else { return };
        let e = import_case(&c).expect_err(name).to_string();
        assert!(e.contains(needle), "{name}: {e}");
    }
}

/// int4/uint4 tensors packed two per `int32_data` entry (low nibble first).
#[test]
fn conformance_int4_decoding() {
    let Some(c) = case("test_quantizelinear_int4") else { return };
    assert_eq!(ints(&c.outputs[0]), vec![1, 2, 3, 5, -8, -6, 3, 4, 4, 5, 5, 7]);
    assert_eq!(ints(&c.inputs[2]), vec![1, 1, 1]);
    let Some(c) = case("test_dequantizelinear_int4") else { return };
    assert_eq!(ints(&c.inputs[0]), vec![0, 1, 7, -4, -8]);
}

#[test]
fn conformance_dequantizelinear_per_tensor() {
    for name in [
        "test_dequantizelinear",
        "test_dequantizelinear_int16",
        "test_dequantizelinear_uint16",
        "test_dequantizelinear_int4",
        "test_dequantizelinear_uint4",
    ] {
        let Some(c) = case(name) else { return };
        let net = import_case(&c).unwrap_or_else(|e| panic!("{name}: {e}"));
        let x = ints(&c.inputs[0]);
        let y = exec::run(&net, &x).unwrap();
        let q = net.output_info().quant;
        let real: Vec<f32> = y.iter().map(|&v| q.dequantize(v) as f32).collect();
        assert_eq!(real, floats(&c.outputs[0]), "{name}");
    }
}

/// ONNX Round (half to even) is the IR's float32 rounding.
#[test]
fn conformance_round_half_even() {
    let Some(c) = case("test_round") else { return };
    let got: Vec<f32> = floats(&c.inputs[0]).iter().map(|&x| round_f32(x, Rounding::HalfEven) as f32).collect();
    assert_eq!(got, floats(&c.outputs[0]));
}

#[test]
fn conformance_clip_int8() {
    for name in ["test_clip_default_int8_inbounds", "test_clip_default_int8_min", "test_clip_default_int8_max"] {
        let Some(c) = case(name) else { return };
        assert_eq!(run_case(&c), ints(&c.outputs[0]), "{name}");
    }
    // exhaustively: Clip(min, max) on every int8 value equals clamp
    let Some(c) = case("test_clip_default_int8_min") else { return };
    for (lo, hi) in [(-3i64, 5i64), (-128, -128), (100, 127), (0, 0)] {
        let mut m: ModelProto = prost::Message::decode(&c.model[..]).unwrap();
        let g = m.graph.as_mut().unwrap();
        g.node[0].input = vec!["x".into(), "min".into(), "max".into()];
        g.input[0].r#type.as_mut().unwrap().tensor_type.as_mut().unwrap().shape.as_mut().unwrap().dim.truncate(1);
        g.input[0].r#type.as_mut().unwrap().tensor_type.as_mut().unwrap().shape.as_mut().unwrap().dim[0].value =
            Some(quiver::import::onnx::proto::DimValue::DimValue(256));
        let scalar = |v: i64| TensorProto { data_type: 3, raw_data: vec![v as i8 as u8], ..Default::default() };
        g.initializer =
            vec![TensorProto { name: "min".into(), ..scalar(lo) }, TensorProto { name: "max".into(), ..scalar(hi) }];
        g.input.truncate(1);
        let bytes = prost::Message::encode_to_vec(&m);
        let net = from_bytes(&bytes, "clip").unwrap();
        let x: Vec<i64> = (-128..=127).collect();
        let want: Vec<i64> = x.iter().map(|v| (*v).clamp(lo, hi)).collect();
        assert_eq!(exec::run(&net, &x).unwrap(), want, "clip [{lo}, {hi}]");
        assert_eq!(net.output_info().quant, net.input().quant());
    }
}

#[test]
fn conformance_unsupported_ops_are_refused_clearly() {
    for (name, needle) in [
        ("test_dynamicquantizelinear", "dynamic quantization"),
        ("test_bitshift_left_uint8", "BitShift is not supported"),
    ] {
        let Some(c) = case(name) else { return };
        let e = import_case(&c).expect_err(name);
        assert!(matches!(e, OnnxError::Unsupported(_)), "{name}: {e:?}");
        assert!(e.to_string().contains(needle), "{name}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// ONNX Runtime vectors

struct Vectors {
    inputs: Vec<Vec<i64>>,
    outputs: Vec<Vec<i64>>,
    labels: Vec<usize>,
}

fn vectors_raw(stem: &str) -> Vectors {
    vectors_impl(stem, false)
}

fn vectors(stem: &str) -> Vectors {
    vectors_impl(stem, true)
}

fn vectors_impl(stem: &str, with_labels: bool) -> Vectors {
    let p = root().join("benchmarks/models").join(format!("{stem}.ort.vectors.json"));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let mat = |k: &str| -> Vec<Vec<i64>> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect())
            .collect()
    };
    let labels = if with_labels {
        v["labels"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
    } else {
        vec![]
    };
    Vectors { inputs: mat("inputs"), outputs: mat("outputs"), labels }
}

/// The ORT MNIST vectors were recorded on a CPU with AVX-512 VNNI, where MLAS accumulates
/// uint8 × int8 products exactly; their int8 weights reach ±127, so on AVX2 CPUs ONNX Runtime
/// computes other outputs (`default_import_refuses_cpu_dependent_u8s8_models`). They are checked
/// with the import for VNNI CPUs.
fn check_ort(stem: &str) -> quiver::net::Network {
    let vnni = ImportOptions { u8s8: U8S8::Vnni };
    let net = load_with(&root().join("benchmarks/models").join(format!("{stem}.onnx")), &vnni).unwrap();
    let v = vectors(stem);
    assert!(v.inputs.len() >= 200);
    let mut correct = 0;
    for (i, (x, y)) in v.inputs.iter().zip(&v.outputs).enumerate() {
        let got = exec::run(&net, x).unwrap();
        assert_eq!(&got, y, "{stem}: vector {i}");
        correct += usize::from(exec::argmax(&got) == v.labels[i]);
    }
    assert!(correct * 100 > v.inputs.len() * 85, "{stem}: accuracy {correct}/{}", v.inputs.len());
    assert_eq!(net.input().dtype.to_string(), "uint8");
    assert_eq!(net.input_len(), 784);
    for l in net.layers() {
        let (rescales, wt, out) = match l {
            Layer::Dense(d) => (&d.requant.rescale, d.weight_dtype, d.out_features),
            Layer::Conv2d(c) => (&c.requant.rescale, c.weight_dtype, c.out_channels),
            _ => continue,
        };
        assert_eq!(wt.to_string(), "int8");
        assert_eq!(rescales.len(), out, "{stem}: per-channel");
        assert!(rescales
            .iter()
            .all(|r| matches!(r, Rescale::Float32 { bias, rounding: Rounding::HalfEven, .. } if *bias == 0.0)));
    }
    net
}

/// The MLP as ORT's quantizer writes it: three Dense layers with int32 biases (Relu folded into
/// the uint8 output range).
fn check_mlp(stem: &str) -> quiver::net::Network {
    let net = check_ort(stem);
    assert_eq!(net.layers().len(), 3);
    assert!(net.layers().iter().all(|l| matches!(l, Layer::Dense(d) if !d.bias.is_empty())));
    net
}

/// The CNN: QLinearConv ×2 → MaxPool → Flatten → QGemm (QDQ: the same after folding).
fn check_cnn(stem: &str) -> quiver::net::Network {
    let net = check_ort(stem);
    let kinds: Vec<&str> = net.layers().iter().map(|l| l.kind()).collect();
    assert_eq!(kinds, ["conv2d", "conv2d", "max_pool2d", "flatten", "dense"], "{stem}");
    assert_eq!(net.input().shape, vec![1, 28, 28]);
    net
}

#[test]
fn ort_vectors_cnn_qoperator_and_qdq() {
    let a = check_cnn("mnist_cnn_ort_qop");
    let b = check_cnn("mnist_cnn_ort_qdq");
    assert_eq!(a.input(), b.input());
    assert_eq!(a.layers(), b.layers());
}

#[test]
fn ort_vectors_qoperator() {
    check_mlp("mnist_mlp_ort_qop");
}

#[test]
fn ort_vectors_qdq() {
    check_mlp("mnist_mlp_ort_qdq");
}

/// The QDQ model folds into exactly the network of the QOperator model (ORT quantized both from
/// the same float model and calibration data).
#[test]
fn ort_qdq_and_qoperator_agree() {
    let a = check_mlp("mnist_mlp_ort_qop");
    let b = check_mlp("mnist_mlp_ort_qdq");
    assert_eq!(a.input(), b.input());
    assert_eq!(a.layers(), b.layers());
}

/// PyTorch's TorchScript ONNX exporter on the PyTorch-quantized (FBGEMM) MLP writes a QDQ graph
/// (Reshape and Cast no-ops, bias zero points from ConstantOfShape → Cast); ONNX Runtime fuses it
/// like its own QDQ models, and the import matches ONNX Runtime bit for bit. (It does not match
/// PyTorch itself everywhere: the exporter rounds PyTorch's float bias to int32 — 8 of 2,000
/// outputs differ, see scripts/onnx/make_ort_vectors.py.)
#[test]
fn ort_vectors_torch_export() {
    check_mlp("mnist_mlp_torch_qdq");
}

/// ONNX Runtime's own quantizer with its defaults (uint8 activations, int8 weights up to ±127)
/// writes models whose outputs depend on the CPU: on x86-64 without VNNI (e.g. AVX2) MLAS sums
/// pairs of uint8 × int8 products in int16 with saturation (measured on such a CPU with ONNX
/// Runtime 1.32: 1,165 of the 2,000 recorded outputs of `mnist_mlp_ort_qdq` differ). The default
/// import refuses them, naming the first node whose weights can saturate.
#[test]
fn default_import_refuses_cpu_dependent_u8s8_models() {
    for (stem, node) in [
        ("mnist_mlp_ort_qop", "/fc1/Gemm_quant"),
        ("mnist_mlp_ort_qdq", "/fc1/Gemm"),
        ("mnist_cnn_ort_qop", "/conv1/Conv_quant"),
        ("mnist_cnn_ort_qdq", "/conv1/Conv"),
    ] {
        let e = load(&root().join("benchmarks/models").join(format!("{stem}.onnx"))).expect_err(stem);
        assert_eq!(e.rule(), Some(Rule::U8S8Saturation), "{stem}: {e}");
        assert_eq!(e.node(), Some(node), "{stem}: {e}");
        let s = e.to_string();
        assert!(s.contains("vpmaddubsw") && s.contains("reduce_range") && s.contains(stem), "{s}");
        assert!(s.contains("--ort-cpu vnni"), "the refusal names the CLI flag: {s}");
    }
}

/// A QLinearMatMul whose outputs depend on the order of MLAS's scale arithmetic
/// (scripts/onnx/make_scale_probe.py): ONNX Runtime's outputs match the import, and every other
/// order of computing the output scale changes some outputs, so this test can tell them apart.
#[test]
fn ort_scale_order_probe() {
    let stem = "qlinearmatmul_scale_probe";
    let net = load(&root().join("benchmarks/models").join(format!("{stem}.onnx"))).unwrap();
    let v = vectors_raw(stem);
    let run_all =
        |net: &quiver::net::Network| -> Vec<Vec<i64>> { v.inputs.iter().map(|x| exec::run(net, x).unwrap()).collect() };
    assert_eq!(v.inputs.len(), 256);
    assert_eq!(run_all(&net), v.outputs);
    let (a, b, y) = (0.019_436_605_f32, 0.006_751_154_f32, 0.020_439_064_f32);
    let Layer::Dense(d) = &net.layers()[0] else { panic!() };
    assert_eq!(
        d.requant.rescale,
        vec![Rescale::Float32 { m: f64::from((a * b) / y), bias: 0.0, rounding: Rounding::HalfEven }]
    );
    for m in [a * (b / y), (a / y) * b, (f64::from(a) * f64::from(b) / f64::from(y)) as f32] {
        let mut d2 = d.clone();
        d2.requant.rescale = vec![Rescale::Float32 { m: f64::from(m), bias: 0.0, rounding: Rounding::HalfEven }];
        let alt = quiver::net::Network::new("alt", net.input().clone(), vec![Layer::Dense(d2)]).unwrap();
        assert_ne!(run_all(&alt), v.outputs, "order giving m = {m} is not distinguished");
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed and unsupported models

fn qop_bytes() -> Vec<u8> {
    std::fs::read(root().join("benchmarks/models/mnist_mlp_ort_qop.onnx")).unwrap()
}

fn qop_model() -> ModelProto {
    prost::Message::decode(&qop_bytes()[..]).unwrap()
}

/// Import a mutated `mnist_mlp_ort_qop` for a VNNI CPU, so that its errors come from the mutation
/// (the default import already refuses its first layer: `default_import_refuses_cpu_dependent_u8s8_models`).
fn import_qop(m: &ModelProto) -> Result<quiver::net::Network, OnnxError> {
    from_bytes_with(&prost::Message::encode_to_vec(m), "t", &[], &ImportOptions { u8s8: U8S8::Vnni })
}

#[test]
fn truncated_protobuf_is_a_clear_error() {
    let b = qop_bytes();
    let e = from_bytes(&b[..b.len() / 2], "t").expect_err("truncated");
    assert!(matches!(e, OnnxError::Decode { .. }), "{e:?}");
    assert!(e.to_string().contains("not a valid ONNX protobuf"), "{e}");
    assert!(from_bytes(b"this is not a protobuf at all", "t").is_err());
    assert!(read_tensor(&[0x0a, 0xff]).is_err());
}

#[test]
fn missing_initializer_is_named() {
    let mut m = qop_model();
    let g = m.graph.as_mut().unwrap();
    g.initializer.retain(|t| t.name != "fc2.weight_quantized");
    let e = import_qop(&m).expect_err("missing");
    let s = e.to_string();
    assert!(s.contains("fc2.weight_quantized") && s.contains("neither an initializer"), "{s}");
}

#[test]
fn wrong_tensor_type_is_a_clear_error() {
    // a scale stored as INT32
    let mut m = qop_model();
    let g = m.graph.as_mut().unwrap();
    let t = g.initializer.iter_mut().find(|t| t.name == "input_scale").unwrap();
    t.data_type = 6;
    t.int32_data = vec![1];
    t.float_data.clear();
    t.raw_data.clear();
    let s = import_qop(&m).expect_err("int scale").to_string();
    assert!(s.contains("input_scale") && s.contains("expected FLOAT"), "{s}");
    // weights declared FLOAT whose raw bytes do not match
    let mut m = qop_model();
    let g = m.graph.as_mut().unwrap();
    let t = g.initializer.iter_mut().find(|t| t.name == "fc3.weight_quantized").unwrap();
    t.data_type = 1;
    let s = import_qop(&m).expect_err("float weights").to_string();
    assert!(s.contains("fc3.weight_quantized"), "{s}");
    // weights declared INT32 (not a quantized type) with matching raw length
    let mut m = qop_model();
    let g = m.graph.as_mut().unwrap();
    let t = g.initializer.iter_mut().find(|t| t.name == "fc3.weight_quantized").unwrap();
    t.data_type = 6;
    t.dims = vec![10, 4];
    let s = import_qop(&m).expect_err("int32 weights").to_string();
    assert!(s.contains("fc3.weight_quantized"), "{s}");
}

#[test]
fn dynamic_shape_is_refused() {
    let mut m = qop_model();
    let g = m.graph.as_mut().unwrap();
    let dims = &mut g.input[0].r#type.as_mut().unwrap().tensor_type.as_mut().unwrap().shape.as_mut().unwrap().dim;
    dims[0].value = Some(quiver::import::onnx::proto::DimValue::DimParam("batch".into()));
    let e = from_bytes(&prost::Message::encode_to_vec(&m), "t").expect_err("dynamic");
    assert!(matches!(e, OnnxError::Unsupported(_)) && e.to_string().contains("dynamic dimension"), "{e}");
}

#[test]
fn float_only_model_is_refused_with_one_error() {
    let Some(dir) = shared("vnncomp2021/benchmarks/mnistfc") else { return };
    let e = load(&dir.join("mnist-net_256x2.onnx")).expect_err("float model");
    let s = e.to_string();
    assert!(s.contains("mnist-net_256x2.onnx") && s.contains("float-only"), "{s}");
    let OnnxError::File { error, .. } = e else { panic!("{e:?}") };
    assert!(matches!(*error, OnnxError::Unsupported(_)));
}

#[test]
fn missing_file_is_a_clear_error() {
    let e = load(Path::new("/nonexistent/model.onnx")).expect_err("missing");
    assert!(e.to_string().contains("/nonexistent/model.onnx"), "{e}");
}

/// Byte-level mutations and truncations of a real model: errors, never a panic.
#[test]
fn mutated_models_never_panic() {
    let b = qop_bytes();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut errors = 0;
    for _ in 0..300 {
        let mut m = b.clone();
        for _ in 0..(1 + next() % 3) {
            let i = (next() % m.len() as u64) as usize;
            m[i] = next() as u8;
        }
        errors += usize::from(from_bytes(&m, "fuzz").is_err());
    }
    for len in (0..b.len()).step_by(331) {
        let _ = from_bytes(&b[..len], "fuzz");
    }
    assert!(errors > 0);
}

// ---------------------------------------------------------------------------------------------
// Regression models of the import-soundness families (issue 15): tests/data/onnx/*.onnx, written
// with ONNX Runtime's behaviour on them by scripts/onnx/make_regressions.py.

struct Regression {
    name: String,
    json: serde_json::Value,
}

impl Regression {
    fn load(name: &str) -> Regression {
        let p = root().join("tests/data/onnx").join(format!("{name}.json"));
        let json = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        Regression { name: name.to_string(), json }
    }

    fn path(&self) -> PathBuf {
        root().join("tests/data/onnx").join(format!("{}.onnx", self.name))
    }

    fn str(&self, k: &str) -> &str {
        self.json[k].as_str().unwrap_or_else(|| panic!("{}: no {k}", self.name))
    }

    fn rows(&self, k: &str) -> Vec<Vec<f64>> {
        let rows = self.json[k].as_array().unwrap();
        rows.iter().map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()).collect()
    }

    fn float_ops(&self) -> Vec<&str> {
        self.json["ort_float_ops"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
    }

    /// The network's outputs on the recorded inputs (integers; a float input is quantized as ONNX
    /// Runtime's QuantizeLinear does; a float output is dequantized in binary32).
    fn run(&self, net: &quiver::net::Network) -> Vec<Vec<f64>> {
        let float_in = self.json["inputs"][0][0].is_f64();
        self.rows("inputs")
            .iter()
            .map(|x| {
                let q: Vec<i64> = if float_in {
                    x.iter().map(|&v| quantize_input(net.input(), v as f32)).collect()
                } else {
                    x.iter().map(|&v| v as i64).collect()
                };
                let y = exec::run(net, &q).unwrap();
                let oq = net.output_info().quant;
                if self.json["outputs"][0][0].is_f64() {
                    y.iter().map(|&v| f64::from((v - oq.zero_point) as f32 * oq.scale as f32)).collect()
                } else {
                    y.iter().map(|&v| v as f64).collect()
                }
            })
            .collect()
    }
}

const REGRESSIONS: &[&str] = &[
    "qdq_gemm_alpha_bias",
    "qdq_gemm_alpha_nobias",
    "qdq_matmul_u8_to_s8",
    "qdq_matmul_s8_u8w",
    "qdq_gemm_u16",
    "qdq_flatten_gemm",
    "qdq_gemm_no_zero_point",
    "qdq_gemm_u8s8_saturating",
    "qdq_conv_s8",
    "qdq_conv_bias_scale",
    "qdq_conv_u8s8",
    "qdq_gemm_s8_pairs",
    "qdq_gemm_s8_int_output",
    "qdq_gemm_unused_float16",
    "qdq_gemm_float16_scales",
    "qdq_add_scalar",
    "qdq_add_vector_scale",
    "qdq_global_avg_pool",
    "qdq_relu_int4",
];

/// Every regression model: refused by name with its rule where ONNX Runtime runs the group in
/// float (its recorded optimized graph says so) or where its integer result depends on the CPU,
/// and bit-exact with ONNX Runtime's recorded outputs where it fuses.
#[test]
fn regression_models_are_exact_or_refused_by_name() {
    for name in REGRESSIONS {
        let r = Regression::load(name);
        let got = load(&r.path());
        match r.str("expect") {
            "exact" => {
                let net = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(r.float_ops().is_empty(), "{name}: ONNX Runtime ran {:?} in float", r.float_ops());
                assert_eq!(r.run(&net), r.rows("outputs"), "{name}");
            }
            "refuse" => {
                let e = got.expect_err(name);
                assert_eq!(e.rule().map(Rule::id), Some(r.str("rule")), "{name}: {e}");
                assert_eq!(e.node(), Some(r.str("node")), "{name}: {e}");
                let s = e.to_string();
                assert!(s.contains(&format!("`{}`", r.str("node"))) && s.contains(name), "{name}: {s}");
                // ONNX Runtime runs such a group in float — or, for `ort_drops_relu`, computes
                // no Relu at all (checked by `int4_relu_is_dropped_by_onnx_runtime`).
                let drops_relu = r.json["ort_drops_relu"].as_bool() == Some(true);
                if r.str("rule") != "u8s8-int16-saturation" && !drops_relu {
                    assert!(!r.float_ops().is_empty(), "{name}: ONNX Runtime fused it: {}", r.json["ort_ops"]);
                }
            }
            "unsupported" => {
                let e = got.expect_err(name);
                assert_eq!(e.node(), Some(r.str("node")), "{name}: {e}");
                let s = e.to_string();
                assert!(s.contains("FLOAT16") && s.contains("does not support") && !s.contains("malformed"), "{s}");
            }
            other => panic!("{name}: expect {other}"),
        }
    }
}

/// Issue 15, family 1: before the fix quiver folded this group into one integer Gemm with alpha
/// in the rescale and the int32 bias unscaled. That network differs from ONNX Runtime (which runs
/// the group in float) on the recorded inputs, so the refusal is not a formality.
#[test]
fn gemm_alpha_with_bias_as_quiver_used_to_fold_it_differs_from_onnx_runtime() {
    let r = Regression::load("qdq_gemm_alpha_bias");
    // The same group without a bias is imported; put the bias back into its Dense layer.
    let mut m: ModelProto = prost::Message::decode(&std::fs::read(r.path()).unwrap()[..]).unwrap();
    let g = m.graph.as_mut().unwrap();
    let bias: Vec<i64> = {
        let t = g.initializer.iter().find(|t| t.name == "b").unwrap();
        ints(&quiver::import::onnx::graph::decode_tensor(t).unwrap())
    };
    let gemm = g.node.iter_mut().find(|n| n.name == "g1").unwrap();
    gemm.input.truncate(2);
    let net = from_bytes(&prost::Message::encode_to_vec(&m), "old").unwrap();
    let mut layers = net.layers().to_vec();
    let Layer::Dense(d) = &mut layers[0] else { panic!() };
    d.bias = bias;
    let old = quiver::net::Network::new("old", net.input().clone(), layers).unwrap();
    let (got, ort) = (r.run(&old), r.rows("outputs"));
    let differ = got.iter().zip(&ort).filter(|(a, b)| a != b).count();
    assert!(differ > 0, "the old fold matches ONNX Runtime: {got:?}");
}

/// uint8 × int8 weights that can saturate int16 pairs: refused by default; imported for a VNNI
/// CPU, where the exact sum is right. If the recorded outputs come from a CPU without VNNI, they
/// show the saturation (and differ from the exact network).
#[test]
fn u8s8_saturation_depends_on_the_cpu() {
    let r = Regression::load("qdq_gemm_u8s8_saturating");
    assert_eq!(load(&r.path()).unwrap_err().rule(), Some(Rule::U8S8Saturation));
    let net = load_with(&r.path(), &ImportOptions { u8s8: U8S8::Vnni }).unwrap();
    let flags: Vec<&str> = r.json["cpu_flags"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let vnni = flags.iter().any(|f| f.contains("vnni") || f.contains("amx"));
    let same = r.run(&net) == r.rows("outputs");
    assert_eq!(same, vnni, "recorded on {flags:?}: exact network matches ONNX Runtime = {same}");
}

/// A real-sized model the default import accepts: the MNIST MLP quantized by ONNX Runtime with
/// 7-bit weights (reduce_range=True); ONNX Runtime's outputs reproduced bit for bit.
#[test]
fn reduce_range_mnist_mlp_is_imported_by_default_and_exact() {
    let r = Regression::load("mnist_mlp_ort_qdq_rr");
    let net = load(&r.path()).unwrap();
    let ins = r.rows("inputs");
    let outs = r.rows("outputs");
    assert_eq!(ins.len(), 200);
    for (i, (x, y)) in ins.iter().zip(&outs).enumerate() {
        let q: Vec<i64> = x.iter().map(|&v| v as i64).collect();
        let got: Vec<f64> = exec::run(&net, &q).unwrap().iter().map(|&v| v as f64).collect();
        assert_eq!(&got, y, "vector {i}");
    }
    assert!(r.json["argmax_accuracy"].as_f64().unwrap() > 0.85);
}

/// Each import error is printed once by the CLI (the error chain repeats no message), on one
/// line naming the file, the node and the rule's reason, with exit code 2.
#[test]
fn cli_prints_an_import_refusal_once() {
    let r = Regression::load("qdq_gemm_alpha_bias");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_quiver")).arg("info").arg(r.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(e.matches("alpha = 2").count(), 1, "{e}");
    assert!(e.starts_with("error: ") && e.contains("qdq_gemm_alpha_bias.onnx") && e.contains("`g1`"), "{e}");
    // an I/O error, too
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_quiver"))
        .args(["info", "/nonexistent/model.onnx"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(e.matches("No such file").count(), 1, "{e}");
}

/// The int8 VNN-COMP 2021 mnistfc 784-256-256-10 network (issue 16), quantized by ONNX Runtime's
/// `quantize_static` with `reduce_range=True` (scripts/onnx/make_mnistfc_int8.py): a float
/// Flatten before the first QuantizeLinear, Relu folded into the uint8 ranges, 7-bit weights (so
/// the default import accepts it: no int16 pair saturation on any CPU). 300 vectors of ONNX
/// Runtime's default session, bit for bit.
#[test]
fn ort_vectors_mnistfc_int8() {
    let net = check_mlp("mnistfc_256x2_int8rr_qdq");
    assert_eq!(vectors("mnistfc_256x2_int8rr_qdq").inputs.len(), 300);
    let widths: Vec<usize> =
        net.layers().iter().map(|l| if let Layer::Dense(d) = l { d.out_features } else { 0 }).collect();
    assert_eq!(widths, [256, 256, 10]);
}

/// Issue 18: ONNX Runtime 1.32 removes a Relu before a QuantizeLinear with a 4-bit zero point
/// whatever its value (ReluQuantFusion), so its outputs go below the real zero where a Relu would
/// not; quiver, which would apply the Relu, refuses the model by name instead.
#[test]
fn int4_relu_is_dropped_by_onnx_runtime() {
    let r = Regression::load("qdq_relu_int4");
    let ort = r.rows("outputs");
    assert!(ort.iter().flatten().any(|&v| v < 0.0), "ONNX Runtime applied the Relu: {ort:?}");
    let e = load(&r.path()).unwrap_err();
    assert_eq!(e.rule(), Some(Rule::Activation), "{e}");
    assert!(e.to_string().contains("ReluQuantFusion"), "{e}");
}

/// Issue 18: the QDQ Add that ONNX Runtime fuses into QLinearAdd and the QDQ GlobalAveragePool it
/// fuses into QLinearGlobalAveragePool import as the IR's `add` and `global_avg_pool` layers.
#[test]
fn qdq_add_and_global_avg_pool_import_as_graph_layers() {
    let kinds = |name: &str| -> Vec<&'static str> {
        let net = load(&Regression::load(name).path()).unwrap_or_else(|e| panic!("{name}: {e}"));
        net.layers().iter().map(|l| l.kind()).collect()
    };
    assert_eq!(kinds("qdq_add_scalar"), ["add"]);
    assert_eq!(kinds("qdq_global_avg_pool"), ["global_avg_pool"]);
}
