/* ddx_jet_rules.h — derivative tables f^(k)(z) of the elementwise ops,
 * shared by the CPU evaluator (host C) and the generated CUDA kernels
 * (NVRTC), so the GPU runs exactly the rules the CPU tests check.
 *
 * D[k] = f^(k)(z) for k = 0..K. tanh and sigmoid use the polynomial
 * recurrences P_{k+1}(t) = (1 - t^2) P_k'(t) in t = tanh z and
 * Q_{k+1}(s) = s(1 - s) Q_k'(s) in s = sigmoid z. For k >= 1 both carry the
 * first derivative as a factor, P_k = tanh' R_k(t), Q_k = sigmoid' R_k(s);
 * the compiler computes the R_k once (poly: row 0 the identity, row k >= 1
 * R_k of degree k - 1, DDX_POLY_STRIDE coefficients, lowest power first)
 * and tanh' = 4e / (1 + e)^2 with e = exp(-2|z|), sigmoid' = e / (1 + e)^2
 * with e = exp(-|z|), keep full relative accuracy in saturation, where
 * 1 - t^2 and s(1 - s) cancel to a few ulp or to 0. */
#ifndef DDX_JET_RULES_H
#define DDX_JET_RULES_H

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define DDX_HD __host__ __device__ __forceinline__
#else
#include <math.h>
#define DDX_HD static inline
#endif

#define DDX_POLY_STRIDE 12 /* >= DDX_MAX_ORDER + 2 */

#include "ddx_ops.def"

/* Rule codes: DDX_R_<ID> = DDX_<ID> for every row of ddx_ops.def, then the
 * two powers after the last row (so a new row never renumbers them). */
#define DDX_R_ENUM_(a, ID, name, onnx, P) DDX_R_##ID,
enum { DDX_UNARY_OPS(DDX_R_ENUM_, _) DDX_R_POWI, DDX_R_POW, DDX_R_COUNT };
#undef DDX_R_ENUM_

/* erf and erfc per precision (float and double on host and device) */
#define DDX_ERFC_f32 erfcf
#define DDX_ERFC_f64 erfc
#define DDX_ERF_f32 erff
#define DDX_ERF_f64 erf
/* one dispatch case per row: the row's jet rule ddx_jet_<name>_<SFX> must exist */
#define DDX_JET_CASE_(SFX, ID, name, onnx, P) \
    case DDX_R_##ID: ddx_jet_##name##_##SFX(z, K, param, poly, D); break;

/* the signature every rule shares (param: the exponent of pow/powi; poly:
 * the table of ddx_ops.def's POLY column) */
#define DDX_JET_RULE_(name, T, SFX) DDX_HD void ddx_jet_##name##_##SFX(T z, int K, T param, const T *poly, T *D)

/* Defines, for one precision T (suffix SFX), the rules ddx_jet_<op>_SFX(z, K,
 * param, poly, D) and the dispatch ddx_unary_derivs_SFX(op, ...). */
