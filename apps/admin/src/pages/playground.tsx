import type { AppRouter } from "@switchyard/api";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import {
  type ChangeEvent,
  type FormEvent,
  type KeyboardEvent,
  type MouseEvent,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import { type ChatMessage, type ChatRequest, type ContentPart, type NotReady, streamChat } from "../chat";
import { copyText } from "../clipboard";
import {
  FilterChips,
  Notice,
  PageHeader,
  QueryView,
  STATUS_FILTERS,
  StatusBadge,
  type StatusFilter,
  statusLabel,
} from "../components/ui";
import { readyIn } from "../format";
import { renderMarkdown } from "../markdown";
import { EMPTY_PARAMETERS, type ParameterFields, readParameters } from "../parameters";
import { abbreviateDataUrls, KEY_VARIABLE, SNIPPET_LANGUAGES, type SnippetLanguage, snippet } from "../snippets";
import { errorMessage, useTRPC } from "../trpc";

type Model = inferRouterOutputs<AppRouter>["models"]["list"][number];

/** The largest image the page attaches (base64 makes it a third bigger; the API takes 10 MB a request). */
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

interface Attachment {
  name: string;
  url: string;
}
type Filter = StatusFilter;

interface Turn extends ChatMessage {
  /** Reasoning models' thinking, shown apart from the answer. */
  reasoning?: string;
  /** The answer is complete (or was stopped, or failed). */
  done?: boolean;
  stopped?: boolean;
  error?: string;
}

/** Where a request stands: sent, or held back while the model starts. */
type Phase = { kind: "idle" } | { kind: "sending" } | { kind: "waiting"; status: NotReady; since: number };

/** The model's state while a request waits: the polled models list's when it has moved on, else the 503's. */
function waitingState(status: NotReady, model: Model | undefined): string {
  return model && (model.status === "starting" || model.status === "queued") ? model.status : status.state;
}

function waitingText(status: NotReady, model: Model | undefined): string {
  // The models list is polled while waiting, so its queue position and ETA are the freshest.
  const state = waitingState(status, model);
  const position = model?.queuePosition ?? status.queuePosition;
  // A null ETA from the fresher list means unknown, not "ask the 503".
  const seconds = model && model.status === state ? model.etaSeconds : status.etaSeconds;
  const parts = [`${statusLabel(state)}`];
  if (state === "queued" && position !== null) parts.push(`#${position} in the queue`);
  const ready = readyIn(state, seconds);
  if (ready) parts.push(ready);
  return parts.join(", ");
}

function textOf(content: ChatMessage["content"]): string {
  return typeof content === "string"
    ? content
    : content.map((part) => (part.type === "text" ? part.text : "")).join("");
}

function imagesOf(content: ChatMessage["content"]): string[] {
  return typeof content === "string"
    ? []
    : content.flatMap((part) => (part.type === "image_url" ? [part.image_url.url] : []));
}

/** A user's message: the text alone, or the text and the images as parts. */
function userContent(text: string, images: Attachment[]): ChatMessage["content"] {
  if (images.length === 0) return text;
  const parts: ContentPart[] = text ? [{ type: "text", text }] : [];
  return [...parts, ...images.map((image) => ({ type: "image_url" as const, image_url: { url: image.url } }))];
}

function readDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error(`Could not read ${file.name}.`));
    reader.readAsDataURL(file);
  });
}

/**
 * An answer rendered from markdown (raw HTML in it shown as text, see markdown.ts). The Copy
 * buttons of its code blocks are part of that HTML: one listener here copies the block's code.
 */
function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  const onClick = (event: MouseEvent<HTMLDivElement>) => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button[data-copy]");
    const code = button?.closest(".md-code")?.querySelector("code")?.textContent;
    if (!button || code == null) return;
    void copyText(code)
      .then(() => {
        button.textContent = "Copied";
        setTimeout(() => {
          button.textContent = "Copy";
        }, 1500);
      })
      .catch(() => {
        button.textContent = "Copy failed";
      });
  };
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the clicks come from the code blocks' own buttons (keyboard included).
    // biome-ignore lint/a11y/noStaticElementInteractions: as above; the element only listens for its buttons.
    <div
      className="chat-text markdown"
      data-testid="assistant-text"
      onClick={onClick}
      // renderMarkdown escapes the model's raw HTML and DOMPurify sanitises the rest.
      dangerouslySetInnerHTML={{ __html: html }}
    />
  );
}

