//! Human-readable and JSON output of each subcommand.

use quiver::net::{exec, Layer, Network, Rescale};
use quiver::spec::Spec;
use quiver::verify::{Report, Verdict};
use serde_json::json;
use std::path::Path;

fn rescale_kind(r: &Rescale) -> &'static str {
    match r {
        Rescale::Dyadic { .. } => "dyadic",
        Rescale::Float32 { .. } => "float32",
        Rescale::Q31 { .. } => "q31",
    }
}

fn layer_detail(l: &Layer) -> String {
    match l {
        Layer::Dense(d) => format!(
            "{}x{} {} weights, {} {} rescale{}{}",
            d.out_features,
            d.in_features,
            d.weight_dtype,
            if d.requant.rescale.len() == 1 { "per-tensor".to_string() } else { "per-channel".to_string() },
            rescale_kind(&d.requant.rescale[0]),
            if d.requant.relu { ", fused ReLU" } else { "" },
            if d.bias.is_empty() { "" } else { ", bias" },
        ),
        Layer::Conv2d(c) => format!(
            "{}->{} k{:?} s{:?} p{:?} d{:?} g{} {} weights, {} rescale{}",
            c.in_channels,
            c.out_channels,
            c.kernel,
            c.stride,
            c.padding,
            c.dilation,
            c.groups,
            c.weight_dtype,
            rescale_kind(&c.requant.rescale[0]),
            if c.requant.relu { ", fused ReLU" } else { "" }
        ),
        Layer::MaxPool2d(p) => format!("k{:?} s{:?} p{:?}", p.kernel, p.stride, p.padding),
        Layer::AvgPool2d(p) => format!("k{:?} s{:?} p{:?} {:?}", p.kernel, p.stride, p.padding, p.rounding),
        Layer::GlobalAvgPool(g) => format!("{} rescale", rescale_kind(&g.requant.rescale[0])),
        Layer::Clip(c) => format!("[{}, {}]", c.lo, c.hi),
        Layer::Lut(l) => format!("{} entries from {}", l.table.len(), l.offset),
        Layer::Concat(c) => format!("axis {}", c.axis),
        Layer::Add(a) => format!("{} kernel", a.kernel.name()),
        Layer::Transpose(t) => format!("perm {:?}", t.perm),
        Layer::Reshape(r) => format!("to {:?}", r.shape),
        Layer::Pad(p) => format!("pads {:?}", p.pads),
        Layer::Flatten | Layer::Relu => String::new(),
    }
}

fn params(l: &Layer) -> usize {
    match l {
        Layer::Dense(d) => d.weights.len() + d.bias.len(),
        Layer::Conv2d(c) => c.weights.len() + c.bias.len(),
        Layer::Lut(l) => l.table.len(),
        _ => 0,
    }
}

pub fn info(net: &Network, as_json: bool) {
    let t = net.tensors();
    if as_json {
        let layers: Vec<_> = net
            .layers()
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let first = net.node_inputs(i)[0];
                json!({
                    "index": i, "type": l.kind(), "detail": layer_detail(l),
                    "inputs": net.node_inputs(i),
                    "input_shape": t[first].shape, "output_shape": t[i + 1].shape,
                    "output_dtype": t[i + 1].quant.dtype.to_string(), "parameters": params(l),
                    "accumulator_range": net.acc_range(i),
                })
            })
            .collect();
        let v = json!({
            "name": net.name(), "input_shape": net.input().shape, "input_dtype": net.input().dtype.to_string(),
            "input_scale": net.input().scale, "input_zero_point": net.input().zero_point,
            "output_shape": net.output_info().shape, "output_dtype": net.output_info().quant.dtype.to_string(),
            "parameters": net.parameter_count(), "layers": layers,
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return;
    }
    println!("model {}", net.name());
    println!(
        "  input  {:?} {} (scale {}, zero point {})",
        net.input().shape,
        net.input().dtype,
        net.input().scale,
        net.input().zero_point
    );
    for (i, l) in net.layers().iter().enumerate() {
        let acc = net.acc_range(i).map(|(a, b)| format!(", acc in [{a}, {b}]")).unwrap_or_default();
        let ins = net.node_inputs(i);
        let from = if ins == [i] { String::new() } else { format!(" (reads {ins:?})") };
        println!(
            "  {i:>3} {:<11} {:?}{from} -> {:?} {}  {}{}{}",
            l.kind(),
            t[ins[0]].shape,
            t[i + 1].shape,
            t[i + 1].quant.dtype,
            layer_detail(l),
            if params(l) > 0 { format!(", {} params", params(l)) } else { String::new() },
            acc
        );
    }
    println!("  output {:?} {}", net.output_info().shape, net.output_info().quant.dtype);
    println!("  {} parameters", net.parameter_count());
}

