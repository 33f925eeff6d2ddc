// The SDK brings core's zod schemas into the bundle (the error catalogue and batch statuses live
// beside them). Creating an object schema makes zod probe `new Function` once, to decide whether
// to compile its parsers; the dashboard's Content-Security-Policy has no 'unsafe-eval', so the
// browser reports that probe as a violation. Jitless mode skips the probe (zod documents it for
// strict CSPs). Imported first by main.tsx, before any schema is created.
import { config } from "zod";

config({ jitless: true });
