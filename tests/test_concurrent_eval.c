/* test_concurrent_eval.c — several threads evaluate one program at once
 * (CPU backend): every thread gets the right outputs, and a failing call's
 * message is that call's own, whatever the other threads do. Run under
 * ThreadSanitizer by tests/ci/tsan.sh, where any shared write in the eval
 * path (the error buffer included) is a reported race. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define NT 4
#define NPTS 64
#define ROUNDS 200

static ddx_program *prog;
static double pts[NPTS * 2], want[NPTS * 3];

typedef struct {
    int id, failures;
    char what[160];
} worker;

static void *run(void *arg) {
    worker *w = arg;
    double out[NPTS * 3];
    for (int r = 0; r < ROUNDS && !w->failures; r++) {
        /* odd threads alternate good calls with two kinds of bad ones */
        int kind = (w->id & 1) ? r % 3 : 0;
        ddx_status st = kind == 0 ? ddx_program_eval(prog, pts, NPTS, out)
                      : kind == 1 ? ddx_program_eval(prog, NULL, NPTS, out)
                                  : ddx_program_eval(prog, pts, 0, out);
        const char *msg = ddx_program_error(prog);
        const char *expect = kind == 0 ? "" : kind == 1 ? "eval: points is NULL" : "eval: no points (n = 0)";
        if (st != (kind == 0 ? DDX_OK : DDX_ERR_INVALID_ARG) || strcmp(msg, expect) != 0) {
            snprintf(w->what, sizeof w->what, "thread %d round %d: status %d, message '%s', expected '%s'", w->id, r,
                     (int)st, msg, expect);
            w->failures++;
        }
        if (kind == 0 && memcmp(out, want, sizeof out) != 0) {
            snprintf(w->what, sizeof w->what, "thread %d round %d: outputs differ from a lone evaluation", w->id, r);
            w->failures++;
        }
    }
    return NULL;
}

static void test_concurrent_eval(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x"), y = ddx_input(g, "y");
    ddx_node u = ddx_tanh(g, ddx_add(g, ddx_mul(g, x, y), ddx_sin(g, x)));
    ddx_node outs[3] = {u, ddx_grad(g, u, x), ddx_laplacian(g, u)};
    assert_graph_ok(g);
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CPU;
    o.precision = DDX_F64;
    o.num_threads = 1; /* threads of our own, not OpenMP's (TSan does not see libgomp's synchronisation) */
    o.tile_points = 32;
    assert_int_equal(ddx_compile(g, outs, 3, &o, &prog), DDX_OK);
    for (int i = 0; i < NPTS * 2; i++) pts[i] = -1.0 + 2.0 * i / (NPTS * 2);
    assert_int_equal(ddx_program_eval(prog, pts, NPTS, want), DDX_OK);
    pthread_t th[NT];
    worker w[NT];
    for (int t = 0; t < NT; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].id = t;
        assert_int_equal(pthread_create(&th[t], NULL, run, &w[t]), 0);
    }
    for (int t = 0; t < NT; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < NT; t++)
        if (w[t].failures) fail_msg("%s", w[t].what);
    /* the main thread's own last call succeeded: its message is empty */
    assert_string_equal(ddx_program_error(prog), "");
    ddx_program_free(prog);
    ddx_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_concurrent_eval)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
