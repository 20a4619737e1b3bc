//! The encoder's parallel CPU kernels over row-major `f32` buffers: linear layers (GEMM with a
//! bias and activation epilogue), multi-head attention over packed sequences, and residual sum
//! with layer norm.
//!
//! They run on the rayon pool of the caller (candle's own pool inside
//! `Device::with_context`), split into independent tasks that each write a disjoint part of
//! the output. Every GEMM is the `gemm` crate's, the one candle's own matmul calls, run
//! single-threaded inside a task: many small independent products keep both cores busy with
//! no barrier between them.

use std::cell::RefCell;

use gemm::{gemm, Parallelism};
use rayon::prelude::*;

use super::vmath;

/// The element-wise function applied to a linear layer's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    /// `x`.
    Identity,
    /// GELU with the exact error function (`hidden_act: "gelu"`).
    Gelu,
    /// `max(x, 0)`.
    Relu,
}

impl Activation {
    /// `x ← act(x + bias)`, in one pass.
    fn apply_with_bias(self, xs: &mut [f32], bias: &[f32]) {
        match self {
            Activation::Identity => vmath::add_bias(xs, bias),
            Activation::Gelu => vmath::add_bias_gelu(xs, bias),
            Activation::Relu => vmath::add_bias_relu(xs, bias),
        }
    }
}

/// A linear layer `y = act(x·W + b)`.
///
/// `W` is stored in column panels: columns `wp..wp + w` form panel `p`, kept as its own
/// contiguous `[d_in, w]` row-major block, `w` the height of gemm's kernel (see
/// [`panel_width`]). The kernel reads `w` consecutive output columns of one input row at a
/// time, so a panel is read as one sequential stream. Stored as a plain `[d_in, d_out]` matrix,
/// the same reads jump `4 × d_out` bytes from row to row: with few input rows (a short query)
/// the weights stream from memory, and that stride made it 2.5 times slower (weights read at
/// 7 GB/s instead of 18).
pub(crate) struct Linear {
    panels: Vec<f32>,
    bias: Vec<f32>,
    d_in: usize,
    d_out: usize,
    panel: usize,
}

/// Output columns per weight panel. gemm's AVX-512 kernel (enabled by its `x86-v4` feature)
/// covers 64 output columns, four 16-float registers: panels as wide read best. Its AVX2
/// kernel runs best on 32-column panels (single texts 28 % faster than on 64, batches 2–6 %).
pub(crate) fn panel_width() -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        return 64;
    }
    32
}

impl Linear {
    /// A layer from its weight `[d_in, d_out]` (row-major) and bias `[d_out]`.
    pub(crate) fn new(weight: &[f32], bias: Vec<f32>, d_in: usize, d_out: usize) -> Self {
        Linear::with_panel(weight, bias, d_in, d_out, panel_width())
    }

    fn with_panel(weight: &[f32], bias: Vec<f32>, d_in: usize, d_out: usize, panel: usize) -> Self {
        assert_eq!((weight.len(), bias.len()), (d_in * d_out, d_out), "linear layer shape");
        let mut panels = Vec::with_capacity(weight.len());
        for c0 in (0..d_out).step_by(panel) {
            let width = panel.min(d_out - c0);
            for row in weight.chunks(d_out) {
                panels.extend_from_slice(&row[c0..c0 + width]);
            }
        }
        Linear { panels, bias, d_in, d_out, panel }
    }

