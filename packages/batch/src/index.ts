export { AdaptiveConcurrency } from "./concurrency";
export type { BatchTarget, ResolveBatchTarget } from "./create-checks";
export {
  ABANDONED_UPLOAD_MS,
  type FileCleanupReport,
  type FileLimits,
  FileStore,
  newFileId,
  type StagedUpload,
  toFileObject,
} from "./files";
export {
  firstRequestLine,
  type InputLine,
  LineTooLongError,
  readRequestLines,
  type ScannedLine,
  scanRequestLines,
} from "./lines";
export { BatchMetrics } from "./metrics";
export { OutputFile, writeProgress } from "./output";
export { newBatchId, openaiLayout, outputFileIds, referenceLayout } from "./output-layout";
export { allowedDirsFor, checkInputFile, prepareOutputDir } from "./paths";
export { FileCleanup } from "./retention";
export { BatchRun, type RunnerDeps } from "./run";
export { BatchService, type BatchServiceDeps, type BatchWithOwner } from "./service";
export { BatchUsageRows } from "./usage";
export { MAX_REPORTED, type ValidationResult, validateBatchFile } from "./validate";
export { referenceTime, toBatchObject, toReferenceBatch, toReferenceDetail } from "./views";
export { BatchWorker, batchLockKey, type WorkerDeps } from "./worker";
