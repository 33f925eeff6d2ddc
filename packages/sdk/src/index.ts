// @switchyard/sdk/core (and `@switchyard/sdk` in a browser bundle): the client in any JavaScript
// runtime. Nothing here imports a Node module or uses Node's globals (test/isomorphic.test.ts
// bundles it for the browser, tsconfig.core.json type-checks it without Node's types). Node's
// extras (the token file, device login's storage, uploads from a path) are in `./node`.
export type {
  Allocation,
  ApiKeyObject,
  BatchEndpoint,
  BatchError,
  BatchList,
  BatchObject,
  BatchOutputLine,
  BatchStatus,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ClusterStatusMap,
  CreateApiKeyRequest,
  CreatedApiKey,
  DeviceCodeResponse,
  EmbeddingRequest,
  EmbeddingResponse,
  EndpointList,
  ErrorCode,
  FileDeleted,
  FileObject,
  FileObjectList,
  Job,
  JobsView,
  Me,
  ModelCapabilities,
  ModelDetails,
  ModelObject,
  ModelStatus,
  ModelStatusFilter,
  ReferenceBatch,
  ReferenceBatchDetail,
  ReferenceBatchResult,
  ReferenceBatchStatus,
  ReferenceCreateBatch,
  ResourceJobsView,
  Whoami,
} from "@switchyard/core";
export {
  Batches,
  type CreateBatchParams,
  Files,
  isBatchEnded,
  type LocalFile,
  ReferenceBatches,
  type ReferencePath,
  type UploadOptions,
  type UploadSource,
  type WaitOptions,
} from "./batches";
export {
  type ChatCompletionStream,
  type InferenceOptions,
  type RequestOptions,
  Switchyard,
  type SwitchyardOptions,
  type TokenSource,
} from "./client";
export { type DeviceGrantOptions, DeviceLoginError, deviceGrant } from "./device-grant";
export {
  APIConnectionError,
  APIError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  IdentityMismatchError,
  InternalServerError,
  isErrorCode,
  LoginRequiredError,
  ModelNotReadyError,
  NotFoundError,
  OAuthError,
  PermissionDeniedError,
  RateLimitError,
  ServiceUnavailableError,
  SwitchyardSDKError,
  TokenStoreError,
} from "./errors";
export { Pace } from "./pace";
export { DEFAULT_SERVER, normalizeServer } from "./server-url";
export { jsonEvents } from "./sse";
export { type WaitForModel, waitForModel } from "./wait";
