//! The dot product of two `f32` vectors: the one distance kindred computes, since stored vectors
//! are unit length and cosine equals dot.
//!
//! On x86_64 with AVX2 and FMA (checked once at run time) it runs 32 lanes at a time; elsewhere a
//! portable loop with four accumulators, which compilers vectorize to the baseline instruction set.

use std::sync::OnceLock;

/// `Σ a[i]·b[i]`.
///
/// # Panics
///
/// Panics if the slices differ in length.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot product of vectors of different lengths");
    kernel()(a, b)
}

/// A dot-product implementation. Kernels read the first `min(a.len(), b.len())` elements, so
/// any pair of slices is safe to pass; [`dot`] is the entry point that checks the lengths.
pub(crate) type Kernel = fn(&[f32], &[f32]) -> f32;

/// The fastest kernel for the running CPU, chosen once. Hot loops that compute many products
/// of vectors of known length call it directly, without `dot`'s check and dispatch per call.
pub(crate) fn kernel() -> Kernel {
    static KERNEL: OnceLock<Kernel> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return avx2::dot;
        }
        portable_dot
    })
}

fn portable_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = a.len().min(b.len()) / 8 * 8;
    for (ca, cb) in a[..chunks].chunks_exact(8).zip(b[..chunks].chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += ca[i] * cb[i];
        }
    }
    let tail: f32 = a[chunks..].iter().zip(&b[chunks..]).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: this kernel is only selected after `is_x86_feature_detected!` confirmed AVX2
        // and FMA on the running CPU.
        unsafe { dot_avx2(a, b) }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY (all loads): every offset read is below `n`, the length of the shorter slice; the
        // unaligned load intrinsics have no alignment requirement.
        while i + 32 <= n {
            for (lane, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_loadu_ps(pa.add(i + lane * 8));
                let y = _mm256_loadu_ps(pb.add(i + lane * 8));
                *acc = _mm256_fmadd_ps(x, y, *acc);
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] =
                _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc[0]);
            i += 8;
        }
        let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
        let quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
        let single = _mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
        let mut total = _mm_cvtss_f32(single);
        while i < n {
            total += *pa.add(i) * *pb.add(i);
            i += 1;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_agrees_with_a_plain_sum_at_every_length() {
        for n in [0, 1, 7, 8, 9, 31, 32, 33, 100, 384, 1000] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 10.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 10.0).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            for (name, got) in [("dispatched", dot(&a, &b)), ("portable", portable_dot(&a, &b))] {
                assert!((f64::from(got) - want).abs() < 1e-4, "{name} n={n}: {got} vs {want}");
            }
        }
    }
}
