/* How many f32 multiply-adds one core of this machine can issue a second, with AVX2 (8
 * lanes) and with AVX-512 (16 lanes): twelve independent chains of fused multiply-adds, long
 * enough to hide their latency, kept in registers. The ceiling against which docs/BENCH.md
 * reads the matrix-product and convolution kernels' GMAC/s. Not part of Inkread's build:
 *
 *   gcc -O2 scripts/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Twelve chains; the empty asm keeps the compiler from folding or reordering them away. */
#define CHAINS(F, C)                                                                         \
  a0 = F(a0, b, c); a1 = F(a1, b, c); a2 = F(a2, b, c); a3 = F(a3, b, c);                    \
  a4 = F(a4, b, c); a5 = F(a5, b, c); a6 = F(a6, b, c); a7 = F(a7, b, c);                    \
  a8 = F(a8, b, c); a9 = F(a9, b, c); a10 = F(a10, b, c); a11 = F(a11, b, c);                \
  __asm__ volatile("" : "+" C(a0), "+" C(a1), "+" C(a2), "+" C(a3), "+" C(a4), "+" C(a5),    \
                   "+" C(a6), "+" C(a7), "+" C(a8), "+" C(a9), "+" C(a10), "+" C(a11));

__attribute__((target("avx512f"))) static float chains512(long n) {
  __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
  __m512 a0 = b, a1 = c, a2 = b, a3 = c, a4 = b, a5 = c, a6 = b, a7 = c, a8 = b, a9 = c,
         a10 = b, a11 = c;
  for (long k = 0; k < n; k++) { CHAINS(_mm512_fmadd_ps, "v") }
  __m512 s = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float chains256(long n) {
  __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
  __m256 a0 = b, a1 = c, a2 = b, a3 = c, a4 = b, a5 = c, a6 = b, a7 = c, a8 = b, a9 = c,
         a10 = b, a11 = c;
  for (long k = 0; k < n; k++) { CHAINS(_mm256_fmadd_ps, "x") }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a10, a11)));
  return lanes[0];
}

int main(void) {
  const long n = 200000000;
  double t = now();
  float sink = chains256(n);
  double s = now() - t;
  printf("AVX2:    %.1f GMAC/s on one core\n", n * 12.0 * 8 / s / 1e9);
  t = now();
  sink += chains512(n);
  s = now() - t;
  printf("AVX-512: %.1f GMAC/s on one core\n", n * 12.0 * 16 / s / 1e9);
  return sink == 0.12345f; /* uses the sums, so they are computed */
}
