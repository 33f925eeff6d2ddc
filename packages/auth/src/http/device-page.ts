import { createHash } from "node:crypto";

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  body { font-family: system-ui, sans-serif; background: #f5f6f8; color: #1b1f24; margin: 0; }
  main { max-width: 26rem; margin: 8vh auto; background: #fff; padding: 2rem; border-radius: 12px;
         box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  h1 { font-size: 1.3rem; margin-top: 0; } label { display: block; margin: .8rem 0 .3rem; font-weight: 600; }
  input { width: 100%; box-sizing: border-box; padding: .55rem; font-size: 1rem; border: 1px solid #c4c9d0; border-radius: 6px; }
  input[name=user_code] { font-family: ui-monospace, monospace; letter-spacing: .15em; text-transform: uppercase; }
  .buttons { display: flex; gap: .6rem; margin-top: 1.3rem; }
  button { flex: 1; padding: .6rem; font-size: 1rem; border-radius: 6px; border: 1px solid #1f6feb; cursor: pointer; }
  button[value=approve] { background: #1f6feb; color: #fff; } button[value=deny] { background: #fff; color: #1f6feb; }
  .note { padding: .7rem; border-radius: 6px; margin-bottom: 1rem; }
  .error { background: #ffebe9; color: #82071e; } .ok { background: #dafbe1; color: #116329; }
  small { color: #57606a; }
`;

/** The CSP source that allows the pages' one inline style sheet and nothing else inline. */
export const DEVICE_PAGE_STYLE_SOURCE = `'sha256-${createHash("sha256").update(STYLE).digest("base64")}'`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} - Switchyard</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

/** The approval form: the code `sy login` printed, the user's credentials, approve or deny. */
export function deviceForm(options: { userCode?: string; error?: string; client?: string }): string {
  const error = options.error ? `<p class="note error" role="alert">${escapeHtml(options.error)}</p>` : "";
  const client = options.client ? `<p><small>Requested by <b>${escapeHtml(options.client)}</b>.</small></p>` : "";
  return page(
    "Approve a device",
    `<h1>Sign in to approve a device</h1>${error}
<p>Enter the code shown by <code>sy login</code>, then sign in to approve it. Only approve a code you requested yourself.</p>${client}
<form method="post" action="/device">
  <label for="user_code">Code</label>
  <input id="user_code" name="user_code" value="${escapeHtml(options.userCode ?? "")}" placeholder="ABCD-EFGH" autocomplete="off" required>
  <label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" required>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <div class="buttons"><button type="submit" name="action" value="approve">Approve</button>
  <button type="submit" name="action" value="deny">Deny</button></div>
</form>
<p><small>Signed in to the dashboard already? <a href="/admin/device${options.userCode ? `?user_code=${encodeURIComponent(options.userCode)}` : ""}">Approve it there</a> without typing your password.</small></p>`,
  );
}

export function deviceResult(approved: boolean, username: string): string {
  return page(
    approved ? "Device approved" : "Device denied",
    approved
      ? `<h1>Device approved</h1><p class="note ok">Signed in as <b>${escapeHtml(username)}</b>. Return to your terminal: <code>sy login</code> finishes by itself.</p>`
      : `<h1>Request denied</h1><p class="note error">The device was not given access. You can close this page.</p>`,
  );
}
