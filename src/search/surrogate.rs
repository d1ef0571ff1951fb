//! A differentiable real-valued surrogate of a quantized network, evaluated on batches.
//!
//! Built from the lowered forms ([`crate::net::form`]): every affine node becomes one linear map
//! followed by a rescale and a clamp, `y_j = clamp(round?(s_j · (Σ_i c_ji (x_i − zx) + b_j)) +
//! zo_j, lo_j, hi_j)`, where `s_j` is [`Rescale::real_factor`] (`1/n` for average pooling) and
//! `b_j` folds in the integer bias and the binary32 bias of `Float32` rescales. Rounding is
//! optional in the forward pass ([`Forward::Rounded`] mimics the integer network closely;
//! [`Forward::Real`] is the plain real relaxation); the backward pass treats it as the identity
//! (straight-through). Clamps, ReLU and the fused ReLU pass the gradient unchanged inside their
//! range and multiply it by `leak` outside (0 is the textbook straight-through estimator; a small
//! leak keeps saturated neurons from cutting the gradient off entirely). MaxPool routes the
//! gradient to the (first) argmax. Reshapes share their input's buffer; a tensor read by several
//! nodes receives the sum of their gradients.
//!
//! Arithmetic is `f32`: the surrogate only steers the search; every candidate it proposes is
//! replayed exactly by [`crate::verdict::Witness::replay`].

use crate::net::form::{Act, Acts, Affine as AffineForm, Form, Rows, Src};
use crate::net::{Network, Rescale};

/// How the forward pass treats requantization rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forward {
    /// Round to nearest after each rescale, as the integer network does (straight-through
    /// gradient).
    Rounded,
    /// No rounding: the real-valued network.
    Real,
}

/// A linear map from a flat input tensor to a flat output tensor.
#[derive(Clone, Debug)]
enum Linear {
    /// Row-major `[rows, cols]`.
    Dense { cols: usize, w: Vec<f32> },
    /// Compressed sparse rows: row `j` holds `idx[ptr[j]..ptr[j + 1]]` with weights `w[..]`.
    Sparse { ptr: Vec<usize>, idx: Vec<u32>, w: Vec<f32> },
}

#[derive(Clone, Debug)]
struct Affine {
    lin: Linear,
    zx: f32,
    scale: Vec<f32>,
    bias: Vec<f32>,
    zo: Vec<f32>,
    lo: Vec<f32>,
    hi: Vec<f32>,
    /// Round after the rescale in [`Forward::Rounded`] mode.
    round: bool,
}

#[derive(Clone, Debug)]
enum SLayer {
    Affine(Affine),
    /// Window input indices per output, CSR as in [`Linear::Sparse`].
    MaxPool {
        ptr: Vec<usize>,
        idx: Vec<u32>,
    },
    /// `clamp(x, lo, hi)` elementwise (ReLU: `lo` is the zero point); the gradient passes for
    /// `lo < x ≤ hi`.
    Clamp {
        lo: Vec<f32>,
        hi: Vec<f32>,
    },
    /// A lookup table, linearly interpolated between entries (its gradient is the slope of the
    /// segment; [`Forward::Rounded`] reads the entry at the rounded input).
    Lut {
        table: Vec<f32>,
        offset: f32,
    },
    /// `y_k = x_{src_k}` or a constant.
    Gather {
        src: Vec<Src>,
    },
    /// The concatenation of several buffers `(buffer, length)` (a node reading several inputs).
    Concat {
        parts: Vec<(usize, usize)>,
    },
}

/// One computing node: reads buffer `input`, writes buffer `output`.
#[derive(Clone, Debug)]
struct SNode {
    layer: SLayer,
    input: usize,
    output: usize,
}

/// The surrogate network. Built once per query; evaluation needs a [`Workspace`].
#[derive(Clone, Debug)]
pub struct Surrogate {
    nodes: Vec<SNode>,
    /// Length of each buffer (`sizes[0]` is the input; reshapes share their input's buffer).
    sizes: Vec<usize>,
    /// The buffer holding the network's output.
    out: usize,
    forward: Forward,
    leak: f32,
}

fn rescale_parts(r: &Rescale) -> (f32, f32) {
    match *r {
        Rescale::Float32 { m, bias, .. } => (m as f32, bias as f32),
        _ => (r.real_factor() as f32, 0.0),
    }
}

/// `(scale, extra bias, zero point, lo, hi)` of an activation's real relaxation.
fn act_parts(a: &Act) -> (f32, f32, f32, f32, f32) {
    match *a {
        Act::Requant { ref rescale, zero_point, lo, hi } => {
            let (s, fb) = rescale_parts(rescale);
            (s, fb, zero_point as f32, lo as f32, hi as f32)
        }
        Act::Average { n, zero_point, lo, hi, .. } => (1.0 / n as f32, 0.0, zero_point as f32, lo as f32, hi as f32),
        Act::Clamp { lo, hi } => (1.0, 0.0, 0.0, lo as f32, hi as f32),
        Act::Lut { .. } => {
            let (lo, hi) = a.clamp_range();
            (1.0, 0.0, 0.0, lo as f32, hi as f32)
        }
    }
}

