"""The storage operations a Custom Vision integration and its tests make, through the official
Python SDKs (azure-storage-queue, azure-storage-blob), against one storage account given by a
connection string. Prints one JSON line per step: what the SDK returned or the error it raised,
without ids, receipts, ETags or times. tests/e2e/sdk.rs runs it against Azurite and against the
simulation and requires the same lines.

usage: python storage.py CONNECTION_STRING
"""

import json
import sys
import time

from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobClient, BlobServiceClient, ContentSettings
from azure.storage.queue import QueueServiceClient


LEASE_A = "7c2d3a10-0000-4000-8000-00000000000a"
LEASE_B = "7c2d3a10-0000-4000-8000-00000000000b"


def out(step, value):
    print(json.dumps({"step": step, "value": value}, sort_keys=True), flush=True)


def attempt(step, action):
    """Runs `action`; prints its value, or the error's type, status and code."""
    try:
        value = action()
    except HttpResponseError as e:
        value = {"error": type(e).__name__, "status": e.status_code, "code": e.error_code}
    out(step, value)


def messages(items):
    return [{"content": m.content, "dequeue_count": m.dequeue_count} for m in items]


def queue_steps(service):
    attempt("create queue", lambda: service.create_queue("sdkq1") is not None)
    attempt("create queue again", lambda: service.create_queue("sdkq1") is not None)
    attempt("create queue with metadata", lambda: service.create_queue("sdkq2", metadata={"owner": "cv"}) is not None)
    attempt("create queue, bad name", lambda: service.create_queue("Bad_Name") is not None)
    attempt("list queues", lambda: sorted(q.name for q in service.list_queues(name_starts_with="sdk")))
    attempt(
        "list queues with metadata, one per page",
        lambda: [
            (q.name, q.metadata)
            for page in service.list_queues(name_starts_with="sdk", include_metadata=True, results_per_page=1).by_page()
            for q in page
        ],
    )
    q = service.get_queue_client("sdkq1")
    attempt("set metadata", lambda: q.set_queue_metadata({"stage": "test"}) is not None)
    attempt("properties", lambda: (q.get_queue_properties().metadata, q.get_queue_properties().approximate_message_count))
    for text in ['{"version":"1.0","type":"ConnectionTest","Content":{}}', "second <&>", "third\r\nline"]:
        attempt("send " + text[:6], lambda text=text: q.send_message(text).content)
    attempt("send, hidden", lambda: q.send_message("later", visibility_timeout=60).content)
    attempt("send, forever", lambda: q.send_message("forever", time_to_live=-1).content)
    attempt("send, too large", lambda: q.send_message("x" * 70000).content)
    attempt("peek", lambda: messages(q.peek_messages(max_messages=32)))
    attempt("count", lambda: q.get_queue_properties().approximate_message_count)
    page = next(q.receive_messages(messages_per_page=2, visibility_timeout=30).by_page())
    got = list(page)
    out("receive two", messages(got))
    first = got[0]
    attempt("update", lambda: q.update_message(first, content="updated", visibility_timeout=0).content)
    attempt("update with the old receipt", lambda: q.update_message(first.id, first.pop_receipt, content="stale").content)
    attempt("receive after update", lambda: messages(q.receive_messages(max_messages=32, visibility_timeout=1)))
    time.sleep(1.5)
    again = list(q.receive_messages(max_messages=32, visibility_timeout=30))
    out("receive after the visibility timeout", messages(again))
    for m in again:
        attempt("delete " + m.content[:6], lambda m=m: q.delete_message(m) is None)
    attempt("delete again", lambda: q.delete_message(again[0]) is None)
    attempt("peek after delete", lambda: messages(q.peek_messages(max_messages=32)))
    attempt("clear", lambda: q.clear_messages() is None)
    attempt("peek after clear", lambda: messages(q.peek_messages(max_messages=32)))
    missing = service.get_queue_client("sdk-none")
    attempt("receive, no such queue", lambda: messages(missing.receive_messages()))
    attempt("properties, no such queue", lambda: missing.get_queue_properties().name)
    attempt("delete queue", lambda: service.delete_queue("sdkq2") is None)
    attempt("delete queue again", lambda: service.delete_queue("sdkq2") is None)
    attempt("list queues at the end", lambda: sorted(q.name for q in service.list_queues(name_starts_with="sdk")))


