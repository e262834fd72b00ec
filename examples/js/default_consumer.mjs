// The simplest correct consumer of the Custom Vision storage integration on the official
// JavaScript SDKs (@azure/storage-queue, @azure/storage-blob), every option at its default
// (retry policy, visibility timeout), one loop that receives, acts and deletes:
//
//   cvnotify verify --duty fetch-backups -- node examples/js/default_consumer.mjs
//
// It reads a notification whether it is plain or base64 JSON, downloads the backup an
// ExportCompleted's modelUri names, deletes each message it handled, leaves a message it cannot
// read for redelivery and moves it, as it is, to `<queue>-poison` on its fifth delivery, backs
// off while the queue is empty, and stops on SIGTERM. Errors the SDK does not retry itself are
// logged and the loop goes on after a pause.
//
// Configuration: AZURE_STORAGE_CONNECTION_STRING and CVNOTIFY_QUEUE_NAME.

import { QueueClient } from "@azure/storage-queue";
import { BlobServiceClient } from "@azure/storage-blob";

const MAX_DEQUEUE_COUNT = 5;
const connection = process.env.AZURE_STORAGE_CONNECTION_STRING;
const queueName = process.env.CVNOTIFY_QUEUE_NAME ?? "notifications";
const account = /AccountName=([^;]+)/.exec(connection)?.[1] ?? "";
const queue = new QueueClient(connection, queueName);
const poison = new QueueClient(connection, `${queueName}-poison`);
const blobs = BlobServiceClient.fromConnectionString(connection);

let stopping = false;
let wake = () => {};
process.on("SIGTERM", () => {
  stopping = true;
  wake();
});
const sleep = (ms) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });

// The notification a message holds (plain or base64 JSON), or null.
function notificationOf(text) {
  for (const decode of [(t) => t, (t) => Buffer.from(t, "base64").toString("utf8")]) {
    try {
      const value = JSON.parse(decode(text));
      if (value && typeof value.type === "string" && value.Content && typeof value.Content === "object") return value;
    } catch {
      // not this encoding
    }
  }
  return null;
}

async function handle(message) {
  const notification = notificationOf(message.messageText);
  if (notification === null) {
    if (message.dequeueCount >= MAX_DEQUEUE_COUNT) {
      await poison.createIfNotExists();
      await poison.sendMessage(message.messageText);
      await queue.deleteMessage(message.messageId, message.popReceipt);
    }
    return;
  }
  const content = notification.Content;
  if (notification.type === "Export" && content.exportStatus === "ExportCompleted") {
    const parts = new URL(content.modelUri).pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts[0] === account) parts.shift();
    const blob = blobs.getContainerClient(parts[0]).getBlobClient(parts.slice(1).join("/"));
    const data = await blob.downloadToBuffer();
    console.log(`downloaded ${data.length} bytes of ${parts.at(-1)}`);
  }
  await queue.deleteMessage(message.messageId, message.popReceipt);
}

let idle = 100;
while (!stopping) {
  try {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 16 });
    for (const message of receivedMessageItems) await handle(message);
    if (receivedMessageItems.length > 0) {
      idle = 100;
      continue;
    }
    await sleep(idle);
    idle = Math.min(idle * 2, 5000);
  } catch (e) {
    console.error(`storage error, trying again shortly: ${e.statusCode ?? e.code ?? e.name}`);
    await sleep(2000);
  }
}
