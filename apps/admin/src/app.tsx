import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { lazy, type ReactElement, Suspense, useEffect, useRef, useState } from "react";
import { AdminOnly, ErrorState, Loading } from "./components/ui";
import { AuditPage } from "./pages/audit";
import { BatchesPage } from "./pages/batches";
import { CallbackPage } from "./pages/callback";
import { DevicePage } from "./pages/device";
import { GroupsPage } from "./pages/groups";
import { KeysPage } from "./pages/keys";
import { ModelsPage } from "./pages/models";
import { OverviewPage } from "./pages/overview";
import { PlaygroundPage } from "./pages/playground";
import { RequestsPage } from "./pages/requests";
import { SignInPage } from "./pages/sign-in";
import { UsersPage } from "./pages/users";
import { Link, navigate, useLocation } from "./router";
import { session, useSignedIn } from "./session";
import { useTRPC } from "./trpc";

// The charts library is most of the bundle: load it with the pages that draw charts only.
const UsagePage = lazy(() => import("./pages/usage").then((m) => ({ default: m.UsagePage })));
const ProjectsPage = lazy(() => import("./pages/projects").then((m) => ({ default: m.ProjectsPage })));

interface Page {
  path: string;
  label: string;
  admin: boolean;
  render: (admin: boolean) => ReactElement;
}

const PAGES: Page[] = [
  { path: "/", label: "Overview", admin: false, render: (admin) => <OverviewPage admin={admin} /> },
  { path: "/models", label: "Models", admin: false, render: (admin) => <ModelsPage admin={admin} /> },
  { path: "/playground", label: "Playground", admin: false, render: () => <PlaygroundPage /> },
  { path: "/batches", label: "Batches", admin: false, render: (admin) => <BatchesPage admin={admin} /> },
  { path: "/usage", label: "Usage", admin: false, render: (admin) => <UsagePage admin={admin} /> },
  { path: "/requests", label: "Request log", admin: false, render: (admin) => <RequestsPage admin={admin} /> },
  { path: "/keys", label: "API keys", admin: false, render: (admin) => <KeysPage admin={admin} /> },
  { path: "/users", label: "Users", admin: true, render: () => <UsersPage /> },
  { path: "/groups", label: "Groups", admin: true, render: () => <GroupsPage /> },
  { path: "/projects", label: "Projects", admin: true, render: () => <ProjectsPage /> },
  { path: "/audit", label: "Audit log", admin: true, render: () => <AuditPage /> },
  { path: "/device", label: "Approve a device", admin: false, render: () => <DevicePage /> },
];

/** Query families a deployment change can alter; they are refetched when one arrives. */
const LIVE_FAMILIES = new Set(["models", "nodes", "clusters", "jobs", "deployments"]);

/** The scheduler's change feed: every state change refreshes what shows deployments, without a reload. */
function useLiveUpdates(): { connected: boolean; lastChange: string | null } {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [lastChange, setLastChange] = useState<string | null>(null);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const subscription = useSubscription(
    trpc.events.deployments.subscriptionOptions(undefined, {
      onData(event) {
        setLastChange(`${event.model ?? event.deploymentId}: ${event.from} → ${event.to}`);
        // Several changes in a burst (a restart, a hot model coming up) cause one refetch.
        if (pending.current) return;
        pending.current = setTimeout(() => {
          pending.current = undefined;
          void queryClient.invalidateQueries({
            predicate: (query) => {
              const [path] = query.queryKey as [string[] | undefined];
              return Array.isArray(path) && LIVE_FAMILIES.has(path[0] ?? "");
            },
          });
        }, 100);
      },
    }),
  );
  useEffect(() => () => clearTimeout(pending.current), []);
  // The server ends a stream whose credential stopped working (an expired token, say) or that is
  // one too many: connect again in a while, with the session's current token.
  const { status, reset } = subscription;
  useEffect(() => {
    if (status !== "error") return;
    const retry = setTimeout(reset, 5000);
    return () => clearTimeout(retry);
  }, [status, reset]);
  return { connected: subscription.status === "pending", lastChange };
}

function Shell() {
  const trpc = useTRPC();
  const me = useQuery(trpc.session.me.queryOptions());
  const { path } = useLocation();
  const live = useLiveUpdates();
  const [menuOpen, setMenuOpen] = useState(false);

  if (me.isPending) return <Loading what="your session" />;
  if (me.isError) return <ErrorState error={me.error} retry={() => void me.refetch()} />;
  const admin = me.data.role === "admin";
  const page = PAGES.find((p) => p.path === path);
  const visible = PAGES.filter((p) => admin || !p.admin);

  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/" className="brand">
          <img src="/admin/favicon.svg" alt="" width={24} height={24} /> Switchyard
        </Link>
        <span
          className={`live-indicator ${live.connected ? "on" : "off"}`}
          title={live.lastChange ? `Last change: ${live.lastChange}` : "Deployment changes appear as they happen"}
          data-testid="live-indicator"
        >
          {live.connected ? "Live" : "Reconnecting…"}
        </span>
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <div className="who">
          <span className="username" data-testid="username">
            {me.data.username}
          </span>
          <span className={`role role-${me.data.role}`}>{me.data.role}</span>
          <button type="button" className="button button-quiet" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <nav id="nav" className={`nav${menuOpen ? " open" : ""}`} aria-label="Pages">
        {visible.map((p) => (
          <Link
            key={p.path}
            to={p.path}
            className={p.path === path ? "active" : undefined}
            aria-current={p.path === path ? "page" : undefined}
            onClick={() => setMenuOpen(false)}
          >
            {p.label}
          </Link>
        ))}
      </nav>
      <main className="content">
        {page ? (
          <Suspense fallback={<Loading what="the page" />}>
            {page.admin && !admin ? <AdminOnly /> : page.render(admin)}
          </Suspense>
        ) : (
          <div className="state state-empty">
            <p>There is no page {path}.</p>
            <button type="button" className="button" onClick={() => navigate("/")}>
              Go to the overview
            </button>
          </div>
        )}
      </main>
    </div>
  );
}

export function App() {
  const signedIn = useSignedIn();
  const { path } = useLocation();
  const queryClient = useQueryClient();
  const wasSignedIn = useRef(signedIn);
  useEffect(() => {
    // After signing out, the next identity must never see the previous one's cached data.
    if (wasSignedIn.current && !signedIn) queryClient.clear();
    wasSignedIn.current = signedIn;
  }, [signedIn, queryClient]);
  if (path === "/auth/callback") return <CallbackPage />;
  if (!signedIn) return <SignInPage />;
  return <Shell />;
}
