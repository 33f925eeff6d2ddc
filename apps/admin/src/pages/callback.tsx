import { useEffect, useRef, useState } from "react";
import { Loading, Notice } from "../components/ui";
import { completeOidcSignIn } from "../oidc";
import { navigate, useLocation } from "../router";
import { errorMessage } from "../trpc";

/** Where an identity provider sends the browser back: exchange the code, then go where the user was. */
export function CallbackPage() {
  const { search } = useLocation();
  const [error, setError] = useState<string | null>(null);
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return; // a code can be exchanged once (StrictMode runs effects twice)
    started.current = true;
    completeOidcSignIn(new URLSearchParams(search))
      .then((returnTo) => navigate(returnTo || "/", { replace: true }))
      .catch((e: unknown) => setError(errorMessage(e)));
  }, [search]);
  if (!error) return <Loading what="your single sign-on session" />;
  return (
    <main className="sign-in">
      <div className="card sign-in-card">
        <h1>Single sign-on did not finish</h1>
        <Notice kind="error">{error}</Notice>
        <button type="button" className="button button-primary" onClick={() => navigate("/", { replace: true })}>
          Back to sign-in
        </button>
      </div>
    </main>
  );
}
