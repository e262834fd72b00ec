"""A consumer written as an Azure Functions queue trigger is: a handler that gets one message's
text and raises when it cannot finish, run by a small host that does what the Functions host
does with the official SDK (azure-storage-queue, azure-storage-blob) at its defaults:

- it receives up to 16 messages at a time with a 10-minute visibility timeout and runs the
  handler on each;
- when the handler returns, the message is deleted; when it raises, the message is released at
  once (Update Message with a visibility timeout of 0) for another try;
- a message on its fifth delivery that still fails is moved to `<queue>-poison`, base64-encoded
  as the Functions host writes it (the SDK's TextBase64EncodePolicy), then deleted;
- an idle queue is polled with a random exponential back-off up to one minute.

    cvnotify verify --duty fetch-backups -- python3 examples/python/functions_handler.py

`handle` is the code a team writes; everything below it stands in for the Functions host.
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
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

CONNECTION = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
ACCOUNT = dict(kv.split("=", 1) for kv in CONNECTION.split(";") if "=" in kv).get("AccountName", "")
blobs = BlobServiceClient.from_connection_string(CONNECTION)


# The function.


def handle(text):
    """Acts on one notification; raises when the message is not one (the host retries, then
    poisons it) or when the work fails (the host retries)."""
    try:
        notification = json.loads(text)
    except ValueError:
        notification = json.loads(base64.b64decode(text, validate=True).decode("utf-8"))
    kind, content = notification["type"], notification["Content"]
    if kind == "Export" and content["exportStatus"] == "ExportCompleted":
        path = urllib.parse.urlsplit(content["modelUri"]).path
        parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
        if parts[0] == ACCOUNT:
            parts = parts[1:]
        data = blobs.get_blob_client(parts[0], "/".join(parts[1:])).download_blob().readall()
        print(f"model backup {parts[-1]}: {len(data)} bytes", flush=True)
    else:
        print(f"{kind} for project {content.get('projectId')}", flush=True)


# The host.

MAX_DEQUEUE_COUNT = 5
BATCH = 16
VISIBILITY = 600
MAX_POLLING_INTERVAL = 60.0
stopping = threading.Event()


def main():
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    name = os.environ.get("CVNOTIFY_QUEUE_NAME", "notifications")
    queue = QueueClient.from_connection_string(CONNECTION, name)
    poison = QueueClient.from_connection_string(
        CONNECTION, name + "-poison", message_encode_policy=TextBase64EncodePolicy()
    )
    delay = 0.1
    while not stopping.is_set():
        try:
            messages = list(queue.receive_messages(messages_per_page=BATCH, max_messages=BATCH, visibility_timeout=VISIBILITY))
        except AzureError as e:
            print(f"receive failed: {e.__class__.__name__}", flush=True)
            messages = []
        for message in messages:
            try:
                handle(message.content)
                queue.delete_message(message)
            except Exception as e:  # noqa: BLE001 - the host catches whatever the function raises
                print(f"the function failed on {message.id} (try {message.dequeue_count}): {e!r}", flush=True)
                try:
                    if message.dequeue_count >= MAX_DEQUEUE_COUNT:
                        try:
                            poison.create_queue()
                        except ResourceExistsError:
                            pass
                        poison.send_message(message.content)
                        queue.delete_message(message)
                    else:
                        queue.update_message(message, visibility_timeout=0)
                except AzureError as e2:
                    print(f"could not release {message.id}: {e2.__class__.__name__}", flush=True)
        if messages:
            delay = 0.1
        else:
            stopping.wait(random.uniform(0.5, 1.0) * delay)
            delay = min(delay * 2, MAX_POLLING_INTERVAL)


if __name__ == "__main__":
    main()
