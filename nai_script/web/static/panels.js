// Story settings (title, memory, author's note, system prompt, prefill, model and parameters)
// and the lorebook (categories and entries).
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

const TEXT_FIELDS = [["title", "input"], ["description", "input"], ["memory", "textarea"],
  ["authorsNote", "textarea"], ["systemPrompt", "textarea"], ["prefill", "textarea"]];
const PARAMS = ["model", "max_tokens", "temperature", "top_p", "top_k", "min_p", "frequency_penalty", "presence_penalty"];

function settingsForm(settings, send) {
  const form = el("form", { id: "settings-form" });
  for (const [name, tag] of TEXT_FIELDS) {
    const input = el(tag, { name, value: settings[name] ?? "" });
    form.append(el("label", {}, `${name} `, input));
  }
  const params = settings.params || {};
  for (const name of PARAMS) {
    const input = el("input", { name: `params.${name}`, value: params[name] ?? "" });
    if (name !== "model") { input.type = "number"; input.step = "any"; }
    form.append(el("label", {}, `${name} `, input));
  }
  form.append(el("button", { type: "submit", textContent: "Save settings" }));
  form.onsubmit = (e) => {
    e.preventDefault();
    const update = { params: {} };
    for (const input of form.querySelectorAll("input, textarea")) {
      if (input.name.startsWith("params.")) {
        const key = input.name.slice(7);
        update.params[key] = key === "model" ? input.value : Number(input.value);
      } else update[input.name] = input.value;
    }
    send({ type: "settings.update", settings: update });
  };
  return form;
}

function entryForm(entry, send) {
  const keys = el("input", { name: "keys", value: (entry.keys || []).join(", ") });
  const name = el("input", { name: "displayName", value: entry.displayName || "" });
  const text = el("textarea", { name: "text", value: entry.text || "" });
  const enabled = el("input", { type: "checkbox", name: "enabled", checked: entry.enabled !== false });
  const force = el("input", { type: "checkbox", name: "forceActivation", checked: !!entry.forceActivation });
  const form = el("form", { className: "lore-entry" },
    el("label", {}, "name ", name), el("label", {}, "keys ", keys), el("label", {}, "text ", text),
    el("label", {}, enabled, " enabled"), el("label", {}, force, " always on"));
  const collect = () => ({ ...(entry.id ? { id: entry.id } : {}), category: entry.category ?? null,
    displayName: name.value, keys: keys.value.split(",").map((k) => k.trim()).filter(Boolean),
    text: text.value, enabled: enabled.checked, forceActivation: force.checked });
  form.append(el("button", { type: "submit", textContent: entry.id ? "Save" : "Add entry" }));
  form.onsubmit = (e) => {
    e.preventDefault();
    send({ type: entry.id ? "lorebook.entry.update" : "lorebook.entry.create", entry: collect() });
  };
  if (entry.id) {
    form.append(el("button", { type: "button", textContent: "Delete",
      onclick: () => send({ type: "lorebook.entry.remove", id: entry.id }) }));
  }
  return form;
}

export function renderStoryPanels(story, send) {
  const storyTab = document.getElementById("tab-story");
  const loreTab = document.getElementById("tab-lorebook");
  if (!story) {
    storyTab.replaceChildren(el("p", { textContent: "The story editor is not running." }));
    loreTab.replaceChildren();
    return;
  }
  storyTab.replaceChildren(settingsForm(story.settings || {}, send));
  // A snapshot carries `entries`/`categories`; a `lorebook.changed` event sets `lorebook`.
  const lorebook = story.lorebook || { entries: story.entries, categories: story.categories };
  const categories = lorebook.categories || [];
  loreTab.replaceChildren(
    el("div", { textContent: `categories: ${categories.map((c) => c.name).join(", ") || "none"}` }),
    ...(lorebook.entries || []).map((entry) => entryForm(entry, send)),
    entryForm({}, send),
  );
}
