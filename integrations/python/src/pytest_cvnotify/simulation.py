"""The cvnotify simulation as a Python object: start, drive the service's side, judge, stop.

Everything goes through the `cvnotify` binary and the simulation's HTTP endpoints (the standard
library's urllib only): no Azure SDK is needed to drive it, and the code under test uses
whichever SDK it uses, unchanged.
"""

import base64
import dataclasses
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

#: The compact domain ("General (compact)"): a project in it can be exported.
EXPORTABLE_DOMAIN = "0732100f-1a38-4e49-a514-c9b44c697ab5"
#: The training API version the helpers call (storage options in the query, as the
#: storage-integration article writes them).
API = "customvision/v3.3/Training"
#: How long to wait for the simulation to start, and for each of its answers.
START_SECONDS = 30
ANSWER_SECONDS = 30


class SimulationError(RuntimeError):
    """The simulation could not be started, or refused what a helper asked."""


@dataclasses.dataclass(frozen=True)
class Finding:
    """One finding of cvnotify's judgement: its code (`notification-not-deleted`), severity,
    what it means, and the first examples' details."""

    code: str
    severity: str
    summary: str
    details: tuple

    def __str__(self):
        first = f": {self.details[0]}" if self.details else ""
        return f"{self.severity} {self.code}{first}"


@dataclasses.dataclass(frozen=True)
class Judgement:
    """cvnotify's verdict on what the client did (`PASS`, `NON-STRICT`, `FAIL`, ...) and its
    findings, with the full JSON report."""

    verdict: str
    findings: tuple
    report: dict

    @property
    def passed(self):
        return self.verdict == "PASS"

    def codes(self):
        return [f.code for f in self.findings]

    def __str__(self):
        lines = [f"cvnotify: {self.verdict}"]
        lines += [f"  {f}" for f in self.findings]
        return "\n".join(lines)


def find_binary(given=None):
    """The cvnotify binary: `given`, else $CVNOTIFY_BIN, else `cvnotify` on PATH."""
    candidate = given or os.environ.get("CVNOTIFY_BIN") or shutil.which("cvnotify")
    if not candidate or not os.access(candidate, os.X_OK):
        raise SimulationError(
            "cvnotify is not found: put it on PATH, set CVNOTIFY_BIN, or pass --cvnotify-bin "
            "(build it with `cargo build --release -p cvnotify-harness`)"
        )
    return candidate