/** "Copy as": the conversation so far (and the message being written) as curl, Python or TypeScript. */
function CopyAs({ request, onClose }: { request: ChatRequest; onClose: () => void }) {
  const [language, setLanguage] = useState<SnippetLanguage>("curl");
  const [copied, setCopied] = useState<string | null>(null);
  const code = snippet(language, request, `${window.location.origin}/v1`);
  const shown = abbreviateDataUrls(code);
  return (
    <section className="card copy-as" aria-label="Copy as code" data-testid="copy-as">
      <div className="copy-as-bar">
        <fieldset className="chips">
          <legend className="visually-hidden">Language</legend>
          {SNIPPET_LANGUAGES.map((l) => (
            <button
              key={l.value}
              type="button"
              className={`chip${language === l.value ? " selected" : ""}`}
              aria-pressed={language === l.value}
              onClick={() => {
                setLanguage(l.value);
                setCopied(null);
              }}
            >
              {l.label}
            </button>
          ))}
        </fieldset>
        <div className="actions">
          <button
            type="button"
            className="button button-primary"
            onClick={() =>
              void copyText(code)
                .then(() => setCopied(language))
                .catch(() => setCopied("failed"))
            }
          >
            {copied === language ? "Copied" : copied === "failed" ? "Copy failed" : "Copy"}
          </button>
          <button type="button" className="button button-quiet" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
      <pre className="snippet" data-testid="snippet">
        <code>{shown}</code>
      </pre>
      <p className="small muted">
        Set <code>{KEY_VARIABLE}</code> to an API key (Keys page) or the token <code>sy login</code> stored.
        {shown !== code && " Images are shortened here; the copy has them whole."}
      </p>
    </section>
  );
}

