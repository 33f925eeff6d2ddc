/**
 * The generated models' tokenizer: a SentencePiece (SPM, llama.cpp's `llama` tokenizer model)
 * vocabulary with byte fallback. Text is split into characters (a space becomes `▁`) and
 * adjacent pieces are merged while the merge is in the vocabulary, highest score first; a
 * character with no piece becomes its UTF-8 bytes `<0xNN>`. So every text tokenizes, and
 * English words get whole-word tokens, as in a real model's vocabulary.
 */

/** llama.cpp's token types (`tokenizer.ggml.token_type`). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

/** SentencePiece's word-boundary mark, standing for a space. */
const SPACE = "\u2581";

export const SPECIAL_TOKENS = {
  unknown: "<unk>",
  bos: "<s>",
  eos: "</s>",
  /** ChatML's turn markers, which the chat template uses; llama.cpp ends generation at `<|im_end|>`. */
  turnStart: "<|im_start|>",
  turnEnd: "<|im_end|>",
} as const;

/** Words that get whole-word tokens (with their prefixes, so SPM's pairwise merges can reach them). */
const WORDS = [
  "the",
  "and",
  "that",
  "have",
  "for",
  "not",
  "with",
  "you",
  "this",
  "but",
  "from",
  "they",
  "say",
  "she",
  "will",
  "one",
  "all",
  "would",
  "there",
  "their",
  "what",
  "out",
  "about",
  "who",
  "get",
  "which",
  "when",
  "make",
  "can",
  "like",
  "time",
  "just",
  "know",
  "take",
  "people",
  "into",
  "year",
  "your",
  "good",
  "some",
  "could",
  "them",
  "see",
  "other",
  "than",
  "then",
  "now",
  "look",
  "only",
  "come",
  "its",
  "over",
  "think",
  "also",
  "back",
  "after",
  "use",
  "two",
  "how",
  "our",
  "work",
  "first",
  "well",
  "way",
  "even",
  "new",
  "want",
  "because",
  "any",
  "these",
  "give",
  "day",
  "most",
  "hello",
  "world",
  "model",
  "token",
  "answer",
  "question",
  "system",
  "user",
  "assistant",
];

export interface Vocabulary {
  tokens: string[];
  scores: number[];
  types: number[];
  /** Token ids of the special tokens. */
  ids: Record<keyof typeof SPECIAL_TOKENS, number>;
  /** Token ids of the whole words (` the`, ` model`, ...). */
  words: Set<number>;
}

/** The vocabulary, the same on every call (its order is part of the generated file's bytes). */
export function buildVocabulary(): Vocabulary {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  const add = (piece: string, type: number, score: number) => {
    if (seen.has(piece)) return;
    seen.add(piece);
    tokens.push(piece);
    scores.push(score);
    types.push(type);
  };

  add(SPECIAL_TOKENS.unknown, TOKEN_TYPE.unknown, 0);
  add(SPECIAL_TOKENS.bos, TOKEN_TYPE.control, 0);
  add(SPECIAL_TOKENS.eos, TOKEN_TYPE.control, 0);
  add(SPECIAL_TOKENS.turnStart, TOKEN_TYPE.control, 0);
  add(SPECIAL_TOKENS.turnEnd, TOKEN_TYPE.control, 0);
  for (let byte = 0; byte < 256; byte++) {
    add(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`, TOKEN_TYPE.byte, 0);
  }
  // Single characters: the space mark and printable ASCII (anything else falls back to bytes).
  add(SPACE, TOKEN_TYPE.normal, -1000);
  for (let code = 0x21; code < 0x7f; code++) add(String.fromCharCode(code), TOKEN_TYPE.normal, -1000);
  // Words after a space, built up one character at a time; a longer piece scores higher, so
  // merging prefers to grow the word it has started.
  for (const word of WORDS) {
    const piece = SPACE + word;
    for (let end = 2; end <= piece.length; end++) add(piece.slice(0, end), TOKEN_TYPE.normal, -100 + end);
  }

  const id = (piece: string) => tokens.indexOf(piece);
  return {
    words: new Set(WORDS.map((word) => id(SPACE + word))),
    tokens,
    scores,
    types,
    ids: {
      unknown: id(SPECIAL_TOKENS.unknown),
      bos: id(SPECIAL_TOKENS.bos),
      eos: id(SPECIAL_TOKENS.eos),
      turnStart: id(SPECIAL_TOKENS.turnStart),
      turnEnd: id(SPECIAL_TOKENS.turnEnd),
    },
  };
}

/**
 * ChatML, as a Jinja template in the file's `tokenizer.chat_template` (what llama.cpp and
 * node-llama-cpp read): each message as `<|im_start|>role\ncontent<|im_end|>\n`, then the
 * assistant's turn opened for the answer.
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