    /// `out[rows, d_out] = act(x[rows, d_in] · W + b)`.
    pub(crate) fn forward(&self, x: &[f32], out: &mut [f32], act: Activation) {
        let rows = x.len() / self.d_in;
        debug_assert_eq!(out.len(), rows * self.d_out);
        let tile_rows = TILE_ROWS.min(rows.max(1));
        let row_blocks = rows.div_ceil(tile_rows);
        let out_ptr = SharedMut(out.as_mut_ptr());
        let panels = self.d_out.div_ceil(self.panel);
        // Consecutive tasks share a block of input rows, which then stays in the core's cache
        // while the weight panels stream by: with many rows, the weights (a few MB per layer)
        // are the cheaper operand to refetch. Ordered panel by panel, long batches ran 6 %
        // slower.
        (0..row_blocks * panels).into_par_iter().for_each(|t| {
            let (r0, c0) = ((t / panels) * tile_rows, (t % panels) * self.panel);
            let tile = Tile { r0, rows: tile_rows.min(rows - r0), c0 };
            // SAFETY: the tile covers rows r0.. and columns c0.. of `out`, which no other task
            // overlaps; `x` and the weights are only read.
            unsafe { self.tile(x, out_ptr.at(r0 * self.d_out + c0), &tile, act) };
        });
    }

    /// One output tile, one panel wide: GEMM, then bias and activation while it is in cache.
    ///
    /// # Safety
    ///
    /// `dst` must point at row `tile.r0`, column `tile.c0` of an output with `d_out` columns,
    /// and no other thread may access that tile.
    unsafe fn tile(&self, x: &[f32], dst: *mut f32, tile: &Tile, act: Activation) {
        let width = self.panel.min(self.d_out - tile.c0);
        let a = &x[tile.r0 * self.d_in..(tile.r0 + tile.rows) * self.d_in];
        let panel = &self.panels[tile.c0 * self.d_in..][..self.d_in * width];
        // SAFETY: `a` holds rows × d_in values, `panel` d_in × width; `dst` is the caller's.
        unsafe { matmul(tile.rows, width, self.d_in, a, self.d_in, panel, width, dst, self.d_out) };
        let bias = &self.bias[tile.c0..tile.c0 + width];
        for r in 0..tile.rows {
            // SAFETY: row r of the tile, `width` values, inside the caller's tile.
            let row = unsafe { std::slice::from_raw_parts_mut(dst.add(r * self.d_out), width) };
            act.apply_with_bias(row, bias);
        }
    }
}

/// A block of output rows within one weight panel.
struct Tile {
    r0: usize,
    rows: usize,
    c0: usize,
}

/// Layer norm parameters.
pub(crate) struct LayerNorm {
    pub(crate) gamma: Vec<f32>,
    pub(crate) beta: Vec<f32>,
    pub(crate) eps: f32,
}

impl LayerNorm {
    /// `x ← norm(x + y)`, row by row (the residual sum of a post-norm transformer block).
    pub(crate) fn add_in_place(&self, x: &mut [f32], y: &[f32]) {
        let h = self.gamma.len();
        x.par_chunks_mut(h * ROWS_PER_TASK).zip(y.par_chunks(h * ROWS_PER_TASK)).for_each(
            |(xs, ys)| {
                for (x, y) in xs.chunks_mut(h).zip(ys.chunks(h)) {
                    vmath::add_layer_norm(x, y, &self.gamma, &self.beta, self.eps);
                }
            },
        );
    }

    /// `x ← norm(x)` for one row.
    pub(crate) fn row(&self, x: &mut [f32]) {
        vmath::layer_norm(x, &self.gamma, &self.beta, self.eps);
    }
}

/// Multi-head self-attention over packed sequences.
///
/// `qkv` holds, for every token, its query (already scaled by `1/√head_dim`), key and value
/// vectors side by side (`3 × hidden` values); sequence `s` owns rows
/// `offsets[s]..offsets[s + 1]`. A token attends to the tokens of its own sequence only, so no
/// padding and no mask exist. Writes each token's attention output to `ctx` (`hidden` values per
/// row).
pub(crate) fn attention(qkv: &[f32], offsets: &[usize], heads: usize, ctx: &mut [f32]) {
    let hidden = ctx.len() / offsets[offsets.len() - 1].max(1);
    let head_dim = hidden / heads;
    let seqs = offsets.len() - 1;
    let ctx_ptr = SharedMut(ctx.as_mut_ptr());
    (0..seqs * heads).into_par_iter().for_each(|task| {
        let (s, h) = (task / heads, task % heads);
        let (r0, len) = (offsets[s], offsets[s + 1] - offsets[s]);
        if len == 0 {
            return;
        }
        let head = Head { qkv: &qkv[r0 * 3 * hidden..], len, hidden, head_dim, h };
        // SAFETY: task (s, h) writes rows r0..r0+len, columns h·head_dim.. of `ctx`, which no
        // other task touches.
        unsafe { head.run(ctx_ptr.at(r0 * hidden + h * head_dim)) };
    });
}

