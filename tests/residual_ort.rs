//! Residual and plain MNIST CNNs quantized by ONNX Runtime (`scripts/onnx/make_residual.py`):
//! quiver's import reproduces ONNX Runtime's integer outputs bit for bit on the 400 recorded
//! vectors of each model, with the default import (7-bit weights: no CPU-dependent kernel).
//!
//! The residual models contain the skip connection as com.microsoft QLinearAdd (QOperator) or as
//! a DequantizeLinear, DequantizeLinear → Add → QuantizeLinear group ONNX Runtime fuses into one
//! (QDQ), and a QLinearGlobalAveragePool / fused QDQ GlobalAveragePool; the plain ones are the
//! same network without the skip connection.

use quiver::import::onnx::load;
use quiver::net::{exec, Layer, Network, Rescale};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Vectors {
    inputs: Vec<Vec<i64>>,
    outputs: Vec<Vec<i64>>,
    labels: Vec<usize>,
}

fn vectors(stem: &str) -> Vectors {
    let p = root().join("benchmarks/models").join(format!("{stem}.ort.vectors.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let v: serde_json::Value = serde_json::from_str(&text).expect("vectors JSON");
    let mat = |k: &str| -> Vec<Vec<i64>> {
        v[k].as_array()
            .expect("array")
            .iter()
            .map(|r| r.as_array().expect("row").iter().map(|x| x.as_i64().expect("integer")).collect())
            .collect()
    };
    let labels = v["labels"].as_array().expect("labels").iter().map(|x| x.as_u64().expect("label") as usize).collect();
    Vectors { inputs: mat("inputs"), outputs: mat("outputs"), labels }
}

/// Import with the default options and compare every output value; returns the network and the
/// number of correctly classified vectors.
fn check(stem: &str) -> (Network, usize) {
    let net = load(&root().join("benchmarks/models").join(format!("{stem}.onnx"))).unwrap_or_else(|e| panic!("{e}"));
    let v = vectors(stem);
    assert_eq!(v.inputs.len(), 400, "{stem}");
    let (mut mismatching, mut correct) = (0, 0);
    for (i, (x, y)) in v.inputs.iter().zip(&v.outputs).enumerate() {
        let got = exec::run(&net, x).expect("exec");
        assert_eq!(got.len(), y.len());
        mismatching += got.iter().zip(y).filter(|(a, b)| a != b).count();
        correct += usize::from(exec::argmax(&got) == v.labels[i]);
    }
    assert_eq!(mismatching, 0, "{stem}: {mismatching} output values differ from ONNX Runtime's");
    assert!(correct * 100 >= 400 * 85, "{stem}: accuracy {correct}/400");
    (net, correct)
}

fn kinds(net: &Network) -> Vec<&'static str> {
    net.layers().iter().map(|l| l.kind()).collect()
}

fn global_pool_is_mlas(net: &Network) {
    let g = net.layers().iter().find_map(|l| match l {
        Layer::GlobalAvgPool(g) => Some(g),
        _ => None,
    });
    let g = g.expect("a global average pool");
    assert!(matches!(g.requant.rescale[..], [Rescale::Float32 { bias, .. }] if bias == 0.0));
}

#[test]
fn residual_cnn_qoperator_and_qdq_match_onnx_runtime() {
    let (a, _) = check("mnist_res_ort_qop");
    let (b, _) = check("mnist_res_ort_qdq");
    for net in [&a, &b] {
        let k = kinds(net);
        assert_eq!(k.iter().filter(|&&s| s == "add").count(), 1, "{k:?}");
        assert_eq!(k.iter().filter(|&&s| s == "conv2d").count(), 3, "{k:?}");
        global_pool_is_mlas(net);
    }
    // The QDQ graph fuses into exactly the QOperator network (one float model, one calibration).
    assert_eq!(a.input(), b.input());
    assert_eq!(a.layers(), b.layers());
}

#[test]
fn plain_cnn_qoperator_and_qdq_match_onnx_runtime() {
    let (a, _) = check("mnist_plain_ort_qop");
    let (b, _) = check("mnist_plain_ort_qdq");
    for net in [&a, &b] {
        assert!(!kinds(net).contains(&"add"));
        global_pool_is_mlas(net);
    }
    assert_eq!(a.layers(), b.layers());
}
