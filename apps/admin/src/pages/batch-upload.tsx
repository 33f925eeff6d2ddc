import type { AppRouter } from "@switchyard/api";
import { APIError, Switchyard } from "@switchyard/sdk";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { type FormEvent, useRef, useState } from "react";
import { Notice } from "../components/ui";
import { apiFetch, errorOf, sessionFetch } from "../http";
import { session } from "../session";
import { useTRPC } from "../trpc";

type Model = inferRouterOutputs<AppRouter>["models"]["list"][number];

const ENDPOINTS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"] as const;
type Endpoint = (typeof ENDPOINTS)[number];

/** The API on this origin as the signed-in user (the precheck and create; the upload is a plain form post). */
const api = new Switchyard({
  baseURL: window.location.origin,
  apiKey: async () => (await session.accessToken()) ?? "",
  fetch: sessionFetch,
});

/** What the first request of a file names, read from its first 1 MiB only. */
export interface Peek {
  /** Non-blank lines read before a request was found (or all of them). */
  lines: number;
  found: boolean;
  url: string | undefined;
  model: string | undefined;
  /** The line number of the first request. */
  line: number | undefined;
}

const PEEK_BYTES = 1024 * 1024;
const PEEK_LINES = 20;

function asRequest(text: string): { url?: unknown; body: { model?: unknown } } | undefined {
  try {
    const value = JSON.parse(text) as { url?: unknown; body?: unknown } | null;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    const body = value.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
    return value as { url?: unknown; body: { model?: unknown } };
  } catch {
    return undefined;
  }
}

/** The first request of a batch file (as `sy batch submit` peeks at one), without reading the rest. */
export async function peekFile(file: Blob): Promise<Peek> {
  const head = await file.slice(0, PEEK_BYTES).text();
  const rows = head.split("\n");
  // The last piece may be cut off by the byte limit: read it only when the file ends there.
  if (file.size > PEEK_BYTES) rows.pop();
  const peek: Peek = { lines: 0, found: false, url: undefined, model: undefined, line: undefined };
  for (const [index, row] of rows.entries()) {
    const text = row.trim();
    if (!text) continue;
    peek.lines++;
    const request = asRequest(text);
    if (request) {
      peek.found = true;
      peek.line = index + 1;
      peek.url = typeof request.url === "string" ? request.url : undefined;
      peek.model = typeof request.body.model === "string" ? request.body.model : undefined;
      return peek;
    }
    if (peek.lines >= PEEK_LINES) break;
  }
  return peek;
}

/**
 * The file with every request's `body.model` set to `model` (what `sy batch submit --model`
 * does). Lines that are blank, not JSON or without a body pass through, so the server's checks
 * still name the right line.
 */
async function withModel(file: File, model: string): Promise<Blob> {
  const lines = (await file.text()).split("\n").map((line) => {
    const ending = line.endsWith("\r") ? "\r" : "";
    const request = line.trim() ? asRequest(line) : undefined;
    if (!request) return line;
    (request.body as Record<string, unknown>).model = model;
    return `${JSON.stringify(request)}${ending}`;
  });
  return new Blob([lines.join("\n")], { type: "application/jsonl" });
}

