// How much memory this page may give the on-device model, decided on the page (the chat worker
// gets the figure as init's `memoryBudget`; weights.js deviceObstacle compares each model file's
// need with it). A pure function over a navigator-like object, so Node tests can drive it.
//
// Where the figures come from:
// - iOS and iPadOS end a tab (every browser there is Safari's engine, WebKit) when it holds about
//   1.5 GB: issue 24's figure, the one peers' issue trackers report again and again. Safari has
//   no navigator.deviceMemory, so on an iPhone or iPad the limit is all there is to go by.
// - navigator.deviceMemory (Chromium only: Chrome, Edge, Samsung Internet, Chrome on Android)
//   is the device's RAM in GiB, rounded down to a power of two and capped at 8 (0.25 ... 8): a
//   lower bound, and coarse on purpose (fingerprinting). Firefox and Safari leave it undefined.
// - The rest of the page (Pyodide with the chat runtime, onnxruntime-web's module, the IC agent,
//   the DOM) takes a few hundred MB of the tab's memory besides the model: PAGE_BYTES.

/** What iOS lets one tab hold before it ends it (issue 24). */
export const IOS_TAB_BYTES = 1.5e9;
/** The page's own memory besides the model, kept free within a tab's limit. */
export const PAGE_BYTES = 0.5e9;
/** At or under this much reported memory (GiB) a device counts as small. */
export const SMALL_GIB = 4;

/**
 * -> {small, memoryBytes, why}: small: a phone or tablet, or a device reporting at most 4 GiB
 * (the page then starts on q8 and the icchat engine); memoryBytes: what the model may use (null:
 * unknown, a desktop that does not say); why: the reason in words, for the status line and tests.
 */
export function deviceFit(nav = globalThis.navigator) {
  const ua = String(nav?.userAgent ?? "");
  // iPadOS 13+ presents itself as a Mac ("Macintosh"): only its touch screen tells it apart
  const apple = /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && nav?.maxTouchPoints > 1);
  const mobile = nav?.userAgentData?.mobile === true || /Android|Mobi/.test(ua);
  const gib = Number(nav?.deviceMemory);
  const reported = Number.isFinite(gib) && gib > 0 ? gib : null;
  // half of the device's memory: the OS and the other apps and tabs keep the rest
  const fromReported = reported === null ? null : (reported * 2 ** 30) / 2;
  const tab = IOS_TAB_BYTES - PAGE_BYTES;
  if (apple) {
    return { small: true, memoryBytes: fromReported === null ? tab : Math.min(tab, fromReported), why: "an iPhone or iPad: iOS ends a tab near 1.5 GB" };
  }
  if (mobile) {
    // a phone that does not say (Firefox on Android): as much as iOS would allow
    return { small: true, memoryBytes: fromReported ?? tab, why: reported === null ? "a phone or tablet" : `a phone or tablet reporting ${reported} GB of memory` };
  }
  if (reported !== null && reported <= SMALL_GIB) {
    return { small: true, memoryBytes: fromReported, why: `this device reports ${reported} GB of memory` };
  }
  return { small: false, memoryBytes: fromReported, why: reported === null ? "a desktop; its memory is not reported" : `a desktop reporting ${reported === 8 ? "8 GB or more" : `${reported} GB`} of memory` };
}

/** "0.4 GB" (or "40 MB" under 0.1 GB): a memory figure as the page says it. */
export const formatMemory = (bytes) => (bytes < 1e8 ? `${Math.ceil(bytes / 1e6)} MB` : `${(bytes / 1e9).toFixed(1)} GB`);
