#!/usr/bin/env node
// @ts-check
/**
 * The cap-edge ROS 2 bridge: a Node.js process that holds rclnodejs and
 * serves the core over newline-delimited JSON (`cap-edge-ros2/1`, see
 * `protocol.js`).
 *
 *   node main.js                      one core on stdin/stdout; exits when stdin closes
 *   node main.js --socket <path>      a Unix socket (mode 0600), one core at a time;
 *                                     runs until SIGTERM (the systemd unit)
 *   --rclnodejs <module>              import this module instead of rclnodejs
 *                                     (tests inject the stand-in with it)
 *
 * When a core's connection closes, the bridge cancels the goals it still has
 * in flight (bounded by `cancelTimeoutMs`) and destroys its node. Diagnostics
 * go to stderr; stdout carries only the channel.
 * @module
 */
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createServer } from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";
import { loadRclnodejs, Ros2Bridge } from "./bridge.js";
import { readMessages, writeMessage } from "./channel.js";
import { checkCoreMessage, PROTOCOL, ProtocolError } from "./protocol.js";

/** @typedef {import("./bridge.js").BridgeSession} BridgeSession */

/**
 * Serves one core connection; resolves when it has closed and its goals are
 * cancelled. `true` when it ended cleanly, `false` when the core broke the
 * protocol or the bridge could not start ROS 2.
 * @param {Ros2Bridge} bridge
 * @param {import("node:stream").Readable} input
 * @param {import("node:stream").Writable} output
 * @returns {Promise<boolean>}
 */
function serveConnection(bridge, input, output) {
  return new Promise((resolve) => {
    /** @type {BridgeSession | undefined} */
    let session;
    /** @type {Promise<unknown> | undefined} */
    let opening;
    let greeted = false;
    let clean = true;
    let ended = false;
    let lastHeard = Date.now();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    let watchdog;
    /** @param {Record<string, unknown>} message */
    const send = (message) => {
      try {
        writeMessage(output, message);
      } catch (error) {
        _log(`cannot send a message: ${/** @type {Error} */ (error).message}`);
      }
    };
    /** @param {string | undefined} why */
    const end = async (why) => {
      if (ended) return;
      ended = true;
      clearInterval(watchdog);
      if (why !== undefined) {
        clean = false;
        _log(why);
      }
      await opening?.catch(() => {});
      await session?.close();
      // Let the last messages (a result, `unavailable`) reach the core first.
      await new Promise((flushed) => {
        output.end(flushed);
        setTimeout(flushed, 1000).unref();
      });
      input.destroy();
      resolve(clean);
    };
    send({ type: "hello", protocol: PROTOCOL });
    readMessages(input, {
      onEnd: () => void end(undefined),
      onError: (error) =>
        void end(`the core broke the channel: ${error.message}`),
      onMessage: (raw) => {
        if (ended) return;
        lastHeard = Date.now();
        let message;
        try {
          message = checkCoreMessage(raw);
          if (!greeted && message.type !== "hello") {
            throw new ProtocolError(
              `Cannot accept "${message.type}": the core's first message must be hello`,
            );
          }
        } catch (error) {
          return void end(
            `the core sent a bad message: ${
              /** @type {Error} */ (error).message
            }`,
          );
        }
        switch (message.type) {
          case "hello":
            if (greeted || message.protocol !== PROTOCOL) {
              return void end(
                `the core sent a second hello or speaks ${
                  JSON.stringify(message.protocol)
                }, not ${PROTOCOL}`,
              );
            }
            greeted = true;
            return;
          case "ping":
            return send({ type: "pong", id: message.id });
          case "configure": {
            if (opening !== undefined) {
              return void end("the core configured the bridge twice");
            }
            const config = message.config;
            // The core pings; a core that falls silent (frozen, or a lost
            // half of the connection) is treated as gone: its goals are cancelled.
            const limit = config.coreTimeoutMs;
            watchdog = setInterval(() => {
              if (Date.now() - lastHeard > limit) {
                void end(
                  `the core stopped answering (nothing for ${limit} ms)`,
                );
              }
            }, Math.max(10, Math.min(1000, Math.floor(limit / 4))));
            opening = bridge.open(config, message.orphans, send).then(
              ({ session: opened, orphans }) => {
                if (ended) return opened.close();
                session = opened;
                send({ type: "ready", orphans });
              },
              (error) => {
                send({
                  type: "unavailable",
                  message: /** @type {Error} */ (error).message,
                });
                void end(/** @type {Error} */ (error).message);
              },
            );
            return;
          }
          case "invoke":
            if (session === undefined) {
              return void end(
                "the core invoked a skill before the bridge was ready",
              );
            }
            return session.invoke(
              message.id,
              message.skill,
              message.args,
              message.goalId,
            );
          case "cancel":
            return session?.cancel(message.id);
        }
      },
    });
  });
}

/** @param {string} text */
function _log(text) {
  process.stderr.write(`cap-edge-ros2: ${text}\n`);
}

async function _main() {
  const { values } = parseArgs({
    options: { socket: { type: "string" }, rclnodejs: { type: "string" } },
    strict: true,
  });
  const bridge = new Ros2Bridge(() => loadRclnodejs(values.rclnodejs));
  if (values.socket === undefined) {
    process.on("SIGTERM", () => process.stdin.destroy());
    const clean = await serveConnection(bridge, process.stdin, process.stdout);
    process.exit(clean ? 0 : 1);
  }
  const path = values.socket;
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path); // left by a killed bridge
  } catch {
    // absent: fine
  }
  // One core at a time. A core that connects while the previous connection
  // is still cancelling its goals waits its turn (a restarted core); a third
  // is refused.
  /** @type {Set<import("node:net").Socket>} */
  const sockets = new Set();
  /** @type {Promise<unknown>} */
  let turn = Promise.resolve();
  const server = createServer((socket) => {
    if (sockets.size >= 2) {
      _log("refused a core connection: one is served and one is waiting");
      socket.destroy();
      return;
    }
    sockets.add(socket);
    let gone = false;
    socket.once("close", () => (gone = true));
    turn = turn.then(async () => {
      if (!gone) await serveConnection(bridge, socket, socket);
      sockets.delete(socket);
    });
  });
  server.on("error", (error) => {
    _log(`cannot serve ${path}: ${error.message}`);
    process.exit(1);
  });
  server.listen(path, () => {
    chmodSync(path, 0o600);
    _log(`listening on ${path}`);
  });
  const stop = async () => {
    server.close();
    for (const socket of sockets) socket.destroy();
    await turn;
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

await _main();
