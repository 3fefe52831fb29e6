/* ops_browser.h: what the icchat engine (engine.c) sets beyond ops.h, whose browser
 * implementation is ops_browser.c: how many threads share the products and attention, and which
 * q8 product runs. */
#ifndef GPT2_OPS_BROWSER_H
#define GPT2_OPS_BROWSER_H

#include "model_state.h"

/* Run the ops on n threads: the caller and n - 1 helpers in engine_thread_main (ENGINE_THREADS
 * builds; else n must be 1), each with its own scratch (buffer_plan.h's sizes). Before the
 * helpers start and between forward passes only. 0, or -1 if n is out of range. */
#define MAX_THREADS 16
int browser_set_threads(int n, const gpt2_model *m);
int browser_max_threads(void); /* MAX_THREADS, or 1 without ENGINE_THREADS */

/* The q8 product to run (Q8_WIDEN or Q8_RELAXED, kernels_browser.h): 0, or -1 if this build has
 * no such kernel. */
int browser_select_q8_kernel(int kernel);
/* Layer 0's MLP product (fc, the largest per layer) for one token, `reps` times on this thread
 * alone: what web/engine.mjs times to pick the kernel. */
void browser_q8_probe(gpt2_model *m, int reps);

#endif
