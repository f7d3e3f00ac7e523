/* cpu_math.h — tanh written so that a loop over a tile vectorizes (glibc's
 * tanhf is a call per element and was half of the CPU evaluator's time).
 *
 * tanh|x| = -m / (2 + m), m = expm1(-2|x|), which keeps full relative
 * accuracy near 0 (no 1 - e cancellation). expm1 by Cody-Waite reduction
 * z = k ln2 + r, |r| <= ln2/2, expm1(z) = 2^k expm1(r) + (2^k - 1), with
 * expm1(r) a Taylor polynomial (degree 8 in f32, 14 in f64: truncation
 * below half an ulp on |r| <= 0.347). Measured error: tests/test_cpu_math.c. */
#ifndef DDX_CPU_MATH_H
#define DDX_CPU_MATH_H

#include <stdint.h>
#include <string.h>

static inline float ddx_fast_tanhf(float x) {
    float ax = x < 0 ? -x : x;
    ax = ax < 9.5f ? ax : 9.5f; /* tanh(9.5) rounds to 1 in float; NaN handled below */
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
    float t = -m / (2.0f + m);
    t = x < 0 ? -t : t;
    return x != x ? x : t;
}

static inline double ddx_fast_tanh(double x) {
    double ax = x < 0 ? -x : x;
    ax = ax < 19.5 ? ax : 19.5; /* tanh(19.5) rounds to 1 in double */
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
    double t = -m / (2.0 + m);
    t = x < 0 ? -t : t;
    return x != x ? x : t;
}

#endif
