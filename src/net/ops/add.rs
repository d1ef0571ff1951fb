//! Element-wise addition of two quantized tensors, with the exact arithmetic of the runtime
//! that runs it ([`AddKernel`]), lowered to [`Form::Sum`].
//!
//! ONNX Runtime's `QLinearAdd` (com.microsoft) on x86-64 with AVX2/FMA runs MLAS
//! `MlasQLinearAddKernelAvx2Helper` (`onnxruntime/core/mlas/lib/intrinsics/avx2/qladd_avx2.cpp`):
//!
//! ```text
//! r_a = fl(s_a / s_c), r_b = fl(s_b / s_c)
//! F   = fl(z_c − fma(r_a, z_a, fl(r_b · z_b)))      (the compiler contracts the product sum)
//! y   = saturate(rne(fma(a, r_a, fma(b, r_b, F))))   (binary32, `a`, `b` the raw integers)
//! ```
//!
//! confirmed bit for bit against ONNX Runtime 1.32 on every pair of 8-bit operands for random
//! scales and zero points (`scripts/onnx/probe_qlinear_add.py`). The inner `t(b) = fma(b, r_b, F)`
//! is a binary32 value per `b`; the outer fma rounds the exact `a·r_a + t(b)` once. With `2^S` the
//! finest binary32 grid any of these values sits on, `p = a·(r_a·2^S) + t(b)·2^S` is an exact
//! integer and `y = saturate(rne(fl(p) · 2^-S))`: a `float32` requantization of `p`. So the
//! lowering is `ta(a) = a·r_a·2^S`, `tb(b) = t(b)·2^S` (monotone tables) and
//! `out = Requant(Float32 { m: 2^-S })`.

use crate::net::form::{Act, Form, Sum};
use crate::net::ir::{Add, AddKernel, TensorInfo};
use crate::net::requant::{Rescale, Rounding};

/// Largest `S` (so that `2^-S` is a normal binary32 and `fl(p)·2^-S` is exact scaling).
const MAX_SHIFT: i32 = 120;

/// `(k, e)` with `x = k · 2^e` and `k` odd (`(0, 0)` for zero), for a finite `f32`.
fn dyadic(x: f32) -> (i64, i32) {
    if x == 0.0 {
        return (0, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 23) & 0xff) as i32;
    let frac = i64::from(bits & 0x7f_ffff);
    let (mut k, mut e) = if exp == 0 { (frac, -149) } else { (frac | (1 << 23), exp - 150) };
    while k & 1 == 0 {
        k >>= 1;
        e += 1;
    }
    (if x < 0.0 { -k } else { k }, e)
}

/// `x · 2^s` as an exact integer (`x` on the `2^-s` grid), if it fits `i64` comfortably.
fn scaled(x: f32, s: i32) -> Option<i64> {
    let (k, e) = dyadic(x);
    let sh = e + s;
    if !(0..=62).contains(&sh) {
        return (k == 0).then_some(0);
    }
    let v = i128::from(k) << sh;
    (v.abs() < 1 << 60).then_some(v as i64)
}

fn is_f32(x: f64) -> bool {
    x.is_finite() && f64::from(x as f32) == x
}

impl Add {
    pub(super) fn infer(&self, xs: &[&TensorInfo]) -> Result<TensorInfo, String> {
        let [a, b] = xs else {
            return Err(format!("add takes two inputs, got {}", xs.len()));
        };
        if a.shape != b.shape {
            return Err(format!("operands have shapes {:?} and {:?}; broadcasting is not supported", a.shape, b.shape));
        }
        super::check::quant(&self.output, "output")?;
        let t = self.output.dtype;
        if t.bits() != 8 || a.quant.dtype != t || b.quant.dtype != t {
            return Err(format!(
                "the {} kernel takes operands and output of one 8-bit type; got {}, {} -> {t}",
                self.kernel.name(),
                a.quant.dtype,
                b.quant.dtype
            ));
        }
        self.sum(a, b)?;
        Ok(TensorInfo { shape: a.shape.clone(), quant: self.output })
    }

    /// The lowered arithmetic; `Err` says why it cannot be represented exactly.
    fn sum(&self, a: &TensorInfo, b: &TensorInfo) -> Result<Sum, String> {
        let AddKernel::MlasAvx2 = self.kernel;
        let (qa, qb, qc) = (a.quant, b.quant, self.output);
        for (s, what) in [(self.a_scale, "first operand"), (self.b_scale, "second operand"), (qc.scale, "output")] {
            if !(is_f32(s) && s > 0.0) {
                return Err(format!("{what} scale {s} is not a positive binary32 value"));
            }
        }
        let (sa, sb, sc) = (self.a_scale as f32, self.b_scale as f32, qc.scale as f32);
        let (ra, rb) = (sa / sc, sb / sc);
        let (za, zb, zc) = (qa.zero_point as f32, qb.zero_point as f32, qc.zero_point as f32);
        let f = zc - ra.mul_add(za, rb * zb);
        let t = qc.dtype;
        let vals = || t.min()..=t.max();
        // Keep every value far from the int32 conversion limit (MLAS's cvtps2dq would return
        // INT_MIN there, which saturates to the wrong end).
        let bound = 256.0 * (f64::from(ra) + f64::from(rb)) + f64::from(f).abs() + 256.0;
        if !(ra.is_normal() && rb.is_normal() && f.is_finite()) || bound > f64::from(1u32 << 30) {
            return Err(format!("scale ratios {ra} and {rb} (fixed part {f}) are outside the supported range"));
        }
        let tb: Vec<f32> = vals().map(|v| (v as f32).mul_add(rb, f)).collect();
        // The finest grid: every t(b) and r_a (a·r_a is on r_a's grid).
        let s = tb.iter().chain(std::iter::once(&ra)).filter(|v| **v != 0.0).map(|&v| -dyadic(v).1).max().unwrap_or(0);
        let s = s.max(0);
        if s > MAX_SHIFT {
            return Err(format!("the operands' binary32 grid 2^-{s} is too fine to represent exactly"));
        }
        let r = scaled(ra, s).ok_or("scale ratio too large")?;
        let ta: Vec<i64> = vals().map(|v| v * r).collect();
        let tb: Vec<i64> = tb.iter().map(|&v| scaled(v, s)).collect::<Option<_>>().ok_or("fixed part too large")?;
        if !tb.windows(2).all(|w| w[0] <= w[1]) || ta.iter().chain(&tb).any(|v| v.abs() >= 1 << 61) {
            return Err("the operand tables are not monotone or too large".into());
        }
        let out = Act::Requant {
            rescale: Rescale::Float32 { m: 2f64.powi(-s), bias: 0.0, rounding: Rounding::HalfEven },
            zero_point: 0,
            lo: t.min(),
            hi: t.max(),
        };
        Ok(Sum {
            n: a.len(),
            ta: Act::Lut { table: ta.into(), offset: t.min() },
            tb: Act::Lut { table: tb.into(), offset: t.min() },
            out,
        })
    }

    pub(super) fn lower(&self, xs: &[&TensorInfo]) -> Form {
        Form::Sum(self.sum(xs[0], xs[1]).expect("checked by infer"))
    }
}
