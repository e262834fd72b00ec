#!/usr/bin/env python3
"""Writes corpus/sessions/: recorded sessions in the recording format, one file each.

The file name is the verdict: y_ must PASS, i_ must be NON-STRICT (deviations or warnings
only), n_ must FAIL. The files are the source of truth; this script documents how they were
made, and scripts/test checks that it still writes exactly them. Usage:
    scripts/make-session-corpus.py [OUTPUT_DIR]      (default: corpus/sessions)
"""
import base64
import json
import os
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "corpus", "sessions")
CONTAINER = "https://cvbackup.blob.core.windows.net/backups"
QUEUE = "https://cvbackup.queue.core.windows.net/notifications"
P = ["0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b", "2a6b3c7d-4e8f-4a9b-8c0d-1e2f3a4b5c6d", "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"]
I = ["1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b", "3c4d5e6f-7081-4920-8b1c-2d3e4f5a6b7c", "5e6f7081-9203-4b4c-8d5e-6f708192a3b4"]
BASE = 1_767_258_000  # 2026-01-01T09:00:00Z


def at(seconds):
    s = BASE + seconds
    import datetime
    return datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Session:
    """One recording. Version 2 (the default) starts with a session line that says when the run
    started, and ends with an end line saying how it ended (end=None leaves it out: a run that
    crashed)."""

    def __init__(self, sources=("queue", "training-api", "container"), version=2, scope=None):
        self.t = 0
        self.msg = 0
        self.version = version
        self.lines = []
        self.end = ("completed", None)
        self.start_run(sources, scope)

    def start_run(self, sources=("queue", "training-api", "container"), scope=None):
        line = {"kind": "session", "version": self.version, "sources": list(sources)}
        if self.version >= 2:
            line["at"] = at(self.t)
        if scope:
            line["scope"] = scope
        return self.raw(line)

    def end_run(self, outcome="completed", reason=None, seconds=1):
        line = {"kind": "end", "at": self.step(seconds), "outcome": outcome}
        if reason:
            line["reason"] = reason
        return self.raw(line)

    def step(self, seconds=5):
        self.t += seconds
        return at(self.t)

    def raw(self, line):
        self.lines.append(line)
        return self

    def api(self, operation, p, seconds=5, **fields):
        line = {"kind": "api", "at": self.step(seconds), "operation": operation, "projectId": p, "httpStatus": 200}
        line.update(fields)
        return self.raw(line)

    def message(self, obj, b64=False, seconds=5, dequeue=1, message_id=None, at_override=None):
        self.msg += 1
        text = json.dumps(obj, separators=(",", ":"))
        if b64:
            text = base64.b64encode(text.encode()).decode()
        mid = message_id or "00000000-0000-4000-8000-%012d" % self.msg
        t = at(at_override) if at_override is not None else self.step(seconds)
        return self.raw({"kind": "message", "at": t, "queue": "notifications", "messageId": mid,
                         "dequeueCount": dequeue, "messageText": text})

    def blob(self, name, seconds=5, event="created"):
        line = {"kind": "blob", "at": self.step(seconds), "container": "backups", "event": event, "name": name}
        if event == "created":
            line["size"] = 4200000
        return self.raw(line)

    def tick(self, seconds):
        return self.raw({"kind": "tick", "at": self.step(seconds)})

    # ---- building blocks of the documented lifecycle ----
    def configure(self, p, container=True):
        fields = {"notificationQueueUri": QUEUE}
        if container:
            fields["exportModelContainerUri"] = CONTAINER
        return self.api("CreateProject", p, **fields)

    def connection_test(self, p, b64=False):
        return self.message({"version": "1.0", "type": "ConnectionTest", "Content": {"projectId": p}}, b64)

    def train(self, p, i):
        self.api("TrainProject", p, iterationId=i)
        return self.api("GetIteration", p, iterationId=i, iterationStatus="Training")

    def trained(self, p, i, status="TrainingCompleted", b64=False, **kw):
        return self.message({"version": "1.0", "type": "Training",
                             "Content": {"projectId": p, "iterationId": i, "trainingStatus": status}}, b64, **kw)

    def exported(self, p, i, platform, status="ExportCompleted", uri=None, b64=False, **kw):
        if uri is None and status == "ExportCompleted":
            uri = f"{CONTAINER}/{p}%20-%20{i}.{platform}"
        return self.message({"version": "1.0", "type": "Export",
                             "Content": {"projectId": p, "iterationId": i, "exportStatus": status, "modelUri": uri}}, b64, **kw)

    def export(self, p, i, platform, with_blob=True, b64=False):
        self.api("ExportIteration", p, iterationId=i, platform=platform)
        self.exported(p, i, platform, b64=b64)
        if with_blob:
            self.blob(f"{p} - {i}.{platform}")
        return self.api("GetExports", p, iterationId=i, exports=[{"platform": platform, "status": "Done"}])

    def happy(self, p, i, b64=False):
        self.configure(p).connection_test(p, b64).train(p, i).trained(p, i, b64=b64)
        self.api("GetIteration", p, iterationId=i, iterationStatus="Completed")
        self.export(p, i, "ONNX", b64=b64)
        return self.export(p, i, "CoreML", b64=b64)

    def text(self):
        lines = list(self.lines)
        if self.version >= 2 and self.end is not None:
            outcome, reason = self.end
            line = {"kind": "end", "at": at(self.t + 1), "outcome": outcome}
            if reason:
                line["reason"] = reason
            lines.append(line)
        return "".join(json.dumps(l, separators=(",", ":")) + "\n" for l in lines)


