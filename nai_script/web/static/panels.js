// Story settings (title, memory, author's note, system prompt, prefill, model and parameters)
// and the lorebook (categories and entries; clicking one selects it for the scripts'
// lorebook panels, lorebook_panel.js).
//
// The panels are redrawn whenever the story changes (another tab saved, a script set the
// memory or added an entry, an undo): a field the user has changed but not saved keeps what
// they typed (and the focus), and a save sends only the fields they changed, so it never
// reverts what changed meanwhile under the fields they did not touch.
import { lorebookSelection, selectLorebook, markSelected } from "./lorebook_panel.js";

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

// A form field remembering the value it was drawn with.
function field(tag, props) {
  const node = el(tag, props);
  node.dataset.drawn = fieldValue(node);
  return node;
}

function fieldValue(node) { return node.type === "checkbox" ? String(node.checked) : node.value; }
function changed(node) { return fieldValue(node) !== node.dataset.drawn; }

// Sent: nothing is unsaved any more (a new entry's form empties for the next one).
function settle(form, { empty = false } = {}) {
  for (const node of form.querySelectorAll("input[name], textarea[name]")) {
    if (empty && node.type !== "checkbox") node.value = node.dataset.drawn;
    else node.dataset.drawn = fieldValue(node);
  }
}

// What the user changed in the panels, by form key and field name, and where the caret was.
function unsaved(root) {
  const edits = new Map();
  for (const form of root.querySelectorAll("form[data-key]")) {
    for (const node of form.querySelectorAll("input[name], textarea[name]")) {
      if (changed(node)) edits.set(`${form.dataset.key}/${node.name}`, fieldValue(node));
    }
  }
  const active = document.activeElement;
  const form = active?.closest?.("form[data-key]");
  const focus = form && root.contains(form) && active.name
    ? { key: `${form.dataset.key}/${active.name}`, start: active.selectionStart, end: active.selectionEnd }
    : null;
  return { edits, focus };
}

function restore(root, { edits, focus }) {
  for (const form of root.querySelectorAll("form[data-key]")) {
    for (const node of form.querySelectorAll("input[name], textarea[name]")) {
      const key = `${form.dataset.key}/${node.name}`;
      if (edits.has(key)) {
        if (node.type === "checkbox") node.checked = edits.get(key) === "true"; else node.value = edits.get(key);
      }
      if (focus && focus.key === key) {
        node.focus();
        if (focus.start !== null && node.setSelectionRange) node.setSelectionRange(focus.start, focus.end);
      }
    }
  }
}

const TEXT_FIELDS = [["title", "input"], ["description", "input"], ["memory", "textarea"],
  ["authorsNote", "textarea"], ["systemPrompt", "textarea"], ["prefill", "textarea"]];
const PARAMS = ["model", "max_tokens", "temperature", "top_p", "top_k", "min_p", "frequency_penalty", "presence_penalty"];

function settingsForm(settings, storyId, send) {
  const form = el("form", { id: "settings-form" });
  form.dataset.key = `settings:${storyId}`; // unsaved typing stays with its story
  for (const [name, tag] of TEXT_FIELDS) {
    const input = field(tag, { name, value: settings[name] ?? "" });
    form.append(el("label", {}, `${name} `, input));
  }
  const params = settings.params || {};
  for (const name of PARAMS) {
    const numeric = name !== "model";
    const input = field("input", { name: `params.${name}`, value: params[name] ?? "", ...(numeric ? { type: "number", step: "any" } : {}) });
    form.append(el("label", {}, `${name} `, input));
  }
  form.append(el("button", { type: "submit", textContent: "Save settings" }));
  form.onsubmit = (e) => {
    e.preventDefault();
    const update = { params: {} };
    for (const input of form.querySelectorAll("input, textarea")) {
      if (!changed(input)) continue;
      if (input.name.startsWith("params.")) {
        const key = input.name.slice(7);
        update.params[key] = key === "model" ? input.value : Number(input.value);
      } else update[input.name] = input.value;
    }
    send({ type: "settings.update", settings: update });
    settle(form);
  };
  return form;
}

function entryForm(entry, storyId, send) {
  const keys = field("input", { name: "keys", value: (entry.keys || []).join(", ") });
  const name = field("input", { name: "displayName", value: entry.displayName || "" });
  const text = field("textarea", { name: "text", value: entry.text || "" });
  const enabled = field("input", { type: "checkbox", name: "enabled", checked: entry.enabled !== false });
  const force = field("input", { type: "checkbox", name: "forceActivation", checked: !!entry.forceActivation });
  const form = el("form", { className: "lore-entry" },
    el("label", {}, "name ", name), el("label", {}, "keys ", keys), el("label", {}, "text ", text),
    el("label", {}, enabled, " enabled"), el("label", {}, force, " always on"));
  const collect = () => ({ ...(entry.id ? { id: entry.id } : {}), category: entry.category ?? null,
    displayName: name.value, keys: keys.value.split(",").map((k) => k.trim()).filter(Boolean),
    text: text.value, enabled: enabled.checked, forceActivation: force.checked });
  form.dataset.key = entry.id ? `entry:${storyId}:${entry.id}` : `new-entry:${storyId}`;
  if (entry.id) {
    form.dataset.entryId = entry.id;
    form.onfocusin = form.onclick = () => selectLorebook({ entryId: entry.id }, send);
  }
  form.append(el("button", { type: "submit", textContent: entry.id ? "Save" : "Add entry" }));
  form.onsubmit = (e) => {
    e.preventDefault();
    send({ type: entry.id ? "lorebook.entry.update" : "lorebook.entry.create", entry: collect() });
    settle(form, { empty: !entry.id });
  };
  if (entry.id) {
    form.append(el("button", { type: "button", textContent: "Delete",
      onclick: () => send({ type: "lorebook.entry.remove", id: entry.id }) }));
  }
  return form;
}

export function renderStoryPanels(story, send) {
  const storyTab = document.getElementById("tab-story");
  const loreTab = document.getElementById("lorebook-list");
  if (!story) {
    storyTab.replaceChildren(el("p", { textContent: "The story editor is not running." }));
    loreTab.replaceChildren();
    return;
  }
  const kept = [unsaved(storyTab), unsaved(loreTab)];
  const storyId = story.story?.id ?? "";
  storyTab.replaceChildren(settingsForm(story.settings || {}, storyId, send));
  // A snapshot carries `entries`/`categories`; a `lorebook.changed` event sets `lorebook`.
  const lorebook = story.lorebook || { entries: story.entries, categories: story.categories };
  const categories = lorebook.categories || [];
  const categoryButtons = categories.map((c) => {
    const button = el("button", { type: "button", className: "lore-category", textContent: c.name || c.id,
      onclick: () => selectLorebook({ categoryId: c.id }, send) });
    button.dataset.categoryId = c.id;
    return button;
  });
  loreTab.replaceChildren(
    el("div", {}, "categories: ", ...(categoryButtons.length ? categoryButtons : ["none"])),
    ...(lorebook.entries || []).map((entry) => entryForm(entry, storyId, send)),
    entryForm({}, storyId, send),
  );
  restore(storyTab, kept[0]);
  restore(loreTab, kept[1]);
  // A selected entry or category that is gone (deleted, another story) is no longer selected.
  const selected = lorebookSelection();
  const ids = selected?.entryId ? (lorebook.entries || []).map((e) => e.id) : categories.map((c) => c.id);
  if (selected && !ids.includes(selected.entryId ?? selected.categoryId)) selectLorebook(null, send);
  else markSelected();
}
