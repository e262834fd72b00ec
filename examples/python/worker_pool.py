"""A consumer of the Custom Vision storage integration as a pool of receivers: four threads,
each a receiving loop of its own (receive, act, delete, back off while the queue is empty),
sharing one QueueClient and one BlobServiceClient of the official SDKs (azure-storage-queue,
azure-storage-blob; clients are thread-safe), every setting at its default.

    cvnotify verify --duty fetch-backups -- python3 examples/python/worker_pool.py

Each notification is handled by whichever worker receives it; handling is idempotent (a
duplicate delivery downloads the same backup again), so the pool needs no coordination. A
message that is not a notification is left for redelivery and moved, as it is, to
`<queue>-poison` on its fifth delivery.

Configuration: AZURE_STORAGE_CONNECTION_STRING and CVNOTIFY_QUEUE_NAME.
"""

import base64
import json
import os
import random
import signal
import threading
import urllib.parse

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

WORKERS = 4
MAX_DEQUEUE_COUNT = 5
stopping = threading.Event()


def notification_of(text):
    """The notification a message holds (plain or base64 JSON), or None."""
    for decode in (lambda t: t, lambda t: base64.b64decode(t, validate=True).decode("utf-8")):
        try:
            value = json.loads(decode(text))
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("type"), str) and isinstance(value.get("Content"), dict):
            return value
    return None


class Pool:
    def __init__(self):
        connection = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
        name = os.environ.get("CVNOTIFY_QUEUE_NAME", "notifications")
        self.account = dict(kv.split("=", 1) for kv in connection.split(";") if "=" in kv).get("AccountName", "")
        self.queue = QueueClient.from_connection_string(connection, name)
        self.poison = QueueClient.from_connection_string(connection, name + "-poison")
        self.blobs = BlobServiceClient.from_connection_string(connection)

    def download(self, model_uri):
        parts = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(model_uri).path.split("/") if p]
        if parts and parts[0] == self.account:
            parts = parts[1:]
        return self.blobs.get_blob_client(parts[0], "/".join(parts[1:])).download_blob().readall()

    def handle(self, message):
        notification = notification_of(message.content)
        if notification is None:
            if message.dequeue_count >= MAX_DEQUEUE_COUNT:
                try:
                    self.poison.create_queue()
                except ResourceExistsError:
                    pass
                self.poison.send_message(message.content)
                self.queue.delete_message(message)
            return
        content = notification["Content"]
        if notification["type"] == "Export" and content.get("exportStatus") == "ExportCompleted":
            data = self.download(content["modelUri"])
            print(f"{threading.current_thread().name}: backup of {len(data)} bytes", flush=True)
        self.queue.delete_message(message)

    def worker(self):
        idle = 0.1
        while not stopping.is_set():
            try:
                messages = list(self.queue.receive_messages(max_messages=4))
                for message in messages:
                    self.handle(message)
            except AzureError as e:
                print(f"{threading.current_thread().name}: {e.__class__.__name__}; trying again", flush=True)
                messages = []
                stopping.wait(2)
            if messages:
                idle = 0.1
            else:
                stopping.wait(idle * random.uniform(0.5, 1.5))
                idle = min(idle * 2, 5.0)


def main():
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    pool = Pool()
    threads = [threading.Thread(target=pool.worker, name=f"worker-{k}") for k in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
