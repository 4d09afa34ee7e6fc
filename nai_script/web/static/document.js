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

// `reason`: why Send must wait (a generation in progress, a script's blocking generation).
export function renderBlocked(blocked, reason) {
  const note = document.getElementById("blocked");
  note.hidden = !blocked;
  note.textContent = `blocked: ${reason || "a generation is in progress"}`;
  document.getElementById("send").disabled = !!blocked;
}

export function renderHistory(history) {
  document.getElementById("undo").disabled = !history.canUndo;
  document.getElementById("redo").disabled = !history.canRedo;
}

// ---------------------------------------------------------------- selection
// The user's selection as the editor api sees it: `{from, to, anchor, head}`, each
// `{sectionId, offset}` (offset in the section's text); from/to in document order.
function pointOf(node, offset) {
  const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
  const p = element?.closest("#document p[data-section-id]");
  if (!p) return null;
  const range = document.createRange();
  range.setStart(p, 0);
  range.setEnd(node, offset);
  return { sectionId: p.dataset.sectionId, offset: range.toString().length };
}

export function documentSelection() {
  const selection = window.getSelection();
  if (!selection || !selection.rangeCount) return null;
  const anchor = pointOf(selection.anchorNode, selection.anchorOffset);
  const head = pointOf(selection.focusNode, selection.focusOffset);
  if (!anchor || !head) return null;
  const order = [...doc().querySelectorAll("p[data-section-id]")].map((p) => p.dataset.sectionId);
  const before = (a, b) => {
    const i = order.indexOf(a.sectionId), j = order.indexOf(b.sectionId);
    return i < j || (i === j && a.offset <= b.offset);
  };
  const [from, to] = before(anchor, head) ? [anchor, head] : [head, anchor];
  return { from, to, anchor, head };
}

// Tell the server where the selection is whenever it moves inside the document (debounced),
// so `api.v1.editor.selection.get()` sees it; a selection elsewhere on the page is not ours.
export function reportSelection(send) {
  let timer = null;
  let last = "";
  document.addEventListener("selectionchange", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const selection = documentSelection();
      if (!selection) return;
      const text = JSON.stringify(selection);
      if (text === last) return;
      last = text;
      send({ type: "selection", selection });
    }, 100);
  });
}
