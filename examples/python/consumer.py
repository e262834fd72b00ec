"""A consumer of the Azure Custom Vision storage integration's notifications, written on the
official SDKs (azure-storage-queue, azure-storage-blob, and for --configure
azure-cognitiveservices-vision-customvision) as a team would write one, and verified with
`cvnotify verify -- python3 examples/python/consumer.py`.

What it does right:
- receives in pages, decodes a message whether it is plain JSON or base64 JSON;
- acts on each notification (an ExportCompleted: downloads the backup blob its modelUri names,
  never a name made up from the ids), then deletes it with the pop receipt of its own receive;
- leaves a message it cannot read for redelivery, and moves it to `<queue>-poison` once it has
  come back five times (what the Functions queue trigger does);
- backs off when the queue is empty (0.1 s doubling to 5 s, with jitter);
- waits at least as long as a throttling answer's Retry-After before retrying;
- with --configure, creates its own project with the queue and the container (API 3.4-preview),
  uploads a training set, trains and exports; a CreateProject that got no clear answer is
  retried only after looking (GetProjects) whether it took effect;
- stops cleanly on SIGTERM.

With --copy-to CONTAINER it keeps each backup by copying it, within the account, into that
container (a model registry, say) instead of downloading it: Copy Blob reads every byte of the
backup for it, which cvnotify counts as fetching it.

`--bug NAME` makes it commit one mistake, so that the tests can check that cvnotify catches
each (the detection table in docs/verify.md). Configuration comes from the environment `cvnotify
verify` (or your CI) gives: AZURE_STORAGE_CONNECTION_STRING, CVNOTIFY_QUEUE_NAME, and for
--configure CVNOTIFY_TRAINING_ENDPOINT, CVNOTIFY_TRAINING_KEY, CVNOTIFY_NOTIFICATION_QUEUE_URI,
CVNOTIFY_EXPORT_MODEL_CONTAINER_URI.
"""

import argparse
import base64
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import ExponentialRetry, QueueClient

BUGS = [
    "never-delete",
    "delete-peeked",
    "stale-receipt",
    "processed-twice",
    "delete-malformed",
    "busy-poll",
    "no-retry-wait",
    "blind-repeat",
    "skip-download",
    "guess-blob-name",
    "old-api-version",
    "crash",
    "stall",
    "exit-early",
    "leave-child",
    "background",
    "dedupe-by-project",
]

stopping = threading.Event()


def on_signal(*_):
    stopping.set()


def decode(text):
    """The notification a message holds (plain or base64 JSON), or None."""
    for candidate in (text, None):
        try:
            if candidate is None:
                candidate = base64.b64decode(text, validate=True).decode("utf-8")
            value = json.loads(candidate)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(value, dict) and isinstance(value.get("type"), str) and isinstance(value.get("Content"), dict):
            return value
    return None


def blob_of(model_uri, account):
    """(container, blob name) of a modelUri, path-style (emulator) or host-style (Azure)."""
    path = urllib.parse.urlsplit(model_uri).path
    parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
    if parts and parts[0] == account:
        parts = parts[1:]
    return parts[0], "/".join(parts[1:])


def image(tag, n):
    """A small BMP, different for every (tag, n)."""
    side = 16
    pixels = bytes(((x * 16 + tag * 97 + n * 13) % 256) for _ in range(side) for x in range(side * 3))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


