//! Generators of random valid networks and small input boxes, shared by the differential and
//! soundness tests of every module (enumeration is the ground truth on these).
//!
//! Networks cover every layer kind, rescale kind and rounding mode, with 2..=8-bit types, and are
//! small enough that a box of a few hundred points can be enumerated exhaustively.

use crate::net::ir::{Clip, Concat, GlobalAvgPool, Lut, Pad, Reshape, Transpose};
use crate::net::{
    AvgPool2d, Conv2d, Dense, Input, Layer, MaxPool2d, Network, Node, QType, Quant, Requant, Rescale, Rounding,
};
use crate::spec::{Atom, InputBox, Spec};
use rand::seq::SliceRandom;
use rand::Rng;

/// Knobs of the generator.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Allow an image input with conv/pool layers (otherwise a vector input with dense layers).
    pub images: bool,
    /// Most dense layers after the feature part.
    pub max_dense: usize,
    /// Bit widths of activations and weights are drawn from `min_bits..=max_bits`.
    pub min_bits: u8,
    pub max_bits: u8,
    /// Probability of a graph (branches joined by concatenation, tables, clips, padding,
    /// transposes, global pooling) instead of a sequence of layers.
    pub graphs: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig { images: true, max_dense: 2, min_bits: 2, max_bits: 8, graphs: 0.3 }
    }
}

fn qtype(rng: &mut impl Rng, cfg: &GenConfig) -> QType {
    QType::new(rng.gen_range(cfg.min_bits..=cfg.max_bits), rng.gen_bool(0.5)).expect("bits in 2..=16")
}

fn quant(rng: &mut impl Rng, cfg: &GenConfig) -> Quant {
    let dtype = qtype(rng, cfg);
    let zero_point = if rng.gen_bool(0.5) { 0.max(dtype.min()) } else { rng.gen_range(dtype.min()..=dtype.max()) };
    Quant { dtype, scale: 0.25, zero_point }
}

fn rounding(rng: &mut impl Rng) -> Rounding {
    *Rounding::ALL.choose(rng).expect("non-empty")
}

/// A random binary32 value in `[lo, hi)` that is exactly an f32.
fn f32_in(rng: &mut impl Rng, lo: f32, hi: f32) -> f64 {
    f64::from(rng.gen_range(lo..hi))
}

fn rescale(rng: &mut impl Rng, fan_in: usize, wbits: u8, xbits: u8, obits: u8) -> Rescale {
    // Aim the rescale so that accumulators land around the output range (exercising both clamps).
    let acc_scale = (fan_in.max(1) as f64) * 2f64.powi(i32::from(wbits) + i32::from(xbits) - 2);
    let target = 2f64.powi(i32::from(obits)) / acc_scale.max(1.0);
    match rng.gen_range(0..3) {
        0 => {
            let shift = rng.gen_range(0..=12u32);
            let m = ((target * 2f64.powi(shift as i32) * rng.gen_range(0.5..2.0)).round() as i64).max(1);
            Rescale::Dyadic { m, shift, rounding: rounding(rng) }
        }
        1 => {
            let m = (target * rng.gen_range(0.5..2.0)) as f32;
            let bias = if rng.gen_bool(0.5) { 0.0 } else { f32_in(rng, -8.0, 8.0) };
            Rescale::Float32 { m: f64::from(m.max(1e-6)), bias, rounding: rounding(rng) }
        }
        _ => {
            // target = m0/2^31 · 2^shift with m0 in [2^30, 2^31).
            let e = target.log2().floor() as i32 + 1;
            let shift = e.clamp(-31, 0);
            let m0 = (target / 2f64.powi(shift) * 2f64.powi(31)).clamp(2f64.powi(30), 2f64.powi(31) - 1.0) as i32;
            Rescale::Q31 { m0, shift }
        }
    }
}

fn requant(rng: &mut impl Rng, channels: usize, fan_in: usize, wbits: u8, xbits: u8, obits: u8) -> Requant {
    let n = if rng.gen_bool(0.5) { 1 } else { channels };
    Requant { rescale: (0..n).map(|_| rescale(rng, fan_in, wbits, xbits, obits)).collect(), relu: rng.gen_bool(0.5) }
}

fn weights(rng: &mut impl Rng, n: usize, t: QType) -> Vec<i64> {
    (0..n).map(|_| rng.gen_range(t.min()..=t.max())).collect()
}