fn affine(a: &AffineForm) -> Affine {
    let rows = a.n_out();
    let lin = match &a.rows {
        Rows::Dense { n_in, coef } => Linear::Dense { cols: *n_in, w: coef.iter().map(|&c| c as f32).collect() },
        Rows::Sparse { ptr, idx, coef } => {
            Linear::Sparse { ptr: ptr.clone(), idx: idx.clone(), w: coef.iter().map(|&c| c as f32).collect() }
        }
    };
    let (mut scale, mut bias, mut zo, mut lo, mut hi) = (vec![], vec![], vec![], vec![], vec![]);
    for k in 0..rows {
        let (s, fb, z, l, h) = act_parts(a.acts.of(k));
        scale.push(s);
        bias.push(a.bias[k] as f32 + fb);
        zo.push(z);
        lo.push(l);
        hi.push(h);
    }
    let round = !matches!(a.acts.of(0), Act::Clamp { .. });
    Affine { lin, zx: a.zero_point as f32, scale, bias, zo, lo, hi, round }
}

/// An elementwise map: clamps and a single table directly; any other activation as an affine
/// identity map.
fn map(acts: &Acts, n: usize) -> SLayer {
    if let [Act::Lut { table, offset }] = acts.distinct() {
        return SLayer::Lut { table: table.iter().map(|&v| v as f32).collect(), offset: *offset as f32 };
    }
    if acts.distinct().iter().all(|a| matches!(a, Act::Clamp { .. })) {
        let (lo, hi) = (0..n)
            .map(|k| {
                let (lo, hi) = acts.of(k).clamp_range();
                (lo as f32, hi as f32)
            })
            .unzip();
        return SLayer::Clamp { lo, hi };
    }
    let identity = AffineForm {
        rows: Rows::Sparse { ptr: (0..=n).collect(), idx: (0..n as u32).collect(), coef: vec![1; n] },
        zero_point: 0,
        bias: vec![0; n],
        acts: acts.clone(),
        accumulator: false,
    };
    SLayer::Affine(affine(&identity))
}

impl Surrogate {
    /// Translate a validated network. `leak` is the gradient factor outside clamp ranges.
    pub fn new(net: &Network, forward: Forward, leak: f32) -> Surrogate {
        let tensors = net.tensors();
        // Buffer of each tensor: reshapes reuse their input's.
        let mut buf = vec![0usize];
        let mut sizes = vec![tensors[0].len()];
        let mut nodes = Vec::new();
        for (i, form) in net.forms().iter().enumerate() {
            let input = match net.node_inputs(i) {
                [t] => buf[*t],
                ts => {
                    // Several inputs: their concatenation in a buffer of its own.
                    let parts: Vec<(usize, usize)> = ts.iter().map(|&t| (buf[t], sizes[buf[t]])).collect();
                    let len = parts.iter().map(|p| p.1).sum();
                    nodes.push(SNode { layer: SLayer::Concat { parts }, input: 0, output: sizes.len() });
                    sizes.push(len);
                    sizes.len() - 1
                }
            };
            let n = tensors[i + 1].len();
            let layer = match form {
                Form::Copy => {
                    buf.push(input);
                    continue;
                }
                Form::Affine(a) => SLayer::Affine(affine(a)),
                Form::Map(acts) => map(acts, n),
                Form::Max(w) => SLayer::MaxPool { ptr: w.ptr.clone(), idx: w.idx.clone() },
                Form::Gather(g) => SLayer::Gather { src: g.src.clone() },
            };
            buf.push(sizes.len());
            nodes.push(SNode { layer, input, output: sizes.len() });
            sizes.push(n);
        }
        let out = *buf.last().unwrap_or(&0);
        Surrogate { nodes, sizes, out, forward, leak }
    }

    pub fn input_len(&self) -> usize {
        self.sizes[0]
    }

    pub fn output_len(&self) -> usize {
        self.sizes[self.out]
    }

    /// A workspace for batches of up to `batch` inputs.
    pub fn workspace(&self, batch: usize) -> Workspace {
        Workspace {
            batch,
            out: self.out,
            acts: self.sizes.iter().map(|&n| vec![0.0; n * batch]).collect(),
            pre: self.nodes.iter().map(|nd| vec![0.0; self.sizes[nd.output] * batch]).collect(),
            arg: self
                .nodes
                .iter()
                .map(|nd| match nd.layer {
                    SLayer::MaxPool { .. } => vec![0; self.sizes[nd.output] * batch],
                    _ => Vec::new(),
                })
                .collect(),
            grads: self.sizes.iter().map(|&n| vec![0.0; n * batch]).collect(),
        }
    }