/// One head of one sequence.
struct Head<'a> {
    /// The sequence's rows of the packed `[q | k | v]` matrix.
    qkv: &'a [f32],
    len: usize,
    hidden: usize,
    head_dim: usize,
    h: usize,
}

impl Head<'_> {
    /// `softmax(q·kᵀ)·v` into `dst` (row stride `hidden`).
    ///
    /// # Safety
    ///
    /// `dst` must point at this head's first output value, with `len` rows of stride `hidden`
    /// that no other thread accesses.
    unsafe fn run(&self, dst: *mut f32) {
        let (len, stride, d) = (self.len, 3 * self.hidden, self.head_dim);
        let q = self.qkv[self.h * d..].as_ptr();
        let k = self.qkv[self.hidden + self.h * d..].as_ptr();
        let v = self.qkv[2 * self.hidden + self.h * d..].as_ptr();
        SCORES.with_borrow_mut(|scores| {
            scores.resize(len * len, 0.0);
            // SAFETY: q and k address len rows of stride `stride` inside `qkv`, d values each;
            // kᵀ is read through swapped strides. `scores` holds len × len values.
            unsafe {
                gemm_raw(len, len, d, scores.as_mut_ptr(), len, 1, q, stride, 1, k, 1, stride);
            }
            scores.chunks_mut(len).for_each(vmath::softmax_in_place);
            // SAFETY: v addresses len rows of stride `stride`, d values each; `dst` is ours.
            unsafe {
                gemm_raw(len, d, len, dst, self.hidden, 1, scores.as_ptr(), len, 1, v, stride, 1);
            }
        });
    }
}

