/* test_util.h — shared helpers of the cmocka tests. */
#ifndef DDX_TEST_UTIL_H
#define DDX_TEST_UTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "ddx.h"

/* Relative error with a floor, so values near zero compare absolutely. */
double rel_err(double got, double want, double floor);
/* Compiles outs and evaluates n points (double in, double out) at the given
 * precision on the CPU; fails the test on any error. out has n*K doubles. */
void eval_graph(ddx_graph *g, const ddx_node *outs, int nouts, ddx_precision prec, const double *pts,
                int64_t n, double *out);
/* Compiles outs for the CPU at precision prec; fails the test on error. */
ddx_program *compile_cpu(ddx_graph *g, const ddx_node *outs, int nouts, ddx_precision prec);
/* Evaluates a compiled program on double points at precision prec (points
 * converted to f32 and outputs back to double for f32); returns its status. */
ddx_status eval_program(ddx_program *p, ddx_precision prec, const double *pts, int64_t n, double *out);
/* Fails the test with the graph's message when the graph has an error. */
void assert_graph_ok(const ddx_graph *g);
/* Deterministic uniform numbers in [lo, hi). */
double test_uniform(uint64_t *state, double lo, double hi);
/* d inputs named x1..xd (a malloc'ed array the caller frees). */
ddx_node *test_numbered_inputs(ddx_graph *g, int d);
/* u = w3 . tanh(W2 tanh(W1 x + b1) + b2) + b3 over test_numbered_inputs,
 * width h <= 64, Xavier-uniform weights from seed (the many-input tests). */
ddx_node test_small_mlp(ddx_graph *g, int d, int h, uint64_t seed);

#endif