def blob_steps(service):
    attempt("create container", lambda: service.create_container("sdkc1") is not None)
    attempt("create container again", lambda: service.create_container("sdkc1") is not None)
    attempt("create container with metadata", lambda: service.create_container("sdkc2", metadata={"kind": "backups"}) is not None)
    c = service.get_container_client("sdkc1")
    attempt("container exists", c.exists)
    attempt("container exists, none", service.get_container_client("sdk-none").exists)
    attempt("container metadata", lambda: service.get_container_client("sdkc2").get_container_properties().metadata)
    attempt("list containers", lambda: sorted(x.name for x in service.list_containers(name_starts_with="sdk")))
    attempt(
        "list containers with metadata, one per page",
        lambda: [
            (x.name, x.metadata)
            for page in service.list_containers(name_starts_with="sdk", include_metadata=True, results_per_page=1).by_page()
            for x in page
        ],
    )
    text = ContentSettings(content_type="text/plain")
    attempt("upload", lambda: c.upload_blob("a.txt", b"hello world", content_settings=text) is not None)
    attempt("upload again", lambda: c.upload_blob("a.txt", b"again") is not None)
    attempt("upload, overwrite", lambda: c.upload_blob("a.txt", b"hello again", overwrite=True, content_settings=text) is not None)
    attempt("upload test blob", lambda: c.upload_blob("CustomVision-TestPermission/probe", b"test") is not None)
    attempt("upload backup", lambda: c.upload_blob("p - i.ONNX", bytes(range(256)) * 4) is not None)
    attempt("upload empty", lambda: c.upload_blob("empty", b"") is not None)
    attempt("list blobs", lambda: [(b.name, b.size) for b in c.list_blobs()])
    attempt("list blobs by prefix", lambda: [b.name for b in c.list_blobs(name_starts_with="CustomVision-TestPermission/")])
    attempt("walk blobs", lambda: [b.name for b in c.walk_blobs(delimiter="/")])
    attempt("list blobs, one per page", lambda: [b.name for page in c.list_blobs(results_per_page=1).by_page() for b in page])
    attempt("download", lambda: c.download_blob("a.txt").readall().decode())
    attempt("download a range", lambda: c.download_blob("a.txt", offset=6, length=5).readall().decode())
    attempt("download backup", lambda: len(c.download_blob("p - i.ONNX").readall()))
    attempt("download empty", lambda: c.download_blob("empty").readall().decode())
    attempt("download to a stream", lambda: c.get_blob_client("a.txt").download_blob(max_concurrency=2).readall().decode())

    def properties():
        p = c.get_blob_client("a.txt").get_blob_properties()
        return {
            "size": p.size,
            "type": p.blob_type,
            "content_type": p.content_settings.content_type,
            "md5": bool(p.content_settings.content_md5),
            "etag": bool(p.etag),
            "lease": p.lease.state,
        }

    attempt("properties", properties)

    # Leases, as a team's own tests use them (a model registry that locks a blob while it
    # writes), with the SDK's lease client.
    leased = c.get_blob_client("leased.txt")
    attempt("upload a blob to lease", lambda: leased.upload_blob(b"leased") is not None)
    lease = {}
    attempt("acquire lease", lambda: lease.setdefault("l", leased.acquire_lease(lease_duration=15, lease_id=LEASE_A)).id)
    attempt("upload, leased, without the lease", lambda: leased.upload_blob(b"x", overwrite=True) is not None)
    attempt("upload, leased, with the lease", lambda: leased.upload_blob(b"y", overwrite=True, lease=LEASE_A) is not None)
    attempt("lease properties", lambda: (lambda p: [p.lease.state, p.lease.status, p.lease.duration])(leased.get_blob_properties()))
    attempt("delete, leased", lambda: leased.delete_blob() is None)
    attempt("renew lease", lambda: lease["l"].renew() is None)
    attempt("change lease", lambda: (lease["l"].change(LEASE_B), lease["l"].id)[1])
    attempt("break lease", lambda: lease["l"].break_lease(lease_break_period=0))
    attempt("release lease, broken", lambda: lease["l"].release() is None)
    attempt("delete, lease released", lambda: leased.delete_blob() is None)

    # Metadata names keep their case, both ways; a copy within the account; public read access.
    meta = c.get_blob_client("meta.txt")
    attempt("upload with mixed-case metadata", lambda: meta.upload_blob(b"m", metadata={"MixedCase": "Yes"}) is not None)
    attempt("mixed-case metadata", lambda: meta.get_blob_properties().metadata)
    attempt("list blobs, mixed-case metadata", lambda: [(x.name, x.metadata) for x in c.list_blobs(name_starts_with="meta", include=["metadata"])])
    copy = c.get_blob_client("copy.ONNX")
    attempt("copy the backup", lambda: copy.start_copy_from_url(c.get_blob_client("p - i.ONNX").url)["copy_status"])
    attempt("download the copy", lambda: len(copy.download_blob().readall()))
    attempt("copy a blob that is not there", lambda: copy.start_copy_from_url(c.get_blob_client("nothing").url)["copy_status"])
    attempt("create a public container", lambda: service.create_container("sdkpublic", public_access="container") is not None)
    public = service.get_container_client("sdkpublic")
    attempt("public access", lambda: public.get_container_properties().public_access)
    attempt("upload to the public container", lambda: public.upload_blob("model.onnx", b"model") is not None)
    anonymous = BlobClient.from_blob_url(public.get_blob_client("model.onnx").url.split("?")[0])
    attempt("anonymous download", lambda: anonymous.download_blob().readall().decode())
    attempt("delete the public container", lambda: service.delete_container("sdkpublic") is None)
    attempt("exists", c.get_blob_client("a.txt").exists)
    attempt("exists, none", c.get_blob_client("none").exists)
    attempt("download, none", lambda: c.download_blob("none").readall())
    attempt("delete blob", lambda: c.delete_blob("a.txt") is None)
    attempt("delete blob again", lambda: c.delete_blob("a.txt") is None)
    attempt("delete container", lambda: service.delete_container("sdkc2") is None)
    attempt("delete container again", lambda: service.delete_container("sdkc2") is None)
    attempt("list containers at the end", lambda: sorted(x.name for x in service.list_containers(name_starts_with="sdk")))


def main():
    connection = sys.argv[1]
    queue_steps(QueueServiceClient.from_connection_string(connection))
    blob_steps(BlobServiceClient.from_connection_string(connection))


if __name__ == "__main__":
    main()
