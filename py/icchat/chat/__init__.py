"""The chat core: pure Python (stdlib only) so it runs unchanged in CPython and Pyodide.

Typical use (the page's worker does this through icchat.chat.worker.ChatWorker; see
docs/chat-runtime.md):

    from icchat.chat import (ChatRuntime, Conversation, Message, Settings, GPT2Tokenizer)
    from icchat.chat.device import DeviceBackend

    runtime = ChatRuntime(GPT2Tokenizer.from_strings(vocab_json, merges_txt))
    backend = DeviceBackend(engine, n_ctx)   # engine: web/engine.mjs's or web/ort-engine.mjs's
    conversation = Conversation.from_dict(stored) if stored else Conversation()
    conversation.add(Message("user", "Hello!"))
    async for event in runtime.reply(conversation, backend, Settings(seed=7), lambda: stop_pressed):
        show(event.text_delta)                 # streamed, never half a character or a marker
        if event.done:                         # event.stop_reason, event.error, event.stats
            conversation.add(event.message())  # Message("assistant", text, origin="device")

Public names:
- `Settings`: temperature, top_k, top_p, max_new_tokens, seed (validated; to_dict/from_dict).
- `Message`, `Conversation`: the transcript, to_dict/from_dict for storage.
- `ChatTemplate`: the plain `User: ...` / `Assistant: ...` prompt format and its stop strings.
- `Backend`, `GenerateRequest`, `TokenBatch`, `BackendError`: the seam every backend implements.
- `ChatRuntime`, `ReplyEvent`: prompt building, context trimming, stop conditions, streaming.
- `ChatWorker` (module `worker`): the page worker's Python half, the page's messages as dicts.
- `next_token`, `draw_at`: the sampler, the gpt2 canister's (module `sampling`).
"""

from icchat.chat.backend import Backend, BackendError, GenerateRequest, TokenBatch
from icchat.chat.conversation import Conversation, ConversationError, Message
from icchat.chat.runtime import STOP_REASONS, ChatRuntime, Prompt, ReplyEvent
from icchat.chat.sampling import draw_at, next_token
from icchat.chat.settings import Settings, SettingsError
from icchat.chat.template import ChatTemplate
from icchat.chat.tokenizer import GPT2Tokenizer

__all__ = [
    "STOP_REASONS", "Backend", "BackendError", "ChatRuntime", "ChatTemplate", "Conversation",
    "ConversationError", "GPT2Tokenizer", "GenerateRequest", "Message", "Prompt", "ReplyEvent",
    "Settings", "SettingsError", "TokenBatch", "draw_at", "next_token",
]