    /// Forward pass of `b` inputs stored batch-major in `ws.input_mut()`; the outputs are in
    /// [`Workspace::output`].
    pub fn forward(&self, ws: &mut Workspace, b: usize) {
        debug_assert!(b <= ws.batch);
        for (l, node) in self.nodes.iter().enumerate() {
            let (nin, nout) = (self.sizes[node.input], self.sizes[node.output]);
            // Buffers are numbered in topological order: the input comes before the output.
            let (before, after) = ws.acts.split_at_mut(node.output);
            let x = &before[node.input][..b * nin];
            let y = &mut after[0][..b * nout];
            let pre = &mut ws.pre[l][..b * nout];
            match &node.layer {
                SLayer::Concat { parts } => {
                    for s in 0..b {
                        let mut off = 0;
                        for &(p, len) in parts {
                            y[s * nout + off..s * nout + off + len].copy_from_slice(&before[p][s * len..(s + 1) * len]);
                            off += len;
                        }
                    }
                }
                SLayer::Gather { src } => {
                    for s in 0..b {
                        for (j, sr) in src.iter().enumerate() {
                            y[s * nout + j] = match *sr {
                                Src::In(i) => x[s * nin + i as usize],
                                Src::Const(c) => c as f32,
                            };
                        }
                    }
                }
                SLayer::Lut { table, offset } => {
                    pre.copy_from_slice(&x[..b * nout]);
                    let last = table.len() as f32 - 1.0;
                    for (o, &v) in y.iter_mut().zip(x.iter()) {
                        let t = (v - offset).clamp(0.0, last);
                        *o = if self.forward == Forward::Rounded {
                            table[t.round() as usize]
                        } else {
                            let i0 = (t.floor() as usize).min(table.len().saturating_sub(2));
                            let f = t - i0 as f32;
                            table[i0] + f * (table[(i0 + 1).min(table.len() - 1)] - table[i0])
                        };
                    }
                }
                SLayer::Clamp { lo, hi } => {
                    pre.copy_from_slice(x);
                    for s in 0..b {
                        for j in 0..nout {
                            let k = s * nout + j;
                            y[k] = x[k].max(lo[j]).min(hi[j]);
                        }
                    }
                }
                SLayer::MaxPool { ptr, idx } => {
                    let arg = &mut ws.arg[l][..b * nout];
                    for s in 0..b {
                        let xs = &x[s * nin..(s + 1) * nin];
                        for j in 0..nout {
                            let win = &idx[ptr[j]..ptr[j + 1]];
                            let mut best = win[0];
                            for &i in &win[1..] {
                                if xs[i as usize] > xs[best as usize] {
                                    best = i;
                                }
                            }
                            arg[s * nout + j] = best;
                            y[s * nout + j] = xs[best as usize];
                        }
                    }
                }
                SLayer::Affine(a) => {
                    // acc into `pre`, then rescale/round/clamp.
                    match &a.lin {
                        Linear::Dense { cols, w } => {
                            // Row-outer so that each weight row stays in cache across the batch.
                            for j in 0..nout {
                                let row = &w[j * cols..(j + 1) * cols];
                                let rowsum: f32 = row.iter().sum();
                                for s in 0..b {
                                    pre[s * nout + j] = dot(row, &x[s * nin..(s + 1) * nin]) - a.zx * rowsum;
                                }
                            }
                        }
                        Linear::Sparse { ptr, idx, w } => {
                            for s in 0..b {
                                let xs = &x[s * nin..(s + 1) * nin];
                                for j in 0..nout {
                                    let mut acc = 0.0;
                                    for k in ptr[j]..ptr[j + 1] {
                                        acc += w[k] * (xs[idx[k] as usize] - a.zx);
                                    }
                                    pre[s * nout + j] = acc;
                                }
                            }
                        }
                    }
                    let round = a.round && self.forward == Forward::Rounded;
                    for s in 0..b {
                        for j in 0..nout {
                            let k = s * nout + j;
                            let r = a.scale[j] * (pre[k] + a.bias[j]);
                            let r = if round { r.round() } else { r };
                            pre[k] = r + a.zo[j];
                            y[k] = pre[k].clamp(a.lo[j], a.hi[j]);
                        }
                    }
                }
            }
        }
    }

