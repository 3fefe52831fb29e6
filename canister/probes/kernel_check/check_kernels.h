/* check_kernels.h: the kernel checks' buffers (check_kernels.c), for the other check files. */
#ifndef GPT2_CHECK_KERNELS_H
#define GPT2_CHECK_KERNELS_H

#include <stdint.h>

void *check_alloc(uint32_t bytes); /* zeroed, 64-aligned, until check_reset */
void check_reset(void);

#endif
