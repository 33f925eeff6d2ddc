import DOMPurify from "dompurify";
import { Marked, type Tokens } from "marked";

/**
 * A model's answer as HTML: markdown (GitHub's flavour) rendered by `marked`, with every piece of
 * raw HTML in the answer escaped, so `<script>` or `<img onerror=...>` is shown as the text it is,
 * never run; then sanitised by DOMPurify as a second line (links to `javascript:` and the like).
 * Code blocks carry a Copy button (`data-copy`), which the page handles with one listener.
 */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    // Raw HTML, block or inline, is text: the model's markup is shown, not interpreted.
    html(token: Tokens.HTML | Tokens.Tag) {
      const text = escapeHtml(token.text);
      return token.block ? `<p>${text}</p>\n` : text;
    },
    code({ text, lang }: Tokens.Code) {
      const language = (lang ?? "").match(/^\S*/)?.[0] ?? "";
      const label = language ? `<span class="md-code-lang">${escapeHtml(language)}</span>` : "<span></span>";
      return (
        `<div class="md-code">` +
        `<div class="md-code-bar">${label}<button type="button" class="button md-copy" data-copy="">Copy</button></div>` +
        `<pre><code>${escapeHtml(text)}</code></pre></div>\n`
      );
    },
    // Images would load from wherever the model points (and the page's policy blocks other
    // origins): a link to the image instead.
    image({ href, text }: Tokens.Image) {
      return `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`;
    },
  },
});

let hooked = false;

function purify(html: string): string {
  if (!hooked) {
    // Links open in a new tab, so following one does not leave the conversation.
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A" && node.hasAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    hooked = true;
  }
  return DOMPurify.sanitize(html, {
    // Inline styles would break the page's Content-Security-Policy; forms and inputs have no place here
    // (GitHub task-list boxes excepted: marked renders them as disabled inputs).
    FORBID_ATTR: ["style"],
    FORBID_TAGS: ["style", "form", "textarea", "select"],
    ADD_ATTR: ["target"],
  });
}

/** The answer as safe HTML (see above). */
export function renderMarkdown(text: string): string {
  return purify(marked.parse(text, { async: false }).trim());
}
