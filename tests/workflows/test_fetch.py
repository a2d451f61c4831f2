"""``astroxai fetch`` against a real HTTP server on loopback (``http.server`` in a thread) serving the archive's DR17
layout built from real SDSS files the test extras carry: a plain fetch, the reduction found by trying, resuming
without transferring a byte, and every way a transfer goes wrong — 404s, a connection dropped half-way, 500 twice
then 200, a 429 with ``Retry-After``, an HTML error page sent with status 200, a truncated body, the wrong object, a
server too slow for the read timeout, an unreachable host — with nothing partial or rejected ever left under a final
name, and ``--jobs 1`` and ``--jobs 4`` filling identical folders."""

from __future__ import annotations

import csv
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.workflows.fetch import FetchError, Target, fetch, run2d_order, spectrum_path
from tests.helpers import real_spectra

#: Real files the test extras carry, by the spectrum their own header names: (plate, mjd, fiber) → path.
REAL = {(3586, 55181, 500): "bossbrain", (945, 52652, 470): "NGC3073", (2488, 54149, 1): "NGC3522"}


def real_files() -> dict:
    paths = {str(path): path for path, _, _ in real_spectra()}
    found = {}
    for triple, hint in REAL.items():
        found[triple] = next(Path(p) for p in paths if hint in p)
    return found


class Archive:
    """The files the server holds (URL path → bytes) and, per path, what it does at each request in turn: ``ok``,
    a status (``"500"``), ``429`` (with Retry-After: 1), ``html`` (an error page with status 200), ``drop`` (half
    the body, then the connection closed), ``short`` (a Content-Length larger than the body), ``slow`` (2 s before
    answering); the last action repeats."""

    def __init__(self):
        self.files, self.actions, self.requests = {}, {}, []
        self.lock = threading.Lock()

    def next_action(self, path: str) -> str:
        with self.lock:
            self.requests.append(path)
            queue = self.actions.get(path, ["ok"])
            return queue.pop(0) if len(queue) > 1 else queue[0]


def handler_for(archive: Archive):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):  # noqa: N802 - http.server's name
            path = self.path.lstrip("/")
            if path in ("", "sas/dr17", "sas/dr17/"):
                return self._send(200, b"<html>archive</html>", "text/html")
            action = archive.next_action(path)
            body = archive.files.get(path)
            if body is None:
                return self._send(404, b"<html>Not Found</html>", "text/html")
            if action == "slow":
                time.sleep(2.0)
            if action.isdigit() and action != "429":
                return self._send(int(action), b"<html>error</html>", "text/html")
            if action == "429":
                self.send_response(429)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if action == "html":
                return self._send(200, b"<!DOCTYPE html><html><body>Service unavailable</body></html>", "text/html")
            self.send_response(200)
            self.send_header("Content-Type", "application/fits")
            self.send_header("Content-Length", str(len(body) + (1000 if action == "short" else 0)))
            self.end_headers()
            if action == "drop":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
            self.wfile.write(body)
            return None

        def _send(self, status, body, kind):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server():
    archive = Archive()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(archive))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    archive.base = f"http://127.0.0.1:{httpd.server_address[1]}/sas/dr17"
    yield archive
    httpd.shutdown()
    httpd.server_close()


def serve(archive: Archive, triple, run2d: str, body: bytes | None = None, actions=None) -> str:
    path = "sas/dr17/" + spectrum_path(Target(0, *triple), run2d)
    archive.files[path] = real_files()[triple].read_bytes() if body is None else body
    if actions:
        archive.actions[path] = list(actions)
    return path


def catalogue(folder: Path, rows: list[str], header: str = "plate,mjd,fiber,label") -> Path:
    path = folder / "wanted.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def manifest(out: Path) -> dict:
    with open(out / "fetch.manifest.csv", newline="") as handle:
        return {int(r["row"]): r for r in csv.DictReader(handle)}


def final_names(out: Path) -> set:
    return {p.name for p in out.iterdir()}


FAST = {"backoff": 0.05, "timeout": (2.0, 5.0)}


