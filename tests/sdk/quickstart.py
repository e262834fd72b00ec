"""The official Custom Vision Python quickstart's flow, with the storage integration, through the
official SDKs (azure-cognitiveservices-vision-customvision, azure-storage-blob,
azure-storage-queue) and nothing else: domains, a project in an exportable domain with a
notification queue and a backup container, tags, images from files, training (polled until it
completes), performance, a quick test, publish, an export (polled until done), a rename that
must keep the storage settings, the backup blob downloaded, the notifications read, then
unpublish and delete. Exits non-zero at the first thing that is not as the service documents.

usage: python quickstart.py ENDPOINTS_JSON   (the line `cvnotify simulate` prints)
"""

import json
import struct
import sys
import time

from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient
from msrest.authentication import ApiKeyCredentials

PREDICTION_RESOURCE = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/cv/providers/"
    "Microsoft.CognitiveServices/accounts/cv-prediction"
)


def image(tag, n):
    """A 16x16 24-bit BMP, different for every (tag, n)."""
    side = 16
    pixels = bytes(((x * 16 + tag * 97 + n * 13) % 256) for _ in range(side) for x in range(side * 3))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def wait(what, check, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            sys.exit(f"quickstart: {what} did not happen within {seconds} s")
        time.sleep(0.2)


def main():
    e = json.loads(sys.argv[1])
    trainer = CustomVisionTrainingClient(
        e["trainingEndpoint"], ApiKeyCredentials(in_headers={"Training-key": e["trainingKey"]})
    )
    compact = next(
        d for d in trainer.get_domains()
        if d.type == "Classification" and d.exportable and d.name == "General (compact)"
    )
    project = trainer.create_project(
        "Python quickstart",
        domain_id=compact.id,
        notification_queue_uri=e["notificationQueueUri"],
        export_model_container_uri=e["exportModelContainerUri"],
    )
    assert project.settings.notification_queue_uri == e["notificationQueueUri"], project.settings
    assert any(p.id == project.id for p in trainer.get_projects())
    hemlock = trainer.create_tag(project.id, "Hemlock")
    cherry = trainer.create_tag(project.id, "Japanese Cherry")
    entries = [
        ImageFileCreateEntry(name=f"{tag.name}_{n}.bmp", contents=image(t, n), tag_ids=[tag.id])
        for t, tag in enumerate([hemlock, cherry])
        for n in range(1, 11)
    ]
    upload = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert upload.is_batch_successful, [i.status for i in upload.images]
    assert sorted((t.name, t.image_count) for t in trainer.get_tags(project.id)) == [
        ("Hemlock", 10),
        ("Japanese Cherry", 10),
    ]
    assert trainer.get_tagged_image_count(project.id) == 20

    iteration = trainer.train_project(project.id)
    iteration = wait(
        "training",
        lambda: (lambda i: i if i.status == "Completed" else None)(
            trainer.get_iteration(project.id, iteration.id)
        ),
    )
    performance = trainer.get_iteration_performance(project.id, iteration.id)
    assert len(performance.per_tag_performance) == 2
    result = trainer.quick_test_image(project.id, image(0, 99), iteration_id=iteration.id)
    assert len(result.predictions) == 2
    trainer.publish_iteration(project.id, iteration.id, "classifyModel", PREDICTION_RESOURCE)
    assert trainer.get_iteration(project.id, iteration.id).publish_name == "classifyModel"

    trainer.export_iteration(project.id, iteration.id, "ONNX")
    export = wait(
        "the export",
        lambda: next(
            (x for x in trainer.get_exports(project.id, iteration.id) if x.platform == "ONNX" and x.status != "Exporting"),
            None,
        ),
    )
    assert export.status == "Done", export.status

    # A rename through the SDK, whose models leave the storage URIs out: they stay.
    current = trainer.get_project(project.id)
    current.name = "Python quickstart, renamed"
    trainer.update_project(project.id, current)
    renamed = trainer.get_project(project.id)
    assert renamed.name == "Python quickstart, renamed"
    assert renamed.settings.export_model_container_uri == e["exportModelContainerUri"], renamed.settings

    blobs = BlobServiceClient.from_connection_string(e["connectionString"])
    name = f"{project.id} - {iteration.id}.ONNX"
    model = blobs.get_blob_client("backups", name).download_blob().readall()
    assert len(model) > 0

    queue = QueueClient.from_connection_string(e["connectionString"], "notifications")
    seen = []

    def read():
        for m in queue.receive_messages(max_messages=32):
            seen.append(json.loads(m.content))
            queue.delete_message(m)
        return len([n for n in seen if n["Content"].get("projectId") == project.id]) >= 3

    wait("the three notifications", read)
    mine = [n for n in seen if n["Content"]["projectId"] == project.id]
    kinds = [n["type"] for n in mine]
    assert kinds == ["ConnectionTest", "Training", "Export"], kinds
    assert mine[1]["Content"]["trainingStatus"] == "TrainingCompleted"
    assert mine[2]["Content"]["exportStatus"] == "ExportCompleted"
    assert mine[2]["Content"]["modelUri"].endswith(name.replace(" ", "%20")), mine[2]

    trainer.unpublish_iteration(project.id, iteration.id)
    trainer.delete_iteration(project.id, iteration.id)
    trainer.delete_project(project.id)
    assert all(p.id != project.id for p in trainer.get_projects())
    print(f"quickstart (Python): ok, {len(model)}-byte model from {name!r}, notifications {kinds}")


if __name__ == "__main__":
    main()