sessions = {}

s = Session(); s.happy(P[0], I[0]).tick(3600); sessions["y_happy_path"] = s
s = Session(); s.configure(P[0]).connection_test(P[0]).train(P[0], I[0]).trained(P[0], I[0], "TrainingFailed")
s.api("GetIteration", P[0], iterationId=I[0], iterationStatus="Failed").tick(3600); sessions["y_training_failed"] = s
s = Session(); s.configure(P[0]).connection_test(P[0]).train(P[0], I[0]).trained(P[0], I[0])
s.api("ExportIteration", P[0], iterationId=I[0], platform="VAIDK").exported(P[0], I[0], "VAIDK", "ExportFailed")
s.api("GetExports", P[0], iterationId=I[0], exports=[{"platform": "VAIDK", "status": "Failed"}]).tick(3600)
sessions["y_export_failed"] = s
s = Session(); s.configure(P[0]).connection_test(P[0]).train(P[0], I[0]).trained(P[0], I[0], message_id="11111111-0000-4000-8000-000000000001")
s.trained(P[0], I[0], message_id="11111111-0000-4000-8000-000000000001", dequeue=2)
s.export(P[0], I[0], "ONNX"); s.exported(P[0], I[0], "ONNX"); s.tick(3600); sessions["y_duplicates"] = s
# The queue handed the messages out of order: the Export line comes before the Training line,
# but their insertion times (at) are in lifecycle order.
s = Session(); s.configure(P[0]).connection_test(P[0]).train(P[0], I[0])
s.api("ExportIteration", P[0], iterationId=I[0], platform="ONNX", seconds=60)
s.exported(P[0], I[0], "ONNX", at_override=s.t + 30)
s.trained(P[0], I[0], at_override=s.t + 10)
s.t += 40; s.blob(f"{P[0]} - {I[0]}.ONNX").tick(3600); sessions["y_queue_reordering"] = s
s = Session(); s.configure(P[0]).connection_test(P[0]).train(P[0], I[0])
s.exported(P[0], I[0], "ONNX").blob(f"{P[0]} - {I[0]}.ONNX").trained(P[0], I[0]).tick(3600)
sessions["n_export_before_training"] = s
s = Session(); s.configure(P[0]).tick(600); sessions["n_connection_test_missing"] = s
s = Session(); s.configure(P[0]).connection_test(P[0]).train(P[0], I[0]).trained(P[0], I[0])
s.api("ExportIteration", P[0], iterationId=I[0], platform="ONNX").exported(P[0], I[0], "ONNX").tick(1800)
sessions["n_backup_blob_missing"] = s
s = Session(); s.configure(P[0]).connection_test(P[0]).trained(P[0], I[1]).tick(3600); sessions["i_training_from_portal"] = s
s = Session()
for k in range(3):
    s.configure(P[k])
