// The official Custom Vision JavaScript quickstart's flow, with the storage integration, through
// the official SDKs (@azure/cognitiveservices-customvision-training, @azure/storage-blob,
// @azure/storage-queue) and nothing else: domains, a project in an exportable domain with a
// notification queue and a backup container (the 3.4-preview options body), tags, images from
// data, training (polled until it completes), performance, a quick test, publish, an export
// (polled until done), a rename that must keep the storage settings, the backup blob
// downloaded, the notifications read, then unpublish and delete. Exits non-zero at the first
// thing that is not as the service documents.
//
// usage: node quickstart.mjs ENDPOINTS_JSON   (the line `cvnotify simulate` prints)

import assert from "node:assert/strict";
import training from "@azure/cognitiveservices-customvision-training";
import msRest from "@azure/ms-rest-js";
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueClient } from "@azure/storage-queue";

const { TrainingAPIClient } = training;
const PREDICTION_RESOURCE =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/cv/providers/" +
  "Microsoft.CognitiveServices/accounts/cv-prediction";

// A 16x16 24-bit BMP, different for every (tag, n).
function image(tag, n) {
  const side = 16;
  const pixels = Buffer.alloc(side * side * 3).map((_, i) => ((i % (side * 3)) * 16 + tag * 97 + n * 13) % 256);
  const header = Buffer.alloc(54);
  header.write("BM", 0);
  header.writeUInt32LE(54 + pixels.length, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(side, 18);
  header.writeInt32LE(side, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  header.writeUInt32LE(pixels.length, 34);
  return Buffer.concat([header, pixels]);
}

async function wait(what, check, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const e = JSON.parse(process.argv[2]);
const credentials = new msRest.ApiKeyCredentials({ inHeader: { "Training-key": e.trainingKey } });
const trainer = new TrainingAPIClient(credentials, e.trainingEndpoint);

const domains = await trainer.getDomains();
const compact = domains.find((d) => d.type === "Classification" && d.exportable && d.name === "General (compact)");
const project = await trainer.createProject("JavaScript quickstart", {
  domainId: compact.id,
  options: {
    notificationQueueUri: e.notificationQueueUri,
    exportModelContainerUri: e.exportModelContainerUri,
  },
});
assert.equal(project.settings.notificationQueueUri, e.notificationQueueUri);
assert.ok((await trainer.getProjects()).some((p) => p.id === project.id));
const hemlock = await trainer.createTag(project.id, "Hemlock");
const cherry = await trainer.createTag(project.id, "Japanese Cherry");
for (const [t, tag] of [hemlock, cherry].entries()) {
  for (let n = 1; n <= 10; n++) {
    const upload = await trainer.createImagesFromData(project.id, image(t, n), { tagIds: [tag.id] });
    assert.ok(upload.isBatchSuccessful, JSON.stringify(upload));
  }
}
const tags = (await trainer.getTags(project.id)).map((t) => [t.name, t.imageCount]).sort();
assert.deepEqual(tags, [["Hemlock", 10], ["Japanese Cherry", 10]]);
// A number comes back wrapped (ms-rest-js gives a primitive answer as `body`).
assert.equal((await trainer.getTaggedImageCount(project.id)).body, 20);

let iteration = await trainer.trainProject(project.id);
iteration = await wait("training", async () => {
  const it = await trainer.getIteration(project.id, iteration.id);
  return it.status === "Completed" ? it : null;
});
const performance = await trainer.getIterationPerformance(project.id, iteration.id);
assert.equal(performance.perTagPerformance.length, 2);
const result = await trainer.quickTestImage(project.id, image(0, 99), { iterationId: iteration.id });
assert.equal(result.predictions.length, 2);
await trainer.publishIteration(project.id, iteration.id, "classifyModel", PREDICTION_RESOURCE);
assert.equal((await trainer.getIteration(project.id, iteration.id)).publishName, "classifyModel");

await trainer.exportIteration(project.id, iteration.id, "ONNX");
const exported = await wait("the export", async () =>
  (await trainer.getExports(project.id, iteration.id)).find((x) => x.platform === "ONNX" && x.status !== "Exporting"));
assert.equal(exported.status, "Done");

// A rename through the SDK, whose models leave the storage URIs out: they stay.
const current = await trainer.getProject(project.id);
current.name = "JavaScript quickstart, renamed";
await trainer.updateProject(project.id, current);
const renamed = await trainer.getProject(project.id);
assert.equal(renamed.name, "JavaScript quickstart, renamed");
assert.equal(renamed.settings.exportModelContainerUri, e.exportModelContainerUri);

const blobs = BlobServiceClient.fromConnectionString(e.connectionString);
const name = `${project.id} - ${iteration.id}.ONNX`;
const model = await blobs.getContainerClient("backups").getBlobClient(name).downloadToBuffer();
assert.ok(model.length > 0);

const queue = new QueueClient(e.connectionString, "notifications");
const seen = [];
await wait("the three notifications", async () => {
  const got = await queue.receiveMessages({ numberOfMessages: 32 });
  for (const m of got.receivedMessageItems) {
    seen.push(JSON.parse(m.messageText));
    await queue.deleteMessage(m.messageId, m.popReceipt);
  }
  return seen.filter((n) => n.Content.projectId === project.id).length >= 3;
});
const mine = seen.filter((n) => n.Content.projectId === project.id);
const kinds = mine.map((n) => n.type);
assert.deepEqual(kinds, ["ConnectionTest", "Training", "Export"]);
assert.equal(mine[1].Content.trainingStatus, "TrainingCompleted");
assert.equal(mine[2].Content.exportStatus, "ExportCompleted");
assert.ok(mine[2].Content.modelUri.endsWith(name.replaceAll(" ", "%20")), mine[2].Content.modelUri);

await trainer.unpublishIteration(project.id, iteration.id);
await trainer.deleteIteration(project.id, iteration.id);
await trainer.deleteProject(project.id);
assert.ok((await trainer.getProjects()).every((p) => p.id !== project.id));
console.log(`quickstart (JavaScript): ok, ${model.length}-byte model from '${name}', notifications ${kinds}`);