#define DDX_DEFINE_JET_RULES(T, SFX, EXP, LOG, LOG1P, SIN, COS, TANH, POW, SQRT, FABS)       \
    DDX_HD T ddx_horner_##SFX(const T *c, int deg, T x) {                                    \
        T r = c[deg];                                                                        \
        for (int j = deg - 1; j >= 0; j--) r = r * x + c[j];                                 \
        return r;                                                                            \
    }                                                                                        \
    /* z^m for integer m, exact for small |m| (repeated squaring) */                         \
    DDX_HD T ddx_ipow_##SFX(T z, int m) {                                                    \
        int neg = m < 0;                                                                     \
        unsigned e = (unsigned)(neg ? -m : m);                                               \
        T r = (T)1, b = z;                                                                   \
        while (e) {                                                                          \
            if (e & 1u) r *= b;                                                              \
            b *= b;                                                                          \
            e >>= 1;                                                                         \
        }                                                                                    \
        return neg ? (T)1 / r : r;                                                           \
    }                                                                                        \
    /* tanh'(z) and sigmoid'(z) without cancellation */                                      \
    DDX_HD T ddx_dtanh_##SFX(T z) {                                                          \
        T e = EXP((T)-2 * FABS(z));                                                          \
        return (T)4 * e / (((T)1 + e) * ((T)1 + e));                                         \
    }                                                                                        \
    /* sigmoid(z), and sigmoid'(z) into *d1, from one exp */                                 \
    DDX_HD T ddx_sigmoid_d1_##SFX(T z, T *d1) {                                              \
        T e = EXP(-FABS(z)), r = (T)1 / ((T)1 + e);                                          \
        *d1 = e * r * r;                                                                     \
        return z >= (T)0 ? r : e * r;                                                        \
    }                                                                                        \
    /* sin and cos: the cycle s, c, -s, -c starting at sh */                                 \
    DDX_HD void ddx_jet_cyc_##SFX(T z, int K, int sh, T *D) {                                \
        T s = SIN(z), c = COS(z);                                                            \
        T cyc[4];                                                                            \
        cyc[0] = s; cyc[1] = c; cyc[2] = -s; cyc[3] = -c;                                    \
        for (int k = 0; k <= K; k++) D[k] = cyc[(k + sh) & 3];                               \
    }                                                                                        \
    /* z^p for real p, base = z^p computed by the caller */                                  \
    DDX_HD void ddx_jet_rpow_##SFX(T z, int K, T p, T base, T *D) {                          \
        T r = (T)1 / z, f = (T)1;                                                            \
        for (int k = 0; k <= K; k++) {                                                       \
            D[k] = f * base;                                                                 \
            /* at z = 0, base * r is 0 * inf: give z^(p-k)'s limit instead of NaN */         \
            if (z == (T)0) {                                                                 \
                T e = p - (T)k;                                                              \
                D[k] = f == (T)0 ? (T)0 : e > (T)0 ? (T)0 : e == (T)0 ? f : f * r;           \
            }                                                                                \
            base *= r;                                                                       \
            f *= (p - (T)k);                                                                 \
        }                                                                                    \
    }                                                                                        \
    DDX_JET_RULE_(neg, T, SFX) {                                                             \
        (void)param; (void)poly;                                                             \
        D[0] = -z;                                                                           \
        for (int k = 1; k <= K; k++) D[k] = k == 1 ? (T)-1 : (T)0;                           \
    }                                                                                        \
    DDX_JET_RULE_(exp, T, SFX) {                                                             \
        (void)param; (void)poly;                                                             \
        T e = EXP(z);                                                                        \
        for (int k = 0; k <= K; k++) D[k] = e;                                               \
    }                                                                                        \
    DDX_JET_RULE_(log, T, SFX) {                                                             \
        (void)param; (void)poly;                                                             \
        D[0] = LOG(z);                                                                       \
        T r = (T)1 / z, p = r, f = (T)1;                                                     \
        for (int k = 1; k <= K; k++) {                                                       \
            D[k] = ((k & 1) ? f : -f) * p; /* (-1)^(k-1) (k-1)! z^-k */                      \
            p *= r;                                                                          \
            f *= (T)k;                                                                       \
        }                                                                                    \
    }                                                                                        \
    DDX_JET_RULE_(sqrt, T, SFX) {                                                            \
        (void)param;                                                                         \
        (void)poly;                                                                          \
        ddx_jet_rpow_##SFX(z, K, (T)0.5, SQRT(z), D);                                        \
    }                                                                                        \
    DDX_JET_RULE_(sin, T, SFX) {                                                             \
        (void)param;                                                                         \
        (void)poly;                                                                          \
        ddx_jet_cyc_##SFX(z, K, 0, D);                                                       \
    }                                                                                        \
    DDX_JET_RULE_(cos, T, SFX) {                                                             \
        (void)param;                                                                         \
        (void)poly;                                                                          \
        ddx_jet_cyc_##SFX(z, K, 1, D);                                                       \
    }                                                                                        \
    DDX_JET_RULE_(tanh, T, SFX) {                                                            \
        (void)param;                                                                         \
        T t = TANH(z), d1 = ddx_dtanh_##SFX(z);                                              \
        D[0] = t;                                                                            \
        for (int k = 1; k <= K; k++)                                                         \
            D[k] = d1 * ddx_horner_##SFX(poly + k * DDX_POLY_STRIDE, k - 1, t);              \
    }                                                                                        \
    DDX_JET_RULE_(sigmoid, T, SFX) {                                                         \
        (void)param;                                                                         \
        T d1, s = ddx_sigmoid_d1_##SFX(z, &d1);                                              \
        D[0] = s;                                                                            \
        for (int k = 1; k <= K; k++)                                                         \
            D[k] = d1 * ddx_horner_##SFX(poly + k * DDX_POLY_STRIDE, k - 1, s);              \
    }                                                                                        \
    DDX_JET_RULE_(softplus, T, SFX) {                                                        \
        (void)param;                                                                         \
        T d1, s = ddx_sigmoid_d1_##SFX(z, &d1);                                              \
        /* log(1 + e^z) without overflow; softplus^(k) = sigmoid^(k-1) */                    \
        D[0] = (z > (T)0 ? z : (T)0) + LOG1P(EXP(-FABS(z)));                                 \
        if (K >= 1) D[1] = s;                                                                \
        for (int k = 2; k <= K; k++)                                                         \
            D[k] = d1 * ddx_horner_##SFX(poly + (k - 1) * DDX_POLY_STRIDE, k - 2, s);        \
    }                                                                                        \
    DDX_JET_RULE_(silu, T, SFX) {                                                            \
        (void)param;                                                                         \
        T d1, s = ddx_sigmoid_d1_##SFX(z, &d1);                                              \
        D[0] = z * s;                                                                        \
        T prev = s; /* Q_{k-1}(s) */                                                         \
        for (int k = 1; k <= K; k++) {                                                       \
            T q = d1 * ddx_horner_##SFX(poly + k * DDX_POLY_STRIDE, k - 1, s);               \
            D[k] = z * q + (T)k * prev; /* Leibniz on z * sigmoid(z) */                      \
            prev = q;                                                                        \
        }                                                                                    \
    }                                                                                        \
    /* gelu(z) = z Phi(z), Phi the normal CDF (exact erf form). Phi' = phi and               \
     * phi^(j) = (-1)^j He_j(z) phi (probabilists' Hermite He), so by Leibniz                \
     * gelu^(k) = z Phi^(k) + k Phi^(k-1) = (-1)^k phi (k He_{k-2} - z He_{k-1}), k >= 2. */ \
    DDX_JET_RULE_(gelu, T, SFX) {                                                            \
        (void)param; (void)poly;                                                             \
        T Phi = (T)0.5 * DDX_ERFC_##SFX(-z * (T)0.70710678118654752440);                     \
        T phi = (T)0.39894228040143267794 * EXP((T)-0.5 * z * z);                            \
        D[0] = z * Phi;                                                                      \
        if (K >= 1) D[1] = Phi + z * phi;                                                    \
        T h0 = (T)1, h1 = z; /* He_{k-2}, He_{k-1} */                                        \
        for (int k = 2; k <= K; k++) {                                                       \
            T v = phi * ((T)k * h0 - z * h1);                                                \
            D[k] = (k & 1) ? -v : v;                                                         \
            T h2 = z * h1 - (T)(k - 1) * h0;                                                 \
            h0 = h1;                                                                         \
            h1 = h2;                                                                         \
        }                                                                                    \
    }                                                                                        \
    /* erf' = (2/sqrt(pi)) e^(-z^2) and erf^(k) = (-1)^(k-1) H_{k-1}(z) erf'                 \
     * (physicists' Hermite H: H_0 = 1, H_1 = 2z, H_{n+1} = 2z H_n - 2n H_{n-1}) */          \
    DDX_JET_RULE_(erf, T, SFX) {                                                             \
        (void)param; (void)poly;                                                             \
        T d1 = (T)1.12837916709551257390 * EXP(-z * z);                                      \
        D[0] = DDX_ERF_##SFX(z);                                                             \
        T h0 = (T)0, h1 = (T)1; /* H_{k-2}, H_{k-1} */                                       \
        for (int k = 1; k <= K; k++) {                                                       \
            D[k] = ((k & 1) ? d1 : -d1) * h1;                                                \
            T h2 = (T)2 * z * h1 - (T)2 * (T)(k - 1) * h0;                                   \
            h0 = h1;                                                                         \
            h1 = h2;                                                                         \
        }                                                                                    \
    }                                                                                        \
    DDX_JET_RULE_(powi, T, SFX) {                                                            \
        (void)poly;                                                                          \
        int n = (int)param;                                                                  \
        T f = (T)1;                                                                          \
        for (int k = 0; k <= K; k++) {                                                       \
            /* n(n-1)...(n-k+1) z^(n-k); zero past n for n >= 0 */                           \
            D[k] = (n >= 0 && k > n) ? (T)0 : f * ddx_ipow_##SFX(z, n - k);                  \
            f *= (T)(n - k);                                                                 \
        }                                                                                    \
    }                                                                                        \
    DDX_JET_RULE_(pow, T, SFX) {                                                             \
        (void)poly;                                                                          \
        ddx_jet_rpow_##SFX(z, K, param, POW(z, param), D);                                   \
    }                                                                                        \
    DDX_HD void ddx_unary_derivs_##SFX(int op, T z, int K, T param, const T *poly, T *D) {   \
        switch (op) {                                                                        \
        DDX_UNARY_OPS(DDX_JET_CASE_, SFX)                                                    \
        case DDX_R_POWI: ddx_jet_powi_##SFX(z, K, param, poly, D); break;                    \
        case DDX_R_POW: ddx_jet_pow_##SFX(z, K, param, poly, D); break;                      \
        default:                                                                             \
            for (int k = 0; k <= K; k++) D[k] = (T)0;                                        \
        }                                                                                    \
    }                                                                                        \

#endif
