//! Window geometry shared by convolution and pooling: output sizes and the input positions a
//! window covers. One place for it, so the executor, bounds and encodings agree on padding.

/// A 2-D sliding window over an `[H, W]` plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub padding: [usize; 4],
    pub dilation: [usize; 2],
}

impl Window {
    /// Output size along one axis, or `None` if the window does not fit even once.
    fn out_dim(input: usize, k: usize, s: usize, p0: usize, p1: usize, d: usize) -> Option<usize> {
        if k == 0 || s == 0 || d == 0 {
            return None;
        }
        let span = d.checked_mul(k - 1)?.checked_add(1)?;
        let padded = input.checked_add(p0)?.checked_add(p1)?;
        if padded < span {
            return None;
        }
        Some((padded - span) / s + 1)
    }

    /// `[H_out, W_out]` for an `[H, W]` input.
    pub fn output_hw(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        let oh = Self::out_dim(h, self.kernel[0], self.stride[0], self.padding[0], self.padding[2], self.dilation[0])?;
        let ow = Self::out_dim(w, self.kernel[1], self.stride[1], self.padding[1], self.padding[3], self.dilation[1])?;
        Some([oh, ow])
    }

    /// The in-bounds input positions `(kernel index, input index)` along one axis for output
    /// position `o`.
    pub fn taps(&self, axis: usize, o: usize, input: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let start = (o * self.stride[axis]) as isize - self.padding[axis] as isize;
        let d = self.dilation[axis] as isize;
        (0..self.kernel[axis]).filter_map(move |k| {
            let i = start + k as isize * d;
            (i >= 0 && (i as usize) < input).then_some((k, i as usize))
        })
    }

    /// Number of in-bounds positions of the window at output `(oy, ox)`.
    pub fn in_bounds(&self, oy: usize, ox: usize, h: usize, w: usize) -> usize {
        self.taps(0, oy, h).count() * self.taps(1, ox, w).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes() {
        let w = Window { kernel: [3, 3], stride: [1, 1], padding: [1, 1, 1, 1], dilation: [1, 1] };
        assert_eq!(w.output_hw(8, 8), Some([8, 8]));
        let w = Window { kernel: [2, 2], stride: [2, 2], padding: [0; 4], dilation: [1, 1] };
        assert_eq!(w.output_hw(7, 8), Some([3, 4]));
        let w = Window { kernel: [3, 3], stride: [1, 1], padding: [0; 4], dilation: [2, 2] };
        assert_eq!(w.output_hw(5, 4), None);
        assert_eq!(w.output_hw(5, 5), Some([1, 1]));
    }

    #[test]
    fn taps_respect_padding() {
        let w = Window { kernel: [3, 3], stride: [1, 1], padding: [1, 1, 1, 1], dilation: [1, 1] };
        let t: Vec<_> = w.taps(0, 0, 4).collect();
        assert_eq!(t, vec![(1, 0), (2, 1)]);
        assert_eq!(w.in_bounds(0, 0, 4, 4), 4);
        assert_eq!(w.in_bounds(1, 1, 4, 4), 9);
    }
}
