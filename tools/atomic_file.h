/* atomic_file.h — every file ddx writes goes to a temporary in the same
 * directory, is flushed and fsync'd, then renamed over the target: a full
 * disk, an error or a signal leaves the previous file untouched and no
 * temporary behind; concurrent writers of one path each leave a whole file
 * (the last rename wins). Targets that are not regular files (/dev/null, a
 * FIFO, a symlink to a device) are written in place and never removed. */
#ifndef DDX_ATOMIC_FILE_H
#define DDX_ATOMIC_FILE_H
#include <stddef.h>
#include <stdio.h>

typedef struct ddx_atomic {
    FILE *f;          /* write through this */
    char target[4096]; /* the path renamed over (a symlink's target resolved) */
    char tmp[4096];    /* the temporary, "" when writing in place */
    int fd, slot;
} ddx_atomic;

/* Opens a temporary for path. On failure returns -1 with one line in err
 * (messages here do not repeat the path: the caller names it). */
int ddx_atomic_open(ddx_atomic *a, const char *path, char *err, size_t cap);
/* Flushes, fsyncs and closes; the temporary stays until commit/abort.
 * Returns -1 (errno set, err filled) when anything failed. */
int ddx_atomic_close(ddx_atomic *a, char *err, size_t cap);
/* Renames the closed temporary over the target (and fsyncs the directory). */
int ddx_atomic_commit(ddx_atomic *a, char *err, size_t cap);
/* Closes if needed and removes the temporary; the target is untouched. */
void ddx_atomic_abort(ddx_atomic *a);

/* SIGINT/SIGTERM/SIGHUP remove every open temporary, then the process dies
 * of the signal as before. Called once by the command (idempotent). */
void ddx_atomic_install_signal_cleanup(void);

/* Whether two paths name one file (same device and inode); 0 when either
 * does not exist. */
int ddx_same_file(const char *a, const char *b);
/* Checks, before a long run, that path could be written: its directory
 * exists and is writable, and path is not a directory. */
int ddx_check_writable(const char *path, char *err, size_t cap);

#endif
