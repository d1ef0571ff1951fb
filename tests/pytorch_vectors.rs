//! The executor against PyTorch itself, bit for bit: the bundled models were quantized by
//! PyTorch (FBGEMM) and their test vectors are PyTorch's own integer outputs
//! (`scripts/pytorch/make_models.py`). Any mismatch is a semantics bug in the IR or executor.

use quiver::net::{exec, format};
use std::path::Path;

#[derive(serde::Deserialize)]
struct Vectors {
    model: String,
    source: String,
    inputs: Vec<Vec<i64>>,
    outputs: Vec<Vec<i64>>,
    labels: Vec<usize>,
}

fn check(name: &str) -> (usize, usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benchmarks/models");
    let vpath = dir.join(format!("{name}.vectors.json"));
    let v: Vectors = serde_json::from_str(&std::fs::read_to_string(&vpath).unwrap()).unwrap();
    assert!(v.source.contains("PyTorch"), "{}: vectors must come from PyTorch, not {}", vpath.display(), v.source);
    let net = format::load(&dir.join(&v.model)).unwrap();
    assert!(v.inputs.len() >= 200, "several hundred vectors expected");
    assert_eq!(v.inputs.len(), v.outputs.len());
    let mut mismatches = Vec::new();
    let mut correct = 0;
    for (k, (x, want)) in v.inputs.iter().zip(&v.outputs).enumerate() {
        let y = exec::run(&net, x).unwrap();
        if &y != want {
            mismatches.push(k);
        }
        correct += usize::from(v.labels.get(k) == Some(&exec::argmax(&y)));
    }
    assert!(
        mismatches.is_empty(),
        "{name}: {} of {} vectors differ from PyTorch (first: {:?})",
        mismatches.len(),
        v.inputs.len(),
        &mismatches[..mismatches.len().min(10)]
    );
    (v.inputs.len(), correct)
}

#[test]
fn mnist_mlp_matches_pytorch_bit_for_bit() {
    let (n, correct) = check("mnist_mlp");
    // A trained classifier, not noise: the labels mostly agree with the predictions.
    assert!(correct * 10 >= n * 8, "accuracy {correct}/{n}");
}

#[test]
fn mnist_cnn_matches_pytorch_bit_for_bit() {
    let (n, correct) = check("mnist_cnn");
    assert!(correct * 10 >= n * 8, "accuracy {correct}/{n}");
}
