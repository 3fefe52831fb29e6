/* http_echo.c: a test canister for the HTTP gateway.
 *
 * The test prepares whole Candid HttpResponse replies in Python and uploads them with
 * `set_response` (raw bytes, no Candid on that side):
 *     slot u8 | certified_data [32] | u32 prefix_len | prefix | u32 tree_len | tree_base64 | suffix
 * Slot 0 answers the `http_request` query, slot 1 the `http_request_update` update. With a tree,
 * the reply is prefix + Candid text "certificate=:<b64 data certificate>:, tree=:<tree>:" +
 * suffix, so the IC-Certificate header carries the certificate the replica hands this query.
 * certified_data is set from the upload (the test computes the tree's root hash).
 * Streaming: `set_chunk` stores u32 index | a whole Candid reply; the `http_stream` callback
 * takes a `nat32` token (the last 4 bytes of its argument) and answers that stored reply.
 * Long streams: `set_repeat` stores one raw body (≤ 1 MiB); the `http_stream_repeat` callback
 * answers record { body = that body; token = opt (n - 1) } for token n > 1, and no token for
 * n = 1, so a stream of n chunks needs no more memory than one.
 */
#include "ic0.h"

typedef unsigned char u8;

#define SLOT_BYTES (3 * 1024 * 1024)
static u8 slots[2][SLOT_BYTES];
static uint32_t slot_size[2];
static u8 arg[SLOT_BYTES];
static u8 certificate[8192];
static u8 scratch[16384];

static void trap_text(const char *message) {
  size_t n = 0;
  while (message[n]) n++;
  ic0_trap(message, n);
}

static uint32_t read_u32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void reply(const void *data, size_t size) { ic0_msg_reply_data_append(data, size); }

static size_t base64(const u8 *in, size_t n, u8 *out) {
  static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
    out[o++] = table[v >> 18 & 63];
    out[o++] = table[v >> 12 & 63];
    out[o++] = i + 1 < n ? table[v >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? table[v & 63] : '=';
  }
  return o;
}

static size_t leb128(size_t value, u8 *out) {
  size_t n = 0;
  do {
    u8 byte = value & 0x7f;
    value >>= 7;
    out[n++] = byte | (value ? 0x80 : 0);
  } while (value);
  return n;
}

__attribute__((export_name("canister_update set_response"))) void set_response(void) {
  size_t size = ic0_msg_arg_data_size();
  if (size > sizeof arg || size < 33) trap_text("bad upload");
  ic0_msg_arg_data_copy(arg, 0, size);
  u8 slot = arg[0] & 1;
  for (size_t i = 0; i + 1 < size; i++) slots[slot][i] = arg[i + 1];
  slot_size[slot] = size - 1;
  ic0_certified_data_set(arg + 1, 32);
  ic0_msg_reply();
}

static void answer(int slot) {
  if (!slot_size[slot]) trap_text("http_echo: no response uploaded yet");
  const u8 *s = slots[slot] + 32;
  uint32_t prefix_len = read_u32(s);
  const u8 *prefix = s + 4;
  uint32_t tree_len = read_u32(prefix + prefix_len);
  const u8 *tree = prefix + prefix_len + 4;
  const u8 *suffix = tree + tree_len;
  size_t suffix_len = slot_size[slot] - (size_t)(suffix - slots[slot]);
  reply(prefix, prefix_len);
  if (tree_len) {
    if (!ic0_data_certificate_present()) trap_text("no data certificate");
    size_t cert_len = ic0_data_certificate_size();
    if (cert_len > sizeof certificate) trap_text("certificate too large");
    ic0_data_certificate_copy(certificate, 0, cert_len);
    static const char head[] = "certificate=:", middle[] = ":, tree=:";
    size_t b64_len = base64(certificate, cert_len, scratch);
    size_t value_len = (sizeof head - 1) + b64_len + (sizeof middle - 1) + tree_len + 1;
    u8 leb[10];
    reply(leb, leb128(value_len, leb));
    reply(head, sizeof head - 1);
    reply(scratch, b64_len);
    reply(middle, sizeof middle - 1);
    reply(tree, tree_len);
    reply(":", 1);
  }
  reply(suffix, suffix_len);
  ic0_msg_reply();
}

#define CHUNKS 8
#define CHUNK_BYTES (256 * 1024)
static u8 chunks[CHUNKS][CHUNK_BYTES];
static uint32_t chunk_size[CHUNKS];

__attribute__((export_name("canister_update set_chunk"))) void set_chunk(void) {
  size_t size = ic0_msg_arg_data_size();
  if (size < 4 || size - 4 > CHUNK_BYTES) trap_text("bad chunk");
  ic0_msg_arg_data_copy(arg, 0, size);
  uint32_t index = read_u32(arg);
  if (index >= CHUNKS) trap_text("chunk index out of range");
  for (size_t i = 4; i < size; i++) chunks[index][i - 4] = arg[i];
  chunk_size[index] = size - 4;
  ic0_msg_reply();
}

__attribute__((export_name("canister_query http_stream"))) void http_stream(void) {
  size_t size = ic0_msg_arg_data_size();
  if (size < 4 || size > 64) trap_text("bad token");
  ic0_msg_arg_data_copy(arg, 0, size);
  uint32_t index = read_u32(arg + size - 4);
  if (index >= CHUNKS) trap_text("token out of range");
  reply(chunks[index], chunk_size[index]);
  ic0_msg_reply();
}

#define REPEAT_BYTES (1024 * 1024)
static u8 repeat_body[REPEAT_BYTES];
static uint32_t repeat_size;

__attribute__((export_name("canister_update set_repeat"))) void set_repeat(void) {
  size_t size = ic0_msg_arg_data_size();
  if (size > REPEAT_BYTES) trap_text("repeated body too large");
  ic0_msg_arg_data_copy(repeat_body, 0, size);
  repeat_size = size;
  ic0_msg_reply();
}

/* Candid header of record { body : blob; token : opt nat32 }: fields sorted by id,
 * token (338395897) then body (1092319906). */
static const u8 repeat_header[] = {'D', 'I', 'D', 'L', 3, 0x6c, 2, 0xf9, 0x85, 0xae, 0xa1, 0x01, 1,
                                   0xa2, 0xf5, 0xed, 0x88, 0x04, 2, 0x6e, 0x79, 0x6d, 0x7b, 1, 0};

__attribute__((export_name("canister_query http_stream_repeat"))) void http_stream_repeat(void) {
  size_t size = ic0_msg_arg_data_size();
  if (size < 4 || size > 64) trap_text("bad token");
  ic0_msg_arg_data_copy(arg, 0, size);
  uint32_t remaining = read_u32(arg + size - 4);
  reply(repeat_header, sizeof repeat_header);
  if (remaining > 1) {
    uint32_t next = remaining - 1;
    u8 token[5] = {1, next & 0xff, next >> 8 & 0xff, next >> 16 & 0xff, next >> 24};
    reply(token, sizeof token);
  } else {
    u8 none = 0;
    reply(&none, 1);
  }
  u8 leb[10];
  reply(leb, leb128(repeat_size, leb));
  reply(repeat_body, repeat_size);
  ic0_msg_reply();
}

__attribute__((export_name("canister_query http_request"))) void http_request(void) { answer(0); }
__attribute__((export_name("canister_update http_request_update"))) void http_request_update(void) { answer(1); }
