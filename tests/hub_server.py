"""A small Hugging Face Hub API server on loopback, for testing pushes and pulls with the real `huggingface_hub` client.

It implements the endpoints the client calls to create repos, branch, commit and download (their paths, payloads,
headers and error codes as `huggingface_hub` 2.x expects them), with the Hub's rules that the tests exercise:
tokens (`Authorization: Bearer ...`), private repos that look missing to anyone but their owner, branches, commits
addressable by sha, and the `X-Error-Code` headers that the client turns into `RepositoryNotFoundError`,
`RevisionNotFoundError` and `RemoteEntryNotFoundError`. Every file is stored inline ("regular" upload mode), so
no LFS or Xet transfer is involved. `POST /api/validate-yaml` checks a model card's metadata the way the Hub does
for what model cards here carry (a YAML mapping; `model-index` entries with a task, a dataset and metric values).

`olah_mirror(upstream, workdir)` runs `olah` (a third-party Hub mirror from PyPI) with this server as its upstream,
so that pulls can go through a Hub implementation nobody here wrote.

Usage: `with HubServer(tokens={"secret": "alice"}) as hub: HfApi(endpoint=hub.url, token="secret")...`
or `python tests/hub_server.py --token secret=alice` (prints the URL and serves until interrupted).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import importlib.util
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"


def git_blob_oid(content: bytes) -> str:
    """The git object id of a file, which is what the Hub reports as a regular file's `oid`."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    sha: str
    files: dict[str, bytes]
    title: str
    date: str


@dataclass
class Repo:
    repo_id: str
    owner: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit sha
    commits: dict[str, Commit] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)  # shas, oldest first

    def resolve(self, revision: str) -> Commit | None:
        sha = self.branches.get(revision, revision)
        return self.commits.get(sha)

    def commit(self, parent: Commit | None, files: dict[str, bytes], title: str) -> Commit:
        seed = f"{self.repo_id}\n{parent.sha if parent else ''}\n{title}\n{len(self.commits)}\n"
        seed += "\n".join(f"{path} {git_blob_oid(data)}" for path, data in sorted(files.items()))
        date = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        new = Commit(hashlib.sha1(seed.encode()).hexdigest(), files, title, date)
        self.commits[new.sha] = new
        self.history.append(new.sha)
        return new


