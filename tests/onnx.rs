//! ONNX import: the official ONNX operator conformance vectors, ONNX Runtime's own outputs on
//! ORT-quantized MNIST MLPs (QOperator and QDQ), and malformed inputs.

use quiver::import::onnx::graph::{Data, Tensor};
use quiver::import::onnx::proto::{ModelProto, TensorProto};
use quiver::import::onnx::{from_bytes, from_bytes_with_inputs, load, read_tensor, OnnxError};
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

fn check_ort(stem: &str) -> quiver::net::Network {
    let net = load(&root().join("benchmarks/models").join(format!("{stem}.onnx"))).unwrap();
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
    let e = from_bytes(&prost::Message::encode_to_vec(&m), "t").expect_err("missing");
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
    let s = from_bytes(&prost::Message::encode_to_vec(&m), "t").expect_err("int scale").to_string();
    assert!(s.contains("input_scale") && s.contains("expected FLOAT"), "{s}");
    // weights declared FLOAT whose raw bytes do not match
    let mut m = qop_model();
    let g = m.graph.as_mut().unwrap();
    let t = g.initializer.iter_mut().find(|t| t.name == "fc3.weight_quantized").unwrap();
    t.data_type = 1;
    let s = from_bytes(&prost::Message::encode_to_vec(&m), "t").expect_err("float weights").to_string();
    assert!(s.contains("fc3.weight_quantized"), "{s}");
    // weights declared INT32 (not a quantized type) with matching raw length
    let mut m = qop_model();
    let g = m.graph.as_mut().unwrap();
    let t = g.initializer.iter_mut().find(|t| t.name == "fc3.weight_quantized").unwrap();
    t.data_type = 6;
    t.dims = vec![10, 4];
    let s = from_bytes(&prost::Message::encode_to_vec(&m), "t").expect_err("int32 weights").to_string();
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
    let OnnxError::File { source, .. } = e else { panic!("{e:?}") };
    assert!(matches!(*source, OnnxError::Unsupported(_)));
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
