import type { AppRouter } from "@switchyard/api";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from "react";
import { type ChatMessage, type NotReady, streamChat } from "../chat";
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
import { errorMessage, useTRPC } from "../trpc";

type Model = inferRouterOutputs<AppRouter>["models"]["list"][number];
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

export function PlaygroundPage() {
  const trpc = useTRPC();
  const [filter, setFilter] = useState<Filter>("all");
  const [modelId, setModelId] = useState<string>("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [draft, setDraft] = useState("");
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const [countdown, setCountdown] = useState(0);
  const [streaming, setStreaming] = useState(false);
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

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    const text = draft.trim();
    if (!text || !modelId || streaming) return;
    const history: ChatMessage[] = [
      ...turns.filter((t) => !t.error && t.content).map(({ role, content }) => ({ role, content })),
      { role: "user", content: text },
    ];
    setTurns([...turns, { role: "user", content: text, done: true }, { role: "assistant", content: "" }]);
    setDraft("");
    const abort = new AbortController();
    controller.current = abort;
    setStreaming(true);
    setPhase({ kind: "sending" });
    void streamChat(
      modelId,
      history,
      {
        onSending: () => setPhase({ kind: "sending" }),
        onNotReady: (status) => setPhase({ kind: "waiting", status, since: Date.now() }),
        onDelta: (piece) => {
          setPhase({ kind: "idle" });
          updateLast((turn) => ({
            ...turn,
            content: turn.content + (piece.content ?? ""),
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
                  {turn.reasoning && <div className="chat-reasoning small muted">{turn.reasoning}</div>}
                  <div className="chat-text" data-testid={turn.role === "assistant" ? "assistant-text" : undefined}>
                    {turn.content}
                    {turn.role === "assistant" && !turn.done && phase.kind === "idle" && (
                      <span className="cursor" aria-hidden="true" />
                    )}
                  </div>
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
              <div className="actions">
                {streaming ? (
                  <button type="button" className="button button-danger" onClick={stop}>
                    Stop
                  </button>
                ) : (
                  <button type="submit" className="button button-primary" disabled={!draft.trim() || !modelId}>
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
