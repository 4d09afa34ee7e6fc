// The page's prompts: a box in #prompts with a question and an allow and a deny button.
// Permission prompts (a script asks at load, or with permissions.request) live here; the
// page requests (page_requests.js) use promptBox too.
export function promptBox(className, requestId, text, [allowLabel, onAllow], [denyLabel, onDeny]) {
  const box = document.createElement("div");
  box.className = `prompt ${className}`;
  box.dataset.requestId = requestId;
  const line = document.createElement("p");
  line.textContent = text;
  const allow = document.createElement("button");
  allow.textContent = allowLabel;
  allow.className = "allow";
  allow.onclick = onAllow;
  const deny = document.createElement("button");
  deny.textContent = denyLabel;
  deny.className = "deny";
  deny.onclick = onDeny;
  box.append(line, allow, deny);
  document.getElementById("prompts").append(box);
  return box;
}

export function showPermissionRequest(request, send) {
  const wanted = (request.wanted || []).join(", ");
  const text = `Script ${request.scriptName || request.scriptId} asks for: ${wanted}` +
    (request.reason ? ` — ${request.reason}` : "");
  const answer = (granted) => () => { send({ type: "permission.answer", id: request.id, granted }); box.remove(); };
  const box = promptBox("permission-prompt", request.id, text, ["Allow", answer(true)], ["Deny", answer(false)]);
}

export function renderPermissions(snapshot, send) {
  for (const box of document.querySelectorAll("#prompts .permission-prompt")) box.remove();
  const pending = Array.isArray(snapshot) ? snapshot : (snapshot?.pending || []);
  for (const request of pending) showPermissionRequest(request, send);
}
