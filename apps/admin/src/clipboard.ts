/**
 * Put text on the clipboard. The Clipboard API exists only in a secure context (https, or
 * localhost); a dashboard served over plain http elsewhere falls back to a hidden text area and
 * the older copy command.
 */
export async function copyText(text: string): Promise<void> {
  if (window.isSecureContext && navigator.clipboard) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.readOnly = true;
  area.className = "offscreen";
  document.body.append(area);
  try {
    area.select();
    if (!document.execCommand("copy")) throw new Error("The browser did not copy the text.");
  } finally {
    area.remove();
  }
}
