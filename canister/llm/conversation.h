/* conversation.h: the LLM canister's chat types (dfinity/llm's .did, canister/llm.did) as this
 * canister reads and writes them (conversation.c):
 *
 *   chat_request_v1  = record { model : text; tools : opt vec tool; messages : vec chat_message_v1 }
 *   chat_message_v1  = variant { user : record { content : text }; system : record { content : text };
 *                                assistant : assistant_message; tool : record { content; tool_call_id } }
 *   assistant_message = record { content : opt text; tool_calls : vec record { id : text;
 *                                function : record { name : text; arguments : vec tool_call_argument } } }
 *   chat_response_v1 = record { message : assistant_message }
 *
 * The LLM canister's limits hold here: at most 10 messages, a prompt (all contents) of at most
 * 10 KiB. This route answers text: tools, tool messages and tool calls are refused by name. */
#ifndef LLM_CONVERSATION_H
#define LLM_CONVERSATION_H

#include <stddef.h>
#include <stdint.h>

#include "candid_writer.h"

#define MAX_MESSAGES 10u
#define MAX_PROMPT_BYTES 10240u

typedef enum { ROLE_SYSTEM = 0, ROLE_USER = 1, ROLE_ASSISTANT = 2 } chat_role;

typedef struct {
  chat_role role;
  const char *content; /* points into the message's argument; not NUL-terminated */
  size_t size;
} chat_message;

typedef struct {
  const char *model;
  size_t model_size;
  size_t n;
  chat_message messages[MAX_MESSAGES];
} conversation;

const char *chat_role_name(chat_role role); /* "system", "user", "assistant" (OpenAI's and the LLM canister's) */
/* The message's chat_request_v1 argument into c (limits checked): NULL, or why not in one line. */
const char *conversation_read(conversation *c);
/* Declare and write chat_request_v1 with c's messages and `model`, tools none (a call's argument). */
void conversation_write_request(cd_writer *w, const conversation *c, const char *model);
/* chat_response_v1's type, and its value: an assistant message with this text and no tool calls. */
int32_t chat_response_type(cd_writer *w);
void chat_response_write(cd_writer *w, const char *text, size_t size);
/* The text of the chat_response_v1 in `data` (a v1_chat reply) appended to out: NULL, or why not. */
const char *chat_response_read(const uint8_t *data, size_t size, rt_buf *out);

#endif
