// A consumer of the Azure Custom Vision storage integration's notifications, written on the
// official JavaScript SDKs (@azure/storage-queue, @azure/storage-blob) as a team would write
// one, and verified with `cvnotify verify --duty fetch-backups -- node examples/js/consumer.mjs`.
//
// It receives in pages, reads a message whether it is plain JSON or base64 JSON, downloads the
// backup blob an ExportCompleted's modelUri names, deletes each notification with the receipt
// of its own receive, leaves a message it cannot read for redelivery and moves it to
// `<queue>-poison` once it has come back five times, backs off when the queue is empty, waits
// for a throttling answer's Retry-After, and stops cleanly on SIGTERM.
//
// Configuration: AZURE_STORAGE_CONNECTION_STRING and CVNOTIFY_QUEUE_NAME (`notifications`).

import { QueueClient, StorageRetryPolicyType } from "@azure/storage-queue";
import { BlobServiceClient } from "@azure/storage-blob";

const connection = process.env.AZURE_STORAGE_CONNECTION_STRING;
const queueName = process.env.CVNOTIFY_QUEUE_NAME ?? "notifications";
const account = /AccountName=([^;]+)/.exec(connection)?.[1] ?? "";
// Retries 1.5 s apart: more than a Retry-After of 1 s. The SDK's default (exponential) makes
// its first retry at once, before the Retry-After: `cvnotify verify` finds that
// (retry-after-ignored) in the `throttled` scenario.
const retryOptions = { retryPolicyType: StorageRetryPolicyType.FIXED, maxTries: 5, retryDelayInMs: 1500 };
const queue = new QueueClient(connection, queueName, { retryOptions });
const poison = new QueueClient(connection, `${queueName}-poison`, { retryOptions });
const blobs = BlobServiceClient.fromConnectionString(connection, { retryOptions });

let stopping = false;
let wake = () => {};
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    stopping = true;
    wake();
  });
}
const sleep = (ms) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
const log = (text) => console.error(`consumer: ${text}`);

// The notification a message holds (plain or base64 JSON), or null.
function decode(text) {
  for (const candidate of [text, null]) {
    try {
      const json = candidate ?? Buffer.from(text, "base64").toString("utf8");
      if (candidate === null && Buffer.from(json, "utf8").toString("base64") !== text.replace(/\s/g, "")) continue;
      const value = JSON.parse(json);
      if (value && typeof value.type === "string" && value.Content && typeof value.Content === "object") return value;
    } catch {
      // not this encoding
    }
  }
  return null;
}

// (container, blob name) of a modelUri, path-style (emulator) or host-style (Azure).
function blobOf(modelUri) {
  const parts = new URL(modelUri).pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === account) parts.shift();
  return [parts[0], parts.slice(1).join("/")];
}

// Runs a storage call; a throttled one (429, 503) waits for its Retry-After and tries again.
async function patiently(what, call) {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (e.statusCode !== 429 && e.statusCode !== 503) throw e;
      const wait = Number(e.response?.headers?.get("retry-after") ?? "1");
      log(`${what} throttled; waiting ${wait} s`);
      await sleep(wait * 1000 + 100);
    }
  }
  throw new Error(`${what} stayed throttled`);
}

async function handle(message) {
  const notification = decode(message.messageText);
  if (notification === null) {
    if (message.dequeueCount >= 5) {
      await poison.createIfNotExists();
      await patiently("moving to poison", () => poison.sendMessage(message.messageText));
      await patiently("delete", () => queue.deleteMessage(message.messageId, message.popReceipt));
      log(`moved message ${message.messageId} to the poison queue`);
    }
    return;
  }
  const content = notification.Content;
  if (notification.type === "Export" && content.exportStatus === "ExportCompleted" && content.modelUri) {
    const [container, name] = blobOf(content.modelUri);
    const data = await patiently("download", () => blobs.getContainerClient(container).getBlobClient(name).downloadToBuffer());
    log(`saved the ${data.length}-byte backup ${name}`);
  } else {
    log(`${notification.type} for project ${content.projectId}`);
  }
  try {
    await patiently("delete", () => queue.deleteMessage(message.messageId, message.popReceipt));
  } catch (e) {
    log(`could not delete ${message.messageId}: ${e.statusCode} ${e.code}`);
  }
}

let idle = 100;
while (!stopping) {
  let messages = [];
  try {
    messages = (await queue.receiveMessages({ numberOfMessages: 16, visibilityTimeout: 30 })).receivedMessageItems;
  } catch (e) {
    if (e.statusCode !== 429 && e.statusCode !== 503) throw e;
    await sleep(Number(e.response?.headers?.get("retry-after") ?? "1") * 1000 + 100);
    continue;
  }
  if (messages.length === 0) {
    await sleep(idle * (0.8 + Math.random() * 0.4));
    idle = Math.min(idle * 2, 5000);
    continue;
  }
  idle = 100;
  for (const m of messages) await handle(m);
}
