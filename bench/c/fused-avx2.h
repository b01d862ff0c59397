/*
 * bench/c/fused-avx2.h -- the hot loops of bench/c/fused.c, included by it. Without
 * TUNED: plain loops that gcc -O3 -march=native auto-vectorises. With -DTUNED and AVX2
 * (build/bench/step-fused, the bench's "tuned AVX2 fused"): the same arithmetic written
 * for speed with AVX2 intrinsics, the kernel the emulator is measured against:
 *   dot_rows     one weight row against B activity rows, four sequences per pass
 *                over the row, vpmaddwd (pair sums wrap exactly like the i32 accumulator)
 *   activate_all tanh of both copies eight neurons per instruction (vpgatherdd from
 *                the table widened to int32) and da = a~ - a
 *   update_row   p_ij = sum_b m_bi pre_bj with the sequences interleaved in pairs
 *                (one vpmaddwd = two multiply-adds per lane, exact: |p| < 2^29), the
 *                ties-to-even rounding shift, vpackssdw (sat16 of the change) and
 *                vpaddsw (sat16 of the sum): 16 weights per iteration
 * -DTUNED without AVX2 falls back to the plain loops (portable, same bits).
 */
#if defined(TUNED) && defined(__AVX2__)
#include <immintrin.h>
#define TUNED_AVX2 1
#endif

/* Horizontal sum of 8 int32 lanes, wrapping. */
#if TUNED_AVX2
static inline int32_t hsum8(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}
#endif

/* out[b] = dot_wrap(row, act + b*n, n) for b < B. */
static void dot_rows(const int16_t *row, const int16_t *act, int n, int B, int32_t *out)
{
#if TUNED_AVX2
    int b = 0;
    for (; b + 4 <= B; b += 4) {
        const int16_t *a0 = act + (size_t)b * n, *a1 = a0 + n, *a2 = a1 + n, *a3 = a2 + n;
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        int j = 0;
        for (; j + 16 <= n; j += 16) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(row + j));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(w, _mm256_loadu_si256((const __m256i *)(a0 + j))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(w, _mm256_loadu_si256((const __m256i *)(a1 + j))));
            s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(w, _mm256_loadu_si256((const __m256i *)(a2 + j))));
            s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(w, _mm256_loadu_si256((const __m256i *)(a3 + j))));
        }
        uint32_t t0 = (uint32_t)hsum8(s0), t1 = (uint32_t)hsum8(s1), t2 = (uint32_t)hsum8(s2), t3 = (uint32_t)hsum8(s3);
        for (; j < n; j++) {
            t0 += (uint32_t)(row[j] * a0[j]);
            t1 += (uint32_t)(row[j] * a1[j]);
            t2 += (uint32_t)(row[j] * a2[j]);
            t3 += (uint32_t)(row[j] * a3[j]);
        }
        out[b] = (int32_t)t0;
        out[b + 1] = (int32_t)t1;
        out[b + 2] = (int32_t)t2;
        out[b + 3] = (int32_t)t3;
    }
    for (; b < B; b++) {
        const int16_t *a0 = act + (size_t)b * n;
        __m256i s0 = _mm256_setzero_si256(), s1 = s0; /* two chains: the adds' latency */
        int j = 0;
        for (; j + 32 <= n; j += 32) {
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(row + j)), _mm256_loadu_si256((const __m256i *)(a0 + j))));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(row + j + 16)), _mm256_loadu_si256((const __m256i *)(a0 + j + 16))));
        }
        for (; j + 16 <= n; j += 16)
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(row + j)), _mm256_loadu_si256((const __m256i *)(a0 + j))));
        uint32_t t0 = (uint32_t)hsum8(_mm256_add_epi32(s0, s1));
        for (; j < n; j++)
            t0 += (uint32_t)(row[j] * a0[j]);
        out[b] = (int32_t)t0;
    }
#else
    for (int b = 0; b < B; b++)
        out[b] = dot_wrap(row, act + (size_t)b * n, n);
#endif
}