fn weight_zp(rng: &mut impl Rng, channels: usize, t: QType) -> Vec<i64> {
    let n = if rng.gen_bool(0.5) { 1 } else { channels };
    (0..n).map(|_| if rng.gen_bool(0.6) { 0.max(t.min()) } else { rng.gen_range(t.min()..=t.max()) }).collect()
}

fn bias(rng: &mut impl Rng, channels: usize) -> Vec<i64> {
    if rng.gen_bool(0.5) {
        Vec::new()
    } else {
        (0..channels).map(|_| rng.gen_range(-40..=40)).collect()
    }
}

fn dense(rng: &mut impl Rng, cfg: &GenConfig, inp: usize, out: usize, xbits: u8) -> Layer {
    let wt = qtype(rng, cfg);
    let output = quant(rng, cfg);
    Layer::Dense(Dense {
        in_features: inp,
        out_features: out,
        weights: weights(rng, inp * out, wt),
        weight_dtype: wt,
        weight_zero_point: weight_zp(rng, out, wt),
        bias: bias(rng, out),
        requant: requant(rng, out, inp, wt.bits(), xbits, output.dtype.bits()),
        output,
    })
}

fn conv(rng: &mut impl Rng, cfg: &GenConfig, cin: usize, xbits: u8) -> Layer {
    let depthwise = cin > 1 && rng.gen_bool(0.3);
    let groups = if depthwise { cin } else { 1 };
    let cout = if depthwise { cin } else { rng.gen_range(1..=2) };
    let kernel = [rng.gen_range(1..=2), rng.gen_range(1..=2)];
    let wt = qtype(rng, cfg);
    let output = quant(rng, cfg);
    let per_out = cin / groups * kernel[0] * kernel[1];
    let p = rng.gen_range(0..=1);
    Layer::Conv2d(Conv2d {
        in_channels: cin,
        out_channels: cout,
        kernel,
        stride: [rng.gen_range(1..=2), 1],
        padding: [p, rng.gen_range(0..=1), p, 0],
        dilation: [1, rng.gen_range(1..=2)],
        groups,
        weights: weights(rng, cout * per_out, wt),
        weight_dtype: wt,
        weight_zero_point: weight_zp(rng, cout, wt),
        bias: bias(rng, cout),
        requant: requant(rng, cout, per_out, wt.bits(), xbits, output.dtype.bits()),
        output,
    })
}

/// Try to build one random network; `None` if the draw violates an invariant (the caller retries).
fn try_network(rng: &mut impl Rng, cfg: &GenConfig) -> Option<Network> {
    let q = quant(rng, cfg);
    let image = cfg.images && rng.gen_bool(0.5);
    let shape = if image {
        vec![rng.gen_range(1..=2), rng.gen_range(2..=3), rng.gen_range(2..=3)]
    } else {
        vec![rng.gen_range(1..=4)]
    };
    let input = Input {
        shape: shape.clone(),
        dtype: q.dtype,
        scale: q.scale,
        zero_point: q.zero_point,
        quantize: Default::default(),
    };
    let mut layers = Vec::new();
    let mut net = Network::new("random", input.clone(), vec![]).ok()?;
    let push = |layers: &mut Vec<Layer>, l: Layer| -> Option<Network> {
        layers.push(l);
        Network::new("random", input.clone(), layers.clone()).ok()
    };
    if image {
        let cur = net.output_info().clone();
        push(&mut layers, conv(rng, cfg, cur.shape[0], cur.quant.dtype.bits()))?;
        match rng.gen_range(0..4) {
            0 => {
                let k = [rng.gen_range(1..=2), rng.gen_range(1..=2)];
                push(
                    &mut layers,
                    Layer::MaxPool2d(MaxPool2d { kernel: k, stride: [1, 1], padding: [0, 0, 0, 0], dilation: [1, 1] }),
                )?;
            }
            1 => {
                let k = [rng.gen_range(1..=2), rng.gen_range(1..=2)];
                push(
                    &mut layers,
                    Layer::AvgPool2d(AvgPool2d {
                        kernel: k,
                        stride: [1, 1],
                        padding: [0, rng.gen_range(0..=1), 0, 0],
                        count_include_pad: rng.gen_bool(0.5),
                        rounding: rounding(rng),
                    }),
                )?;
            }
            2 => {
                push(&mut layers, Layer::Relu)?;
            }
            _ => {}
        }
        net = push(&mut layers, Layer::Flatten)?;
    }
    let dense_layers = rng.gen_range(1..=cfg.max_dense.max(1));
    for k in 0..dense_layers {
        let cur = net.output_info().clone();
        let out = if k + 1 == dense_layers { rng.gen_range(2..=3) } else { rng.gen_range(1..=3) };
        net = push(&mut layers, dense(rng, cfg, cur.len(), out, cur.quant.dtype.bits()))?;
        if k + 1 < dense_layers && rng.gen_bool(0.2) {
            net = push(&mut layers, Layer::Relu)?;
        }
    }
    Some(net)
}