function ParameterField({
  id,
  label,
  hint,
  error,
  ...input
}: {
  id: string;
  label: string;
  hint: string;
  error: string | undefined;
  value: string;
  onChange: (event: ChangeEvent<HTMLInputElement>) => void;
  inputMode?: "decimal" | "numeric" | "text";
  placeholder?: string;
}) {
  return (
    <label htmlFor={id}>
      {label}
      <input
        id={id}
        type="text"
        autoComplete="off"
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-note`}
        {...input}
      />
      <span id={`${id}-note`} className={error ? "field-error" : "field-hint"}>
        {error ?? hint}
      </span>
    </label>
  );
}

export function PlaygroundPage() {
  const trpc = useTRPC();
  const [filter, setFilter] = useState<Filter>("all");
  const [modelId, setModelId] = useState<string>("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [draft, setDraft] = useState("");
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const [countdown, setCountdown] = useState(0);
  const [streaming, setStreaming] = useState(false);
  const [system, setSystem] = useState("");
  const [fields, setFields] = useState<ParameterFields>(EMPTY_PARAMETERS);
  const [images, setImages] = useState<Attachment[]>([]);
  const [imageError, setImageError] = useState<string | null>(null);
  const [copyAs, setCopyAs] = useState(false);
  const controller = useRef<AbortController | null>(null);
  const models = useQuery(
    trpc.models.list.queryOptions(
      { status: "all" },
      {
        refetchInterval: (query) =>
          phase.kind === "waiting" || query.state.data?.some((m) => m.status === "starting" || m.status === "queued")
            ? 2_000
            : 15_000,
      },
    ),
  );
  const chatModels = (models.data ?? []).filter((m) => m.capabilities.includes("chat"));
  const selected = chatModels.find((m) => m.id === modelId);
  const vision = selected?.capabilities.includes("vision") ?? false;
  const parameters = readParameters(fields);
  const invalid = Object.keys(parameters.errors).length > 0;

  // Images go only to a model that can see them.
  useEffect(() => {
    if (!vision) setImages([]);
  }, [vision]);

  // Pick a model once the list is there: a live one if there is one.
  useEffect(() => {
    if (modelId || chatModels.length === 0) return;
    setModelId((chatModels.find((m) => m.status === "live") ?? chatModels[0])?.id ?? "");
  }, [chatModels, modelId]);

  // Count down to the next try while a cold model starts.
  useEffect(() => {
    if (phase.kind !== "waiting") return;
    const tick = () =>
      setCountdown(Math.max(0, Math.ceil(phase.status.retryAfter - (Date.now() - phase.since) / 1000)));
    tick();
    const timer = setInterval(tick, 500);
    return () => clearInterval(timer);
  }, [phase]);

  // Stop streaming when the page goes away.
  useEffect(() => () => controller.current?.abort(), []);

  const updateLast = (change: (turn: Turn) => Turn) =>
    setTurns((all) => [...all.slice(0, -1), change(all[all.length - 1] as Turn)]);

  /** The request for the conversation so far plus `next` (the message being sent or written). */
  const request = (next: ChatMessage | null): ChatRequest => ({
    model: modelId,
    messages: [
      ...(system.trim() ? [{ role: "system" as const, content: system }] : []),
      ...turns.filter((t) => !t.error && t.content).map(({ role, content }) => ({ role, content })),
      ...(next ? [next] : []),
    ],
    ...parameters.values,
  });
  const draftMessage = (): ChatMessage | null => {
    const text = draft.trim();
    return text || images.length > 0 ? { role: "user", content: userContent(text, images) } : null;
  };

  const attach = async (event: ChangeEvent<HTMLInputElement>) => {
    const files = [...(event.target.files ?? [])];
    event.target.value = "";
    setImageError(null);
    for (const file of files) {
      if (!file.type.startsWith("image/")) {
        setImageError(`${file.name} is not an image.`);
        continue;
      }
      if (file.size > MAX_IMAGE_BYTES) {
        setImageError(`${file.name} is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MB.`);
        continue;
      }
      try {
        const url = await readDataUrl(file);
        setImages((list) => [...list, { name: file.name, url }]);
      } catch (error) {
        setImageError(errorMessage(error));
      }
    }
  };

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    const message = draftMessage();
    if (!message || !modelId || streaming || invalid) return;
    const body = request(message);
    setTurns([...turns, { ...message, done: true }, { role: "assistant", content: "" }]);
    setDraft("");
    setImages([]);
    const abort = new AbortController();
    controller.current = abort;
    setStreaming(true);
    setPhase({ kind: "sending" });
    void streamChat(
      body,
      {
        onSending: () => setPhase({ kind: "sending" }),
        onNotReady: (status) => setPhase({ kind: "waiting", status, since: Date.now() }),
        onDelta: (piece) => {
          setPhase({ kind: "idle" });
          updateLast((turn) => ({
            ...turn,
            content: textOf(turn.content) + (piece.content ?? ""),
            ...(piece.reasoning ? { reasoning: (turn.reasoning ?? "") + piece.reasoning } : {}),
          }));
        },
      },
      abort.signal,
    )
      .then(() => updateLast((turn) => ({ ...turn, done: true })))
      .catch((error: unknown) => {
        if (abort.signal.aborted) updateLast((turn) => ({ ...turn, done: true, stopped: true }));
        else updateLast((turn) => ({ ...turn, done: true, error: errorMessage(error) }));
      })
      .finally(() => {
        controller.current = null;
        setStreaming(false);
        setPhase({ kind: "idle" });
      });
  };

  const stop = () => controller.current?.abort();
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter is a new line (as chat apps do).
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  const counts = Object.fromEntries(
    STATUS_FILTERS.map((f) => [f.value, chatModels.filter((m) => f.value === "all" || m.status === f.value).length]),
  );
  const listed = chatModels.filter((m) => filter === "all" || m.status === filter || m.id === modelId);

  return (
    <>
      <PageHeader title="Playground">
        <button
          type="button"
          className="button button-quiet"
          aria-expanded={copyAs}
          disabled={!modelId}
          onClick={() => setCopyAs(!copyAs)}
        >
          Copy as code
        </button>
        <button
          type="button"
          className="button button-quiet"
          disabled={streaming || turns.length === 0}
          onClick={() => setTurns([])}
        >
          New chat
        </button>
      </PageHeader>
      <QueryView
        query={models}
        what="models"
        empty="No chat models are available to you."
        isEmpty={(list) => !list.some((m) => m.capabilities.includes("chat"))}
      >
        {() => (
          <div className="playground">
            <div className="card playground-model">
              <FilterChips
                legend="Filter models by status"
                options={STATUS_FILTERS}
                selected={filter}
                onSelect={setFilter}
                count={(value) => counts[value] ?? 0}
              />
              <div className="model-picker">
                <label htmlFor="playground-model">Model</label>
                <select
                  id="playground-model"
                  className="model-select"
                  value={modelId}
                  onChange={(e) => setModelId(e.target.value)}
                  disabled={streaming}
                >
                  {listed.map((m) => (
                    <option key={`${m.cluster}/${m.id}`} value={m.id}>
                      {m.id} — {statusLabel(m.status)}
                    </option>
                  ))}
                </select>
              </div>
              {selected && (
                <div className="small muted" data-testid="selected-model">
                  <StatusBadge status={selected.status} /> {selected.cluster}
                  {selected.status === "offline" && " · it starts when you send a message (this can take a while)"}
                  {selected.status === "queued" && selected.queuePosition !== null && ` · #${selected.queuePosition}`}
                  {readyIn(selected.status, selected.etaSeconds) &&
                    ` · ${readyIn(selected.status, selected.etaSeconds)}`}
                </div>
              )}
            </div>

            <details className="card playground-settings" data-testid="system-prompt">
              <summary>
                System prompt
                {system.trim() && <span className="small muted"> · set</span>}
              </summary>
              <textarea
                aria-label="System prompt"
                placeholder="You are a helpful assistant."
                rows={3}
                value={system}
                onChange={(e) => setSystem(e.target.value)}
              />
            </details>

            <details className="card playground-settings" data-testid="parameters">
              <summary>
                Parameters
                {Object.keys(parameters.values).length > 0 && (
                  <span className="small muted"> · {Object.keys(parameters.values).join(", ")}</span>
                )}
                {invalid && <span className="field-error"> · check the values</span>}
              </summary>
              <div className="form-grid parameters">
                <ParameterField
                  id="param-temperature"
                  label="Temperature"
                  hint="0 to 2; empty: the model's default"
                  inputMode="decimal"
                  placeholder="default"
                  error={parameters.errors.temperature}
                  value={fields.temperature}
                  onChange={(e) => setFields({ ...fields, temperature: e.target.value })}
                />
                <ParameterField
                  id="param-max-tokens"
                  label="Max tokens"
                  hint="the longest answer, in tokens"
                  inputMode="numeric"
                  placeholder="default"
                  error={parameters.errors.maxTokens}
                  value={fields.maxTokens}
                  onChange={(e) => setFields({ ...fields, maxTokens: e.target.value })}
                />
                <ParameterField
                  id="param-top-p"
                  label="Top P"
                  hint="above 0, up to 1"
                  inputMode="decimal"
                  placeholder="default"
                  error={parameters.errors.topP}
                  value={fields.topP}
                  onChange={(e) => setFields({ ...fields, topP: e.target.value })}
                />
                <ParameterField
                  id="param-stop"
                  label="Stop sequences"
                  hint="comma-separated; \, is a comma, \n a line break"
                  placeholder="none"
                  error={parameters.errors.stop}
                  value={fields.stop}
                  onChange={(e) => setFields({ ...fields, stop: e.target.value })}
                />
              </div>
            </details>

            {copyAs && <CopyAs request={request(draftMessage())} onClose={() => setCopyAs(false)} />}

            <div className="chat" aria-live="polite">
              {turns.length === 0 && (
                <p className="muted chat-empty">Ask the model something. Enter sends; Shift+Enter adds a line.</p>
              )}
              {turns.map((turn, i) => (
                <div
                  // Turns are only ever appended or cleared, so their position is their identity.
                  key={i}
                  className={`chat-turn chat-${turn.role}`}
                  data-testid="chat-turn"
                  data-role={turn.role}
                  data-done={turn.done ? "true" : "false"}
                >
                  <div className="chat-who">{turn.role === "user" ? "You" : (selected?.id ?? "Model")}</div>
                  {turn.reasoning && (
                    <details className="chat-reasoning" data-testid="reasoning">
                      <summary className="small">Reasoning{!turn.done && !textOf(turn.content) ? "…" : ""}</summary>
                      <div className="chat-reasoning-text small muted" data-testid="reasoning-text">
                        {turn.reasoning}
                      </div>
                    </details>
                  )}
                  {turn.role === "assistant" ? (
                    <Markdown text={textOf(turn.content)} />
                  ) : (
                    <div className="chat-text">{textOf(turn.content)}</div>
                  )}
                  {imagesOf(turn.content).length > 0 && (
                    <div className="chat-images">
                      {imagesOf(turn.content).map((url, n) => (
                        <img key={n} src={url} alt={`Attachment ${n + 1}`} className="thumb" />
                      ))}
                    </div>
                  )}
                  {turn.role === "assistant" && !turn.done && phase.kind === "idle" && (
                    <span className="cursor" aria-hidden="true" />
                  )}
                  {turn.stopped && <div className="small muted">Stopped.</div>}
                  {turn.error && <Notice kind="error">{turn.error}</Notice>}
                </div>
              ))}
              {phase.kind === "waiting" && (
                <div className="notice notice-info" role="status" data-testid="model-waiting">
                  <StatusBadge status={waitingState(phase.status, selected)} />{" "}
                  <span data-testid="model-waiting-text">{waitingText(phase.status, selected)}</span>
                  <span className="muted"> · trying again {countdown > 0 ? `in ${countdown} s` : "now"}</span>
                </div>
              )}
              {phase.kind === "sending" && (
                <div className="muted small" role="status" data-testid="model-sending">
                  <span className="spinner" aria-hidden="true" /> Waiting for{" "}
                  {selected?.status === "live" ? "the answer" : "the model to start"}…
                </div>
              )}
            </div>

            <form className="chat-input" onSubmit={send} aria-label="Send a message">
              <textarea
                aria-label="Message"
                placeholder="Message"
                rows={3}
                value={draft}
                onChange={(e) => setDraft(e.target.value)}
                onKeyDown={onKeyDown}
              />
              {images.length > 0 && (
                <div className="chat-images" data-testid="attachments">
                  {images.map((image, n) => (
                    <figure key={image.url} className="attachment">
                      <img src={image.url} alt={`Preview of ${image.name}`} className="thumb" />
                      <button
                        type="button"
                        className="button button-quiet small"
                        aria-label={`Remove ${image.name}`}
                        onClick={() => setImages(images.filter((_, i) => i !== n))}
                      >
                        Remove
                      </button>
                    </figure>
                  ))}
                </div>
              )}
              {imageError && <Notice kind="error">{imageError}</Notice>}
              {invalid && (
                <div className="field-error small" role="alert">
                  Fix the parameters above to send.
                </div>
              )}
              <div className="actions">
                {vision && (
                  <label className="button button-quiet attach">
                    Attach image
                    <input
                      type="file"
                      accept="image/png,image/jpeg,image/webp,image/gif"
                      multiple
                      className="visually-hidden"
                      onChange={(e) => void attach(e)}
                      disabled={streaming}
                    />
                  </label>
                )}
                {streaming ? (
                  <button type="button" className="button button-danger" onClick={stop}>
                    Stop
                  </button>
                ) : (
                  <button
                    type="submit"
                    className="button button-primary"
                    disabled={(!draft.trim() && images.length === 0) || !modelId || invalid}
                  >
                    Send
                  </button>
                )}
              </div>
            </form>
          </div>
        )}
      </QueryView>
    </>
  );
}
