// The `codeEditor` part. NovelAI draws Monaco; this page has no build step and bundles no
// editor, so it is a monospace <textarea>: no syntax highlighting and no diagnostics
// (`language` is kept as `data-language`, `diagnosticCodesToIgnore` has nothing to act on).
// `readOnly`, `height`, `fontSize` and `wordWrap` apply; `lineNumbers` shows a gutter when
// lines do not wrap (with `wordWrap` a wrapped line would put the numbers out of step).
// Tab inserts a tab character; Escape then Tab leaves the field.

// A size as CSS: a number is pixels, a string a CSS length already (script windows too).
export function cssSize(value) { return typeof value === "number" ? `${value}px` : value; }

// `fire(event, value)` sends a ui.event for this part, as for the other inputs.
export function renderCodeEditor(part, fire) {
  const node = document.createElement("div");
  node.className = "part-code-editor";
  node.style.height = cssSize(part.height ?? 300);
  node.style.fontSize = `${part.fontSize ?? 14}px`;

  const input = document.createElement("textarea");
  input.className = "part-code";
  input.dataset.language = part.language ?? "typescript";
  input.spellcheck = false;
  input.readOnly = !!part.readOnly;
  const wrap = part.wordWrap ?? true;
  input.wrap = wrap ? "soft" : "off";
  input.value = part.value ?? part.initialValue ?? "";

  let gutter = null;
  if ((part.lineNumbers ?? true) && !wrap) {
    gutter = document.createElement("pre");
    gutter.className = "part-code-gutter";
    gutter.setAttribute("aria-hidden", "true");
    node.append(gutter);
  }
  let shownLines = 0;
  const sync = () => {
    if (!gutter) return;
    const lines = input.value.split("\n").length;
    if (lines !== shownLines) {
      shownLines = lines;
      gutter.textContent = Array.from({ length: lines }, (_, i) => i + 1).join("\n");
    }
    gutter.scrollTop = input.scrollTop;
  };
  // A redraw while typing puts the person's text back and focuses the new field
  // (script_ui.js renderContent): the focus is the moment to renumber.
  input.addEventListener("focus", sync);
  input.addEventListener("scroll", sync);
  input.oninput = () => { sync(); fire("onChange", input.value); };

  let escaped = false;
  input.onkeydown = (e) => {
    if (e.key === "Escape") { escaped = true; return; }
    const leave = escaped;
    escaped = false;
    if (e.key !== "Tab" || e.shiftKey || e.ctrlKey || e.altKey || e.metaKey || leave || input.readOnly) return;
    e.preventDefault();
    input.setRangeText("\t", input.selectionStart, input.selectionEnd, "end");
    input.oninput();
  };
  node.append(input);
  sync();
  return node;
}