class Consumer:
    def __init__(self, args):
        self.bug = args.bug
        self.copy_to = args.copy_to
        connection = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
        self.account = dict(
            kv.split("=", 1) for kv in connection.split(";") if "=" in kv
        ).get("AccountName", "")
        name = os.environ.get("CVNOTIFY_QUEUE_NAME", "notifications")
        if self.bug == "no-retry-wait":
            retry = ExponentialRetry(initial_backoff=0.1, increment_base=0.1, random_jitter_range=0, retry_total=10)
        else:
            # At least two seconds, more than a Retry-After of 1 s.
            retry = ExponentialRetry(initial_backoff=1, increment_base=1.5, random_jitter_range=0.2, retry_total=5)
        self.queue = QueueClient.from_connection_string(connection, name, retry_policy=retry)
        self.poison = QueueClient.from_connection_string(connection, name + "-poison", retry_policy=retry)
        self.blobs = BlobServiceClient.from_connection_string(connection, retry_policy=retry)
        # Where backups are saved; removed when the consumer ends (nothing left behind).
        self.workdir = tempfile.TemporaryDirectory(prefix="cvnotify-consumer-")
        self.work = self.workdir.name
        self.visibility = 1 if self.bug in ("stale-receipt", "processed-twice") else 30
        self.handled = 0
        self.exported_projects = set()

    def log(self, text):
        print(f"consumer: {text}", file=sys.stderr, flush=True)

    # Acting on a notification.

    def fetch(self, notification):
        content = notification["Content"]
        uri = content.get("modelUri")
        if self.bug == "skip-download":
            return
        if self.bug == "guess-blob-name":
            container = "backups"
            name = f"{content['projectId']} - {content['iterationId']}.ONNX"
        else:
            container, name = blob_of(uri, self.account)
        if self.copy_to:
            registry = self.blobs.get_container_client(self.copy_to)
            try:
                registry.create_container()
            except ResourceExistsError:
                pass
            source = self.blobs.get_blob_client(container, name)
            try:
                copy = registry.get_blob_client(name).start_copy_from_url(source.url)
            except HttpResponseError as e:
                self.log(f"cannot copy {name}: {e.status_code} {e.error_code}")
                return
            self.log(f"copied the backup {name} into {self.copy_to} ({copy['copy_status']})")
            return
        try:
            data = self.blobs.get_blob_client(container, name).download_blob().readall()
        except HttpResponseError as e:
            self.log(f"cannot download {name}: {e.status_code} {e.error_code}")
            return
        with open(os.path.join(self.work, name.replace("/", "_")), "wb") as f:
            f.write(data)
        self.log(f"saved the {len(data)}-byte backup {name}")

    def act(self, notification):
        content = notification["Content"]
        kind = notification["type"]
        if kind == "Export" and content.get("exportStatus") == "ExportCompleted" and content.get("modelUri"):
            self.fetch(notification)
        elif kind in ("ConnectionTest", "Training", "Export"):
            self.log(f"{kind} for project {content.get('projectId')}")
        else:
            self.log(f"ignoring a message of type {kind!r}")

    def handle(self, message, received_at):
        notification = decode(message.content)
        if notification is None:
            if self.bug == "delete-malformed":
                self.queue.delete_message(message)
                return
            if message.dequeue_count >= 5:
                try:
                    self.poison.create_queue()
                except ResourceExistsError:
                    pass
                self.poison.send_message(message.content)
                self.queue.delete_message(message)
                self.log(f"moved message {message.id} to the poison queue")
            return
        if self.bug == "crash":
            os._exit(3)
        if self.bug == "dedupe-by-project" and notification["type"] == "Export":
            # Takes a project's Export as done once one came: the second platform's backup
            # (or a retrained iteration's) is never downloaded.
            project = notification["Content"].get("projectId")
            if project in self.exported_projects:
                self.delete(message)
                return
            self.exported_projects.add(project)
        self.act(notification)
        if self.bug == "never-delete" and notification["type"] in ("ConnectionTest", "Training", "Export"):
            return
        if self.bug == "processed-twice" and message.dequeue_count == 1 and notification["type"] == "Export":
            # Lingers past the visibility timeout without extending it: the message comes back
            # and is acted on again.
            time.sleep(1.5)
            return
        self.delete(message)
        self.handled += 1
        if self.bug == "exit-early":
            # A batch consumer that stops once it has handled something: the notifications
            # still to come are left to nobody.
            self.log("done, exiting")
            os._exit(0)
        if self.bug == "leave-child" and self.handled == 3:
            # Drains the three notifications of a lifecycle, then exits leaving a helper behind.
            subprocess.Popen(["sleep", "600"])
            os._exit(0)

    def delete(self, message):
        """Deletes a message; a throttled delete (the SDK does not retry 429) waits for the
        answer's Retry-After and tries again."""
        for _ in range(5):
            try:
                self.queue.delete_message(message)
                return
            except HttpResponseError as e:
                if e.status_code not in (429, 503):
                    self.log(f"could not delete {message.id}: {e.status_code} {e.error_code}")
                    return
                wait = float(e.response.headers.get("Retry-After", "1"))
                stopping.wait(wait + 0.1)

    # The loop.

    def receive(self):
        """A page of messages; a throttled receive (the SDK does not retry 429) waits for the
        answer's Retry-After and comes back empty."""
        try:
            return list(self.queue.receive_messages(messages_per_page=16, max_messages=16, visibility_timeout=self.visibility))
        except HttpResponseError as e:
            if e.status_code not in (429, 503):
                raise
            stopping.wait(float(e.response.headers.get("Retry-After", "1")) + 0.1)
            return []

    def worker(self):
        idle = 0.1
        while not stopping.is_set():
            if self.bug == "delete-peeked":
                for m in self.queue.peek_messages(max_messages=1):
                    try:
                        self.queue.delete_message(m.id, "not-a-receipt")
                    except HttpResponseError:
                        pass
            got = self.receive()
            if not got:
                if self.bug == "busy-poll":
                    idle = 0.05
                stopping.wait(idle * random.uniform(0.8, 1.2))
                idle = min(idle * 2, 5.0)
                continue
            idle = 0.1
            received_at = time.monotonic()
            if self.bug == "stale-receipt":
                # Waits past the visibility timeout and receives again, then deletes with the
                # first receipt (refused), then with the new one.
                time.sleep(1.5)
                again = {m.id: m for m in self.receive()}
                for m in got:
                    self.act_only(m)
                    try:
                        self.queue.delete_message(m)
                    except HttpResponseError:
                        pass
                    if m.id in again:
                        self.queue.delete_message(again[m.id])
                continue
            for m in got:
                self.handle(m, received_at)

    def act_only(self, message):
        notification = decode(message.content)
        if notification is not None:
            self.act(notification)

    def run(self):
        try:
            self.worker()
        except Exception as e:  # noqa: BLE001 - the process fails with what went wrong
            self.log(f"giving up: {e.__class__.__name__}: {e}")
            raise SystemExit(1) from e


