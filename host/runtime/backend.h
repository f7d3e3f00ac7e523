/* backend.h — the interface every device implements (ggml-style), so the
 * compiler and the program object never name a device. */
#ifndef DDX_BACKEND_H
#define DDX_BACKEND_H
#include <stddef.h>
#include "host/compiler/jet_program.h"
#include "host/compiler/needs.h"

typedef struct ddx_backend_i {
    const char *name;
    /* What lowering may give this backend's programs (needs.h flags):
     * NEEDS_CONST_JET (it runs cjet), NEEDS_SPARSITY (it runs the sparse marks). */
    int lower_flags;
    /* 1 if usable now; else 0 and a one-line reason in why. */
    int (*available)(char *why, size_t cap);
    /* Builds device state for a program (kernels, weights on the device). */
    ddx_status (*prepare)(const jet_program *p, const ddx_compile_options *opt, void **state,
                          char *err, size_t cap);
    /* points n x d, out n x K, host memory, in opt->precision. */
    ddx_status (*run)(void *state, const jet_program *p, const void *points, int64_t n, void *out,
                      char *err, size_t cap);
    void (*release)(void *state);
    /* Appends how the program runs on this device (strategy, registers...). */
    size_t (*describe)(void *state, char *buf, size_t cap);
    /* Optional: points and out already in device memory. */
    ddx_status (*run_device)(void *state, const jet_program *p, const void *d_points, int64_t n, void *d_out,
                             char *err, size_t cap);
    /* Optional: compile for `arch` without a device and report (CUDA: NVRTC
     * registers/spills, strategy). */
    ddx_status (*offline_report)(const jet_program *p, const ddx_compile_options *opt, const char *arch,
                                 char *buf, size_t cap, char *err, size_t errcap);
} ddx_backend_i;

extern const ddx_backend_i ddx_backend_cpu;
/* The CUDA backend, or NULL when ddx was built without CUDA. */
const ddx_backend_i *ddx_backend_cuda(void);

/* The registry (registry.c). The backend for a device (AUTO: the first
 * available in registry order) and the device it is, or NULL and why
 * ("device cuda: no CUDA driver ..."). */
const ddx_backend_i *ddx_backend_select(ddx_device want, ddx_device *got, char *why, size_t cap);
/* The backend built in for a device, available or not (NULL: not built). */
const ddx_backend_i *ddx_backend_of(ddx_device device);

#endif
