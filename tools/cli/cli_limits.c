/* cli_limits.c — checks made before a long run or a big allocation: the
 * memory a batch needs against what this process may use (so an oversized
 * --n is a message, not the OOM killer), and --threads against the cores. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tools/cli/cli.h"

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* A number from a one-line file ("max" or missing: no limit). */
static uint64_t read_limit_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return UINT64_MAX;
    char buf[64] = "";
    if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
    fclose(f);
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    return end == buf ? UINT64_MAX : (uint64_t)v;
}

uint64_t cli_memory_available(void) {
    uint64_t avail = UINT64_MAX;
    /* MemAvailable: what can be had without swapping */
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) avail = (uint64_t)kb * 1024;
        fclose(f);
    }
    /* a cgroup v2 limit (containers, systemd-run -p MemoryMax=) */
    uint64_t max = read_limit_file("/sys/fs/cgroup/memory.max"), cur = read_limit_file("/sys/fs/cgroup/memory.current");
    if (max != UINT64_MAX) avail = min_u64(avail, cur != UINT64_MAX && cur < max ? max - cur : 0);
    /* ulimit -v */
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) avail = min_u64(avail, (uint64_t)rl.rlim_cur);
    const char *hook = getenv("DDX_TEST_MEMORY_AVAILABLE"); /* tests: a small machine on a big one */
    if (hook && *hook) avail = min_u64(avail, (uint64_t)strtoull(hook, NULL, 10));
    return avail;
}

static void human(uint64_t b, char *buf, size_t cap) {
    if (b >= ((uint64_t)1 << 30)) snprintf(buf, cap, "%.1f GiB", (double)b / (double)((uint64_t)1 << 30));
    else snprintf(buf, cap, "%.1f MiB", (double)b / (double)((uint64_t)1 << 20));
}

int cli_check_memory(const char *cmd, int64_t n, int d, int k, size_t elem, const char *what) {
    /* points + outputs; the tile workspace is small beside them */
    if (n < 0 || d < 0 || k < 0) return cli_fail(cmd, "bad batch size");
    long double need_l = (long double)n * (long double)(d + k) * (long double)elem;
    uint64_t need = need_l > (long double)UINT64_MAX ? UINT64_MAX : (uint64_t)need_l;
    uint64_t avail = cli_memory_available();
    if (need > avail || need_l > (long double)SIZE_MAX) {
        char a[32], b[32];
        human(need, a, sizeof a);
        human(avail, b, sizeof b);
        return cli_fail(cmd, "out of memory for %lld points: %s needs %s (%d inputs + %d outputs x %zu bytes per point), "
                        "%s available", (long long)n, what, a, d, k, elem, b);
    }
    return 0;
}

int cli_cap_threads(const char *cmd, int threads) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    long cap = 4 * cores; /* more than this only adds contention */
    if (threads > cap) {
        fprintf(stderr, "ddx %s: note: --threads %d capped to %ld (4 x %ld cores)\n", cmd, threads, cap, cores);
        return (int)cap;
    }
    return threads;
}

/* Output path checks made before any work: writable, and not an input. */
int cli_check_output(const char *cmd, const char *opt, const char *out, const char *in) {
    char err[512];
    if (in && ddx_same_file(in, out))
        return cli_fail(cmd, "%s '%s' is the input file: it would be replaced by the results", opt, out);
    if (ddx_check_writable(out, err, sizeof err)) return cli_fail(cmd, "%s '%s': %s", opt, out, err);
    return 0;
}
