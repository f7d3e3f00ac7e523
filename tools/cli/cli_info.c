/* cli_info.c — `ddx info`: what the compiler made of the request. */
#include <stdlib.h>
#include <string.h>

#include "tools/cli/cli.h"
#include "kernels/cpu/cpu_kernels.h"


static const char *HELP =
    "usage: ddx info --model SPEC --derivs LIST [--inputs t,x] [--device auto|cpu|cuda]\n"
    "                [--precision f32|f64] [--strategy auto|fused|cublas] [--arch sm_90]\n"
    "                [--collapse on|off]\n"
    "  Prints the coefficient (multi-index) set each node carries, the channels through\n"
    "  the network, useful FLOPs per point and the device strategy. With --device cuda\n"
    "  and no GPU present, the kernel is still compiled with NVRTC for --arch (default\n"
    "  sm_90) and its registers and spills are reported. --collapse off (also for eval,\n"
    "  check, bench) carries laplacian/op2/biharmonic as the partials they sum instead\n"
    "  of collapsed channels (lap, lap x1, lap^2), to compare.\n";

int cmd_info(int argc, char **argv) {
    if (cli_wants_help(argc, argv, HELP)) return 0;
    cli_opts o;
    if (cli_parse(argc, argv, "info", "model derivs inputs device precision strategy arch threads tile collapse", &o))
        return 2;
    cli_job job;
    if (cli_build(&o, &job, "info")) return 1;
    int rc = 1;
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    if (!buf) goto done;
    printf("model: %s\nderivs: %s (%d columns:", o.model, o.derivs, job.cols.n);
    for (int k = 0; k < job.cols.n; k++) printf(" %s", job.cols.names[k]);
    printf(")\n");
    {   /* the CPU kernel variant, and the others this CPU could run */
        char why[200] = "";
        const ddx_cpu_kernels *k = ddx_cpu_active(why, sizeof why);
        const ddx_cpu_kernels *const *v = ddx_cpu_variants();
        printf("cpu kernels: %s (this CPU runs:", k ? k->name : why);
        for (int i = 0; v[i]; i++)
            if ((v[i]->needs & ddx_cpu_features()) == v[i]->needs) printf(" %s", v[i]->name);
        printf("; DDX_CPU_ISA forces one)\n");
    }
    ddx_compile_options co;
    ddx_compile_options_default(&co);
    co.precision = o.precision;
    co.strategy = o.strategy;
    co.n_cuda_devices = o.n_cuda_devices;
    memcpy(co.cuda_devices, o.cuda_devices, sizeof co.cuda_devices);
    if (o.device == DDX_DEVICE_CUDA) {
        co.device = DDX_DEVICE_CUDA;
        ddx_program *p = NULL;
        if (ddx_compile(job.model.g, job.cols.cols, job.cols.n, &co, &p) == DDX_OK) {
            ddx_program_describe(p, buf, cap);
            fputs(buf, stdout);
            ddx_program_free(p);
            rc = 0;
            goto done;
        }
        if (ddx_graph_status(job.model.g) != DDX_ERR_NO_DEVICE) {
            cli_fail("info", "%s", ddx_graph_error(job.model.g));
            goto done;
        }
        /* no GPU here: describe the CPU lowering, then compile offline */
        ddx_graph_clear_error(job.model.g);
        fprintf(stderr, "ddx info: note: no CUDA device; compiling the kernel offline for %s\n",
                o.arch ? o.arch : "sm_90");
        o.device = DDX_DEVICE_CPU;
        if (cli_compile(&o, &job, "info")) goto done;
        ddx_program_describe(job.prog, buf, cap);
        fputs(buf, stdout);
        if (ddx_cuda_compile_report(job.model.g, job.cols.cols, job.cols.n, &co, o.arch ? o.arch : "sm_90", buf,
                                    cap) != DDX_OK) {
            cli_fail("info", "%s", ddx_graph_error(job.model.g));
            goto done;
        }
        fputs(buf, stdout);
        rc = 0;
        goto done;
    }
    if (cli_compile(&o, &job, "info")) goto done;
    ddx_program_describe(job.prog, buf, cap);
    fputs(buf, stdout);
    rc = 0;
done:
    free(buf);
    cli_job_free(&job);
    return rc;
}
