// A small, safe markdown subset for script text parts: the text is HTML-escaped first, then
// headings, bold, italics, inline code, links (http/https only) and line breaks are applied.
function escape(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

export function renderMarkdown(source) {
  return escape(source)
    .split("\n")
    .map((line) => {
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      if (heading) return `<strong class="md-h${heading[1].length}">${heading[2]}</strong>`;
      return line;
    })
    .join("<br>")
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/\*([^*]+)\*/g, "<em>$1</em>")
    .replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>');
}
