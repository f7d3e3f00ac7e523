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

/* opcodes, equal to ddx_unary_op plus the two powers */
#define DDX_R_NEG 0
#define DDX_R_EXP 1
#define DDX_R_LOG 2
#define DDX_R_SQRT 3
#define DDX_R_SIN 4
#define DDX_R_COS 5
#define DDX_R_TANH 6
#define DDX_R_SIGMOID 7
#define DDX_R_SOFTPLUS 8
#define DDX_R_SILU 9
#define DDX_R_POWI 10
#define DDX_R_POW 11

#define DDX_DEFINE_JET_RULES(T, SFX, EXP, LOG, LOG1P, SIN, COS, TANH, POW, SQRT, FABS)          \
    DDX_HD T ddx_horner_##SFX(const T *c, int deg, T x) {                                       \
        T r = c[deg];                                                                           \
        for (int j = deg - 1; j >= 0; j--) r = r * x + c[j];                                    \
        return r;                                                                               \
    }                                                                                           \
    /* z^m for integer m, exact for small |m| (repeated squaring) */                            \
    DDX_HD T ddx_ipow_##SFX(T z, int m) {                                                       \
        int neg = m < 0;                                                                        \
        unsigned e = (unsigned)(neg ? -m : m);                                                  \
        T r = (T)1, b = z;                                                                      \
        while (e) {                                                                             \
            if (e & 1u) r *= b;                                                                 \
            b *= b;                                                                             \
            e >>= 1;                                                                            \
        }                                                                                       \
        return neg ? (T)1 / r : r;                                                              \
    }                                                                                           \
    /* tanh'(z) and sigmoid'(z) without cancellation */                                       \
    DDX_HD T ddx_dtanh_##SFX(T z) {                                                             \
        T e = EXP((T)-2 * FABS(z));                                                             \
        return (T)4 * e / (((T)1 + e) * ((T)1 + e));                                            \
    }                                                                                           \
    /* sigmoid(z), and sigmoid'(z) into *d1, from one exp */                                    \
    DDX_HD T ddx_sigmoid_d1_##SFX(T z, T *d1) {                                                 \
        T e = EXP(-FABS(z)), r = (T)1 / ((T)1 + e);                                             \
        *d1 = e * r * r;                                                                        \
        return z >= (T)0 ? r : e * r;                                                           \
    }                                                                                           \
    DDX_HD void ddx_unary_derivs_##SFX(int op, T z, int K, T param, const T *poly, T *D) {      \
        switch (op) {                                                                           \
        case DDX_R_NEG:                                                                         \
            D[0] = -z;                                                                          \
            for (int k = 1; k <= K; k++) D[k] = k == 1 ? (T)-1 : (T)0;                          \
            break;                                                                              \
        case DDX_R_EXP: {                                                                       \
            T e = EXP(z);                                                                       \
            for (int k = 0; k <= K; k++) D[k] = e;                                              \
            break;                                                                              \
        }                                                                                       \
        case DDX_R_LOG: {                                                                       \
            D[0] = LOG(z);                                                                      \
            T r = (T)1 / z, p = r, f = (T)1;                                                    \
            for (int k = 1; k <= K; k++) {                                                      \
                D[k] = ((k & 1) ? f : -f) * p; /* (-1)^(k-1) (k-1)! z^-k */                     \
                p *= r;                                                                         \
                f *= (T)k;                                                                      \
            }                                                                                   \
            break;                                                                              \
        }                                                                                       \
        case DDX_R_SIN:                                                                         \
        case DDX_R_COS: {                                                                       \
            T s = SIN(z), c = COS(z);                                                           \
            T cyc[4];                                                                           \
            cyc[0] = s; cyc[1] = c; cyc[2] = -s; cyc[3] = -c;                                   \
            int sh = op == DDX_R_COS ? 1 : 0;                                                   \
            for (int k = 0; k <= K; k++) D[k] = cyc[(k + sh) & 3];                              \
            break;                                                                              \
        }                                                                                       \
        case DDX_R_TANH: {                                                                      \
            T t = TANH(z), d1 = ddx_dtanh_##SFX(z);                                             \
            D[0] = t;                                                                           \
            for (int k = 1; k <= K; k++) D[k] = d1 * ddx_horner_##SFX(poly + k * DDX_POLY_STRIDE, k - 1, t); \
            break;                                                                              \
        }                                                                                       \
        case DDX_R_SIGMOID: {                                                                   \
            T d1, s = ddx_sigmoid_d1_##SFX(z, &d1);                                             \
            D[0] = s;                                                                           \
            for (int k = 1; k <= K; k++) D[k] = d1 * ddx_horner_##SFX(poly + k * DDX_POLY_STRIDE, k - 1, s); \
            break;                                                                              \
        }                                                                                       \
        case DDX_R_SOFTPLUS: {                                                                  \
            T d1, s = ddx_sigmoid_d1_##SFX(z, &d1);                                             \
            /* log(1 + e^z) without overflow; softplus^(k) = sigmoid^(k-1) */                   \
            D[0] = (z > (T)0 ? z : (T)0) + LOG1P(EXP(-FABS(z)));                                \
            if (K >= 1) D[1] = s;                                                               \
            for (int k = 2; k <= K; k++) D[k] = d1 * ddx_horner_##SFX(poly + (k - 1) * DDX_POLY_STRIDE, k - 2, s); \
            break;                                                                              \
        }                                                                                       \
        case DDX_R_SILU: {                                                                      \
            T d1, s = ddx_sigmoid_d1_##SFX(z, &d1);                                             \
            D[0] = z * s;                                                                       \
            T prev = s; /* Q_{k-1}(s) */                                                        \
            for (int k = 1; k <= K; k++) {                                                      \
                T q = d1 * ddx_horner_##SFX(poly + k * DDX_POLY_STRIDE, k - 1, s);               \
                D[k] = z * q + (T)k * prev; /* Leibniz on z * sigmoid(z) */                     \
                prev = q;                                                                       \
            }                                                                                   \
            break;                                                                              \
        }                                                                                       \
        case DDX_R_POWI: {                                                                      \
            int n = (int)param;                                                                 \
            T f = (T)1;                                                                         \
            for (int k = 0; k <= K; k++) {                                                      \
                /* n(n-1)...(n-k+1) z^(n-k); zero past n for n >= 0 */                           \
                D[k] = (n >= 0 && k > n) ? (T)0 : f * ddx_ipow_##SFX(z, n - k);                 \
                f *= (T)(n - k);                                                                \
            }                                                                                   \
            break;                                                                              \
        }                                                                                       \
        case DDX_R_SQRT:                                                                        \
        case DDX_R_POW: {                                                                       \
            T p = op == DDX_R_SQRT ? (T)0.5 : param;                                            \
            T base = op == DDX_R_SQRT ? SQRT(z) : POW(z, p);                                    \
            T r = (T)1 / z, f = (T)1;                                                           \
            for (int k = 0; k <= K; k++) {                                                      \
                D[k] = f * base;                                                                \
                /* at z = 0, base * r is 0 * inf: give z^(p-k)'s limit instead of NaN */        \
                if (z == (T)0) {                                                                \
                    T e = p - (T)k;                                                             \
                    D[k] = f == (T)0 ? (T)0 : e > (T)0 ? (T)0 : e == (T)0 ? f : f * r;          \
                }                                                                               \
                base *= r;                                                                      \
                f *= (p - (T)k);                                                                \
            }                                                                                   \
            break;                                                                              \
        }                                                                                       \
        default:                                                                                \
            for (int k = 0; k <= K; k++) D[k] = (T)0;                                           \
        }                                                                                       \
    }

#endif