def test_fetch_finds_each_reduction_keeps_columns_and_resumes_without_a_byte(server, tmp_path):
    serve(server, (3586, 55181, 500), "v5_13_2")
    serve(server, (945, 52652, 470), "103")  # 26 is asked first and answers 404
    serve(server, (2488, 54149, 1), "26")
    wanted = catalogue(tmp_path, ["3586,55181,500,type2", "945,52652,470,Sy1", "2488,54149,1,Sy2",
                                  "1000,52000,12,x", "945,52652,470,again", "12,3.5,7,x", "12,51000,0,x", ",51000,1,x"])
    out = tmp_path / "real"
    summary = fetch(wanted, out, base_url=server.base, jobs=2, **FAST)
    rows = manifest(out)
    assert (summary["fetched"], summary["present"], summary["failed"], summary["rejected"]) == (3, 0, 1, 4)
    assert rows[2]["run2d"] == "103" and rows[2]["url"].endswith("/sdss/spectro/redux/103/spectra/lite/0945/"
                                                                   "spec-0945-52652-0470.fits")
    assert rows[1]["run2d"] == "v5_13_2" and rows[3]["run2d"] == "26"
    assert rows[4]["status"] == "failed" and "not found in reduction 26 or 103 or 104 or v5_13_2" in rows[4]["reason"]
    assert len(rows[4]["url"].split()) == 4
    assert "the same spectrum as row 2" in rows[5]["reason"] and "mjd '3.5'" in rows[6]["reason"]
    assert "outside 1–1000" in rows[7]["reason"] and rows[8]["reason"] == "no plate"
    for triple, path in real_files().items():
        assert (out / Target(0, *triple).name).read_bytes() == path.read_bytes()
    with open(out / "catalog.csv", newline="") as handle:
        kept = list(csv.DictReader(handle))
    assert [(r["label"], r["file"]) for r in kept] == [("type2", "spec-3586-55181-0500.fits"),
                                                       ("Sy1", "spec-0945-52652-0470.fits"),
                                                       ("Sy2", "spec-2488-54149-0001.fits")]
    # a re-run asks the server for nothing it has (the failed row only) and transfers no byte
    server.requests.clear()
    again = fetch(wanted, out, base_url=server.base, jobs=2, **FAST)
    assert (again["present"], again["fetched"], again["bytes"]) == (3, 0, 0)
    assert all("1000" in r for r in server.requests) and len(server.requests) == 4
    # a file damaged after the fact is opened, found wrong and fetched again
    (out / "spec-2488-54149-0001.fits").write_bytes(b"SIMPLE  = damaged")
    third = fetch(wanted, out, base_url=server.base, jobs=2, **FAST)
    assert third["fetched"] == 1 and third["bytes"] == real_files()[(2488, 54149, 1)].stat().st_size


@pytest.mark.parametrize(("actions", "status", "reason"), [
    (["500", "500", "ok"], "fetched", ""),
    (["429", "ok"], "fetched", ""),
    (["drop", "ok"], "fetched", ""),
    (["drop"], "failed", "the connection dropped after"),
    (["html"], "failed", "HTML page, not FITS"),
    (["short"], "failed", "bytes announced"),
    (["slow"], "failed", "timed out"),
    (["503"], "failed", "HTTP 503"),
])
def test_every_way_a_transfer_goes_wrong(server, tmp_path, actions, status, reason):
    serve(server, (3586, 55181, 500), "v5_13_2", actions=actions)
    serve(server, (945, 52652, 470), "26")
    wanted = catalogue(tmp_path, ["3586,55181,500,a", "945,52652,470,b"])
    out = tmp_path / "out"
    start = time.perf_counter()
    fetch(wanted, out, base_url=server.base, jobs=2, backoff=0.05,
          timeout=(2.0, 0.5 if actions == ["slow"] else 5.0))
    row = manifest(out)[1]
    assert row["status"] == status and reason in row["reason"]
    assert manifest(out)[2]["status"] == "fetched"  # the other spectrum is not held up
    names = final_names(out)
    assert ("spec-3586-55181-0500.fits" in names) == (status == "fetched")
    assert not any("partial" in name for name in names)  # nothing half-written stays, under any name
    if actions == ["429", "ok"]:
        assert time.perf_counter() - start >= 1.0  # Retry-After: 1 was honoured


def test_the_wrong_object_is_refused(server, tmp_path):
    serve(server, (945, 52652, 470), "26", body=real_files()[(2488, 54149, 1)].read_bytes())
    out = tmp_path / "out"
    with pytest.raises(FetchError, match="no spectrum could be fetched"):
        fetch(catalogue(tmp_path, ["945,52652,470,x"]), out, base_url=server.base, **FAST)
    row = manifest(out)[1]
    assert row["status"] == "failed" and "holds spectrum 2488-54149-0001, not 0945-52652-0470" in row["reason"]
    assert final_names(out) == {"fetch.manifest.csv", "catalog.csv"}


