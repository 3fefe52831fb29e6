/* weight_file.h: the canister weight file (docs/canister-weights.md): a 256-byte header (magic,
 * version, dtype, dimensions, end-of-text token), a table of 64-byte tensor entries (name, dtype,
 * shape, offset) and the tensors, 64-aligned. A model reads its tensors in place. */
#ifndef GPT2_WEIGHT_FILE_H
#define GPT2_WEIGHT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "model_state.h"

/* Check a weight file's header and tensor table; NULL if usable, else why not (static text
 * or `error`, which gets the message). Touches no model state. */
const char *gpt2_check(const uint8_t *file, size_t size, char *error, size_t error_size);
/* Set m's shape from a checked file's header and point its weights at the file's tensors (the
 * file must stay where it is). Touches nothing else of m: packed weights, buffers and the KV
 * cache are the loader's (model.c gpt2_load). */
void weight_file_read(gpt2_model *m, const uint8_t *file);

#endif
