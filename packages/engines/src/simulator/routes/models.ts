import type { SimulatorOptions } from "../options";

/** `GET /v1/models`: the one model this simulator serves, in vLLM's shape (with `max_model_len`). */
export function modelListBody(options: SimulatorOptions, startedAt: number): string {
  return JSON.stringify({
    object: "list",
    data: [
      {
        id: options.model,
        object: "model",
        created: Math.floor(startedAt / 1000),
        owned_by: "switchyard-simulator",
        root: options.model,
        parent: null,
        max_model_len: options.maxModelLen,
        permission: [],
      },
    ],
  });
}
