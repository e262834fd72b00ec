"""The simplest correct consumer of the Custom Vision storage integration, written the way
Microsoft's queue quickstart writes one: the official SDKs (azure-storage-queue,
azure-storage-blob) with every setting at its default (retry policy, visibility timeout, message
encoding policies), one loop that receives, acts and deletes.

    cvnotify verify --duty fetch-backups -- python3 examples/python/default_consumer.py

It reads a notification whether it is plain or base64 JSON, downloads the backup an
ExportCompleted's modelUri names, deletes each message it handled, leaves a message it cannot
read for redelivery and moves it, as it is, to `<queue>-poison` on its fifth delivery, backs off
while the queue is empty, and stops on SIGTERM. Errors the SDK does not retry itself (a 429, a
reset connection) are logged and the loop goes on after a pause.

Configuration: AZURE_STORAGE_CONNECTION_STRING and CVNOTIFY_QUEUE_NAME.
"""

import base64
import json
import os
import signal
import threading
import urllib.parse

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

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


def main():
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    connection = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
    name = os.environ.get("CVNOTIFY_QUEUE_NAME", "notifications")
    account = dict(kv.split("=", 1) for kv in connection.split(";") if "=" in kv).get("AccountName", "")
    queue = QueueClient.from_connection_string(connection, name)
    poison = QueueClient.from_connection_string(connection, name + "-poison")
    blobs = BlobServiceClient.from_connection_string(connection)
    idle = 0.1
    while not stopping.is_set():
        try:
            handled = 0
            for message in queue.receive_messages(max_messages=16):
                notification = notification_of(message.content)
                if notification is None:
                    if message.dequeue_count >= MAX_DEQUEUE_COUNT:
                        try:
                            poison.create_queue()
                        except ResourceExistsError:
                            pass
                        poison.send_message(message.content)
                        queue.delete_message(message)
                    continue
                content = notification["Content"]
                if notification["type"] == "Export" and content.get("exportStatus") == "ExportCompleted":
                    parts = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(content["modelUri"]).path.split("/") if p]
                    if parts and parts[0] == account:
                        parts = parts[1:]
                    data = blobs.get_blob_client(parts[0], "/".join(parts[1:])).download_blob().readall()
                    print(f"downloaded {len(data)} bytes of {parts[-1]}", flush=True)
                queue.delete_message(message)
                handled += 1
            idle = 0.1 if handled else min(idle * 2, 5.0)
            stopping.wait(0 if handled else idle)
        except AzureError as e:
            print(f"storage error, trying again shortly: {e.__class__.__name__}", flush=True)
            stopping.wait(2)


if __name__ == "__main__":
    main()
