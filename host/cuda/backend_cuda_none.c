/* backend_cuda_none.c — linked instead of the CUDA backend when ddx is
 * built without CUDA: AUTO then means CPU and `cuda` is a clear error. */
#include "host/runtime/backend.h"

const ddx_backend_i *ddx_backend_cuda(void) { return 0; }

int ddx_cuda_device_count(void) { return 0; }
