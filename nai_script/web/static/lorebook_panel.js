// The lorebook's "Script" area (NovelAI's `lorebookPanel` extension). While a lorebook entry or
// category is selected and at least one script registered a lorebook panel, the area shows one
// tab per panel (its `name`) with the panel's parts, drawn by script_ui.js's renderer (so
// callbacks, inputs and `ui.updateParts` work as in the other panels). Selecting sends
// `lorebook.select`; the scripts' `onLorebookEntrySelected` hooks then fill their panels.

let selection = null; // { entryId } or { categoryId }; null: nothing selected
let panels = []; // [{ scriptId, ext }] in the scripts' order
let renderBody = () => {};
let bodies = new Map(); // panel key -> its body element, kept so updates keep the focus
let activeKey = null; // the tab shown

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const keyOf = (p) => `${p.scriptId}|${p.ext.id}`;

export function lorebookSelection() { return selection; }

// The page selected an entry or a category (null: nothing); the hook fires on a change only.
export function selectLorebook(next, send) {
  const changed = JSON.stringify(next) !== JSON.stringify(selection);
  selection = next;
  if (changed && next) send({ type: "lorebook.select", ...next });
  markSelected();
  drawLorebookPanels();
}

// The scripts' lorebook panels changed (`renderContent(container, content, ctx)` draws parts).
export function setLorebookPanels(list, renderContent) {
  panels = list;
  renderBody = renderContent;
  drawLorebookPanels();
}

// Highlight the selected entry form or category button in the lorebook list.
export function markSelected() {
  for (const node of document.querySelectorAll("#lorebook-list [data-entry-id], #lorebook-list [data-category-id]")) {
    const selected = !!selection && (node.dataset.entryId !== undefined
      ? selection.entryId === node.dataset.entryId
      : selection.categoryId === node.dataset.categoryId);
    node.classList.toggle("lore-selected", selected);
  }
}

export function drawLorebookPanels() {
  const root = document.getElementById("lorebook-script");
  if (!root) return;
  const show = !!selection && panels.length > 0;
  root.hidden = !show;
  if (!show) {
    root.replaceChildren();
    bodies = new Map();
    return;
  }
  if (!panels.some((p) => keyOf(p) === activeKey)) activeKey = keyOf(panels[0]);
  if (!root.querySelector(".lorebook-script-tabs")) {
    root.replaceChildren(el("h3", "", "Script"), el("div", "lorebook-script-tabs"), el("div", "lorebook-script-bodies"));
    root.querySelector(".lorebook-script-tabs").setAttribute("role", "tablist");
  }
  const tabs = [];
  const kept = new Map();
  for (const p of panels) {
    const key = keyOf(p);
    const tab = el("button", "lorebook-script-tab", p.ext.name || p.ext.id);
    tab.type = "button";
    tab.dataset.panelKey = key;
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-selected", String(key === activeKey));
    tab.onclick = () => { activeKey = key; drawLorebookPanels(); };
    tabs.push(tab);
    const body = bodies.get(key) ?? el("div", "lorebook-script-panel");
    body.dataset.scriptId = p.scriptId;
    body.dataset.extensionId = p.ext.id;
    body.setAttribute("role", "tabpanel");
    body.hidden = key !== activeKey;
    renderBody(body, p.ext.content, { scriptId: p.scriptId, targetId: p.ext.id });
    kept.set(key, body);
  }
  root.querySelector(".lorebook-script-tabs").replaceChildren(...tabs);
  const holder = root.querySelector(".lorebook-script-bodies");
  const wanted = [...kept.values()];
  if (wanted.length !== holder.children.length || wanted.some((b, i) => holder.children[i] !== b)) {
    holder.replaceChildren(...wanted);
  }
  bodies = kept;
}
