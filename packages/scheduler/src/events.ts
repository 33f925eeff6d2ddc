import type { Logger } from "pino";
import type { DeploymentRecord } from "./store";

/** A deployment changed state (the dashboard's live updates). */
export interface DeploymentEvent {
  deploymentId: string;
  cluster: string;
  model: string | null;
  from: DeploymentRecord["state"];
  to: DeploymentRecord["state"];
  cause: string;
  at: string;
}

/** The listeners of this process's decisions; a listener that throws is logged, never fatal. */
export class SchedulerEvents {
  private readonly listeners = new Set<(event: DeploymentEvent) => void>();

  constructor(private readonly logger: Logger) {}

  /** Returns the unsubscribe function. */
  subscribe(listener: (event: DeploymentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: DeploymentEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn({ err: error }, "scheduler: a change listener failed");
      }
    }
  }
}
