// The page: one WebSocket to the server, a `state` snapshot on connect, then live events.
// Each module renders one area; this file routes events to them and sends page commands.
import { renderDocument, applySection, applyStream, renderBlocked, renderHistory, reportSelection, documentSelection } from "./document.js";
import { renderStories } from "./stories.js";
import { renderScripts, applyScriptState, removeScript } from "./scripts.js";
import { renderStoryPanels } from "./panels.js";
import { renderDiagnostics } from "./diagnostics.js";
import { renderUi, applyUiEvent, showToast, showContextMenu, hideContextMenu } from "./script_ui.js";
import { showPermissionRequest, renderPermissions } from "./prompts.js";
import { showPageRequest, dropPageRequest, renderPageRequests } from "./page_requests.js";

const token = new URLSearchParams(location.search).get("token") || "";
const status = document.getElementById("status");
let socket = null;
const app = { story: null, scripts: [], ui: null, diagnostics: [], send };
window.naiScript = app; // for tests and the console

export function send(command) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(command));
}

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

function onState(state) {
  document.getElementById("backend").textContent = state.backend || "";
  app.story = state.story;
  app.scripts = state.scripts || [];
  app.ui = state.ui;
  app.diagnostics = state.diagnostics || [];
  renderDocument(app.story);
  renderStoryPanels(app.story, send);
  renderStories(app.story, send);
  renderScripts(app.scripts, send);
  renderUi(app.ui, send);
  renderPermissions(state.permissions, send);
  renderPageRequests(state.pageRequests, send);
  renderDiagnostics(app.diagnostics);
  renderBlocked(!!state.blocked, state.blocked);
  showGenerating(state.generating);
}

function showGenerating(on) {
  document.body.classList.toggle("generating", !!on);
  document.getElementById("stop").hidden = !on;
}

const handlers = {
  "state": onState,
  "story.state": (e) => {
    app.story = e.story ?? e;
    renderDocument(app.story);
    renderStoryPanels(app.story, send);
    renderStories(app.story, send);
  },
  "story.list": (e) => { if (app.story) { app.story.stories = e.stories; renderStories(app.story, send); } },
  "doc.section": (e) => applySection(e),
  "doc.stream": (e) => applyStream(e),
  "editor.blocked": (e) => renderBlocked(e.blocked, e.reason),
  "generation.start": () => showGenerating(true),
  "generation.end": (e) => {
    showGenerating(false);
    if (e.error) showToast({ message: e.error, type: "error" });
  },
  "settings.changed": (e) => { if (app.story) { app.story.settings = e.settings ?? app.story.settings; renderStoryPanels(app.story, send); } },
  "lorebook.changed": (e) => { if (app.story) { app.story.lorebook = { entries: e.entries, categories: e.categories }; renderStoryPanels(app.story, send); } },
  "history.changed": (e) => renderHistory(e),
  "script.state": (e) => applyScriptState(app.scripts, e, send),
  "script.removed": (e) => removeScript(app.scripts, e, send),
  "script.log": () => {},
  "diagnostics": (e) => { app.diagnostics = e.scripts; renderDiagnostics(app.diagnostics); },
  "permission.request": (e) => showPermissionRequest(e, send),
  "permission.resolved": (e) => document.querySelector(`.permission-prompt[data-request-id="${CSS.escape(e.id)}"]`)?.remove(),
  "page.request": (e) => showPageRequest(e, send),
  "page.resolved": (e) => dropPageRequest(e.id),
  "toast": (e) => showToast(e),
  "ui.toast": (e) => showToast({ ...e, type: e.toastType }),
  "error": (e) => showToast({ message: e.message, type: "error" }),
};

function onEvent(event) {
  const handler = handlers[event.type];
  if (handler) handler(event);
  else if (event.type && event.type.startsWith("ui.")) applyUiEvent(event, send);
  if (app.onEvent) app.onEvent(event);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
  socket.onopen = () => setStatus("open", "connected");
  socket.onmessage = (message) => onEvent(JSON.parse(message.data));
  socket.onclose = () => { setStatus("closed", "disconnected — retrying"); setTimeout(connect, 1000); };
}

// The input mode next to Send, in NovelAI's words: Normal (plain Send), Do (action), Say
// (dialogue), Story (story). Kept for this tab's session only (sessionStorage), never on the server.
function wireInputMode() {
  const select = document.getElementById("input-mode");
  const key = "nai-script.inputMode";
  try {
    const saved = sessionStorage.getItem(key);
    if (saved !== null && [...select.options].some((o) => o.value === saved)) select.value = saved;
  } catch { /* storage unavailable: start at Normal */ }
  select.addEventListener("change", () => {
    try { sessionStorage.setItem(key, select.value); } catch { /* not kept */ }
  });
  return select;
}

function wireControls() {
  const input = document.getElementById("input");
  const inputMode = wireInputMode();
  const sendInput = () => {
    const mode = inputMode.value; // "" (Normal): the plain Send
    send({ type: "send", text: input.value || null, ...(mode ? { mode } : {}) });
    input.value = "";
  };
  document.getElementById("send").onclick = sendInput;
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.ctrlKey) sendInput(); });
  document.getElementById("stop").onclick = () => send({ type: "stop" });
  reportSelection(send);
  document.getElementById("document").addEventListener("contextmenu", (e) => {
    if (showContextMenu(e.clientX, e.clientY, documentSelection())) e.preventDefault();
  });
  document.addEventListener("click", (e) => { if (!e.target.closest("#context-menu")) hideContextMenu(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hideContextMenu(); });
  for (const name of ["retry", "undo", "redo"]) {
    document.getElementById(name).onclick = () => send({ type: name });
  }
  for (const button of document.querySelectorAll("#tabs button")) {
    button.onclick = () => {
      for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b === button);
      for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.id === `tab-${button.dataset.tab}`);
      if (button.dataset.tab === "diagnostics") send({ type: "diagnostics.get" });
    };
  }
  // While the diagnostics tab is open, refresh it (countdowns move even without events).
  setInterval(() => {
    if (document.getElementById("tab-diagnostics").classList.contains("active")) send({ type: "diagnostics.get" });
  }, 1000);
}

wireControls();
connect();