/* r = act_tanh(pre_c), rn = act_tanh(pre_n), da = pre_n - pre_c over n neurons. */
static void activate_all(const int16_t *pre_c, const int16_t *pre_n, int16_t *r, int16_t *rn, int32_t *da, size_t n)
{
    size_t k = 0;
#if TUNED_AVX2
    /* this configuration: PRE_F <= 16 (z = |a| << (16 - PRE_F) < 2^31) and ACT_F = 15 */
#if PRE_F > 16 || ACT_F != 15
#error "the tuned tanh assumes pF <= 16 and aF = 15"
#endif
    static int32_t t32[TANH_TABLE_LEN];
    if (t32[TANH_TABLE_LEN - 1] == 0)
        for (int j = 0; j < TANH_TABLE_LEN; j++)
            t32[j] = TANH_TABLE[j];
    const __m256i c511 = _mm256_set1_epi32(511), c512 = _mm256_set1_epi32(512), m1023 = _mm256_set1_epi32(1023);
    const __m256i one = _mm256_set1_epi32(1), cmax = _mm256_set1_epi32(CODE_MAX);
    for (; k + 8 <= n; k += 8) {
        __m256i out[2];
        const int16_t *src[2] = { pre_c + k, pre_n + k };
        __m256i a2[2];
        for (int c = 0; c < 2; c++) {
            __m256i a = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)src[c]));
            a2[c] = a;
            __m256i z = _mm256_slli_epi32(_mm256_abs_epi32(a), 16 - PRE_F);
            __m256i kk = _mm256_srli_epi32(z, 10);
            __m256i big = _mm256_cmpgt_epi32(kk, c511);
            __m256i k0 = _mm256_min_epu32(kk, c512), k1 = _mm256_min_epu32(_mm256_add_epi32(kk, one), c512);
            __m256i fr = _mm256_andnot_si256(big, _mm256_and_si256(z, m1023));
            __m256i t0 = _mm256_i32gather_epi32(t32, k0, 4), t1 = _mm256_i32gather_epi32(t32, k1, 4);
            __m256i y = _mm256_add_epi32(t0, _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(_mm256_sub_epi32(t1, t0), fr), c512), 10));
            out[c] = _mm256_sign_epi32(_mm256_min_epi32(y, cmax), a); /* a = 0 gives T[0] = 0 either way */
        }
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(out[0], out[1]), 0xd8);
        _mm_storeu_si128((__m128i *)(r + k), _mm256_castsi256_si128(packed));
        _mm_storeu_si128((__m128i *)(rn + k), _mm256_extracti128_si256(packed, 1));
        _mm256_storeu_si256((__m256i *)(da + k), _mm256_sub_epi32(a2[1], a2[0]));
    }
#endif
    for (; k < n; k++) {
        r[k] = (int16_t)act_tanh(pre_c[k]);
        rn[k] = (int16_t)act_tanh(pre_n[k]);
        da[k] = (int32_t)pre_n[k] - pre_c[k];
    }
}

/* Tuned: pairs[q][2j + e] = pre[2q + e][j] (0 for the missing partner of an odd B). */
static void layer_prepare(LayerUpdate *u, int B)
{
#if TUNED_AVX2
    int cols = u->cols, P = (B + 1) / 2;
    for (int q = 0; q < P; q++)
        for (int j = 0; j < cols; j++) {
            u->pairs[((size_t)q * cols + j) * 2] = u->pre[(size_t)(2 * q) * cols + j];
            u->pairs[((size_t)q * cols + j) * 2 + 1] = 2 * q + 1 < B ? u->pre[(size_t)(2 * q + 1) * cols + j] : 0;
        }
#else
    (void)u;
    (void)B;
#endif
}

