// The story list: every story of the --data folder, the open one marked; create, open and
// delete. The list comes with each story snapshot (`story.stories`), so it refreshes itself
// whenever any page changes stories.
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function storyRow(info, openId, send) {
  const open = info.id === openId;
  const li = el("li", { className: open ? "story open" : "story" });
  li.dataset.storyId = info.id;
  const title = el("button", { className: "story-open", textContent: info.title || "Untitled",
    disabled: open, title: open ? "the open story" : "open this story" });
  title.onclick = () => send({ type: "story.open", id: info.id });
  const remove = el("button", { className: "story-delete", textContent: "Delete" });
  remove.onclick = () => {
    if (confirm(`Delete the story "${info.title || "Untitled"}"? This cannot be undone.`)) {
      send({ type: "story.delete", id: info.id });
    }
  };
  li.append(title, " ", remove);
  return li;
}

export function renderStories(story, send) {
  const root = document.getElementById("stories");
  if (!root) return;
  if (!story) { root.replaceChildren(); return; }
  const openId = story.story?.id;
  const list = el("ul", { id: "story-list" }, ...(story.stories || []).map((s) => storyRow(s, openId, send)));
  const name = el("input", { id: "new-story-title", placeholder: "New story title" });
  const create = el("button", { id: "new-story", textContent: "New story" });
  create.onclick = () => { send({ type: "story.create", title: name.value.trim() || "Untitled" }); name.value = ""; };
  root.replaceChildren(list, el("div", { className: "story-new" }, name, " ", create));
}