def test_jobs_one_and_four_fill_identical_folders(server, tmp_path):
    for triple, run2d in zip(REAL, ("v5_13_2", "104", "26"), strict=True):
        serve(server, triple, run2d)
    wanted = catalogue(tmp_path, ["3586,55181,500,a", "945,52652,470,b", "2488,54149,1,c", "999,51000,5,d"])
    folders = {}
    for jobs in (1, 4):
        folders[jobs] = tmp_path / f"jobs{jobs}"
        fetch(wanted, folders[jobs], base_url=server.base, jobs=jobs, **FAST)
    assert final_names(folders[1]) == final_names(folders[4])
    for name in final_names(folders[1]):
        assert (folders[1] / name).read_bytes() == (folders[4] / name).read_bytes(), name


def test_an_unreachable_host_is_one_clear_line(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wanted = catalogue(tmp_path, ["3586,55181,500,a"])
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["fetch", str(wanted), "--out", str(out), "--base-url",
                                       f"http://127.0.0.1:{port}/sas/dr17"])
    assert result.exit_code == 1 and "cannot reach" in result.output and "Traceback" not in result.output
    assert not list(out.glob("spec-*"))


def test_a_local_copy_of_the_archive_and_the_cli(server, tmp_path):
    """``--base-url file://…`` reads a mirror on disk the same way; the command prints the counts."""
    for triple, run2d in zip(REAL, ("v5_13_2", "26", "26"), strict=True):
        path = tmp_path / "mirror" / spectrum_path(Target(0, *triple), run2d)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(real_files()[triple].read_bytes())
    wanted = catalogue(tmp_path, ["3586,55181,500,a", "945,52652,470,b", "2488,54149,1,c"])
    result = CliRunner().invoke(main, ["fetch", str(wanted), "--out", str(tmp_path / "out"), "--base-url",
                                       (tmp_path / "mirror").as_uri(), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert "3 fetched" in result.output and len(list((tmp_path / "out").glob("spec-*.fits"))) == 3


def test_the_order_of_reductions():
    assert run2d_order(Target(1, 500, 51000, 1)) == ("26", "103", "104", "v5_13_2")
    assert run2d_order(Target(1, 4000, 55000, 1)) == ("v5_13_2", "26", "103", "104")
    assert run2d_order(Target(1, 500, 51000, 1, "103")) == ("103",)
    assert run2d_order(Target(1, 500, 51000, 1), {(500, 51000): "104"}) == ("104",)
    assert spectrum_path(Target(1, 4000, 55000, 7), "v5_13_2") == \
        "eboss/spectro/redux/v5_13_2/spectra/lite/4000/spec-4000-55000-0007.fits"


def test_fetch_then_run_on_the_fetched_folder(server, tmp_path):
    """The real study in two commands: ``fetch`` a catalogue from the archive, then ``run --data`` on the
    catalogue it writes (here simulated AGN spectra written in the archive's layout by astroxai's SDSS writer)."""
    import json

    import numpy as np

    from astroxai.io.sdss import SpecObj, write_sdss_spec
    from astroxai.simulate.agn import LOGLAM, simulate_spectrum

    rng = np.random.default_rng(4)
    rows = []
    for k, (label, kind) in enumerate([("Sy1", "type1")] * 12 + [("Sy2", "type2")] * 12):
        sim = simulate_spectrum(kind, rng)
        target = Target(0, 300 + k // 6, 51600, k % 6 + 1)
        path = tmp_path / "body.fits"
        write_sdss_spec(path, {"loglam": LOGLAM, "flux": sim.flux, "ivar": sim.ivar},
                        SpecObj(target.plate, target.mjd, target.fiber, float(sim.params["z"])))
        server.files["sas/dr17/" + spectrum_path(target, "26")] = path.read_bytes()
        rows.append(f"{target.plate},{target.mjd},{target.fiber},{label}")
    out = tmp_path / "real"
    result = CliRunner().invoke(main, ["fetch", str(catalogue(tmp_path, rows)), "--out", str(out), "--base-url",
                                       server.base])
    assert result.exit_code == 0 and "24 fetched" in result.output, result.output
    config = tmp_path / "small.json"
    config.write_text(json.dumps({"n_wave": 100, "quick": True, "timing_repeats": 1, "perplexities": [4],
                                  "n_correct": 1, "trust_spectra": 4, "trust_methods": ["saliency"], "cnn": False}))
    result = CliRunner().invoke(main, ["run", "--data", str(out / "catalog.csv"), "--broad", "Sy1", "--workers", "1",
                                       "--out", str(tmp_path / "run"), "--config", str(config)])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["data"] == "user" and record["summary"]["classes"] == {"Sy1": 12, "Sy2": 12}
    assert (tmp_path / "run" / "report.html").stat().st_size > 100_000
