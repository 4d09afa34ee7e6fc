// Permission prompts: a script asks (at load, or with permissions.request); the user answers.
export function showPermissionRequest(request, send) {
  const box = document.createElement("div");
  box.className = "prompt permission-prompt";
  box.dataset.requestId = request.id;
  const text = document.createElement("p");
  const wanted = (request.wanted || []).join(", ");
  text.textContent = `Script ${request.scriptName || request.scriptId} asks for: ${wanted}` +
    (request.reason ? ` — ${request.reason}` : "");
  const answer = (granted) => () => { send({ type: "permission.answer", id: request.id, granted }); box.remove(); };
  const allow = document.createElement("button");
  allow.textContent = "Allow";
  allow.className = "allow";
  allow.onclick = answer(true);
  const deny = document.createElement("button");
  deny.textContent = "Deny";
  deny.className = "deny";
  deny.onclick = answer(false);
  box.append(text, allow, deny);
  document.getElementById("prompts").append(box);
}

export function renderPermissions(snapshot, send) {
  for (const box of document.querySelectorAll("#prompts .permission-prompt")) box.remove();
  const pending = Array.isArray(snapshot) ? snapshot : (snapshot?.pending || []);
  for (const request of pending) showPermissionRequest(request, send);
}
