/* atomic_file.c — see atomic_file.h. The FILE is a fopencookie stream over
 * write(2), so every byte goes through the write symbol (the fault-injection
 * shim in tests/faultinject fails it after K bytes) and errors are seen. */
#define _GNU_SOURCE
#include "tools/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Temporaries open now, for the signal handler: fixed storage, since a
 * handler may only read memory and call async-signal-safe unlink(). */
#define SLOTS 16
static char tmp_paths[SLOTS][4096];
static volatile sig_atomic_t tmp_used[SLOTS];

static int claim_slot(const char *path) {
    for (int i = 0; i < SLOTS; i++)
        if (!tmp_used[i]) {
            snprintf(tmp_paths[i], sizeof tmp_paths[i], "%s", path);
            tmp_used[i] = 1;
            return i;
        }
    return -1; /* still atomic; only a signal would leave this one behind */
}

static void release_slot(int i) {
    if (i >= 0 && i < SLOTS) tmp_used[i] = 0;
}

static void on_signal(int sig) {
    for (int i = 0; i < SLOTS; i++)
        if (tmp_used[i]) unlink(tmp_paths[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

void ddx_atomic_install_signal_cleanup(void) {
    static int done;
    if (done) return;
    done = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        /* leave a signal the caller ignores (nohup) ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

static ssize_t cookie_write(void *c, const char *buf, size_t n) {
    int fd = *(int *)c;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return done ? (ssize_t)done : -1;
        }
        if (w == 0) {
            errno = ENOSPC;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)w;
    }
    return (ssize_t)done;
}

static int cookie_close(void *c) {
    (void)c; /* the fd is closed by ddx_atomic_close after fsync */
    return 0;
}

static FILE *stream_over(ddx_atomic *a) {
    cookie_io_functions_t io = {NULL, cookie_write, NULL, cookie_close};
    return fopencookie(&a->fd, "w", io);
}

int ddx_atomic_open(ddx_atomic *a, const char *path, char *err, size_t cap) {
    memset(a, 0, sizeof *a);
    a->fd = -1;
    a->slot = -1;
    struct stat st;
    if (strlen(path) + 32 >= sizeof a->tmp) {
        snprintf(err, cap, "path too long");
        return -1;
    }
    snprintf(a->target, sizeof a->target, "%s", path);
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, cap, "is a directory");
            return -1;
        }
        /* a device or FIFO: write in place, never rename over or remove it */
        a->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (a->fd < 0) {
            snprintf(err, cap, "cannot open: %s", strerror(errno));
            return -1;
        }
    } else {
        /* a symlink to a file: replace the file it points to, keep the link */
        char real[PATH_MAX];
        struct stat lst;
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) && realpath(path, real))
            snprintf(a->target, sizeof a->target, "%s", real);
        char dirbuf[4096], basebuf[4096];
        snprintf(dirbuf, sizeof dirbuf, "%s", a->target);
        snprintf(basebuf, sizeof basebuf, "%s", a->target);
        const char *dir = dirname(dirbuf), *base = basename(basebuf);
        int n = snprintf(a->tmp, sizeof a->tmp, "%s/.%s.tmp-%ld-XXXXXX", dir, base, (long)getpid());
        if (n < 0 || (size_t)n >= sizeof a->tmp) {
            snprintf(err, cap, "path too long");
            a->tmp[0] = 0;
            return -1;
        }
        a->fd = mkstemp(a->tmp);
        if (a->fd < 0) {
            snprintf(err, cap, "cannot create a file in '%s': %s", dir, strerror(errno));
            a->tmp[0] = 0;
            return -1;
        }
        a->slot = claim_slot(a->tmp);
        /* mkstemp makes 0600; an output file is as readable as any other */
        mode_t um = umask(0);
        umask(um);
        fchmod(a->fd, 0666 & ~um);
    }
    a->f = stream_over(a);
    if (!a->f) {
        snprintf(err, cap, "cannot open a stream: %s", strerror(errno));
        ddx_atomic_abort(a);
        return -1;
    }
    return 0;
}

int ddx_atomic_close(ddx_atomic *a, char *err, size_t cap) {
    int ok = 1, e = 0;
    if (a->f) {
        if (fflush(a->f) != 0 || ferror(a->f)) ok = 0, e = errno;
        fclose(a->f);
        a->f = NULL;
    }
    if (a->fd >= 0) {
        /* fsync before rename: otherwise a crash can leave the new name on
         * an empty file. EINVAL: a device or pipe that cannot sync. */
        if (ok && fsync(a->fd) != 0 && errno != EINVAL && errno != EROFS) ok = 0, e = errno;
        if (close(a->fd) != 0 && ok && errno != EINTR) ok = 0, e = errno;
        a->fd = -1;
    }
    if (!ok) {
        snprintf(err, cap, "write error: %s", strerror(e ? e : EIO));
        errno = e ? e : EIO;
        return -1;
    }
    return 0;
}

int ddx_atomic_commit(ddx_atomic *a, char *err, size_t cap) {
    if (!a->tmp[0]) return 0; /* written in place */
    if (rename(a->tmp, a->target) != 0) {
        snprintf(err, cap, "cannot replace: %s", strerror(errno));
        ddx_atomic_abort(a);
        return -1;
    }
    release_slot(a->slot);
    a->slot = -1;
    a->tmp[0] = 0;
    /* make the rename itself durable */
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", a->target);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

void ddx_atomic_abort(ddx_atomic *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
    if (a->tmp[0]) unlink(a->tmp);
    a->tmp[0] = 0;
    release_slot(a->slot);
    a->slot = -1;
}

int ddx_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int ddx_check_writable(const char *path, char *err, size_t cap) {
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, cap, "is a directory");
            return -1;
        }
        if (!S_ISREG(st.st_mode)) return access(path, W_OK) == 0 ? 0 : (snprintf(err, cap, "not writable: %s", strerror(errno)), -1);
    }
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    const char *dir = dirname(dirbuf);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "directory '%s' does not exist", dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(err, cap, "cannot write in directory '%s': %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}
