// Script UI: extensions (toolbar buttons, context-menu buttons, script, sidebar and lorebook
// panels; lorebook panels are placed by lorebook_panel.js),
// windows and modals (movable, resizable, closable) and every part type. A click or an input
// goes back as `ui.event` with the target (extension/window id), the part id and the event
// name (callback / onChange / onSubmit); the server calls the script function.
import { renderMarkdown } from "./markdown.js";
import { cssSize, renderCodeEditor } from "./code_editor.js";
import { setLorebookPanels } from "./lorebook_panel.js";

const scripts = new Map(); // scriptId -> { extensions: [], windows: Map(id -> element) }
// Callbacks running now ("scriptId|targetId|partId"): a `disabledWhileCallbackRunning` button
// stays disabled while its key is here, even when its window is redrawn meanwhile.
const running = new Set();
let send = () => {};

function runningKey(scriptId, targetId, partId) {
  return `${scriptId}|${targetId}|${partId || ""}`;
}

function entry(scriptId) {
  if (!scripts.has(scriptId)) scripts.set(scriptId, { extensions: [], windows: new Map() });
  return scripts.get(scriptId);
}

function uiEvent(scriptId, targetId, partId, event, value) {
  send({ type: "ui.event", scriptId, targetId, partId, event, value: value ?? null });
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function labelled(part, input) {
  if (!part.label) return input;
  const label = el("label", "part-label", `${part.label} `);
  label.append(input);
  return label;
}

// Render one part; `ctx` = { scriptId, targetId }.
export function renderPart(part, ctx) {
  const fire = (event, value) => uiEvent(ctx.scriptId, ctx.targetId, part.id, event, value);
  let node;
  switch (part.type) {
    case "text":
      node = el("div", "part-text");
      if (part.markdown) node.innerHTML = renderMarkdown(part.text || "");
      else node.textContent = part.text || "";
      break;
    case "image":
      node = el("img", "part-image");
      node.src = part.src; node.alt = part.alt || "";
      if (part.width) node.width = part.width;
      if (part.height) node.height = part.height;
      break;
    case "button":
      node = el("button", "part-button", part.text || "");
      markCallbackButton(node, part, running.has(runningKey(ctx.scriptId, ctx.targetId, part.id)));
      node.onclick = () => fire("callback");
      break;
    case "textInput": case "numberInput": case "multilineTextInput": {
      const input = el(part.type === "multilineTextInput" ? "textarea" : "input", "part-input");
      if (part.type === "numberInput") input.type = "number";
      input.placeholder = part.placeholder || "";
      input.disabled = !!part.disabled;
      input.value = part.value ?? part.initialValue ?? "";
      input.oninput = () => fire("onChange", input.value);
      input.onkeydown = (e) => {
        if (e.key === "Enter" && (part.type !== "multilineTextInput" || e.ctrlKey)) fire("onSubmit", input.value);
      };
      node = labelled(part, input);
      break;
    }
    case "codeEditor":
      node = renderCodeEditor(part, fire);
      break;
    case "checkboxInput": {
      const input = el("input", "part-checkbox");
      input.type = "checkbox";
      input.checked = !!(part.value ?? part.initialValue);
      input.disabled = !!part.disabled;
      input.onchange = () => fire("onChange", input.checked);
      node = labelled(part, input);
      break;
    }
    case "sliderInput": {
      const input = el("input", "part-slider");
      input.type = "range";
      input.min = part.min; input.max = part.max; input.step = part.step ?? (part.preventDecimal ? 1 : "any");
      input.value = part.value ?? part.initialValue ?? part.defaultValue ?? part.min;
      input.disabled = !!part.disabled;
      const shown = el("span", "part-slider-value", `${part.prefix || ""}${input.value}${part.suffix || ""}`);
      input.oninput = () => { shown.textContent = `${part.prefix || ""}${input.value}${part.suffix || ""}`; };
      input.onchange = () => fire("onChange", Number(input.value));
      // A wrapper even without a label: an <input> cannot hold the value shown beside it.
      node = el("span", "part-slider-wrap");
      node.append(labelled(part, input), shown);
      break;
    }
    case "collapsibleSection": {
      node = el("details", "part-collapsible");
      node.open = !(part.collapsed ?? part.initialCollapsed);
      const summary = el("summary", "", part.title);
      // Clicking the summary flips `open` after this handler: the new state is "collapsed"
      // exactly when the section is open now.
      summary.onclick = () => fire("toggle", node.open);
      node.append(summary);
      for (const child of part.content || []) if (child) node.append(renderPart(child, ctx));
      break;
    }
    case "row": case "column": case "box": case "container":
      node = el("div", `part-${part.type}`);
      if (part.spacing) node.style.justifyContent = part.spacing;
      if (part.alignment) node.style.alignItems = part.alignment;
      if (part.wrap) node.style.flexWrap = "wrap";
      for (const child of part.content || []) if (child) node.append(renderPart(child, ctx));
      break;
    default:
      node = el("div", "part-unknown", `[${part.type}]`);
  }
  node.dataset.partId = part.id;
  if (part.style && typeof part.style === "object") {
    for (const [key, value] of Object.entries(part.style)) node.style[key] = value;
  }
  return node;
}

// `disabled` as the script set it, plus "while its callback runs" when it asked for that.
function markCallbackButton(button, part, isRunning) {
  button.dataset.baseDisabled = part.disabled ? "1" : "";
  button.dataset.disabledWhileRunning = part.disabledWhileCallbackRunning ? "1" : "";
  button.classList.toggle("callback-running", isRunning);
  button.disabled = !!part.disabled || (isRunning && !!part.disabledWhileCallbackRunning);
}

function renderContent(container, content, ctx) {
  // Keep the focused input: typing must not be interrupted by an update of the window (the
  // new field gets the person's text, the caret and the focus back in the same task, before
  // any further key event).
  const focused = container.contains(document.activeElement) ? document.activeElement : null;
  const partId = focused?.matches("input, textarea") ? focused.closest("[data-part-id]")?.dataset.partId : undefined;
  container.replaceChildren(...(content || []).filter(Boolean).map((p) => renderPart(p, ctx)));
  if (partId === undefined) return;
  const holder = container.querySelector(`[data-part-id="${CSS.escape(partId)}"]`);
  const field = holder?.matches("input, textarea") ? holder : holder?.querySelector("input, textarea");
  if (!field || field.type !== focused.type) return;
  if (field.type === "checkbox") field.checked = focused.checked;
  else field.value = focused.value;
  field.focus();
  try { field.setSelectionRange(focused.selectionStart, focused.selectionEnd); } catch { /* number, range */ }
}

function makeDraggable(win, handle) {
  handle.onpointerdown = (down) => {
    if (down.target.tagName === "BUTTON") return;
    const start = { x: down.clientX, y: down.clientY, left: win.offsetLeft, top: win.offsetTop };
    handle.setPointerCapture(down.pointerId);
    handle.onpointermove = (move) => {
      win.style.left = `${start.left + move.clientX - start.x}px`;
      win.style.top = `${start.top + move.clientY - start.y}px`;
    };
    handle.onpointerup = () => { handle.onpointermove = null; };
  };
}

function openWindow(scriptId, spec) {
  const state = entry(scriptId);
  let win = state.windows.get(spec.id);
  const ctx = { scriptId, targetId: spec.id };
  if (!win) {
    win = el("div", `window ${(spec.kind ?? spec.type) === "modal" ? "modal" : ""}`);
    win.dataset.windowId = spec.id;
    win.dataset.scriptId = scriptId;
    const title = el("div", "window-title");
    title.append(el("span", "", spec.title || ""));
    const close = el("button", "window-close", "×");
    close.title = "Close";
    close.onclick = () => { send({ type: "ui.window.close", scriptId, windowId: spec.id }); win.remove(); state.windows.delete(spec.id); };
    title.append(close);
    win.append(title, el("div", "window-body"));
    const offset = 40 + 20 * state.windows.size;
    win.style.left = cssSize(spec.defaultX) || `${offset + 200}px`;
    win.style.top = cssSize(spec.defaultY) || `${offset}px`;
    win.style.width = cssSize(spec.defaultWidth) || "360px";
    if (spec.defaultHeight) win.style.height = cssSize(spec.defaultHeight);
    if (spec.resizable === false) win.style.resize = "none";
    makeDraggable(win, title);
    document.getElementById("windows").append(win);
    state.windows.set(spec.id, win);
  } else if (spec.title !== undefined) {
    win.querySelector(".window-title span").textContent = spec.title || "";
  }
  renderContent(win.querySelector(".window-body"), spec.content, ctx);
}

function closeWindow(scriptId, windowId) {
  const state = entry(scriptId);
  state.windows.get(windowId)?.remove();
  state.windows.delete(windowId);
}

function extensionButton(scriptId, ext, className) {
  const button = el("button", className, ext.text || ext.id);
  button.dataset.extensionId = ext.id;
  button.dataset.scriptId = scriptId;
  markCallbackButton(button, ext, running.has(runningKey(scriptId, ext.id, "")));
  return button;
}

function panel(scriptId, ext) {
  const node = el("details", `ext-panel ext-${ext.type}`);
  node.open = true;
  node.dataset.extensionId = ext.id;
  node.dataset.scriptId = scriptId;
  node.append(el("summary", "", ext.name || ext.id));
  const body = el("div", "panel-body");
  renderContent(body, ext.content, { scriptId, targetId: ext.id });
  node.append(body);
  return node;
}

// Toolbar buttons in the top bar; sidebar panels in the Scripts tab; lorebook panels in the
// lorebook tab's Script area (while an entry or category is selected); script panels in the
// script-panel area under the document (all listed, the one `ui.openPanel` chose shown
// first and marked); context-menu buttons wait for a right-click on the document.
function renderExtensions() {
  const toolbar = document.getElementById("toolbar");
  const panels = document.getElementById("panels");
  const scriptPanel = document.getElementById("script-panel");
  toolbar.replaceChildren();
  panels.replaceChildren();
  scriptPanel.replaceChildren();
  const lorebookPanels = [];
  for (const [scriptId, state] of scripts) {
    for (const ext of state.extensions) {
      if (ext.type === "toolbarButton") {
        const button = extensionButton(scriptId, ext, "ext-toolbarButton");
        button.onclick = () => uiEvent(scriptId, ext.id, "", "callback");
        toolbar.append(button);
      } else if (ext.type === "scriptPanel") {
        scriptPanel.append(panel(scriptId, ext));
      } else if (ext.type === "sidebarPanel") {
        panels.append(panel(scriptId, ext));
      } else if (ext.type === "lorebookPanel") {
        lorebookPanels.push({ scriptId, ext });
      }
    }
  }
  setLorebookPanels(lorebookPanels, renderContent);
  markOpenPanel();
}

let openPanelKey = null; // "scriptId|panelId" of the panel the last ui.openPanel named

function markOpenPanel() {
  const area = document.getElementById("script-panel");
  let shown = null;
  for (const node of document.querySelectorAll(".ext-panel")) {
    const isOpen = openPanelKey === `${node.dataset.scriptId}|${node.dataset.extensionId}`;
    node.classList.toggle("panel-opened", isOpen);
    if (isOpen) shown = node;
  }
  if (shown?.classList.contains("ext-scriptPanel")) area.prepend(shown);
  area.hidden = !area.querySelector(".panel-opened");
  if (shown) {
    shown.open = true;
    if (shown.classList.contains("ext-sidebarPanel")) {
      document.querySelector('#tabs button[data-tab="scripts"]')?.click();
    }
    shown.scrollIntoView({ block: "nearest" });
  }
}

// `ui.openPanel(id)` / `ui.closePanel()` (panelId null) from a script.
function applyPanel(scriptId, panelId) {
  openPanelKey = panelId == null ? null : `${scriptId}|${panelId}`;
  markOpenPanel();
}

// A callback started or ended: a button that asked for it is disabled meanwhile.
function applyCallback(event) {
  const key = runningKey(event.scriptId, event.targetId, event.partId);
  if (event.running) running.add(key); else running.delete(key);
  const target = CSS.escape(event.targetId);
  const script = CSS.escape(event.scriptId);
  const buttons = event.partId
    ? document.querySelectorAll(
      `[data-script-id="${script}"][data-window-id="${target}"] [data-part-id="${CSS.escape(event.partId)}"],` +
      `[data-script-id="${script}"][data-extension-id="${target}"] [data-part-id="${CSS.escape(event.partId)}"]`)
    : document.querySelectorAll(`button[data-script-id="${script}"][data-extension-id="${target}"]`);
  for (const button of buttons) {
    if (button.tagName !== "BUTTON") continue;
    button.classList.toggle("callback-running", !!event.running);
    button.disabled = !!button.dataset.baseDisabled || (!!event.running && !!button.dataset.disabledWhileRunning);
  }
}

// The context menu on the document: the scripts' context-menu buttons; a click hands the
// script the selection the menu was opened on.
export function showContextMenu(x, y, selection) {
  const menu = document.getElementById("context-menu");
  const items = [];
  for (const [scriptId, state] of scripts) {
    for (const ext of state.extensions) {
      if (ext.type !== "contextMenuButton") continue;
      const button = extensionButton(scriptId, ext, "ext-contextMenuButton");
      button.setAttribute("role", "menuitem");
      button.onclick = () => {
        hideContextMenu();
        uiEvent(scriptId, ext.id, "", "callback", selection);
      };
      items.push(button);
    }
  }
  if (!items.length) return false;
  menu.replaceChildren(...items);
  menu.style.left = `${x}px`;
  menu.style.top = `${y}px`;
  menu.hidden = false;
  return true;
}

export function hideContextMenu() {
  document.getElementById("context-menu").hidden = true;
}

export function renderUi(snapshot, sendCommand) {
  send = sendCommand;
  for (const state of scripts.values()) for (const win of state.windows.values()) win.remove();
  scripts.clear();
  running.clear();
  for (const [scriptId, extensions] of Object.entries(snapshot?.extensions || {})) {
    entry(scriptId).extensions = extensions;
  }
  for (const win of snapshot?.windows || []) openWindow(win.scriptId, win);
  renderExtensions();
}

export function applyUiEvent(event, sendCommand) {
  send = sendCommand;
  const scriptId = event.scriptId;
  switch (event.type) {
    case "ui.extensions":
      entry(scriptId).extensions = event.extensions || [];
      renderExtensions();
      break;
    case "ui.window.open": case "ui.window.update":
      openWindow(scriptId, event.window ?? event);
      break;
    case "ui.window.close":
      closeWindow(scriptId, event.windowId ?? event.id);
      break;
    case "ui.panel":
      applyPanel(scriptId, event.panelId);
      break;
    case "ui.callback":
      applyCallback(event);
      break;
    case "ui.script.removed":
      for (const win of entry(scriptId).windows.values()) win.remove();
      scripts.delete(scriptId);
      renderExtensions();
      break;
  }
}

export function showToast(event) {
  const toast = el("div", `toast ${event.type === "error" || event.level === "error" ? "error" : ""}`, event.message ?? event.text ?? "");
  document.getElementById("toasts").append(toast);
  setTimeout(() => toast.remove(), event.autoClose ?? event.timeout ?? 4000);
}
