/**
 * The messages between a launcher and a shared simulator host (`switchyard simulator-host`):
 * one process that runs the simulated model servers of a launcher, one port each, over the
 * IPC channel of `child_process`. Each server keeps its own key, log file and fault injection;
 * a server's simulated crash ends that server only, as a process exit would.
 */

/** Launcher -> host. */
export type SimulatorHostRequest =
  /** Open a server: `args` are the `switchyard simulator` flags (model, host, port, ...). */
  | { type: "start"; id: string; args: string[]; apiKey?: string; logPath: string }
  /** Close a server (in-flight requests are dropped, as a stopped process drops them). */
  | { type: "stop"; id: string };

/** Host -> launcher. */
export type SimulatorHostEvent =
  /** The host listens for requests (sent once, first). */
  | { type: "ready" }
  /**
   * A server ended by itself: a simulated crash (`code` is the simulator's crash exit code),
   * or it could not start (bad flags: 2, the port taken: 1). Its log says why.
   */
  | { type: "exited"; id: string; code: number }
  /** A server closed after `stop`. */
  | { type: "stopped"; id: string };
