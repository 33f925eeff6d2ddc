export * from "./models";
export { buildVocabulary, CHATML_TEMPLATE, SPECIAL_TOKENS, TOKEN_TYPE, type Vocabulary } from "./vocabulary";
export {
  DEFAULT_ALIGNMENT,
  encodeGgufHeader,
  type GgufScalarType,
  type GgufTensor,
  type GgufTensorType,
  type GgufValue,
  gguf,
  tensorBytes,
  writeGguf,
} from "./writer";
