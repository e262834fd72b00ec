// The storage operations a Custom Vision integration and its tests make, through the official
// JavaScript SDKs (@azure/storage-queue, @azure/storage-blob), against one storage account given
// by a connection string. Prints one JSON line per step: what the SDK returned or the error it
// raised, without ids, receipts, ETags or times. tests/e2e/sdk.rs runs it against Azurite and
// against the simulation and requires the same lines.
//
// usage: node storage.mjs CONNECTION_STRING

import { QueueServiceClient } from "@azure/storage-queue";
import { BlobServiceClient } from "@azure/storage-blob";

function out(step, value) {
  console.log(JSON.stringify({ step, value }));
}

async function attempt(step, action) {
  let value;
  try {
    value = await action();
  } catch (e) {
    if (e.statusCode === undefined) throw e;
    value = { error: e.name, status: e.statusCode, code: e.code ?? e.details?.errorCode ?? null };
  }
  out(step, value === undefined ? null : value);
}

const messages = (items) =>
  items.map((m) => ({ content: m.messageText, dequeueCount: m.dequeueCount }));

async function all(iterator) {
  const items = [];
  for await (const item of iterator) items.push(item);
  return items;
}

async function queueSteps(service) {
  await attempt("create queue", async () => (await service.createQueue("sdkq1")).requestId !== undefined);
  await attempt("create queue again", async () => (await service.createQueue("sdkq1")).requestId !== undefined);
  await attempt("create queue with metadata", async () =>
    (await service.createQueue("sdkq2", { metadata: { owner: "cv" } })).requestId !== undefined);
  await attempt("create queue, bad name", async () => (await service.createQueue("Bad_Name")).requestId !== undefined);
  await attempt("list queues", async () =>
    (await all(service.listQueues({ prefix: "sdk" }))).map((q) => q.name).sort());
  await attempt("list queues with metadata, one per page", async () => {
    const seen = [];
    for await (const page of service.listQueues({ prefix: "sdk", includeMetadata: true }).byPage({ maxPageSize: 1 })) {
      for (const q of page.queueItems ?? []) seen.push([q.name, q.metadata ?? null]);
    }
    return seen;
  });
  const q = service.getQueueClient("sdkq1");
  await attempt("set metadata", async () => (await q.setMetadata({ stage: "test" })).requestId !== undefined);
  await attempt("properties", async () => {
    const p = await q.getProperties();
    return [p.metadata, p.approximateMessagesCount];
  });
  for (const text of ['{"version":"1.0","type":"ConnectionTest","Content":{}}', "second <&>", "third\r\nline"]) {
    await attempt("send " + text.slice(0, 6), async () => (await q.sendMessage(text)).messageId !== undefined);
  }
  await attempt("send, hidden", async () => (await q.sendMessage("later", { visibilityTimeout: 60 })).messageId !== undefined);
  await attempt("send, forever", async () => (await q.sendMessage("forever", { messageTimeToLive: -1 })).messageId !== undefined);
  await attempt("send, too large", async () => (await q.sendMessage("x".repeat(70000))).messageId !== undefined);
  await attempt("peek", async () => messages((await q.peekMessages({ numberOfMessages: 32 })).peekedMessageItems));
  await attempt("count", async () => (await q.getProperties()).approximateMessagesCount);
  const got = (await q.receiveMessages({ numberOfMessages: 2, visibilityTimeout: 30 })).receivedMessageItems;
  out("receive two", messages(got));
  const first = got[0];
  await attempt("update", async () =>
    (await q.updateMessage(first.messageId, first.popReceipt, "updated", 0)).popReceipt !== undefined);
  await attempt("update with the old receipt", async () =>
    (await q.updateMessage(first.messageId, first.popReceipt, "stale", 0)).popReceipt !== undefined);
  await attempt("receive after update", async () =>
    messages((await q.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 1 })).receivedMessageItems));
  await new Promise((r) => setTimeout(r, 1500));
  const again = (await q.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 30 })).receivedMessageItems;
  out("receive after the visibility timeout", messages(again));
  for (const m of again) {
    await attempt("delete " + m.messageText.slice(0, 6), async () =>
      (await q.deleteMessage(m.messageId, m.popReceipt)).requestId !== undefined);
  }
  await attempt("delete again", async () =>
    (await q.deleteMessage(again[0].messageId, again[0].popReceipt)).requestId !== undefined);
  await attempt("peek after delete", async () => messages((await q.peekMessages({ numberOfMessages: 32 })).peekedMessageItems));
  await attempt("clear", async () => (await q.clearMessages()).requestId !== undefined);
  await attempt("peek after clear", async () => messages((await q.peekMessages({ numberOfMessages: 32 })).peekedMessageItems));
  const missing = service.getQueueClient("sdk-none");
  await attempt("receive, no such queue", async () => messages((await missing.receiveMessages()).receivedMessageItems));
  await attempt("exists, no such queue", async () => await missing.exists());
  await attempt("exists", async () => await q.exists());
  await attempt("delete queue", async () => (await service.deleteQueue("sdkq2")).requestId !== undefined);
  await attempt("delete queue again", async () => (await service.deleteQueue("sdkq2")).requestId !== undefined);
  await attempt("list queues at the end", async () =>
    (await all(service.listQueues({ prefix: "sdk" }))).map((q) => q.name).sort());
}

