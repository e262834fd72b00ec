"""The peer consumer for scripts/bench-watch: the official azure-storage-queue SDK, receiving
pages of 32, json.loads on each message, deleting each. Prints `messages seconds`."""
import json
import sys
import time

from azure.storage.queue import QueueClient

conn, name = sys.argv[1], sys.argv[2]
# Azurite 3.35 refuses x-ms-version newer than 2025-11-05 (docs/protocol.md §2; Azurite refuses versions newer than it knows).
queue = QueueClient.from_connection_string(conn, name, api_version="2025-11-05")
done = 0
started = time.perf_counter()
while True:
    page = 0
    for message in queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=30):
        json.loads(message.content)
        queue.delete_message(message)
        page += 1
    done += page
    if page == 0:
        break
print(done, f"{time.perf_counter() - started:.3f}")
