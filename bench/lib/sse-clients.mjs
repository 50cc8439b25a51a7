/* global AbortController, TextDecoder */
// Holds open event streams (GET /api/stream/events) through a bench run, as that many console pages would: each with
// its own token, following every new event. Its own process, so what reading them costs is counted apart from the
// system (OUTSIDE_THE_SYSTEM). Prints `ready` once every stream answered 200, and on SIGTERM one line of JSON: the
// frames each stream received and whether any ended early (overflow).
const { url, tokens } = JSON.parse(process.env.JETSAGA_SSE_CONFIG ?? '{}');
const streams = tokens.map(() => ({ frames: 0, overflows: 0, ended: false, error: undefined }));
const aborts = [];

async function follow(token, stats) {
  const controller = new AbortController();
  aborts.push(controller);
  const response = await fetch(`${url}/api/stream/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  if (response.status !== 200) throw new Error(`the event stream answered ${response.status}: ${await response.text()}`);
  const reading = (async () => {
    const decoder = new TextDecoder();
    let tail = '';
    try {
      for await (const chunk of response.body) {
        const text = tail + decoder.decode(chunk, { stream: true });
        const cut = text.lastIndexOf('\n');
        const lines = text.slice(0, cut + 1);
        tail = text.slice(cut + 1);
        stats.frames += lines.match(/^id: /gm)?.length ?? 0;
        stats.overflows += lines.match(/^event: overflow$/gm)?.length ?? 0;
      }
    } catch (error) {
      if (error.name !== 'AbortError') stats.error = error.message;
    }
    stats.ended = true;
  })();
  // Wrapped: returning the promise itself would make this function wait for the stream's end.
  return { reading };
}

const followed = await Promise.all(tokens.map((token, i) => follow(token, streams[i]))).catch((error) => {
  console.error(error.message);
  process.exit(1);
});
console.log('ready');

process.once('SIGTERM', async () => {
  const endedEarly = streams.filter((stats) => stats.ended).length;
  for (const controller of aborts) controller.abort();
  await Promise.allSettled(followed.map((entry) => entry.reading));
  const frames = streams.map((stats) => stats.frames);
  console.log(
    JSON.stringify({
      streams: streams.length,
      framesReceived: frames.reduce((sum, n) => sum + n, 0),
      framesPerStream: { min: Math.min(...frames), max: Math.max(...frames) },
      overflows: streams.reduce((sum, stats) => sum + stats.overflows, 0),
      endedEarly,
      errors: streams.flatMap((stats) => (stats.error ? [stats.error] : [])),
    }),
  );
  process.exit(0);
});