/// With a new output quantization: a Dense/Conv layer whose output is `q`.
fn with_output(mut l: Layer, q: Quant) -> Layer {
    match &mut l {
        Layer::Dense(d) => d.output = q,
        Layer::Conv2d(c) => c.output = q,
        _ => {}
    }
    l
}

/// A random table from type `from` to type `to` (monotone or not).
fn lut(rng: &mut impl Rng, from: QType, to: Quant) -> Layer {
    let n = (from.max() - from.min() + 1) as usize;
    let monotone = rng.gen_bool(0.5);
    let mut table: Vec<i64> = (0..n).map(|_| rng.gen_range(to.dtype.min()..=to.dtype.max())).collect();
    if monotone {
        table.sort_unstable();
    }
    Layer::Lut(Lut { table, offset: from.min(), output: to })
}

/// Try to build one random graph: two branches from a shared tensor, joined by concatenation,
/// with the operators only graphs have on the way; `None` if a draw is invalid.
fn try_graph(rng: &mut impl Rng, cfg: &GenConfig) -> Option<Network> {
    let q = quant(rng, cfg);
    let image = cfg.images && rng.gen_bool(0.6);
    let shape = if image { vec![rng.gen_range(1..=2), rng.gen_range(2..=3), 2] } else { vec![rng.gen_range(1..=3)] };
    let input = Input { shape, dtype: q.dtype, scale: q.scale, zero_point: q.zero_point, quantize: Default::default() };
    let mut nodes: Vec<Node> = Vec::new();
    // Add a node reading `inputs`; returns its tensor index.
    let add = |nodes: &mut Vec<Node>, op: Layer, inputs: Vec<usize>| -> Option<usize> {
        nodes.push(Node { name: format!("g{}", nodes.len()), op, inputs });
        Network::graph_prefix(input.clone(), nodes.clone()).ok().map(|_| nodes.len())
    };
    // The info of tensor t (rebuilding is cheap at these sizes).
    let info = |nodes: &Vec<Node>, t: usize| -> Option<crate::net::TensorInfo> {
        let net = Network::graph_prefix(input.clone(), nodes.clone()).ok()?;
        net.tensors().get(t).cloned()
    };
    let x = info(&nodes, 0)?;
    let joined = if image {
        let a = add(&mut nodes, conv(rng, cfg, x.shape[0], x.quant.dtype.bits()), vec![0])?;
        let qa = info(&nodes, a)?.quant;
        let b = match rng.gen_range(0..3) {
            0 => add(&mut nodes, with_output(conv(rng, cfg, x.shape[0], x.quant.dtype.bits()), qa), vec![0])?,
            1 => {
                let l = add(&mut nodes, lut(rng, x.quant.dtype, qa), vec![0])?;
                // Same spatial size as `a` (convolutions may shrink it): pad or pool to fit.
                let (sa, sl) = (info(&nodes, a)?.shape, info(&nodes, l)?.shape);
                if sa[1..] == sl[1..] {
                    l
                } else {
                    let dh = sa[1].checked_sub(sl[1]);
                    let dw = sa[2].checked_sub(sl[2]);
                    match (dh, dw) {
                        (Some(dh), Some(dw)) => {
                            add(&mut nodes, Layer::Pad(Pad { pads: vec![0, 0, 0, 0, dh, dw] }), vec![l])?
                        }
                        _ => return None,
                    }
                }
            }
            _ => add(&mut nodes, with_output(conv(rng, cfg, x.shape[0], x.quant.dtype.bits()), qa), vec![0])?,
        };
        let (sa, sb) = (info(&nodes, a)?.shape, info(&nodes, b)?.shape);
        let axis = if sa[1..] == sb[1..] {
            0
        } else if sa[0] == sb[0] && sa[2] == sb[2] {
            1
        } else {
            return None;
        };
        let c = add(&mut nodes, Layer::Concat(Concat { axis }), vec![a, b])?;
        let c = match rng.gen_range(0..4) {
            0 => add(&mut nodes, Layer::Transpose(Transpose { perm: vec![0, 2, 1] }), vec![c])?,
            1 => {
                let t = info(&nodes, c)?.quant.dtype;
                let lo = rng.gen_range(t.min()..=t.max());
                add(&mut nodes, Layer::Clip(Clip { lo, hi: rng.gen_range(lo..=t.max()) }), vec![c])?
            }
            2 => add(&mut nodes, Layer::Pad(Pad { pads: vec![0, 1, 0, 0, 0, 1] }), vec![c])?,
            _ => c,
        };
        let ci = info(&nodes, c)?;
        if rng.gen_bool(0.5) {
            let out = quant(rng, cfg);
            let plane = ci.shape[1] * ci.shape[2];
            let rq = requant(rng, ci.shape[0], plane, 1, ci.quant.dtype.bits(), out.dtype.bits());
            add(&mut nodes, Layer::GlobalAvgPool(GlobalAvgPool { requant: rq, output: out }), vec![c])?
        } else {
            add(&mut nodes, Layer::Reshape(Reshape { shape: vec![ci.len()] }), vec![c])?
        }
    } else {
        let n1 = rng.gen_range(1..=2);
        let h1 = add(&mut nodes, dense(rng, cfg, x.len(), n1, x.quant.dtype.bits()), vec![0])?;
        let q1 = info(&nodes, h1)?.quant;
        let h2 = if rng.gen_bool(0.5) {
            let n2 = rng.gen_range(1..=2);
            add(&mut nodes, with_output(dense(rng, cfg, x.len(), n2, x.quant.dtype.bits()), q1), vec![0])?
        } else {
            add(&mut nodes, lut(rng, x.quant.dtype, q1), vec![0])?
        };
        add(&mut nodes, Layer::Concat(Concat { axis: 0 }), vec![h1, h2])?
    };
    let j = info(&nodes, joined)?;
    let h = if rng.gen_bool(0.4) {
        let q2 = quant(rng, cfg);
        add(&mut nodes, lut(rng, j.quant.dtype, q2), vec![joined])?
    } else {
        joined
    };
    let hi = info(&nodes, h)?;
    let n_out = rng.gen_range(2..=3);
    add(&mut nodes, dense(rng, cfg, hi.len(), n_out, hi.quant.dtype.bits()), vec![h])?;
    Network::graph("graph", input, nodes).ok()
}

