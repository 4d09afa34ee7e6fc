// The diagnostics tab: per script both buckets (available, held entries with countdowns,
// waiting for interaction), cache hits/misses per recent generation, editor.generate calls
// left, worker CPU/memory, recent logs and errors.
function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function seconds(s) { return `${Math.max(0, s).toFixed(1)} s`; }

// An entry returns when its window has passed AND the user interacted after it: show both.
function entryWait(entry, now) {
  const windowLeft = entry.due_at - now;
  if (!entry.waiting_for_interaction) return windowLeft > 0 ? `returns in ${seconds(windowLeft)}` : "returning";
  return windowLeft > 0 ? `window ends in ${seconds(windowLeft)}, then waits for interaction` : "waits for interaction";
}

function bucket(name, b, now) {
  const box = el("div", undefined, `bucket bucket-${name}`);
  box.append(el("div", `${name}: ${b.available} / ${b.capacity} available, ${b.held} held (window ${seconds(b.window_s)})` +
    (b.waiting_for_interaction ? " — waiting for interaction" : "")));
  const table = el("table", undefined, "diag");
  for (const entry of b.entries || []) {
    const tr = el("tr");
    tr.append(el("td", `${entry.amount}${entry.in_flight ? " (in flight)" : ""}`),
      el("td", entryWait(entry, now)));
    table.append(tr);
  }
  box.append(table);
  return box;
}

// Prefix-cache hits and misses per generation (newest first), then their totals.
const CACHE_ROWS = 10;
function cache(gens, now) {
  const box = el("div", undefined, "cache");
  const cached = gens.reduce((n, g) => n + g.cached, 0), uncached = gens.reduce((n, g) => n + g.uncached, 0);
  box.append(el("div", `cache: ${cached} cached / ${uncached} uncached input tokens over ${gens.length} recent generations`));
  const table = el("table", undefined, "diag");
  for (const g of gens.slice(-CACHE_ROWS).reverse()) {
    const tr = el("tr");
    tr.append(el("td", `${seconds(now - g.at)} ago`),
      el("td", `${g.prompt_tokens} prompt tokens: ${g.cached} cached, ${g.uncached} uncached`),
      el("td", g.outcome));
    table.append(tr);
  }
  box.append(table);
  return box;
}

function script(d) {
  const section = el("section", undefined, "diag-script");
  section.dataset.scriptId = d.script_id;
  section.append(el("h4", `${d.name} (${d.script_id})`));
  const limits = d.limits;
  section.append(bucket("output", limits.output, limits.now), bucket("input", limits.input, limits.now));
  section.append(cache(limits.recent_generations || [], limits.now));
  if (d.editor_generate_left !== undefined) {
    section.append(el("div", `editor.generate calls left: ${d.editor_generate_left}`, "generate-left"));
  }
  const w = d.worker;
  const rss = w.rss_bytes ? `${(w.rss_bytes / 1048576).toFixed(1)} MB` : "?";
  section.append(el("div", `worker ${w.alive ? `pid ${w.pid}` : `exited: ${w.exit_reason}`}, CPU ${w.cpu_seconds?.toFixed(2) ?? "?"} s, memory ${rss} / ${w.memory_limit_mb ?? "?"} MB` +
    (d.generating ? `, generating (${d.behaviour})` : "")));
  const log = el("div", undefined, "log");
  for (const line of (d.recent_logs || []).slice(-20)) log.append(el("div", line.text, line.level));
  section.append(log);
  return section;
}

export function renderDiagnostics(list) {
  document.getElementById("tab-diagnostics").replaceChildren(...(list || []).map(script));
}