    /// Backward pass after [`Surrogate::forward`]: `ws.output_grad_mut()` holds the gradient of
    /// the loss with respect to the outputs; on return [`Workspace::input_grad`] holds it with
    /// respect to the inputs.
    pub fn backward(&self, ws: &mut Workspace, b: usize) {
        let leak = self.leak;
        for (t, g) in ws.grads.iter_mut().enumerate() {
            if t != self.out {
                g[..b * self.sizes[t]].fill(0.0);
            }
        }
        for (l, node) in self.nodes.iter().enumerate().rev() {
            let (nin, nout) = (self.sizes[node.input], self.sizes[node.output]);
            let (before, after) = ws.grads.split_at_mut(node.output);
            let g = &mut after[0][..b * nout];
            if let SLayer::Concat { parts } = &node.layer {
                for s in 0..b {
                    let mut off = 0;
                    for &(p, len) in parts {
                        for (d, &gv) in before[p][s * len..(s + 1) * len].iter_mut().zip(&g[s * nout + off..]) {
                            *d += gv;
                        }
                        off += len;
                    }
                }
                continue;
            }
            let gx = &mut before[node.input][..b * nin];
            match &node.layer {
                SLayer::Concat { .. } => {}
                SLayer::Gather { src } => {
                    for s in 0..b {
                        for (j, sr) in src.iter().enumerate() {
                            if let Src::In(i) = *sr {
                                gx[s * nin + i as usize] += g[s * nout + j];
                            }
                        }
                    }
                }
                SLayer::Lut { table, offset } => {
                    let pre = &ws.pre[l][..b * nout];
                    let last = table.len() as f32 - 1.0;
                    for ((o, &gv), &p) in gx.iter_mut().zip(g.iter()).zip(pre) {
                        let t = (p - offset).clamp(0.0, last);
                        let i0 = (t.floor() as usize).min(table.len().saturating_sub(2));
                        let slope = table[(i0 + 1).min(table.len() - 1)] - table[i0];
                        *o += gv * if slope != 0.0 { slope } else { leak };
                    }
                }
                SLayer::Clamp { lo, hi } => {
                    let pre = &ws.pre[l][..b * nout];
                    for s in 0..b {
                        for j in 0..nout {
                            let k = s * nout + j;
                            let p = pre[k];
                            gx[k] += if p > lo[j] && p <= hi[j] { g[k] } else { g[k] * leak };
                        }
                    }
                }
                SLayer::MaxPool { .. } => {
                    let arg = &ws.arg[l][..b * nout];
                    for s in 0..b {
                        for j in 0..nout {
                            gx[s * nin + arg[s * nout + j] as usize] += g[s * nout + j];
                        }
                    }
                }
                SLayer::Affine(a) => {
                    let pre = &ws.pre[l][..b * nout];
                    for s in 0..b {
                        for j in 0..nout {
                            let k = s * nout + j;
                            let inside = pre[k] >= a.lo[j] && pre[k] <= a.hi[j];
                            g[k] *= a.scale[j] * if inside { 1.0 } else { leak };
                        }
                    }
                    match &a.lin {
                        Linear::Dense { cols, w } => {
                            for s in 0..b {
                                let gxs = &mut gx[s * nin..(s + 1) * nin];
                                for j in 0..nout {
                                    let gv = g[s * nout + j];
                                    if gv != 0.0 {
                                        axpy(gv, &w[j * cols..(j + 1) * cols], gxs);
                                    }
                                }
                            }
                        }
                        Linear::Sparse { ptr, idx, w } => {
                            for s in 0..b {
                                for j in 0..nout {
                                    let gv = g[s * nout + j];
                                    if gv != 0.0 {
                                        for k in ptr[j]..ptr[j + 1] {
                                            gx[s * nin + idx[k] as usize] += gv * w[k];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Dot product with eight independent accumulators (vectorizes; fixed order, so deterministic).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

#[inline]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv += a * xv;
    }
}

/// Buffers for one batch: activations and gradients per buffer, pre-clamp values and argmax
/// indices per node.
#[derive(Clone, Debug)]
pub struct Workspace {
    batch: usize,
    /// The output buffer.
    out: usize,
    acts: Vec<Vec<f32>>,
    pre: Vec<Vec<f32>>,
    arg: Vec<Vec<u32>>,
    grads: Vec<Vec<f32>>,
}

impl Workspace {
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// Batch-major inputs `[batch, n_in]`.
    pub fn input_mut(&mut self) -> &mut [f32] {
        &mut self.acts[0]
    }
    /// Batch-major outputs `[batch, n_out]` of the last forward pass.
    pub fn output(&self) -> &[f32] {
        &self.acts[self.out]
    }
    /// Set the output gradient (batch-major `[batch, n_out]`) before [`Surrogate::backward`].
    pub fn output_grad_mut(&mut self, n_out: usize) -> &mut [f32] {
        let n = n_out * self.batch;
        &mut self.grads[self.out][..n]
    }
    /// Input gradient (batch-major `[batch, n_in]`) after [`Surrogate::backward`].
    pub fn input_grad(&self, n_in: usize) -> &[f32] {
        &self.grads[0][..n_in * self.batch]
    }
}
