//! The JSON model format: the documented example loads, round-trips, and every kind of bad input
//! gives an error that names the file and the place — never a panic.

use proptest::prelude::*;
use quiver::net::format::{from_json, to_json, ModelError};
use quiver::net::{exec, Layer};
use std::path::Path;

fn doc_example() -> String {
    let doc = include_str!("../docs/model-format.md");
    let start = doc.find("```json\n").expect("docs/model-format.md has a json example") + 8;
    let end = start + doc[start..].find("```").expect("closed code block");
    doc[start..end].to_string()
}

/// The version-2 (graph) example: the first json block after the "Version 2" heading.
fn doc_graph_example() -> String {
    let doc = include_str!("../docs/model-format.md");
    let v2 = doc.find("## Version 2").expect("docs/model-format.md has a version 2 section");
    let start = v2 + doc[v2..].find("```json\n").expect("a json example in the version 2 section") + 8;
    let end = start + doc[start..].find("```").expect("closed code block");
    doc[start..end].to_string()
}

#[test]
fn documented_graph_example_loads_and_runs() {
    let net = from_json(&doc_graph_example(), Path::new("residual.json")).unwrap();
    assert_eq!(net.name(), "residual");
    assert!(!net.is_sequential());
    let kinds: Vec<&str> = net.layers().iter().map(|l| l.kind()).collect();
    assert_eq!(kinds, ["conv2d", "add", "concat", "global_avg_pool", "dense"]);
    assert_eq!(net.node_inputs(1), &[1, 0]);
    let t = exec::trace(&net, &[20, 3, 9, 255]).unwrap();
    assert_eq!(t[1], vec![22, 10, 11, 255]);
    assert_eq!(t[2], vec![27, 11, 13, 255]);
    assert_eq!(t[3], vec![27, 11, 13, 255, 22, 10, 11, 255]);
    assert_eq!(t[4], vec![66, 64]);
    assert_eq!(t[5], vec![2, -2]);
    let again = from_json(&to_json(&net), Path::new("again.json")).unwrap();
    assert_eq!(again, net);
}