function messageOf(error: unknown): string {
  if (error instanceof APIError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** `as in the file`: keep each line's own `body.model`. */
const FROM_FILE = "";

/**
 * Create a batch from the page: a JSONL file, the model and the completion window. The server's
 * checks run before the upload (`POST /v1/batches/precheck`: access, the model's batch
 * capability, the active-batch limit, the project and its budget), so a refusal costs no upload;
 * then `POST /v1/files` and `POST /v1/batches`.
 */
export function BatchUpload({ onCreated }: { onCreated: (message: string) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const models = useQuery(trpc.models.list.queryOptions({ status: "all" }));
  const batchModels = (models.data ?? []).filter((m: Model) => m.capabilities.includes("batch"));
  const form = useRef<HTMLFormElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [peek, setPeek] = useState<Peek | null>(null);
  const [model, setModel] = useState(FROM_FILE);
  const [endpoint, setEndpoint] = useState<Endpoint>("/v1/chat/completions");
  const [window_, setWindow] = useState("24h");
  const [project, setProject] = useState("");
  const [step, setStep] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function pick(picked: File | null) {
    setFile(picked);
    setPeek(null);
    setError(null);
    if (!picked) return;
    const found = await peekFile(picked);
    setPeek(found);
    if (found.url && (ENDPOINTS as readonly string[]).includes(found.url)) setEndpoint(found.url as Endpoint);
    if (!found.found) {
      setError(
        `${picked.name} is not a batch input file: ${found.lines === 0 ? "it is empty" : `none of its first ${found.lines} lines is a request`}. A batch file is JSONL, one request per line: {"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}.`,
      );
    }
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    if (!file || !peek) return setError("Choose a JSONL file first.");
    if (!peek.found) return;
    const effective = model || peek.model;
    if (!effective) {
      return setError(
        `The first request of ${file.name} (line ${peek.line}) names no model (body.model): choose one to set it on every line.`,
      );
    }
    const extra = project.trim() ? { project: project.trim() } : {};
    try {
      // Refused here costs nothing: nothing is uploaded yet.
      setStep("Checking");
      try {
        await api.batches.precheck({ model: effective, endpoint, completion_window: window_.trim(), ...extra });
      } catch (e) {
        if (!(e instanceof APIError && e.code === "route_not_found")) throw e;
      }
      setStep("Uploading");
      const body = new FormData();
      body.append("purpose", "batch");
      body.append("file", model && model !== peek.model ? await withModel(file, model) : file, file.name);
      const res = await apiFetch("/v1/files", { method: "POST", body });
      if (!res.ok) throw new Error(`Upload refused: ${(await errorOf(res)).message}`);
      const uploaded = (await res.json()) as { id: string };
      setStep("Creating");
      const batch = await api.batches
        .create({ input_file_id: uploaded.id, endpoint, completion_window: window_.trim(), ...extra })
        .catch(async (e: unknown) => {
          // Refused after all: the upload is of no use.
          await apiFetch(`/v1/files/${encodeURIComponent(uploaded.id)}`, { method: "DELETE" }).catch(() => {});
          throw e;
        });
      onCreated(`Created ${batch.id} for ${batch.model || effective} from ${file.name}.`);
      form.current?.reset();
      setFile(null);
      setPeek(null);
      setModel(FROM_FILE);
      await queryClient.invalidateQueries({ queryKey: trpc.batches.list.queryKey() });
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setStep(null);
    }
  }

  const fileModel = peek?.model;
  return (
    <details className="card batch-upload" data-testid="batch-upload">
      <summary>New batch from a JSONL file</summary>
      <form ref={form} className="form-grid" onSubmit={submit} aria-label="New batch">
        <label>
          Input file (JSONL)
          <input
            type="file"
            accept=".jsonl,.json,.txt,application/jsonl,application/x-ndjson"
            onChange={(e) => void pick(e.target.files?.[0] ?? null)}
          />
        </label>
        <label>
          Model
          <select value={model} onChange={(e) => setModel(e.target.value)}>
            <option value={FROM_FILE}>{fileModel ? `As in the file (${fileModel})` : "As in the file"}</option>
            {batchModels.map((m) => (
              <option key={`${m.cluster}/${m.id}`} value={m.id}>
                {m.id}
              </option>
            ))}
          </select>
        </label>
        <label>
          Endpoint
          <select value={endpoint} onChange={(e) => setEndpoint(e.target.value as Endpoint)}>
            {ENDPOINTS.map((e) => (
              <option key={e} value={e}>
                {e}
              </option>
            ))}
          </select>
        </label>
        <label>
          Completion window
          <input value={window_} onChange={(e) => setWindow(e.target.value)} required pattern="\d+[hd]" />
        </label>
        <label>
          Project
          <input
            value={project}
            onChange={(e) => setProject(e.target.value)}
            placeholder="optional: your only active one"
          />
        </label>
        <div>
          <button type="submit" className="button button-primary" disabled={step !== null || !file}>
            {step ? `${step}…` : "Create batch"}
          </button>
        </div>
      </form>
      {error && (
        <div data-testid="batch-upload-error">
          <Notice kind="error">{error}</Notice>
        </div>
      )}
      <p className="muted small">
        The server's checks (your access, the model's batch capability, the limit on running batches, the project and
        its budget) run before the file is uploaded. Choosing a model sets it on every line.
      </p>
    </details>
  );
}
