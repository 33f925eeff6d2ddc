import { useInfiniteQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Empty, ErrorState, Loading, PageHeader } from "../components/ui";
import { detailFields, formatTime } from "../format";
import { useTRPC } from "../trpc";

/** An entry's details as label/value pairs. */
function DetailFields({ details }: { details: Record<string, unknown> | null }) {
  const fields = detailFields(details);
  if (fields.length === 0) return <>—</>;
  return (
    <dl className="fields">
      {fields.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function AuditPage() {
  const trpc = useTRPC();
  const [action, setAction] = useState("");
  const [actor, setActor] = useState("");
  const input = {
    limit: 50,
    ...(action.trim() ? { action: action.trim() } : {}),
    ...(actor.trim() ? { actor: actor.trim() } : {}),
  };
  const pages = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions(input, { getNextPageParam: (last) => last.nextCursor ?? undefined }),
  );
  const entries = pages.data?.pages.flatMap((p) => p.entries) ?? [];
  return (
    <>
      <PageHeader title="Audit log">
        <input
          type="search"
          className="search"
          placeholder="Action, e.g. deployments."
          aria-label="Filter by action"
          value={action}
          onChange={(e) => setAction(e.target.value)}
        />
        <input
          type="search"
          className="search"
          placeholder="User"
          aria-label="Filter by user"
          value={actor}
          onChange={(e) => setActor(e.target.value)}
        />
      </PageHeader>
      {pages.isPending ? (
        <Loading what="the audit log" />
      ) : pages.isError ? (
        <ErrorState error={pages.error} retry={() => void pages.refetch()} />
      ) : entries.length === 0 ? (
        <Empty>Nothing recorded{action || actor ? " that matches" : " yet"}. Every change made here is recorded.</Empty>
      ) : (
        <>
          <table className="table audit">
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>Action</th>
                <th>Target</th>
                <th>Details</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id} data-action={entry.action}>
                  <td data-label="When" className="small">
                    <time dateTime={entry.at}>{formatTime(entry.at)}</time>
                  </td>
                  <td data-label="Who">
                    {entry.actor.username}
                    <div className="muted small">{entry.actor.via.replace("_", " ")}</div>
                  </td>
                  <td data-label="Action">
                    <code>{entry.action}</code>
                  </td>
                  <td data-label="Target">
                    <span className="muted small">{entry.target.type}</span> {entry.target.id}
                  </td>
                  <td data-label="Details" className="small">
                    <DetailFields details={entry.details} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {pages.hasNextPage && (
            <button
              type="button"
              className="button"
              disabled={pages.isFetchingNextPage}
              onClick={() => void pages.fetchNextPage()}
            >
              {pages.isFetchingNextPage ? "Loading…" : "Older entries"}
            </button>
          )}
        </>
      )}
    </>
  );
}