fn err(text: &str) -> String {
    match from_json(text, Path::new("m.json")) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn documented_example_loads_and_runs() {
    let net = from_json(&doc_example(), Path::new("example.json")).unwrap();
    assert_eq!(net.name(), "tiny");
    assert_eq!(net.layers().len(), 4);
    assert_eq!(net.tensors()[1].shape, vec![2, 4, 4]);
    assert_eq!(net.tensors()[2].shape, vec![2, 2, 2]);
    assert_eq!(net.output_info().shape, vec![3]);
    let y = exec::run(&net, &[7; 16]).unwrap();
    assert_eq!(y.len(), 3);
    // Round trip through the writer.
    let again = from_json(&to_json(&net), Path::new("again.json")).unwrap();
    assert_eq!(again, net);
}

/// A hand-computed execution of the example's first layer at one position.
#[test]
fn documented_example_values() {
    let net = from_json(&doc_example(), Path::new("example.json")).unwrap();
    let x: Vec<i64> = (0..16).collect();
    let t = exec::trace(&net, &x).unwrap();
    // Channel 0 at (1, 1): kernel [[1,0,-1],[2,0,-2],[1,0,-1]] over rows 0..3, cols 0..3 of
    // x = 4·row + col: Σ = (0-2) + 2(4-6) + (8-10) = -8; relu(round(3·-8/32)) = relu(-1) = 0.
    assert_eq!(t[1][5], 0);
    // Channel 1 at (1, 1): 1+4+6+9 - 4·5 = 0, + bias 10 = 10 → round(30/32) = 1 (half_even).
    assert_eq!(t[1][16 + 5], 1);
    // Max pool of channel 1, top-left 2x2 window.
    assert_eq!(t[2][4], *[t[1][16], t[1][17], t[1][20], t[1][21]].iter().max().unwrap());
    assert!(matches!(net.layers()[3], Layer::Dense(_)));
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let e = err("{\"format\": \"quiver-qnn\",\n \"version\": 1,\n \"input\": [");
    assert!(e.starts_with("m.json:3:"), "{e}");
    let e = err("");
    assert!(e.starts_with("m.json:1:"), "{e}");
}

#[test]
fn wrong_format_or_version() {
    let text = doc_example();
    assert!(err(&text.replace("quiver-qnn", "onnx")).contains("not a quiver model"));
    assert!(err(&text.replace("\"version\": 1", "\"version\": 7")).contains("version 7 is not supported"));
}

#[test]
fn unknown_fields_are_rejected() {
    let text = doc_example();
    let e = err(&text.replace("\"groups\": 1", "\"groups\": 1, \"grups\": 2"));
    assert!(e.contains("unknown field `grups`"), "{e}");
    let e = err(&text.replace("\"relu\": true", "\"relu\": true, \"fused\": 1"));
    assert!(e.contains("unknown field `fused`"), "{e}");
}

#[test]
fn validation_errors_name_the_layer() {
    let text = doc_example();
    let cases = [
        (
            text.replace("[1, 0, -1, 2, 0, -2", "[1, 0, -1, 2, 0, -200"),
            "layer 0 (conv2d): weight [5] = -200 outside int8",
        ),
        (
            text.replace("\"zero_point\": -3", "\"zero_point\": -300"),
            "layer 3 (dense): output zero point -300 outside int8",
        ),
        (text.replace("\"m\": 3,", "\"m\": 0,"), "layer 0 (conv2d): rescale 0: dyadic multiplier m must be > 0"),
        (
            text.replace("\"m\": 0.125", "\"m\": -0.125"),
            "layer 3 (dense): rescale 0: float32 multiplier must be finite and > 0",
        ),
        (text.replace("\"m\": 0.125", "\"m\": 0.1"), "must be exact binary32 values"),
        (
            text.replace("\"in_features\": 8", "\"in_features\": 9"),
            "layer 3 (dense): input shape [8] does not match in_features = 9",
        ),
        (
            text.replace("\"in_channels\": 1", "\"in_channels\": 3"),
            "layer 0 (conv2d): input has 1 channels; in_channels = 3",
        ),
        (
            text.replace("\"weight_zero_point\": [0, 0, 1]", "\"weight_zero_point\": [0, 0]"),
            "weight_zero_point has 2 entries",
        ),
        (text.replace("\"shape\": [1, 4, 4]", "\"shape\": [1, 0, 4]"), "input: shape [1, 0, 4]"),
        (
            text.replace(
                "\"dtype\": \"uint8\", \"scale\": 0.00392156862745098",
                "\"dtype\": \"uint99\", \"scale\": 0.0039",
            ),
            "unknown integer type `uint99`",
        ),
        (text.replace("\"m0\": 1073741824", "\"m0\": -5"), "q31 multiplier m0 must be > 0"),
        (
            text.replace("\"kernel\": [2, 2], \"stride\": [2, 2]", "\"kernel\": [9, 9], \"stride\": [2, 2]"),
            "layer 1 (max_pool2d): window",
        ),
    ];
    for (t, want) in cases {
        let e = err(&t);
        assert!(e.starts_with("m.json:"), "{e}");
        assert!(e.contains(want), "expected `{want}` in `{e}`");
    }
}

#[test]
fn accumulator_overflow_is_rejected() {
    // 2^20 inputs is too many elements for a quick test; instead, a huge dyadic bias.
    let text = doc_example().replace("\"bias\": [0, 10]", "\"bias\": [0, 9223372036854775807]");
    let e = err(&text);
    assert!(e.contains("can overflow i64"), "{e}");
    // Float32 rescales need int32 accumulators (the runtimes accumulate in int32).
    let text =
        doc_example().replace("\"bias\": [],\n     \"requant\"", "\"bias\": [3000000000, 0, 0],\n     \"requant\"");
    let e = err(&text);
    assert!(e.contains("exceeds int32"), "{e}");
}

#[test]
fn io_error_names_the_file() {
    let e = quiver::net::format::load(Path::new("/nonexistent/model.json")).unwrap_err();
    assert!(matches!(e, ModelError::Io { .. }));
    assert!(e.to_string().starts_with("/nonexistent/model.json: cannot read"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Random mutations of a valid document: an error or a valid network, never a panic.
    #[test]
    fn mutated_documents_never_panic(pos in 0usize..4000, len in 0usize..8, bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
        let text = doc_example();
        let mut b = text.into_bytes();
        let p = pos.min(b.len());
        let end = (p + len).min(b.len());
        b.splice(p..end, bytes);
        let s = String::from_utf8_lossy(&b);
        if let Ok(net) = from_json(&s, Path::new("fuzz.json")) {
            let x = vec![net.input_info().quant.dtype.min(); net.input_len()];
            let _ = exec::run(&net, &x).unwrap();
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = from_json(&String::from_utf8_lossy(&bytes), Path::new("fuzz.json"));
    }
}
