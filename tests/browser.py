"""Open an HTML file in headless Chromium (Debian's package) over the DevTools protocol.

`open_page` gives a page that collects every console error, uncaught exception and failed
load while a test drives it; `walk_snakemake_report` clicks through a Snakemake 9 report
(a single-page React app whose results are data URIs in a `results` blob) and shows every
result as a reader would, recording whether each figure decodes.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_PACKAGE = "chromium"
# No traffic of the browser's own (updates, metrics, safe browsing); no host name resolves,
# so a page that loads anything from the network logs a failed load: a report must be offline.
CHROMIUM_FLAGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-extensions",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--no-pings",
    "--metrics-recording-only",
    "--window-size=1600,1000",
]


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """The browser tests must run in CI: there a missing Chromium fails; elsewhere it skips."""
    binary = chromium_binary()
    problem = None
    if binary is None:
        problem = "Chromium is not installed"
    else:
        try:
            import websocket  # noqa: F401
        except ImportError:
            problem = "the websocket-client package is not installed"
    if problem is None:
        return binary
    msg = (
        f"{problem} -- run the project's test setup (`make test`, i.e. `bash envs/install.sh --test`) "
        f"to install it (Debian: {CHROMIUM_PACKAGE}; pip: websocket-client from envs/requirements.lock)"
    )
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


class Page:
    """One tab, driven through its DevTools websocket; `problems` collects what went wrong."""

    def __init__(self, websocket_url: str, timeout: float):
        import websocket

        # No Origin header: Chromium refuses DevTools connections from unlisted origins.
        self.socket = websocket.create_connection(websocket_url, timeout=timeout, suppress_origin=True, enable_multithread=False)
        self.timeout = timeout
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        self.problems: list[str] = []
        self.warnings: list[str] = []
        # Not the Network domain: its events carry every data URI whole (megabytes per report).
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.socket.close()

    def send(self, method: str, **params) -> dict:
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = self.receive()
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def receive(self) -> dict:
        message = json.loads(self.socket.recv())
        if "method" in message:
            self.events.append(message)
            self.note(message["method"], message.get("params", {}))
        return message

    def note(self, method: str, params: dict) -> None:
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            if params["type"] in ("error", "assert"):
                self.problems.append(f"console.{params['type']}: {text}")
            elif params["type"] == "warning":
                self.warnings.append(f"console.warn: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            exception = details.get("exception", {}).get("description") or details.get("text", "")
            self.problems.append(f"uncaught exception: {exception} (line {details.get('lineNumber')})")
        elif method == "Log.entryAdded":
            entry = params["entry"]
            text = f"{entry['source']}: {entry['text']} {entry.get('url', '')}".strip()
            if entry["level"] == "error":
                self.problems.append(text)
            elif entry["level"] == "warning":
                self.warnings.append(text)

    def wait_for_event(self, method: str, seen: int) -> dict:
        """The first `method` event after the first `seen` events."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event["method"] == method:
                    return event
            seen = len(self.events)
            self.receive()
        raise TimeoutError(f"no {method} within {self.timeout} s")

    def navigate(self, url: str) -> None:
        seen = len(self.events)
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"Chromium could not open {url}: {result['errorText']}")
        self.wait_for_event("Page.loadEventFired", seen)

    def evaluate(self, expression: str):
        """The value of a JS expression (promises awaited); a JS error raises."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def settle(self, seconds: float = 0.5) -> None:
        """Collect events that arrive after the last command (late errors, failed loads)."""
        deadline = time.monotonic() + seconds
        self.socket.settimeout(0.05)
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(Exception):
                    self.receive()
        finally:
            self.socket.settimeout(self.timeout)


@contextlib.contextmanager
def open_page(html: Path, timeout: float = 60):
    """Headless Chromium showing `html`; yields the Page, stops the browser afterwards."""
    if not Path(html).is_file():
        raise FileNotFoundError(html)
    binary = require_chromium()
    with tempfile.TemporaryDirectory(prefix="radsnake-chromium-") as scratch:
        profile = Path(scratch) / "profile"
        flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0"]
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium's sandbox refuses to run as root.
        # Chromium's own chatter goes to a file: a pipe nobody reads would fill and stall it.
        log = Path(scratch) / "chromium.log"
        with open(log, "wb") as stderr:
            # Its own process group: its helper processes (which may still write to the
            # profile) are stopped with it before the profile is removed.
            process = subprocess.Popen([binary, *flags, "about:blank"], stdout=subprocess.DEVNULL, stderr=stderr,
                                       start_new_session=True)
        page = None
        try:
            port = devtools_port(profile, process, log, timeout)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as response:
                targets = json.load(response)
            tab = next(target for target in targets if target["type"] == "page")
            page = Page(tab["webSocketDebuggerUrl"], timeout)
            page.navigate(Path(html).resolve().as_uri())
            yield page
        finally:
            if page is not None:
                page.close()
            stop_process_group(process)


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM to the browser's whole group, SIGKILL after 10 s; then wait until no process
    of the group is left."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            process.poll()
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
    process.wait()


def devtools_port(profile: Path, process: subprocess.Popen, log: Path, timeout: float) -> int:
    """Chromium writes the port it chose to DevToolsActivePort in its profile."""
    deadline = time.monotonic() + timeout
    port_file = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        if port_file.exists():
            lines = port_file.read_text().splitlines()
            if lines and lines[0].isdigit():
                return int(lines[0])
        time.sleep(0.05)
    raise TimeoutError(f"Chromium wrote no DevTools port within {timeout} s")


@dataclass
class ReportWalk:
    """What a reader of a Snakemake report sees, result by result."""

    problems: list[str]
    warnings: list[str]
    shown: dict[str, dict] = field(default_factory=dict)  # result path -> how it displayed
    embedded: dict[str, str] = field(default_factory=dict)  # result path -> mime type
    captions: dict[str, dict] = field(default_factory=dict)  # result path -> caption check
    views: dict[str, dict] = field(default_factory=dict)  # workflow graph, statistics

    def figures(self) -> dict[str, dict]:
        return {path: state for path, state in self.shown.items() if state["kind"] in ("img", "frame")}

    def failures(self) -> list[str]:
        """Every reason the report is not fit to read; empty when all is well."""
        failures = list(self.problems)
        for path, mime in self.embedded.items():
            if path not in self.shown:
                failures.append(f"{path} ({mime}) is embedded but no menu entry shows it")
        for path, state in self.shown.items():
            if not state["ok"]:
                failures.append(f"{path} does not display: {state}")
        for path, caption in self.captions.items():
            if not caption["ok"]:
                failures.append(f"{path}: caption is broken: {caption}")
        for name, view in self.views.items():
            if not view["ok"]:
                failures.append(f"{name} view does not render: {view}")
        return failures


# Runs in the page: clicks the report's own menu, breadcrumbs and buttons, as a reader does.
WALK_JS = r"""
(async () => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const waitFor = async (test, what, ms = 10000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) { const value = test(); if (value) return value; await sleep(10); }
    throw new Error("timed out waiting for " + what);
  };
  const nav = () => document.querySelector("nav.transition-all");
  const linkIn = (root, label) => [...root.querySelectorAll("a")].find((a) => a.textContent.trim() === label);
  const click = async (element) => { element.click(); await sleep(0); };
  const home = async () => {
    await click(document.querySelector("nav nav ol li a"));
    await waitFor(() => linkIn(nav(), "Statistics"), "the main menu");
  };
  const outsideNav = (selector) => [...document.querySelectorAll(selector)].filter((el) => !el.closest("nav"));
  const imageState = async (img) => {
    try { await img.decode(); } catch (error) { /* a broken image: naturalWidth says so below */ }
    return { complete: img.complete, width: img.naturalWidth, height: img.naturalHeight };
  };
  const bytesOf = async (uri) => {
    try { return (await (await fetch(uri)).blob()).size; } catch (error) { return -1; }
  };
  const out = { shown: {}, captions: {}, views: {}, embedded: {} };
  for (const [path, entry] of Object.entries(results)) out.embedded[path] = entry.mime_type;

  await waitFor(() => document.querySelector("#loading-screen").style.display === "none", "the app to load");
  // The menu's links are href="#": following each would be throttled as a navigation flood.
  document.addEventListener("click", (event) => { if (event.target.closest('a[href="#"]')) event.preventDefault(); }, true);
  await waitFor(() => nav() && linkIn(nav(), "Statistics"), "the main menu");

  // The landing view: the workflow description and the rule graph (drawn by vega).
  const graph = async (id) => {
    try {
      const drawn = await waitFor(() => document.querySelector(`#${id} canvas, #${id} svg`), id);
      return { ok: drawn.getBoundingClientRect().width > 0 };
    } catch (error) { return { ok: false, error: String(error) }; }
  };
  out.views.rulegraph = await graph("rulegraph");
  await click(linkIn(nav(), "Statistics"));
  out.views.runtimes = await graph("runtimes");
  out.views.timeline = await graph("timeline");

  const openSubcategory = async (category, subcategory) => {
    await home();
    // With one category the menu calls it "Results".
    const single = Object.keys(categories).length === 1;
    await click(linkIn(nav(), single ? "Results" : category));
    if (Object.keys(categories[category]).length > 1) {
      await click(await waitFor(() => linkIn(nav(), subcategory), subcategory));
    }
    return await waitFor(() => nav().querySelectorAll("table tbody tr").length && nav().querySelectorAll("table tbody tr"), "results of " + subcategory);
  };

  const rowsOf = () => nav().querySelectorAll("table tbody tr");
  // The report marks the row whose result is on show (Snakemake 9's styling).
  const highlighted = (row) => row.querySelector("td").className.includes("bg-slate-700");
  for (const category of Object.keys(categories)) {
    for (const subcategory of Object.keys(categories[category])) {
      const count = (await openSubcategory(category, subcategory)).length;
      for (let row = 0; row < count; row++) {
        const [view, info] = rowsOf()[row].querySelectorAll("td:last-child a");
        let uri, state;
        if (view.getAttribute("href").startsWith("data:")) {
          // Tables and text open as downloads: the link must hold the file.
          uri = view.getAttribute("href");
          const bytes = await bytesOf(uri);
          state = { kind: "download", bytes, ok: bytes > 0 };
        } else {
          await click(view);
          await waitFor(() => highlighted(rowsOf()[row]), "row " + row + " of " + subcategory + " to show");
          const shown = outsideNav("img, iframe")[0];
          uri = shown.getAttribute("src");
          if (shown.tagName === "IMG") {
            state = { kind: "img", ...(await imageState(shown)) };
            state.ok = state.complete && state.width > 0 && state.height > 0;
          } else {
            // HTML and PDF results show in a frame of their own origin: check it has the file.
            const bytes = await bytesOf(uri);
            const box = shown.getBoundingClientRect();
            state = { kind: "frame", bytes, ok: bytes > 0 && box.width > 0 && box.height > 0 };
          }
        }
        const paths = Object.keys(results).filter((path) => results[path].data_uri === uri);
        if (!paths.length) paths.push(`row ${row} of ${category}/${subcategory}: not an embedded result`);
        for (const path of paths) out.shown[path] = { ...state, category, subcategory };

        // Its description: the caption as docutils rendered it, with any images in it.
        await click(info);
        await waitFor(() => nav().textContent.includes("Snakemake rule"), "the description of row " + row);
        const captionImages = await Promise.all([...nav().querySelectorAll(".prose img")].map(imageState));
        const docutilsErrors = [...nav().querySelectorAll(".system-message, .problematic")].map((el) => el.textContent.trim());
        for (const path of paths) {
          out.captions[path] = {
            ok: docutilsErrors.length === 0 && captionImages.every((img) => img.width > 0),
            docutils_errors: docutilsErrors,
            images: captionImages,
          };
        }
        // Back to the list through the breadcrumb before the last (the subcategory's).
        const crumbs = nav().querySelectorAll("nav nav ol li a");
        await click(crumbs[crumbs.length - 2]);
        await waitFor(() => rowsOf().length === count, "the list of " + subcategory);
      }
    }
  }
  await home();
  return out;
})()
"""


def walk_snakemake_report(html: Path, timeout: float = 120) -> ReportWalk:
    """Open a Snakemake report, show every result through its menu, return what was seen.

    Results that only a label toggle of the report reaches (a label with two values, each on
    half of a subcategory's results) are not clicked and so count as not shown."""
    with open_page(html, timeout=timeout) as page:
        seen = page.evaluate(WALK_JS)
        page.settle()
        return ReportWalk(page.problems, page.warnings, seen["shown"], seen["embedded"], seen["captions"], seen["views"])


def assert_report_reads_in_a_browser(html: Path) -> ReportWalk:
    """No console error, every embedded result reachable from the menu, every figure decodes."""
    walk = walk_snakemake_report(html)
    assert walk.figures(), f"{html}: no figure shown"
    failures = walk.failures()
    assert not failures, f"{html} in Chromium:\n" + "\n".join(failures)
    return walk