def configure(bug):
    """Creates a project with the queue and container, trains it and exports it."""
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, ImageFileCreateEntry
    from msrest.authentication import ApiKeyCredentials

    endpoint = os.environ["CVNOTIFY_TRAINING_ENDPOINT"]
    credentials = ApiKeyCredentials(in_headers={"Training-key": os.environ["CVNOTIFY_TRAINING_KEY"]})
    trainer = CustomVisionTrainingClient(endpoint, credentials)
    # CreateProject is not idempotent: the SDK must not repeat it on its own.
    trainer.config.retry_policy.retries = 0
    name = "consumer-" + os.environ.get("CVNOTIFY_SCENARIO", "project")
    options = dict(
        domain_id="0732100f-1a38-4e49-a514-c9b44c697ab5",
        notification_queue_uri=os.environ["CVNOTIFY_NOTIFICATION_QUEUE_URI"],
        export_model_container_uri=os.environ["CVNOTIFY_EXPORT_MODEL_CONTAINER_URI"],
    )
    project = None
    for attempt in range(5):
        try:
            project = trainer.create_project(name, **options)
            break
        except Exception as e:  # noqa: BLE001 - any failure: look before repeating
            print(f"consumer: CreateProject failed ({e.__class__.__name__}); looking before repeating", file=sys.stderr)
            time.sleep(1)
            if bug == "blind-repeat":
                continue
            project = next((p for p in trainer.get_projects() if p.name == name), None)
            if project is not None:
                break
    if project is None:
        raise SystemExit("consumer: could not create the project")
    if bug == "old-api-version":
        # Sends the storage settings again on an API version that ignores them.
        import requests

        requests.patch(
            f"{endpoint}/customvision/v3.2/training/projects/{project.id}",
            headers={"Training-key": os.environ["CVNOTIFY_TRAINING_KEY"]},
            json={"settings": {"notificationQueueUri": options["notification_queue_uri"]}},
            timeout=10,
        )
    tags = [trainer.create_tag(project.id, t) for t in ("stripes", "checks")]
    entries = [
        ImageFileCreateEntry(name=f"{tag.name}-{n}.bmp", contents=image(k, n), tag_ids=[tag.id])
        for k, tag in enumerate(tags)
        for n in range(5)
    ]
    trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    iteration = trainer.train_project(project.id)
    while iteration.status == "Training" and not stopping.is_set():
        time.sleep(0.3)
        iteration = trainer.get_iteration(project.id, iteration.id)
    if iteration.status == "Completed":
        trainer.export_iteration(project.id, iteration.id, "ONNX")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", choices=BUGS, help="commit this mistake (for cvnotify's own tests)")
    parser.add_argument("--configure", action="store_true", help="create, train and export a project first")
    parser.add_argument("--copy-to", metavar="CONTAINER", help="keep each backup by copying it into CONTAINER")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.bug == "stall":
        stopping.wait()
        return
    if args.bug == "background":
        # Hands the work to a copy of itself in a session of its own and exits at once, as
        # `docker run -d` or a service manager would: the process verify started is done.
        subprocess.Popen([sys.executable, __file__], start_new_session=True)
        os._exit(0)
    consumer = Consumer(args)
    if args.configure:
        threading.Thread(target=configure, args=(args.bug,), daemon=True).start()
    consumer.run()


if __name__ == "__main__":
    main()
