/** `sy --version` (kept in a module of its own: printing it loads nothing else). */
export const VERSION = "0.1.0";
