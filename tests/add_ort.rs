//! The Add operator against ONNX Runtime's QLinearAdd, bit for bit on every pair of 8-bit
//! operands, for the cases `scripts/onnx/probe_qlinear_add.py` recorded from the real runtime
//! (ONNX Runtime 1.32, MLAS AVX2/FMA kernel) in `tests/data/ort_qlinear_add.json`.

use quiver::net::dtype::QType;
use quiver::net::ir::{Add, AddKernel, Lut};
use quiver::net::{exec, Input, Layer, Network, Node, Quant};
use serde_json::Value as J;

/// A network computing `add(a, b)` for every `(a, b)` at once: the uint16 input `x = (a − min)·256
/// + (b − min)` is split by two lookup tables into the operands, each with its own quantization.
fn all_pairs(t: QType, qa: Quant, qb: Quant, qc: Quant) -> Network {
    let input = Input {
        shape: vec![65536],
        dtype: QType::new(16, false).unwrap(),
        scale: 1.0,
        zero_point: 0,
        quantize: Default::default(),
    };
    let hi_byte: Vec<i64> = (0..65536).map(|v| (v >> 8) + t.min()).collect();
    let lo_byte: Vec<i64> = (0..65536).map(|v| (v & 255) + t.min()).collect();
    let nodes = vec![
        Node { name: "a".into(), op: Layer::Lut(Lut { table: hi_byte, offset: 0, output: qa }), inputs: vec![0] },
        Node { name: "b".into(), op: Layer::Lut(Lut { table: lo_byte, offset: 0, output: qb }), inputs: vec![0] },
        Node {
            name: "c".into(),
            op: Layer::Add(Add { kernel: AddKernel::MlasAvx2, a_scale: qa.scale, b_scale: qb.scale, output: qc }),
            inputs: vec![1, 2],
        },
    ];
    Network::graph("qladd", input, nodes).expect("a valid graph")
}

fn quant(t: QType, j: &J) -> Quant {
    Quant { dtype: t, scale: j["scale"].as_f64().unwrap(), zero_point: j["zero_point"].as_i64().unwrap() }
}

fn fnv1a(y: &[i64]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for &v in y {
        h ^= v as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

#[test]
fn add_matches_onnx_runtime_on_every_operand_pair() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ort_qlinear_add.json"))
        .expect("tests/data/ort_qlinear_add.json (scripts/onnx/probe_qlinear_add.py)");
    let data: J = serde_json::from_str(&text).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let x: Vec<i64> = (0..65536).collect();
    let mut off_real = 0;
    for (i, c) in cases.iter().enumerate() {
        let t: QType = c["dtype"].as_str().unwrap().parse().unwrap();
        let net = all_pairs(t, quant(t, &c["a"]), quant(t, &c["b"]), quant(t, &c["c"]));
        let y = exec::run(&net, &x).unwrap();
        for p in c["off_real"].as_array().unwrap() {
            let (a, b, want) = (p[0].as_i64().unwrap(), p[1].as_i64().unwrap(), p[2].as_i64().unwrap());
            let k = ((a - t.min()) * 256 + (b - t.min())) as usize;
            assert_eq!(y[k], want, "case {i}: add({a}, {b})");
            off_real += 1;
        }
        assert_eq!(fnv1a(&y), c["fnv1a"].as_str().unwrap(), "case {i}: outputs differ from ONNX Runtime's");
    }
    // The data must contain pairs where the runtime's binary32 arithmetic differs from the
    // real-number result, or it would not discriminate.
    assert!(off_real > 0);
}

fn q(t: QType, scale: f64, zero_point: i64) -> Quant {
    Quant { dtype: t, scale, zero_point }
}

#[test]
fn add_refuses_what_it_cannot_reproduce() {
    let t = QType::UINT8;
    let input = Input { shape: vec![4], dtype: t, scale: 0.5, zero_point: 3, quantize: Default::default() };
    let lut =
        |out: Quant| Layer::Lut(Lut { table: (0..256).map(|v| v + out.dtype.min()).collect(), offset: 0, output: out });
    let build = |qb: Quant, qc: Quant, b_shape_4: bool| {
        let mut nodes = vec![Node { name: "b".into(), op: lut(qb), inputs: vec![0] }];
        if !b_shape_4 {
            nodes.push(Node {
                name: "r".into(),
                op: Layer::Reshape(quiver::net::ir::Reshape { shape: vec![2, 2] }),
                inputs: vec![1],
            });
        }
        let b = nodes.len();
        nodes.push(Node {
            name: "c".into(),
            op: Layer::Add(Add { kernel: AddKernel::MlasAvx2, a_scale: 0.5, b_scale: qb.scale, output: qc }),
            inputs: vec![0, b],
        });
        Network::graph("g", input.clone(), nodes).map(|_| ()).map_err(|e| e.to_string())
    };
    assert!(build(q(t, 0.25, 0), q(t, 0.5, 128), true).is_ok());
    let e = build(q(t, 0.25, 0), q(t, 0.5, 128), false).unwrap_err();
    assert!(e.contains("broadcasting is not supported"), "{e}");
    let e = build(q(t, 0.1, 0), q(t, 0.5, 128), true).unwrap_err();
    assert!(e.contains("not a positive binary32 value"), "{e}");
    let e = build(q(QType::INT8, 0.25, 0), q(t, 0.5, 128), true).unwrap_err();
    assert!(e.contains("one 8-bit type"), "{e}");
}
