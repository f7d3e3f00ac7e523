/* fuzz_onnx.c — libFuzzer harness for the ONNX reader and importer
 * (host/onnx_pb.c, host/onnx_import.c). Each input is a candidate .onnx
 * file. Beyond "no crash, no leak, no UB" it checks the contract: a failure
 * leaves a one-line message in the graph; a success gives output columns
 * that compile, and evaluate at a few points without error (so whatever
 * the importer accepts is a graph the compiler takes).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fopenmp \
 *     -D_POSIX_C_SOURCE=200809L -Iinclude -I. $(ls host/graph/*.c host/compiler/*.c host/runtime/*.c host/cpu/*.c host/import/*.c kernels/cpu/*.c host/cuda/backend_cuda_none.c) \
 *     tests/fuzz/fuzz_onnx.c -lm -o /tmp/fuzz_onnx
 *   mkdir -p /tmp/corpus && cp -r tests/fuzz/corpus_onnx/. /tmp/corpus/
 *   /tmp/fuzz_onnx -max_total_time=600 -timeout=10 -rss_limit_mb=2048 -max_len=16384 /tmp/corpus
 *
 * Crashers found are kept in tests/fuzz/crashers_onnx/; tests/test_onnx.c
 * replays them and the whole corpus, tests/cli/test_onnx_cli.sh the
 * crashers and hand-made hostile seeds through `ddx info`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddx.h"
#include "host/import/onnx_import.h"

static void check(int ok, const char *what, const char *err) {
    if (!ok) {
        fprintf(stderr, "contract broken: %s (%s)\n", what, err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ddx_graph *g = ddx_graph_create();
    ddx_node outs[64];
    char names[64][64];
    int n = 0;
    ddx_status st = ddx_graph_from_onnx(g, data, size, NULL, outs, 64, &n, names);
    const char *err = ddx_graph_error(g);
    if (st != DDX_OK) {
        check(err[0] != 0 && strchr(err, '\n') == NULL, "one-line message", err);
        check(ddx_graph_status(g) == st, "status kept in the graph", err);
        ddx_graph_free(g);
        return 0;
    }
    check(n >= 1 && n <= 64, "output count", "");
    for (int k = 0; k < n; k++) check(ddx_node_width(g, outs[k]) == 1, "scalar outputs", names[k]);
    int d = ddx_graph_num_inputs(g);
    check(d >= 1 && d <= DDX_ONNX_MAX_COLUMNS, "input count", "");
    /* value and first derivatives of each output: must compile and run */
    ddx_node cols[8];
    int nc = 0;
    for (int k = 0; k < n && k < 4; k++) {
        cols[nc++] = outs[k];
        cols[nc++] = ddx_grad(g, outs[k], ddx_graph_input(g, 0));
    }
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CPU;
    o.precision = DDX_F64;
    o.num_threads = 1;
    ddx_program *p = NULL;
    /* huge layers are legal but slow the fuzzer; compile only small graphs */
    if (ddx_graph_status(g) == DDX_OK && size < 20000 && ddx_compile(g, cols, nc, &o, &p) == DDX_OK) {
        double *pts = malloc(sizeof(double) * 3 * (size_t)d), out[3 * 64 * 2];
        check(pts != NULL, "points", "");
        for (int i = 0; i < 3 * d; i++) pts[i] = 0.25 * (i % 5) - 0.5;
        check(ddx_program_eval(p, pts, 3, out) == DDX_OK, "eval", ddx_program_error(p));
        free(pts);
        ddx_program_free(p);
    }
    ddx_graph_free(g);
    return 0;
}
