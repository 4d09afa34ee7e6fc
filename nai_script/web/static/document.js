// The story document: one paragraph per section, marked by origin (AI text stands out),
// with AI text streaming in token by token.
const doc = () => document.getElementById("document");

function span(text, origin) {
  const node = document.createElement("span");
  node.className = `origin-${origin}`;
  node.textContent = text;
  return node;
}

// A section's text split by who wrote each part (its origin spans), so AI text is marked
// even where it continues a user paragraph.
function fill(p, section) {
  const spans = section.origins || [];
  if (!spans.length) { p.replaceChildren(span(section.text, section.origin || "user")); return; }
  const parts = [];
  let at = 0;
  for (const range of spans) {
    if (range.position > at) parts.push(span(section.text.slice(at, range.position), section.origin || "user"));
    parts.push(span(section.text.slice(range.position, range.position + range.length), range.data));
    at = range.position + range.length;
  }
  if (at < section.text.length) parts.push(span(section.text.slice(at), section.origin || "user"));
  p.replaceChildren(...parts);
}

function paragraph(section) {
  const p = document.createElement("p");
  p.dataset.sectionId = section.id;
  p.className = `section section-${section.origin || "user"}`;
  fill(p, section);
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
  let tail = p.lastElementChild;
  if (!tail || !tail.classList.contains("origin-ai")) { tail = span("", "ai"); p.append(tail); }
  tail.textContent += event.text;
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
