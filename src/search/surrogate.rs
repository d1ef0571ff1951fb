//! A differentiable real-valued surrogate of a quantized network, evaluated on batches.
//!
//! Every Dense/Conv2d/AvgPool2d layer becomes one affine map followed by a rescale and a clamp:
//! `y_j = clamp(round?(s_j · (Σ_i w_ji (x_i − zx) + b_j)) + zo, lo, hi)`, where `s_j` is
//! [`Rescale::real_factor`] (`1/n` for average pooling) and `b_j` folds in the integer bias and the
//! binary32 bias of `Float32` rescales. Rounding is optional in the forward pass
//! ([`Forward::Rounded`] mimics the integer network closely; [`Forward::Real`] is the plain real
//! relaxation); the backward pass treats it as the identity (straight-through). Clamps, ReLU and
//! the fused ReLU pass the gradient unchanged inside their range and multiply it by `leak`
//! outside (0 is the textbook straight-through estimator; a small leak keeps saturated neurons
//! from cutting the gradient off entirely). MaxPool routes the gradient to the (first) argmax.
//!
//! Arithmetic is `f32`: the surrogate only steers the search; every candidate it proposes is
//! replayed exactly by [`crate::verify::Witness::replay`].

use crate::net::{Layer, Network, Rescale, TensorInfo};

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
    rows: usize,
    zx: f32,
    scale: Vec<f32>,
    bias: Vec<f32>,
    zo: f32,
    lo: f32,
    hi: f32,
}

#[derive(Clone, Debug)]
enum SLayer {
    Affine(Affine),
    /// Window input indices per output, CSR as in [`Linear::Sparse`].
    MaxPool {
        ptr: Vec<usize>,
        idx: Vec<u32>,
    },
    Relu {
        z: f32,
    },
}

impl SLayer {
    fn out_len(&self) -> usize {
        match self {
            SLayer::Affine(a) => a.rows,
            SLayer::MaxPool { ptr, .. } => ptr.len() - 1,
            SLayer::Relu { .. } => 0, // same as input; handled by the caller
        }
    }
}

/// The surrogate network. Built once per query; evaluation needs a [`Workspace`].
#[derive(Clone, Debug)]
pub struct Surrogate {
    layers: Vec<SLayer>,
    /// Length of the tensor after each layer (`sizes[0]` is the input).
    sizes: Vec<usize>,
    forward: Forward,
    leak: f32,
}

fn out_bounds(t: &TensorInfo, relu: bool) -> (f32, f32) {
    let lo = t.quant.dtype.min();
    let lo = if relu { lo.max(t.quant.zero_point) } else { lo };
    (lo as f32, t.quant.dtype.max() as f32)
}

fn rescale_parts(r: &Rescale) -> (f32, f32) {
    match *r {
        Rescale::Float32 { m, bias, .. } => (m as f32, bias as f32),
        _ => (r.real_factor() as f32, 0.0),
    }
}

/// Windowed input positions `(channel, out y, out x) → [(input index, kernel y, kernel x)]`.
fn windows(
    win: crate::net::geometry::Window,
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    mut f: impl FnMut(usize, usize, usize, usize, usize),
) {
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                for (ky, iy) in win.taps(0, oy, h) {
                    for (kx, ix) in win.taps(1, ox, w) {
                        f(ch, (ch * oh + oy) * ow + ox, (ch * h + iy) * w + ix, ky, kx);
                    }
                }
            }
        }
    }
}

/// Build CSR rows from `(row, col, weight)` triplets emitted in row order.
fn csr(rows: usize, entries: &[(usize, usize, f32)]) -> (Vec<usize>, Vec<u32>, Vec<f32>) {
    let mut ptr = vec![0usize; rows + 1];
    for &(r, _, _) in entries {
        ptr[r + 1] += 1;
    }
    for r in 0..rows {
        ptr[r + 1] += ptr[r];
    }
    let mut idx = vec![0u32; entries.len()];
    let mut w = vec![0f32; entries.len()];
    let mut fill = ptr.clone();
    for &(r, c, v) in entries {
        idx[fill[r]] = c as u32;
        w[fill[r]] = v;
        fill[r] += 1;
    }
    (ptr, idx, w)
}

