// Page requests: what only the page can do for a script — clipboard.writeText, file.save and
// file.prompt. A request arrives as `page.request`; the page answers with `page.answer`
// {id, ok, value?, error?}; `page.resolved` (this page's answer, another page's, or the host's
// timeout) drops the prompt on every page.
//
// A request that arrives live is carried out at once where the browser allows it (copy, save
// from the focused page); otherwise, and for anything from a `state` snapshot (a page that
// reconnects must not save a file twice), the person is asked with a small prompt.

import { promptBox } from "./prompts.js";

const inFlight = new Set(); // ids this page is carrying out: a snapshot must not prompt again

function scriptLabel(request) {
  return request.scriptName || request.scriptId;
}

function answer(send, request, ok, value, error) {
  const message = { type: "page.answer", id: request.id, ok };
  if (value !== undefined) message.value = value;
  if (error) message.error = String(error);
  send(message);
  dropPageRequest(request.id);
}

function showPrompt(request, text, actionLabel, action, send) {
  const go = () => { inFlight.add(request.id); box.hidden = true; action(); };
  const cancel = () => request.kind === "file.prompt"
    ? answer(send, request, true, null) // nothing chosen: the script gets None
    : answer(send, request, false, undefined, "the user cancelled");
  const box = promptBox("page-prompt", request.id, text, [actionLabel, go], ["Cancel", cancel]);
  box.dataset.kind = request.kind;
}

// -- clipboard.writeText -----------------------------------------------------------------

function copyWithTextarea(text) {
  // For pages without navigator.clipboard (not a secure context); needs a click to work.
  const area = document.createElement("textarea");
  area.value = text;
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  try { return document.execCommand("copy"); } catch { return false; } finally { area.remove(); }
}

async function writeClipboard(request, send, live) {
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(request.text);
    } catch (error) {
      if (!copyWithTextarea(request.text)) return answer(send, request, false, undefined, `the browser refused to copy: ${error.message || error}`);
    }
    answer(send, request, true);
  };
  if (live && navigator.clipboard) {
    inFlight.add(request.id);
    try {
      await navigator.clipboard.writeText(request.text);
      return answer(send, request, true);
    } catch {
      inFlight.delete(request.id); // no user activation or no permission: ask for a click
    }
  }
  showPrompt(request, `Script ${scriptLabel(request)} wants to copy text`, "Copy", copy, send);
}

// -- file.save ---------------------------------------------------------------------------

function saveFile(request, send, live) {
  const save = () => {
    const url = URL.createObjectURL(new Blob([request.content], { type: "text/plain;charset=utf-8" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = request.filename;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    answer(send, request, true);
  };
  // Only the page in front saves unasked: with two pages open, one download, not two.
  if (live && document.hasFocus()) { inFlight.add(request.id); save(); return; }
  showPrompt(request, `Script ${scriptLabel(request)} wants to save ${request.filename}`, "Save", save, send);
}

// -- file.prompt -------------------------------------------------------------------------

function readDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function readFiles(request, files) {
  const limit = request.maxBytes || Infinity;
  const raw = files.reduce((sum, file) => sum + file.size, 0);
  const estimate = request.readAs === "dataURL" ? Math.ceil(raw / 3) * 4 : raw;
  if (estimate > limit) throw new Error(`the files are ${raw} bytes; at most ${limit} can be read`);
  const texts = [];
  for (const file of files) {
    if (request.readAs === "dataURL") texts.push(await readDataUrl(file));
    else texts.push(new TextDecoder(request.encoding || "utf-8").decode(await file.arrayBuffer()));
  }
  const size = texts.reduce((sum, text) => sum + new TextEncoder().encode(text).length, 0);
  if (size > limit) throw new Error(`the files read are ${size} bytes; at most ${limit}`);
  return texts;
}

function openFile(request, send) {
  const choose = () => {
    const input = document.createElement("input");
    input.type = "file";
    input.multiple = !!request.multiple;
    if (request.accept) input.accept = request.accept;
    input.addEventListener("cancel", () => answer(send, request, true, null));
    input.addEventListener("change", async () => {
      const files = [...(input.files || [])];
      if (!files.length) return answer(send, request, true, null);
      try {
        const texts = await readFiles(request, files);
        answer(send, request, true, request.multiple ? texts : texts[0]);
      } catch (error) {
        answer(send, request, false, undefined, error.message || String(error));
      }
    });
    input.click();
  };
  const what = request.multiple ? "files" : "a file";
  showPrompt(request, `Script ${scriptLabel(request)} wants to open ${what}`, "Choose file…", choose, send);
}

// -- events ------------------------------------------------------------------------------

const KINDS = {
  "clipboard.writeText": writeClipboard,
  "file.save": saveFile,
  "file.prompt": (request, send) => openFile(request, send),
};

export function showPageRequest(request, send, live = true) {
  const run = KINDS[request.kind];
  if (run) run(request, send, live);
  else answer(send, request, false, undefined, `this page cannot do ${request.kind}`);
}

export function dropPageRequest(id) {
  inFlight.delete(id);
  document.querySelector(`.page-prompt[data-request-id="${CSS.escape(id)}"]`)?.remove();
}

export function renderPageRequests(pending, send) {
  const open = new Set((pending || []).map((request) => request.id));
  for (const box of document.querySelectorAll(".page-prompt")) {
    if (!open.has(box.dataset.requestId)) box.remove();
  }
  for (const request of pending || []) {
    const shown = document.querySelector(`.page-prompt[data-request-id="${CSS.escape(request.id)}"]`);
    if (!shown && !inFlight.has(request.id)) showPageRequest(request, send, false);
  }
}