async function blobSteps(service) {
  await attempt("create container", async () => (await service.createContainer("sdkc1")).containerCreateResponse.etag !== undefined);
  await attempt("create container again", async () => (await service.createContainer("sdkc1")).containerCreateResponse.etag !== undefined);
  await attempt("create container with metadata", async () =>
    (await service.createContainer("sdkc2", { metadata: { kind: "backups" } })).containerCreateResponse.etag !== undefined);
  const c = service.getContainerClient("sdkc1");
  await attempt("container exists", async () => await c.exists());
  await attempt("container exists, none", async () => await service.getContainerClient("sdk-none").exists());
  await attempt("container metadata", async () => (await service.getContainerClient("sdkc2").getProperties()).metadata);
  await attempt("list containers", async () =>
    (await all(service.listContainers({ prefix: "sdk" }))).map((x) => x.name).sort());
  await attempt("list containers with metadata, one per page", async () => {
    const seen = [];
    for await (const page of service.listContainers({ prefix: "sdk", includeMetadata: true }).byPage({ maxPageSize: 1 })) {
      for (const x of page.containerItems ?? []) seen.push([x.name, x.metadata ?? null]);
    }
    return seen;
  });
  const upload = async (name, data, options = {}) =>
    (await c.getBlockBlobClient(name).upload(data, data.length, options)).etag !== undefined;
  const text = { blobHTTPHeaders: { blobContentType: "text/plain" } };
  await attempt("upload", () => upload("a.txt", "hello world", text));
  await attempt("upload again", () => upload("a.txt", "again", { conditions: { ifNoneMatch: "*" } }));
  await attempt("upload, overwrite", () => upload("a.txt", "hello again", text));
  await attempt("upload test blob", () => upload("CustomVision-TestPermission/probe", "test"));
  const backup = Buffer.alloc(1024, 0).map((_, i) => i % 256);
  await attempt("upload backup", () => upload("p - i.ONNX", backup));
  await attempt("upload empty", () => upload("empty", ""));
  await attempt("list blobs", async () => (await all(c.listBlobsFlat())).map((b) => [b.name, b.properties.contentLength]));
  await attempt("list blobs by prefix", async () =>
    (await all(c.listBlobsFlat({ prefix: "CustomVision-TestPermission/" }))).map((b) => b.name));
  await attempt("walk blobs", async () =>
    (await all(c.listBlobsByHierarchy("/"))).map((b) => (b.kind === "prefix" ? "prefix " : "") + b.name));
  await attempt("list blobs, one per page", async () => {
    const seen = [];
    for await (const page of c.listBlobsFlat().byPage({ maxPageSize: 1 })) {
      for (const b of page.segment.blobItems) seen.push(b.name);
    }
    return seen;
  });
  await attempt("download", async () => (await c.getBlobClient("a.txt").downloadToBuffer()).toString());
  await attempt("download a range", async () => (await c.getBlobClient("a.txt").downloadToBuffer(6, 5)).toString());
  await attempt("download backup", async () => (await c.getBlobClient("p - i.ONNX").downloadToBuffer()).length);
  await attempt("download empty", async () => (await c.getBlobClient("empty").downloadToBuffer()).toString());
  await attempt("download a stream", async () => {
    const r = await c.getBlobClient("a.txt").download();
    const chunks = [];
    for await (const chunk of r.readableStreamBody) chunks.push(chunk);
    return [Buffer.concat(chunks).toString(), r.contentLength, r.contentType, r.blobType];
  });
  await attempt("properties", async () => {
    const p = await c.getBlobClient("a.txt").getProperties();
    return {
      size: p.contentLength,
      type: p.blobType,
      contentType: p.contentType,
      md5: p.contentMD5 !== undefined,
      etag: p.etag !== undefined,
      lease: p.leaseState,
    };
  });
  // Leases, mixed-case metadata, a copy within the account.
  const leased = c.getBlockBlobClient("leased.txt");
  await attempt("upload a blob to lease", async () => (await leased.upload("leased", 6)).requestId !== undefined);
  const lease = leased.getBlobLeaseClient("7c2d3a10-0000-4000-8000-00000000000a");
  await attempt("acquire lease", async () => (await lease.acquireLease(15)).leaseId);
  await attempt("upload, leased, without the lease", async () => (await leased.upload("x", 1)).requestId !== undefined);
  await attempt("upload, leased, with the lease", async () =>
    (await leased.upload("y", 1, { conditions: { leaseId: lease.leaseId } })).requestId !== undefined);
  await attempt("lease properties", async () => {
    const p = await leased.getProperties();
    return [p.leaseState, p.leaseStatus, p.leaseDuration];
  });
  await attempt("change lease", async () => (await lease.changeLease("7c2d3a10-0000-4000-8000-00000000000b")).leaseId);
  await attempt("break lease", async () => (await lease.breakLease(0)).leaseTime);
  await attempt("release lease, broken", async () => (await lease.releaseLease()).requestId !== undefined);
  await attempt("delete, lease released", async () => (await leased.delete()).requestId !== undefined);
  const meta = c.getBlockBlobClient("meta.txt");
  await attempt("upload with mixed-case metadata", async () =>
    (await meta.upload("m", 1, { metadata: { MixedCase: "Yes" } })).requestId !== undefined);
  await attempt("mixed-case metadata", async () => (await meta.getProperties()).metadata);
  await attempt("list blobs, mixed-case metadata", async () =>
    (await all(c.listBlobsFlat({ prefix: "meta", includeMetadata: true }))).map((b) => [b.name, b.metadata]));
  const copy = c.getBlobClient("copy.ONNX");
  await attempt("copy the backup", async () => {
    const poller = await copy.beginCopyFromURL(c.getBlobClient("p - i.ONNX").url);
    return (await poller.pollUntilDone()).copyStatus;
  });
  await attempt("download the copy", async () => (await copy.downloadToBuffer()).length);
  await attempt("exists", async () => await c.getBlobClient("a.txt").exists());
  await attempt("exists, none", async () => await c.getBlobClient("none").exists());
  await attempt("download, none", async () => (await c.getBlobClient("none").downloadToBuffer()).length);
  await attempt("delete blob", async () => (await c.deleteBlob("a.txt")).requestId !== undefined);
  await attempt("delete blob again", async () => (await c.deleteBlob("a.txt")).requestId !== undefined);
  await attempt("delete if exists", async () => (await c.getBlobClient("a.txt").deleteIfExists()).succeeded);
  await attempt("delete container", async () => (await service.deleteContainer("sdkc2")).requestId !== undefined);
  await attempt("delete container again", async () => (await service.deleteContainer("sdkc2")).requestId !== undefined);
  await attempt("list containers at the end", async () =>
    (await all(service.listContainers({ prefix: "sdk" }))).map((x) => x.name).sort());
}

const connection = process.argv[2];
await queueSteps(QueueServiceClient.fromConnectionString(connection));
await blobSteps(BlobServiceClient.fromConnectionString(connection));
