/* test_hooks.c — the hooks tests set (see test_hooks.h); all off. */
#include "host/runtime/test_hooks.h"

ddx_test_hooks_t ddx_test_hooks;