impl Surrogate {
    /// Translate a validated network. `leak` is the gradient factor outside clamp ranges.
    pub fn new(net: &Network, forward: Forward, leak: f32) -> Surrogate {
        let tensors = net.tensors();
        let mut layers = Vec::new();
        let mut sizes = vec![tensors[0].len()];
        for (i, layer) in net.layers().iter().enumerate() {
            let (inp, out) = (&tensors[i], &tensors[i + 1]);
            let zx = inp.quant.zero_point as f32;
            let sl = match layer {
                Layer::Flatten => continue,
                Layer::Relu => SLayer::Relu { z: zx },
                Layer::Dense(d) => {
                    let (lo, hi) = out_bounds(out, d.requant.relu);
                    let mut w = Vec::with_capacity(d.weights.len());
                    let (mut scale, mut bias) = (Vec::new(), Vec::new());
                    for j in 0..d.out_features {
                        let zw = d.weight_zero_point[if d.weight_zero_point.len() == 1 { 0 } else { j }];
                        w.extend(
                            d.weights[j * d.in_features..(j + 1) * d.in_features].iter().map(|&v| (v - zw) as f32),
                        );
                        let (s, fb) = rescale_parts(d.requant.rescale_for(j));
                        scale.push(s);
                        bias.push(d.bias.get(j).copied().unwrap_or(0) as f32 + fb);
                    }
                    SLayer::Affine(Affine {
                        lin: Linear::Dense { cols: d.in_features, w },
                        rows: d.out_features,
                        zx,
                        scale,
                        bias,
                        zo: out.quant.zero_point as f32,
                        lo,
                        hi,
                    })
                }
                Layer::Conv2d(c) => {
                    let (h, wd) = (inp.shape[1], inp.shape[2]);
                    let (oh, ow) = (out.shape[1], out.shape[2]);
                    let (cg_in, cg_out) = (c.in_channels / c.groups, c.out_channels / c.groups);
                    let [kh, kw] = c.kernel;
                    let win = c.window();
                    let mut entries = Vec::new();
                    let (mut scale, mut bias) = (Vec::new(), Vec::new());
                    for o in 0..c.out_channels {
                        let g = o / cg_out;
                        let zw = c.weight_zero_point[if c.weight_zero_point.len() == 1 { 0 } else { o }];
                        let (s, fb) = rescale_parts(c.requant.rescale_for(o));
                        let b = c.bias.get(o).copied().unwrap_or(0) as f32 + fb;
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let row = (o * oh + oy) * ow + ox;
                                for ci in 0..cg_in {
                                    let ch = g * cg_in + ci;
                                    for (ky, iy) in win.taps(0, oy, h) {
                                        for (kx, ix) in win.taps(1, ox, wd) {
                                            let wv = c.weights[((o * cg_in + ci) * kh + ky) * kw + kx] - zw;
                                            entries.push((row, (ch * h + iy) * wd + ix, wv as f32));
                                        }
                                    }
                                }
                                scale.push(s);
                                bias.push(b);
                            }
                        }
                    }
                    let rows = c.out_channels * oh * ow;
                    let (ptr, idx, w) = csr(rows, &entries);
                    let (lo, hi) = out_bounds(out, c.requant.relu);
                    SLayer::Affine(Affine {
                        lin: Linear::Sparse { ptr, idx, w },
                        rows,
                        zx,
                        scale,
                        bias,
                        zo: out.quant.zero_point as f32,
                        lo,
                        hi,
                    })
                }
                Layer::AvgPool2d(p) => {
                    let (c, h, w) = (inp.shape[0], inp.shape[1], inp.shape[2]);
                    let (oh, ow) = (out.shape[1], out.shape[2]);
                    let rows = c * oh * ow;
                    let mut entries = Vec::new();
                    windows(p.window(), c, h, w, oh, ow, |_, row, col, _, _| entries.push((row, col, 1.0)));
                    let (ptr, idx, wts) = csr(rows, &entries);
                    let area = (p.kernel[0] * p.kernel[1]) as f32;
                    let scale =
                        (0..rows)
                            .map(|r| {
                                if p.count_include_pad {
                                    1.0 / area
                                } else {
                                    1.0 / (ptr[r + 1] - ptr[r]).max(1) as f32
                                }
                            })
                            .collect();
                    let t = out.quant.dtype;
                    SLayer::Affine(Affine {
                        lin: Linear::Sparse { ptr, idx, w: wts },
                        rows,
                        zx,
                        scale,
                        bias: vec![0.0; rows],
                        zo: out.quant.zero_point as f32,
                        lo: t.min() as f32,
                        hi: t.max() as f32,
                    })
                }
                Layer::MaxPool2d(p) => {
                    let (c, h, w) = (inp.shape[0], inp.shape[1], inp.shape[2]);
                    let (oh, ow) = (out.shape[1], out.shape[2]);
                    let mut entries = Vec::new();
                    windows(p.window(), c, h, w, oh, ow, |_, row, col, _, _| entries.push((row, col, 0.0)));
                    let (ptr, idx, _) = csr(c * oh * ow, &entries);
                    SLayer::MaxPool { ptr, idx }
                }
            };
            let n = match &sl {
                SLayer::Relu { .. } => *sizes.last().unwrap_or(&0),
                other => other.out_len(),
            };
            layers.push(sl);
            sizes.push(n);
        }
        Surrogate { layers, sizes, forward, leak }
    }

    pub fn input_len(&self) -> usize {
        self.sizes[0]
    }

    pub fn output_len(&self) -> usize {
        *self.sizes.last().unwrap_or(&0)
    }

    /// A workspace for batches of up to `batch` inputs.
    pub fn workspace(&self, batch: usize) -> Workspace {
        Workspace {
            batch,
            acts: self.sizes.iter().map(|&n| vec![0.0; n * batch]).collect(),
            pre: self.sizes[1..].iter().map(|&n| vec![0.0; n * batch]).collect(),
            arg: self
                .layers
                .iter()
                .zip(&self.sizes[1..])
                .map(|(l, &n)| if matches!(l, SLayer::MaxPool { .. }) { vec![0; n * batch] } else { Vec::new() })
                .collect(),
            grad: vec![0.0; self.sizes.iter().copied().max().unwrap_or(0) * batch],
            grad2: vec![0.0; self.sizes.iter().copied().max().unwrap_or(0) * batch],
        }
    }

    /// Forward pass of `b` inputs stored batch-major in `ws.input_mut()`; the outputs are in
    /// [`Workspace::output`].
    pub fn forward(&self, ws: &mut Workspace, b: usize) {
        debug_assert!(b <= ws.batch);
        for (l, layer) in self.layers.iter().enumerate() {
            let (nin, nout) = (self.sizes[l], self.sizes[l + 1]);
            let (before, after) = ws.acts.split_at_mut(l + 1);
            let x = &before[l][..b * nin];
            let y = &mut after[0][..b * nout];
            let pre = &mut ws.pre[l][..b * nout];
            match layer {
                SLayer::Relu { z } => {
                    pre.copy_from_slice(x);
                    for (o, &v) in y.iter_mut().zip(x) {
                        *o = v.max(*z);
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
                    for s in 0..b {
                        for j in 0..nout {
                            let k = s * nout + j;
                            let r = a.scale[j] * (pre[k] + a.bias[j]);
                            let r = if self.forward == Forward::Rounded { r.round() } else { r };
                            pre[k] = r + a.zo;
                            y[k] = pre[k].clamp(a.lo, a.hi);
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
        for (l, layer) in self.layers.iter().enumerate().rev() {
            let (nin, nout) = (self.sizes[l], self.sizes[l + 1]);
            let g = &mut ws.grad[..b * nout];
            let gx = &mut ws.grad2[..b * nin];
            match layer {
                SLayer::Relu { z } => {
                    let pre = &ws.pre[l][..b * nout];
                    for ((o, &gv), &p) in gx.iter_mut().zip(g.iter()).zip(pre) {
                        *o = if p > *z { gv } else { gv * leak };
                    }
                }
                SLayer::MaxPool { .. } => {
                    gx.fill(0.0);
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
                            let inside = pre[k] >= a.lo && pre[k] <= a.hi;
                            g[k] *= a.scale[j] * if inside { 1.0 } else { leak };
                        }
                    }
                    gx.fill(0.0);
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
            std::mem::swap(&mut ws.grad, &mut ws.grad2);
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

/// Buffers for one batch: activations, pre-clamp values, argmax indices and gradients.
#[derive(Clone, Debug)]
pub struct Workspace {
    batch: usize,
    acts: Vec<Vec<f32>>,
    pre: Vec<Vec<f32>>,
    arg: Vec<Vec<u32>>,
    grad: Vec<f32>,
    grad2: Vec<f32>,
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
        self.acts.last().map(|v| v.as_slice()).unwrap_or(&[])
    }
    /// Set the output gradient (batch-major `[batch, n_out]`) before [`Surrogate::backward`].
    pub fn output_grad_mut(&mut self, n_out: usize) -> &mut [f32] {
        let n = n_out * self.batch;
        &mut self.grad[..n]
    }
    /// Input gradient (batch-major `[batch, n_in]`) after [`Surrogate::backward`].
    pub fn input_grad(&self, n_in: usize) -> &[f32] {
        &self.grad[..n_in * self.batch]
    }
}