for k in range(3):
    s.connection_test(P[k])
for k in range(3):
    s.train(P[k], I[k])
for k in range(3):
    s.trained(P[k], I[k])
for k in range(3):
    s.export(P[k], I[k], "TensorFlow")
s.tick(3600); sessions["y_several_projects_interleaved"] = s
s = Session(); s.configure(P[0]).connection_test(P[0], b64=True).train(P[0], I[0]).trained(P[0], I[0])
s.api("ExportIteration", P[0], iterationId=I[0], platform="ONNX").exported(P[0], I[0], "ONNX", b64=True)
s.blob(f"{P[0]} - {I[0]}.ONNX").tick(3600); sessions["y_base64_and_plain_mixed"] = s
s = Session(); s.configure(P[0]).connection_test(P[0]).train(P[0], I[0]).trained(P[0], I[0])
s.api("ExportIteration", P[0], iterationId=I[0], platform="ONNX")
s.exported(P[0], I[0], "ONNX", uri=f"https://elsewhere.example.net/backups/{P[0]}%20-%20{I[0]}.ONNX")
s.blob(f"{P[0]} - {I[0]}.ONNX").tick(3600); sessions["n_model_uri_outside_container"] = s
s = Session(); s.configure(P[0])
s.message({"version": "1.0", "type": "ConnectionTest", "content": {"projectId": P[0]}}).tick(3600)
sessions["i_message_with_deviation"] = s
s = Session(); s.configure(P[0]).connection_test(P[0])
s.raw("this line is not JSON")
s.message({"version": "1.0", "type": "Training", "Content": {"projectId": P[0], "iterationId": "{" + I[0] + "}", "trainingStatus": "TrainingCompleted"}})
s.tick(60); sessions["n_unreadable_and_rejected_lines"] = s
s = Session(); s.configure(P[0]).connection_test(P[0])
s.raw({"kind": "api", "at": s.step(), "operation": "UpdateProject", "projectId": P[0], "httpStatus": 200,
       "notificationQueueUri": QUEUE + "?sv=2021-08-06&sp=raup&sig=NOT-REDACTED-FAKE%3D"})
s.tick(60); sessions["n_secret_in_recording"] = s
s = Session(sources=("queue",)); s.connection_test(P[0]).trained(P[0], I[0]).exported(P[0], I[0], "ONNX").tick(86400)
sessions["y_queue_only"] = s

# ---- issue 12: runs, empty runs, ties, lateness, an unobservable API, scope ----
# A version 1 recording (no end lines) still reads and passes.
s = Session(version=1); s.happy(P[0], I[0]).tick(3600); sessions["y_version_1_recording"] = s
# A run that crashed: no end line.
s = Session(); s.happy(P[0], I[0]).tick(3600); s.end = None; sessions["n_run_without_end"] = s
# A check whose TrainProject got a 503 without a CustomVisionError: the call is recorded, the
# API was not observed, and the run aborted.
s = Session(scope="created"); s.configure(P[0]).connection_test(P[0])
s.api("TrainProject", P[0], httpStatus=503)
s.end = ("aborted", "TrainProject: the training API answered 503 Service Unavailable")
sessions["n_run_aborted"] = s
# A watch that crashed, restarted, and finished the work: a warning, nothing lost.
s = Session(sources=("queue",)); s.connection_test(P[0]).trained(P[0], I[0])
s.start_run(sources=("queue",)); s.exported(P[0], I[0], "ONNX").tick(60)
sessions["i_watch_restarted"] = s
# A run that judged nothing is not a pass.
s = Session(sources=("queue",)); s.tick(60); sessions["n_nothing_judged"] = s
# watch --training-endpoint with a key the gateway refuses: GetIteration is not observed.
s = Session(sources=("queue", "polling")); s.connection_test(P[0]).trained(P[0], I[0])
s.api("GetIteration", P[0], iterationId=I[0], httpStatus=401, errorCode="401").tick(60)
sessions["n_training_api_unavailable"] = s
# The Export and Training notifications in the same second, the Export line first: queue times
# have one-second resolution, and the lifecycle's order decides the tie.
s = Session(); s.configure(P[0]).connection_test(P[0]).train(P[0], I[0])
s.api("ExportIteration", P[0], iterationId=I[0], platform="ONNX")
s.exported(P[0], I[0], "ONNX", at_override=s.t + 10)
s.trained(P[0], I[0], at_override=s.t + 10)
s.t += 20; s.blob(f"{P[0]} - {I[0]}.ONNX").tick(3600); sessions["y_equal_times"] = s
# A connection test 33 minutes after the configuration (the deadline is 5): late, a warning.
s = Session(); s.configure(P[0]).tick(33 * 60).connection_test(P[0]).tick(60)
sessions["i_connection_test_late"] = s
# A check on a container used before: another project's backup blob is information.
s = Session(scope="created"); s.happy(P[0], I[0]).blob(f"{P[1]} - {I[1]}.ONNX").tick(3600)
sessions["y_check_foreign_blob"] = s


