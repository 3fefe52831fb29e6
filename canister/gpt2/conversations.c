/* conversations.c: `forget_conversations` (any caller, its own): the caller's prefix-cache slots
 * (kv_slots.h) emptied. */
#include "candid_reader.h"
#include "candid_writer.h"
#include "kv_slots.h"
#include "rt.h"
#include "served_model.h"

/* update forget_conversations : () -> (): the caller's prefix-cache slots emptied (their token
 * lists zeroed); the next call feeds its whole conversation again. */
__attribute__((export_name("canister_update forget_conversations"))) void forget_conversations(void) {
  rt_message_begin();
  if (!cd_read_no_args()) return;
  principal_id caller = caller_id();
  if (have_model) slots_forget_owner(&caller);
  cd_reply_empty();
}
