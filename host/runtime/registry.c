/* registry.c — the backends, in the order DDX_DEVICE_AUTO tries them, and
 * the one device policy: AUTO takes the first backend that is available
 * now; a device asked for by name and missing is an error, never a silent
 * fallback. Adding a backend is a row here; program.c names none. */
#include <stdio.h>

#include "host/runtime/backend.h"

static const ddx_backend_i *cpu_backend(void) { return &ddx_backend_cpu; }

static const struct {
    ddx_device device;
    const char *name;
    const ddx_backend_i *(*get)(void); /* NULL result: not built in */
} REGISTRY[] = {
    {DDX_DEVICE_CUDA, "cuda", ddx_backend_cuda},
    {DDX_DEVICE_CPU, "cpu", cpu_backend},
};
#define N_BACKENDS ((int)(sizeof REGISTRY / sizeof REGISTRY[0]))

const ddx_backend_i *ddx_backend_of(ddx_device device) {
    for (int i = 0; i < N_BACKENDS; i++)
        if (REGISTRY[i].device == device) return REGISTRY[i].get();
    return NULL;
}

/* The backend of row i if it can run now; else NULL and why. */
static const ddx_backend_i *usable(int i, char *why, size_t cap) {
    const ddx_backend_i *be = REGISTRY[i].get();
    char tmp[256] = "";
    if (!be) snprintf(tmp, sizeof tmp, "ddx was built without %s", REGISTRY[i].name);
    else if (be->available(tmp, sizeof tmp)) return be;
    if (why && cap) snprintf(why, cap, "device %s: %s", REGISTRY[i].name, tmp);
    return NULL;
}

const ddx_backend_i *ddx_backend_select(ddx_device want, ddx_device *got, char *why, size_t cap) {
    if (why && cap) why[0] = 0;
    for (int i = 0; i < N_BACKENDS; i++) {
        if (want != DDX_DEVICE_AUTO && REGISTRY[i].device != want) continue;
        /* AUTO skips what is not there (the first reason stays in why) */
        char tmp[320];
        const ddx_backend_i *be = usable(i, tmp, sizeof tmp);
        if (be) {
            if (got) *got = REGISTRY[i].device;
            return be;
        }
        if (why && cap && !why[0]) snprintf(why, cap, "%s", tmp);
        if (want != DDX_DEVICE_AUTO) return NULL;
    }
    if (why && cap && !why[0]) snprintf(why, cap, "unknown device %d", (int)want);
    return NULL;
}

int ddx_device_available(ddx_device device, char *why, size_t cap) {
    return ddx_backend_select(device, NULL, why, cap) != NULL;
}
