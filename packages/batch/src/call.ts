/**
 * The batch's call to a model server is @switchyard/upstream's buffered exchange; these names
 * stay for the runner until it uses the package directly.
 */
export { BufferedExchange as UpstreamCall, type UpstreamAnswer as CallResult } from "@switchyard/upstream";
