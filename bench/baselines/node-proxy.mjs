// The floor for a proxy written in Node: node:http in, the client's bytes forwarded as they
// are through an undici Pool, the answer's bytes back. No parsing, auth, limits, logs or
// metrics. `node node-proxy.mjs <listen-port> <upstream-url>`
import { createServer } from "node:http";
import { Pool } from "undici";

const [port, upstream] = process.argv.slice(2);
const pool = new Pool(upstream, { connections: 256, keepAliveTimeout: 60_000 });

createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    try {
      const body = Buffer.concat(chunks);
      const answer = await pool.request({
        path: req.url,
        method: req.method,
        headers: { "content-type": "application/json", "content-length": String(body.length) },
        body,
      });
      res.writeHead(answer.statusCode, { "content-type": "application/json" });
      res.end(Buffer.from(await answer.body.arrayBuffer()));
    } catch (error) {
      res.writeHead(502).end(String(error));
    }
  });
}).listen(Number(port), "127.0.0.1");
