/* manifest.h: the model bundle's manifest.json (docs/model-bundle.md), read in the canister.
 *
 * Only what the canister checks is read: each entry of "files" (path, size, sha256, role); every
 * other member is skipped. The parser is a strict JSON reader (RFC 8259) over the whole text, so
 * a malformed manifest is refused with the byte offset of the problem, never half-read.
 */
#ifndef MANIFEST_H
#define MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MF_MAX_FILES 64
#define MF_MAX_PATH 256

typedef struct {
  char path[MF_MAX_PATH];   /* relative to the bundle root, e.g. "onnx/decoder_model_merged.onnx" */
  char role[32];            /* "onnx-decoder", "canister-weights", "tokenizer", ... */
  uint64_t size;
  uint8_t sha256[32];
} mf_file;

typedef struct {
  size_t n_files;
  mf_file files[MF_MAX_FILES];
} mf_manifest;

/* Parse `text`; NULL on success, else the reason (in `error`, capacity bytes). */
const char *mf_parse(const char *text, size_t size, mf_manifest *out, char *error, size_t capacity);

#endif /* MANIFEST_H */