pub fn run(net: &Network, x: &[i64], y: &[i64], as_json: bool) {
    let q = net.output_info().quant;
    let real: Vec<f64> = y.iter().map(|&v| q.dequantize(v)).collect();
    let class = exec::argmax(y);
    if as_json {
        let v = json!({"input": x, "output": y, "output_real": real, "class": class});
        println!("{}", serde_json::to_string(&v).expect("json"));
    } else {
        println!("output      {y:?}");
        println!("output_real {:?}", real.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>());
        println!("class       {class} (first index on ties)");
    }
}

fn verdict_line(v: &Verdict) -> String {
    match v {
        Verdict::Verified => "verified".into(),
        Verdict::Falsified { witness } => format!("falsified (witness replayed; outputs {:?})", witness.output()),
        Verdict::Unknown { reason } => format!("unknown: {reason}"),
    }
}

pub fn report(net: &Network, spec: &Spec, model: &Path, r: &Report, as_json: bool) {
    if as_json {
        let mut v = serde_json::to_value(r).expect("json");
        v["model"] = json!(model.display().to_string());
        v["network"] = json!(net.name());
        v["property"] = json!(spec.description);
        println!("{}", serde_json::to_string(&v).expect("json"));
        return;
    }
    println!("model    {} ({})", model.display(), net.name());
    println!("property {}", spec.description);
    println!(
        "query    {} inputs, 2^{:.1} points, {} unsafe disjuncts",
        r.stats.inputs, r.stats.box_points_log2, r.stats.disjuncts
    );
    for s in &r.stages {
        println!("  {:<20} {:>9.3} ms  {}", s.name, s.seconds * 1e3, s.outcome);
    }
    if let Some(u) = r.stats.unstable_neurons {
        println!("  unstable neurons: {u}");
    }
    if let (Some(order), false) = (&r.stats.backend_disjuncts, r.stats.backends.is_empty()) {
        // The backends number the disjuncts they were given, not the spec's.
        println!("  backend disjuncts 0, 1, … are the spec's {order:?}");
    }
    for b in &r.stats.backends {
        let s = &b.stats;
        println!(
            "  {}: {} — {} variables ({} binary), {} constraints, encode {:.3} s, solve {:.3} s{}",
            b.backend,
            b.verdict,
            s.variables,
            s.binaries,
            s.constraints,
            s.encode_seconds,
            s.solve_seconds,
            if s.spurious_candidates > 0 {
                format!(", {} spurious candidates refined", s.spurious_candidates)
            } else {
                String::new()
            }
        );
    }
    if let Some(d) = &r.disagreement {
        println!("{}", console::style(d).red());
    }
    println!("result   {}  ({:.3} ms)", verdict_line(&r.verdict), r.seconds * 1e3);
    if let Verdict::Falsified { witness } = &r.verdict {
        println!("witness input  {:?}", witness.input());
        println!("witness output {:?} (satisfies unsafe disjunct {})", witness.output(), witness.disjunct());
    }
}

pub fn demo(rows: &[(usize, usize, i64, Report)], as_json: bool) {
    if as_json {
        let v: Vec<_> = rows
            .iter()
            .map(|(k, label, e, r)| {
                let mut v = serde_json::to_value(r).expect("json");
                v["sample"] = json!(k);
                v["label"] = json!(label);
                v["eps"] = json!(e);
                v
            })
            .collect();
        println!("{}", serde_json::to_string(&v).expect("json"));
        return;
    }
    println!("{:>6} {:>5} {:>4}  {:<10} {:>10}  stages", "sample", "label", "eps", "verdict", "time");
    for (k, label, e, r) in rows {
        let stages: Vec<String> = r.stages.iter().map(|s| format!("{} {:.2} ms", s.name, s.seconds * 1e3)).collect();
        println!(
            "{k:>6} {label:>5} {e:>4}  {:<10} {:>7.2} ms  {}",
            r.verdict.name(),
            r.seconds * 1e3,
            stages.join(", ")
        );
    }
    let count = |n: &str| rows.iter().filter(|r| r.3.verdict.name() == n).count();
    println!(
        "{} queries: {} verified, {} falsified, {} unknown",
        rows.len(),
        count("verified"),
        count("falsified"),
        count("unknown")
    );
}