class Simulation:
    """A running `cvnotify simulate` on loopback, with its journal recorded.

    Use it as a context manager, or call `start()` and `stop()`. Its attributes are what the
    simulation prints on start: `connection_string`, `training_endpoint`, `training_key`,
    `notification_queue_uri`, `export_model_container_uri`, `queue_url`, `container_url`
    (with an account SAS), `blob_endpoint`, `queue_endpoint`, `account_name`, `account_key`,
    and `queue_name` and `container_name`, the simulation's own queue and container.
    """

    queue_name = "notifications"
    container_name = "backups"

    def __init__(self, binary=None, duties=(), encoding="plain", extra_args=()):
        self.binary = find_binary(binary)
        self.duties = tuple(duties)
        self.encoding = encoding
        self.extra_args = tuple(extra_args)
        self._dir = None
        self._process = None
        self._judgement = None
        self.journal_path = None
        self.endpoints = {}

    # Starting and stopping.

    def start(self):
        self._dir = tempfile.TemporaryDirectory(prefix="cvnotify-pytest-")
        self.journal_path = os.path.join(self._dir.name, "journal.jsonl")
        command = [self.binary, "simulate", "--record", self.journal_path, "--encoding", self.encoding]
        for duty in self.duties:
            command += ["--duty", duty]
        command += list(self.extra_args)
        # Its own process group: stopped whole, whatever happens to the test.
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        ready, _, _ = select.select([self._process.stdout], [], [], START_SECONDS)
        line = self._process.stdout.readline() if ready else b""
        if not line:
            self._kill()
            stderr = self._process.stderr.read().decode(errors="replace").strip()
            raise SimulationError(f"cvnotify simulate did not start within {START_SECONDS} s: {stderr}")
        self.endpoints = json.loads(line)
        return self

    def stop(self):
        """Stops the simulation (SIGTERM, then SIGKILL after 10 s): its journal is complete."""
        if self._process is None or self._process.poll() is not None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self._kill()

    def close(self):
        """Stops it and removes its files."""
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def _kill(self):
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process.wait(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *_):
        self.close()

    def __getattr__(self, name):
        # connection_string -> connectionString, as the simulation prints them.
        parts = name.split("_")
        key = parts[0] + "".join(p.title() for p in parts[1:])
        endpoints = self.__dict__.get("endpoints", {})
        if key in endpoints:
            return endpoints[key]
        raise AttributeError(name)

    # The service's side.

    def _call(self, method, url, body=None, content_type="application/json", headers=None):
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=ANSWER_SECONDS) as answer:
                text = answer.read()
        except urllib.error.HTTPError as e:
            raise SimulationError(f"{method} {url.split('?')[0]}: {e.code} {e.read().decode(errors='replace')}") from None
        return json.loads(text) if text.strip() else None

    def _api(self, method, path, query=None, body=None):
        url = f"{self.endpoints['trainingEndpoint']}/{API}/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return self._call(method, url, body, headers={"Training-Key": self.endpoints["trainingKey"]})

    def settle(self):
        """Runs everything the service has promised (notifications, blobs) at once; how many
        pieces of work ran."""
        return self._call("POST", self.endpoints["settle"])["ran"]

    def deliver(self, text, base64=False, queue=None):
        """Puts `text` on the queue as the service puts a notification (a raw message: valid,
        malformed, anything up to 64 KiB)."""
        query = urllib.parse.urlencode({"queue": queue or self.queue_name, "base64": str(bool(base64)).lower()})
        url = f"{self.endpoints['trainingEndpoint']}/admin/deliver?{query}"
        self._call("POST", url, text.encode(), content_type="text/plain")

    def configure(self, name="pytest-cvnotify"):
        """Creates a project with the simulation's queue and container (a compact domain, so
        that it can be exported) and settles: its ConnectionTest is on the queue. The project id."""
        project = self._api(
            "POST",
            "projects",
            {
                "name": name,
                "domainId": EXPORTABLE_DOMAIN,
                "notificationQueueUri": self.endpoints["notificationQueueUri"],
                "exportModelContainerUri": self.endpoints["exportModelContainerUri"],
            },
        )
        self.settle()
        return project["id"]

    def train(self, project_id):
        """Gives the project the smallest training set (two tags of five images), trains it and
        settles: its Training notification is on the queue. The iteration id."""
        images = []
        for t, tag_name in enumerate(("stripes", "checks")):
            tag = self._api("POST", f"projects/{project_id}/tags", {"name": tag_name})
            for n in range(5):
                contents = base64.b64encode(bytes([66, 77, t, n]) + bytes(60)).decode()
                images.append({"name": f"{tag_name}-{n}.bmp", "contents": contents, "tagIds": [tag["id"]]})
        self._api("POST", f"projects/{project_id}/images/files", body={"images": images})
        iteration = self._api("POST", f"projects/{project_id}/train")
        self.settle()
        return iteration["id"]

    def export(self, project_id, iteration_id, platform="ONNX"):
        """Exports the iteration and settles: the backup blob is in the container and its Export
        notification on the queue."""
        self._api("POST", f"projects/{project_id}/iterations/{iteration_id}/export", {"platform": platform})
        self.settle()

    def lifecycle(self, platform="ONNX"):
        """configure, train and export: three notifications and a backup. The ids."""
        project = self.configure()
        iteration = self.train(project)
        self.export(project, iteration, platform)
        return project, iteration

    # The judgement.

    def judge(self, strict=False):
        """Stops the simulation and judges what the clients did from its journal: the verdict and
        the findings (`cvnotify replay --format json`)."""
        if self._judgement is not None:
            return self._judgement
        self.stop()
        command = [self.binary, "replay", "--format", "json", self.journal_path]
        if strict:
            command.append("--strict")
        done = subprocess.run(command, capture_output=True, timeout=120)
        if done.returncode not in (0, 1):
            raise SimulationError(f"cvnotify replay failed: {done.stderr.decode(errors='replace').strip()}")
        report = json.loads(done.stdout)
        findings = []
        for session in report.get("sessions", []):
            for client in session.get("clients") or []:
                for f in client.get("findings", []):
                    if f.get("waived"):
                        continue
                    details = tuple(e.get("detail", "") for e in f.get("examples", []))
                    findings.append(Finding(f["code"], f["severity"], f["summary"], details))
        self._judgement = Judgement(report.get("verdict", "UNKNOWN"), tuple(findings), report)
        return self._judgement