class Journal(Session):
    """A client's journal (version 3): what the simulation delivered and every request the
    client made, as `cvnotify verify` and `simulate --record` write it."""

    def __init__(self, scenario="happy", duties=("fetch-backups",)):
        self.t = 0
        self.msg = 0
        self.version = 3
        self.lines = []
        self.end = ("completed", None)
        line = {"kind": "session", "version": 3, "sources": [], "at": at(0), "scenario": scenario}
        if duties:
            line["duties"] = list(duties)
        self.raw(line)
        self.raw({"kind": "client", "at": at(0), "action": "started", "program": "python3"})

    def deliver(self, kind, blob=None, cls="notification"):
        self.msg += 1
        mid = "00000000-0003-4000-8000-%012d" % self.msg
        line = {"kind": "delivered", "at": self.step(1), "queue": "notifications", "messageId": mid,
                "class": cls, "digest": "%016x" % (self.msg * 7919)}
        if kind:
            line["notificationType"] = kind
            line["projectId"] = P[0]
        if blob:
            line["blob"] = blob
        self.raw(line)
        return mid

    def request(self, service, call, status=200, **fields):
        line = {"kind": "request", "at": self.step(1), "service": service, "call": call, "httpStatus": status, "ms": 1}
        line.update(fields)
        return self.raw(line)

    def receive(self, *mids):
        received = [{"messageId": m, "popReceipt": "receipt-" + m[-3:], "dequeueCount": 1} for m in mids]
        return self.request("queue", "GetMessages", queue="notifications", received=received, visibilityTimeout=30)

    def delete(self, mid, status=204, receipt=None):
        return self.request("queue", "DeleteMessage", status, queue="notifications", messageId=mid,
                            popReceipt=receipt or "receipt-" + mid[-3:])

    def stopped(self):
        return self.raw({"kind": "client", "at": self.step(1), "action": "stopped"})


BACKUP = f"{P[0]} - {I[0]}.ONNX"
# A consumer that receives, fetches the announced backup and deletes: a client PASS.
s = Journal(); a = s.deliver("ConnectionTest"); s.receive(a).delete(a)
b = s.deliver("Training"); c = s.deliver("Export", blob="backups/" + BACKUP)
s.receive(b, c).delete(b).request("blob", "GetBlob", 206, container="backups", blob=BACKUP, range="bytes=0-33554431")
s.delete(c).receive().stopped(); sessions["y_client_journal"] = s
# A consumer that deletes a message it only peeked and leaves a notification behind.
s = Journal(duties=()); a = s.deliver("ConnectionTest"); s.request("queue", "PeekMessages", queue="notifications")
s.delete(a, 400, receipt="made-up"); b = s.deliver("Training"); s.receive(a, b).delete(a).receive().stopped()
sessions["n_client_journal_not_deleted"] = s

os.makedirs(OUT, exist_ok=True)
for name, session in sorted(sessions.items()):
    text = session.text().replace('"this line is not JSON"', "this line is not JSON")
    with open(os.path.join(OUT, name + ".jsonl"), "w") as f:
        f.write(text)
print(f"{len(sessions)} sessions: " + ", ".join(f"{sum(1 for n in sessions if n.startswith(p))} {p}" for p in ("y_", "i_", "n_")))
