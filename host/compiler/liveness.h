/* liveness.h — the one workspace allocator by liveness, shared by the CPU
 * layout (lower.c: tile workspace) and the CUDA fused layout (cuda_emit.c:
 * shared-memory rows). Values take blocks of rows; a block is reused, best
 * fit, once its value has been read for the last time. */
#ifndef DDX_LIVENESS_H
#define DDX_LIVENESS_H

#include <stdint.h>

typedef struct live_block {
    int64_t off, size;
    int owner; /* value, or -1 when free */
} live_block;

typedef struct live_alloc {
    live_block *bl;
    int nb;
    int64_t total; /* rows used: the workspace size */
} live_alloc;

/* Room for n_values values (each placement adds at most two blocks). */
int live_init(live_alloc *a, int n_values);
void live_free(live_alloc *a);
/* Places value v (need rows) and returns its offset: in the block of value
 * `over` when over >= 0 and that block is large enough (*took = 1: v writes
 * over a value that dies here), else the smallest free block that fits
 * (split), else new rows at the end. took may be NULL. */
int64_t live_place(live_alloc *a, int v, int64_t need, int over, int *took);
/* Frees the blocks of values whose last read is at `step` (last[value]),
 * except value keep; and v's own block when v is never read (last[v] < 0). */
void live_release(live_alloc *a, const int *last, int step, int v);

#endif
