/* fault_write.c — LD_PRELOAD shim that makes writes fail, for testing that
 * a full disk or a signal mid-write loses nothing (tests/cli/test_reliability.sh).
 *   DDX_FAULT_WRITE_AFTER=K   write(2) to files (fd >= 3) fails with ENOSPC once
 *                             K bytes have gone through, as on a full disk
 *   DDX_FAULT_SIGNAL_AFTER=K  raise SIGINT once K bytes have gone through
 *   DDX_FAULT_FSYNC=1         fsync(2) fails with EIO
 * Only calls that go through the dynamic symbol are seen; ddx's writers use
 * write(2) directly for that reason (tools/atomic_file.c). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static long long env_ll(const char *name) {
    const char *v = getenv(name);
    return v && *v ? atoll(v) : -1;
}

static long long written;
static int signalled;

ssize_t write(int fd, const void *buf, size_t n) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (fd >= 3) {
        long long limit = env_ll("DDX_FAULT_WRITE_AFTER"), sig = env_ll("DDX_FAULT_SIGNAL_AFTER");
        if (sig >= 0 && !signalled && written + (long long)n > sig) {
            signalled = 1;
            raise(SIGINT);
        }
        if (limit >= 0) {
            if (written >= limit) {
                errno = ENOSPC;
                return -1;
            }
            if (written + (long long)n > limit) n = (size_t)(limit - written); /* a short write, then ENOSPC */
        }
        written += (long long)n;
    }
    return real(fd, buf, n);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (env_ll("DDX_FAULT_FSYNC") == 1) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}