/// A random valid network (a graph with probability [`GenConfig::graphs`]).
pub fn network(rng: &mut impl Rng, cfg: &GenConfig) -> Network {
    let graph = rng.gen_bool(cfg.graphs.clamp(0.0, 1.0));
    // Most draws succeed; a generator that never does is a bug here, not a reason to hang.
    for _ in 0..100_000 {
        let n = if graph { try_graph(rng, cfg) } else { try_network(rng, cfg) };
        if let Some(n) = n {
            return n;
        }
    }
    panic!("testgen: no valid {} in 100000 draws for {cfg:?}", if graph { "graph" } else { "network" });
}

/// A random box inside the input type with at most about `max_points` integer points.
pub fn input_box(rng: &mut impl Rng, net: &Network, max_points: u64) -> InputBox {
    let t = net.input_info().quant.dtype;
    let n = net.input_len();
    let per = ((max_points.max(1) as f64).powf(1.0 / n as f64).floor() as i64).max(1);
    let (mut lo, mut hi) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let w = rng.gen_range(1..=per).min(t.max() - t.min() + 1);
        let l = rng.gen_range(t.min()..=t.max() - w + 1);
        lo.push(l);
        hi.push(l + w - 1);
    }
    InputBox { lo, hi }
}

/// A random spec on `net` over `input`: either robustness-style "another output beats output c"
/// or random linear atoms, as a DNF of 1..=3 disjuncts.
pub fn spec(rng: &mut impl Rng, net: &Network, input: InputBox) -> Spec {
    let m = net.output_len();
    let o = net.output_info().quant.dtype;
    let disjuncts = rng.gen_range(1..=3);
    let unsafe_dnf = (0..disjuncts)
        .map(|_| {
            (0..rng.gen_range(1..=2))
                .map(|_| {
                    if m >= 2 && rng.gen_bool(0.6) {
                        let a = rng.gen_range(0..m);
                        let b = (a + rng.gen_range(1..m)) % m;
                        Atom { terms: vec![(a, 1), (b, -1)], rhs: rng.gen_range(-1..=0) }
                    } else {
                        let j = rng.gen_range(0..m);
                        let c = if rng.gen_bool(0.5) { 1 } else { -1 };
                        Atom { terms: vec![(j, c)], rhs: c * rng.gen_range(o.min()..=o.max()) }
                    }
                })
                .collect()
        })
        .collect();
    Spec { input, unsafe_dnf, description: "random".into() }
}

