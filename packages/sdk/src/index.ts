export type {
  ApiKeyObject,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  CreateApiKeyRequest,
  CreatedApiKey,
  DeviceCodeResponse,
  EmbeddingRequest,
  EmbeddingResponse,
  EndpointList,
  ErrorCode,
  Job,
  JobsView,
  Me,
  ModelObject,
  ModelStatus,
  ModelStatusFilter,
} from "@switchyard/core";
export {
  type ChatCompletionStream,
  type InferenceOptions,
  type RequestOptions,
  Switchyard,
  type SwitchyardOptions,
  type WaitForModel,
} from "./client";
export { DeviceLoginError, type DeviceLoginOptions, deviceLogin, type LoginResult } from "./device-login";
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
export { DEFAULT_SERVER, normalizeServer } from "./server-url";
export { REFRESH_MARGIN_MS } from "./session";
export { defaultTokenPath, type StoredSession, type TokenFile, TokenStore } from "./token-store";
