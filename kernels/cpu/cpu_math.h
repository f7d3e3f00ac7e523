/* cpu_math.h — tanh written so that a loop over a tile vectorizes (glibc's
 * tanhf is a call per element and was half of the CPU evaluator's time).
 *
 * tanh|x| = -m / (2 + m), m = expm1(-2|x|), which keeps full relative
 * accuracy near 0 (no 1 - e cancellation). expm1 by Cody-Waite reduction
 * z = k ln2 + r, |r| <= ln2/2, expm1(z) = 2^k expm1(r) + (2^k - 1), with
 * expm1(r) a Taylor polynomial (degree 8 in f32, 14 in f64: truncation
 * below half an ulp on |r| <= 0.347). Measured error: tests/test_cpu_math.c.
 *
 * Each also returns tanh'(x) = 4e / (1 + e)^2, e = exp(-2|x|) =
 * 2^k (1 + expm1(r)), from the same reduction: full relative accuracy where
 * 1 - tanh^2 cancels (|x| > ~5 in f32), 0 only once it underflows. */
#ifndef DDX_CPU_MATH_H
#define DDX_CPU_MATH_H

#include <stdint.h>
#include <string.h>

static inline float ddx_fast_tanh_d1f(float x, float *d1) {
    float ax = x < 0 ? -x : x;
    /* past 43, tanh is 1 and tanh' < 1e-37 (2^k below stays normal); NaN below */
    float big = ax > 43.0f ? 0.0f : 1.0f;
    ax = ax < 43.0f ? ax : 43.0f;
    float z = -2.0f * ax;
    /* k = round(z / ln2) via the 1.5*2^23 trick (vectorizes, no call) */
    float kf = (z * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = (z - kf * 0.693145751953125f) - kf * 1.42860682030941723212e-6f;
    float p = 1.0f / 40320;
    p = p * r + 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r * r + r; /* expm1(r) */
    int32_t k = (int32_t)kf;
    int32_t bits = (k + 127) << 23;
    float two_k;
    memcpy(&two_k, &bits, sizeof two_k);
    float m = two_k * p + (two_k - 1.0f);
    float q = 1.0f / (2.0f + m); /* 2 + m = 1 + e: one division for both */
    float t = -m * q;
    float e = two_k * (1.0f + p);
    *d1 = big * 4.0f * e * q * q;
    t = x < 0 ? -t : t;
    *d1 = x != x ? x : *d1;
    return x != x ? x : t;
}


static inline double ddx_fast_tanh_d1(double x, double *d1) {
    double ax = x < 0 ? -x : x;
    /* past 354, tanh is 1 and tanh' < 1e-306 (2^k below stays normal) */
    double big = ax > 354.0 ? 0.0 : 1.0;
    ax = ax < 354.0 ? ax : 354.0;
    double z = -2.0 * ax;
    double kf = (z * 1.4426950408889634074 + 6755399441055744.0) - 6755399441055744.0;
    double r = (z - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10;
    static const double c[] = {1.0 / 87178291200.0, 1.0 / 6227020800.0, 1.0 / 479001600.0,
                               1.0 / 39916800.0,    1.0 / 3628800.0,    1.0 / 362880.0,
                               1.0 / 40320.0,       1.0 / 5040.0,       1.0 / 720.0,
                               1.0 / 120.0,         1.0 / 24.0,         1.0 / 6.0,
                               0.5};
    double p = c[0];
    for (int i = 1; i < 13; i++) p = p * r + c[i];
    p = p * r * r + r;
    int64_t k = (int64_t)kf;
    int64_t bits = (k + 1023) << 52;
    double two_k;
    memcpy(&two_k, &bits, sizeof two_k);
    double m = two_k * p + (two_k - 1.0);
    double q = 1.0 / (2.0 + m); /* 2 + m = 1 + e: one division for both */
    double t = -m * q;
    double e = two_k * (1.0 + p);
    *d1 = big * 4.0 * e * q * q;
    t = x < 0 ? -t : t;
    *d1 = x != x ? x : *d1;
    return x != x ? x : t;
}


#endif
