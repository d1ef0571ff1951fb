//! The bundled default model and inputs, embedded in the binary so that `quiver demo` works on a
//! fresh machine with nothing downloaded. They are real: a PyTorch/FBGEMM post-training-quantized
//! MNIST MLP and test vectors produced by PyTorch itself (`scripts/pytorch/make_models.py`).

/// The bundled model's JSON text.
pub const MODEL_JSON: &str = include_str!("../benchmarks/models/mnist_mlp.json");
/// PyTorch's test vectors for it: inputs, outputs, labels.
pub const VECTORS_JSON: &str = include_str!("../benchmarks/models/mnist_mlp.vectors.json");
/// The name of the bundled test vectors as a data set (`--dataset @bundled`, suite rows).
pub const DATASET: &str = "@bundled";
/// The name shown for the bundled model.
pub const MODEL_PATH: &str = "<bundled>/mnist_mlp.json";

/// PyTorch-produced test vectors.
#[derive(Debug, serde::Deserialize)]
pub struct Vectors {
    pub model: String,
    pub source: String,
    pub inputs: Vec<Vec<i64>>,
    pub outputs: Vec<Vec<i64>>,
    #[serde(default)]
    pub labels: Vec<usize>,
}

/// The bundled network.
pub fn model() -> crate::net::Network {
    crate::net::format::from_json(MODEL_JSON, std::path::Path::new(MODEL_PATH)).expect("the bundled model is valid")
}

/// The bundled vectors.
pub fn vectors() -> Vectors {
    serde_json::from_str(VECTORS_JSON).expect("the bundled vectors are valid")
}
