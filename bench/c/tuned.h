/*
 * bench/c/tuned.h -- the tuned native build of firmware/core (build/firmware/host/step-avx2, the
 * kernel the emulator is measured against): included by firmware/core/kernel.c when it
 * is compiled with -DANPT_TUNED -march=native (make -C firmware host), never by the firmware.
 * The same arithmetic as the core's plain loops, written with AVX2 intrinsics:
 *   tuned_dot_wrap    one weight row against one activity row, vpmaddwd (pair sums
 *                     wrap exactly like the i32 accumulator), two chains of adds
 *   tuned_update_row  p_ij = sum_b m_bi pre_bj with the sequences interleaved in pairs
 *                     (one vpmaddwd = two multiply-adds per lane, exact: |p| < 2^29), the
 *                     ties-to-even rounding shift, vpackssdw (sat16 of the change) and
 *                     vpaddsw (sat16 of the sum): 16 weights per iteration
 * Only 16-bit saturating weights with nearest rounding take the AVX2 update (the bench's
 * configuration); anything else, or a machine without AVX2, runs the core's plain loops.
 * Same bits: test/c-crosscheck.test.ts checks the dumps of both builds.
 */
#include <stdlib.h>

#if defined(__AVX2__)
#include <immintrin.h>

static int32_t tuned_dot_wrap(const int16_t *a, const int16_t *b, uint32_t n)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    uint32_t j = 0;
    for (; j + 32 <= n; j += 32) {
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + j)), _mm256_loadu_si256((const __m256i *)(b + j))));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + j + 16)), _mm256_loadu_si256((const __m256i *)(b + j + 16))));
    }
    for (; j + 16 <= n; j += 16)
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + j)), _mm256_loadu_si256((const __m256i *)(b + j))));
    __m256i v = _mm256_add_epi32(s0, s1);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    uint32_t t = (uint32_t)_mm_cvtsi128_si32(s);
    for (; j < n; j++)
        t += (uint32_t)((int32_t)a[j] * b[j]);
    return (int32_t)t;
}

/* The layer update in progress: its presynaptic rows interleaved in pairs of sequences,
 * pairs[q][2j + e] = pre[2q + e][j] (0 for the missing partner of an odd B). */
static struct {
    int16_t *pairs;
    size_t cap;
    const int16_t *pre;
    uint32_t cols, B;
    int s;
} tu;

static int tuned_update_begin(const int16_t *pre, uint32_t cols, uint32_t B, int s, const anpt_fmt *f)
{
    if (f->rounding != ANPT_RND_NEAREST || f->wrap || f->bits != 16 || cols < 16 || B > 128)
        return 0;
    uint32_t P = (B + 1) / 2;
    size_t need = (size_t)P * cols * 2;
    if (need > tu.cap) {
        free(tu.pairs);
        tu.pairs = malloc(need * sizeof(int16_t)); /* bench build on a desktop only */
        tu.cap = tu.pairs ? need : 0;
        if (!tu.pairs)
            return 0;
    }
    for (uint32_t q = 0; q < P; q++)
        for (uint32_t j = 0; j < cols; j++) {
            tu.pairs[((size_t)q * cols + j) * 2] = pre[(size_t)(2 * q) * cols + j];
            tu.pairs[((size_t)q * cols + j) * 2 + 1] = 2 * q + 1 < B ? pre[(size_t)(2 * q + 1) * cols + j] : 0;
        }
    tu.pre = pre;
    tu.cols = cols;
    tu.B = B;
    tu.s = s;
    return 1;
}

static inline __m256i tuned_round(__m256i p, int s, __m128i sh, __m256i half_m1, __m256i one)
{
    if (s <= 0)
        return p;
    return _mm256_sra_epi32(_mm256_add_epi32(_mm256_add_epi32(p, half_m1), _mm256_and_si256(_mm256_sra_epi32(p, sh), one)), sh);
}

/* row_j = sat16(row_j + sat16(rshift_nearest(sum_b m_b pre_bj, s))), m: B mantissas. */
static void tuned_update_row(int16_t *row, const int16_t *m)
{
    const uint32_t cols = tu.cols, B = tu.B, P = (B + 1) / 2;
    const int s = tu.s;
    __m256i mp[64];
    for (uint32_t q = 0; q < P; q++) {
        uint32_t lo = (uint16_t)m[2 * q];
        uint32_t hi = 2 * q + 1 < B ? (uint16_t)m[2 * q + 1] : 0;
        mp[q] = _mm256_set1_epi32((int32_t)(lo | hi << 16));
    }
    const __m128i sh = _mm_cvtsi32_si128(s);
    const __m256i half_m1 = _mm256_set1_epi32(s > 0 ? ((int32_t)1 << (s - 1)) - 1 : 0);
    const __m256i one = _mm256_set1_epi32(1);
    uint32_t j = 0;
    for (; j + 16 <= cols; j += 16) {
        __m256i p0 = _mm256_setzero_si256(), p1 = p0;
        for (uint32_t q = 0; q < P; q++) {
            const int16_t *src = tu.pairs + ((size_t)q * cols + j) * 2;
            p0 = _mm256_add_epi32(p0, _mm256_madd_epi16(mp[q], _mm256_loadu_si256((const __m256i *)src)));
            p1 = _mm256_add_epi32(p1, _mm256_madd_epi16(mp[q], _mm256_loadu_si256((const __m256i *)(src + 16))));
        }
        p0 = tuned_round(p0, s, sh, half_m1, one);
        p1 = tuned_round(p1, s, sh, half_m1, one);
        /* p0 holds cols j..j+7, p1 j+8..j+15; packs interleaves 128-bit halves */
        __m256i d = _mm256_permute4x64_epi64(_mm256_packs_epi32(p0, p1), 0xd8);
        __m256i wv = _mm256_loadu_si256((const __m256i *)(row + j));
        _mm256_storeu_si256((__m256i *)(row + j), _mm256_adds_epi16(wv, d));
    }
    for (; j < cols; j++) {
        int32_t acc = 0;
        for (uint32_t b = 0; b < B; b++)
            acc += m[b] * tu.pre[(size_t)b * cols + j];
        int32_t q = s > 0 ? (acc + (((int32_t)1 << (s - 1)) - 1) + ((acc >> s) & 1)) >> s : acc;
        q = q > 32767 ? 32767 : q < -32768 ? -32768 : q;
        int32_t w = row[j] + q;
        row[j] = (int16_t)(w > 32767 ? 32767 : w < -32768 ? -32768 : w);
    }
}

#else /* no AVX2: the core's plain loops */

#define tuned_dot_wrap dot_wrap
static int tuned_update_begin(const int16_t *pre, uint32_t cols, uint32_t B, int s, const anpt_fmt *f)
{
    (void)pre; (void)cols; (void)B; (void)s; (void)f;
    return 0;
}
static void tuned_update_row(int16_t *row, const int16_t *m)
{
    (void)row; (void)m;
}
#endif
