// Web streams <-> async iterables, written out because browsers lack the shortcuts Node has
// (`ReadableStream.from`, `for await` over a ReadableStream).

/** The chunks of a ReadableStream; stopping early (break, an error) cancels it and releases the connection. */
export async function* chunksOf<T>(stream: ReadableStream<T>): AsyncGenerator<T> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** A ReadableStream pulling from an async iterable one chunk per read (nothing read ahead); cancelling ends the iterable. */
export function streamFrom<T>(source: AsyncIterable<T>): ReadableStream<T> {
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream<T>(
    {
      async pull(controller) {
        const { value, done } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        await iterator.return?.(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
