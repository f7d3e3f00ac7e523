/* main.c — the `ddx` command: dispatch to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "tools/cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "ddx %s — a network and its input derivatives at millions of points\n"
            "\n"
            "usage: ddx COMMAND [options]   (ddx COMMAND --help for its options)\n"
            "\n"
            "  eval    evaluate derivatives/residuals at points, write them to a file\n"
            "  check   compare ddx with float64 finite differences, per column\n"
            "  info    coefficient set per node, channels, FLOPs per point, strategy\n"
            "  export  write an mlp: model's weights as .npy files + manifest.json\n"
            "  bench   time a program: points/s, GFLOP/s, fraction of machine peak\n"
            "  demo    Hessians of a built-in PINN network at 2^20 points, checked\n"
            "\n"
            "models:  expr:log(x+2)   expr:sin(t)*exp(-x^2)   mlp:2-64-64-64-64-1:tanh[:seed=N][:blocks=B]\n"
            "derivs:  u,u_x,u_xx,u_tx  D(u,x1,x1)  grad(u)  hessian(u)  laplacian(u)\n"
            "         u_t + u*u_x - 0.01*u_xx   (arithmetic: one column, fused)\n"
            "         hessdiag(u)  op2(u, a11,..,add)  biharmonic(u)   (any number of inputs; collapsed channels)\n"
            "         laplacian(u, samples=16, seed=1[, dist=gaussian])   (stochastic, STDE; also op2, biharmonic)\n"
            "         op2(u, A=@A.npy)   sum_ij a_ij u_ij, A a d x d .npy or .csv (header row), any d\n",
            ddx_version());
}

int main(int argc, char **argv) {
    ddx_atomic_install_signal_cleanup(); /* a signal leaves no temporary and the old output */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(c, "--version")) {
        printf("ddx %s\n", ddx_version());
        return 0;
    }
    if (!strcmp(c, "eval")) return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(c, "check")) return cmd_check(argc - 2, argv + 2);
    if (!strcmp(c, "info")) return cmd_info(argc - 2, argv + 2);
    if (!strcmp(c, "export")) return cmd_export(argc - 2, argv + 2);
    if (!strcmp(c, "demo")) return cmd_demo(argc - 2, argv + 2);
    if (!strcmp(c, "bench")) return cmd_bench(argc - 2, argv + 2);
    fprintf(stderr, "ddx: unknown command '%s' (eval, check, info, export, bench, demo; ddx --help)\n", c);
    return 2;
}
