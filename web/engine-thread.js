// A helper thread of the icchat engine (engine.mjs): its own instance of the threaded module over
// the engine's shared memory, with its own stack, running engine_thread_main(index) for good: it
// sleeps on an atomic until the engine publishes a matrix product, computes its rows, and sleeps
// again. It is stopped with Worker.terminate() (Engine.close).
//   in:  {module: WebAssembly.Module, memory: shared WebAssembly.Memory, index, stackTop}
//   out: {type: "started"} just before it enters the loop, or {type: "error", message}

self.onmessage = async ({ data: { module, memory, index, stackTop } }) => {
  try {
    const text = (ptr, len) => new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len).slice());
    const instance = await WebAssembly.instantiate(module, {
      env: { memory },
      ic0: { trap: (ptr, len) => { throw new Error(text(ptr, len)); }, debug_print: (ptr, len) => console.log("[icchat engine]", text(ptr, len)) },
    });
    instance.exports.__stack_pointer.value = stackTop; // the stack grows down from here
    self.postMessage({ type: "started" });
    instance.exports.engine_thread_main(index); // never returns
  } catch (error) {
    self.postMessage({ type: "error", message: String(error?.message ?? error) });
  }
};
