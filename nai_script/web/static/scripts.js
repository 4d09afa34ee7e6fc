// The scripts list: state (running / error with file:line / killed with reason / disabled),
// enable/disable, reload, and the config form from the script's header.
function button(text, onclick) {
  const b = document.createElement("button");
  b.textContent = text;
  b.onclick = onclick;
  return b;
}

function configForm(script, send) {
  const form = document.createElement("form");
  form.className = "script-config";
  for (const option of script.config || []) {
    const label = document.createElement("label");
    label.textContent = `${option.prettyName || option.name} `;
    const input = document.createElement("input");
    input.name = option.name;
    if (typeof option.value === "boolean") { input.type = "checkbox"; input.checked = option.value; }
    else if (typeof option.value === "number") { input.type = "number"; input.value = option.value; input.step = "any"; }
    else input.value = option.value ?? "";
    label.append(input);
    form.append(label);
  }
  if (!form.childElementCount) return null;
  form.append(button("Save config", (e) => {
    e.preventDefault();
    const values = {};
    for (const input of form.querySelectorAll("input")) {
      values[input.name] = input.type === "checkbox" ? input.checked : input.type === "number" ? Number(input.value) : input.value;
    }
    send({ type: "script.config", id: script.id, values });
  }));
  return form;
}

function row(script, send) {
  const li = document.createElement("li");
  li.dataset.scriptId = script.id;
  li.dataset.path = script.path;
  const title = document.createElement("div");
  const state = document.createElement("span");
  state.className = `script-state state-${script.state}`;
  state.textContent = script.state;
  title.append(document.createTextNode(`${script.name} `), state, document.createTextNode(" "));
  if (script.state === "disabled") title.append(button("Enable", () => send({ type: "script.enable", id: script.id })));
  else title.append(button("Disable", () => send({ type: "script.disable", id: script.id })));
  title.append(button("Reload", () => send({ type: "script.reload", id: script.id })));
  li.append(title);
  const problem = script.error || script.reason;
  if (problem) {
    const pre = document.createElement("div");
    pre.className = "script-error";
    pre.textContent = problem;
    li.append(pre);
  }
  const form = configForm(script, send);
  if (form) li.append(form);
  return li;
}

export function renderScripts(scripts, send) {
  document.getElementById("scripts").replaceChildren(...scripts.map((s) => row(s, send)));
}

export function applyScriptState(scripts, event, send) {
  const { type, ...state } = event;
  const index = scripts.findIndex((s) => s.path === state.path);
  if (index >= 0) scripts[index] = state; else scripts.push(state);
  scripts.sort((a, b) => a.path.localeCompare(b.path));
  renderScripts(scripts, send);
}

export function removeScript(scripts, event, send) {
  const index = scripts.findIndex((s) => s.path === event.path);
  if (index >= 0) scripts.splice(index, 1);
  renderScripts(scripts, send);
}