class HubError(Exception):
    """An error answer: status, the Hub's `X-Error-Code` (if any) and a message."""

    def __init__(self, status: int, message: str, code: str | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra


def validate_card_metadata(content: str) -> list[str]:
    """The errors the Hub's YAML check reports for a README's metadata block (empty list: accepted)."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, flags=re.S)
    if match is None:
        return []
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as e:
        return [f"YAML could not be parsed: {e}"]
    if meta is None:
        return []
    if not isinstance(meta, dict):
        return ["metadata must be a YAML mapping"]
    errors = []
    for key in ("library_name", "license", "pipeline_tag", "base_model"):
        if key in meta and not isinstance(meta[key], str | list):
            errors.append(f'"{key}" must be a string')
    for key in ("tags", "datasets", "language"):
        value = meta.get(key, [])
        if not isinstance(value, list | str) or (
            isinstance(value, list) and not all(isinstance(v, str) for v in value)
        ):
            errors.append(f'"{key}" must be a string or a list of strings')
    for i, entry in enumerate(meta.get("model-index", []) or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            errors.append(f'"model-index[{i}].name" is required')
            continue
        for j, result in enumerate(entry.get("results", []) or []):
            where = f"model-index[{i}].results[{j}]"
            if not isinstance(result.get("task"), dict) or not isinstance(result["task"].get("type"), str):
                errors.append(f'"{where}.task.type" is required')
            dataset = result.get("dataset")
            if not isinstance(dataset, dict) or not all(isinstance(dataset.get(k), str) for k in ("name", "type")):
                errors.append(f'"{where}.dataset" needs a "name" and a "type"')
            metrics = result.get("metrics")
            if not isinstance(metrics, list) or not metrics:
                errors.append(f'"{where}.metrics" must be a non-empty list')
                continue
            for k, metric in enumerate(metrics):
                ok = isinstance(metric, dict) and isinstance(metric.get("type"), str)
                if not ok or not isinstance(metric.get("value"), int | float | str):
                    errors.append(f'"{where}.metrics[{k}]" needs a "type" and a "value"')
    return errors


class HubServer:
    """The server, run on a background thread. `tokens` maps access tokens to user names."""

    def __init__(self, tokens: dict[str, str], host: str = "127.0.0.1", port: int = 0):
        self.tokens = dict(tokens)
        self.repos: dict[str, Repo] = {}
        self.requests: list[str] = []  # "METHOD /path" of every request, for tests that check who asked what
        self.lock = threading.Lock()
        handler = type("Handler", (HubHandler,), {"hub": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- access rules ---------------------------------------------------------------------------------------------

    def user(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        token = authorization.removeprefix("Bearer ").strip()
        if token not in self.tokens:
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]

    def readable(self, repo_id: str, user: str | None) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and user != repo.owner):
            # The Hub does not reveal whether a private repo exists.
            raise HubError(401 if user is None else 404, "Repository not found", "RepoNotFound")
        return repo

    def writable(self, repo_id: str, user: str | None) -> Repo:
        if user is None:
            raise HubError(401, "You must be authenticated to write to a repo")
        repo = self.readable(repo_id, user)
        if repo.owner != user:
            raise HubError(403, f"You don't have the rights to write to {repo_id}")
        return repo

    @staticmethod
    def commit_of(repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit


class HubHandler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing -------------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_HEAD(self) -> None:
        self.dispatch("HEAD")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
        with self.hub.lock:
            self.hub.requests.append(f"{method} {path}")
        try:
            with self.hub.lock:
                user = self.hub.user(self.headers.get("Authorization"))
                answer = self.route(method, path, query, body, user)
        except HubError as e:
            headers = {"X-Error-Message": e.message} | ({"X-Error-Code": e.code} if e.code else {})
            self.send(
                e.status,
                json.dumps({"error": e.message, **e.extra}).encode(),
                "application/json",
                headers,
                method == "HEAD",
            )
            return
        status, payload, headers = answer
        if isinstance(payload, bytes):
            self.send(status, payload, "application/octet-stream", headers, head=method == "HEAD")
        else:
            self.send(status, json.dumps(payload).encode(), "application/json", headers, head=method == "HEAD")

    def send(self, status: int, data: bytes, ctype: str, headers: dict[str, str], head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    # -- routes ---------------------------------------------------------------------------------------------------

    REPO = r"(?P<repo>[\w.-]+/[\w.-]+)"

    def route(self, method: str, path: str, query: dict, body: bytes, user: str | None):
        hub, R = self.hub, self.REPO
        if method == "GET" and path == "/api/whoami-v2":
            if user is None:
                raise HubError(401, "Invalid username or password.")
            return 200, {"type": "user", "name": user, "auth": {"accessToken": {"role": "write"}}}, {}
        if method == "POST" and path == "/api/validate-yaml":
            errors = validate_card_metadata(json.loads(body)["content"])
            if errors:
                return 400, {"error": "Invalid metadata", "errors": [{"message": m} for m in errors]}, {}
            return 200, {"errors": [], "warnings": []}, {}
        if method == "POST" and path == "/api/repos/create":
            return self.create_repo(json.loads(body), user)
        if m := re.fullmatch(rf"/api/models/{R}/preupload/(?P<rev>.+)", path):
            hub.writable(m["repo"], user)
            files = json.loads(body)["files"]
            return (
                200,
                {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]},
                {},
            )
        if m := re.fullmatch(rf"/api/models/{R}/commit/(?P<rev>.+)", path):
            return self.create_commit(hub.writable(m["repo"], user), m["rev"], body)
        if m := re.fullmatch(rf"/api/models/{R}/branch/(?P<branch>.+)", path):
            repo = hub.writable(m["repo"], user)
            if m["branch"] in repo.branches:
                raise HubError(409, f"Reference already exists: {m['branch']}")
            start = (json.loads(body) if body else {}).get("startingPoint") or "main"
            repo.branches[m["branch"]] = hub.commit_of(repo, start).sha
            return 200, {}, {}
        if m := re.fullmatch(rf"/api/models/{R}(/revision/(?P<rev>[^/]+))?", path):
            repo = hub.readable(m["repo"], user)
            return 200, self.model_info(repo, hub.commit_of(repo, m["rev"] or "main")), {}
        if m := re.fullmatch(rf"/api/models/{R}/refs", path):
            repo = hub.readable(m["repo"], user)
            branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": sha} for b, sha in repo.branches.items()]
            return 200, {"branches": branches, "tags": [], "converts": []}, {}
        if m := re.fullmatch(rf"/api/models/{R}/commits/(?P<rev>[^/]+)", path):
            repo = hub.readable(m["repo"], user)
            head = hub.commit_of(repo, m["rev"]).sha
            shas = repo.history[: repo.history.index(head) + 1][::-1]
            return 200, [self.commit_entry(repo.commits[s]) for s in shas], {}
        if m := re.fullmatch(rf"/api/models/{R}/tree/(?P<rev>[^/]+)(/(?P<dir>.*))?", path):
            repo = hub.readable(m["repo"], user)
            recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
            return 200, self.tree(hub.commit_of(repo, m["rev"]), (m["dir"] or "").strip("/"), recursive), {}
        if m := re.fullmatch(rf"/api/models/{R}/paths-info/(?P<rev>[^/]+)", path):
            commit = hub.commit_of(hub.readable(m["repo"], user), m["rev"])
            wanted = json.loads(body).get("paths", []) if body.startswith(b"{") else parse_qs(body.decode())["paths"]
            return 200, [self.file_entry(p, commit.files[p]) for p in wanted if p in commit.files], {}
        if method in ("GET", "HEAD") and (m := re.fullmatch(rf"/{R}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", path)):
            return self.resolve(hub.readable(m["repo"], user), m["rev"], m["file"])
        raise HubError(404, f"Not found: {method} {path}")

    def create_repo(self, payload: dict, user: str | None):
        if user is None:
            raise HubError(401, "You must be authenticated to create a repo")
        namespace = payload.get("organization") or user
        repo_id = f"{namespace}/{payload['name']}"
        if payload.get("type", "model") != "model":
            raise HubError(400, "this test Hub serves model repos only")
        if namespace != user:
            raise HubError(403, f"You don't have the rights to create a model under the namespace {namespace!r}")
        url = f"{self.hub.url}/{repo_id}"
        if repo_id in self.hub.repos:
            raise HubError(409, "You already created this model repo", url=url)
        repo = Repo(repo_id, owner=user, private=bool(payload.get("private")) or payload.get("visibility") == "private")
        repo.branches["main"] = repo.commit(None, {".gitattributes": GITATTRIBUTES}, "initial commit").sha
        self.hub.repos[repo_id] = repo
        return 200, {"url": url, "name": repo_id}, {}

    def create_commit(self, repo: Repo, revision: str, body: bytes):
        if revision not in repo.branches:
            raise HubError(404, f"Invalid rev id: {revision} (commits go to a branch)", "RevisionNotFound")
        files = dict(repo.commits[repo.branches[revision]].files)
        title = ""
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                title = value["summary"]
            elif key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                if value["path"] not in files:
                    raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                del files[value["path"]]
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                files = {p: d for p, d in files.items() if not p.startswith(prefix)}
            else:
                raise HubError(400, f"unsupported commit operation {key!r} (this server stores regular files only)")
        commit = repo.commit(repo.commits[repo.branches[revision]], files, title)
        repo.branches[revision] = commit.sha
        url = f"{self.hub.url}/{repo.repo_id}/commit/{commit.sha}"
        return 200, {"commitUrl": url, "commitOid": commit.sha, "pullRequestUrl": None, "success": True}, {}

    def model_info(self, repo: Repo, commit: Commit) -> dict:
        return {
            "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.owner,
            "sha": commit.sha,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "library_name": "transformers",
            "lastModified": commit.date,
            "createdAt": repo.commits[repo.history[0]].date,
            "siblings": [{"rfilename": p} for p in sorted(commit.files)],
        }

    @staticmethod
    def commit_entry(commit: Commit) -> dict:
        return {"id": commit.sha, "title": commit.title, "message": "", "authors": [], "date": commit.date}

    @staticmethod
    def file_entry(path: str, data: bytes) -> dict:
        return {"type": "file", "oid": git_blob_oid(data), "size": len(data), "path": path}

    def tree(self, commit: Commit, folder: str, recursive: bool) -> list[dict]:
        prefix = f"{folder}/" if folder else ""
        entries, folders = [], set()
        for path, data in sorted(commit.files.items()):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            if "/" in rest and not recursive:
                folders.add(prefix + rest.split("/", 1)[0])
                continue
            if recursive:
                parents = rest.split("/")[:-1]
                folders.update(prefix + "/".join(parents[: i + 1]) for i in range(len(parents)))
            entries.append(self.file_entry(path, data))
        if folder and not entries and not folders:
            raise HubError(404, f"{folder} does not exist on this revision", "EntryNotFound")
        oid = "0" * 40
        return [{"type": "directory", "oid": oid, "size": 0, "path": f} for f in sorted(folders)] + entries

    def resolve(self, repo: Repo, revision: str, filename: str):
        commit = self.hub.commit_of(repo, revision)
        if filename not in commit.files:
            raise HubError(404, "Entry not found", "EntryNotFound")
        data = commit.files[filename]
        headers = {"ETag": f'"{git_blob_oid(data)}"', "X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes"}
        if (rng := self.headers.get("Range")) and (m := re.fullmatch(r"bytes=(\d+)-(\d*)", rng)):
            start, end = int(m[1]), int(m[2]) if m[2] else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return 206, data[start : end + 1], headers
        return 200, data, headers


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def olah_mirror(upstream: str, workdir: Path, timeout: float = 60.0) -> Iterator[str]:
    """Run `olah` (a third-party Hub mirror, PyPI `olah`) in front of `upstream`; yield the mirror's URL.

    Olah proxies and caches what clients ask for (model info, resolve, paths-info, ...) from its upstream, which is
    normally huggingface.co; here it is the loopback server above, so a client pulling through the mirror talks to
    a server nobody here wrote. The metadata cache is off, so a branch moved by a later push is seen at once.
    """
    if importlib.util.find_spec("olah") is None:
        raise RuntimeError("olah is not installed (pip install olah, or the project's dev extra)")
    port, upstream_netloc = free_port(), urlsplit(upstream).netloc
    mirror = f"127.0.0.1:{port}"
    command = [sys.executable, "-c", "import sys; from olah.server import cli; sys.exit(cli())"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--hf-scheme", "http", "--hf-netloc", upstream_netloc]
    command += ["--hf-lfs-netloc", upstream_netloc, "--mirror-netloc", mirror, "--mirror-lfs-netloc", mirror]
    command += [
        "--repos-path",
        str(workdir / "repos"),
        "--log-path",
        str(workdir / "logs"),
        "--metadata-cache-ttl",
        "0",
    ]
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "olah.out", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"olah exited with {process.returncode}:\n{(workdir / 'olah.out').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"olah did not start in {timeout:.0f} s") from None
                time.sleep(0.1)
        yield f"http://{mirror}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", action="append", default=[], help="TOKEN=USER (repeatable)")
    args = parser.parse_args()
    tokens = dict(t.split("=", 1) for t in args.token)
    with HubServer(tokens, args.host, args.port) as hub:
        print(hub.url, flush=True)
        hub.thread.join()


if __name__ == "__main__":
    main()
