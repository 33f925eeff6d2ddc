import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { type Range, RangePicker, rangeSpan } from "../components/range";
import { Empty, ErrorState, Loading, PageHeader } from "../components/ui";
import { count } from "../format";
import { useTRPC } from "../trpc";

const PAGE_SIZE = 50;
type StatusClass = "" | "2xx" | "4xx" | "5xx";

/** A text filter applies once typing pauses, not on every key. */
function useSettled(value: string, ms = 300): string {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

const ms = (value: number | null) => (value === null ? "—" : `${count(value)} ms`);

function when(iso: string): string {
  return new Date(iso).toLocaleString(undefined, {
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/**
 * The request log: the usage rows newest first, 50 a page, paged on the server by a cursor
 * (Older follows the page's `nextCursor`; Newer goes back to the cursor it came from).
 */
export function RequestsPage({ admin }: { admin: boolean }) {
  const trpc = useTRPC();
  const [user, setUser] = useState("");
  const [model, setModel] = useState("");
  const [status, setStatus] = useState<StatusClass>("");
  const [range, setRange] = useState<Range | null>(null);
  // The window's start is fixed when the range is picked, so paging through it stays stable.
  const [picked, setPicked] = useState(() => Date.now());
  const settledUser = useSettled(user.trim());
  const settledModel = useSettled(model.trim());
  const filter = useMemo(() => {
    const window =
      range === null
        ? {}
        : range.key === "custom"
          ? { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() }
          : { from: new Date(picked - rangeSpan(range)).toISOString() };
    return {
      limit: PAGE_SIZE,
      ...(admin && settledUser ? { user: settledUser } : {}),
      ...(settledModel ? { model: settledModel } : {}),
      ...(status ? { status } : {}),
      ...window,
    };
  }, [admin, settledUser, settledModel, status, range, picked]);
  // The cursors of the pages shown so far ([undefined] is the newest page); new filters start over.
  const key = JSON.stringify(filter);
  const [paging, setPaging] = useState<{ key: string; cursors: (string | undefined)[] }>({
    key,
    cursors: [undefined],
  });
  const cursors = paging.key === key ? paging.cursors : [undefined];
  const setCursors = (next: (string | undefined)[]) => setPaging({ key, cursors: next });
  const cursor = cursors.at(-1);
  const page = useQuery({
    ...trpc.usage.requests.queryOptions({ ...filter, ...(cursor ? { cursor } : {}) }),
    placeholderData: keepPreviousData,
  });
  const models = useQuery(trpc.models.list.queryOptions({ status: "all" }));
  const users = useQuery({ ...trpc.users.list.queryOptions(), enabled: admin });
  const filtered = Boolean(filter.user || filter.model || filter.status || range);

  return (
    <>
      <PageHeader title={admin ? "Request log" : "Your requests"}>
        <button
          type="button"
          className="button"
          disabled={page.isFetching}
          onClick={() => {
            setPicked(Date.now());
            setCursors([undefined]);
            void page.refetch();
          }}
        >
          Refresh
        </button>
      </PageHeader>
      <div className="log-filters">
        {admin && (
          <label>
            User
            <input
              type="search"
              list="log-users"
              placeholder="any"
              value={user}
              onChange={(e) => setUser(e.target.value)}
            />
            <datalist id="log-users">
              {users.data?.map((u) => (
                <option key={u.username} value={u.username} />
              ))}
            </datalist>
          </label>
        )}
        <label>
          Model
          <input
            type="search"
            list="log-models"
            placeholder="any"
            value={model}
            onChange={(e) => setModel(e.target.value)}
          />
          <datalist id="log-models">
            {[...new Set(models.data?.map((m) => m.id))].map((id) => (
              <option key={id} value={id} />
            ))}
          </datalist>
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value as StatusClass)}>
            <option value="">any</option>
            <option value="2xx">2xx answered</option>
            <option value="4xx">4xx refused</option>
            <option value="5xx">5xx failed</option>
          </select>
        </label>
        <RangePicker
          range={range}
          anyTime
          onChange={(next) => {
            setRange(next);
            setPicked(Date.now());
          }}
        />
      </div>
      {page.isPending ? (
        <Loading what="the request log" />
      ) : page.isError ? (
        <ErrorState error={page.error} retry={() => void page.refetch()} />
      ) : page.data.entries.length === 0 ? (
        <Empty>
          {filtered
            ? "No requests match these filters."
            : "No requests yet. Every request through the gateway is listed here within seconds."}
        </Empty>
      ) : (
        <>
          <table className="table compact requests" data-testid="request-log" aria-busy={page.isFetching}>
            <thead>
              <tr>
                <th>Time</th>
                <th>Model</th>
                {admin && <th>User</th>}
                <th>Route</th>
                <th>Status</th>
                <th className="number">Latency</th>
                <th className="number">TTFT</th>
                <th className="number">Tokens in → out</th>
                <th>Stream</th>
              </tr>
            </thead>
            <tbody>
              {page.data.entries.map((r) => (
                <tr key={r.id} data-request={r.requestId} data-status={r.status}>
                  <td data-label="Time" className="small cell-time">
                    <time dateTime={r.at} title={r.requestId}>
                      {when(r.at)}
                    </time>
                  </td>
                  <td data-label="Model" className={`cell-model${admin ? "" : " wide"}`}>
                    <span className="model-id">{r.model}</span>
                    {r.project && <div className="muted small">project {r.project}</div>}
                    <code className="small route-inline">{r.route}</code>
                  </td>
                  {admin && <td data-label="User">{r.username}</td>}
                  <td data-label="Route" className="cell-route">
                    <code className="small">{r.route}</code>
                  </td>
                  <td data-label="Status" className="cell-status">
                    <span className={`status-code status-${Math.floor(r.status / 100)}xx`}>{r.status}</span>
                  </td>
                  <td data-label="Latency" className="number">
                    {ms(r.latencyMs)}
                  </td>
                  <td data-label="TTFT" className="number">
                    {ms(r.ttftMs)}
                  </td>
                  <td data-label="Tokens" className="number">
                    {count(r.promptTokens)} → {count(r.completionTokens)}
                  </td>
                  <td data-label="Stream">{r.stream ? "yes" : "no"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="pager">
            <button
              type="button"
              className="button"
              disabled={cursors.length === 1 || page.isFetching}
              onClick={() => setCursors(cursors.slice(0, -1))}
            >
              Newer
            </button>
            <span className="muted small" data-testid="log-page">
              Page {cursors.length} · {page.data.entries.length} requests
            </span>
            <button
              type="button"
              className="button"
              disabled={!page.data.nextCursor || page.isFetching}
              onClick={() => page.data.nextCursor && setCursors([...cursors, page.data.nextCursor])}
            >
              Older
            </button>
          </div>
        </>
      )}
    </>
  );
}