thread_local! {
    /// Each thread's attention score matrix, reused from head to head.
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Rows handled by one task in row-wise kernels; small enough to share out a short batch.
const ROWS_PER_TASK: usize = 16;
/// Tile height of the linear layers. Up to 8 × 6 rows (6: the kernel's width in rows), gemm
/// 0.19 reads a weight panel where it lies instead of first copying it into its packed layout,
/// which the panel already has: 4–7 % less CPU time than 128-row tiles. Taller tiles would
/// reuse each panel more, but the copy costs more than that saves.
const TILE_ROWS: usize = 48;

/// `c[m, n] = a[m, k] · b[k, n]`, row-major with the given row strides, on this thread.
///
/// # Safety
///
/// `a`, `b` and `c` must hold the rows their strides and sizes address, and no other thread
/// may access `c`'s part.
#[allow(clippy::too_many_arguments)]
unsafe fn matmul(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    debug_assert!(a.len() >= (m - 1) * lda + k && b.len() >= (k - 1) * ldb + n);
    // SAFETY: the caller's contract, in the strides gemm expects.
    unsafe { gemm_raw(m, n, k, c, ldc, 1, a.as_ptr(), lda, 1, b.as_ptr(), ldb, 1) };
}

/// `c = a · b` for matrices given by pointer, row stride and column stride; single-threaded.
///
/// # Safety
///
/// Every pointer must address the elements its strides and sizes reach.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw(
    m: usize,
    n: usize,
    k: usize,
    c: *mut f32,
    c_rs: usize,
    c_cs: usize,
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_rs: usize,
    b_cs: usize,
) {
    let s = |x: usize| x as isize;
    // SAFETY: the caller's contract. read_dst = false: c is overwritten with 1 · a·b.
    unsafe {
        gemm(
            m,
            n,
            k,
            c,
            s(c_cs),
            s(c_rs),
            false,
            a,
            s(a_cs),
            s(a_rs),
            b,
            s(b_cs),
            s(b_rs),
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// A pointer into an output buffer that parallel tasks write in disjoint parts.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);

// SAFETY: only used to hand disjoint regions of one buffer to parallel tasks (see each use).
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1).
    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 + seed * 104_729) % 2001) as f32 / 1000.0 - 1.0).collect()
    }

    fn naive_linear(x: &[f32], w: &[f32], b: &[f32], d_in: usize, d_out: usize) -> Vec<f32> {
        let rows = x.len() / d_in;
        let mut out = vec![0.0; rows * d_out];
        for r in 0..rows {
            for c in 0..d_out {
                let dot: f64 = (0..d_in).map(|k| (x[r * d_in + k] * w[k * d_out + c]) as f64).sum();
                out[r * d_out + c] = dot as f32 + b[c];
            }
        }
        out
    }

    #[test]
    fn linear_matches_a_naive_product_for_any_shape() {
        // Widths that are not multiples of the panel, row counts that are not of the tile.
        let shapes = [(1, 3, 5), (7, 64, 64), (49, 40, 130), (100, 96, 200)];
        for ((rows, d_in, d_out), panel) in shapes.into_iter().flat_map(|s| [(s, 32), (s, 64)]) {
            let (w, b, x) = (values(d_in * d_out, 1), values(d_out, 2), values(rows * d_in, 3));
            let layer = Linear::with_panel(&w, b.clone(), d_in, d_out, panel);
            let mut out = vec![0.0; rows * d_out];
            layer.forward(&x, &mut out, Activation::Identity);
            let want = naive_linear(&x, &w, &b, d_in, d_out);
            for (g, w) in out.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4, "{rows}x{d_in}x{d_out}: {g} vs {w}");
            }
            layer.forward(&x, &mut out, Activation::Relu);
            assert!(out.iter().zip(&want).all(|(g, w)| (g - w.max(0.0)).abs() < 1e-4));
        }
    }

    /// Attention for one sequence and head, in f64.
    fn naive_head(
        qkv: &[f32],
        rows: std::ops::Range<usize>,
        hidden: usize,
        h: usize,
        d: usize,
    ) -> Vec<f64> {
        let at = |r: usize, part: usize, i: usize| {
            qkv[r * 3 * hidden + part * hidden + h * d + i] as f64
        };
        let mut out = Vec::new();
        for i in rows.clone() {
            let scores: Vec<f64> =
                rows.clone().map(|j| (0..d).map(|k| at(i, 0, k) * at(j, 1, k)).sum()).collect();
            let max = scores.iter().cloned().fold(f64::MIN, f64::max);
            let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let total: f64 = weights.iter().sum();
            for k in 0..d {
                let v: f64 = rows.clone().zip(&weights).map(|(j, w)| w * at(j, 2, k)).sum();
                out.push(v / total);
            }
        }
        out
    }

    #[test]
    fn attention_stays_within_each_sequence() {
        let (heads, d) = (3, 8);
        let hidden = heads * d;
        let offsets = [0, 5, 5, 6, 23];
        let qkv = values(23 * 3 * hidden, 4);
        let mut ctx = vec![f32::NAN; 23 * hidden];
        attention(&qkv, &offsets, heads, &mut ctx);
        for s in 0..offsets.len() - 1 {
            for h in 0..heads {
                let want = naive_head(&qkv, offsets[s]..offsets[s + 1], hidden, h, d);
                for (n, w) in want.iter().enumerate() {
                    let (r, k) = (offsets[s] + n / d, n % d);
                    let g = ctx[r * hidden + h * d + k] as f64;
                    assert!((g - w).abs() < 1e-5, "seq {s} head {h} row {r}: {g} vs {w}");
                }
            }
        }
    }
}
