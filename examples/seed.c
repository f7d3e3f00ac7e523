/* seed.c — the question that started ddx: the derivatives of log(x + 2)
 * at x = 1 up to 4th order, exactly (no finite differences).
 * Build: cc -Iinclude examples/seed.c build/libddx.a -fopenmp -lm -o seed */
#include <stdio.h>
#include "ddx.h"

int main(void) {
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x");
    ddx_node u = ddx_log(g, ddx_add(g, x, ddx_const(g, 2.0)));
    ddx_node d[5] = {u};
    for (int k = 1; k < 5; k++) d[k] = ddx_grad(g, d[k - 1], x); /* nested grad */

    ddx_compile_options opt;
    ddx_compile_options_default(&opt);
    opt.precision = DDX_F64;
    ddx_program *p;
    if (ddx_compile(g, d, 5, &opt, &p) != DDX_OK) {
        fprintf(stderr, "compile: %s\n", ddx_graph_error(g));
        return 1;
    }
    double pt = 1.0, out[5];
    if (ddx_program_eval(p, &pt, 1, out) != DDX_OK) {
        fprintf(stderr, "eval: %s\n", ddx_program_error(p));
        return 1;
    }
    printf("log 3 = %.15f\n1/3 = %.15f\n-1/9 = %.15f\n2/27 = %.15f\n-2/27 = %.15f\n", out[0], out[1], out[2],
           out[3], out[4]);
    ddx_program_free(p);
    ddx_graph_free(g);
    return 0;
}
