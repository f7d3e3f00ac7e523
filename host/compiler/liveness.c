/* liveness.c — best-fit block reuse by last read (see liveness.h). */
#include "host/compiler/liveness.h"

#include <stdlib.h>

int live_init(live_alloc *a, int n_values) {
    a->nb = 0;
    a->total = 0;
    a->bl = malloc(sizeof(live_block) * (size_t)(2 * n_values + 2));
    return a->bl ? 0 : -1;
}

void live_free(live_alloc *a) {
    free(a->bl);
    a->bl = NULL;
}

int64_t live_place(live_alloc *a, int v, int64_t need, int over, int *took) {
    live_block *bl = a->bl;
    int best = -1;
    if (over >= 0)
        for (int b = 0; b < a->nb; b++)
            if (bl[b].owner == over && bl[b].size >= need) best = b;
    if (took) *took = best >= 0;
    if (best < 0)
        for (int b = 0; b < a->nb; b++)
            if (bl[b].owner < 0 && bl[b].size >= need && (best < 0 || bl[b].size < bl[best].size)) best = b;
    if (best >= 0) {
        if (bl[best].size > need) { /* split off the rest, free */
            bl[a->nb++] = (live_block){bl[best].off + need, bl[best].size - need, -1};
            bl[best].size = need;
        }
    } else {
        best = a->nb++;
        bl[best] = (live_block){a->total, need, -1};
        a->total += need;
    }
    bl[best].owner = v;
    return bl[best].off;
}

void live_release(live_alloc *a, const int *last, int step, int v) {
    for (int b = 0; b < a->nb; b++) {
        int o = a->bl[b].owner;
        if (o >= 0 && o != v && last[o] == step) a->bl[b].owner = -1;
    }
    if (last[v] < 0) /* never read (not an output either): drop at once */
        for (int b = 0; b < a->nb; b++)
            if (a->bl[b].owner == v) a->bl[b].owner = -1;
}