/// Every integer point of a box, in lexicographic order (callers keep boxes small).
pub fn points(b: &InputBox) -> impl Iterator<Item = Vec<i64>> + '_ {
    let mut cur = Some(b.lo.clone());
    std::iter::from_fn(move || {
        let out = cur.clone()?;
        let mut next = out.clone();
        let mut i = next.len();
        loop {
            if i == 0 {
                cur = None;
                break;
            }
            i -= 1;
            if next[i] < b.hi[i] {
                next[i] += 1;
                cur = Some(next);
                break;
            }
            next[i] = b.lo[i];
        }
        Some(out)
    })
}

/// Ground truth by enumeration: the first input of the box that violates the spec, if any.
pub fn enumerate_violation(net: &Network, spec: &Spec) -> Option<Vec<i64>> {
    points(&spec.input).find(|x| crate::net::exec::run(net, x).map(|y| spec.is_unsafe(&y)).unwrap_or(false))
}

/// A random network shaped like the AAAI'21 benchmark (784-64-32-10 at 6 bits with Dyadic half-up rescales), scaled so that the
/// accumulators of typical inputs spread over the output range instead of saturating.
pub fn aaai_like_network(seed: u64) -> Network {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let int6 = QType::new(6, true).expect("6 bits");
    let uint6 = QType::new(6, false).expect("6 bits");
    let input = Input {
        shape: vec![784],
        dtype: QType::UINT8,
        scale: 1.0 / 255.0,
        zero_point: 0,
        quantize: Default::default(),
    };
    let sizes = [784, 64, 32, 10];
    // RMS of each layer's input values (uint8 images ≈ 100, uint6 activations ≈ 20).
    let rms = [100.0, 20.0, 20.0];
    let mut layers = Vec::new();
    for l in 0..3 {
        let (n_in, n_out) = (sizes[l], sizes[l + 1]);
        let last = l == 2;
        let weights: Vec<i64> = (0..n_in * n_out).map(|_| rng.gen_range(-32..=31)).collect();
        let acc_std = (n_in as f64).sqrt() * 18.5 * rms[l];
        let target = if last { 12.0 } else { 24.0 } / acc_std;
        let shift = 20;
        let m = ((target * f64::from(1u32 << shift)).round() as i64).max(1);
        let out_t = if last { int6 } else { uint6 };
        layers.push(Layer::Dense(Dense {
            in_features: n_in,
            out_features: n_out,
            weights,
            weight_dtype: int6,
            weight_zero_point: vec![0],
            bias: (0..n_out).map(|_| rng.gen_range(-200..=200)).collect(),
            requant: Requant { rescale: vec![Rescale::Dyadic { m, shift, rounding: Rounding::HalfUp }], relu: !last },
            output: Quant { dtype: out_t, scale: 1.0 / 16.0, zero_point: 0 },
        }));
    }
    Network::new("aaai_784_64_32_10", input, layers).expect("valid network")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn generates_valid_networks_of_every_kind() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..300 {
            let net = network(&mut rng, &GenConfig::default());
            for l in net.layers() {
                kinds.insert(l.kind());
            }
            let b = input_box(&mut rng, &net, 200);
            assert!(b.volume() <= 200 * 4, "box too large: {}", b.volume());
            let s = spec(&mut rng, &net, b);
            s.check(&net).unwrap();
        }
        for k in [
            "dense",
            "conv2d",
            "max_pool2d",
            "avg_pool2d",
            "flatten",
            "relu",
            "concat",
            "lut",
            "clip",
            "pad",
            "transpose",
            "reshape",
            "global_avg_pool",
        ] {
            assert!(kinds.contains(k), "generator never produced {k}");
        }
    }

    #[test]
    fn points_enumerates_the_box() {
        let b = InputBox { lo: vec![0, -1], hi: vec![2, 0] };
        let p: Vec<_> = points(&b).collect();
        assert_eq!(p.len(), 6);
        assert_eq!(p[0], vec![0, -1]);
        assert_eq!(p[5], vec![2, 0]);
    }
}