static void update_row(int16_t *w, int cols, const LayerUpdate *u, int rows, int i,
                       const int16_t *pre, int B, int32_t *p)
{
#if TUNED_AVX2
    if (cols < 16) {
        update_row_plain(w, cols, u, rows, i, pre, B, p);
        return;
    }
    if (skip_row(u, rows, i, B))
        return;
    int P = (B + 1) / 2;
    __m256i mp[64];
    /* B > 128 is left to the plain loop (the bench runs B <= 10) */
    if (P > 64) {
        rows_total--; /* counted again there */
        update_row_plain(w, cols, u, rows, i, pre, B, p);
        return;
    }
    for (int q = 0; q < P; q++) {
        uint32_t lo = (uint16_t)u->m[(size_t)(2 * q) * rows + i];
        uint32_t hi = 2 * q + 1 < B ? (uint16_t)u->m[(size_t)(2 * q + 1) * rows + i] : 0;
        mp[q] = _mm256_set1_epi32((int32_t)(lo | hi << 16));
    }
    int s = u->s;
    __m128i sh = _mm_cvtsi32_si128(s);
    __m256i half_m1 = _mm256_set1_epi32(s > 0 ? ((int32_t)1 << (s - 1)) - 1 : 0);
    __m256i one = _mm256_set1_epi32(1);
    int j = 0;
    if (B == 1) {
        /* one sequence: p = m x exactly from vpmullw/vpmulhw; unpacking within 128-bit
         * lanes and vpackssdw restore the column order */
        __m256i m0 = _mm256_set1_epi16(u->m[i]);
        for (; j + 16 <= cols; j += 16) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(pre + j));
            __m256i lo = _mm256_mullo_epi16(m0, x), hi = _mm256_mulhi_epi16(m0, x);
            __m256i p0 = _mm256_unpacklo_epi16(lo, hi), p1 = _mm256_unpackhi_epi16(lo, hi);
            if (s > 0) {
                p0 = _mm256_sra_epi32(_mm256_add_epi32(_mm256_add_epi32(p0, half_m1), _mm256_and_si256(_mm256_sra_epi32(p0, sh), one)), sh);
                p1 = _mm256_sra_epi32(_mm256_add_epi32(_mm256_add_epi32(p1, half_m1), _mm256_and_si256(_mm256_sra_epi32(p1, sh), one)), sh);
            }
            __m256i d = _mm256_packs_epi32(p0, p1);
            __m256i wv = _mm256_loadu_si256((const __m256i *)(w + j));
            _mm256_storeu_si256((__m256i *)(w + j), _mm256_adds_epi16(wv, d));
        }
    }
    for (; B > 1 && j + 16 <= cols; j += 16) {
        __m256i p0 = _mm256_setzero_si256(), p1 = p0;
        for (int q = 0; q < P; q++) {
            const int16_t *src = u->pairs + ((size_t)q * cols + j) * 2;
            p0 = _mm256_add_epi32(p0, _mm256_madd_epi16(mp[q], _mm256_loadu_si256((const __m256i *)src)));
            p1 = _mm256_add_epi32(p1, _mm256_madd_epi16(mp[q], _mm256_loadu_si256((const __m256i *)(src + 16))));
        }
        if (s > 0) {
            p0 = _mm256_sra_epi32(_mm256_add_epi32(_mm256_add_epi32(p0, half_m1), _mm256_and_si256(_mm256_sra_epi32(p0, sh), one)), sh);
            p1 = _mm256_sra_epi32(_mm256_add_epi32(_mm256_add_epi32(p1, half_m1), _mm256_and_si256(_mm256_sra_epi32(p1, sh), one)), sh);
        }
        /* p0 holds cols j..j+7, p1 j+8..j+15; packs interleaves 128-bit halves */
        __m256i d = _mm256_permute4x64_epi64(_mm256_packs_epi32(p0, p1), 0xd8);
        __m256i wv = _mm256_loadu_si256((const __m256i *)(w + j));
        _mm256_storeu_si256((__m256i *)(w + j), _mm256_adds_epi16(wv, d));
    }
    for (; j < cols; j++) {
        int32_t acc = 0;
        for (int b = 0; b < B; b++)
            acc += u->m[(size_t)b * rows + i] * pre[(size_t)b * cols + j];
        int32_t q = s > 0 ? (acc + (((int32_t)1 << (s - 1)) - 1) + ((acc >> s) & 1)) >> s : acc;
        w[j] = sat16_i32(w[j] + sat16_i32(q));
    }
    (void)p;
#else
    update_row_plain(w, cols, u, rows, i, pre, B, p);
#endif
}
