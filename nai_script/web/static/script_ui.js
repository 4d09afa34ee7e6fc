// Script UI: extensions (toolbar buttons, context-menu buttons, script and sidebar panels),
// windows and modals (movable, resizable, closable) and every part type. A click or an input
// goes back as `ui.event` with the target (extension/window id), the part id and the event
// name (callback / onChange / onSubmit); the server calls the script function.
import { renderMarkdown } from "./markdown.js";

const scripts = new Map(); // scriptId -> { extensions: [], windows: Map(id -> element) }
let send = () => {};

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
      node.disabled = !!part.disabled;
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
      node = labelled(part, input);
      node.append(shown);
      break;
    }
    case "collapsibleSection": {
      node = el("details", "part-collapsible");
      node.open = !(part.collapsed ?? part.initialCollapsed);
      node.append(el("summary", "", part.title));
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

function renderContent(container, content, ctx) {
  // Keep the focused input (typing must not be interrupted by an update of another part).
  container.replaceChildren(...(content || []).filter(Boolean).map((p) => renderPart(p, ctx)));
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

function size(value) { return typeof value === "number" ? `${value}px` : value; }

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
    win.style.left = size(spec.defaultX) || `${offset + 200}px`;
    win.style.top = size(spec.defaultY) || `${offset}px`;
    win.style.width = size(spec.defaultWidth) || "360px";
    if (spec.defaultHeight) win.style.height = size(spec.defaultHeight);
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

function renderExtensions() {
  const toolbar = document.getElementById("toolbar");
  const panels = document.getElementById("panels");
  toolbar.replaceChildren();
  panels.replaceChildren();
  for (const [scriptId, state] of scripts) {
    for (const ext of state.extensions) {
      const ctx = { scriptId, targetId: ext.id };
      if (ext.type === "toolbarButton" || ext.type === "contextMenuButton") {
        const button = el("button", `ext-${ext.type}`, ext.text || ext.id);
        button.dataset.extensionId = ext.id;
        button.dataset.scriptId = scriptId;
        button.disabled = !!ext.disabled;
        button.onclick = () => uiEvent(scriptId, ext.id, "", "callback");
        toolbar.append(button);
      } else {
        const panel = el("details", `ext-panel ext-${ext.type}`);
        panel.open = true;
        panel.dataset.extensionId = ext.id;
        panel.append(el("summary", "", ext.name || ext.id));
        const body = el("div", "panel-body");
        renderContent(body, ext.content, ctx);
        panel.append(body);
        panels.append(panel);
      }
    }
  }
}

export function renderUi(snapshot, sendCommand) {
  send = sendCommand;
  for (const state of scripts.values()) for (const win of state.windows.values()) win.remove();
  scripts.clear();
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
