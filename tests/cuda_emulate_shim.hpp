/* cuda_emulate_shim.hpp — runs ddx's generated CUDA kernels on the host.
 *
 * test_cuda_emulate.c writes a generated kernel (the exact source NVRTC
 * gets) next to a small main() that includes this header first and the
 * kernel second, compiles both with the host C++ compiler and compares the
 * results with the CPU evaluator. The CUDA keywords become nothing; each
 * thread of a block is a ucontext coroutine; __syncthreads() switches back
 * to the scheduler, which runs every thread up to its next barrier before
 * any thread passes it, exactly the guarantee CUDA gives. Checks on top:
 *   - all threads of a block reach the same barriers (or a thread exits while
 *     others wait: reported as divergence);
 *   - threads run in forward order and, in a second run, in reverse order
 *     between barriers: a missing barrier shows up as different results;
 *   - shared memory starts as all-ones bytes (NaN), so reading a jet row
 *     before it is written poisons the outputs; guard bytes around it and
 *     around the output buffer catch writes out of bounds.
 * Not covered: warp-level behaviour, the real memory model, timing. */
#ifndef DDX_CUDA_EMULATE_SHIM_HPP
#define DDX_CUDA_EMULATE_SHIM_HPP

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <functional>
#include <vector>

#define DDX_EMULATE 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __constant__
#define __shared__
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) alignas(n)

struct ddx_emu_dim3 {
    unsigned x, y, z;
};
static ddx_emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) double2 {
    double x, y;
};

namespace ddx_emu {
enum { RUNNING = 0, AT_BARRIER = 1, DONE = 2 };
struct thread_ctx {
    ucontext_t ctx;
    int state;
};
static std::vector<thread_ctx> threads;
static std::vector<char> stacks;
static const size_t STACK = 256 * 1024;
static ucontext_t main_ctx;
static int cur;
static std::function<void()> body;
static unsigned char *smem;
static size_t smem_size;
static const size_t GUARD = 256;
static long long barriers;

static void entry() {
    body();
    threads[cur].state = DONE; /* returning resumes main_ctx (uc_link) */
}
} // namespace ddx_emu

static unsigned char *ddx_emu_smem() { return ddx_emu::smem + ddx_emu::GUARD; }

static void __syncthreads() {
    ddx_emu::thread_ctx &t = ddx_emu::threads[ddx_emu::cur];
    t.state = ddx_emu::AT_BARRIER;
    ddx_emu::barriers++;
    swapcontext(&t.ctx, &ddx_emu::main_ctx);
}

/* Runs kernel body f on grid x block threads with smem bytes of shared
 * memory. Returns 0, or a negative code with a message on stderr. */
template <class F>
static int ddx_emu_launch(unsigned grid, unsigned block, size_t smem_bytes, int reverse, F f) {
    using namespace ddx_emu;
    body = f;
    threads.assign(block, thread_ctx());
    stacks.resize((size_t)block * STACK);
    std::vector<unsigned char> sm(smem_bytes + 2 * GUARD);
    smem = sm.data();
    smem_size = smem_bytes;
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (unsigned b = 0; b < grid; b++) {
        blockIdx = {b, 0, 0};
        memset(smem, 0xA5, GUARD);
        memset(smem + GUARD, 0xFF, smem_bytes); /* NaN in every float and double */
        memset(smem + GUARD + smem_bytes, 0xA5, GUARD);
        for (unsigned t = 0; t < block; t++) {
            getcontext(&threads[t].ctx);
            threads[t].ctx.uc_stack.ss_sp = &stacks[(size_t)t * STACK];
            threads[t].ctx.uc_stack.ss_size = STACK;
            threads[t].ctx.uc_link = &main_ctx;
            makecontext(&threads[t].ctx, entry, 0);
            threads[t].state = RUNNING;
        }
        for (;;) {
            for (unsigned k = 0; k < block; k++) {
                unsigned t = reverse ? block - 1 - k : k;
                if (threads[t].state == DONE) continue;
                threads[t].state = RUNNING;
                cur = (int)t;
                threadIdx = {t, 0, 0};
                swapcontext(&main_ctx, &threads[t].ctx);
            }
            unsigned done = 0, waiting = 0;
            for (unsigned t = 0; t < block; t++) {
                done += threads[t].state == DONE;
                waiting += threads[t].state == AT_BARRIER;
            }
            if (done == block) break;
            if (done) {
                fprintf(stderr, "emulate: block %u: %u threads exited while %u wait at a barrier\n", b, done, waiting);
                return -1;
            }
        }
        for (size_t i = 0; i < GUARD; i++)
            if (smem[i] != 0xA5 || smem[GUARD + smem_bytes + i] != 0xA5) {
                fprintf(stderr, "emulate: block %u wrote outside its %zu bytes of shared memory\n", b, smem_bytes);
                return -2;
            }
    }
    return 0;
}

/* C = A * W in cuBLAS's column-major N,N convention (as the backend calls
 * S/DGEMM): C[l + j*ldc] = sum_k A[l + k*lda] * W[k + j*ldw]. */
template <class T>
static void ddx_emu_gemm(int m, int n, int k, const T *A, int lda, const T *W, int ldw, T *C, int ldc) {
    for (int j = 0; j < n; j++) {
        T *c = C + (size_t)j * ldc;
        for (int l = 0; l < m; l++) c[l] = 0;
        for (int q = 0; q < k; q++) {
            const T w = W[q + (size_t)j * ldw];
            const T *a = A + (size_t)q * lda;
            for (int l = 0; l < m; l++) c[l] += a[l] * w;
        }
    }
}

template <class T>
static std::vector<T> ddx_emu_read(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    std::vector<T> v;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "emulate: cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    v.resize((size_t)sz / sizeof(T) + 1);
    if (fread(v.data(), 1, (size_t)sz, f) != (size_t)sz) exit(2);
    fclose(f);
    v.resize((size_t)sz / sizeof(T));
    return v;
}

template <class T>
static void ddx_emu_write(const char *dir, const char *name, const T *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, sizeof(T), n, f) != n) exit(2);
    fclose(f);
}

#endif
