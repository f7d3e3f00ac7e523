/* test_hooks.h — what tests set to reach paths no input can reach (a full
 * GPU, say). Internal: in the static library, which the tests link; not
 * exported by libddx.so and never read from the environment. */
#ifndef DDX_TEST_HOOKS_H
#define DDX_TEST_HOOKS_H

#include <stddef.h>

typedef struct ddx_test_hooks_t {
    /* device allocations larger than this many bytes fail as out of
     * memory (0: off), to exercise the chunk halving without a full GPU */
    size_t cuda_oom_above;
} ddx_test_hooks_t;

extern ddx_test_hooks_t ddx_test_hooks;

#endif
