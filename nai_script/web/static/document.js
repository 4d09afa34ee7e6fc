// The story document: one paragraph per section, marked by origin (AI text stands out),
// with AI text streaming in token by token.
const doc = () => document.getElementById("document");

function paragraph(section) {
  const p = document.createElement("p");
  p.dataset.sectionId = section.id;
  p.className = `section origin-${section.origin || "user"}`;
  p.textContent = section.text;
  p.contentEditable = "true";
  p.addEventListener("blur", () => {
    if (p.textContent !== p.dataset.committed) {
      window.naiScript.send({ type: "edit", sectionId: section.id, text: p.textContent });
    }
  });
  p.dataset.committed = section.text;
  return p;
}

export function renderDocument(story) {
  const root = doc();
  root.replaceChildren(...((story && story.sections) || []).map(paragraph));
  document.getElementById("story-title").textContent = (story && story.settings?.title) || "";
  if (story?.history) renderHistory(story.history);
  root.scrollTop = root.scrollHeight;
}

function find(id) {
  return doc().querySelector(`p[data-section-id="${CSS.escape(id)}"]`);
}

export function applySection(event) {
  const section = event.section || {};
  const existing = find(section.id ?? event.sectionId ?? "");
  if (event.op === "remove") { existing?.remove(); return; }
  const fresh = paragraph(section);
  if (existing) existing.replaceWith(fresh);
  else {
    const before = typeof event.index === "number" ? doc().children[event.index] : null;
    if (before) before.before(fresh); else doc().append(fresh);
  }
  doc().scrollTop = doc().scrollHeight;
}

export function applyStream(event) {
  let p = find(event.sectionId);
  if (!p) { p = paragraph({ id: event.sectionId, text: "", origin: "ai" }); doc().append(p); }
  p.textContent += event.text;
  p.dataset.committed = p.textContent;
  doc().scrollTop = doc().scrollHeight;
}

export function renderBlocked(blocked) {
  document.getElementById("blocked").hidden = !blocked;
  document.getElementById("send").disabled = !!blocked;
}

export function renderHistory(history) {
  document.getElementById("undo").disabled = !history.canUndo;
  document.getElementById("redo").disabled = !history.canRedo;
}
