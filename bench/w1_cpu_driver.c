/* w1_cpu_driver.c — a CPU A/B probe: compiles a model once (CPU, f32, one
 * thread) and evaluates N points R times; prints the best wall-clock and
 * best process-CPU-time rate. No reference-GEMM calibration (ddx bench runs
 * one in-process, which pollutes perf profiles), and the CPU-time rate is
 * what stays comparable on a shared machine whose VM has no PMU counters.
 * Not built by CMake; against a Release build dir:
 *   gcc -O2 -g -fopenmp -Iinclude -I. bench/w1_cpu_driver.c -o w1drv build/libddx_tools.a build/libddx.a \
 *       -lm -ldl -L/usr/local/cuda/lib64 -lnvrtc -Wl,-rpath,/usr/local/cuda/lib64
 * Usage: DDX_CPU_ISA=avx2 [TILE=P] ./w1drv [N [R [SPEC [DERIVS]]]]
 * (bench/cpu_ab.sh interleaves several such binaries). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "ddx.h"
#include "tools/model_spec.h"
#include "tools/expr_parse.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
static double cpu(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(int argc,char**argv){
  long n = argc>1?atol(argv[1]):262144; int R = argc>2?atoi(argv[2]):3;
  const char*spec=argc>3?argv[3]:"mlp:2-64-64-64-64-1:tanh";
  const char*der=argc>4?argv[4]:"u,grad(u),hessian(u)";
  char err[512]; ddx_model m={0}; m.g=ddx_graph_create();
  if(ddx_model_load(spec,NULL,&m,err,sizeof err)){fprintf(stderr,"%s\n",err);return 1;}
  ddx_column_list cols; if(ddx_parse_list(m.g,&m.outputs,der,&cols,err,sizeof err)){fprintf(stderr,"%s\n",err);return 1;}
  ddx_compile_options co; ddx_compile_options_default(&co); co.device=DDX_DEVICE_CPU; co.precision=DDX_F32; co.num_threads=1; if(getenv("TILE")) co.tile_points=atoi(getenv("TILE"));
  ddx_program*p; if(ddx_compile(m.g,cols.cols,cols.n,&co,&p)){fprintf(stderr,"%s\n",ddx_graph_error(m.g));return 1;}
  int d=ddx_graph_num_inputs(m.g); float*x=malloc(4*n*d),*o=malloc(4*n*cols.n);
  for(long i=0;i<n*d;i++) x[i]=(float)((i*2654435761u)%1000003)/1000003.f;
  ddx_program_eval(p,x,n,o);
  double best=1e30,bc=1e30; for(int r=0;r<R;r++){double t=now(),c=cpu(); ddx_program_eval(p,x,n,o); t=now()-t; c=cpu()-c; if(t<best)best=t; if(c<bc)bc=c;}
  double s=0; for(long i=0;i<n*cols.n;i++) s+=o[i];
  printf("wall %.4g cpu %.4g points/s (best of %d) checksum %.9g\n", n/best, n/bc, R, s);
  return 0;}
