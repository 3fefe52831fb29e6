// The elements of index.html the page's modules use, found once.

const $ = (selector) => document.querySelector(selector);

export const els = {
  body: document.body,
  status: $("#status-text"), detail: $("#status-detail"), progress: $("#progress"), bar: $("#progress-bar"),
  warning: $("#warning"), warningTitle: $("#warning-title"), warningText: $("#warning-text"), warningMore: $("#warning-more"),
  stall: $("#stall"), stallText: $("#stall-text"), stallOnchain: $("#stall-onchain"), stallRetry: $("#stall-retry"), stallReload: $("#stall-reload"),
  error: $("#error"), errorText: $("#error-text"), errorRestart: $("#error-restart"), errorReload: $("#error-reload"), errorDismiss: $("#error-dismiss"),
  modelLabel: $("#model-label"), modelWhere: $("#model-where"),
  transcript: $("#transcript"), empty: $("#empty"), messages: $("#messages"),
  composer: $("#composer"), prompt: $("#prompt"), send: $("#send"), stop: $("#stop"), speed: $("#speed"),
  sidebar: $("#sidebar"), conversations: $("#conversations"), newChat: $("#new-chat"), menu: $("#menu"), sidebarClose: $("#sidebar-close"), scrim: $("#scrim"),
  settings: $("#settings"), settingsToggle: $("#settings-toggle"), settingsClose: $("#settings-close"), settingsForm: $("#settings-form"),
  settingsError: $("#settings-error"), settingsReset: $("#settings-reset"), about: $("#about"), engineAuto: $("#engine-auto"),
  temperatureOut: $("#temperature-out"), topPOut: $("#top_p-out"),
  where: $("#where"), whereService: $("#where-service"), serviceModel: $("#service-model"), emptyText: $("#empty p"), whereNote: $("#where-note"), hint: $("#hint"),
  deviceNote: $("#device-note"), deviceNoteText: $("#device-note-text"), deviceNoteOnchain: $("#device-note-onchain"), errorDevice: $("#error-device"),
  privacy: $("#privacy"), forget: $("#forget-onchain"), forgetNote: $("#forget-note"), usage: $("#usage"), usageRefresh: $("#usage-refresh"),
  suggestions: document.querySelectorAll(".suggestion"),
};
